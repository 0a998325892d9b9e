//! What a new lab holds: topics (RF 3, `min.insync.replicas=2`), and Debezium connectors of
//! both journal kinds — CDC (`cdc-digikala_fulfillment-slave`, routed to `supernova.$2.$3`)
//! and CT (`ct-digikala_fulfillment-slave`, routed to `ct.$2.$3`), dashed server names like
//! the journal's — plus a JDBC sink per source. Schemas are registered by the connectors
//! themselves and the sinks commit group offsets, so lag is real from the start.
//!
//! On 7.1.x the sources use Debezium 1.9 names; on 7.7+ the migrated 3.0 names (with
//! `schema.name.adjustment.mode=avro`, so schema names stay those of 1.9).

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::{Map, Value, json};

use super::http::Http;
use super::rest_auth;
use super::topology::{LabSpec, Platform};

/// The database the simulated MySQL sources read.
pub const DATABASE: &str = "digikala_fulfillment";

/// A seeded source connector and what it feeds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedSource {
    pub name: String,
    /// `cdc` or `ct`.
    pub kind: &'static str,
    /// The topics it produces to (after the RegexRouter).
    pub topics: Vec<String>,
    /// The sink connector reading them.
    pub sink: String,
}

/// The seeded sources and their sinks.
pub fn sources() -> Vec<SeedSource> {
    vec![
        SeedSource {
            name: format!("cdc-{DATABASE}-slave"),
            kind: "cdc",
            topics: vec![
                format!("supernova.{DATABASE}.receipts"),
                format!("supernova.{DATABASE}.shipments"),
            ],
            sink: format!("dwh-supernova-{DATABASE}"),
        },
        SeedSource {
            name: format!("ct-{DATABASE}-slave"),
            kind: "ct",
            topics: vec![format!("ct.{DATABASE}.receipts")],
            sink: format!("dwh-ct-{DATABASE}"),
        },
    ]
}

/// `(topic, partitions)` of every topic the lab creates up front.
pub fn topics() -> Vec<(String, i32)> {
    let mut t = Vec::new();
    for s in sources() {
        for topic in &s.topics {
            t.push((topic.clone(), 3));
        }
        t.push((format!("dbhistory.{}", s.name), 1));
    }
    t
}

/// Creates the lab's topics (RF 3, `min.insync.replicas=2`); existing ones are fine.
pub async fn create_topics(bootstrap: &[String]) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap.join(","))
        .set("log_level", "3")
        .create()
        .map_err(|e| e.to_string())?;
    let wanted = topics();
    let new: Vec<NewTopic> = wanted
        .iter()
        .map(|(name, parts)| {
            NewTopic::new(name, *parts, TopicReplication::Fixed(3)).set("min.insync.replicas", "2")
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(20)));
    let results = admin
        .create_topics(&new, &opts)
        .await
        .map_err(|e| format!("CreateTopics: {e}"))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(format!("creating topic {topic}: {code}")),
        }
    }
    Ok(())
}

/// The connector's own Avro converters; in a lab whose Schema Registry requires basic auth
/// they log in as Confluent's client does (`basic.auth.credentials.source=USER_INFO`) with the
/// user info of the workers' `${file:…}` variable, so the config holds no password.
fn avro_converters(c: &mut Map<String, Value>, spec: &LabSpec) {
    for side in ["key", "value"] {
        c.insert(
            format!("{side}.converter"),
            json!("io.confluent.connect.avro.AvroConverter"),
        );
        c.insert(
            format!("{side}.converter.schema.registry.url"),
            json!("http://schema-registry:8081"),
        );
        if spec.rest_auth() {
            c.insert(
                format!("{side}.converter.basic.auth.credentials.source"),
                json!("USER_INFO"),
            );
            c.insert(
                format!("{side}.converter.{}", rest_auth::USER_INFO_KEY),
                json!(rest_auth::user_info_variable()),
            );
        }
    }
}

/// The config of a seeded source connector at `platform`.
pub fn source_config(s: &SeedSource, platform: &Platform, spec: &LabSpec) -> Value {
    let tables: Vec<String> = s
        .topics
        .iter()
        .filter_map(|t| t.rsplit('.').next())
        .map(|table| format!("{DATABASE}\\.{table}"))
        .collect();
    let (server_id, replacement) = match s.kind {
        "cdc" => ("12332102", "supernova.$2.$3"),
        _ => ("12332101", "ct.$2.$3"),
    };
    let mut c = json!({
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "tasks.max": "1",
        "database.hostname": format!("mysql-{DATABASE}-slave").replace('_', "-"),
        "database.port": "3306",
        "database.user": "debezium",
        "database.password": "lab-only-password",
        "database.server.id": server_id,
        "database.include.list": DATABASE,
        "table.include.list": tables.join(","),
        "snapshot.mode": if s.kind == "ct" { "initial" } else { "schema_only" },
        "include.schema.changes": "false",
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "([^.]+)\\.([^.]+)\\.([^.]+)",
        "transforms.route.replacement": replacement,
    });
    let Some(m) = c.as_object_mut() else {
        return c;
    };
    avro_converters(m, spec);
    let history_topic = format!("dbhistory.{}", s.name);
    let bootstrap = spec.internal_bootstrap();
    if platform.debezium == "1.9" {
        m.insert("database.server.name".into(), json!(s.name));
        m.insert(
            "database.history.kafka.bootstrap.servers".into(),
            json!(bootstrap),
        );
        m.insert("database.history.kafka.topic".into(), json!(history_topic));
        m.insert(
            "database.history.store.only.captured.tables.ddl".into(),
            json!("true"),
        );
        m.insert("sanitize.field.names".into(), json!("true"));
        if s.kind == "cdc" {
            m.insert("producer.linger.ms".into(), json!("10"));
            m.insert("producer.batch.size".into(), json!("32768"));
        } else {
            m.insert("acks".into(), json!("all"));
        }
    } else {
        m.insert("topic.prefix".into(), json!(s.name));
        m.insert(
            "schema.history.internal.kafka.bootstrap.servers".into(),
            json!(bootstrap),
        );
        m.insert(
            "schema.history.internal.kafka.topic".into(),
            json!(history_topic),
        );
        m.insert(
            "schema.history.internal.store.only.captured.tables.ddl".into(),
            json!("true"),
        );
        m.insert("schema.name.adjustment.mode".into(), json!("avro"));
        m.insert("field.name.adjustment.mode".into(), json!("avro"));
    }
    c
}

/// The config of the sink reading `s`'s topics in lab `spec`.
pub fn sink_config(s: &SeedSource, spec: &LabSpec) -> Value {
    let mut c = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "connection.url": "jdbc:mysql://dwh:3306/dwh",
        "topics": s.topics.join(","),
    });
    if let Some(m) = c.as_object_mut() {
        avro_converters(m, spec);
    }
    c
}

/// Creates every seeded connector that the Connect cluster at `connect` does not have yet
/// (an existing one, e.g. migrated by an upgrade, is left alone). Returns the created names.
pub async fn create_connectors(
    http: &Http,
    connect: &str,
    spec: &LabSpec,
) -> Result<Vec<String>, String> {
    let mut created = Vec::new();
    for s in sources() {
        let source = source_config(&s, &spec.platform, spec);
        for (name, config) in [
            (s.name.clone(), source),
            (s.sink.clone(), sink_config(&s, spec)),
        ] {
            if create_if_absent(http, connect, &name, config).await? {
                created.push(name);
            }
        }
    }
    Ok(created)
}

async fn create_if_absent(
    http: &Http,
    connect: &str,
    name: &str,
    config: Value,
) -> Result<bool, String> {
    let (status, _) = http.get(&format!("{connect}/connectors/{name}")).await?;
    if status == 200 {
        return Ok(false);
    }
    let body = json!({ "name": name, "config": config });
    let url = format!("{connect}/connectors");
    let (status, answer) = http.send(reqwest::Method::POST, &url, &body).await?;
    match status {
        200 | 201 => Ok(true),
        // "Connector … already exists" (a concurrent create), or a rebalance: check again.
        409 if http.get(&format!("{connect}/connectors/{name}")).await?.0 == 200 => Ok(false),
        _ => Err(format!(
            "POST {url} (connector {name}) answered {status}: {answer}"
        )),
    }
}

/// Every subject the seeded sources register (`<topic>-key`, `<topic>-value`).
pub fn subjects() -> Vec<String> {
    sources()
        .iter()
        .flat_map(|s| s.topics.clone())
        .flat_map(|t| [format!("{t}-key"), format!("{t}-value")])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Ports, Services};

    fn spec(version: &str) -> LabSpec {
        LabSpec::new("lab", version, "r", Ports::default_lab(), Services::Full).expect("spec")
    }

    #[test]
    fn sources_are_the_journals_two_kinds_with_dashed_server_names() {
        let s = sources();
        assert_eq!(s[0].name, "cdc-digikala_fulfillment-slave");
        assert_eq!(s[1].name, "ct-digikala_fulfillment-slave");
        let lab = spec("7.1.1");
        let cdc = source_config(&s[0], &lab.platform, &lab);
        assert_eq!(
            cdc["database.server.name"],
            "cdc-digikala_fulfillment-slave"
        );
        assert_eq!(cdc["transforms.route.replacement"], "supernova.$2.$3");
        assert!(cdc.get("topic.prefix").is_none());
        let ct = source_config(&s[1], &lab.platform, &lab);
        assert_eq!(ct["transforms.route.replacement"], "ct.$2.$3");
        assert_eq!(ct["table.include.list"], "digikala_fulfillment\\.receipts");
        let new = spec("7.7.1");
        let ct3 = source_config(&s[1], &new.platform, &new);
        assert_eq!(ct3["topic.prefix"], "ct-digikala_fulfillment-slave");
        assert_eq!(ct3["schema.name.adjustment.mode"], "avro");
        assert!(ct3.get("database.server.name").is_none());
    }

    #[test]
    fn every_seeded_topic_has_its_subjects_and_a_sink() {
        assert_eq!(subjects().len(), 6);
        assert_eq!(topics().len(), 5);
        let sink = sink_config(&sources()[0], &spec("7.1.1"));
        assert_eq!(
            sink["topics"],
            "supernova.digikala_fulfillment.receipts,supernova.digikala_fulfillment.shipments"
        );
        assert!(sink.get("value.converter.basic.auth.user.info").is_none());
    }

    #[test]
    fn in_a_sasl_lab_the_converters_log_in_with_a_file_variable_not_a_password() {
        use crate::topology::Security;
        let lab = LabSpec::new(
            "lab",
            "7.1.1",
            "r",
            Ports::default_lab_with(Security::Sasl),
            Services::Full,
        )
        .and_then(|l| l.with_security(Security::Sasl, std::path::Path::new("/labs/x")))
        .expect("sasl");
        let s = &sources()[0];
        for config in [source_config(s, &lab.platform, &lab), sink_config(s, &lab)] {
            for side in ["key", "value"] {
                assert_eq!(
                    config[format!("{side}.converter.basic.auth.credentials.source")],
                    "USER_INFO"
                );
                assert_eq!(
                    config[format!("{side}.converter.basic.auth.user.info")],
                    "${file:/run/secrets/CONNECT_SCHEMA_REGISTRY:basic.auth.user.info}"
                );
            }
        }
    }
}
