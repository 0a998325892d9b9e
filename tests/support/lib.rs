//! Helpers for kroll's integration tests: the real Docker engine, real agents over mutual TLS,
//! the binaries as users run them. Everything a test creates is labelled with the test run's
//! id and removed by a guard's `Drop`, even when the test fails.
//!
//! # Layout
//! - [`docker`], [`labbox_image`], [`TestContainer`]: containers from the locally built
//!   labbox image.
//! - [`Pki`]: a cluster CA with coordinator, reader and agent certificates (and a foreign CA).
//! - [`RunningAgent`]: an in-process `kroll-agent` on a loopback port.
//! - [`bin`]: the workspace's binaries.
//! - [`prom`]: Debian's Prometheus and Alertmanager as guarded child processes.
//! - [`sim`]: simulated agents serving a real agent's snapshot, for fleet-sized checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bollard::Docker;
use kroll_agent::allow::Allowlist;
use kroll_agent::config::{AgentConfig, AuditConfig};
use kroll_shared::tls::{self, PemPair, Role, TlsFiles, Validity};
use tokio::sync::{OnceCell, oneshot};

pub mod browser;
pub mod hostlab;
pub mod java;
pub mod prom;
pub mod sim;

/// A short id unique to this test process, used in container names and labels.
pub fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        format!(
            "t{:x}",
            std::process::id() ^ (kroll_shared::time::now_unix_ms() as u32)
        )
    })
}

/// A workspace binary (`kroll`, `kroll-agent`, `kroll-labbox`, `kroll-lab`). Fails the test with what to do
/// when it has not been built.
pub fn bin(name: &str) -> PathBuf {
    kroll_lab::sibling_binary(name).unwrap_or_else(|| {
        panic!("binary `{name}` not found beside the test executable; build it first: `cargo build --workspace --bins` (deploy/test.sh does this)")
    })
}

/// Builds platform `version`'s images and pushes them into the registry of Swarm lab `name` in
/// `dir` with `kroll-lab images --lab --release`, as a CI pipeline would before an upgrade (the
/// untagged names the stack deploys then point at `version`). Fails the test
/// with the command's output when it fails; returns its stdout.
pub fn push_to_swarm_lab(version: &str, name: &str, dir: &std::path::Path) -> String {
    let pushed = Command::new(bin("kroll-lab"))
        .args([
            "images",
            "--version",
            version,
            "--lab",
            name,
            "--release",
            "--dir",
        ])
        .arg(dir)
        .output()
        .expect("kroll-lab images");
    let stdout = String::from_utf8_lossy(&pushed.stdout).into_owned();
    assert!(
        pushed.status.success(),
        "kroll-lab images --lab {name}: {stdout}{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    stdout
}

/// The Docker engine. Fails the test with what to install when it is not reachable.
pub async fn docker() -> Docker {
    let d = Docker::connect_with_local_defaults().expect(
        "Docker client: set DOCKER_HOST or start the Docker engine (apt-get install docker.io)",
    );
    d.negotiate_version().await.unwrap_or_else(|e| {
        panic!("these tests need a running Docker engine (apt-get install docker.io; systemctl start docker): {e}")
    })
}

/// Builds the lab images of platform `version` (skipped when their content is unchanged):
/// what the registry the lab stands in for holds besides the lab's own version, i.e. the
/// upgrade's target (`lab up` builds only the version it runs).
pub async fn lab_platform_images(version: &str) {
    use kroll_lab::images::{BrokerBinary, DEFAULT_REGISTRY, ensure_platform};
    let docker = docker().await;
    let broker = BrokerBinary::beside_this_executable()
        .expect("kroll-lab-broker is built (cargo build --workspace --bins)");
    let platform = kroll_lab::topology::Platform::find(version)
        .unwrap_or_else(|| panic!("{version} is not a lab platform"));
    ensure_platform(&docker, DEFAULT_REGISTRY, platform, &broker)
        .await
        .unwrap_or_else(|e| panic!("{version} lab images: {e}"));
}

/// The labbox image, built once per test process from the `kroll-labbox` binary.
pub async fn labbox_image() -> &'static str {
    static BUILT: OnceCell<()> = OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let d = docker().await;
            kroll_lab::ensure_labbox(&d, &bin("kroll-labbox"))
                .await
                .expect("building the labbox image");
        })
        .await;
    kroll_lab::LABBOX_IMAGE
}

/// Runs `docker` with arguments and returns stdout; panics with stderr on failure. The CLI is
/// the independent oracle the agent's answers are compared with.
pub fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("running the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker inspect` of one container, as JSON.
pub fn inspect_json(name: &str) -> serde_json::Value {
    let text = docker_cli(&["inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("inspect JSON");
    v[0].clone()
}

/// A container started for a test; removed (with its anonymous volumes) when dropped.
#[derive(Debug)]
pub struct TestContainer {
    pub name: String,
}

/// How to start a test container.
#[derive(Debug, Default, Clone)]
pub struct Spec {
    pub labels: BTreeMap<String, String>,
    pub env: Vec<String>,
    pub args: Vec<String>,
    pub volumes: Vec<String>,
    pub hostname: Option<String>,
}

impl TestContainer {
    /// Starts `labbox` as `<run id>-<suffix>` with the spec, via the docker CLI.
    pub async fn start(suffix: &str, spec: Spec) -> Self {
        let image = labbox_image().await;
        let name = format!("{}-{suffix}", run_id());
        let guard = Self { name: name.clone() };
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
        args.extend(["--label".into(), format!("kroll.test.run={}", run_id())]);
        for (k, v) in &spec.labels {
            args.extend(["--label".into(), format!("{k}={v}")]);
        }
        for e in &spec.env {
            args.extend(["--env".into(), e.clone()]);
        }
        for v in &spec.volumes {
            args.extend(["--volume".into(), v.clone()]);
        }
        if let Some(h) = &spec.hostname {
            args.extend(["--hostname".into(), h.clone()]);
        }
        args.push(image.into());
        args.extend(spec.args.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        docker_cli(&refs);
        guard
    }

    /// `State.StartedAt` as Docker reports it.
    pub fn started_at(&self) -> String {
        inspect_json(&self.name)["State"]["StartedAt"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

/// A named volume removed when dropped.
#[derive(Debug)]
pub struct TestVolume {
    pub name: String,
}

impl TestVolume {
    /// Creates `<run id>-<suffix>`.
    pub fn create(suffix: &str) -> Self {
        let name = format!("{}-{suffix}", run_id());
        docker_cli(&[
            "volume",
            "create",
            "--label",
            &format!("kroll.test.run={}", run_id()),
            &name,
        ]);
        Self { name }
    }
}

impl Drop for TestVolume {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.name])
            .output();
    }
}

/// Certificates for a test cluster, written to a temp dir.
#[derive(Debug)]
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PemPair,
}

impl Pki {
    /// A new CA with `coordinator`, `reader` and an agent certificate per node (valid for the
    /// node name and 127.0.0.1).
    pub fn new(nodes: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = Validity::default();
        let ca = tls::generate_ca("test", v).expect("ca");
        tls::write_pair(dir.path(), "ca", &ca, false).expect("write ca");
        for (stem, role) in [("coordinator", Role::Coordinator), ("reader", Role::Reader)] {
            let pair = tls::issue(&ca, role, stem, &[], v).expect("issue");
            tls::write_pair(dir.path(), stem, &pair, false).expect("write");
        }
        for node in nodes {
            let pair = tls::issue(
                &ca,
                Role::Agent,
                node,
                &[(*node).to_owned(), "127.0.0.1".into()],
                v,
            )
            .expect("issue agent");
            tls::write_pair(dir.path(), &format!("agent-{node}"), &pair, false).expect("write");
        }
        Self { dir, ca }
    }

    /// The files of `stem` (`coordinator`, `reader`, `agent-<node>`).
    pub fn files(&self, stem: &str) -> TlsFiles {
        TlsFiles {
            ca: self.dir.path().join("ca.pem"),
            cert: self.dir.path().join(format!("{stem}.pem")),
            key: self.dir.path().join(format!("{stem}-key.pem")),
        }
    }

    /// Path of a file in the PKI dir.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

/// The allowlist `kroll.node=<node>, kroll.test.run=<run id>`.
pub fn allow_node(node: &str) -> Allowlist {
    Allowlist {
        names: Default::default(),
        labels: BTreeMap::from([
            ("kroll.node".to_owned(), node.to_owned()),
            ("kroll.test.run".to_owned(), run_id().to_owned()),
        ]),
        ..Allowlist::default()
    }
}

/// Labels that put a test container on `node`.
pub fn on_node(node: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("kroll.node".to_owned(), node.to_owned())])
}

/// An agent running inside the test process on `127.0.0.1:<free port>`.
#[derive(Debug)]
pub struct RunningAgent {
    pub node: String,
    pub addr: std::net::SocketAddr,
    /// The `/metrics` address, when the agent has one.
    pub metrics: Option<std::net::SocketAddr>,
    pub audit: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningAgent {
    /// Starts an agent for `node` with `allow`, its audit log in `dir`.
    pub async fn start(pki: &Pki, node: &str, allow: Allowlist, dir: &Path) -> Self {
        let config = agent_config(pki, node, allow, dir);
        let agent = kroll_agent::Agent::start(config)
            .await
            .expect("agent start");
        Self::from_started(node, agent, dir)
    }

    /// Serves an agent prepared by the caller.
    pub fn from_started(
        node: &str,
        agent: kroll_agent::Agent<kroll_agent::docker::DockerRuntime>,
        dir: &Path,
    ) -> Self {
        let addr = agent.local_addr().expect("addr");
        let metrics = agent.metrics_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(agent.serve(async move {
            let _ = rx.await;
        }));
        Self {
            node: node.to_owned(),
            addr,
            metrics,
            audit: dir.join(format!("audit-{node}.log")),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The inventory's view of this agent.
    pub fn as_node(
        &self,
        services: Vec<kroll_shared::inventory::Service>,
    ) -> kroll_shared::inventory::Node {
        kroll_shared::inventory::Node {
            name: self.node.clone(),
            agent: self.addr.to_string(),
            services,
        }
    }

    /// Stops the agent and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("join").expect("agent ran cleanly");
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// An agent configuration on a free loopback port.
pub fn agent_config(pki: &Pki, node: &str, allow: Allowlist, dir: &Path) -> AgentConfig {
    AgentConfig {
        node: node.to_owned(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        tls: pki.files(&format!("agent-{node}")),
        allow,
        audit: AuditConfig {
            path: dir.join(format!("audit-{node}.log")),
        },
        docker: Default::default(),
        sampling: Default::default(),
        restart: Default::default(),
        report_env: Default::default(),
        jvm: Default::default(),
        metrics: Default::default(),
    }
}

/// Polls `check` until it returns `Some` or `deadline` passes (then panics with `what`).
pub async fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let began = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            began.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `kroll-agent` process (the binary as users run it), so a test can kill it with SIGKILL
/// mid-action and start it again on the same audit log. The process is killed on drop.
#[derive(Debug)]
pub struct AgentProcess {
    pub node: String,
    pub addr: std::net::SocketAddr,
    pub config: PathBuf,
    pub audit: PathBuf,
    child: Option<std::process::Child>,
}

impl AgentProcess {
    /// Writes a configuration for `node` (allowlist [`allow_node`], audit log in `dir`) and
    /// starts the agent; returns once it serves.
    pub fn start(pki: &Pki, node: &str, dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let tls = pki.files(&format!("agent-{node}"));
        let config = dir.join(format!("agent-{node}.toml"));
        let text = format!(
            "node = \"{node}\"\nlisten = \"127.0.0.1:{port}\"\n\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\n[allow]\nlabels = {{ \"kroll.node\" = \"{node}\", \"kroll.test.run\" = \"{}\" }}\n\n[audit]\npath = \"audit-{node}.log\"\n",
            tls.ca.display(),
            tls.cert.display(),
            tls.key.display(),
            run_id(),
        );
        std::fs::write(&config, text).expect("write agent config");
        let mut me = Self {
            node: node.to_owned(),
            addr: ([127, 0, 0, 1], port).into(),
            audit: dir.join(format!("audit-{node}.log")),
            config,
            child: None,
        };
        me.spawn();
        me
    }

    /// Starts the agent process again (after [`Self::kill9`]); returns once it serves.
    pub fn spawn(&mut self) {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(bin("kroll-agent"))
            .arg("--config")
            .arg(&self.config)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn kroll-agent");
        let stderr = child.stderr.take().expect("stderr");
        self.child = Some(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut said = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Agent serving.") {
                    let _ = tx.send(Ok(()));
                }
                said.push(line);
            }
            let _ = tx.send(Err(said.join("\n")));
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(())) => {}
            Ok(Err(said)) => panic!("kroll-agent exited before serving:\n{said}"),
            Err(_) => panic!("kroll-agent did not serve within 120 s"),
        }
    }

    /// SIGKILL: the agent dies wherever it is (std's `kill` sends SIGKILL to this child only).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The inventory's view of this agent.
    pub fn as_node(&self) -> kroll_shared::inventory::Node {
        kroll_shared::inventory::Node {
            name: self.node.clone(),
            agent: self.addr.to_string(),
            services: vec![],
        }
    }

    /// The audit log's lines, parsed.
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
