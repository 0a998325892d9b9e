//! What the lab asks its Kafka cluster and ZooKeeper (through real clients: rdkafka, a
//! ZooKeeper client and ZooKeeper's four-letter words) to know it is ready — also used by the
//! lab's tests.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One partition as Metadata reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionMeta {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

impl PartitionMeta {
    /// Whether every replica is in the ISR.
    pub fn fully_replicated(&self) -> bool {
        self.leader >= 0 && self.replicas.iter().all(|r| self.isr.contains(r))
    }
}

/// A Metadata answer: brokers and topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterMeta {
    pub brokers: Vec<i32>,
    pub topics: BTreeMap<String, Vec<PartitionMeta>>,
}

impl ClusterMeta {
    /// `topic/partition` of every partition not fully replicated.
    pub fn under_replicated(&self) -> Vec<String> {
        self.topics
            .iter()
            .flat_map(|(t, ps)| {
                ps.iter()
                    .filter(|p| !p.fully_replicated())
                    .map(move |p| format!("{t}/{}", p.id))
            })
            .collect()
    }
}

/// Asks the cluster at `bootstrap` for Metadata of every topic (rdkafka, blocking work on the
/// blocking pool).
pub async fn metadata(bootstrap: &[String], timeout: Duration) -> Result<ClusterMeta, String> {
    metadata_with(bootstrap, timeout, Vec::new()).await
}

/// [`metadata`] with more client settings (`security.protocol`, a SASL login: the password
/// goes into the client's configuration only).
pub async fn metadata_with(
    bootstrap: &[String],
    timeout: Duration,
    settings: Vec<(&'static str, String)>,
) -> Result<ClusterMeta, String> {
    let servers = bootstrap.join(",");
    tokio::task::spawn_blocking(move || metadata_configured(&servers, timeout, &settings))
        .await
        .map_err(|e| e.to_string())?
}

fn metadata_blocking(servers: &str, timeout: Duration) -> Result<ClusterMeta, String> {
    metadata_configured(servers, timeout, &[])
}

fn metadata_configured(
    servers: &str,
    timeout: Duration,
    settings: &[(&'static str, String)],
) -> Result<ClusterMeta, String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", servers)
        .set("socket.timeout.ms", "3000")
        .set("log_level", "3");
    for (k, v) in settings {
        config.set(*k, v);
    }
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    let md = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| format!("Metadata from {servers}: {e}"))?;
    let mut brokers: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
    brokers.sort_unstable();
    let topics = md
        .topics()
        .iter()
        .map(|t| {
            let mut ps: Vec<PartitionMeta> = t
                .partitions()
                .iter()
                .map(|p| PartitionMeta {
                    id: p.id(),
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                })
                .collect();
            ps.sort_by_key(|p| p.id);
            (t.name().to_owned(), ps)
        })
        .collect();
    Ok(ClusterMeta { brokers, topics })
}

/// Whether the ZooKeeper server at `addr` serves requests: its `srvr` answer names a mode
/// (`standalone`, `leader` or `follower`; a server of an ensemble without quorum answers that
/// it is not serving).
pub async fn zookeeper_ok(addr: &str) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"srvr").await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        Some(String::from_utf8_lossy(&buf).contains("\nMode: "))
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The broker id in `/kafka/controller` (read with a ZooKeeper client), if there is one.
pub async fn controller(zookeeper: &str) -> Result<Option<i32>, String> {
    let client = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(6))
        .connect(&format!("{zookeeper}{}", crate::KAFKA_CHROOT))
        .await
        .map_err(|e| format!("ZooKeeper {zookeeper}: {e}"))?;
    match client.get_data("/controller").await {
        Ok((data, _)) => {
            let v: serde_json::Value =
                serde_json::from_slice(&data).map_err(|e| format!("/kafka/controller: {e}"))?;
            Ok(v["brokerid"].as_i64().and_then(|i| i32::try_from(i).ok()))
        }
        Err(zookeeper_client::Error::NoNode) => Ok(None),
        Err(e) => Err(format!(
            "ZooKeeper {zookeeper}: reading /kafka/controller: {e}"
        )),
    }
}

/// One ACL entry in Kafka's znode format (`/kafka-acl/<ResourceType>/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AclEntry {
    /// `User:kroll`, `User:*`.
    pub principal: String,
    /// `Allow` or `Deny`.
    pub permission_type: String,
    /// `Read`, `Write`, `Describe`, `DescribeConfigs`, `ClusterAction`, `All`, ...
    pub operation: String,
    /// `*` or an IP address.
    pub host: String,
}

impl AclEntry {
    /// An Allow from any host.
    pub fn allow(principal: &str, operation: &str) -> Self {
        Self {
            principal: principal.into(),
            permission_type: "Allow".into(),
            operation: operation.into(),
            host: "*".into(),
        }
    }
}

/// Writes (replaces) the literal ACLs of one resource (`Topic`/`Group`/`Cluster`, name;
/// `kafka-cluster` for the cluster) into ZooKeeper under the Kafka chroot, in the znode format
/// `kafka-acls --authorizer-properties zookeeper.connect=...` writes and the lab broker's
/// `acl.rs` reads (`{"version":1,"acls":[{"principal":…,"permissionType":…,"operation":…,
/// "host":…}]}` at `/kafka-acl/<type>/<name>`); an empty list deletes them. Works before any
/// broker ran: the chroot is created when missing, as a broker would. The lab brokers pick the
/// ACLs up at start, on the znodes' watch and on their periodic refresh (Kafka's own would need
/// an `/kafka-acl-changes` notification too, which this does not write).
pub async fn set_acls(
    zookeeper: &str,
    resource_type: &str,
    name: &str,
    acls: &[AclEntry],
) -> Result<(), String> {
    let options = open_options();
    let client = kafka_root(zookeeper).await?;
    let dir = format!("/kafka-acl/{resource_type}");
    let path = format!("{dir}/{name}");
    let err = |what: &str, e: zookeeper_client::Error| {
        format!("ZooKeeper {zookeeper}: {what} {path}: {e}")
    };
    if acls.is_empty() {
        return match client.delete(&path, None).await {
            Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
            Err(e) => Err(err("deleting", e)),
        };
    }
    let body = serde_json::to_vec(&serde_json::json!({"version": 1, "acls": acls}))
        .map_err(|e| format!("encoding ACLs for {path}: {e}"))?;
    client
        .mkdir(&dir, &options)
        .await
        .map_err(|e| err("creating the parent of", e))?;
    match client.create(&path, &body, &options).await {
        Ok(_) => Ok(()),
        Err(zookeeper_client::Error::NodeExists) => client
            .set_data(&path, &body, None)
            .await
            .map(|_| ())
            .map_err(|e| err("writing", e)),
        Err(e) => Err(err("creating", e)),
    }
}

fn open_options() -> zookeeper_client::CreateOptions<'static> {
    zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all())
}

/// A ZooKeeper session at `zookeeper` rooted at Kafka's chroot (created when no broker has run
/// yet).
async fn kafka_root(zookeeper: &str) -> Result<zookeeper_client::Client, String> {
    let root = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(6))
        .connect(zookeeper)
        .await
        .map_err(|e| format!("ZooKeeper {zookeeper}: {e}"))?;
    root.mkdir(crate::KAFKA_CHROOT, &open_options())
        .await
        .map_err(|e| {
            format!(
                "ZooKeeper {zookeeper}: creating {}: {e}",
                crate::KAFKA_CHROOT
            )
        })?;
    root.chroot(crate::KAFKA_CHROOT)
        .map_err(|_| format!("ZooKeeper {zookeeper}: chroot {}", crate::KAFKA_CHROOT))
}

/// Writes `body` at `path` under Kafka's chroot (parents created), replacing what was there.
pub async fn set_znode(zookeeper: &str, path: &str, body: &[u8]) -> Result<(), String> {
    let client = kafka_root(zookeeper).await?;
    let options = open_options();
    let err = |what: &str, e: zookeeper_client::Error| {
        format!("ZooKeeper {zookeeper}: {what} {path}: {e}")
    };
    if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
        client
            .mkdir(parent, &options)
            .await
            .map_err(|e| err("creating the parent of", e))?;
    }
    match client.create(path, body, &options).await {
        Ok(_) => Ok(()),
        Err(zookeeper_client::Error::NodeExists) => client
            .set_data(path, body, None)
            .await
            .map(|_| ())
            .map_err(|e| err("writing", e)),
        Err(e) => Err(err("creating", e)),
    }
}

/// The sum of `group`'s committed offsets over every partition of `topics` (0 where nothing
/// is committed) — OffsetFetch through rdkafka, without joining the group.
pub async fn committed_total(
    bootstrap: &[String],
    group: &str,
    topics: &[String],
) -> Result<i64, String> {
    let servers = bootstrap.join(",");
    let group = group.to_owned();
    let topics = topics.to_vec();
    tokio::task::spawn_blocking(move || {
        let md = metadata_blocking(&servers, Duration::from_secs(3))?;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("log_level", "3")
            .create()
            .map_err(|e| e.to_string())?;
        let mut tpl = rdkafka::TopicPartitionList::new();
        for t in &topics {
            for p in md.topics.get(t).map(Vec::as_slice).unwrap_or_default() {
                tpl.add_partition(t, p.id);
            }
        }
        let committed = consumer
            .committed_offsets(tpl, Duration::from_secs(5))
            .map_err(|e| format!("OffsetFetch for group {group}: {e}"))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                rdkafka::Offset::Offset(o) => Some(o),
                _ => None,
            })
            .sum())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Creates `topic` with `partitions`, replication factor 3 and `min.insync.replicas=2` (an
/// existing topic is fine).
pub async fn create_topic(
    bootstrap: &[String],
    topic: &str,
    partitions: i32,
) -> Result<(), String> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap.join(","))
        .set("log_level", "3")
        .create()
        .map_err(|e| e.to_string())?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(3))
        .set("min.insync.replicas", "2");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let results = admin
        .create_topics([&new], &opts)
        .await
        .map_err(|e| format!("CreateTopics {topic}: {e}"))?;
    match results.into_iter().next() {
        Some(Ok(_)) | Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => Ok(()),
        Some(Err((t, code))) => Err(format!("creating topic {t}: {code}")),
    }
}

/// The high watermark of every partition of `topic`: `(partition, offset)`.
pub async fn end_offsets(bootstrap: &[String], topic: &str) -> Result<Vec<(i32, i64)>, String> {
    let servers = bootstrap.join(",");
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let md = metadata_blocking(&servers, Duration::from_secs(3))?;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .set("log_level", "3")
            .create()
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for p in md.topics.get(&topic).map(Vec::as_slice).unwrap_or_default() {
            // librdkafka can fail a request it had queued on a bootstrap connection it then
            // retires for the brokers the metadata names ("Broker handle destroyed without
            // termination"), more so when a bootstrap broker is down: asked again, it answers.
            let mut attempt = 0;
            let high = loop {
                attempt += 1;
                match consumer.fetch_watermarks(&topic, p.id, Duration::from_secs(5)) {
                    Ok((_, high)) => break high,
                    Err(e) if attempt < 3 => {
                        tracing::debug!("ListOffsets {topic}/{}: {e}; asking again", p.id);
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(e) => return Err(format!("ListOffsets {topic}/{}: {e}", p.id)),
                }
            };
            out.push((p.id, high));
        }
        Ok(out)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The high watermarks of every partition of `topic`, summed.
pub async fn end_offsets_total(bootstrap: &[String], topic: &str) -> Result<i64, String> {
    Ok(end_offsets(bootstrap, topic)
        .await?
        .iter()
        .map(|(_, o)| o)
        .sum())
}
