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
//! The waiting itself (consecutive healthy observations, time limits) lives in the engine.

use std::fmt;

use super::view::{ClusterView, PartitionView};

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
