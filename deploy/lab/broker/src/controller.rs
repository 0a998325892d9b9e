//! The controller: elected through the ephemeral `/controller` znode (epoch in
//! `/controller_epoch`), it initialises new partitions and reacts to broker changes — a dead or
//! shutting-down leader is replaced by the first live in-sync replica (never an out-of-sync one:
//! no unclean election, so a partition whose ISR is all gone goes offline with leader -1), and
//! dead or shutting-down followers leave the ISR. Optionally moves leadership back to preferred
//! replicas (`auto.leader.rebalance.enable`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use crate::error::BrokerError;
use crate::metadata::ClusterView;
use crate::zk::{self, ControllerNode, PartitionState, Zk};

/// One state change the controller wants to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// New leader and ISR.
    pub state: PartitionState,
    /// Expected znode version (`None`: create the state znode).
    pub expected_version: Option<i32>,
}

/// Decides the state changes for `view` (pure; unit-tested below).
pub fn plan(view: &ClusterView, controller_epoch: i32, rebalance: bool) -> Vec<Change> {
    let eligible = |b: &i32| view.is_live(*b) && !view.shutting_down.contains(b);
    let mut changes = Vec::new();
    for (topic, meta) in &view.topics {
        for (partition, pm) in &meta.partitions {
            let new = match &pm.state {
                None => {
                    let live: Vec<i32> = pm
                        .replicas
                        .iter()
                        .copied()
                        .filter(|b| eligible(b))
                        .collect();
                    let Some(leader) = live.first().copied() else {
                        continue;
                    };
                    Some((
                        PartitionState {
                            controller_epoch,
                            leader,
                            version: 1,
                            leader_epoch: 0,
                            isr: live,
                        },
                        None,
                    ))
                }
                Some(s) => next_state(s, &pm.replicas, view, rebalance).map(|mut n| {
                    n.controller_epoch = controller_epoch;
                    (n, Some(pm.zk_version))
                }),
            };
            if let Some((state, expected_version)) = new {
                changes.push(Change {
                    topic: topic.clone(),
                    partition: *partition,
                    state,
                    expected_version,
                });
            }
        }
    }
    changes
}

fn next_state(
    s: &PartitionState,
    replicas: &[i32],
    view: &ClusterView,
    rebalance: bool,
) -> Option<PartitionState> {
    let eligible = |b: &i32| view.is_live(*b) && !view.shutting_down.contains(b);
    let live_isr: Vec<i32> = s.isr.iter().copied().filter(|b| eligible(b)).collect();
    let leader_ok = s.leader >= 0 && eligible(&s.leader);
    let preferred = replicas
        .first()
        .copied()
        .filter(|p| rebalance && leader_ok && *p != s.leader && live_isr.contains(p));
    let candidate = replicas.iter().copied().find(|r| live_isr.contains(r));
    let (leader, isr) = if let Some(p) = preferred {
        (p, live_isr)
    } else if leader_ok {
        let mut isr = live_isr;
        if !isr.contains(&s.leader) {
            isr.insert(0, s.leader);
        }
        (s.leader, isr)
    } else if let Some(new_leader) = candidate {
        (new_leader, live_isr)
    } else if s.leader >= 0 && view.is_live(s.leader) {
        // Shutting down, but no other in-sync replica to take over: it stays (a "remaining" partition).
        return None;
    } else {
        // No in-sync replica left: offline. Kafka keeps the last ISR member recorded.
        let last = if s.isr.contains(&s.leader) {
            vec![s.leader]
        } else {
            s.isr.iter().take(1).copied().collect()
        };
        (
            -1,
            if s.isr.len() <= 1 {
                s.isr.clone()
            } else {
                last
            },
        )
    };
    if leader == s.leader && isr == s.isr {
        return None;
    }
    Some(PartitionState {
        controller_epoch: s.controller_epoch,
        leader,
        version: 1,
        leader_epoch: s.leader_epoch + 1,
        isr,
    })
}

/// Runs the election loop forever: waits for `/controller` to be free, takes it, acts as controller
/// while it holds it.
pub async fn run(
    zk: Zk,
    broker_id: i32,
    mut view: watch::Receiver<Arc<ClusterView>>,
    rebalance_every: Option<Duration>,
) {
    loop {
        match try_elect(&zk, broker_id).await {
            Ok(Some(epoch)) => {
                tracing::info!(target: "kafka.controller.KafkaController", "[Controller id={broker_id}] {broker_id} successfully elected as the controller. Epoch incremented to {epoch}.");
                crate::logging::event(
                    "controller_elected",
                    broker_id,
                    json!({"controller_epoch": epoch}),
                );
                act(&zk, broker_id, epoch, &mut view, rebalance_every).await;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "kafka.controller.KafkaController", "[Controller id={broker_id}] Controller election failed: {e}.")
            }
        }
        let wait = view.wait_for(|v| v.controller.is_none());
        let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
    }
}

async fn try_elect(zk: &Zk, broker_id: i32) -> Result<Option<i32>, BrokerError> {
    let node = ControllerNode {
        version: 1,
        brokerid: broker_id,
        timestamp: crate::logging::now_ms().to_string(),
    };
    let body = serde_json::to_vec(&node).unwrap_or_default();
    if zk.create("/controller", &body, true).await?.is_none() {
        return Ok(None);
    }
    loop {
        match zk.get_raw("/controller_epoch").await? {
            None => {
                if zk.create("/controller_epoch", b"1", false).await?.is_some() {
                    return Ok(Some(1));
                }
            }
            Some((data, stat)) => {
                let epoch = String::from_utf8_lossy(&data)
                    .trim()
                    .parse::<i32>()
                    .unwrap_or(0)
                    + 1;
                if zk
                    .set(
                        "/controller_epoch",
                        epoch.to_string().as_bytes(),
                        Some(stat.version),
                    )
                    .await?
                    .is_some()
                {
                    return Ok(Some(epoch));
                }
            }
        }
    }
}

async fn act(
    zk: &Zk,
    broker_id: i32,
    epoch: i32,
    view: &mut watch::Receiver<Arc<ClusterView>>,
    rebalance_every: Option<Duration>,
) {
    let mut last_rebalance = Instant::now();
    loop {
        let snapshot = view.borrow_and_update().clone();
        if snapshot.controller.is_some_and(|c| c != broker_id) {
            tracing::info!(target: "kafka.controller.KafkaController", "[Controller id={broker_id}] Resigned: the controller is now {:?}.", snapshot.controller);
            return;
        }
        let rebalance = rebalance_every.is_some_and(|every| last_rebalance.elapsed() >= every);
        if rebalance {
            last_rebalance = Instant::now();
        }
        for change in plan(&snapshot, epoch, rebalance) {
            if let Err(e) = apply(zk, broker_id, &change).await {
                tracing::warn!(target: "kafka.controller.KafkaController", "[Controller id={broker_id}] Writing state of {}-{} failed: {e}.", change.topic, change.partition);
            }
        }
        if view.changed().await.is_err() {
            return;
        }
    }
}

async fn apply(zk: &Zk, broker_id: i32, change: &Change) -> Result<(), BrokerError> {
    let path = zk::state_path(&change.topic, change.partition);
    let body = serde_json::to_vec(&change.state).unwrap_or_default();
    let written = match change.expected_version {
        None => zk.create_with_parents(&path, &body).await?.is_some(),
        Some(v) => zk.set(&path, &body, Some(v)).await?.is_some(),
    };
    if written {
        let s = &change.state;
        tracing::info!(target: "state.change.logger", "[Controller id={broker_id}] Changed partition {}-{} state to leader {} epoch {} ISR {:?}.", change.topic, change.partition, s.leader, s.leader_epoch, s.isr);
        let event = if s.leader < 0 {
            "partition_offline"
        } else {
            "leader_elected"
        };
        crate::logging::event(
            event,
            broker_id,
            json!({"topic": change.topic, "partition": change.partition, "leader": s.leader, "leader_epoch": s.leader_epoch, "isr": s.isr}),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::metadata::{LiveBroker, PartitionMeta, TopicMeta};
    use crate::zk::BrokerRegistration;

    fn view(live: &[i32], state: Option<(i32, &[i32])>) -> ClusterView {
        let reg = BrokerRegistration {
            features: BTreeMap::new(),
            listener_security_protocol_map: BTreeMap::new(),
            endpoints: vec![],
            jmx_port: -1,
            port: -1,
            host: None,
            version: 5,
            timestamp: "0".into(),
            rack: None,
        };
        let brokers = live
            .iter()
            .map(|b| {
                (
                    *b,
                    LiveBroker {
                        reg: reg.clone(),
                        epoch: 1,
                    },
                )
            })
            .collect();
        let state = state.map(|(leader, isr)| PartitionState {
            controller_epoch: 1,
            leader,
            version: 1,
            leader_epoch: 5,
            isr: isr.to_vec(),
        });
        let pm = PartitionMeta {
            replicas: vec![1, 2, 3],
            state,
            zk_version: 7,
        };
        let topic = TopicMeta {
            id: uuid::Uuid::nil(),
            partitions: [(0, pm)].into(),
            config: BTreeMap::new(),
        };
        ClusterView {
            brokers,
            controller: Some(1),
            shutting_down: Default::default(),
            topics: [("t".to_string(), topic)].into(),
        }
    }

    fn one(v: &ClusterView) -> Option<(i32, i32, Vec<i32>)> {
        let changes = plan(v, 2, false);
        changes
            .first()
            .map(|c| (c.state.leader, c.state.leader_epoch, c.state.isr.clone()))
    }

    #[test]
    fn new_partition_gets_first_live_replica_and_all_live_in_isr() {
        assert_eq!(one(&view(&[2, 3], None)), Some((2, 0, vec![2, 3])));
        assert_eq!(one(&view(&[], None)), None);
    }

    #[test]
    fn dead_leader_is_replaced_from_isr_only() {
        assert_eq!(
            one(&view(&[2, 3], Some((1, &[1, 2, 3])))),
            Some((2, 6, vec![2, 3]))
        );
        // Replica 3 is alive but out of sync: no unclean election.
        assert_eq!(one(&view(&[3], Some((1, &[1, 2])))), Some((-1, 6, vec![1])));
        assert_eq!(one(&view(&[3], Some((-1, &[1])))), None);
        // The last in-sync replica comes back: it leads again.
        assert_eq!(one(&view(&[1, 3], Some((-1, &[1])))), Some((1, 6, vec![1])));
    }

    #[test]
    fn dead_follower_leaves_isr_and_steady_state_is_untouched() {
        assert_eq!(
            one(&view(&[1, 2], Some((1, &[1, 2, 3])))),
            Some((1, 6, vec![1, 2]))
        );
        assert_eq!(one(&view(&[1, 2, 3], Some((1, &[1, 2, 3])))), None);
        assert_eq!(
            one(&view(&[1, 2, 3], Some((1, &[1, 2])))),
            None,
            "catching up is the leader's business"
        );
    }

    #[test]
    fn controlled_shutdown_moves_leadership_and_isr() {
        let mut v = view(&[1, 2, 3], Some((1, &[1, 2, 3])));
        v.shutting_down.insert(1);
        assert_eq!(one(&v), Some((2, 6, vec![2, 3])));
        let mut v = view(&[1, 2, 3], Some((2, &[1, 2, 3])));
        v.shutting_down.insert(1);
        assert_eq!(one(&v), Some((2, 6, vec![2, 3])));
        let mut v = view(&[1, 2, 3], Some((1, &[1])));
        v.shutting_down.insert(1);
        assert_eq!(
            one(&v),
            None,
            "sole in-sync leader stays (remaining partition)"
        );
    }

    #[test]
    fn preferred_leader_returns_when_rebalancing() {
        let v = view(&[1, 2, 3], Some((2, &[1, 2, 3])));
        assert_eq!(plan(&v, 2, true).first().map(|c| c.state.leader), Some(1));
        assert!(plan(&v, 2, false).is_empty());
    }
}
