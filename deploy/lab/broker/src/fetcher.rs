//! Follower side of replication: one fetcher task per leader broker, sending Kafka's own Fetch
//! request over the inter-broker listener at the version the IBP implies. Before it fetches a
//! partition of a new leader epoch (and after start-up) it truncates its log against the leader
//! with OffsetsForLeaderEpoch (KIP-101/KIP-279), so that what it copies continues the leader's
//! log exactly; fetches carry the follower's leader epoch, which the leader checks. Like Kafka's follower
//! replication throttle, only partitions where this broker is *not* in the ISR are throttled
//! (`LAB_REPLICA_FETCH_BYTES_PER_SEC`), so catching up takes time proportional to what was missed
//! while in-sync followers keep up with producers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::errors;
use crate::codec::BrokerConn;
use crate::jaas::Password;
use crate::metadata::ClusterView;
use crate::replica::{Partition, ReplicaManager};
use crate::truncation;

/// `replica.fetch.backoff.ms`.
const BACKOFF: Duration = Duration::from_millis(1000);
/// `replica.fetch.max.bytes`.
const REPLICA_FETCH_MAX_BYTES: i32 = 1_048_576;
/// `replica.fetch.response.max.bytes`.
const REPLICA_FETCH_RESPONSE_MAX_BYTES: i32 = 10_485_760;

/// Shared byte-rate limit of all fetchers of this broker.
#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: u64,
    next_free: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Throttle {
    /// A limit of `bytes_per_sec`.
    pub fn new(bytes_per_sec: u64) -> Self {
        Self {
            bytes_per_sec,
            next_free: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Bytes one fetch may ask for (a quarter second's worth, at least 1 KiB).
    pub fn budget(&self) -> i32 {
        (self.bytes_per_sec / 4).clamp(1024, 10 << 20) as i32
    }

    /// Accounts for `bytes` received, sleeping as long as the rate requires.
    pub async fn consume(&self, bytes: u64) {
        let cost = Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec as f64);
        let until = {
            let mut next = self.next_free.lock().await;
            let now = tokio::time::Instant::now();
            *next = (*next).max(now) + cost;
            *next
        };
        tokio::time::sleep_until(until).await;
    }
}

/// What a fetcher needs besides its partitions.
#[derive(Debug, Clone)]
pub struct FetcherContext {
    /// Replicas.
    pub replicas: Arc<ReplicaManager>,
    /// Metadata.
    pub view: watch::Receiver<Arc<ClusterView>>,
    /// Inter-broker listener name.
    pub listener: String,
    /// Fetch request version (from the IBP).
    pub fetch_version: i16,
    /// OffsetsForLeaderEpoch request version (from the IBP).
    pub epoch_version: i16,
    /// Broker epoch (for Fetch v15+).
    pub broker_epoch: i64,
    /// Rate limit.
    pub throttle: Arc<Throttle>,
    /// SASL/PLAIN login on the inter-broker listener, when it is SASL_PLAINTEXT.
    pub login: Option<(String, Password)>,
}

pub(crate) type PartitionSet = BTreeSet<(String, i32)>;
type Fetchers = HashMap<i32, (watch::Sender<PartitionSet>, JoinHandle<()>)>;

/// The set of fetcher tasks, one per leader.
#[derive(Debug, Default)]
pub struct FetcherManager {
    fetchers: Mutex<Fetchers>,
}

impl FetcherManager {
    /// Starts, updates or stops fetchers so that every followed partition is fetched from its leader.
    /// With `active == false` (log recovery, shutdown) every fetcher stops.
    pub fn apply(&self, ctx: &FetcherContext, view: &ClusterView, active: bool) {
        let me = ctx.replicas.broker_id;
        let mut wanted: BTreeMap<i32, PartitionSet> = BTreeMap::new();
        if active {
            for (topic, index, meta) in view.hosted_by(me) {
                if let Some(state) = &meta.state
                    && state.leader >= 0
                    && state.leader != me
                    && view.is_live(state.leader)
                {
                    wanted
                        .entry(state.leader)
                        .or_default()
                        .insert((topic.clone(), index));
                }
            }
        }
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        fetchers.retain(|leader, (_, task)| {
            let keep = wanted.contains_key(leader) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for (leader, parts) in wanted {
            match fetchers.get(&leader) {
                Some((tx, _)) => {
                    tx.send_if_modified(|current| {
                        let changed = *current != parts;
                        *current = parts.clone();
                        changed
                    });
                }
                None => {
                    let (tx, rx) = watch::channel(parts);
                    let task = tokio::spawn(run_fetcher(ctx.clone(), leader, rx));
                    fetchers.insert(leader, (tx, task));
                }
            }
        }
    }

    /// Stops every fetcher.
    pub fn stop_all(&self) {
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        for (_, (_, task)) in fetchers.drain() {
            task.abort();
        }
    }
}

async fn run_fetcher(ctx: FetcherContext, leader: i32, parts: watch::Receiver<PartitionSet>) {
    let me = ctx.replicas.broker_id;
    let prefix = format!("[ReplicaFetcher replicaId={me}, leaderId={leader}, fetcherId=0]");
    tracing::info!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Starting.");
    let mut conn: Option<BrokerConn> = None;
    loop {
        let view = ctx.view.borrow().clone();
        let set = parts.borrow().clone();
        if conn.is_none() {
            conn = connect(&ctx, &view, leader, &prefix).await;
            if conn.is_none() {
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = truncation::run(&ctx, &view, &set, c, &prefix).await {
            tracing::warn!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Error in response for OffsetsForLeaderEpoch (version {}): {e}.", ctx.epoch_version);
            conn = None;
            tokio::time::sleep(BACKOFF).await;
            continue;
        }
        let request = build_request(&ctx, &view, &set);
        if request.topics.is_empty() {
            // Every partition still waits for its truncation (its leader not ready yet).
            tokio::time::sleep(BACKOFF / 4).await;
            continue;
        }
        match c.call(&request, ctx.fetch_version).await {
            Ok(response) => {
                if !handle_response(&ctx, &view, response, &prefix).await {
                    tokio::time::sleep(BACKOFF).await;
                }
            }
            Err(e) => {
                tracing::warn!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Error in response for fetch request (version {}): {e}.", ctx.fetch_version);
                conn = None;
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}

async fn connect(
    ctx: &FetcherContext,
    view: &ClusterView,
    leader: i32,
    prefix: &str,
) -> Option<BrokerConn> {
    let (host, port) = view.brokers.get(&leader)?.reg.endpoint(&ctx.listener)?;
    match BrokerConn::connect(
        &host,
        port,
        format!("broker-{}-fetcher-0", ctx.replicas.broker_id),
    )
    .await
    {
        Ok(mut conn) => {
            let Some((user, password)) = &ctx.login else {
                return Some(conn);
            };
            match crate::sasl::client_login(&mut conn, user, password).await {
                Ok(()) => Some(conn),
                Err(e) => {
                    tracing::warn!(target: "kafka.server.ReplicaFetcherThread", "{prefix} SASL authentication with node {leader} ({host}:{port}) on listener {} failed: {e}.", ctx.listener);
                    None
                }
            }
        }
        Err(e) => {
            tracing::warn!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Connection to node {leader} ({host}:{port}) could not be established: {e}.");
            None
        }
    }
}

/// The leader epoch of `topic-index` in `view`.
pub(crate) fn view_epoch(view: &ClusterView, topic: &str, index: i32) -> Option<i32> {
    view.partition(topic, index)
        .and_then(|m| m.state.as_ref())
        .map(|s| s.leader_epoch)
}

/// Whether `p` may fetch: it follows the view's leader epoch and truncated against it.
fn ready(p: &Partition, epoch: Option<i32>) -> bool {
    let f = p.follow();
    f.truncated && f.epoch.is_some() && f.epoch == epoch
}

fn build_request(ctx: &FetcherContext, view: &ClusterView, set: &PartitionSet) -> FetchRequest {
    let me = ctx.replicas.broker_id;
    let budget = ctx.throttle.budget();
    let mut topics: BTreeMap<&str, FetchTopic> = BTreeMap::new();
    for (topic, index) in set {
        let (Some(p), Some(meta)) = (ctx.replicas.get(topic, *index), view.topics.get(topic))
        else {
            continue;
        };
        let Some(epoch) = view_epoch(view, topic, *index).filter(|e| ready(&p, Some(*e))) else {
            continue;
        };
        let entry = topics.entry(topic.as_str()).or_insert_with(|| {
            let mut t = FetchTopic::default();
            t.topic = TopicName(StrBytes::from_string(topic.clone()));
            t.topic_id = meta.id;
            t
        });
        let in_sync = meta
            .partitions
            .get(index)
            .and_then(|m| m.state.as_ref())
            .is_some_and(|s| s.isr.contains(&me));
        let mut fp = FetchPartition::default();
        fp.partition = *index;
        fp.current_leader_epoch = epoch;
        let (leo, last_epoch) = {
            let log = p.lock_log();
            (log.leo(), log.latest_epoch().unwrap_or(-1))
        };
        fp.fetch_offset = leo;
        fp.last_fetched_epoch = last_epoch;
        fp.log_start_offset = 0;
        fp.partition_max_bytes = if in_sync {
            REPLICA_FETCH_MAX_BYTES
        } else {
            budget
        };
        entry.partitions.push(fp);
    }
    let mut request = FetchRequest::default();
    if ctx.fetch_version >= 15 {
        let mut state = ReplicaState::default();
        state.replica_id = BrokerId(me);
        state.replica_epoch = ctx.broker_epoch;
        request.replica_state = state;
    } else {
        request.replica_id = BrokerId(me);
    }
    request.max_wait_ms = 500;
    request.min_bytes = 1;
    request.max_bytes = REPLICA_FETCH_RESPONSE_MAX_BYTES;
    request.session_epoch = -1;
    request.topics = topics.into_values().collect();
    request
}

/// Applies a fetch response; false when the whole response failed.
async fn handle_response(
    ctx: &FetcherContext,
    view: &ClusterView,
    response: FetchResponse,
    prefix: &str,
) -> bool {
    if response.error_code != errors::NONE {
        tracing::warn!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Error in response for fetch request (version {}): {}.", ctx.fetch_version, errors::describe(response.error_code));
        return false;
    }
    let mut total = 0u64;
    for topic in response.responses {
        let name = if ctx.fetch_version >= 13 {
            view.topic_by_id(&topic.topic_id).map(|(n, _)| n.clone())
        } else {
            Some(topic.topic.0.to_string())
        };
        let Some(name) = name else { continue };
        for data in topic.partitions {
            let Some(p) = ctx.replicas.get(&name, data.partition_index) else {
                continue;
            };
            let me = ctx.replicas.broker_id;
            let state = view
                .partition(&name, data.partition_index)
                .and_then(|m| m.state.as_ref());
            let throttled = !state.is_some_and(|s| s.isr.contains(&me));
            match data.error_code {
                errors::NONE => {
                    let records = data.records.unwrap_or_default();
                    match p.append_fetched(&records, data.high_watermark) {
                        Ok(n) if throttled => total += n,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Error appending to {name}-{}: {e}.", data.partition_index)
                        }
                    }
                }
                errors::OFFSET_OUT_OF_RANGE => {
                    tracing::warn!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Offset out of range for {name}-{}; truncating against the leader again.", data.partition_index);
                    p.retruncate();
                }
                code => {
                    tracing::debug!(target: "kafka.server.ReplicaFetcherThread", "{prefix} Error for partition {name}-{}: {}.", data.partition_index, errors::describe(code))
                }
            }
        }
    }
    if total > 0 {
        ctx.throttle.consume(total).await;
    }
    true
}
