//! Follower truncation against a new leader (KIP-101/KIP-279): for every followed partition of a
//! new leader epoch (and every one after start-up), ask the leader with OffsetsForLeaderEpoch for
//! the end of the follower's latest epoch in the leader's log, cut there ([`epoch::truncation`]),
//! and ask again while the answer says the follower never saw the leader's epoch. Only then may
//! the fetcher fetch the partition.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::EpochEndOffset;
use kafka_protocol::messages::{
    BrokerId, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::api::errors;
use crate::codec::{BrokerConn, CallError};
use crate::epoch::{self, Truncation};
use crate::fetcher::{FetcherContext, PartitionSet, view_epoch};
use crate::metadata::ClusterView;
use crate::replica::Partition;

/// Rounds of "ask again" before the fetcher loop takes over (each round cuts further back).
const ROUNDS: usize = 8;

/// One partition to ask about: the replica, the leader epoch it follows, its own latest epoch.
struct Asked {
    p: Arc<Partition>,
    following: i32,
    latest: i32,
}

const TARGET: &str = "kafka.server.ReplicaFetcherThread";

/// Truncates every partition of `set` that waits for it; fails only when the call failed.
pub(crate) async fn run(
    ctx: &FetcherContext,
    view: &ClusterView,
    set: &PartitionSet,
    conn: &mut BrokerConn,
    prefix: &str,
) -> Result<(), CallError> {
    for _ in 0..ROUNDS {
        let asked = pending(ctx, view, set, prefix);
        if asked.is_empty() {
            return Ok(());
        }
        let response = conn
            .call(&request(&asked, ctx.replicas.broker_id), ctx.epoch_version)
            .await?;
        if !apply(&asked, response, prefix) {
            return Ok(());
        }
    }
    Ok(())
}

/// The partitions that follow the view's leader epoch and have not truncated against it. One
/// with nothing written in any epoch has nothing that could diverge: it is done at once.
fn pending(
    ctx: &FetcherContext,
    view: &ClusterView,
    set: &PartitionSet,
    prefix: &str,
) -> Vec<Asked> {
    let mut asked = Vec::new();
    for (topic, index) in set {
        let Some(p) = ctx.replicas.get(topic, *index) else {
            continue;
        };
        let f = p.follow();
        let Some(following) = f
            .epoch
            .filter(|e| !f.truncated && Some(*e) == view_epoch(view, topic, *index))
        else {
            continue;
        };
        let latest = p.lock_log().latest_epoch();
        match latest {
            Some(latest) => asked.push(Asked {
                p,
                following,
                latest,
            }),
            None => match p.truncate_to_hw() {
                Ok(()) => p.truncated_for(following),
                Err(e) => {
                    tracing::error!(target: TARGET, "{prefix} Truncating {topic}-{index} failed: {e}.")
                }
            },
        }
    }
    asked
}

/// OffsetsForLeaderEpoch for `asked`, carrying the followed epoch for fencing.
fn request(asked: &[Asked], broker_id: i32) -> OffsetForLeaderEpochRequest {
    let mut topics: BTreeMap<String, OffsetForLeaderTopic> = BTreeMap::new();
    for a in asked {
        let t = topics.entry(a.p.topic.clone()).or_insert_with(|| {
            let mut t = OffsetForLeaderTopic::default();
            t.topic = TopicName(StrBytes::from_string(a.p.topic.clone()));
            t
        });
        let mut part = OffsetForLeaderPartition::default();
        part.partition = a.p.index;
        part.current_leader_epoch = a.following;
        part.leader_epoch = a.latest;
        t.partitions.push(part);
    }
    let mut request = OffsetForLeaderEpochRequest::default();
    request.replica_id = BrokerId(broker_id);
    request.topics = topics.into_values().collect();
    request
}

/// Applies the leader's answers; true when some partition must ask again.
fn apply(asked: &[Asked], response: OffsetForLeaderEpochResponse, prefix: &str) -> bool {
    let mut again = false;
    for t in response.topics {
        for r in t.partitions {
            let found = asked
                .iter()
                .find(|a| a.p.topic == t.topic.0.as_str() && a.p.index == r.partition);
            if let Some(a) = found {
                again |= apply_one(a, &r, prefix);
            }
        }
    }
    again
}

/// Cuts one partition where the leader's answer says; true when it must ask again.
fn apply_one(a: &Asked, r: &EpochEndOffset, prefix: &str) -> bool {
    let p = &a.p;
    if r.error_code != errors::NONE {
        tracing::debug!(target: TARGET, "{prefix} OffsetsForLeaderEpoch for {}-{}: {}.", p.topic, p.index, errors::describe(r.error_code));
        return false;
    }
    let decision = {
        let log = p.lock_log();
        epoch::truncation(log.epochs(), log.leo(), r.leader_epoch, r.end_offset)
    };
    let (result, done) = match decision {
        Truncation::Done(offset) => (p.truncate_to(offset), true),
        Truncation::Again(offset) => (p.truncate_to(offset), false),
        Truncation::ToHighWatermark => (p.truncate_to_hw(), true),
    };
    match result {
        Err(e) => {
            tracing::error!(target: TARGET, "{prefix} Truncating {}-{} failed: {e}.", p.topic, p.index);
            false
        }
        Ok(()) if done => {
            tracing::info!(target: TARGET, "{prefix} Truncated {}-{} to {} against leader epoch {} (leader's end of epoch {}: {}).", p.topic, p.index, p.leo(), a.following, r.leader_epoch, r.end_offset);
            p.truncated_for(a.following);
            false
        }
        Ok(()) => true,
    }
}
