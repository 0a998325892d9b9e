//! Authorization of requests where Kafka's `KafkaApis` does it, when `authorizer.class.name` is
//! set ([`crate::acl`]): topics a principal may not use are taken out of the request before the
//! handler runs and answered with TOPIC_AUTHORIZATION_FAILED; group and cluster checks answer the
//! whole request with GROUP_/CLUSTER_AUTHORIZATION_FAILED.

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;

use super::{ConnCtx, errors};
use crate::acl::{CLUSTER, Operation, ResourceType};
use crate::broker::Broker;

/// Keeps the items `ok` allows in `items` and returns the answers `deny` makes for the others:
/// how every per-topic check takes refused topics out of a request before its handler runs.
fn split_denied<T, R>(
    items: &mut Vec<T>,
    mut ok: impl FnMut(&T) -> bool,
    deny: impl Fn(&T) -> R,
) -> Vec<R> {
    let mut denied = Vec::new();
    items.retain(|t| {
        let keep = ok(t);
        if !keep {
            denied.push(deny(t));
        }
        keep
    });
    denied
}

/// Whether the connection's principal may do `op` on the resource (always, without authorizer).
pub fn allowed(
    broker: &Broker,
    conn: &ConnCtx,
    op: Operation,
    kind: ResourceType,
    name: &str,
) -> bool {
    broker
        .authz
        .as_ref()
        .is_none_or(|a| a.allows(&conn.principal, &conn.host, op, kind, name))
}

/// Whether the principal may do `op` on the cluster.
pub fn cluster(broker: &Broker, conn: &ConnCtx, op: Operation) -> bool {
    allowed(broker, conn, op, ResourceType::Cluster, CLUSTER)
}

/// Produce: Write on each topic; unauthorized topics are answered without being written.
pub fn produce(
    broker: &Broker,
    conn: &ConnCtx,
    mut req: ProduceRequest,
) -> (ProduceRequest, Vec<TopicProduceResponse>) {
    let denied = split_denied(
        &mut req.topic_data,
        |t| {
            allowed(
                broker,
                conn,
                Operation::Write,
                ResourceType::Topic,
                &t.name.0,
            )
        },
        |t| {
            TopicProduceResponse::default()
                .with_name(t.name.clone())
                .with_partition_responses(
                    t.partition_data
                        .iter()
                        .map(|p| {
                            PartitionProduceResponse::default()
                                .with_index(p.index)
                                .with_error_code(errors::TOPIC_AUTHORIZATION_FAILED)
                                .with_base_offset(-1)
                        })
                        .collect(),
                )
        },
    );
    (req, denied)
}

/// Fetch: followers need ClusterAction on the cluster, consumers Read on each topic.
/// `Err` = the whole request is refused (a follower without ClusterAction).
pub fn fetch(
    broker: &Broker,
    conn: &ConnCtx,
    mut req: FetchRequest,
    version: i16,
) -> Result<(FetchRequest, Vec<FetchableTopicResponse>), FetchResponse> {
    let replica = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    if replica >= 0 {
        return if cluster(broker, conn, Operation::ClusterAction) {
            Ok((req, Vec::new()))
        } else {
            Err(FetchResponse::default().with_error_code(errors::CLUSTER_AUTHORIZATION_FAILED))
        };
    }
    let view = broker.view();
    let denied = split_denied(
        &mut req.topics,
        |t| {
            let name = if version >= 13 {
                view.topic_by_id(&t.topic_id).map(|(n, _)| n.clone())
            } else {
                Some(t.topic.0.to_string())
            };
            // Unknown topic ids are left to the handler (UNKNOWN_TOPIC_ID, as Kafka answers them).
            name.is_none_or(|n| allowed(broker, conn, Operation::Read, ResourceType::Topic, &n))
        },
        |t| {
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_topic_id(t.topic_id)
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            PartitionData::default()
                                .with_partition_index(p.partition)
                                .with_error_code(errors::TOPIC_AUTHORIZATION_FAILED)
                                .with_high_watermark(-1)
                        })
                        .collect(),
                )
        },
    );
    Ok((req, denied))
}

/// ListOffsets: Describe on each topic.
pub fn list_offsets(
    broker: &Broker,
    conn: &ConnCtx,
    mut req: ListOffsetsRequest,
) -> (ListOffsetsRequest, Vec<ListOffsetsTopicResponse>) {
    let denied = split_denied(
        &mut req.topics,
        |t| {
            allowed(
                broker,
                conn,
                Operation::Describe,
                ResourceType::Topic,
                &t.name.0,
            )
        },
        |t| {
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            ListOffsetsPartitionResponse::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(errors::TOPIC_AUTHORIZATION_FAILED)
                                .with_offset(-1)
                                .with_timestamp(-1)
                        })
                        .collect(),
                )
        },
    );
    (req, denied)
}

/// Group APIs: `op` on the group (Read for Join/Sync/Heartbeat/Leave/OffsetCommit/OffsetFetch,
/// Describe for FindCoordinator).
pub fn group(broker: &Broker, conn: &ConnCtx, op: Operation, group: &str) -> bool {
    allowed(broker, conn, op, ResourceType::Group, group)
}

/// OffsetCommit: Read on each topic (after the group check).
pub fn offset_commit_topics(
    broker: &Broker,
    conn: &ConnCtx,
    mut req: OffsetCommitRequest,
) -> (
    OffsetCommitRequest,
    Vec<offset_commit_response::OffsetCommitResponseTopic>,
) {
    use offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
    let denied = split_denied(
        &mut req.topics,
        |t| {
            allowed(
                broker,
                conn,
                Operation::Read,
                ResourceType::Topic,
                &t.name.0,
            )
        },
        |t| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(errors::TOPIC_AUTHORIZATION_FAILED)
                        })
                        .collect(),
                )
        },
    );
    (req, denied)
}

/// DescribeConfigs: DescribeConfigs on the topic, or on the cluster for a broker resource.
/// Returns the error code for a resource the principal may not describe.
pub fn describe_configs_denied(
    broker: &Broker,
    conn: &ConnCtx,
    resource_type: i8,
    name: &str,
) -> Option<i16> {
    match resource_type {
        2 => (!allowed(
            broker,
            conn,
            Operation::DescribeConfigs,
            ResourceType::Topic,
            name,
        ))
        .then_some(errors::TOPIC_AUTHORIZATION_FAILED),
        4 => (!cluster(broker, conn, Operation::DescribeConfigs))
            .then_some(errors::CLUSTER_AUTHORIZATION_FAILED),
        _ => None,
    }
}

/// OffsetCommit without Read on the group: every partition gets GROUP_AUTHORIZATION_FAILED.
pub fn offset_commit_group_denied(req: OffsetCommitRequest) -> OffsetCommitResponse {
    use offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(errors::GROUP_AUTHORIZATION_FAILED)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// OffsetFetch: Describe on the group (else GROUP_AUTHORIZATION_FAILED); topics the principal
/// may not Describe are left out of the answer.
pub fn offset_fetch_filter(
    broker: &Broker,
    conn: &ConnCtx,
    groups: &[String],
    response: &mut OffsetFetchResponse,
    version: i16,
) {
    let topic_ok =
        |name: &str| allowed(broker, conn, Operation::Describe, ResourceType::Topic, name);
    if version >= 8 {
        for g in &mut response.groups {
            if group(broker, conn, Operation::Describe, &g.group_id.0) {
                g.topics.retain(|t| topic_ok(&t.name.0));
            } else {
                g.error_code = errors::GROUP_AUTHORIZATION_FAILED;
                g.topics.clear();
            }
        }
    } else if groups
        .first()
        .is_some_and(|g| !group(broker, conn, Operation::Describe, g))
    {
        response.error_code = errors::GROUP_AUTHORIZATION_FAILED;
        response.topics.clear();
    } else {
        response.topics.retain(|t| topic_ok(&t.name.0));
    }
}

/// CreateTopics: Create on the cluster or on the topic.
pub fn create_topics(
    broker: &Broker,
    conn: &ConnCtx,
    mut req: CreateTopicsRequest,
) -> (
    CreateTopicsRequest,
    Vec<create_topics_response::CreatableTopicResult>,
) {
    let on_cluster = cluster(broker, conn, Operation::Create);
    let denied = split_denied(
        &mut req.topics,
        |t| {
            on_cluster
                || allowed(
                    broker,
                    conn,
                    Operation::Create,
                    ResourceType::Topic,
                    &t.name.0,
                )
        },
        |t| {
            create_topics_response::CreatableTopicResult::default()
                .with_name(t.name.clone())
                .with_error_code(errors::TOPIC_AUTHORIZATION_FAILED)
                .with_num_partitions(-1)
                .with_replication_factor(-1)
        },
    );
    (req, denied)
}

/// Idempotent producers (InitProducerId without a transactional id): IdempotentWrite on the
/// cluster, or Write on some topic (Kafka 3.x, KIP-679).
pub fn idempotent_write(broker: &Broker, conn: &ConnCtx) -> bool {
    match &broker.authz {
        None => true,
        Some(a) => {
            cluster(broker, conn, Operation::IdempotentWrite)
                || a.allows_some(
                    &conn.principal,
                    &conn.host,
                    Operation::Write,
                    ResourceType::Topic,
                )
        }
    }
}

/// Metadata: which requested topic names the principal may Describe (and, when they would be
/// auto-created, Create); the others are answered with TOPIC_AUTHORIZATION_FAILED.
pub fn metadata_topic(broker: &Broker, conn: &ConnCtx, name: &str, exists: bool) -> bool {
    allowed(broker, conn, Operation::Describe, ResourceType::Topic, name)
        && (exists
            || cluster(broker, conn, Operation::Create)
            || allowed(broker, conn, Operation::Create, ResourceType::Topic, name))
}
