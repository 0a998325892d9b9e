//! A small classic-protocol group coordinator (JoinGroup / SyncGroup / Heartbeat / LeaveGroup):
//! enough for consumer groups and Connect-style members. Membership lives in memory on the
//! coordinator broker; committed offsets live in ZooKeeper (see `api::group`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::api::errors;

/// A member's join request, reduced to what the coordinator needs.
#[derive(Debug, Clone)]
pub struct JoinArgs {
    /// Member id (empty = new member).
    pub member_id: String,
    /// Client id (prefix of generated member ids).
    pub client_id: String,
    /// Protocol type (`consumer`, `connect`).
    pub protocol_type: String,
    /// Supported protocols with metadata, preferred first.
    pub protocols: Vec<(String, Bytes)>,
    /// Session timeout.
    pub session_timeout: Duration,
    /// Rebalance timeout.
    pub rebalance_timeout: Duration,
    /// Whether the client understands MEMBER_ID_REQUIRED (JoinGroup v4+).
    pub require_known_member_id: bool,
}

/// The outcome of a join.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    /// Error code.
    pub error: i16,
    /// Generation.
    pub generation: i32,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Leader member id.
    pub leader: String,
    /// This member's id.
    pub member_id: String,
    /// Members with metadata (leader only).
    pub members: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    Preparing,
    Completing,
    Stable,
}

#[derive(Debug)]
struct Member {
    protocols: Vec<(String, Bytes)>,
    session_timeout: Duration,
    last_seen: Instant,
    joined: bool,
    assignment: Bytes,
}

#[derive(Debug)]
struct Group {
    state: State,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    join_waiters: Vec<(String, oneshot::Sender<JoinResult>)>,
    sync_waiters: Vec<(String, oneshot::Sender<(i16, Bytes)>)>,
    deadline: Option<Instant>,
    /// The join phase began from an empty group: it waits `group.initial.rebalance.delay.ms`
    /// for more members (Kafka's `InitialDelayedJoin`).
    initial: bool,
}

impl Group {
    fn new() -> Self {
        Self {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            join_waiters: Vec::new(),
            sync_waiters: Vec::new(),
            deadline: None,
            initial: false,
        }
    }

    fn prepare(&mut self, delay: Duration) {
        if self.state != State::Preparing {
            self.initial = self.state == State::Empty;
            self.state = State::Preparing;
            for m in self.members.values_mut() {
                m.joined = false;
            }
            for (_, tx) in self.sync_waiters.drain(..) {
                let _ = tx.send((errors::REBALANCE_IN_PROGRESS, Bytes::new()));
            }
            self.deadline = Some(Instant::now() + delay);
        }
    }

    /// Completes the join phase as soon as every known member rejoined (Kafka's `DelayedJoin`),
    /// or when the rebalance timeout passed (members that did not rejoin are dropped); a first
    /// join into an empty group waits out the initial delay.
    fn maybe_complete(&mut self, now: Instant) {
        if self.state != State::Preparing {
            return;
        }
        let all_joined = self.members.values().all(|m| m.joined);
        let expired = self.deadline.is_none_or(|d| now >= d);
        if !(expired || all_joined && !self.initial) {
            return;
        }
        self.members.retain(|_, m| m.joined);
        self.deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = State::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.state = State::Completing;
        self.protocol = self.choose_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let members: Vec<(String, Bytes)> = self
            .members
            .iter()
            .map(|(id, m)| {
                (
                    id.clone(),
                    m.protocols
                        .iter()
                        .find(|(n, _)| *n == protocol)
                        .map(|(_, b)| b.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        for (id, tx) in self.join_waiters.drain(..) {
            let _ = tx.send(JoinResult {
                error: errors::NONE,
                generation: self.generation,
                protocol: self.protocol.clone(),
                protocol_type: self.protocol_type.clone(),
                leader: leader.clone(),
                members: if id == leader {
                    members.clone()
                } else {
                    Vec::new()
                },
                member_id: id,
            });
        }
    }

    fn choose_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        first.protocols.iter().map(|(n, _)| n.clone()).find(|name| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }
}

/// All groups coordinated by this broker.
#[derive(Debug)]
pub struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    initial_delay: Duration,
}

impl Coordinator {
    /// `group.initial.rebalance.delay.ms` applies when the first member joins an empty group.
    pub fn new(initial_delay: Duration) -> Self {
        Self {
            groups: Mutex::new(HashMap::new()),
            initial_delay,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// JoinGroup.
    pub async fn join(&self, group_id: &str, args: JoinArgs) -> JoinResult {
        let rx = {
            let mut groups = self.lock();
            let group = groups
                .entry(group_id.to_string())
                .or_insert_with(Group::new);
            if group
                .protocol_type
                .as_ref()
                .is_some_and(|t| *t != args.protocol_type)
                && !group.members.is_empty()
            {
                return JoinResult {
                    error: errors::INCONSISTENT_GROUP_PROTOCOL,
                    generation: -1,
                    ..Default::default()
                };
            }
            let mut member_id = args.member_id.clone();
            if member_id.is_empty() {
                member_id = format!("{}-{}", args.client_id, uuid::Uuid::new_v4());
                if args.require_known_member_id {
                    return JoinResult {
                        error: errors::MEMBER_ID_REQUIRED,
                        generation: -1,
                        member_id,
                        ..Default::default()
                    };
                }
            }
            let delay = if group.state == State::Empty {
                self.initial_delay
            } else {
                args.rebalance_timeout
            };
            group.protocol_type = Some(args.protocol_type.clone());
            let member = Member {
                protocols: args.protocols,
                session_timeout: args.session_timeout,
                last_seen: Instant::now(),
                joined: false,
                assignment: Bytes::new(),
            };
            group.members.insert(member_id.clone(), member);
            group.prepare(delay);
            if let Some(m) = group.members.get_mut(&member_id) {
                m.joined = true;
            }
            let (tx, rx) = oneshot::channel();
            group.join_waiters.retain(|(id, _)| *id != member_id);
            group.join_waiters.push((member_id, tx));
            group.maybe_complete(Instant::now());
            rx
        };
        rx.await.unwrap_or(JoinResult {
            error: errors::UNKNOWN_MEMBER_ID,
            generation: -1,
            ..Default::default()
        })
    }

    /// SyncGroup: the leader's assignments are handed to every member.
    pub async fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Bytes)>,
    ) -> (i16, Bytes) {
        let rx = {
            let mut groups = self.lock();
            let Some(group) = groups.get_mut(group_id) else {
                return (errors::UNKNOWN_MEMBER_ID, Bytes::new());
            };
            if !group.members.contains_key(member_id) {
                return (errors::UNKNOWN_MEMBER_ID, Bytes::new());
            }
            if generation != group.generation {
                return (errors::ILLEGAL_GENERATION, Bytes::new());
            }
            match group.state {
                State::Preparing | State::Empty => {
                    return (errors::REBALANCE_IN_PROGRESS, Bytes::new());
                }
                State::Stable => {
                    return (
                        errors::NONE,
                        group
                            .members
                            .get(member_id)
                            .map(|m| m.assignment.clone())
                            .unwrap_or_default(),
                    );
                }
                State::Completing => {}
            }
            if group.leader.as_deref() == Some(member_id) {
                for (id, assignment) in assignments {
                    if let Some(m) = group.members.get_mut(&id) {
                        m.assignment = assignment;
                    }
                }
                group.state = State::Stable;
                for (id, tx) in group.sync_waiters.drain(..) {
                    let _ = tx.send((
                        errors::NONE,
                        group
                            .members
                            .get(&id)
                            .map(|m| m.assignment.clone())
                            .unwrap_or_default(),
                    ));
                }
                return (
                    errors::NONE,
                    group
                        .members
                        .get(member_id)
                        .map(|m| m.assignment.clone())
                        .unwrap_or_default(),
                );
            }
            let (tx, rx) = oneshot::channel();
            group.sync_waiters.push((member_id.to_string(), tx));
            rx
        };
        rx.await
            .unwrap_or((errors::REBALANCE_IN_PROGRESS, Bytes::new()))
    }

    /// Heartbeat.
    pub fn heartbeat(&self, group_id: &str, generation: i32, member_id: &str) -> i16 {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return errors::UNKNOWN_MEMBER_ID;
        };
        let Some(member) = group.members.get_mut(member_id) else {
            return errors::UNKNOWN_MEMBER_ID;
        };
        member.last_seen = Instant::now();
        if group.state == State::Preparing {
            return errors::REBALANCE_IN_PROGRESS;
        }
        if generation != group.generation {
            return errors::ILLEGAL_GENERATION;
        }
        errors::NONE
    }

    /// LeaveGroup; returns an error code per member.
    pub fn leave(&self, group_id: &str, members: &[String]) -> Vec<i16> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return vec![errors::UNKNOWN_MEMBER_ID; members.len()];
        };
        let codes = members
            .iter()
            .map(|m| {
                if group.members.remove(m).is_some() {
                    errors::NONE
                } else {
                    errors::UNKNOWN_MEMBER_ID
                }
            })
            .collect();
        group
            .join_waiters
            .retain(|(id, _)| group.members.contains_key(id));
        if group.members.is_empty() {
            group.state = State::Empty;
            group.generation += 1;
        } else {
            group.prepare(Duration::ZERO);
            group.maybe_complete(Instant::now());
        }
        codes
    }

    /// Whether a member of `generation` may commit (generation < 0: simple/admin commits).
    pub fn may_commit(&self, group_id: &str, generation: i32, member_id: &str) -> i16 {
        if generation < 0 {
            return errors::NONE;
        }
        let groups = self.lock();
        match groups.get(group_id) {
            Some(g) if !g.members.contains_key(member_id) => errors::UNKNOWN_MEMBER_ID,
            Some(g) if g.generation != generation => errors::ILLEGAL_GENERATION,
            Some(g) if g.state == State::Preparing => errors::REBALANCE_IN_PROGRESS,
            _ => errors::NONE,
        }
    }

    /// Groups with their protocol type and state name.
    pub fn list(&self) -> Vec<(String, String, &'static str)> {
        let state_name = |s: State| match s {
            State::Empty => "Empty",
            State::Preparing => "PreparingRebalance",
            State::Completing => "CompletingRebalance",
            State::Stable => "Stable",
        };
        self.lock()
            .iter()
            .map(|(id, g)| {
                (
                    id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    state_name(g.state),
                )
            })
            .collect()
    }

    /// Expires members that stopped heartbeating and completes join phases past their deadline.
    /// During a join phase a member that has not rejoined expires at its session timeout too
    /// (a member waiting in JoinGroup does not), so a dead member cannot hold a rebalance up
    /// until the rebalance timeout.
    pub fn tick(&self) {
        let now = Instant::now();
        for group in self.lock().values_mut() {
            if group.state == State::Preparing {
                group.members.retain(|_, m| {
                    m.joined || now.duration_since(m.last_seen) <= m.session_timeout
                });
            } else {
                let before = group.members.len();
                group
                    .members
                    .retain(|_, m| now.duration_since(m.last_seen) <= m.session_timeout);
                if group.members.len() != before {
                    if group.members.is_empty() {
                        group.state = State::Empty;
                        group.generation += 1;
                    } else {
                        group.prepare(Duration::from_secs(5));
                    }
                }
            }
            group.maybe_complete(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(member: &str) -> JoinArgs {
        JoinArgs {
            member_id: member.into(),
            client_id: "c".into(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            require_known_member_id: true,
        }
    }

    /// A rebalance completes as soon as every known member rejoined, not after the rebalance
    /// timeout (`max.poll.interval.ms`, here 300 s).
    #[tokio::test]
    async fn a_rebalance_completes_when_all_known_members_rejoined() {
        let c = std::sync::Arc::new(Coordinator::new(Duration::ZERO));
        let slow = |member: &str| JoinArgs {
            rebalance_timeout: Duration::from_secs(300),
            ..args(member)
        };
        let a = c.join("g", slow("a")).await;
        assert_eq!((a.error, a.generation), (errors::NONE, 1));
        let (code, _) = c.sync("g", 1, "a", vec![("a".into(), Bytes::new())]).await;
        assert_eq!(code, errors::NONE);
        // b joins: a learns of the rebalance from its heartbeat and rejoins.
        let joining = tokio::spawn({
            let c = c.clone();
            async move { c.join("g", slow("b")).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(c.heartbeat("g", 1, "a"), errors::REBALANCE_IN_PROGRESS);
        let rejoined = tokio::time::timeout(Duration::from_secs(2), c.join("g", slow("a")))
            .await
            .expect("a's rejoin answered without waiting for the rebalance timeout");
        let b = tokio::time::timeout(Duration::from_secs(2), joining)
            .await
            .expect("b's join answered")
            .expect("task");
        assert_eq!((rejoined.generation, b.generation), (2, 2));
        assert_eq!(
            rejoined.members.len() + b.members.len(),
            2,
            "the leader sees both"
        );
    }

    /// A member that died without leaving does not hold a rebalance up beyond its session.
    #[tokio::test]
    async fn a_dead_member_expires_during_a_rebalance() {
        let c = std::sync::Arc::new(Coordinator::new(Duration::ZERO));
        let member = |id: &str, session_ms: u64| JoinArgs {
            rebalance_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_millis(session_ms),
            ..args(id)
        };
        c.join("g", member("dead", 100)).await;
        c.sync("g", 1, "dead", vec![]).await;
        let joining = tokio::spawn({
            let c = c.clone();
            async move { c.join("g", member("b", 10_000)).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.tick();
        let b = tokio::time::timeout(Duration::from_secs(2), joining)
            .await
            .expect("b's join answered once the dead member expired")
            .expect("task");
        assert_eq!(
            (b.error, b.generation, b.leader.as_str()),
            (errors::NONE, 2, "b")
        );
    }

    #[tokio::test]
    async fn single_member_joins_syncs_and_heartbeats() {
        let c = Coordinator::new(Duration::ZERO);
        let first = c.join("g", args("")).await;
        assert_eq!(first.error, errors::MEMBER_ID_REQUIRED);
        let joined = c.join("g", args(&first.member_id)).await;
        assert_eq!((joined.error, joined.generation), (errors::NONE, 1));
        assert_eq!(joined.leader, joined.member_id);
        assert_eq!(joined.members.len(), 1);
        let (code, assignment) = c
            .sync(
                "g",
                1,
                &joined.member_id,
                vec![(joined.member_id.clone(), Bytes::from_static(b"a"))],
            )
            .await;
        assert_eq!((code, assignment), (errors::NONE, Bytes::from_static(b"a")));
        assert_eq!(c.heartbeat("g", 1, &joined.member_id), errors::NONE);
        assert_eq!(c.may_commit("g", 1, &joined.member_id), errors::NONE);
        assert_eq!(
            c.may_commit("g", 0, &joined.member_id),
            errors::ILLEGAL_GENERATION
        );
        assert_eq!(
            c.leave("g", std::slice::from_ref(&joined.member_id)),
            vec![errors::NONE]
        );
        assert_eq!(c.list()[0].2, "Empty");
    }
}
