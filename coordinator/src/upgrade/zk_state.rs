//! Kafka's state where a ZooKeeper-mode cluster decides it: the registered brokers
//! (`/brokers/ids`), the controller (`/controller`), each topic's replica assignment
//! (`/brokers/topics/<topic>`) and each partition's leader and ISR
//! (`/brokers/topics/<topic>/partitions/<n>/state`), which the controller (or, before IBP 2.7,
//! the partition leader) writes before any broker's metadata cache hears of the change.
//!
//! The gates read this rather than a Metadata response: each broker's metadata cache trails
//! ZooKeeper by its own UpdateMetadata delay, so two clients asking two brokers at one moment
//! could disagree for most of a second about whether a restarted broker is back in the ISR.
//!
//! [`ZkMirror`] keeps a copy current with ZooKeeper's persistent recursive watches (3.6+; every
//! Confluent 7.x ships one): it reads everything once, then only the znodes ZooKeeper says
//! changed, so an observation of a quiet cluster sends no request at all, however many
//! partitions it has. Reads go in ZooKeeper's multi-read requests (3.6+), up to a thousand
//! znodes each, so an observation after a broker's restart — which changes the ISR of every
//! partition it hosts — costs one request, not one per partition. A session event ends the mirror with its session (a disconnection may
//! lose events, ZOOKEEPER-4698, and a restarted ZooKeeper 3.8 was seen to deliver none at all
//! after the reconnection): the next observation starts a new session, sets the watches again
//! and reads everything. A server without persistent watches is read whole at every
//! observation.

use std::collections::{BTreeMap, BTreeSet};

use futures::FutureExt as _;
use futures::future::try_join_all;
use serde::Deserialize;
use zookeeper_client as zk;

use super::view::PartitionView;

/// Where a read of the partition state failed.
#[derive(Debug, thiserror::Error)]
pub enum ZkStateError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: zk::Error,
    },
    #[error("{path} is not the JSON Kafka writes there: {reason}")]
    Parse { path: String, reason: String },
    #[error(
        "the ZooKeeper session was {0}; its watches cannot be trusted, a new session is started"
    )]
    Session(zk::SessionState),
}

/// `/brokers/topics/<topic>`: partition number → replica list.
#[derive(Debug, Deserialize)]
struct Assignment {
    partitions: BTreeMap<String, Vec<i32>>,
}

/// `/brokers/topics/<topic>/partitions/<n>/state`.
#[derive(Debug, Deserialize)]
struct State {
    leader: i32,
    isr: Vec<i32>,
}

/// Partition number → replicas, in partition order.
type Assigned = Vec<(i32, Vec<i32>)>;

/// The replica assignment of one topic, from its znode's bytes.
fn parse_assignment(path: &str, data: &[u8]) -> Result<Assigned, ZkStateError> {
    let parse = |reason: String| ZkStateError::Parse {
        path: path.to_owned(),
        reason,
    };
    let a: Assignment = serde_json::from_slice(data).map_err(|e| parse(e.to_string()))?;
    let mut out = a
        .partitions
        .into_iter()
        .map(|(p, replicas)| {
            p.parse::<i32>()
                .map(|p| (p, replicas))
                .map_err(|_| parse(format!("partition key {p:?} is not a number")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|(p, _)| *p);
    Ok(out)
}

/// Leader and ISR from a partition's state znode's bytes.
fn parse_state(path: &str, data: &[u8]) -> Result<(i32, Vec<i32>), ZkStateError> {
    let s: State = serde_json::from_slice(data).map_err(|e| ZkStateError::Parse {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((s.leader, s.isr))
}

/// A znode the mirror holds, named by what it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// `/brokers/ids` (its children).
    BrokerIds,
    /// `/controller`.
    Controller,
    /// `/brokers/topics/<topic>`.
    Topic(String),
    /// `/brokers/topics/<topic>/partitions/<n>/state`.
    State(String, i32),
}

/// Which held znode an event's path is about; `None` for the znodes the mirror does not hold
/// (`/brokers/seqid`, `…/partitions`, `…/partitions/<n>`, a broker's data).
fn target_of(path: &str) -> Option<Target> {
    if path == "/controller" {
        return Some(Target::Controller);
    }
    if let Some(id) = path.strip_prefix("/brokers/ids/") {
        return (!id.is_empty() && !id.contains('/')).then_some(Target::BrokerIds);
    }
    let parts: Vec<&str> = path.strip_prefix("/brokers/topics/")?.split('/').collect();
    match parts.as_slice() {
        [t] if !t.is_empty() => Some(Target::Topic((*t).to_owned())),
        [t, "partitions", p, "state"] => p.parse().ok().map(|p| Target::State((*t).to_owned(), p)),
        _ => None,
    }
}

/// What one read found.
enum Found {
    Ids(BTreeSet<i32>),
    Controller(Option<i32>),
    Topic(String, Option<Assigned>),
    State(String, i32, Option<(i32, Vec<i32>)>),
}

/// The controller's broker id from `/controller`'s bytes (`None` when unreadable: no
/// controller is then reported, and the gates wait).
fn parse_controller(data: &[u8]) -> Option<i32> {
    serde_json::from_slice::<serde_json::Value>(data)
        .ok()?
        .get("brokerid")?
        .as_i64()
        .and_then(|id| i32::try_from(id).ok())
}

impl Target {
    /// The znode's path (under the client's chroot).
    fn path(&self) -> String {
        match self {
            Target::BrokerIds => "/brokers/ids".to_owned(),
            Target::Controller => "/controller".to_owned(),
            Target::Topic(t) => format!("/brokers/topics/{t}"),
            Target::State(t, p) => format!("/brokers/topics/{t}/partitions/{p}/state"),
        }
    }

    /// Whether the znode's children are read rather than its data.
    fn lists(&self) -> bool {
        matches!(self, Target::BrokerIds)
    }
}

/// What ZooKeeper answered for one znode (`None`: it does not exist).
enum Answer {
    Data(Option<Vec<u8>>),
    Children(Option<Vec<String>>),
}

/// What `target`'s answer means.
fn interpret(target: Target, answer: Answer) -> Result<Found, ZkStateError> {
    let path = target.path();
    Ok(match (target, answer) {
        (Target::BrokerIds, Answer::Children(ids)) => Found::Ids(
            ids.unwrap_or_default()
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
        ),
        (Target::Controller, Answer::Data(d)) => {
            Found::Controller(d.and_then(|d| parse_controller(&d)))
        }
        (Target::Topic(t), Answer::Data(d)) => {
            Found::Topic(t, d.map(|d| parse_assignment(&path, &d)).transpose()?)
        }
        (Target::State(t, p), Answer::Data(d)) => {
            Found::State(t, p, d.map(|d| parse_state(&path, &d)).transpose()?)
        }
        (_, _) => {
            return Err(ZkStateError::Parse {
                path,
                reason: "ZooKeeper answered a different kind of read".to_owned(),
            });
        }
    })
}

/// Reads one znode as its own request.
async fn fetch(client: &zk::Client, target: Target) -> Result<Found, ZkStateError> {
    let path = target.path();
    let failed = |source| ZkStateError::Read {
        path: path.clone(),
        source,
    };
    let answer = if target.lists() {
        match client.list_children(&path).await {
            Ok(children) => Answer::Children(Some(children)),
            Err(zk::Error::NoNode) => Answer::Children(None),
            Err(e) => return Err(failed(e)),
        }
    } else {
        match client.get_data(&path).await {
            Ok((data, _)) => Answer::Data(Some(data)),
            Err(zk::Error::NoNode) => Answer::Data(None),
            Err(e) => return Err(failed(e)),
        }
    };
    interpret(target, answer)
}

/// The most reads one multi-read request carries: a state znode's answer is ~100 bytes, so a
/// batch's answer stays far below ZooKeeper's 1 MiB packet limit (`jute.maxbuffer`).
const MULTI_READ_BATCH: usize = 1000;

/// Reads `targets` in one multi-read request (ZooKeeper 3.6+), a consistent snapshot of them.
async fn fetch_multi(
    client: &zk::Client,
    targets: Vec<Target>,
) -> Result<Vec<Found>, ZkStateError> {
    let mut reader = client.new_multi_reader();
    for t in &targets {
        let path = t.path();
        let added = if t.lists() {
            reader.add_get_children(&path)
        } else {
            reader.add_get_data(&path)
        };
        added.map_err(|source| ZkStateError::Read { path, source })?;
    }
    let answers = reader.commit().await.map_err(|source| ZkStateError::Read {
        path: format!(
            "{} znodes in one multi-read (first {})",
            targets.len(),
            targets.first().map(Target::path).unwrap_or_default()
        ),
        source,
    })?;
    if answers.len() != targets.len() {
        return Err(ZkStateError::Parse {
            path: "a multi-read".to_owned(),
            reason: format!("{} answers to {} reads", answers.len(), targets.len()),
        });
    }
    targets
        .into_iter()
        .zip(answers)
        .map(|(t, a)| {
            let answer = match a {
                zk::MultiReadResult::Data { data, .. } => Answer::Data(Some(data)),
                zk::MultiReadResult::Children { children } => Answer::Children(Some(children)),
                zk::MultiReadResult::Error {
                    err: zk::Error::NoNode,
                } if t.lists() => Answer::Children(None),
                zk::MultiReadResult::Error {
                    err: zk::Error::NoNode,
                } => Answer::Data(None),
                zk::MultiReadResult::Error { err } => {
                    return Err(ZkStateError::Read {
                        path: t.path(),
                        source: err,
                    });
                }
                _ => {
                    return Err(ZkStateError::Parse {
                        path: t.path(),
                        reason: "ZooKeeper answered a kind of read kroll does not know".to_owned(),
                    });
                }
            };
            interpret(t, answer)
        })
        .collect()
}

async fn list(client: &zk::Client, path: &str) -> Result<Vec<String>, ZkStateError> {
    match client.list_children(path).await {
        Ok(children) => Ok(children),
        Err(zk::Error::NoNode) => Ok(Vec::new()),
        Err(source) => Err(ZkStateError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// ZooKeeper's view of the cluster, kept current (see the module's text).
pub struct ZkMirror {
    /// On `/brokers` (recursive) and `/controller`; empty when the server has no persistent
    /// watches (then every refresh reads everything).
    watchers: Vec<zk::PersistentWatcher>,
    /// The next refresh reads everything.
    whole: bool,
    registered: BTreeSet<i32>,
    controller: Option<i32>,
    topics: BTreeMap<String, Assigned>,
    states: BTreeMap<(String, i32), (i32, Vec<i32>)>,
    /// Reads go in multi-read requests (ZooKeeper 3.6+); cleared when the server refuses one,
    /// and each znode is then read as its own (pipelined) request.
    multi: bool,
    /// Requests sent to ZooKeeper so far.
    requests: u64,
}

impl std::fmt::Debug for ZkMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkMirror")
            .field("watching", &!self.watchers.is_empty())
            .field("multi_read", &self.multi)
            .field("topics", &self.topics.len())
            .field("requests", &self.requests)
            .finish()
    }
}

impl ZkMirror {
    /// Sets the watches, then reads everything.
    pub async fn start(client: &zk::Client) -> Result<Self, ZkStateError> {
        let watched = async {
            let brokers = client
                .watch("/brokers", zk::AddWatchMode::PersistentRecursive)
                .await?;
            let controller = client
                .watch("/controller", zk::AddWatchMode::Persistent)
                .await?;
            Ok::<_, zk::Error>(vec![brokers, controller])
        };
        let watchers = match watched.await {
            Ok(w) => w,
            Err(e) => {
                tracing::info!(
                    error = %e,
                    "ZooKeeper sets no persistent watch; every observation reads all partition state"
                );
                Vec::new()
            }
        };
        let mut mirror = Self {
            requests: 2,
            multi: true,
            watchers,
            whole: true,
            registered: BTreeSet::new(),
            controller: None,
            topics: BTreeMap::new(),
            states: BTreeMap::new(),
        };
        mirror.refresh(client).await?;
        Ok(mirror)
    }

    /// Brings the copy up to date: the znodes the watches reported changed, or everything
    /// after a session event or without watches.
    pub async fn refresh(&mut self, client: &zk::Client) -> Result<(), ZkStateError> {
        let mut changed = BTreeSet::new();
        if self.watchers.is_empty() {
            self.whole = true;
        }
        for w in &mut self.watchers {
            while let Some(event) = w.changed().now_or_never() {
                if event.event_type == zk::EventType::Session {
                    // After a disconnection the server may have lost the watches for good (a
                    // restarted ZooKeeper 3.8 sends no event after the session's reconnection),
                    // and a watcher panics when polled after its session ended: the session
                    // and this mirror are done; the next observation starts both afresh.
                    self.watchers.clear();
                    return Err(ZkStateError::Session(event.session_state));
                }
                changed.extend(target_of(&event.path));
            }
        }
        if self.whole {
            return self.read_whole(client).await;
        }
        // Until the reads succeed, the events they answer are not forgotten.
        self.whole = true;
        self.apply_all(client, changed.into_iter().collect())
            .await?;
        self.whole = false;
        Ok(())
    }

    async fn read_whole(&mut self, client: &zk::Client) -> Result<(), ZkStateError> {
        let topics = list(client, "/brokers/topics").await?;
        self.requests += 1;
        self.topics.clear();
        self.states.clear();
        let mut first = vec![Target::BrokerIds, Target::Controller];
        first.extend(topics.into_iter().map(Target::Topic));
        self.apply_all(client, first).await?;
        let states = self
            .topics
            .iter()
            .flat_map(|(t, a)| a.iter().map(|(p, _)| Target::State(t.clone(), *p)))
            .collect();
        self.apply_all(client, states).await?;
        self.whole = false;
        Ok(())
    }

    /// Reads `targets` at once — in multi-read requests of up to [`MULTI_READ_BATCH`] znodes,
    /// or pipelined one request per znode on a server without multi-read — and takes in what
    /// they found.
    async fn apply_all(
        &mut self,
        client: &zk::Client,
        targets: Vec<Target>,
    ) -> Result<(), ZkStateError> {
        let mut found = Vec::with_capacity(targets.len());
        if self.multi {
            for batch in targets.chunks(MULTI_READ_BATCH) {
                self.requests += 1;
                match fetch_multi(client, batch.to_vec()).await {
                    Ok(f) => found.extend(f),
                    Err(ZkStateError::Read {
                        source: zk::Error::Unimplemented,
                        ..
                    }) => {
                        tracing::info!(
                            "ZooKeeper has no multi-read (before 3.6); each znode is read as its own request"
                        );
                        self.multi = false;
                        found.clear();
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if !self.multi {
            self.requests += targets.len() as u64;
            found = try_join_all(targets.into_iter().map(|t| fetch(client, t))).await?;
        }
        for f in found {
            match f {
                Found::Ids(ids) => self.registered = ids,
                Found::Controller(c) => self.controller = c,
                Found::Topic(t, Some(a)) => {
                    self.topics.insert(t, a);
                }
                Found::Topic(t, None) => {
                    self.states.retain(|(topic, _), _| *topic != t);
                    self.topics.remove(&t);
                }
                Found::State(t, p, Some(s)) => {
                    self.states.insert((t, p), s);
                }
                Found::State(t, p, None) => {
                    self.states.remove(&(t, p));
                }
            }
        }
        Ok(())
    }

    /// Registered brokers.
    pub fn registered(&self) -> &BTreeSet<i32> {
        &self.registered
    }

    /// The controller, if one is elected.
    pub fn controller(&self) -> Option<i32> {
        self.controller
    }

    /// Requests sent to ZooKeeper since the mirror started.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Every partition of every topic. One whose state znode does not exist (yet: the
    /// controller has not elected a leader for a new partition) is offline, as Metadata would
    /// report it: no leader, no ISR.
    pub fn partitions(&self) -> Vec<PartitionView> {
        self.topics
            .iter()
            .flat_map(|(t, assigned)| {
                assigned.iter().map(|(p, replicas)| {
                    let (leader, isr) = self
                        .states
                        .get(&(t.clone(), *p))
                        .cloned()
                        .unwrap_or((-1, Vec::new()));
                    PartitionView {
                        topic: t.clone(),
                        partition: *p,
                        leader,
                        replicas: replicas.clone(),
                        isr,
                    }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_parse_in_partition_order_and_name_the_znode_when_malformed() {
        let path = "/brokers/topics/orders";
        let cases: &[(&str, Result<Assigned, &str>)] = &[
            (
                r#"{"version":3,"partitions":{"10":[3,1,2],"2":[1,2,3],"0":[2,3,1]},"topic_id":"x","adding_replicas":{},"removing_replicas":{}}"#,
                Ok(vec![
                    (0, vec![2, 3, 1]),
                    (2, vec![1, 2, 3]),
                    (10, vec![3, 1, 2]),
                ]),
            ),
            (r#"{"version":1,"partitions":{}}"#, Ok(vec![])),
            (r#"{"version":1}"#, Err("missing field `partitions`")),
            (
                r#"{"partitions":{"x":[1]}}"#,
                Err("partition key \"x\" is not a number"),
            ),
            ("not json", Err("expected ident")),
        ];
        for (data, want) in cases {
            let got = parse_assignment(path, data.as_bytes());
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(&g, w, "{data}"),
                (Err(e), Err(w)) => {
                    let e = e.to_string();
                    assert!(e.starts_with(path) && e.contains(w), "{data}: {e}");
                }
                (g, w) => panic!("{data}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn event_paths_name_the_znode_to_read_again() {
        let topic = |t: &str| Some(Target::Topic(t.into()));
        let state = |t: &str, p| Some(Target::State(t.into(), p));
        let cases = [
            ("/controller", Some(Target::Controller)),
            ("/brokers/ids/3", Some(Target::BrokerIds)),
            ("/brokers/ids", None),
            ("/brokers/ids/3/x", None),
            ("/brokers/topics/orders", topic("orders")),
            (
                "/brokers/topics/__consumer_offsets",
                topic("__consumer_offsets"),
            ),
            (
                "/brokers/topics/orders/partitions/7/state",
                state("orders", 7),
            ),
            ("/brokers/topics/orders/partitions/7", None),
            ("/brokers/topics/orders/partitions", None),
            ("/brokers/topics/orders/partitions/x/state", None),
            ("/brokers/topics", None),
            ("/brokers/topics/", None),
            ("/brokers/seqid", None),
            ("/controller_epoch", None),
        ];
        for (path, want) in cases {
            assert_eq!(target_of(path), want, "{path}");
        }
    }

    #[test]
    fn answers_are_interpreted_by_the_znode_they_answer() {
        let ids = interpret(
            Target::BrokerIds,
            Answer::Children(Some(vec!["3".into(), "1".into(), "x".into()])),
        );
        assert!(matches!(ids, Ok(Found::Ids(i)) if i == BTreeSet::from([1, 3])));
        let none = interpret(Target::BrokerIds, Answer::Children(None));
        assert!(matches!(none, Ok(Found::Ids(i)) if i.is_empty()));
        let gone = interpret(Target::State("t".into(), 4), Answer::Data(None));
        assert!(matches!(gone, Ok(Found::State(t, 4, None)) if t == "t"));
        let deleted = interpret(Target::Topic("t".into()), Answer::Data(None));
        assert!(matches!(deleted, Ok(Found::Topic(t, None)) if t == "t"));
        let bad = interpret(
            Target::Topic("t".into()),
            Answer::Data(Some(b"{}".to_vec())),
        );
        assert!(
            matches!(&bad, Err(e) if e.to_string().starts_with("/brokers/topics/t ")),
            "the znode is named: {:?}",
            bad.err()
        );
        let crossed = interpret(Target::Controller, Answer::Children(Some(Vec::new())));
        assert!(
            matches!(&crossed, Err(e) if e.to_string().contains("/controller")),
            "{:?}",
            crossed.err()
        );
    }

    #[test]
    fn the_controller_is_read_from_its_znode_or_is_none() {
        let cases: [(&[u8], Option<i32>); 4] = [
            (br#"{"version":1,"brokerid":4,"timestamp":"1"}"#, Some(4)),
            (br#"{"version":1}"#, None),
            (b"garbage", None),
            (br#"{"brokerid":99999999999}"#, None),
        ];
        for (data, want) in cases {
            assert_eq!(parse_controller(data), want);
        }
    }

    #[test]
    fn a_partition_without_a_state_znode_is_offline_and_a_state_gives_leader_and_isr() {
        let state =
            br#"{"controller_epoch":4,"leader":2,"version":1,"leader_epoch":7,"isr":[2,3]}"#;
        let offline =
            br#"{"controller_epoch":4,"leader":-1,"version":1,"leader_epoch":8,"isr":[3]}"#;
        let mirror = ZkMirror {
            watchers: Vec::new(),
            whole: false,
            multi: true,
            registered: BTreeSet::from([1, 2, 3]),
            controller: Some(1),
            topics: BTreeMap::from([(
                "t".to_owned(),
                vec![(0, vec![1, 2, 3]), (1, vec![1, 2, 3]), (2, vec![3])],
            )]),
            states: BTreeMap::from([
                (
                    ("t".to_owned(), 1),
                    parse_state("/s", state).expect("state"),
                ),
                (
                    ("t".to_owned(), 2),
                    parse_state("/s", offline).expect("state"),
                ),
            ]),
            requests: 0,
        };
        let views = mirror.partitions();
        let [missing, led, leaderless] = views.as_slice() else {
            panic!("three partitions: {views:?}")
        };
        assert!(
            missing.offline() && missing.under_replicated(),
            "{missing:?}"
        );
        assert_eq!((led.leader, led.isr.clone()), (2, vec![2, 3]));
        assert!(!led.offline() && led.under_replicated(), "{led:?}");
        assert!(leaderless.offline(), "{leaderless:?}");
        let e = parse_state("/brokers/topics/t/partitions/3/state", b"{}")
            .expect_err("no leader field");
        assert!(e.to_string().contains("partitions/3/state"), "{e}");
    }
}
