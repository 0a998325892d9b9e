//! CreateTopics and DescribeConfigs (broker and topic resources, with Kafka's config sources).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::*;

use super::{errors, s};
use crate::broker::Broker;
use crate::config::REPLICA_LAG_TIME_MAX_MS_DEFAULT;
use crate::topics::{self, NewTopic};

/// `ConfigSource` values of DescribeConfigs.
mod source {
    pub const TOPIC_CONFIG: i8 = 1;
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    pub const DEFAULT_CONFIG: i8 = 5;
}

/// `ConfigType` values (DescribeConfigs v3+).
mod kind {
    pub const BOOLEAN: i8 = 1;
    pub const STRING: i8 = 2;
    pub const INT: i8 = 3;
    pub const SHORT: i8 = 4;
    pub const LONG: i8 = 5;
    pub const LIST: i8 = 7;
}

/// Broker configs the lab knows, with Kafka 3.x defaults (`None` = null).
const BROKER_CONFIGS: &[(&str, Option<&str>, i8)] = &[
    ("advertised.listeners", None, kind::STRING),
    ("auto.create.topics.enable", Some("true"), kind::BOOLEAN),
    ("auto.leader.rebalance.enable", Some("true"), kind::BOOLEAN),
    ("broker.id", Some("-1"), kind::INT),
    ("broker.rack", None, kind::STRING),
    ("controlled.shutdown.enable", Some("true"), kind::BOOLEAN),
    ("controlled.shutdown.max.retries", Some("3"), kind::INT),
    (
        "controlled.shutdown.retry.backoff.ms",
        Some("5000"),
        kind::LONG,
    ),
    ("default.replication.factor", Some("1"), kind::INT),
    ("group.initial.rebalance.delay.ms", Some("3000"), kind::INT),
    ("inter.broker.listener.name", None, kind::STRING),
    (
        "leader.imbalance.check.interval.seconds",
        Some("300"),
        kind::LONG,
    ),
    (
        "listener.security.protocol.map",
        Some("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
        kind::STRING,
    ),
    ("listeners", Some("PLAINTEXT://:9092"), kind::STRING),
    ("log.cleanup.policy", Some("delete"), kind::LIST),
    ("log.dirs", None, kind::STRING),
    ("log.message.format.version", Some("3.0-IV1"), kind::STRING),
    ("log.retention.hours", Some("168"), kind::INT),
    ("log.segment.bytes", Some("1073741824"), kind::INT),
    ("message.max.bytes", Some("1048588"), kind::INT),
    ("min.insync.replicas", Some("1"), kind::INT),
    ("num.partitions", Some("1"), kind::INT),
    ("offsets.topic.num.partitions", Some("50"), kind::INT),
    ("offsets.topic.replication.factor", Some("3"), kind::SHORT),
    ("replica.fetch.max.bytes", Some("1048576"), kind::INT),
    ("transaction.state.log.min.isr", Some("2"), kind::INT),
    (
        "transaction.state.log.replication.factor",
        Some("3"),
        kind::SHORT,
    ),
    (
        "unclean.leader.election.enable",
        Some("false"),
        kind::BOOLEAN,
    ),
    ("zookeeper.connect", None, kind::STRING),
    ("zookeeper.session.timeout.ms", Some("18000"), kind::INT),
];

/// Topic configs: (name, broker synonym, default, type).
const TOPIC_CONFIGS: &[(&str, &str, &str, i8)] = &[
    ("cleanup.policy", "log.cleanup.policy", "delete", kind::LIST),
    (
        "compression.type",
        "compression.type",
        "producer",
        kind::STRING,
    ),
    (
        "max.message.bytes",
        "message.max.bytes",
        "1048588",
        kind::INT,
    ),
    (
        "message.timestamp.type",
        "log.message.timestamp.type",
        "CreateTime",
        kind::STRING,
    ),
    ("min.insync.replicas", "min.insync.replicas", "1", kind::INT),
    ("retention.bytes", "log.retention.bytes", "-1", kind::LONG),
    ("retention.ms", "log.retention.ms", "604800000", kind::LONG),
    (
        "segment.bytes",
        "log.segment.bytes",
        "1073741824",
        kind::INT,
    ),
    (
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        "false",
        kind::BOOLEAN,
    ),
];

/// CreateTopics (handled by the controller only, like Kafka in ZooKeeper mode).
pub async fn create_topics(
    broker: &Arc<Broker>,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let is_controller = broker.view().controller == Some(broker.id);
    let timeout = Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
    let mut results = Vec::new();
    for t in req.topics {
        let name = t.name.0.to_string();
        let result = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if !is_controller {
            results.push(
                result
                    .with_error_code(errors::NOT_CONTROLLER)
                    .with_error_message(Some(s(
                        "This is not the correct controller for this cluster.",
                    ))),
            );
            continue;
        }
        let assignment = (!t.assignments.is_empty()).then(|| {
            t.assignments
                .iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                .collect()
        });
        let configs: BTreeMap<String, String> = t
            .configs
            .iter()
            .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
            .collect();
        let new = NewTopic {
            name: name.clone(),
            partitions: t.num_partitions,
            replication_factor: i32::from(t.replication_factor),
            assignment,
            configs,
        };
        match topics::create(broker, new, req.validate_only).await {
            Ok((id, partitions, rf)) => {
                if !req.validate_only && !timeout.is_zero() {
                    topics::wait_for_leaders(broker, &name, timeout).await;
                }
                let mut ok = result
                    .with_num_partitions(partitions)
                    .with_replication_factor(rf as i16);
                if version >= 7 {
                    ok.topic_id = id;
                }
                results.push(ok);
            }
            Err((code, message)) => results.push(
                result
                    .with_error_code(code)
                    .with_error_message(Some(s(message))),
            ),
        }
    }
    CreateTopicsResponse::default().with_topics(results)
}

fn entry(
    name: &str,
    value: Option<String>,
    source: i8,
    config_type: i8,
    version: i16,
) -> DescribeConfigsResourceResult {
    let mut e = DescribeConfigsResourceResult::default()
        .with_name(s(name))
        .with_value(value.map(s))
        .with_read_only(source != source::TOPIC_CONFIG)
        .with_config_source(source);
    if version >= 3 {
        e.config_type = config_type;
    }
    e
}

/// The broker's own config entries: every known config (default or static) plus every static
/// property set through the environment.
fn broker_entries(
    broker: &Broker,
    version: i16,
    synonyms: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let mut out: BTreeMap<String, DescribeConfigsResourceResult> = BTreeMap::new();
    let defaults = BROKER_CONFIGS
        .iter()
        .map(|(n, d, t)| (*n, d.map(str::to_string), *t))
        .chain([
            (
                "inter.broker.protocol.version",
                Some(broker.version.latest_ibp().name().to_string()),
                kind::STRING,
            ),
            (
                "replica.lag.time.max.ms",
                Some(REPLICA_LAG_TIME_MAX_MS_DEFAULT.to_string()),
                kind::LONG,
            ),
            ("log.dir", Some("/tmp/kafka-logs".to_string()), kind::STRING),
        ]);
    for (name, default, config_type) in defaults {
        let mut e = match broker.cfg.props.get(name) {
            Some(v) => entry(
                name,
                Some(v.clone()),
                source::STATIC_BROKER_CONFIG,
                config_type,
                version,
            ),
            None => entry(
                name,
                default.clone(),
                source::DEFAULT_CONFIG,
                config_type,
                version,
            ),
        };
        if synonyms {
            let mut list = Vec::new();
            if let Some(v) = broker.cfg.props.get(name) {
                list.push(
                    DescribeConfigsSynonym::default()
                        .with_name(s(name))
                        .with_value(Some(s(v.clone())))
                        .with_source(source::STATIC_BROKER_CONFIG),
                );
            }
            list.push(
                DescribeConfigsSynonym::default()
                    .with_name(s(name))
                    .with_value(default.map(s))
                    .with_source(source::DEFAULT_CONFIG),
            );
            e.synonyms = list;
        }
        out.insert(name.to_string(), e);
    }
    for (name, value) in &broker.cfg.props {
        out.entry(name.clone()).or_insert_with(|| {
            entry(
                name,
                Some(value.clone()),
                source::STATIC_BROKER_CONFIG,
                kind::STRING,
                version,
            )
        });
    }
    out.into_values().collect()
}

fn topic_entries(
    broker: &Broker,
    overrides: &BTreeMap<String, String>,
    version: i16,
) -> Vec<DescribeConfigsResourceResult> {
    let mut out: Vec<DescribeConfigsResourceResult> = TOPIC_CONFIGS
        .iter()
        .map(|(name, synonym, default, t)| {
            match (overrides.get(*name), broker.cfg.props.get(*synonym)) {
                (Some(v), _) => entry(name, Some(v.clone()), source::TOPIC_CONFIG, *t, version),
                (None, Some(v)) => entry(
                    name,
                    Some(v.clone()),
                    source::STATIC_BROKER_CONFIG,
                    *t,
                    version,
                ),
                (None, None) => entry(
                    name,
                    Some((*default).to_string()),
                    source::DEFAULT_CONFIG,
                    *t,
                    version,
                ),
            }
        })
        .collect();
    for (name, value) in overrides {
        if !TOPIC_CONFIGS.iter().any(|(n, ..)| n == name) {
            out.push(entry(
                name,
                Some(value.clone()),
                source::TOPIC_CONFIG,
                kind::STRING,
                version,
            ));
        }
    }
    out
}

/// DescribeConfigs.
pub async fn describe_configs(
    broker: &Arc<Broker>,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let view = broker.view();
    let results = req
        .resources
        .into_iter()
        .map(|r| {
            let name = r.resource_name.to_string();
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let configs = match r.resource_type {
                2 => match view.topics.get(&name) {
                    Some(t) => topic_entries(broker, &t.config, version),
                    None => {
                        return result
                            .with_error_code(errors::UNKNOWN_TOPIC_OR_PARTITION)
                            .with_error_message(Some(s(format!("Topic {name} does not exist"))));
                    }
                },
                4 if name.is_empty() => Vec::new(),
                4 if name == broker.id.to_string() => {
                    broker_entries(broker, version, req.include_synonyms)
                }
                4 => {
                    let message = format!(
                        "Unexpected broker id, expected {} or empty string, but received {name}",
                        broker.id
                    );
                    return result
                        .with_error_code(errors::INVALID_REQUEST)
                        .with_error_message(Some(s(message)));
                }
                _ => {
                    return result
                        .with_error_code(errors::INVALID_REQUEST)
                        .with_error_message(Some(s("Unsupported resource type")));
                }
            };
            let configs = match &r.configuration_keys {
                Some(keys) => configs
                    .into_iter()
                    .filter(|c| keys.contains(&c.name))
                    .collect(),
                None => configs,
            };
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}
