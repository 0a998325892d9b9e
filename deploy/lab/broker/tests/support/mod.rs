//! Test support: a real ZooKeeper (Debian's package, as a host JVM process) and lab broker
//! processes on 127.0.0.1 with free ports and temporary data directories. Every process started
//! here is killed by PID in `Drop`, also when a test fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;

/// (partition, leader, replicas, isr) as rdkafka reports them.
pub type PartitionRow = (i32, i32, Vec<i32>, Vec<i32>);

pub const ZK_CLASSPATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that `check` stays true for the whole of `window` (polled), e.g. "stays stuck".
pub fn hold_for(what: &str, window: Duration, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + window;
    while Instant::now() < end {
        assert!(check(), "expected to hold for {window:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn require(path: &str, what: &str) {
    assert!(
        Path::new(path).exists(),
        "{what} is required for the lab broker tests but {path} is missing (install the Debian package)"
    );
}

/// A standalone ZooKeeper server.
pub struct ZooKeeper {
    child: Child,
    pub port: u16,
}

impl ZooKeeper {
    pub fn start(dir: &Path) -> Self {
        Self::spawn(dir, free_port())
    }

    fn spawn(dir: &Path, port: u16) -> Self {
        require("/usr/bin/java", "java");
        require(
            "/usr/share/java/zookeeper.jar",
            "ZooKeeper (Debian package zookeeper)",
        );
        let data = dir.join("zk");
        std::fs::create_dir_all(&data).expect("zk dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("zookeeper.log"))
            .expect("zk log");
        let child = Command::new("/usr/bin/java")
            .args([
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.admin.enableServer=false",
                "-cp",
                ZK_CLASSPATH,
            ])
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(port.to_string())
            .arg(&data)
            .arg("500")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start ZooKeeper");
        let zk = Self { child, port };
        wait_for("ZooKeeper to answer srvr", Duration::from_secs(40), || {
            zk.srvr().filter(|s| s.contains("Mode: standalone"))
        });
        zk
    }

    /// Kills the server and starts it again on the same port and data directory: clients whose
    /// session timeout outlasts the restart keep their sessions and reconnect (like the lab's
    /// ZooKeeper container recreated by an upgrade's first phase).
    pub fn restart(&mut self, dir: &Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Self::spawn(dir, self.port);
    }

    fn srvr(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(b"srvr").ok()?;
        let mut out = String::new();
        stream.read_to_string(&mut out).ok()?;
        Some(out)
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to start one broker.
#[derive(Clone, Debug)]
pub struct BrokerSpec {
    pub port: u16,
    /// `(SASL_INT, SASL_EXT)` ports when the broker runs the journal's SASL listeners.
    pub sasl_ports: Option<(u16, u16)>,
    pub version: &'static str,
    pub env: BTreeMap<String, String>,
}

/// A running (or exited) broker process with its captured output.
pub struct BrokerProc {
    pub id: i32,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl BrokerProc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    pub fn events(&self, name: &str) -> Vec<Value> {
        self.output()
            .iter()
            .filter_map(|l| l.strip_prefix("LAB-EVENT "))
            .filter_map(|j| serde_json::from_str::<Value>(j).ok())
            .filter(|v| v["event"] == name)
            .collect()
    }

    pub fn wait_event(&self, name: &str, timeout: Duration) -> Value {
        wait_for(&format!("broker {} event {name}", self.id), timeout, || {
            self.events(name).into_iter().next()
        })
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit and for its output to be fully read.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = &mut self.child;
        let status = wait_for("broker process to exit", timeout, || {
            child.try_wait().ok().flatten()
        });
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        status
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns the broker binary with `env` (plus a version file) and captures its output.
pub fn spawn_broker(
    dir: &Path,
    id: i32,
    version: &str,
    env: &BTreeMap<String, String>,
) -> BrokerProc {
    let version_file = dir.join(format!("KAFKA_VERSION-{version}"));
    let tmp = dir.join(format!("KAFKA_VERSION-{version}.{id}.tmp"));
    std::fs::write(&tmp, version).expect("version file");
    std::fs::rename(&tmp, &version_file).expect("version file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kroll-lab-broker"));
    cmd.arg("--version-file")
        .arg(&version_file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kroll-lab-broker");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    let log_path = dir.join(format!("broker-{id}.log"));
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let lines = lines.clone();
        let log_path = log_path.clone();
        readers.push(std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .ok();
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(log) = log.as_mut() {
                    let _ = writeln!(log, "{line}");
                }
                lines.lock().expect("lines").push(line);
            }
        }));
    }
    BrokerProc {
        id,
        child,
        lines,
        readers,
    }
}

/// A ZooKeeper plus lab brokers.
pub struct Lab {
    pub brokers: BTreeMap<i32, BrokerProc>,
    pub specs: BTreeMap<i32, BrokerSpec>,
    pub zk: ZooKeeper,
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// ZooKeeper and `n` brokers of `version`, with `extra` environment for all of them.
    pub fn start(n: i32, version: &'static str, extra: &[(&str, &str)]) -> Self {
        Self::start_with(n, version, extra, None)
    }

    /// Like [`Lab::start`], with the journal's SASL listeners: `SASL_INT` (SASL_PLAINTEXT,
    /// inter-broker), `PLAINTEXT_EXT` (the port [`Lab::bootstrap`] names) and `SASL_EXT`
    /// ([`Lab::sasl_bootstrap`]), PLAIN users from `jaas` (written to a file in KAFKA_OPTS).
    pub fn start_sasl(n: i32, version: &'static str, jaas: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_with(n, version, extra, Some(jaas))
    }

    fn start_with(
        n: i32,
        version: &'static str,
        extra: &[(&str, &str)],
        jaas: Option<&str>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(text) = jaas {
            let path = dir.path().join("KAFKA_JAAS");
            std::fs::write(&path, text).expect("JAAS file");
            extra.extend(
                [
                    ("KAFKA_SASL_ENABLED_MECHANISMS", "PLAIN".to_string()),
                    ("KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL", "PLAIN".into()),
                    ("KAFKA_INTER_BROKER_LISTENER_NAME", "SASL_INT".into()),
                    (
                        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                        "SASL_INT:SASL_PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT,SASL_EXT:SASL_PLAINTEXT"
                            .into(),
                    ),
                    (
                        "KAFKA_OPTS",
                        format!("-Djava.security.auth.login.config={}", path.display()),
                    ),
                ]
                .map(|(k, v)| (k.to_string(), v)),
            );
        }
        let zk = ZooKeeper::start(dir.path());
        let mut lab = Self {
            brokers: BTreeMap::new(),
            specs: BTreeMap::new(),
            zk,
            dir,
        };
        for id in 1..=n {
            let mut env = lab.base_env(id);
            env.extend(extra.iter().cloned());
            lab.specs.insert(
                id,
                BrokerSpec {
                    port: free_port(),
                    sasl_ports: jaas.map(|_| (free_port(), free_port())),
                    version,
                    env,
                },
            );
            lab.launch(id);
        }
        for b in lab.brokers.values() {
            b.wait_event("started", Duration::from_secs(30));
        }
        lab.wait_brokers(n as usize);
        lab
    }

    fn base_env(&self, id: i32) -> BTreeMap<String, String> {
        let pairs = [
            ("KAFKA_BROKER_ID", id.to_string()),
            (
                "KAFKA_ZOOKEEPER_CONNECT",
                format!("127.0.0.1:{}/kafka", self.zk.port),
            ),
            (
                "KAFKA_LOG_DIRS",
                self.dir
                    .path()
                    .join(format!("data-{id}"))
                    .display()
                    .to_string(),
            ),
            ("KAFKA_ZOOKEEPER_SESSION_TIMEOUT_MS", "3000".into()),
            ("KAFKA_REPLICA_LAG_TIME_MAX_MS", "2000".into()),
            ("KAFKA_MIN_INSYNC_REPLICAS", "2".into()),
            ("KAFKA_DEFAULT_REPLICATION_FACTOR", "3".into()),
            ("KAFKA_NUM_PARTITIONS", "3".into()),
            ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3".into()),
            ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0".into()),
            ("KAFKA_CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS", "2000".into()),
            ("LAB_SHUTDOWN_DELAY_MS", "300".into()),
            ("LAB_RECOVERY_BASE_MS", "1500".into()),
            ("LAB_METADATA_REFRESH_MS", "500".into()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// (Re)starts broker `id` from its spec.
    pub fn launch(&mut self, id: i32) {
        let spec = self.specs[&id].clone();
        let mut env = spec.env.clone();
        let listener = match spec.sasl_ports {
            None => format!("PLAINTEXT://127.0.0.1:{}", spec.port),
            Some((int, ext)) => format!(
                "SASL_INT://127.0.0.1:{int},PLAINTEXT_EXT://127.0.0.1:{},SASL_EXT://127.0.0.1:{ext}",
                spec.port
            ),
        };
        env.insert("KAFKA_LISTENERS".into(), listener.clone());
        env.insert("KAFKA_ADVERTISED_LISTENERS".into(), listener);
        self.brokers
            .insert(id, spawn_broker(self.dir.path(), id, spec.version, &env));
    }

    pub fn broker(&self, id: i32) -> &BrokerProc {
        &self.brokers[&id]
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self, id: i32) {
        let b = self.brokers.get_mut(&id).expect("broker");
        b.sigterm();
        let status = b.wait_exit(Duration::from_secs(30));
        assert!(
            status.success(),
            "broker {id} exited with {status} after SIGTERM"
        );
    }

    pub fn bootstrap(&self) -> String {
        self.specs
            .values()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The `SASL_EXT` listeners of a [`Lab::start_sasl`] lab.
    pub fn sasl_bootstrap(&self) -> String {
        self.specs
            .values()
            .filter_map(|s| s.sasl_ports)
            .map(|(_, ext)| format!("127.0.0.1:{ext}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn consumer(&self, extra: &[(&str, &str)]) -> BaseConsumer {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", self.bootstrap())
            .set("topic.metadata.refresh.interval.ms", "500");
        for (k, v) in extra {
            cfg.set(*k, *v);
        }
        cfg.create().expect("consumer")
    }

    /// Partitions of `topic` as rdkafka sees them: (partition, leader, replicas, isr).
    pub fn partitions(&self, topic: &str) -> Option<Vec<PartitionRow>> {
        let c = self.consumer(&[]);
        let md = c.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
        let t = md.topics().iter().find(|t| t.name() == topic)?;
        if t.error().is_some() || t.partitions().is_empty() {
            return None;
        }
        Some(
            t.partitions()
                .iter()
                .map(|p| (p.id(), p.leader(), p.replicas().to_vec(), p.isr().to_vec()))
                .collect(),
        )
    }

    /// Broker ids rdkafka's metadata lists.
    pub fn registered(&self) -> Vec<i32> {
        let c = self.consumer(&[]);
        c.fetch_metadata(None, Duration::from_secs(5))
            .map(|md| md.brokers().iter().map(|b| b.id()).collect())
            .unwrap_or_default()
    }

    pub fn wait_brokers(&self, n: usize) {
        wait_for(
            &format!("{n} brokers in metadata"),
            Duration::from_secs(30),
            || (self.registered().len() == n).then_some(()),
        );
    }

    /// Waits until every partition of `topic` has `isr` in-sync replicas.
    pub fn wait_isr(&self, topic: &str, isr: usize, timeout: Duration) {
        wait_for(
            &format!("ISR of {isr} on every partition of {topic}"),
            timeout,
            || {
                self.partitions(topic)
                    .filter(|ps| ps.iter().all(|p| p.3.len() == isr))
                    .map(|_| ())
            },
        );
    }

    /// Every partition's ISR of `topic` as ZooKeeper holds it (`/kafka/brokers/topics/<t>/
    /// partitions/<p>/state`, what the controller and the leaders wrote), read on a session of
    /// its own; `None` while a partition has no state or ZooKeeper does not answer.
    pub fn zk_isr(&self, topic: &str) -> Option<Vec<(i32, Vec<i32>)>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async {
            let zk = zookeeper_client::Client::connector()
                .with_session_timeout(Duration::from_secs(2))
                .connect(&format!("127.0.0.1:{}/kafka", self.zk.port))
                .await
                .ok()?;
            let base = format!("/brokers/topics/{topic}/partitions");
            let mut partitions: Vec<i32> = zk
                .list_children(&base)
                .await
                .ok()?
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect();
            partitions.sort_unstable();
            let mut out = Vec::new();
            for p in partitions {
                let (data, _) = zk.get_data(&format!("{base}/{p}/state")).await.ok()?;
                let state: Value = serde_json::from_slice(&data).ok()?;
                let isr = state["isr"]
                    .as_array()?
                    .iter()
                    .filter_map(|b| b.as_i64().map(|b| b as i32))
                    .collect();
                out.push((p, isr));
            }
            (!out.is_empty()).then_some(out)
        })
    }

    /// Restarts ZooKeeper (see [`ZooKeeper::restart`]) and waits until every running broker
    /// logged its session connected again.
    pub fn restart_zookeeper(&mut self) {
        let before: BTreeMap<i32, usize> = self
            .brokers
            .iter()
            .map(|(id, b)| (*id, reconnections(b)))
            .collect();
        self.zk.restart(self.dir.path());
        for (id, b) in &self.brokers {
            wait_for(
                &format!("broker {id} reconnected to ZooKeeper"),
                Duration::from_secs(30),
                || (reconnections(b) > before[id]).then_some(()),
            );
        }
    }

    /// kcat with arguments and stdin; returns stdout.
    pub fn kcat(&self, args: &[&str], input: &str) -> String {
        kcat(&self.bootstrap(), args, input)
    }
}

/// How many times the broker logged its ZooKeeper session connected again.
fn reconnections(b: &BrokerProc) -> usize {
    b.output()
        .iter()
        .filter(|l| l.contains("Session state changed to SyncConnected"))
        .count()
}

pub fn kcat(bootstrap: &str, args: &[&str], input: &str) -> String {
    let out = kcat_output(bootstrap, args, input);
    assert!(
        out.status.success(),
        "kcat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs kcat (60 s at most) and returns its exit status and output, whatever they are.
pub fn kcat_output(bootstrap: &str, args: &[&str], input: &str) -> std::process::Output {
    require("/usr/bin/kcat", "kcat");
    let mut child = Command::new("/usr/bin/kcat")
        .arg("-b")
        .arg(bootstrap)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kcat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("kcat stdin");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("kcat output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("kcat {args:?} did not finish within 60 s");
        }
    }
}

/// Produces `count` records of `size` bytes with acks=all; returns the first error, if any.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    count: usize,
    size: usize,
    extra: &[(&str, &str)],
) -> Result<(), rdkafka::error::KafkaError> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    let producer: FutureProducer = cfg.create()?;
    let payload = "x".repeat(size);
    let sends: Vec<_> = (0..count)
        .map(|i| {
            let key = format!("k{i}");
            producer
                .send_result(FutureRecord::to(topic).key(&key).payload(&payload))
                .map_err(|(e, _)| e)
        })
        .collect::<Result<_, _>>()?;
    for delivery in futures::executor::block_on(futures::future::join_all(sends)) {
        match delivery {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(e),
            Err(_) => return Err(rdkafka::error::KafkaError::Canceled),
        }
    }
    Ok(())
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (id, b) in &self.brokers {
                let out = b.output();
                let tail = out.len().saturating_sub(40);
                eprintln!(
                    "---- broker {id} output (last {} lines) ----\n{}",
                    out.len() - tail,
                    out[tail..].join("\n")
                );
            }
        }
    }
}
