//! ApiVersions, Metadata and DescribeCluster.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::*;

use super::{ConnCtx, errors, s};
use crate::acl::{Operation, ResourceType};
use crate::broker::Broker;
use crate::metadata::{ClusterView, TopicMeta};

/// ApiVersions: the ranges of the broker's software version.
pub fn api_versions(broker: &Broker, error_code: i16) -> ApiVersionsResponse {
    let keys = broker
        .version
        .api_ranges()
        .iter()
        .map(|(key, lo, hi)| {
            ApiVersion::default()
                .with_api_key(*key)
                .with_min_version(*lo)
                .with_max_version(*hi)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(keys)
}

/// Live brokers as seen through `listener`: (id, host, port, rack).
pub fn endpoints(view: &ClusterView, listener: &str) -> Vec<(i32, String, u16, Option<String>)> {
    view.brokers
        .iter()
        .filter_map(|(id, b)| {
            b.reg
                .endpoint(listener)
                .map(|(h, p)| (*id, h, p, b.reg.rack.clone()))
        })
        .collect()
}

/// Metadata: brokers on the connection's listener, controller, topics with leader/replicas/ISR.
/// Unknown topics are auto-created when allowed.
pub async fn metadata(
    broker: &Arc<Broker>,
    conn: &ConnCtx,
    req: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let mut view = broker.view();
    let mut wanted: Option<Vec<(Option<String>, uuid::Uuid)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
            .collect()
    });
    // Topics the principal may not Describe (or Create, for one that would be auto-created)
    // are answered with TOPIC_AUTHORIZATION_FAILED and never created (Kafka's order).
    let mut unauthorized = Vec::new();
    if let Some(list) = wanted.as_mut() {
        list.retain(|(name, id)| {
            let known = name
                .clone()
                .or_else(|| view.topic_by_id(id).map(|(n, _)| n.clone()));
            let ok = known.as_ref().is_none_or(|n| {
                super::authz::metadata_topic(broker, conn, n, view.topics.contains_key(n))
            });
            if !ok {
                unauthorized.push((known.unwrap_or_default(), *id));
            }
            ok
        });
    }
    let allow_create =
        (version < 4 || req.allow_auto_topic_creation) && broker.cfg.auto_create_topics();
    let mut created = Vec::new();
    if let Some(list) = &wanted {
        for name in list.iter().filter_map(|(n, _)| n.as_ref()) {
            if allow_create
                && !view.topics.contains_key(name)
                && crate::topics::auto_create(broker, name).await
            {
                created.push(name.clone());
            }
        }
        if !created.is_empty() {
            view = broker.view();
        }
    }
    if let Some(list) = wanted.as_mut() {
        for (name, id) in list.iter_mut() {
            if name.is_none() {
                *name = view.topic_by_id(id).map(|(n, _)| n.clone());
            }
        }
    }
    let reachable = endpoints(&view, &conn.listener);
    let live: BTreeSet<i32> = reachable.iter().map(|(id, ..)| *id).collect();
    let mut topics: Vec<MetadataResponseTopic> = match wanted {
        None => view
            .topics
            .iter()
            .filter(|(n, _)| {
                super::authz::allowed(broker, conn, Operation::Describe, ResourceType::Topic, n)
            })
            .map(|(n, t)| topic_entry(n, Some(t), &live, version, false))
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|(name, _)| {
                let name = name.unwrap_or_default();
                let meta = view.topics.get(&name);
                topic_entry(&name, meta, &live, version, created.contains(&name))
            })
            .collect(),
    };
    topics.extend(unauthorized.into_iter().map(|(name, id)| {
        MetadataResponseTopic::default()
            .with_error_code(errors::TOPIC_AUTHORIZATION_FAILED)
            .with_name(Some(TopicName(s(name))))
            .with_topic_id(id)
    }));
    let brokers = reachable
        .into_iter()
        .map(|(id, host, port, rack)| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(s(host))
                .with_port(i32::from(port))
                .with_rack(rack.map(s))
        })
        .collect();
    let mut response = MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(s(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(view.controller.unwrap_or(-1)))
        .with_topics(topics);
    mark_offline(&mut response, &view, version);
    response
}

/// One topic's entry. A partition whose recorded leader is not among the brokers `live` on the
/// client's listener is answered as Kafka's metadata cache answers it: LEADER_NOT_AVAILABLE with
/// leader -1, never a leader id the same response does not list (clients cannot connect to it;
/// kafka-python's sender then fails on every turn without refreshing metadata).
fn topic_entry(
    name: &str,
    meta: Option<&TopicMeta>,
    live: &BTreeSet<i32>,
    version: i16,
    just_created: bool,
) -> MetadataResponseTopic {
    let mut topic = MetadataResponseTopic::default().with_name(Some(TopicName(s(name))));
    let Some(meta) = meta else {
        let code = if just_created {
            errors::LEADER_NOT_AVAILABLE
        } else {
            errors::UNKNOWN_TOPIC_OR_PARTITION
        };
        return topic.with_error_code(code);
    };
    if version >= 10 {
        topic.topic_id = meta.id;
    }
    topic.is_internal = name.starts_with("__");
    topic.partitions = meta
        .partitions
        .iter()
        .map(|(index, pm)| {
            let mut p = MetadataResponsePartition::default().with_partition_index(*index);
            p.replica_nodes = pm.replicas.iter().map(|r| BrokerId(*r)).collect();
            match &pm.state {
                Some(state) if state.leader >= 0 && live.contains(&state.leader) => {
                    p.leader_id = BrokerId(state.leader);
                    p.isr_nodes = state.isr.iter().map(|r| BrokerId(*r)).collect();
                    if version >= 7 {
                        p.leader_epoch = state.leader_epoch;
                    }
                }
                other => {
                    p.error_code = errors::LEADER_NOT_AVAILABLE;
                    p.leader_id = BrokerId(-1);
                    p.isr_nodes = other
                        .iter()
                        .flat_map(|s| s.isr.iter().map(|r| BrokerId(*r)))
                        .collect();
                }
            }
            p
        })
        .collect();
    topic
}

/// Fills `offline_replicas` (replicas not registered).
fn mark_offline(response: &mut MetadataResponse, view: &ClusterView, version: i16) {
    if version < 5 {
        return;
    }
    for topic in &mut response.topics {
        for p in &mut topic.partitions {
            p.offline_replicas = p
                .replica_nodes
                .iter()
                .copied()
                .filter(|r| !view.is_live(r.0))
                .collect();
        }
    }
}

/// DescribeCluster.
pub fn describe_cluster(broker: &Broker, conn: &ConnCtx) -> DescribeClusterResponse {
    let view = broker.view();
    let brokers = endpoints(&view, &conn.listener)
        .into_iter()
        .map(|(id, host, port, rack)| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(id))
                .with_host(s(host))
                .with_port(i32::from(port))
                .with_rack(rack.map(s))
        })
        .collect();
    DescribeClusterResponse::default()
        .with_cluster_id(s(broker.cluster_id.clone()))
        .with_controller_id(BrokerId(view.controller.unwrap_or(-1)))
        .with_brokers(brokers)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::metadata::PartitionMeta;
    use crate::zk::PartitionState;

    fn topic(leader: i32) -> TopicMeta {
        let state = PartitionState {
            controller_epoch: 1,
            leader,
            version: 1,
            leader_epoch: 4,
            isr: vec![1, 2, 3],
        };
        TopicMeta {
            id: uuid::Uuid::nil(),
            partitions: BTreeMap::from([(
                0,
                PartitionMeta {
                    replicas: vec![2, 1, 3],
                    state: Some(state),
                    zk_version: 0,
                },
            )]),
            config: BTreeMap::new(),
        }
    }

    #[test]
    fn a_leader_missing_from_the_brokers_listed_is_answered_as_not_available() {
        let meta = topic(2);
        let cases = [
            (vec![1, 2, 3], 2, errors::NONE),
            (vec![1, 3], -1, errors::LEADER_NOT_AVAILABLE),
            (vec![], -1, errors::LEADER_NOT_AVAILABLE),
        ];
        for (live, leader, code) in cases {
            let live: BTreeSet<i32> = live.into_iter().collect();
            let entry = topic_entry("t", Some(&meta), &live, 9, false);
            let p = &entry.partitions[0];
            assert_eq!(
                (p.leader_id.0, p.error_code),
                (leader, code),
                "live {live:?}"
            );
            assert_eq!(p.replica_nodes.len(), 3, "replicas are still listed");
        }
    }
}
