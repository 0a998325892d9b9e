//! The broker's metadata cache: a snapshot of the cluster as ZooKeeper describes it, reloaded on
//! every watch event (and periodically as a backstop). Real Kafka brokers learn this from the
//! controller's UpdateMetadata/LeaderAndIsr requests; lab brokers read ZooKeeper themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::watch;
use uuid::Uuid;

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
    let ids = zk.children("/brokers/ids").await?;
    let regs = join_all(ids.iter().map(|id| async move {
        let path = format!("/brokers/ids/{id}");
        (
            id.parse::<i32>().ok(),
            zk.get_json::<BrokerRegistration>(&path).await,
        )
    }))
    .await;
    let mut brokers = BTreeMap::new();
    for (id, reg) in regs {
        if let (Some(id), Some((reg, stat))) = (id, reg?) {
            brokers.insert(
                id,
                LiveBroker {
                    reg,
                    epoch: stat.czxid,
                },
            );
        }
    }
    let controller = zk
        .get_json::<ControllerNode>("/controller")
        .await?
        .map(|(c, _)| c.brokerid);
    let shutting_down = zk
        .children("/lab/controlled_shutdown")
        .await?
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
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

/// Loads the first snapshot and keeps it fresh from watches and a periodic reload.
pub async fn spawn_cache(
    zk: Zk,
    refresh: Duration,
) -> Result<watch::Receiver<Arc<ClusterView>>, BrokerError> {
    let mut watchers = Vec::new();
    for path in ["/brokers", "/controller", "/lab", "/config/topics"] {
        watchers.push(zk.watch(path).await?);
    }
    let (tx, rx) = watch::channel(Arc::new(load(&zk).await?));
    let (poke_tx, mut poke_rx) = tokio::sync::mpsc::channel::<()>(16);
    for mut watcher in watchers {
        let poke = poke_tx.clone();
        tokio::spawn(async move {
            loop {
                let _event = watcher.changed().await;
                if poke.send(()).await.is_err() {
                    break;
                }
            }
        });
    }
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(refresh, poke_rx.recv()).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            while poke_rx.try_recv().is_ok() {}
            match load(&zk).await {
                Ok(view) => {
                    tx.send_if_modified(|current| {
                        let changed = **current != view;
                        if changed {
                            *current = Arc::new(view);
                        }
                        changed
                    });
                }
                Err(e) => {
                    tracing::warn!(target: "kafka.server.MetadataCache", "Reading cluster metadata from ZooKeeper failed: {e}.")
                }
            }
            if tx.is_closed() {
                break;
            }
        }
    });
    Ok(rx)
}
