//! FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups, OffsetCommit and
//! OffsetFetch. Committed offsets are stored in ZooKeeper at
//! `/consumers/<group>/offsets/<topic>/<partition>` (old Kafka's layout; real 3.x uses the
//! `__consumer_offsets` topic) so that any coordinator finds them after restarts and moves.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::find_coordinator_response::Coordinator as CoordinatorEntry;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use serde::{Deserialize, Serialize};

use super::{ConnCtx, errors, s};
use crate::broker::Broker;
use crate::group::JoinArgs;

/// Partitions of Kafka's `__consumer_offsets` (`offsets.topic.num.partitions`), for placement.
const OFFSETS_PARTITIONS: i32 = 50;

/// The coordinator of a group: Kafka hashes the group id onto `__consumer_offsets` partitions;
/// the lab spreads those partitions over the live brokers (not shutting down) in id order.
pub fn coordinator_of(broker: &Broker, group: &str) -> Option<i32> {
    let view = broker.view();
    let live: Vec<i32> = view
        .brokers
        .keys()
        .copied()
        .filter(|b| !view.shutting_down.contains(b))
        .collect();
    let hash = group
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    let partition = if hash == i32::MIN { 0 } else { hash.abs() } % OFFSETS_PARTITIONS;
    (!live.is_empty()).then(|| live[(partition as usize) % live.len()])
}

fn not_coordinator(broker: &Broker, group: &str) -> bool {
    coordinator_of(broker, group) != Some(broker.id)
}

/// FindCoordinator (group keys only; transaction coordinators are not available in the lab).
pub fn find_coordinator(
    broker: &Broker,
    conn: &ConnCtx,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let view = broker.view();
    let lookup = |key: &str| -> CoordinatorEntry {
        let entry = CoordinatorEntry::default()
            .with_key(s(key))
            .with_node_id(BrokerId(-1))
            .with_port(-1);
        if req.key_type != 0 {
            return entry.with_error_code(errors::COORDINATOR_NOT_AVAILABLE);
        }
        let endpoint = coordinator_of(broker, key)
            .and_then(|id| Some((id, view.brokers.get(&id)?.reg.endpoint(&conn.listener)?)));
        match endpoint {
            Some((id, (host, port))) => entry
                .with_node_id(BrokerId(id))
                .with_host(s(host))
                .with_port(i32::from(port)),
            None => entry.with_error_code(errors::COORDINATOR_NOT_AVAILABLE),
        }
    };
    if version >= 4 {
        let coordinators = req.coordinator_keys.iter().map(|k| lookup(k)).collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = lookup(&req.key);
    FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port)
}

/// JoinGroup.
pub async fn join(
    broker: &Arc<Broker>,
    req: JoinGroupRequest,
    version: i16,
    client_id: &str,
) -> JoinGroupResponse {
    let group = req.group_id.0.to_string();
    if not_coordinator(broker, &group) {
        return JoinGroupResponse::default()
            .with_error_code(errors::NOT_COORDINATOR)
            .with_generation_id(-1);
    }
    let ms = |v: i32| Duration::from_millis(u64::try_from(v).unwrap_or(0));
    let args = JoinArgs {
        member_id: req.member_id.to_string(),
        client_id: client_id.to_string(),
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        session_timeout: ms(req.session_timeout_ms),
        rebalance_timeout: ms(if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        }),
        require_known_member_id: version >= 4,
    };
    let r = broker.groups.join(&group, args).await;
    let members = r
        .members
        .into_iter()
        .map(|(id, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(s(id))
                .with_metadata(metadata)
        })
        .collect();
    let mut response = JoinGroupResponse::default()
        .with_error_code(r.error)
        .with_generation_id(r.generation)
        .with_protocol_name(Some(s(r.protocol.unwrap_or_default())))
        .with_leader(s(r.leader))
        .with_member_id(s(r.member_id))
        .with_members(members);
    if version >= 7 {
        response.protocol_type = r.protocol_type.map(s);
    }
    response
}

/// SyncGroup.
pub async fn sync(broker: &Arc<Broker>, req: SyncGroupRequest) -> SyncGroupResponse {
    let group = req.group_id.0.to_string();
    if not_coordinator(broker, &group) {
        return SyncGroupResponse::default().with_error_code(errors::NOT_COORDINATOR);
    }
    let assignments = req
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let (code, assignment) = broker
        .groups
        .sync(&group, req.generation_id, &req.member_id, assignments)
        .await;
    SyncGroupResponse::default()
        .with_error_code(code)
        .with_assignment(assignment)
        .with_protocol_type(req.protocol_type)
        .with_protocol_name(req.protocol_name)
}

/// Heartbeat.
pub fn heartbeat(broker: &Broker, req: HeartbeatRequest) -> HeartbeatResponse {
    let group = req.group_id.0.to_string();
    let code = if not_coordinator(broker, &group) {
        errors::NOT_COORDINATOR
    } else {
        broker
            .groups
            .heartbeat(&group, req.generation_id, &req.member_id)
    };
    HeartbeatResponse::default().with_error_code(code)
}

/// LeaveGroup.
pub fn leave(broker: &Broker, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let group = req.group_id.0.to_string();
    if not_coordinator(broker, &group) {
        return LeaveGroupResponse::default().with_error_code(errors::NOT_COORDINATOR);
    }
    if version < 3 {
        let codes = broker.groups.leave(&group, &[req.member_id.to_string()]);
        return LeaveGroupResponse::default()
            .with_error_code(codes.first().copied().unwrap_or(errors::NONE));
    }
    let ids: Vec<String> = req
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    let codes = broker.groups.leave(&group, &ids);
    let members = req
        .members
        .into_iter()
        .zip(codes)
        .map(|(m, code)| {
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_error_code(code)
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

/// ListGroups (groups coordinated by this broker).
pub fn list(broker: &Broker) -> ListGroupsResponse {
    let groups = broker
        .groups
        .list()
        .into_iter()
        .map(|(id, protocol_type, state)| {
            ListedGroup::default()
                .with_group_id(GroupId(s(id)))
                .with_protocol_type(s(protocol_type))
                .with_group_state(s(state))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

/// What is stored per committed partition.
#[derive(Debug, Serialize, Deserialize)]
struct Committed {
    offset: i64,
    leader_epoch: i32,
    metadata: Option<String>,
    commit_timestamp: u64,
}

fn offset_path(group: &str, topic: &str, partition: i32) -> String {
    format!("/consumers/{group}/offsets/{topic}/{partition}")
}

/// OffsetCommit.
pub async fn offset_commit(broker: &Arc<Broker>, req: OffsetCommitRequest) -> OffsetCommitResponse {
    let group = req.group_id.0.to_string();
    let code = if not_coordinator(broker, &group) {
        errors::NOT_COORDINATOR
    } else {
        broker
            .groups
            .may_commit(&group, req.generation_id_or_member_epoch, &req.member_id)
    };
    let mut topics = Vec::new();
    for t in req.topics {
        let mut partitions = Vec::new();
        for p in t.partitions {
            let mut result = code;
            if result == errors::NONE {
                let c = Committed {
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.map(|m| m.to_string()),
                    commit_timestamp: crate::logging::now_ms(),
                };
                result = store(broker, &offset_path(&group, &t.name, p.partition_index), &c).await;
            }
            partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(result),
            );
        }
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    OffsetCommitResponse::default().with_topics(topics)
}

async fn store(broker: &Broker, path: &str, c: &Committed) -> i16 {
    let body = serde_json::to_vec(c).unwrap_or_default();
    let written = match broker.zk.set(path, &body, None).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => broker.zk.create_with_parents(path, &body).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => errors::NONE,
        Err(e) => {
            tracing::warn!(target: "kafka.coordinator.group.GroupMetadataManager", "Storing offset at {path} failed: {e}.");
            errors::COORDINATOR_NOT_AVAILABLE
        }
    }
}

/// Committed offsets of one group: (topic, partition) → (offset, leader epoch, metadata).
async fn load(
    broker: &Broker,
    group: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<(i32, Option<Committed>)>)> {
    let wanted = match wanted {
        Some(w) => w,
        None => {
            let mut all = Vec::new();
            for topic in broker
                .zk
                .children(&format!("/consumers/{group}/offsets"))
                .await
                .unwrap_or_default()
            {
                let parts = broker
                    .zk
                    .children(&format!("/consumers/{group}/offsets/{topic}"))
                    .await
                    .unwrap_or_default();
                all.push((topic, parts.iter().filter_map(|p| p.parse().ok()).collect()));
            }
            all
        }
    };
    let mut out = Vec::new();
    for (topic, parts) in wanted {
        let mut found = Vec::new();
        for p in parts {
            let c = broker
                .zk
                .get_json::<Committed>(&offset_path(group, &topic, p))
                .await
                .ok()
                .flatten()
                .map(|(c, _)| c);
            found.push((p, c));
        }
        out.push((topic, found));
    }
    out
}

/// OffsetFetch (single group before v8, batched groups from v8).
pub async fn offset_fetch(
    broker: &Arc<Broker>,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let mut groups = Vec::new();
        for g in req.groups {
            let group = g.group_id.0.to_string();
            let wanted = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.0.to_string(), t.partition_indexes))
                    .collect()
            });
            let entry = OffsetFetchResponseGroup::default().with_group_id(g.group_id);
            if not_coordinator(broker, &group) {
                groups.push(entry.with_error_code(errors::NOT_COORDINATOR));
                continue;
            }
            let topics = load(broker, &group, wanted)
                .await
                .into_iter()
                .map(|(topic, parts)| {
                    let partitions = parts
                        .into_iter()
                        .map(|(p, c)| batched_partition(p, c))
                        .collect();
                    OffsetFetchResponseTopics::default()
                        .with_name(TopicName(s(topic)))
                        .with_partitions(partitions)
                })
                .collect();
            groups.push(entry.with_topics(topics));
        }
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let group = req.group_id.0.to_string();
    if not_coordinator(broker, &group) {
        return OffsetFetchResponse::default().with_error_code(errors::NOT_COORDINATOR);
    }
    let wanted = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    let topics = load(broker, &group, wanted)
        .await
        .into_iter()
        .map(|(topic, parts)| {
            let partitions = parts
                .into_iter()
                .map(|(p, c)| single_partition(p, c))
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

fn single_partition(p: i32, c: Option<Committed>) -> OffsetFetchResponsePartition {
    let out = OffsetFetchResponsePartition::default()
        .with_partition_index(p)
        .with_committed_offset(-1)
        .with_committed_leader_epoch(-1);
    match c {
        Some(c) => out
            .with_committed_offset(c.offset)
            .with_committed_leader_epoch(c.leader_epoch)
            .with_metadata(c.metadata.map(s)),
        None => out.with_metadata(Some(s(""))),
    }
}

fn batched_partition(p: i32, c: Option<Committed>) -> OffsetFetchResponsePartitions {
    let out = OffsetFetchResponsePartitions::default()
        .with_partition_index(p)
        .with_committed_offset(-1)
        .with_committed_leader_epoch(-1);
    match c {
        Some(c) => out
            .with_committed_offset(c.offset)
            .with_committed_leader_epoch(c.leader_epoch)
            .with_metadata(c.metadata.map(s)),
        None => out.with_metadata(Some(s(""))),
    }
}
