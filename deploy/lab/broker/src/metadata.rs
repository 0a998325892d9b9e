//! The broker's metadata cache: a copy of the cluster as ZooKeeper describes it. Real Kafka
//! brokers learn this from the controller's UpdateMetadata/LeaderAndIsr requests; lab brokers
//! read ZooKeeper themselves.
//!
//! The copy is incremental: persistent recursive watches on `WATCHED` name the znodes that
//! changed (a partition's state, a topic, the brokers, the controller, shutdowns) and only those
//! are read again (`apply`). As a backstop, the list of registered brokers, the controller and
//! the shutdowns are re-read every refresh period (three requests), everything every
//! `FULL_RELOAD_EVERY` periods (at a random phase per broker) and after every reconnection of the
//! session (events of the disconnection are lost; [`crate::zk::RecursiveWatch`] registers the
//! watches again first). Re-reading every partition of every topic on each event and every
//! period made 18 lab brokers saturate a 3-server ZooKeeper ensemble at 3,000 partitions.
//!
//! Layout: the view types ([`ClusterView`] …), [`load`] (everything), `change_of` / `apply`
//! (what an event names), [`spawn_cache`] / `round` / `follow` (the loop), tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::watch;
use uuid::Uuid;
use zookeeper_client::EventType;

use crate::error::BrokerError;
use crate::zk::{
    self, BrokerRegistration, ConfigNode, ControllerNode, PartitionState, TopicNode, Zk,
};

/// A registered (live) broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBroker {
    /// Its registration.
    pub reg: BrokerRegistration,
    /// Broker epoch: czxid of its registration.
    pub epoch: i64,
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMeta {
    /// Assigned replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// Leader and ISR, once the controller initialised it.
    pub state: Option<PartitionState>,
    /// ZooKeeper version of the state znode (for conditional updates).
    pub zk_version: i32,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    /// Topic id.
    pub id: Uuid,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionMeta>,
    /// Topic config overrides (`/config/topics/<t>`).
    pub config: BTreeMap<String, String>,
}

/// Snapshot of cluster metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterView {
    /// Registered brokers.
    pub brokers: BTreeMap<i32, LiveBroker>,
    /// Current controller.
    pub controller: Option<i32>,
    /// Brokers in controlled shutdown.
    pub shutting_down: BTreeSet<i32>,
    /// Topics.
    pub topics: BTreeMap<String, TopicMeta>,
}

impl ClusterView {
    /// Whether a broker is registered.
    pub fn is_live(&self, id: i32) -> bool {
        self.brokers.contains_key(&id)
    }

    /// A topic by id.
    pub fn topic_by_id(&self, id: &Uuid) -> Option<(&String, &TopicMeta)> {
        self.topics.iter().find(|(_, t)| &t.id == id)
    }

    /// A partition.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMeta> {
        self.topics.get(topic)?.partitions.get(&partition)
    }

    /// Every partition with a replica on `broker`.
    pub fn hosted_by(&self, broker: i32) -> impl Iterator<Item = (&String, i32, &PartitionMeta)> {
        self.topics
            .iter()
            .flat_map(|(t, meta)| meta.partitions.iter().map(move |(p, pm)| (t, *p, pm)))
            .filter(move |(_, _, pm)| pm.replicas.contains(&broker))
    }
}

/// Loads a full snapshot.
pub async fn load(zk: &Zk) -> Result<ClusterView, BrokerError> {
    let brokers = load_brokers(zk).await?;
    let controller = zk
        .get_json::<ControllerNode>("/controller")
        .await?
        .map(|(c, _)| c.brokerid);
    let shutting_down = load_shutting_down(zk).await?;
    let names = zk.children("/brokers/topics").await?;
    let topics = join_all(names.iter().map(|name| load_topic(zk, name))).await;
    let mut view = ClusterView {
        brokers,
        controller,
        shutting_down,
        topics: BTreeMap::new(),
    };
    for (name, topic) in names.into_iter().zip(topics) {
        if let Some(topic) = topic? {
            view.topics.insert(name, topic);
        }
    }
    Ok(view)
}

async fn load_topic(zk: &Zk, name: &str) -> Result<Option<TopicMeta>, BrokerError> {
    let Some((node, _)) = zk.get_json::<TopicNode>(&zk::topic_path(name)).await? else {
        return Ok(None);
    };
    let id = node
        .topic_id
        .as_deref()
        .and_then(zk::base64_url_decode)
        .and_then(|b| Uuid::from_slice(&b).ok())
        .unwrap_or_else(Uuid::nil);
    let config = zk
        .get_json::<ConfigNode>(&format!("/config/topics/{name}"))
        .await?
        .map(|(c, _)| c.config)
        .unwrap_or_default();
    let parts: Vec<(i32, Vec<i32>)> = node
        .partitions
        .into_iter()
        .filter_map(|(p, r)| Some((p.parse().ok()?, r)))
        .collect();
    let states = join_all(parts.iter().map(|(p, _)| async move {
        zk.get_json::<PartitionState>(&zk::state_path(name, *p))
            .await
    }))
    .await;
    let mut partitions = BTreeMap::new();
    for ((p, replicas), state) in parts.into_iter().zip(states) {
        let state = state?;
        let zk_version = state.as_ref().map_or(-1, |(_, stat)| stat.version);
        partitions.insert(
            p,
            PartitionMeta {
                replicas,
                state: state.map(|(s, _)| s),
                zk_version,
            },
        );
    }
    Ok(Some(TopicMeta {
        id,
        partitions,
        config,
    }))
}

/// What a watch event says to read again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    /// `/brokers/ids` (and the light re-read): which brokers are registered. Only the
    /// registrations of ids the view lacks are read; the others change through `Broker`.
    Brokers,
    /// `/brokers/ids/<id>`: that broker's registration (new, gone, or made anew: a new epoch).
    Broker(i32),
    /// `/controller`.
    Controller,
    /// `/lab/controlled_shutdown…`.
    ShuttingDown,
    /// `/brokers/topics/<t>` (created, changed, deleted): the whole topic.
    Topic(String),
    /// `/brokers/topics/<t>/partitions/<p>/state`: one partition's leader and ISR.
    State(String, i32),
    /// `/config/topics/<t>`: a topic's config overrides.
    Config(String),
}

/// The change a watch event's path is about; `None` for znodes the view does not hold
/// (`/brokers/seqid`, `…/partitions`, `…/partitions/<p>`, other `/lab` nodes).
fn change_of(path: &str) -> Option<Change> {
    if path == "/controller" {
        return Some(Change::Controller);
    }
    if let Some(id) = path.strip_prefix("/brokers/ids/") {
        return Some(id.parse().map_or(Change::Brokers, Change::Broker));
    }
    if path == "/brokers/ids" {
        return Some(Change::Brokers);
    }
    if path == "/lab/controlled_shutdown" || path.starts_with("/lab/controlled_shutdown/") {
        return Some(Change::ShuttingDown);
    }
    if let Some(t) = path.strip_prefix("/config/topics/") {
        return (!t.is_empty() && !t.contains('/')).then(|| Change::Config(t.to_owned()));
    }
    let parts: Vec<&str> = path.strip_prefix("/brokers/topics/")?.split('/').collect();
    match parts.as_slice() {
        [t] if !t.is_empty() => Some(Change::Topic((*t).to_owned())),
        [t, "partitions", p, "state"] => p.parse().ok().map(|p| Change::State((*t).to_owned(), p)),
        _ => None,
    }
}

async fn load_brokers(zk: &Zk) -> Result<BTreeMap<i32, LiveBroker>, BrokerError> {
    let mut brokers = BTreeMap::new();
    refresh_brokers(zk, &mut brokers).await?;
    Ok(brokers)
}

/// Brings `brokers` to the registered ids, reading the registrations of the ids it lacks.
async fn refresh_brokers(
    zk: &Zk,
    brokers: &mut BTreeMap<i32, LiveBroker>,
) -> Result<(), BrokerError> {
    let ids: BTreeSet<i32> = zk
        .children("/brokers/ids")
        .await?
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    brokers.retain(|id, _| ids.contains(id));
    let missing: Vec<i32> = ids
        .into_iter()
        .filter(|id| !brokers.contains_key(id))
        .collect();
    let regs = join_all(missing.iter().map(|id| read_broker(zk, *id))).await;
    for (id, reg) in missing.into_iter().zip(regs) {
        if let Some(broker) = reg? {
            brokers.insert(id, broker);
        }
    }
    Ok(())
}

/// One registration; `None` if the broker is not registered.
async fn read_broker(zk: &Zk, id: i32) -> Result<Option<LiveBroker>, BrokerError> {
    Ok(zk
        .get_json::<BrokerRegistration>(&format!("/brokers/ids/{id}"))
        .await?
        .map(|(reg, stat)| LiveBroker {
            reg,
            epoch: stat.czxid,
        }))
}

async fn load_shutting_down(zk: &Zk) -> Result<BTreeSet<i32>, BrokerError> {
    Ok(zk
        .children("/lab/controlled_shutdown")
        .await?
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect())
}

/// Reads again what `changes` name, into `view`: the same view a full [`load`] would give, at
/// the cost of the znodes that changed (a broker's restart changes the ISR of every partition
/// it hosts; re-reading every partition of every topic on each of those events made the lab's
/// own brokers the heaviest ZooKeeper clients by far at thousands of partitions).
async fn apply(
    zk: &Zk,
    view: &mut ClusterView,
    changes: BTreeSet<Change>,
) -> Result<(), BrokerError> {
    let mut states = Vec::new();
    for change in changes {
        match change {
            Change::Brokers => refresh_brokers(zk, &mut view.brokers).await?,
            Change::Broker(id) => match read_broker(zk, id).await? {
                Some(broker) => {
                    view.brokers.insert(id, broker);
                }
                None => {
                    view.brokers.remove(&id);
                }
            },
            Change::Controller => {
                view.controller = zk
                    .get_json::<ControllerNode>("/controller")
                    .await?
                    .map(|(c, _)| c.brokerid);
            }
            Change::ShuttingDown => view.shutting_down = load_shutting_down(zk).await?,
            Change::Topic(t) => match load_topic(zk, &t).await? {
                Some(topic) => {
                    view.topics.insert(t, topic);
                }
                None => {
                    view.topics.remove(&t);
                }
            },
            Change::Config(t) => {
                if let Some(topic) = view.topics.get_mut(&t) {
                    topic.config = zk
                        .get_json::<ConfigNode>(&format!("/config/topics/{t}"))
                        .await?
                        .map(|(c, _)| c.config)
                        .unwrap_or_default();
                }
            }
            Change::State(t, p) => states.push((t, p)),
        }
    }
    // A state of a topic the view does not hold arrives with that topic's own read.
    states.retain(|(t, p)| view.partition(t, *p).is_some());
    let read =
        join_all(states.iter().map(|(t, p)| async move {
            zk.get_json::<PartitionState>(&zk::state_path(t, *p)).await
        }))
        .await;
    for ((t, p), state) in states.into_iter().zip(read) {
        let state = state?;
        if let Some(meta) = view
            .topics
            .get_mut(&t)
            .and_then(|topic| topic.partitions.get_mut(&p))
        {
            meta.zk_version = state.as_ref().map_or(-1, |(_, stat)| stat.version);
            meta.state = state.map(|(s, _)| s);
        }
    }
    Ok(())
}

/// The subtrees the copy follows with persistent recursive watches.
const WATCHED: [&str; 4] = ["/brokers", "/controller", "/lab", "/config/topics"];

/// A full reload every this many refresh periods, whatever the events (a backstop: after a
/// reconnection, when events may have been lost, the copy is reloaded at once). The first comes
/// at a random point of its period, so that brokers started together do not reload together.
const FULL_RELOAD_EVERY: u32 = 30;

/// Loads the first snapshot and keeps it fresh from the watches' events — reading again only
/// the znodes they name —, with a light re-read of the registered brokers' ids, the controller
/// and the shutdowns every `refresh` and a full reload every `FULL_RELOAD_EVERY` (30) of them and
/// after a reconnection.
pub async fn spawn_cache(
    zk: Zk,
    refresh: Duration,
) -> Result<watch::Receiver<Arc<ClusterView>>, BrokerError> {
    // The watches first: what changes during the first load is reported and read again.
    let mut watches = Vec::new();
    for path in WATCHED {
        watches.push(zk.watch(path).await?);
    }
    let current = load(&zk).await?;
    let (tx, rx) = watch::channel(Arc::new(current.clone()));
    // `None`: a session event (everything is read again).
    let (event_tx, event_rx) = tokio::sync::mpsc::channel::<Option<String>>(4096);
    for mut watch in watches {
        let events = event_tx.clone();
        tokio::spawn(async move {
            while let Some(event) = watch.next().await {
                let what = (event.event_type != EventType::Session).then_some(event.path);
                if events.send(what).await.is_err() {
                    break;
                }
            }
        });
    }
    tokio::spawn(follow(zk, refresh, current, tx, event_rx));
    Ok(rx)
}

/// What one round of the copy reads again.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    /// Everything ([`load`]).
    Full,
    /// The znodes these name ([`apply`]).
    Changes(BTreeSet<Change>),
}

/// Decides a round (pure): `paths` the events named, `session` whether a session event came,
/// `failed` whether the last round failed, `full_due` / `light_due` whether the backstop's full
/// reload or the light re-read (brokers, controller, shutdowns) is due.
fn round(paths: &[String], session: bool, failed: bool, full_due: bool, light_due: bool) -> Round {
    if session || failed || full_due {
        return Round::Full;
    }
    let mut changes: BTreeSet<Change> = paths.iter().filter_map(|p| change_of(p)).collect();
    if light_due {
        changes.extend([Change::Brokers, Change::Controller, Change::ShuttingDown]);
    }
    Round::Changes(changes)
}

/// The copy's loop: waits for events (at most `refresh`), reads again what they name, publishes
/// the view when it changed. Reads are issued one round after another on the broker's own
/// session, each after the events it answers, so a later round never reads older data.
async fn follow(
    zk: Zk,
    refresh: Duration,
    mut current: ClusterView,
    tx: watch::Sender<Arc<ClusterView>>,
    mut events: tokio::sync::mpsc::Receiver<Option<String>>,
) {
    let backstop = refresh * FULL_RELOAD_EVERY;
    let phase = (Uuid::new_v4().as_u128() % 1000) as u32;
    let mut next_full = Instant::now() + backstop * phase / 1000;
    let mut next_light = Instant::now() + refresh;
    let mut failed = false;
    loop {
        let first = match tokio::time::timeout(refresh, events.recv()).await {
            // Every watch ended with the session.
            Ok(None) => break,
            Ok(Some(event)) => Some(event),
            Err(_) => None,
        };
        // Events come in bursts (a broker's restart changes many states): take them together.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (mut paths, mut session) = (Vec::new(), false);
        for event in first
            .into_iter()
            .chain(std::iter::from_fn(|| events.try_recv().ok()))
        {
            match event {
                Some(path) => paths.push(path),
                None => session = true,
            }
        }
        let now = Instant::now();
        let (full_due, light_due) = (now >= next_full, now >= next_light);
        let result = match round(&paths, session, failed, full_due, light_due) {
            Round::Full => {
                (next_full, next_light) = (now + backstop, now + refresh);
                load(&zk).await.map(|view| current = view)
            }
            Round::Changes(changes) => {
                if light_due {
                    next_light = now + refresh;
                }
                apply(&zk, &mut current, changes).await
            }
        };
        failed = result.is_err();
        match result {
            Ok(()) => {
                tx.send_if_modified(|shown| {
                    let changed = **shown != current;
                    if changed {
                        *shown = Arc::new(current.clone());
                    }
                    changed
                });
            }
            // What failed is read whole next round.
            Err(e) => {
                tracing::warn!(target: "kafka.server.MetadataCache", "Reading cluster metadata from ZooKeeper failed: {e}.")
            }
        }
        if tx.is_closed() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_events_name_what_to_read_again() {
        let topic = |t: &str| Some(Change::Topic(t.into()));
        let cases = [
            ("/controller", Some(Change::Controller)),
            ("/brokers/ids", Some(Change::Brokers)),
            ("/brokers/ids/3", Some(Change::Broker(3))),
            ("/brokers/ids/x", Some(Change::Brokers)),
            ("/lab/controlled_shutdown/3", Some(Change::ShuttingDown)),
            ("/lab/controlled_shutdown", Some(Change::ShuttingDown)),
            ("/lab", None),
            (
                "/config/topics/orders",
                Some(Change::Config("orders".into())),
            ),
            ("/config/topics", None),
            ("/brokers/topics/orders", topic("orders")),
            (
                "/brokers/topics/orders/partitions/7/state",
                Some(Change::State("orders".into(), 7)),
            ),
            ("/brokers/topics/orders/partitions/7", None),
            ("/brokers/topics/orders/partitions", None),
            ("/brokers/topics/orders/partitions/x/state", None),
            ("/brokers/topics", None),
            ("/brokers/seqid", None),
        ];
        for (path, want) in cases {
            assert_eq!(change_of(path), want, "{path}");
        }
    }

    #[test]
    fn a_round_reads_everything_after_a_session_event_a_failure_or_when_the_backstop_is_due() {
        let paths = ["/brokers/topics/orders/partitions/7/state".to_string()];
        let state = Round::Changes([Change::State("orders".into(), 7)].into());
        assert_eq!(round(&paths, false, false, false, false), state);
        let cases = [
            ((true, false, false), "a session event: events were lost"),
            ((false, true, false), "the last round failed"),
            (
                (false, false, true),
                "the backstop, however busy the events",
            ),
        ];
        for ((session, failed, full_due), why) in cases {
            assert_eq!(
                round(&paths, session, failed, full_due, false),
                Round::Full,
                "{why}"
            );
        }
        let light = [Change::Brokers, Change::Controller, Change::ShuttingDown];
        assert_eq!(
            round(&[], false, false, false, true),
            Round::Changes(light.into())
        );
    }
}
