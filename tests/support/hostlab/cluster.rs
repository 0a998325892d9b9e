//! A small lab of host processes: ZooKeeper + lab brokers, a Schema Registry, Connect workers,
//! and an inventory file that points kroll at them.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{LabHome, Proc, await_http, free_port};

fn env(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Polls `check` (with a deadline) and panics with `what` and `context()` on timeout.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let began = Instant::now();
    while !check() {
        assert!(
            began.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}:\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn zk_mode(port: u16) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"srvr");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// ZooKeeper and lab brokers on loopback ports.
#[derive(Debug)]
pub struct HostKafka {
    pub bootstrap: String,
    /// Drop guards: the processes die with the struct.
    _brokers: Vec<Proc>,
    _zk: Proc,
}

impl HostKafka {
    /// Starts ZooKeeper and `n` brokers of Kafka `version` (replication factor min(n, 3)).
    pub fn start(home: &LabHome, n: u16, version: &str) -> Self {
        assert!(
            PathBuf::from("/usr/share/java/zookeeper.jar").exists(),
            "Debian's zookeeper package is missing (apt-get install zookeeper)"
        );
        let zk_port = free_port();
        let mut zk_cmd = Command::new("java");
        zk_cmd.args([
            "-Xmx128m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dzookeeper.admin.enableServer=false",
            "-cp",
            "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
            "org.apache.zookeeper.server.ZooKeeperServerMain",
        ]);
        zk_cmd
            .arg(zk_port.to_string())
            .arg(home.dir("zk"))
            .arg("500");
        let zk = Proc::spawn("zookeeper", zk_cmd, home.root.path().join("zookeeper.log"));
        wait_for(
            "ZooKeeper to serve",
            Duration::from_secs(40),
            || zk_mode(zk_port).contains("Mode: standalone"),
            || zk.log_tail(),
        );
        let version_file = home.root.path().join("BROKER_KAFKA_VERSION");
        std::fs::write(&version_file, version).expect("version file");
        let rf = n.min(3).to_string();
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let brokers: Vec<Proc> = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let listener = format!("PLAINTEXT://127.0.0.1:{port}");
                let vars = env(&[
                    ("PATH", "/usr/bin:/bin".into()),
                    ("KAFKA_BROKER_ID", (i + 1).to_string()),
                    (
                        "KAFKA_ZOOKEEPER_CONNECT",
                        format!("127.0.0.1:{zk_port}/kafka"),
                    ),
                    (
                        "KAFKA_LOG_DIRS",
                        home.dir(&format!("kafka-data-{}", i + 1))
                            .display()
                            .to_string(),
                    ),
                    ("KAFKA_ZOOKEEPER_SESSION_TIMEOUT_MS", "3000".into()),
                    ("KAFKA_MIN_INSYNC_REPLICAS", "1".into()),
                    ("KAFKA_DEFAULT_REPLICATION_FACTOR", rf.clone()),
                    ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", rf.clone()),
                    ("KAFKA_NUM_PARTITIONS", "3".into()),
                    ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0".into()),
                    ("LAB_SHUTDOWN_DELAY_MS", "300".into()),
                    ("LAB_METADATA_REFRESH_MS", "500".into()),
                    ("KAFKA_LISTENERS", listener.clone()),
                    ("KAFKA_ADVERTISED_LISTENERS", listener),
                ]);
                let mut cmd = Command::new(crate::bin("kroll-lab-broker"));
                cmd.arg("--version-file")
                    .arg(&version_file)
                    .env_clear()
                    .envs(&vars);
                Proc::spawn(
                    &format!("broker-{}", i + 1),
                    cmd,
                    home.root.path().join(format!("broker-{}.log", i + 1)),
                )
            })
            .collect();
        let mut brokers = brokers;
        for b in &mut brokers {
            let log = b.log.clone();
            let name = b.name.clone();
            wait_for(
                &format!("{name} to start"),
                Duration::from_secs(40),
                || {
                    assert!(b.alive(), "{name} exited:\n{}", b.log_tail());
                    std::fs::read_to_string(&log)
                        .unwrap_or_default()
                        .contains(r#""event":"started""#)
                },
                String::new,
            );
        }
        let bootstrap = ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        Self {
            bootstrap,
            _brokers: brokers,
            _zk: zk,
        }
    }
}

/// The JDK's HTTP server (the lab services' REST layer) leaves Nagle on by default, which with
/// delayed ACKs costs ~40 ms per small request; Confluent's Jetty sets TCP_NODELAY. Same here.
const NODELAY: &str = "-Dsun.net.httpserver.nodelay=true";

/// A running lab JVM service and its URL.
#[derive(Debug)]
pub struct Service {
    pub proc: Proc,
    pub url: String,
}

/// The lab's Schema Registry.
pub fn schema_registry(home: &LabHome) -> Service {
    schema_registry_with(home, "http", &[])
}

/// The lab's Schema Registry with a `scheme` (`http`, `https`) listener and `extra` variables
/// (TLS, authentication) over the usual ones.
pub fn schema_registry_with(home: &LabHome, scheme: &str, extra: &[(&str, String)]) -> Service {
    let port = free_port();
    let url = format!("{scheme}://127.0.0.1:{port}");
    let mut vars = env(&[
        ("SCHEMA_REGISTRY_HOST_NAME", "schema-registry".into()),
        ("SCHEMA_REGISTRY_LISTENERS", url.clone()),
        (
            "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS",
            "kafka-01:29091".into(),
        ),
        (
            "SCHEMA_REGISTRY_LAB_DATA_DIR",
            home.dir("sr-data").display().to_string(),
        ),
        ("SCHEMA_REGISTRY_HEAP_OPTS", "-Xmx256m".into()),
        ("SCHEMA_REGISTRY_OPTS", NODELAY.into()),
    ]);
    vars.extend(env(extra));
    let mut proc = home.service("schema-registry", "schema-registry.sh", &vars);
    await_http(&mut proc, &url, Duration::from_secs(30));
    Service { proc, url }
}

/// A Connect worker of `home`'s version in the worker cluster kept in `cluster_dir`.
pub fn worker(
    home: &LabHome,
    name: &str,
    cluster_dir: &std::path::Path,
    sr: &str,
    bootstrap: Option<&str>,
) -> Service {
    worker_with(home, name, cluster_dir, sr, bootstrap, "http", &[])
}

/// [`worker`] with a `scheme` (`http`, `https`) listener and `extra` variables (TLS, REST
/// extensions, `KAFKA_OPTS`) over the usual ones.
pub fn worker_with(
    home: &LabHome,
    name: &str,
    cluster_dir: &std::path::Path,
    sr: &str,
    bootstrap: Option<&str>,
    scheme: &str,
    extra: &[(&str, String)],
) -> Service {
    let port = free_port();
    let url = format!("{scheme}://127.0.0.1:{port}");
    let mut vars = env(&[
        (
            "CONNECT_BOOTSTRAP_SERVERS",
            bootstrap.unwrap_or("127.0.0.1:1").into(),
        ),
        ("CONNECT_GROUP_ID", "connect".into()),
        ("CONNECT_CONFIG_STORAGE_TOPIC", "connect-configs".into()),
        ("CONNECT_OFFSET_STORAGE_TOPIC", "connect-offsets".into()),
        ("CONNECT_STATUS_STORAGE_TOPIC", "connect-statuses".into()),
        (
            "CONNECT_KEY_CONVERTER",
            "io.confluent.connect.avro.AvroConverter".into(),
        ),
        (
            "CONNECT_VALUE_CONVERTER",
            "io.confluent.connect.avro.AvroConverter".into(),
        ),
        ("CONNECT_KEY_CONVERTER_SCHEMA_REGISTRY_URL", sr.into()),
        ("CONNECT_VALUE_CONVERTER_SCHEMA_REGISTRY_URL", sr.into()),
        ("CONNECT_REST_ADVERTISED_HOST_NAME", "127.0.0.1".into()),
        ("CONNECT_LISTENERS", url.clone()),
        ("CONNECT_LAB_CLUSTER_DIR", cluster_dir.display().to_string()),
        (
            "CONNECT_LAB_KAFKA_REQUIRED",
            bootstrap.is_some().to_string(),
        ),
        ("CONNECT_OFFSET_FLUSH_INTERVAL_MS", "300".into()),
        ("CONNECT_HEARTBEAT_INTERVAL_MS", "100".into()),
        ("CONNECT_SESSION_TIMEOUT_MS", "1500".into()),
        ("CONNECT_SCHEDULED_REBALANCE_MAX_DELAY_MS", "1500".into()),
        ("KAFKA_HEAP_OPTS", "-Xmx256m".into()),
        ("KAFKA_OPTS", NODELAY.into()),
    ]);
    vars.extend(env(extra));
    let mut proc = home.service(name, "connect.sh", &vars);
    await_http(&mut proc, &url, Duration::from_secs(40));
    Service { proc, url }
}

/// Writes an inventory pointing kroll at the workers, the registry and the brokers.
pub fn inventory(
    dir: &std::path::Path,
    workers: &[&Service],
    sr: &Service,
    bootstrap: Option<&str>,
) -> PathBuf {
    let mut services: Vec<String> = workers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                r#"  {{ kind = "connect", container = "connect-0{}", url = "{}" }},"#,
                i + 1,
                w.url
            )
        })
        .collect();
    services.push(format!(
        r#"  {{ kind = "schema-registry", container = "schema-registry", url = "{}" }},"#,
        sr.url
    ));
    let bootstrap = bootstrap
        .map(|b| {
            b.split(',')
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let text = format!(
        "[cluster]\nname = \"connect-test\"\nkafka_bootstrap = [{bootstrap}]\n\n[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n\n[[nodes]]\nname = \"rhodrylab-01\"\nagent = \"127.0.0.1:1\"\nservices = [\n{}\n]\n",
        services.join("\n")
    );
    let path = dir.join("kroll.toml");
    std::fs::write(&path, text).expect("inventory");
    path
}
