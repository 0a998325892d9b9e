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
    /// The PLAINTEXT listeners (`PLAINTEXT_EXT` with [`HostKafka::start_secured`]).
    pub bootstrap: String,
    /// The `SASL_EXT` listeners of a [`HostKafka::start_secured`] cluster.
    pub sasl_bootstrap: Option<String>,
    /// ZooKeeper's `host:port` (the brokers use the chroot `/kafka`).
    pub zookeeper: String,
    /// Drop guards: the processes die with the struct.
    _brokers: Vec<Proc>,
    _zk: Proc,
}

/// The journal's broker security for [`HostKafka::start_secured`]: listeners `SASL_INT`
/// (inter-broker), `PLAINTEXT_EXT`, `SASL_EXT`, PLAIN logins from `jaas` (a JAAS file's text),
/// AclAuthorizer with `allow.everyone.if.no.acl.found=false` and `super_users`.
#[derive(Debug, Clone)]
pub struct HostSecurity {
    pub jaas: String,
    pub super_users: String,
}

impl HostKafka {
    /// The last lines of every broker's log, for a failure's message.
    pub fn log_tails(&self) -> String {
        self._brokers
            .iter()
            .map(|b| format!("--- {}:\n{}", b.name, b.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Starts ZooKeeper and `n` brokers of Kafka `version` (replication factor min(n, 3)).
    pub fn start(home: &LabHome, n: u16, version: &str) -> Self {
        Self::start_with(home, n, version, None)
    }

    /// As [`HostKafka::start`], with the journal's SASL listeners and ACL authorizer.
    pub fn start_secured(home: &LabHome, n: u16, version: &str, security: &HostSecurity) -> Self {
        Self::start_with(home, n, version, Some(security))
    }

    fn start_with(home: &LabHome, n: u16, version: &str, security: Option<&HostSecurity>) -> Self {
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
        let sasl_ports: Vec<(u16, u16)> = security
            .map(|_| (0..n).map(|_| (free_port(), free_port())).collect())
            .unwrap_or_default();
        let jaas_file = home.root.path().join("KAFKA_JAAS");
        if let Some(sec) = security {
            std::fs::write(&jaas_file, &sec.jaas).expect("JAAS file");
        }
        let brokers: Vec<Proc> = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let listener = match sasl_ports.get(i) {
                    Some((int, ext)) => format!(
                        "SASL_INT://127.0.0.1:{int},PLAINTEXT_EXT://127.0.0.1:{port},SASL_EXT://127.0.0.1:{ext}"
                    ),
                    None => format!("PLAINTEXT://127.0.0.1:{port}"),
                };
                let mut vars = env(&[
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
                if let Some(sec) = security {
                    vars.extend(env(&[
                        (
                            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                            "SASL_INT:SASL_PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT,SASL_EXT:SASL_PLAINTEXT".into(),
                        ),
                        ("KAFKA_INTER_BROKER_LISTENER_NAME", "SASL_INT".into()),
                        ("KAFKA_SASL_ENABLED_MECHANISMS", "PLAIN".into()),
                        ("KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL", "PLAIN".into()),
                        (
                            "KAFKA_OPTS",
                            format!("-Djava.security.auth.login.config={}", jaas_file.display()),
                        ),
                        (
                            "KAFKA_AUTHORIZER_CLASS_NAME",
                            "kafka.security.authorizer.AclAuthorizer".into(),
                        ),
                        ("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "false".into()),
                        ("KAFKA_SUPER_USERS", sec.super_users.clone()),
                    ]));
                }
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
        // A client's first metadata must list every broker (and so the controller): librdkafka's
        // admin requests wait for a controller and do not ask again within their timeout.
        let plaintext = ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let probe: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &plaintext)
            .set("log_level", "3")
            .create()
            .expect("metadata consumer");
        wait_for(
            &format!("{n} brokers in the metadata"),
            Duration::from_secs(40),
            || {
                rdkafka::consumer::Consumer::fetch_metadata(&probe, None, Duration::from_secs(2))
                    .is_ok_and(|md| md.brokers().len() == usize::from(n))
            },
            || {
                brokers
                    .iter()
                    .map(Proc::log_tail)
                    .collect::<Vec<_>>()
                    .join("\n")
            },
        );
        let bootstrap = ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let sasl_bootstrap = security.map(|_| {
            sasl_ports
                .iter()
                .map(|(_, ext)| format!("127.0.0.1:{ext}"))
                .collect::<Vec<_>>()
                .join(",")
        });
        Self {
            bootstrap,
            sasl_bootstrap,
            zookeeper: format!("127.0.0.1:{zk_port}"),
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
