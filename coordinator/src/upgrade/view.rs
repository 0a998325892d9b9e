//! What the coordinator observes of the cluster at one moment: every inventory service with
//! what its agent reports, and Kafka's view (registered brokers, controller, partitions, ISR,
//! `min.insync.replicas`). Built fresh before every decision — the upgrade is level-triggered.

use std::collections::{BTreeMap, BTreeSet};

use kroll_shared::inventory::ServiceKind;
use kroll_shared::model::{Container, Disk};
use serde::Serialize;

/// One inventory service and what its agent reports about its container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceView {
    pub node: String,
    pub kind: ServiceKind,
    /// Container name from the inventory.
    pub name: String,
    pub broker_id: Option<i32>,
    pub zookeeper_id: Option<u32>,
    /// `None` when the agent does not report it (missing) or could not be asked.
    pub container: Option<Container>,
    /// `false` when the node's agent could not be asked.
    pub agent_reachable: bool,
}

impl ServiceView {
    /// The image reference the container runs, if known.
    pub fn image(&self) -> Option<&str> {
        self.container.as_ref().map(|c| c.image.as_str())
    }

    /// The value of an environment variable the agent reports.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.container
            .as_ref()
            .and_then(|c| c.env.get(key))
            .map(String::as_str)
    }

    /// `true` when the container is running.
    pub fn running(&self) -> bool {
        self.container.as_ref().is_some_and(Container::is_running)
    }
}

/// One partition as Kafka's metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionView {
    pub topic: String,
    pub partition: i32,
    /// -1 when offline.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

impl PartitionView {
    /// Fewer in-sync replicas than replicas.
    pub fn under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }

    /// No leader.
    pub fn offline(&self) -> bool {
        self.leader < 0
    }
}

/// Kafka's view of itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct KafkaView {
    /// Brokers registered in ZooKeeper (`/brokers/ids`).
    pub registered: BTreeSet<i32>,
    /// The controller (`/controller`), if any.
    pub controller: Option<i32>,
    pub partitions: Vec<PartitionView>,
    /// `min.insync.replicas` per topic (topics not listed use `default_min_isr`).
    pub min_isr: BTreeMap<String, usize>,
    pub default_min_isr: usize,
}

impl KafkaView {
    /// `min.insync.replicas` of a topic.
    pub fn min_isr_of(&self, topic: &str) -> usize {
        self.min_isr
            .get(topic)
            .copied()
            .unwrap_or(self.default_min_isr)
    }

    /// Partitions with fewer in-sync replicas than replicas.
    pub fn under_replicated(&self) -> impl Iterator<Item = &PartitionView> {
        self.partitions.iter().filter(|p| p.under_replicated())
    }

    /// Partitions without a leader.
    pub fn offline(&self) -> impl Iterator<Item = &PartitionView> {
        self.partitions.iter().filter(|p| p.offline())
    }
}

/// The whole cluster at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterView {
    pub services: Vec<ServiceView>,
    /// `None` when Kafka could not be asked.
    pub kafka: Option<KafkaView>,
    /// Agents that could not be asked, with the reason.
    pub unreachable: BTreeMap<String, String>,
    /// Kafka could not be asked: why.
    pub kafka_error: Option<String>,
    /// The filesystems each reachable node reported.
    pub disks: BTreeMap<String, Vec<Disk>>,
}

impl ClusterView {
    /// The brokers, in broker-id order.
    pub fn brokers(&self) -> Vec<&ServiceView> {
        let mut b: Vec<&ServiceView> = self
            .services
            .iter()
            .filter(|s| s.kind == ServiceKind::Broker)
            .collect();
        b.sort_by_key(|s| s.broker_id);
        b
    }

    /// Services of one kind, in inventory order.
    pub fn of_kind(&self, kind: ServiceKind) -> Vec<&ServiceView> {
        self.services.iter().filter(|s| s.kind == kind).collect()
    }

    /// The filesystems `node` reported.
    pub fn disks_of(&self, node: &str) -> Option<&[Disk]> {
        self.disks.get(node).map(Vec::as_slice)
    }

    /// The service in `container`.
    pub fn service(&self, container: &str) -> Option<&ServiceView> {
        self.services.iter().find(|s| s.name == container)
    }
}
