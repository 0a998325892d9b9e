//! Partitions hosted by this broker: leader-side high watermark and ISR management (expand when
//! a follower reaches the high watermark, shrink when it has not caught up for
//! `replica.lag.time.max.ms`), written to the partition's state znode like pre-2.7 Kafka leaders did.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use crate::error::BrokerError;
use crate::log::{Log, RecordError};
use crate::metadata::ClusterView;
pub use crate::partition::Partition;
use crate::storage::Storage;
use crate::zk::{self, PartitionState, Zk};

/// Follower progress as seen by the leader.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// The follower's log end offset (its last fetch offset).
    pub leo: i64,
    /// Last time the follower had caught up with the leader's log end.
    pub last_caught_up: Instant,
    /// The leader's log end offset when the follower last fetched, and when that was.
    pub last_fetch_leader_leo: i64,
    pub last_fetch_at: Option<Instant>,
}

impl Progress {
    /// A follower when this broker becomes leader at `now` with its log ending at
    /// `leader_leo`: caught up as of `caught_up`, and its "previous fetch" taken as now
    /// (Kafka 3.1's `resetLastCaughtUpTime`), so a first fetch of at least the leader's end then
    /// counts it caught up as of now.
    pub fn new(caught_up: Instant, leader_leo: i64, now: Instant) -> Self {
        Progress {
            leo: -1,
            last_caught_up: caught_up,
            last_fetch_leader_leo: leader_leo,
            last_fetch_at: Some(now),
        }
    }

    /// A fetch at `fetch_offset` while the leader's log ends at `leader_leo`, as Kafka's
    /// `ReplicaState.updateFetchState` counts it: the follower is caught up now if it asks for
    /// the leader's end, and caught up *as of its previous fetch* if it asks for at least where
    /// the leader's log ended then. Without the second rule a follower that keeps pace with a
    /// leader written to between its fetches is never "caught up" and leaves the ISR every
    /// `replica.lag.time.max.ms`.
    pub fn fetched(&mut self, fetch_offset: i64, leader_leo: i64, now: Instant) {
        if fetch_offset >= leader_leo {
            self.last_caught_up = self.last_caught_up.max(now);
        } else if let Some(at) = self.last_fetch_at
            && fetch_offset >= self.last_fetch_leader_leo
        {
            self.last_caught_up = self.last_caught_up.max(at);
        }
        self.leo = fetch_offset;
        self.last_fetch_leader_leo = leader_leo;
        self.last_fetch_at = Some(now);
    }
}

/// State kept while this broker leads a partition.
#[derive(Debug, Clone)]
pub struct LeaderState {
    /// Leader epoch.
    pub epoch: i32,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Version of the state znode.
    pub zk_version: i32,
    /// Controller epoch written in the state.
    pub controller_epoch: i32,
    /// Followers' progress.
    pub followers: HashMap<i32, Progress>,
    /// An ISR write is under way.
    pub isr_in_flight: bool,
}

/// Why a produce was refused (Kafka error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// NOT_LEADER_OR_FOLLOWER.
    NotLeader,
    /// NOT_ENOUGH_REPLICAS.
    NotEnoughReplicas,
    /// Bad records.
    Records(i16),
    /// KAFKA_STORAGE_ERROR.
    Storage,
}

impl AppendError {
    /// The Kafka error code.
    pub fn code(self) -> i16 {
        match self {
            Self::NotLeader => crate::api::errors::NOT_LEADER_OR_FOLLOWER,
            Self::NotEnoughReplicas => crate::api::errors::NOT_ENOUGH_REPLICAS,
            Self::Records(code) => code,
            Self::Storage => crate::api::errors::KAFKA_STORAGE_ERROR,
        }
    }
}

/// All partition replicas of this broker.
#[derive(Debug)]
pub struct ReplicaManager {
    /// This broker.
    pub broker_id: i32,
    storage: Storage,
    zk: Zk,
    partitions: RwLock<HashMap<(String, i32), Arc<Partition>>>,
    changed: watch::Sender<u64>,
    lag_max: Duration,
    max_batch: usize,
}

impl ReplicaManager {
    /// Opens every partition log found in the storage.
    pub fn open(
        broker_id: i32,
        storage: Storage,
        zk: Zk,
        lag_max: Duration,
        max_batch: usize,
    ) -> Result<Arc<Self>, BrokerError> {
        let hws = storage.read_hw();
        let mut partitions = HashMap::new();
        for (topic, index) in storage.partitions()? {
            let log = Log::open(&storage.partition_dir(&topic, index))?;
            let hw = hws
                .get(&(topic.clone(), index))
                .copied()
                .unwrap_or(0)
                .min(log.leo());
            let p = Partition::new(&topic, index, log, hw);
            partitions.insert((topic, index), Arc::new(p));
        }
        let (changed, _) = watch::channel(0);
        Ok(Arc::new(Self {
            broker_id,
            storage,
            zk,
            partitions: RwLock::new(partitions),
            changed,
            lag_max,
            max_batch,
        }))
    }

    /// A partition replica, if hosted here.
    pub fn get(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(topic.to_string(), index))
            .cloned()
    }

    /// Every partition replica.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn get_or_create(&self, topic: &str, index: i32) -> Result<Arc<Partition>, BrokerError> {
        if let Some(p) = self.get(topic, index) {
            return Ok(p);
        }
        let log = Log::open(&self.storage.partition_dir(topic, index))?;
        let p = Arc::new(Partition::new(topic, index, log, 0));
        self.partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((topic.into(), index), p.clone());
        Ok(p)
    }

    /// Subscribes to "something was appended or a high watermark moved".
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Follows the metadata: becomes leader or follower of each hosted partition. A follower of
    /// a new leader epoch (and every follower after start-up) truncates against the leader
    /// before it fetches (the fetcher does, through OffsetsForLeaderEpoch); a new leader starts
    /// its epoch at its log end.
    pub fn apply_view(&self, view: &ClusterView) -> Result<(), BrokerError> {
        for (topic, index, meta) in view.hosted_by(self.broker_id) {
            let p = self.get_or_create(topic, index)?;
            let Some(state) = &meta.state else { continue };
            let mut leader = p.lock_leader();
            if state.leader != self.broker_id {
                let was_leader = leader.take().is_some();
                drop(leader);
                if state.leader >= 0 {
                    p.set_follow(Some(state.leader_epoch));
                }
                if was_leader {
                    tracing::info!(target: "kafka.cluster.Partition", "[Partition {topic}-{index} broker={}] Became follower (leader {} epoch {}).", self.broker_id, state.leader, state.leader_epoch);
                }
                continue;
            }
            p.set_follow(None);
            match leader.as_mut() {
                Some(ls) if ls.epoch == state.leader_epoch => {
                    if meta.zk_version > ls.zk_version {
                        ls.isr.clone_from(&state.isr);
                        ls.zk_version = meta.zk_version;
                    }
                }
                _ => {
                    let now = Instant::now();
                    let stale = now.checked_sub(self.lag_max * 2).unwrap_or(now);
                    let leader_leo = p.leo();
                    let followers = meta
                        .replicas
                        .iter()
                        .filter(|r| **r != self.broker_id)
                        .map(|r| {
                            (
                                *r,
                                Progress::new(
                                    if state.isr.contains(r) { now } else { stale },
                                    leader_leo,
                                    now,
                                ),
                            )
                        })
                        .collect();
                    p.lock_log().assign_epoch(state.leader_epoch)?;
                    *leader = Some(LeaderState {
                        epoch: state.leader_epoch,
                        isr: state.isr.clone(),
                        zk_version: meta.zk_version,
                        controller_epoch: state.controller_epoch,
                        followers,
                        isr_in_flight: false,
                    });
                    tracing::info!(target: "kafka.cluster.Partition", "[Partition {topic}-{index} broker={}] Became leader at epoch {} with ISR {:?}, high watermark {}.", self.broker_id, state.leader_epoch, state.isr, p.hw());
                }
            }
            drop(leader);
            self.advance_hw(&p);
        }
        Ok(())
    }

    /// Leader append. `min_isr` is checked for `acks=all`. Returns (first offset, last offset)
    /// — of the earlier append when the batch is an idempotent producer's retry.
    pub fn append(
        &self,
        p: &Partition,
        records: &[u8],
        acks_all: bool,
        min_isr: usize,
    ) -> Result<(i64, i64), AppendError> {
        let leader = p.lock_leader();
        let Some(ls) = leader.as_ref() else {
            return Err(AppendError::NotLeader);
        };
        if acks_all && ls.isr.len() < min_isr {
            return Err(AppendError::NotEnoughReplicas);
        }
        let result = p
            .lock_log()
            .append_as_leader(records, ls.epoch, self.max_batch);
        drop(leader);
        let offsets = match result {
            Ok(Ok(a)) if a.duplicate => return Ok((a.first, a.last)),
            Ok(Ok(a)) => (a.first, a.last),
            Ok(Err(RecordError::Producer(code))) => return Err(AppendError::Records(code)),
            Ok(Err(RecordError::TooLarge(_))) => {
                return Err(AppendError::Records(crate::api::errors::MESSAGE_TOO_LARGE));
            }
            Ok(Err(_)) => return Err(AppendError::Records(crate::api::errors::CORRUPT_MESSAGE)),
            Err(e) => {
                tracing::error!(target: "kafka.log.UnifiedLog", "Error appending to {}-{}: {e}.", p.topic, p.index);
                return Err(AppendError::Storage);
            }
        };
        self.advance_hw(p);
        self.bump();
        Ok(offsets)
    }

    /// Recomputes the leader's high watermark (min log end offset of the ISR).
    fn advance_hw(&self, p: &Partition) {
        let leader = p.lock_leader();
        let Some(ls) = leader.as_ref() else { return };
        let mut hw = p.leo();
        for r in ls.isr.iter().filter(|r| **r != self.broker_id) {
            hw = hw.min(ls.followers.get(r).map_or(-1, |f| f.leo));
        }
        if hw > p.hw() {
            p.hw.store(hw, Ordering::SeqCst);
            drop(leader);
            self.bump();
        }
    }

    /// Leader side of a follower fetch (of the leader's current epoch): records progress, moves
    /// the high watermark and expands the ISR when the follower has reached both the high
    /// watermark and the start of the leader's epoch (KAFKA-7128: a follower below the epoch
    /// start may lack records the previous leader committed).
    pub fn follower_fetched(
        self: &Arc<Self>,
        p: &Arc<Partition>,
        replica: i32,
        fetch_offset: i64,
        view: &ClusterView,
    ) {
        let (leo, epoch_start) = {
            let leader = p.lock_leader();
            let epoch = leader.as_ref().map_or(-1, |l| l.epoch);
            let log = p.lock_log();
            (log.leo(), log.epoch_start(epoch).unwrap_or(0))
        };
        let expand = {
            let mut leader = p.lock_leader();
            let Some(ls) = leader.as_mut() else { return };
            let Some(progress) = ls.followers.get_mut(&replica) else {
                return;
            };
            progress.fetched(fetch_offset, leo, Instant::now());
            let eligible = view.is_live(replica) && !view.shutting_down.contains(&replica);
            let reached = fetch_offset >= p.hw() && fetch_offset >= epoch_start;
            if !ls.isr.contains(&replica) && reached && eligible && !ls.isr_in_flight {
                ls.isr_in_flight = true;
                let mut isr = ls.isr.clone();
                isr.push(replica);
                Some((ls.clone(), isr))
            } else {
                None
            }
        };
        self.advance_hw(p);
        if let Some((ls, isr)) = expand {
            let this = self.clone();
            let p = p.clone();
            tokio::spawn(async move { this.write_isr(&p, ls, isr, "isr_expand").await });
        }
    }

    /// Shrinks the ISR of led partitions whose followers have not caught up for `replica.lag.time.max.ms`.
    pub async fn shrink_lagging(self: &Arc<Self>) {
        for p in self.all() {
            let shrink = {
                let mut leader = p.lock_leader();
                let Some(ls) = leader.as_mut() else { continue };
                let lagging: Vec<i32> = ls
                    .isr
                    .iter()
                    .filter(|r| **r != self.broker_id)
                    .filter(|r| {
                        ls.followers
                            .get(r)
                            .is_some_and(|f| f.last_caught_up.elapsed() > self.lag_max)
                    })
                    .copied()
                    .collect();
                if lagging.is_empty() || ls.isr_in_flight {
                    None
                } else {
                    ls.isr_in_flight = true;
                    Some((
                        ls.clone(),
                        ls.isr
                            .iter()
                            .filter(|r| !lagging.contains(r))
                            .copied()
                            .collect::<Vec<_>>(),
                    ))
                }
            };
            if let Some((ls, isr)) = shrink {
                self.write_isr(&p, ls, isr, "isr_shrink").await;
            }
        }
    }

    async fn write_isr(&self, p: &Partition, ls: LeaderState, isr: Vec<i32>, event: &str) {
        let state = PartitionState {
            controller_epoch: ls.controller_epoch,
            leader: self.broker_id,
            version: 1,
            leader_epoch: ls.epoch,
            isr: isr.clone(),
        };
        let body = serde_json::to_vec(&state).unwrap_or_default();
        let written = self
            .zk
            .set(
                &zk::state_path(&p.topic, p.index),
                &body,
                Some(ls.zk_version),
            )
            .await;
        let mut leader = p.lock_leader();
        let Some(current) = leader.as_mut() else {
            return;
        };
        current.isr_in_flight = false;
        match written {
            Ok(Some(stat)) if current.epoch == ls.epoch => {
                tracing::info!(target: "kafka.cluster.Partition", "[Partition {}-{} broker={}] ISR updated from {:?} to {:?} and version updated to {}.", p.topic, p.index, self.broker_id, ls.isr, isr, stat.version);
                current.isr.clone_from(&isr);
                current.zk_version = stat.version;
                crate::logging::event(
                    event,
                    self.broker_id,
                    json!({"topic": p.topic, "partition": p.index, "isr": isr, "old_isr": ls.isr}),
                );
            }
            Ok(_) => {
                tracing::info!(target: "kafka.cluster.Partition", "[Partition {}-{} broker={}] Cached zkVersion {} not equal to that in zookeeper, skip updating ISR.", p.topic, p.index, self.broker_id, ls.zk_version)
            }
            Err(e) => {
                tracing::warn!(target: "kafka.cluster.Partition", "[Partition {}-{} broker={}] Failed to update ISR: {e}.", p.topic, p.index, self.broker_id)
            }
        }
        drop(leader);
        self.advance_hw(p);
    }

    /// Waits until the high watermark passes `offset`; false on timeout.
    pub async fn wait_for_hw(&self, p: &Partition, offset: i64, timeout: Duration) -> bool {
        let mut changed = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if p.hw() > offset {
                return true;
            }
            if p.leader_state().is_none() {
                return false;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return p.hw() > offset;
            }
        }
    }

    /// Writes the high-watermark checkpoint.
    pub fn checkpoint(&self) -> Result<(), BrokerError> {
        let hws: BTreeMap<(String, i32), i64> = self
            .all()
            .iter()
            .map(|p| ((p.topic.clone(), p.index), p.hw()))
            .collect();
        self.storage.write_hw(&hws)
    }

    /// Flushes every log and checkpoints high watermarks.
    pub fn flush_all(&self) -> Result<(), BrokerError> {
        for p in self.all() {
            p.flush()?;
        }
        self.checkpoint()
    }
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    /// Fetches of a follower (at ms, fetch offset, the leader's log end then) and when the
    /// leader last counts it caught up (ms since the start), as Kafka's `Replica` would.
    #[test]
    fn a_follower_is_caught_up_as_of_its_previous_fetch_when_it_reaches_where_the_leader_was() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        /// (at ms, fetch offset, the leader's log end then)
        type Fetch = (u64, i64, i64);
        let table: &[(&str, &[Fetch], u64)] = &[
            ("never fetched", &[], 0),
            ("asks for the leader's end", &[(100, 50, 50)], 100),
            (
                "keeps pace while the leader is written between fetches",
                &[(100, 40, 50), (200, 50, 60), (300, 60, 70), (400, 70, 80)],
                300,
            ),
            (
                "falls behind: never reaches where the leader was",
                &[(100, 40, 50), (200, 45, 60), (300, 55, 70), (400, 65, 80)],
                0,
            ),
            (
                "catches up once, then falls behind",
                &[(100, 50, 50), (200, 50, 60), (300, 55, 70), (400, 58, 80)],
                100,
            ),
        ];
        for (case, fetches, want) in table {
            // Leader since t0 with 45 records: the first fetch counts from there.
            let mut p = Progress::new(t0, 45, t0);
            for &(ms, offset, leader_leo) in *fetches {
                p.fetched(offset, leader_leo, at(ms));
            }
            assert_eq!(
                p.last_caught_up.duration_since(t0),
                Duration::from_millis(*want),
                "{case}"
            );
            if let Some(&(_, offset, _)) = fetches.last() {
                assert_eq!(p.leo, offset, "{case}");
            }
        }
    }
}
