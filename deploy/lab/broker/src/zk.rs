//! ZooKeeper access with Kafka 3.x's znode layout and JSON: broker registration, controller,
//! topic assignments, partition state, topic configs — plus the lab's group offsets.
//!
//! Client: `zookeeper-client` (async, tokio-capable, pipelined requests, chroot support,
//! persistent recursive watches of ZooKeeper 3.6+, explicit session states).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zookeeper_client::{
    Acls, AddWatchMode, Client, CreateMode, Error as ZkError, EventType, PersistentWatcher,
    SessionState, Stat, WatchedEvent,
};

use crate::config::Config;
use crate::error::BrokerError;

/// `/brokers/ids/<id>` (version 5, Kafka 2.7+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    /// Supported features (empty in ZooKeeper mode without finalized features).
    #[serde(default)]
    pub features: BTreeMap<String, serde_json::Value>,
    /// Listener name → security protocol.
    pub listener_security_protocol_map: BTreeMap<String, String>,
    /// `NAME://host:port` per advertised listener.
    pub endpoints: Vec<String>,
    /// JMX port or -1.
    pub jmx_port: i32,
    /// Legacy PLAINTEXT port.
    pub port: i32,
    /// Legacy PLAINTEXT host.
    pub host: Option<String>,
    /// Schema version (5).
    pub version: i32,
    /// Registration time, ms since epoch, as a string like Kafka writes it.
    pub timestamp: String,
    /// Rack, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack: Option<String>,
}

impl BrokerRegistration {
    /// The registration a broker with `cfg` writes.
    pub fn for_config(cfg: &Config) -> Self {
        let endpoints = cfg
            .advertised
            .iter()
            .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
            .collect();
        let plaintext = cfg.advertised.iter().find(|l| {
            cfg.protocol_map
                .get(&l.name)
                .is_some_and(|p| p == "PLAINTEXT")
        });
        let map = cfg
            .advertised
            .iter()
            .filter_map(|l| Some((l.name.clone(), cfg.protocol_map.get(&l.name)?.clone())))
            .collect();
        Self {
            features: BTreeMap::new(),
            listener_security_protocol_map: map,
            endpoints,
            jmx_port: cfg
                .props
                .get("jmx.port")
                .and_then(|p| p.parse().ok())
                .unwrap_or(-1),
            port: plaintext.map_or(-1, |l| i32::from(l.port)),
            host: plaintext.map(|l| l.host.clone()),
            version: 5,
            timestamp: crate::logging::now_ms().to_string(),
            rack: cfg.props.get("broker.rack").cloned(),
        }
    }

    /// Host and port of the named listener.
    pub fn endpoint(&self, listener: &str) -> Option<(String, u16)> {
        self.endpoints.iter().find_map(|e| {
            let (name, addr) = e.split_once("://")?;
            let (host, port) = addr.rsplit_once(':')?;
            (name == listener)
                .then(|| (host.to_string(), port.parse().ok()))
                .and_then(|(h, p)| Some((h, p?)))
        })
    }
}

/// `/controller`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerNode {
    /// Schema version (1).
    pub version: i32,
    /// The controller's broker id.
    pub brokerid: i32,
    /// Election time (ms since epoch, as a string).
    pub timestamp: String,
}

/// `/brokers/topics/<t>/partitions/<p>/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Controller epoch of the last writer.
    pub controller_epoch: i32,
    /// Leader broker id, -1 if none.
    pub leader: i32,
    /// Schema version (1).
    pub version: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

/// `/brokers/topics/<t>` (version 3, with topic id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicNode {
    /// Partition → replicas.
    pub partitions: BTreeMap<String, Vec<i32>>,
    /// Topic id, base64 URL-safe without padding.
    #[serde(default)]
    pub topic_id: Option<String>,
    /// Reassignment state (always empty in the lab).
    #[serde(default)]
    pub adding_replicas: BTreeMap<String, Vec<i32>>,
    /// Reassignment state (always empty in the lab).
    #[serde(default)]
    pub removing_replicas: BTreeMap<String, Vec<i32>>,
    /// Schema version (3).
    pub version: i32,
}

/// `/config/topics/<t>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfigNode {
    /// Schema version (1).
    pub version: i32,
    /// Overrides.
    pub config: BTreeMap<String, String>,
}

/// Persistent paths Kafka creates at startup (the subset the lab uses or shows).
const PERSISTENT_PATHS: &[&str] = &[
    "/consumers",
    "/admin/delete_topics",
    "/brokers/ids",
    "/brokers/topics",
    "/brokers/seqid",
    "/config/changes",
    "/config/clients",
    "/config/topics",
    "/config/users",
    "/config/brokers",
    "/isr_change_notification",
    "/latest_producer_id_block",
    "/log_dir_event_notification",
    "/lab/controlled_shutdown",
];

/// A ZooKeeper session rooted at the broker's chroot.
#[derive(Debug, Clone)]
pub struct Zk {
    client: Client,
}

impl Zk {
    /// Connects, creates the chroot if missing (as Kafka does) and the persistent paths.
    pub async fn connect(cfg: &Config) -> Result<Self, BrokerError> {
        let timeout = std::time::Duration::from_millis(cfg.zk_session_timeout_ms());
        let root = Client::connector()
            .with_session_timeout(timeout)
            .connect(&cfg.zk_hosts)
            .await
            .map_err(BrokerError::zk("connect", &cfg.zk_hosts))?;
        let client = match &cfg.zk_chroot {
            Some(chroot) => {
                root.mkdir(chroot, &persistent())
                    .await
                    .map_err(BrokerError::zk("create chroot", chroot))?;
                root.chroot(chroot.as_str())
                    .map_err(|_| BrokerError::Config {
                        key: "zookeeper.connect".into(),
                        reason: format!("invalid chroot {chroot}"),
                    })?
            }
            None => root,
        };
        let zk = Self { client };
        for path in PERSISTENT_PATHS {
            zk.client
                .mkdir(path, &persistent())
                .await
                .map_err(BrokerError::zk("mkdir", path))?;
        }
        Ok(zk)
    }

    /// The underlying client (session state, watches).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Reads and parses JSON; `None` if the node does not exist.
    pub async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
    ) -> Result<Option<(T, Stat)>, BrokerError> {
        match self.client.get_data(path).await {
            Ok((data, stat)) => {
                let value = serde_json::from_slice(&data)
                    .map_err(|e| BrokerError::Storage(format!("znode {path}: {e}")))?;
                Ok(Some((value, stat)))
            }
            Err(ZkError::NoNode) => Ok(None),
            Err(e) => Err(BrokerError::zk("get", path)(e)),
        }
    }

    /// Raw data; `None` if missing.
    pub async fn get_raw(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>, BrokerError> {
        match self.client.get_data(path).await {
            Ok(found) => Ok(Some(found)),
            Err(ZkError::NoNode) => Ok(None),
            Err(e) => Err(BrokerError::zk("get", path)(e)),
        }
    }

    /// Children names; empty if the node does not exist.
    pub async fn children(&self, path: &str) -> Result<Vec<String>, BrokerError> {
        match self.client.list_children(path).await {
            Ok(children) => Ok(children),
            Err(ZkError::NoNode) => Ok(Vec::new()),
            Err(e) => Err(BrokerError::zk("list", path)(e)),
        }
    }

    /// Creates a node (parents must exist). `Ok(None)` if it already exists.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        ephemeral: bool,
    ) -> Result<Option<Stat>, BrokerError> {
        let options = if ephemeral {
            CreateMode::Ephemeral.with_acls(Acls::anyone_all())
        } else {
            persistent()
        };
        match self.client.create(path, data, &options).await {
            Ok((stat, _)) => Ok(Some(stat)),
            Err(ZkError::NodeExists) => Ok(None),
            Err(e) => Err(BrokerError::zk("create", path)(e)),
        }
    }

    /// Creates a persistent node and its missing parents.
    pub async fn create_with_parents(
        &self,
        path: &str,
        data: &[u8],
    ) -> Result<Option<Stat>, BrokerError> {
        if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
            self.client
                .mkdir(parent, &persistent())
                .await
                .map_err(BrokerError::zk("mkdir", parent))?;
        }
        self.create(path, data, false).await
    }

    /// Conditional (or unconditional with `None`) write. `Ok(None)` on a version conflict or missing node.
    pub async fn set(
        &self,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> Result<Option<Stat>, BrokerError> {
        match self.client.set_data(path, data, version).await {
            Ok(stat) => Ok(Some(stat)),
            Err(ZkError::BadVersion | ZkError::NoNode) => Ok(None),
            Err(e) => Err(BrokerError::zk("set", path)(e)),
        }
    }

    /// Deletes a node if it exists.
    pub async fn delete(&self, path: &str) -> Result<(), BrokerError> {
        match self.client.delete(path, None).await {
            Ok(()) | Err(ZkError::NoNode) => Ok(()),
            Err(e) => Err(BrokerError::zk("delete", path)(e)),
        }
    }

    /// A persistent recursive watch of `path` that lasts through reconnections ([`RecursiveWatch`]).
    pub async fn watch(&self, path: &str) -> Result<RecursiveWatch, BrokerError> {
        let watcher = self.add_watch(path).await?;
        Ok(RecursiveWatch {
            zk: self.clone(),
            path: path.to_owned(),
            watcher: Some(watcher),
        })
    }

    async fn add_watch(&self, path: &str) -> Result<PersistentWatcher, BrokerError> {
        self.client
            .watch(path, AddWatchMode::PersistentRecursive)
            .await
            .map_err(BrokerError::zk("watch", path))
    }

    /// `/cluster/id`, created on first start like Kafka.
    pub async fn cluster_id(&self) -> Result<String, BrokerError> {
        #[derive(Serialize, Deserialize)]
        struct ClusterId {
            version: String,
            id: String,
        }
        if let Some((found, _)) = self.get_json::<ClusterId>("/cluster/id").await? {
            return Ok(found.id);
        }
        let id = base64_url(uuid::Uuid::new_v4().as_bytes());
        let body = serde_json::to_vec(&ClusterId {
            version: "1".into(),
            id,
        })
        .unwrap_or_default();
        self.create_with_parents("/cluster/id", &body).await?;
        let (found, _) = self
            .get_json::<ClusterId>("/cluster/id")
            .await?
            .ok_or_else(|| BrokerError::Storage("no /cluster/id".into()))?;
        Ok(found.id)
    }
}

/// A persistent recursive watch that is registered again after every reconnection.
///
/// ZooKeeper ties watches to the connection; a client that reconnects its session must register
/// them again (`SetWatches`). zookeeper-client 0.11.2 sends only the one-shot watches there
/// (`resend_watches` never raises its index past the data, exist and child lists), so after a
/// ZooKeeper restart or a move to another server of the ensemble a persistent watch reports
/// nothing more, silently. [`RecursiveWatch::next`] therefore adds the watch again when the
/// session is connected again, before it reports that session event: events from the
/// disconnection to the new registration are lost, so a caller reads what it follows again on
/// every session event — and then misses nothing after it.
#[derive(Debug)]
pub struct RecursiveWatch {
    zk: Zk,
    path: String,
    /// `None` once the session ended.
    watcher: Option<PersistentWatcher>,
}

impl RecursiveWatch {
    /// The next event: a node event under the path (chroot-relative), or a session event (after
    /// a reconnection, once the watch is registered again). `None` once the session ended.
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        let event = self.watcher.as_mut()?.changed().await;
        if event.event_type != EventType::Session {
            return Some(event);
        }
        if event.session_state.is_terminated() {
            // The client's watcher panics when asked again after a terminal state.
            self.watcher = None;
            return None;
        }
        if event.session_state == SessionState::SyncConnected {
            self.rearm().await?;
        }
        Some(event)
    }

    /// Registers the watch again (the new watcher first, so dropping the old one removes
    /// nothing on the server); `None` if the session ended meanwhile.
    async fn rearm(&mut self) -> Option<()> {
        loop {
            match self.zk.add_watch(&self.path).await {
                Ok(watcher) => {
                    self.watcher = Some(watcher);
                    tracing::info!(target: "kafka.zookeeper.ZooKeeperClient", "[ZooKeeperClient Kafka server] Watch of {} registered again after a reconnection.", self.path);
                    return Some(());
                }
                Err(_) if self.zk.client.state().is_terminated() => {
                    self.watcher = None;
                    return None;
                }
                Err(e) => {
                    tracing::warn!(target: "kafka.zookeeper.ZooKeeperClient", "[ZooKeeperClient Kafka server] Registering the watch again failed: {e}; retrying.");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    }
}

fn persistent() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

/// Path of a topic's assignment.
pub fn topic_path(topic: &str) -> String {
    format!("/brokers/topics/{topic}")
}

/// Path of a partition's state.
pub fn state_path(topic: &str, partition: i32) -> String {
    format!("/brokers/topics/{topic}/partitions/{partition}/state")
}

/// Base64 URL-safe without padding (Kafka's `Uuid.toString`).
pub fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Inverse of [`base64_url`].
pub fn base64_url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    for chunk in text.trim_end_matches('=').as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_round_trip_through_kafka_base64() {
        let id = uuid::Uuid::new_v4();
        let text = base64_url(id.as_bytes());
        assert_eq!(text.len(), 22);
        assert_eq!(
            base64_url_decode(&text).expect("decode"),
            id.as_bytes().to_vec()
        );
    }

    #[test]
    fn json_matches_kafka_znodes() {
        let state: PartitionState = serde_json::from_str(
            r#"{"controller_epoch":3,"leader":1,"version":1,"leader_epoch":7,"isr":[1,2]}"#,
        )
        .expect("state");
        assert_eq!(state.isr, vec![1, 2]);
        let topic: TopicNode = serde_json::from_str(
            r#"{"partitions":{"0":[1,2,3]},"topic_id":"AAAAAAAAAAAAAAAAAAAAAA","adding_replicas":{},"removing_replicas":{},"version":3}"#,
        )
        .expect("topic");
        assert_eq!(topic.partitions["0"], vec![1, 2, 3]);
        let reg: BrokerRegistration = serde_json::from_str(
            r#"{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://kafka-01:29091"],"jmx_port":-1,"port":29091,"host":"kafka-01","version":5,"timestamp":"1"}"#,
        )
        .expect("registration");
        assert_eq!(
            reg.endpoint("PLAINTEXT"),
            Some(("kafka-01".to_string(), 29091))
        );
    }
}
