//! Fetch (consumers and follower replicas), ListOffsets and OffsetsForLeaderEpoch.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::*;

use super::errors;
use crate::broker::{Broker, Phase};
use crate::metadata::ClusterView;

/// One partition of a fetch, resolved.
struct Wanted {
    topic_index: usize,
    name: Option<String>,
    partition: i32,
    offset: i64,
    max_bytes: usize,
    /// The fetcher's view of the leader epoch (-1: unchecked).
    current_epoch: i32,
}

/// Handles a Fetch request; waits up to `max_wait_ms` for `min_bytes` like Kafka.
pub async fn fetch(broker: &Arc<Broker>, req: FetchRequest, version: i16) -> FetchResponse {
    let replica = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let view = broker.view();
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut wanted = Vec::new();
    for t in &req.topics {
        let name = if version >= 13 {
            view.topic_by_id(&t.topic_id).map(|(n, _)| n.clone())
        } else {
            Some(t.topic.0.to_string())
        };
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_topic_id(t.topic_id),
        );
        for p in &t.partitions {
            let max_bytes = usize::try_from(p.partition_max_bytes).unwrap_or(0);
            wanted.push(Wanted {
                topic_index: topics.len() - 1,
                name: name.clone(),
                partition: p.partition,
                offset: p.fetch_offset,
                max_bytes,
                current_epoch: p.current_leader_epoch,
            });
        }
    }
    if replica >= 0 {
        record_follower(broker, &view, replica, &wanted);
    }
    let mut changed = broker.replicas.subscribe();
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let max_total = usize::try_from(req.max_bytes).unwrap_or(usize::MAX);
    loop {
        changed.borrow_and_update();
        let (datas, bytes) = read_all(broker, &view, &wanted, replica >= 0, max_total, version);
        let min_bytes = usize::try_from(req.min_bytes).unwrap_or(1);
        let done = bytes >= min_bytes || datas.iter().any(|d| d.error_code != errors::NONE);
        if done
            || tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
        {
            for (w, d) in wanted.iter().zip(datas) {
                topics[w.topic_index].partitions.push(d);
            }
            return FetchResponse::default().with_responses(topics);
        }
    }
}

/// Checks a replica's view of the leader epoch against the leader's (Kafka fences a fetch
/// from an older epoch and refuses one from a newer epoch it does not know yet).
fn epoch_error(leader_epoch: i32, current: i32) -> Option<i16> {
    match current {
        c if c < 0 || c == leader_epoch => None,
        c if c < leader_epoch => Some(errors::FENCED_LEADER_EPOCH),
        _ => Some(errors::UNKNOWN_LEADER_EPOCH),
    }
}

/// Records follower progress — only from fetches of the leader's current epoch, so that the
/// high watermark and ISR move only from positions in logs truncated against this leader.
fn record_follower(broker: &Arc<Broker>, view: &ClusterView, replica: i32, wanted: &[Wanted]) {
    for w in wanted {
        if let Some(name) = &w.name
            && let Some(p) = broker.replicas.get(name, w.partition)
            && p.leader_state()
                .is_some_and(|l| epoch_error(l.epoch, w.current_epoch).is_none())
        {
            broker
                .replicas
                .follower_fetched(&p, replica, w.offset, view);
        }
    }
}

fn read_all(
    broker: &Broker,
    view: &ClusterView,
    wanted: &[Wanted],
    follower: bool,
    max_total: usize,
    version: i16,
) -> (Vec<PartitionData>, usize) {
    let mut total = 0usize;
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let budget = if total == 0 {
            w.max_bytes
        } else {
            w.max_bytes.min(max_total.saturating_sub(total))
        };
        let data = read_one(broker, view, w, follower, budget, version);
        total += data.records.as_ref().map_or(0, Bytes::len);
        out.push(data);
    }
    (out, total)
}

fn read_one(
    broker: &Broker,
    view: &ClusterView,
    w: &Wanted,
    follower: bool,
    budget: usize,
    version: i16,
) -> PartitionData {
    let data = PartitionData::default()
        .with_partition_index(w.partition)
        .with_high_watermark(-1)
        .with_last_stable_offset(-1);
    let unknown = if version >= 13 {
        errors::UNKNOWN_TOPIC_ID
    } else {
        errors::UNKNOWN_TOPIC_OR_PARTITION
    };
    let Some(name) = &w.name else {
        return data.with_error_code(unknown);
    };
    if view.partition(name, w.partition).is_none() {
        return data.with_error_code(errors::UNKNOWN_TOPIC_OR_PARTITION);
    }
    let p = match broker.replicas.get(name, w.partition) {
        Some(p)
            if p.leader_state().is_some() && *broker.phase.borrow() != Phase::Recovering
                || follower && p.leader_state().is_some() =>
        {
            p
        }
        _ => return data.with_error_code(errors::NOT_LEADER_OR_FOLLOWER),
    };
    if follower
        && let Some(code) = p
            .leader_state()
            .and_then(|l| epoch_error(l.epoch, w.current_epoch))
    {
        return data.with_error_code(code);
    }
    let hw = p.hw();
    let data = data
        .with_high_watermark(hw)
        .with_last_stable_offset(hw)
        .with_log_start_offset(0);
    if budget == 0 {
        return data.with_records(Some(Bytes::new()));
    }
    match p.read(w.offset, budget, follower) {
        Ok(Ok(records)) => data.with_records(Some(records)),
        Ok(Err(())) => data.with_error_code(errors::OFFSET_OUT_OF_RANGE),
        Err(e) => {
            tracing::error!(target: "kafka.server.ReplicaManager", "Error reading {name}-{}: {e}.", w.partition);
            data.with_error_code(errors::KAFKA_STORAGE_ERROR)
        }
    }
}

/// ListOffsets: earliest (-2), latest (-1: the high watermark), max timestamp (-3) and by
/// timestamp (batch precision).
pub fn list_offsets(broker: &Broker, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| list_one(broker, &name, p.partition_index, p.timestamp, version))
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

fn list_one(
    broker: &Broker,
    topic: &str,
    index: i32,
    ts: i64,
    version: i16,
) -> ListOffsetsPartitionResponse {
    let out = ListOffsetsPartitionResponse::default()
        .with_partition_index(index)
        .with_timestamp(-1)
        .with_offset(-1);
    if broker.view().partition(topic, index).is_none() {
        return out.with_error_code(errors::UNKNOWN_TOPIC_OR_PARTITION);
    }
    let p = match broker.replicas.get(topic, index) {
        Some(p) if p.leader_state().is_some() && *broker.phase.borrow() != Phase::Recovering => p,
        _ => return out.with_error_code(errors::NOT_LEADER_OR_FOLLOWER),
    };
    let epoch = if version >= 4 {
        p.leader_state().map_or(-1, |l| l.epoch)
    } else {
        -1
    };
    let out = out.with_leader_epoch(epoch);
    match ts {
        -2 => out.with_offset(0),
        -1 => out.with_offset(p.hw()),
        -3 => match p.max_timestamp() {
            Some((offset, found)) if offset < p.hw() => {
                out.with_offset(offset).with_timestamp(found)
            }
            _ => out,
        },
        _ => match p.offset_for_timestamp(ts) {
            Some((offset, found)) if offset < p.hw() => {
                out.with_offset(offset).with_timestamp(found)
            }
            _ => out,
        },
    }
}

/// OffsetsForLeaderEpoch (KIP-101/279): for each partition this broker leads, the end offset of
/// the requested epoch in its log ([`crate::epoch::end_offset_for`]), after checking the
/// requester's view of the current leader epoch.
pub fn offsets_for_leader_epoch(
    broker: &Broker,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let recovering = *broker.phase.borrow() == Phase::Recovering;
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.topic.0.to_string();
            let partitions = t
                .partitions
                .into_iter()
                .map(|r| {
                    let out = EpochEndOffset::default()
                        .with_partition(r.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    let Some(p) = broker.replicas.get(&name, r.partition) else {
                        return out.with_error_code(errors::UNKNOWN_TOPIC_OR_PARTITION);
                    };
                    let Some(leader) = p.leader_state().filter(|_| !recovering) else {
                        return out.with_error_code(errors::NOT_LEADER_OR_FOLLOWER);
                    };
                    if let Some(code) = epoch_error(leader.epoch, r.current_leader_epoch) {
                        return out.with_error_code(code);
                    }
                    let (epoch, end) = p.lock_log().end_offset_for(r.leader_epoch);
                    out.with_leader_epoch(epoch).with_end_offset(end)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_fetches_are_fenced_by_leader_epoch() {
        for (leader, current, expected) in [
            (5, 5, None),
            (5, -1, None),
            (5, 4, Some(errors::FENCED_LEADER_EPOCH)),
            (5, 6, Some(errors::UNKNOWN_LEADER_EPOCH)),
        ] {
            assert_eq!(
                epoch_error(leader, current),
                expected,
                "{leader} vs {current}"
            );
        }
    }
}
