//! The health gates between restarts, as pure predicates over one [`ClusterView`].
//!
//! * Before a broker stops ([`safe_to_stop`]): every broker registered, no offline partition,
//!   no under-replicated partition, and no partition with a replica on this broker would drop
//!   below `min.insync.replicas` — Strimzi's rule, plus kafka-utils' URP = 0.
//! * After it starts ([`rejoined`]): registered, every partition it hosts back in *full* ISR,
//!   no offline partitions — "started" is not "caught up".
//! * A partition that can never pass (replication factor ≤ `min.insync.replicas`: stopping any
//!   of its brokers makes it refuse `acks=all` writes) is reported as [`Verdict::Never`] so the
//!   run halts at once with the reason instead of waiting forever.
//!
//! A [`Gate`] names one of these (and the container or broker it is about); [`GatePoll`] is
//! the waiting: consecutive passing observations within a time limit. The engine only fetches
//! the observations.

use std::fmt;
use std::time::Duration;

use kroll_shared::model::Health;

use super::view::{ClusterView, PartitionView, ServiceView};

/// The answer of a gate for one observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The gate passes.
    Pass,
    /// Not yet: what is still missing (for the progress display and the halt message).
    Wait(Vec<String>),
    /// Can never pass without an operator's decision.
    Never(String),
}

impl Verdict {
    /// `true` for [`Verdict::Pass`].
    pub fn passed(&self) -> bool {
        matches!(self, Self::Pass)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("passed"),
            Self::Wait(why) => f.write_str(&summarize(why)),
            Self::Never(why) => write!(f, "can never pass: {why}"),
        }
    }
}

/// At most three reasons and a count of the rest.
fn summarize(why: &[String]) -> String {
    let mut s = why.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if why.len() > 3 {
        s.push_str(&format!("; and {} more", why.len() - 3));
    }
    s
}

fn describe(p: &PartitionView) -> String {
    format!(
        "{}-{} (replicas {:?}, isr {:?})",
        p.topic, p.partition, p.replicas, p.isr
    )
}

/// Every inventory broker registered, no offline partition, a controller.
fn cluster_whole(view: &ClusterView, why: &mut Vec<String>) {
    let Some(k) = &view.kafka else {
        why.push(format!(
            "Kafka cannot be observed: {}",
            view.kafka_error.as_deref().unwrap_or("unknown error")
        ));
        return;
    };
    for b in view.brokers() {
        if let Some(id) = b.broker_id
            && !k.registered.contains(&id)
        {
            why.push(format!(
                "broker {id} ({}) is not registered in ZooKeeper",
                b.name
            ));
        }
    }
    if k.controller.is_none() {
        why.push("no controller is elected".into());
    }
    for p in k.offline() {
        why.push(format!("partition {} is offline", describe(p)));
    }
}

/// May `broker` stop now without making a partition unavailable?
pub fn safe_to_stop(view: &ClusterView, broker: i32, allow_min_isr_violation: bool) -> Verdict {
    let mut why = Vec::new();
    cluster_whole(view, &mut why);
    let Some(k) = &view.kafka else {
        return Verdict::Wait(why);
    };
    for p in k.partitions.iter().filter(|p| p.replicas.contains(&broker)) {
        let min = k.min_isr_of(&p.topic);
        if p.replicas.len() <= min && !allow_min_isr_violation {
            return Verdict::Never(format!(
                "partition {} has replication factor {} and min.insync.replicas {min}: stopping broker {broker} (or any of its replicas) makes it refuse acks=all writes. Raise its replication factor or lower min.insync.replicas, or accept that window with --allow-min-isr-violation",
                describe(p),
                p.replicas.len()
            ));
        }
        let left = p.isr.iter().filter(|r| **r != broker).count();
        if left < min && !allow_min_isr_violation {
            why.push(format!("stopping broker {broker} would leave {} with {left} in-sync replica(s), below min.insync.replicas {min}", describe(p)));
        }
    }
    for p in k.under_replicated() {
        why.push(format!("partition {} is under-replicated", describe(p)));
    }
    if why.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Wait(why)
    }
}

/// Is `broker` back: registered, every partition it hosts in full ISR, nothing offline?
pub fn rejoined(view: &ClusterView, broker: i32) -> Verdict {
    let mut why = Vec::new();
    cluster_whole(view, &mut why);
    let Some(k) = &view.kafka else {
        return Verdict::Wait(why);
    };
    let hosted: Vec<&PartitionView> = k
        .partitions
        .iter()
        .filter(|p| p.replicas.contains(&broker))
        .collect();
    let behind: Vec<&&PartitionView> = hosted
        .iter()
        .filter(|p| !p.isr.contains(&broker) || p.under_replicated())
        .collect();
    if !behind.is_empty() {
        why.push(format!(
            "broker {broker} is in full ISR on {}/{} of its partitions (first behind: {})",
            hosted.len() - behind.len(),
            hosted.len(),
            describe(behind[0])
        ));
    }
    if why.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Wait(why)
    }
}

/// The cluster as a whole is healthy: every broker registered, nothing offline or
/// under-replicated (the gate around non-broker restarts and the post-check).
pub fn cluster_healthy(view: &ClusterView) -> Verdict {
    let mut why = Vec::new();
    cluster_whole(view, &mut why);
    if let Some(k) = &view.kafka {
        for p in k.under_replicated() {
            why.push(format!("partition {} is under-replicated", describe(p)));
        }
    }
    if why.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Wait(why)
    }
}

/// What must hold of the cluster before or after a step — the gates the upgrade waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Broker `broker` may stop ([`safe_to_stop`]).
    SafeToStop {
        broker: i32,
        allow_min_isr_violation: bool,
    },
    /// Broker `broker` is back in service ([`rejoined`]).
    Rejoined { broker: i32 },
    /// The whole cluster is healthy ([`cluster_healthy`]).
    ClusterHealthy,
    /// `container` runs and its health check (if it has one) passes.
    Running { container: String },
    /// `container` (a ZooKeeper server) runs and the cluster is healthy.
    ZookeeperBack { container: String },
}

/// Which part of the cluster a gate needs refreshed at each poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Agents and Kafka.
    Full,
    /// Kafka only (milliseconds): the agents' part may come from the observation the wait
    /// began with.
    Kafka,
}

impl Gate {
    /// The gate's verdict on one observation.
    pub fn verdict(&self, view: &ClusterView) -> Verdict {
        match self {
            Self::SafeToStop {
                broker,
                allow_min_isr_violation,
            } => safe_to_stop(view, *broker, *allow_min_isr_violation),
            Self::Rejoined { broker } => rejoined(view, *broker),
            Self::ClusterHealthy => cluster_healthy(view),
            Self::Running { container } => running(view, container),
            Self::ZookeeperBack { container } => match running(view, container) {
                Verdict::Pass => cluster_healthy(view),
                other => other,
            },
        }
    }

    /// Brokers are judged by Kafka alone (registered in ZooKeeper and in ISR implies running);
    /// other services by what their agent reports.
    pub fn scope(&self) -> Scope {
        match self {
            Self::SafeToStop { .. } | Self::Rejoined { .. } => Scope::Kafka,
            _ => Scope::Full,
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SafeToStop { broker, .. } => write!(f, "broker {broker} safe to stop"),
            Self::Rejoined { broker } => write!(f, "broker {broker} back in service"),
            Self::ClusterHealthy => f.write_str("the cluster is healthy"),
            Self::Running { container } | Self::ZookeeperBack { container } => {
                write!(f, "{container} back in service")
            }
        }
    }
}

/// `container` runs, and is neither starting nor unhealthy by its health check.
fn running(view: &ClusterView, container: &str) -> Verdict {
    let Some(s) = view.service(container) else {
        return Verdict::Wait(vec![format!("{container} is not in the view")]);
    };
    if !s.running() {
        return Verdict::Wait(vec![running_state(s)]);
    }
    match s.container.as_ref().map(|c| c.health) {
        Some(Health::Starting) => {
            Verdict::Wait(vec![format!("{container} health check is starting")])
        }
        Some(Health::Unhealthy) => Verdict::Wait(vec![format!("{container} is unhealthy")]),
        _ => Verdict::Pass,
    }
}

fn running_state(s: &ServiceView) -> String {
    match &s.container {
        None => format!("container {} is not there", s.name),
        Some(c) => format!(
            "container {} is {} (exit {}, restarts {})",
            s.name,
            c.status.as_str(),
            c.exit_code,
            c.restart_count
        ),
    }
}

/// What one more observation made of a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// Enough consecutive passes.
    Passed,
    /// Not yet; poll again (sooner when `confirming`: the last observation passed).
    Waiting { confirming: bool },
    /// The time limit went by; the last verdict says why.
    TimedOut(String),
    /// The gate can never pass.
    Never(String),
}

/// Waiting on a [`Gate`]: `needed` consecutive passing observations within `limit`.
#[derive(Debug, Clone)]
pub struct GatePoll {
    limit: Duration,
    stable: Stability,
}

impl GatePoll {
    /// A wait of at most `limit` for `needed` consecutive passes.
    pub fn new(limit: Duration, needed: u32) -> Self {
        Self {
            limit,
            stable: Stability::new(needed),
        }
    }

    /// Counts an observation taken before the wait began (since the last action) towards
    /// the consecutive passes; it can never end the wait by itself.
    pub fn seed(&mut self, v: &Verdict) {
        self.stable.observe(v);
    }

    /// Judges one fresh observation, `waited` into the wait.
    pub fn judge(&mut self, v: &Verdict, waited: Duration) -> Polled {
        if let Verdict::Never(why) = v {
            return Polled::Never(why.clone());
        }
        if self.stable.observe(v) {
            return Polled::Passed;
        }
        if waited >= self.limit {
            return Polled::TimedOut(format!(
                "did not pass within {:.0}s: {v}",
                self.limit.as_secs_f64()
            ));
        }
        Polled::Waiting {
            confirming: self.stable.confirming(),
        }
    }
}

/// Watching for a broker's return *while its recreate is still under way* (the agent answers
/// only after its settle window, by which time a fast broker is often back): the after-gate
/// is judged only on observations taken after one that showed the broker unregistered — its
/// restart seen, so a pass cannot be the broker as it was before the stop — and passes on
/// `needed` consecutive ones. A failed observation breaks the chain; a broker seen
/// unregistered again starts it over. If the restart is never seen, nothing passes here and
/// the engine waits on the gate after the action as before.
#[derive(Debug, Clone)]
pub struct RejoinWatch {
    broker: i32,
    seen_down: bool,
    stable: Stability,
}

impl RejoinWatch {
    /// Watching `broker`, `needed` consecutive passes.
    pub fn new(broker: i32, needed: u32) -> Self {
        Self {
            broker,
            seen_down: false,
            stable: Stability::new(needed),
        }
    }

    /// Takes one observation (`view` with Kafka's part fresh, or `kafka_error` set); `true`
    /// once the broker is back by [`rejoined`] on enough consecutive observations after its
    /// restart was seen.
    pub fn observe(&mut self, view: &ClusterView) -> bool {
        let Some(k) = &view.kafka else {
            self.stable = Stability::new(self.stable.needed);
            return false;
        };
        if !k.registered.contains(&self.broker) {
            self.seen_down = true;
            self.stable = Stability::new(self.stable.needed);
            return false;
        }
        self.seen_down && self.stable.observe(&rejoined(view, self.broker))
    }
}

/// Every inventory container runs (the pre-flight's first condition).
pub fn all_running(view: &ClusterView) -> Verdict {
    let why: Vec<String> = view
        .services
        .iter()
        .filter(|s| !s.running())
        .map(|s| format!("container `{}` on node `{}` is not running", s.name, s.node))
        .collect();
    if why.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Wait(why)
    }
}

/// Counts consecutive passing observations: "several healthy observations, not one lucky
/// poll".
#[derive(Debug, Clone, Copy)]
pub struct Stability {
    needed: u32,
    seen: u32,
}

impl Stability {
    /// Requires `needed` consecutive passes (at least 1).
    pub fn new(needed: u32) -> Self {
        Self {
            needed: needed.max(1),
            seen: 0,
        }
    }

    /// Whether the latest observation passed (a confirmation is under way).
    pub fn confirming(&self) -> bool {
        self.seen > 0
    }

    /// Records one observation; `true` once enough consecutive passes were seen.
    pub fn observe(&mut self, v: &Verdict) -> bool {
        self.seen = if v.passed() { self.seen + 1 } else { 0 };
        self.seen >= self.needed
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kroll_shared::inventory::ServiceKind;

    use super::*;
    use crate::upgrade::view::{KafkaView, ServiceView};

    fn p(topic: &str, part: i32, replicas: &[i32], isr: &[i32]) -> PartitionView {
        PartitionView {
            topic: topic.into(),
            partition: part,
            leader: isr.first().copied().unwrap_or(-1),
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
        }
    }

    fn view(partitions: Vec<PartitionView>, registered: &[i32], min_isr: usize) -> ClusterView {
        let services = (1..=3)
            .map(|i| ServiceView {
                node: format!("n{i}"),
                kind: ServiceKind::Broker,
                name: format!("kafka-0{i}"),
                broker_id: Some(i),
                zookeeper_id: None,
                container: None,
                agent_reachable: true,
            })
            .collect();
        ClusterView {
            services,
            kafka: Some(KafkaView {
                registered: registered.iter().copied().collect(),
                controller: Some(1),
                partitions,
                min_isr: BTreeMap::from([("t".to_owned(), min_isr)]),
                default_min_isr: 1,
            }),
            unreachable: BTreeMap::new(),
            kafka_error: None,
            disks: BTreeMap::new(),
        }
    }

    #[test]
    fn a_rejoin_counts_only_observations_after_the_restart_was_seen() {
        let full = || view(vec![p("t", 0, &[1, 2, 3], &[1, 2, 3])], &[1, 2, 3], 2);
        let down = || view(vec![p("t", 0, &[1, 2, 3], &[1, 2])], &[1, 2], 2);
        let behind = || view(vec![p("t", 0, &[1, 2, 3], &[1, 2])], &[1, 2, 3], 2);
        let blind = || ClusterView {
            kafka: None,
            kafka_error: Some("ZooKeeper: connection loss".into()),
            ..full()
        };
        // (observations of broker 3, the observation that first says "back"; None: never)
        let cases: Vec<(&str, Vec<ClusterView>, Option<usize>)> = vec![
            (
                "before the stop: full ISR is not a return",
                vec![full(), full(), full(), full()],
                None,
            ),
            (
                "down, catching up, back ×3",
                vec![full(), down(), behind(), full(), full(), full()],
                Some(5),
            ),
            (
                "a failed observation breaks the chain",
                vec![down(), full(), full(), blind(), full(), full(), full()],
                Some(6),
            ),
            (
                "down again starts over",
                vec![down(), full(), full(), down(), full(), full(), full()],
                Some(6),
            ),
            (
                "never back",
                vec![down(), behind(), behind(), behind()],
                None,
            ),
        ];
        for (what, observations, want) in cases {
            let mut w = RejoinWatch::new(3, 3);
            let got = observations.iter().position(|v| w.observe(v));
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn a_healthy_cluster_lets_any_broker_stop() {
        let v = view(
            vec![
                p("t", 0, &[1, 2, 3], &[1, 2, 3]),
                p("t", 1, &[2, 3, 1], &[2, 3, 1]),
            ],
            &[1, 2, 3],
            2,
        );
        assert_eq!(safe_to_stop(&v, 2, false), Verdict::Pass);
        assert_eq!(cluster_healthy(&v), Verdict::Pass);
    }

    #[test]
    fn an_under_replicated_partition_blocks_every_stop() {
        let v = view(
            vec![p("t", 0, &[1, 2, 3], &[1, 2]), p("u", 0, &[1, 2], &[1, 2])],
            &[1, 2, 3],
            2,
        );
        let Verdict::Wait(why) = safe_to_stop(&v, 1, false) else {
            panic!("must wait")
        };
        assert!(
            why.iter()
                .any(|w| w.contains("t-0") && w.contains("under-replicated")),
            "{why:?}"
        );
        assert!(
            why.iter()
                .any(|w| w.contains("below min.insync.replicas 2")),
            "{why:?}"
        );
    }

    #[test]
    fn a_partition_that_can_never_pass_halts_instead_of_waiting_forever() {
        let v = view(vec![p("t", 0, &[1, 2], &[1, 2])], &[1, 2, 3], 2);
        match safe_to_stop(&v, 1, false) {
            Verdict::Never(why) => assert!(
                why.contains("replication factor 2 and min.insync.replicas 2"),
                "{why}"
            ),
            other => panic!("expected Never, got {other:?}"),
        }
        assert_eq!(
            safe_to_stop(&v, 3, false),
            Verdict::Pass,
            "broker 3 hosts no replica of it"
        );
        assert_eq!(
            safe_to_stop(&v, 1, true),
            Verdict::Pass,
            "operator accepted the window"
        );
    }

    #[test]
    fn started_is_not_caught_up() {
        let catching_up = view(
            vec![
                p("t", 0, &[1, 2, 3], &[1, 2]),
                p("t", 1, &[3, 1, 2], &[1, 2]),
            ],
            &[1, 2, 3],
            2,
        );
        let v = rejoined(&catching_up, 3);
        assert!(
            matches!(&v, Verdict::Wait(w) if w[0].contains("full ISR on 0/2")),
            "{v:?}"
        );
        let unregistered = view(vec![p("t", 0, &[1, 2, 3], &[1, 2, 3])], &[1, 2], 2);
        assert!(
            matches!(rejoined(&unregistered, 3), Verdict::Wait(w) if w[0].contains("broker 3 (kafka-03) is not registered"))
        );
        let back = view(vec![p("t", 0, &[1, 2, 3], &[1, 2, 3])], &[1, 2, 3], 2);
        assert_eq!(rejoined(&back, 3), Verdict::Pass);
    }

    #[test]
    fn offline_partitions_and_a_missing_kafka_never_pass() {
        let offline = view(vec![p("t", 0, &[1, 2, 3], &[])], &[1, 2, 3], 2);
        assert!(
            matches!(cluster_healthy(&offline), Verdict::Wait(w) if w.iter().any(|x| x.contains("offline")))
        );
        let mut blind = view(vec![], &[1, 2, 3], 2);
        blind.kafka = None;
        blind.kafka_error = Some("connection refused".into());
        assert!(
            matches!(safe_to_stop(&blind, 1, false), Verdict::Wait(w) if w[0].contains("connection refused"))
        );
    }

    #[test]
    fn a_gate_poll_needs_its_window_within_its_limit_and_gives_up_on_never() {
        let wait = Verdict::Wait(vec!["broker 2 is behind".into()]);
        let mut poll = GatePoll::new(Duration::from_secs(10), 2);
        poll.seed(&Verdict::Pass);
        assert_eq!(
            poll.judge(&Verdict::Pass, Duration::ZERO),
            Polled::Passed,
            "a seed counts"
        );
        let mut poll = GatePoll::new(Duration::from_secs(10), 2);
        assert_eq!(
            poll.judge(&Verdict::Pass, Duration::from_secs(1)),
            Polled::Waiting { confirming: true }
        );
        assert_eq!(
            poll.judge(&wait, Duration::from_secs(2)),
            Polled::Waiting { confirming: false },
            "a failure resets the window"
        );
        assert!(matches!(
            poll.judge(&wait, Duration::from_secs(10)),
            Polled::TimedOut(why) if why.contains("within 10s: broker 2 is behind")
        ));
        assert_eq!(
            poll.judge(&Verdict::Never("rf 2".into()), Duration::ZERO),
            Polled::Never("rf 2".into())
        );
    }

    #[test]
    fn gates_name_what_they_wait_for_and_how_they_are_observed() {
        let g = Gate::SafeToStop {
            broker: 2,
            allow_min_isr_violation: false,
        };
        assert_eq!(
            (g.to_string(), g.scope()),
            ("broker 2 safe to stop".into(), Scope::Kafka)
        );
        let r = Gate::Running {
            container: "sr".into(),
        };
        assert_eq!(
            (r.to_string(), r.scope()),
            ("sr back in service".into(), Scope::Full)
        );
        let v = view(vec![], &[1, 2, 3], 2);
        assert!(
            matches!(r.verdict(&v), Verdict::Wait(w) if w[0].contains("sr is not in the view"))
        );
        assert!(
            matches!(Gate::Running { container: "kafka-01".into() }.verdict(&v), Verdict::Wait(w) if w[0].contains("container kafka-01 is not there"))
        );
    }

    #[test]
    fn all_running_names_every_container_that_is_not() {
        let mut v = view(vec![], &[1, 2, 3], 2);
        assert!(
            matches!(all_running(&v), Verdict::Wait(w) if w.len() == 3 && w[0] == "container `kafka-01` on node `n1` is not running")
        );
        v.services.clear();
        assert_eq!(all_running(&v), Verdict::Pass);
    }

    #[test]
    fn stability_needs_consecutive_passes() {
        let mut s = Stability::new(3);
        assert!(!s.observe(&Verdict::Pass));
        assert!(!s.observe(&Verdict::Pass));
        assert!(
            !s.observe(&Verdict::Wait(vec!["x".into()])),
            "a failure resets"
        );
        assert!(!s.observe(&Verdict::Pass));
        assert!(!s.observe(&Verdict::Pass));
        assert!(s.observe(&Verdict::Pass));
    }
}
