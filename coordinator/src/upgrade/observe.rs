//! Observing the cluster for the upgrade: every agent at once (what runs where) and Kafka's own
//! state where it is authoritative — registered brokers, the controller, and every partition's
//! replicas, leader and ISR from ZooKeeper (`/brokers/ids`, `/controller`, `/brokers/topics/…`,
//! the znodes Kafka's controller writes before any broker's metadata cache hears of a change;
//! see [`super::zk_state`]) — and `min.insync.replicas` per topic (DescribeConfigs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use kroll_shared::inventory::Inventory;
use kroll_shared::tls::TlsMaterial;
use zookeeper_client as zk;

use super::view::{ClusterView, KafkaView, PartitionView, ServiceView};
use super::zk_state::ZkMirror;
use crate::agents::AgentPool;
use crate::kafka::KafkaConnection;
use crate::kafka::admin::KafkaAdmin;

/// Kafka's default `min.insync.replicas`, for a view's topics without an observed value; there
/// are none: every topic's DescribeConfigs answers its effective value (its own, the broker's,
/// or this), and a topic it does not answer fails the observation.
const DEFAULT_MIN_ISR: usize = 1;

/// Asks every agent for its node and builds the service part of a view.
pub async fn observe_services(inv: &Inventory, tls: &TlsMaterial, pool: &AgentPool) -> Services {
    let reports = pool.query_all(inv, tls).await;
    let mut services = Vec::new();
    let mut unreachable = BTreeMap::new();
    let mut disks = BTreeMap::new();
    for r in reports {
        let state = match &r.state {
            Ok(s) => {
                disks.insert(r.node.name.clone(), s.disks.clone());
                Some(s)
            }
            Err(e) => {
                unreachable.insert(r.node.name.clone(), e.kind.to_string());
                None
            }
        };
        for s in &r.node.services {
            services.push(ServiceView {
                node: r.node.name.clone(),
                kind: s.kind,
                name: s.container.clone(),
                broker_id: s.broker_id,
                zookeeper_id: s.zookeeper_id,
                container: state.and_then(|st| st.container(&s.container)).cloned(),
                agent_reachable: state.is_some(),
            });
        }
    }
    Services {
        services,
        unreachable,
        disks,
    }
}

/// The agents' part of a view.
#[derive(Debug, Clone)]
pub struct Services {
    pub services: Vec<ServiceView>,
    pub unreachable: BTreeMap<String, String>,
    pub disks: BTreeMap<String, Vec<kroll_shared::model::Disk>>,
}

/// Kafka and ZooKeeper, observed.
pub struct KafkaProbe {
    admin: KafkaAdmin,
    zk_connect: String,
    /// The session and what it mirrors of ZooKeeper (dropped on any error; rebuilt next time).
    zk: tokio::sync::Mutex<Option<(zk::Client, ZkMirror)>>,
    min_isr: Mutex<BTreeMap<String, usize>>,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaProbe")
            .field("kafka", self.admin.connection())
            .field("zookeeper", &self.zk_connect)
            .finish()
    }
}

impl KafkaProbe {
    /// A probe for the cluster `connection` reaches, whose ZooKeeper is `zookeeper`
    /// (`host:port[,host:port…][/chroot]`).
    pub fn new(
        connection: KafkaConnection,
        zookeeper: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            admin: KafkaAdmin::new(connection)?,
            zk_connect: zookeeper.to_owned(),
            zk: tokio::sync::Mutex::new(None),
            min_isr: Mutex::default(),
            timeout,
        })
    }

    /// One fresh observation, all from ZooKeeper (registered brokers, controller, every
    /// partition's assignment, leader and ISR — see [`super::zk_state`]), plus
    /// `min.insync.replicas` of topics not seen before.
    pub async fn observe(&self) -> Result<KafkaView, String> {
        let began = std::time::Instant::now();
        let (registered, controller, partitions) = self.zookeeper().await?;
        let read = began.elapsed();
        let min_isr = self.min_isr_of(&partitions).await?;
        tracing::debug!(
            zookeeper_ms = read.as_millis() as u64,
            partitions = partitions.len(),
            min_isr_ms = (began.elapsed() - read).as_millis() as u64,
            "observed Kafka"
        );
        Ok(KafkaView {
            registered,
            controller,
            partitions,
            min_isr,
            default_min_isr: DEFAULT_MIN_ISR,
        })
    }

    async fn zookeeper(&self) -> Result<ZkView, String> {
        let mut guard = self.zk.lock().await;
        let result = tokio::time::timeout(self.timeout, async {
            if guard.is_none() {
                let client = self.connect_zk().await?;
                let mirror = ZkMirror::start(&client).await.map_err(|e| e.to_string())?;
                *guard = Some((client, mirror));
            }
            let (client, mirror) = guard.as_mut().ok_or("no ZooKeeper session")?;
            mirror.refresh(client).await.map_err(|e| e.to_string())?;
            tracing::debug!(zookeeper_requests = mirror.requests(), "ZooKeeper mirrored");
            Ok::<_, String>((
                mirror.registered().clone(),
                mirror.controller(),
                mirror.partitions(),
            ))
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)));
        if result.is_err() {
            // A broken session is dropped with its mirror; the next observation starts afresh.
            *guard = None;
        }
        result.map_err(|e| format!("ZooKeeper {}: {e}", self.zk_connect))
    }

    async fn connect_zk(&self) -> Result<zk::Client, String> {
        let (hosts, chroot) = match self.zk_connect.split_once('/') {
            Some((h, c)) => (h.to_owned(), Some(format!("/{c}"))),
            None => (self.zk_connect.clone(), None),
        };
        let connect = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(&hosts);
        let root = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| format!("ZooKeeper {hosts}: no session within {:?}", self.timeout))?
            .map_err(|e| format!("ZooKeeper {hosts}: {e}"))?;
        match chroot {
            Some(c) => root
                .chroot(c.clone())
                .map_err(|_| format!("ZooKeeper {hosts}: invalid chroot {c}")),
            None => Ok(root),
        }
    }

    /// `min.insync.replicas` of every topic seen, asked once per topic.
    async fn min_isr_of(
        &self,
        partitions: &[PartitionView],
    ) -> Result<BTreeMap<String, usize>, String> {
        let topics: BTreeSet<&str> = partitions.iter().map(|p| p.topic.as_str()).collect();
        let unknown: Vec<&str> = {
            let cache = self.min_isr.lock().map_err(|_| "min ISR cache poisoned")?;
            topics
                .iter()
                .copied()
                .filter(|t| !cache.contains_key(*t))
                .collect()
        };
        if !unknown.is_empty() {
            // Never a default for a topic Kafka would not describe: a gate that assumed 1
            // where the topic says 2 could stop a broker its partitions cannot lose.
            let answers = self
                .admin
                .topic_config(&unknown, "min.insync.replicas", self.timeout)
                .await?;
            let mut read = Vec::new();
            for (topic, answer) in unknown.iter().zip(answers) {
                let v = answer?;
                let value = v.parse().map_err(|_| {
                    format!("topic {topic}: min.insync.replicas `{v}` is not a number")
                })?;
                read.push(((*topic).to_owned(), value));
            }
            let mut cache = self.min_isr.lock().map_err(|_| "min ISR cache poisoned")?;
            cache.extend(read);
        }
        let cache = self.min_isr.lock().map_err(|_| "min ISR cache poisoned")?;
        Ok(topics
            .iter()
            .filter_map(|t| cache.get(*t).map(|v| ((*t).to_owned(), *v)))
            .collect())
    }
}

/// Registered brokers, the controller and every partition, as ZooKeeper holds them.
type ZkView = (BTreeSet<i32>, Option<i32>, Vec<PartitionView>);

/// Observes the whole cluster: agents and Kafka concurrently.
pub async fn observe(
    inv: &Inventory,
    tls: &TlsMaterial,
    kafka: &KafkaProbe,
    pool: &AgentPool,
) -> ClusterView {
    let began = std::time::Instant::now();
    let agents = async {
        let s = observe_services(inv, tls, pool).await;
        tracing::debug!(
            agents = inv.nodes.len(),
            agents_ms = began.elapsed().as_millis() as u64,
            "observed the agents"
        );
        s
    };
    let (s, kafka_view) = tokio::join!(agents, kafka.observe());
    let (kafka, kafka_error) = match kafka_view {
        Ok(k) => (Some(k), None),
        Err(e) => (None, Some(e)),
    };
    ClusterView {
        services: s.services,
        kafka,
        unreachable: s.unreachable,
        kafka_error,
        disks: s.disks,
    }
}

/// The cluster-wide lock: an ephemeral znode naming the run, held by a ZooKeeper session for
/// as long as the coordinator lives. A second coordinator on any machine is refused; a
/// coordinator that dies releases it when its session expires; one that ends gives it back
/// ([`ClusterLock::release`]) so the next command need not wait for that expiry.
pub struct ClusterLock {
    client: zk::Client,
    /// The version of the node this lock created (a release deletes only that node).
    version: i32,
}

impl std::fmt::Debug for ClusterLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterLock")
    }
}

/// The lock's path (inside the brokers' chroot).
pub const LOCK_PATH: &str = "/kroll-upgrade-lock";

impl ClusterLock {
    /// Takes the lock for `run_id` or says who holds it.
    pub async fn acquire(probe: &KafkaProbe, run_id: &str) -> Result<Self, String> {
        let client = probe.connect_zk().await?;
        let holder = serde_json::json!({
            "run": run_id,
            "host": std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim(),
            "pid": std::process::id(),
        });
        let opts = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
        for _ in 0..2 {
            match client
                .create(LOCK_PATH, holder.to_string().as_bytes(), &opts)
                .await
            {
                Ok((stat, _)) => {
                    return Ok(Self {
                        client,
                        version: stat.version,
                    });
                }
                Err(zk::Error::NodeExists) => {
                    let (data, stat) = client
                        .get_data(LOCK_PATH)
                        .await
                        .map_err(|e| format!("reading {LOCK_PATH}: {e}"))?;
                    let who: serde_json::Value = serde_json::from_slice(&data).unwrap_or_default();
                    // The same run, held by a coordinator that died: resuming a run requires its
                    // directory's lock (held by us now), so no live coordinator runs it.
                    if who["run"] == run_id {
                        let _ = client.delete(LOCK_PATH, Some(stat.version)).await;
                        continue;
                    }
                    return Err(format!(
                        "another kroll coordinator is upgrading this cluster ({who}); two must never run at once — wait for it, or if it died, its lock goes away within the ZooKeeper session timeout"
                    ));
                }
                Err(e) => {
                    return Err(format!(
                        "taking the cluster lock {LOCK_PATH} in ZooKeeper {}: {e}",
                        probe.zk_connect
                    ));
                }
            }
        }
        Err(format!(
            "the cluster lock {LOCK_PATH} changed hands while kroll was taking it; run again"
        ))
    }

    /// Gives the lock back now. Without this the node would go only with the session, which
    /// can outlive the process by its timeout: a `kroll upgrade` right after a `kroll rollback`
    /// was refused as "another kroll coordinator is upgrading this cluster". Best effort: what
    /// is not deleted goes with the session.
    pub async fn release(self) {
        let deleted = tokio::time::timeout(
            Duration::from_secs(5),
            self.client.delete(LOCK_PATH, Some(self.version)),
        )
        .await;
        if !matches!(deleted, Ok(Ok(()))) {
            tracing::debug!("the cluster lock was left to its session: {deleted:?}");
        }
    }
}
