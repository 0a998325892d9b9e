//! The Swarm lab's machines: five Docker engines on this one machine, each in a network
//! namespace of its own (own address, own UTS hostname `rhodrylab-0N`, own data-root,
//! exec-root and socket), a hub namespace whose bridge joins them, the lab's image registry in
//! the hub (Debian's `docker-registry`), and one link from this machine's network into the hub so
//! kroll, the agents' clients and the tests reach the nodes by address.
//!
//! Nothing of the main Docker engine is changed. Every process is started here and recorded by
//! PID; [`stop`] stops exactly those, then removes the namespaces (the host's end of
//! the link goes with the hub), every mount below the lab's roots, and the directories.
//!
//! Recipe and its traps: `../shared/brief/swarm.md` — `nsenter --net` (not `ip netns exec`,
//! which remounts `/sys` and hides the cgroup mounts), `unshare --uts` for the hostname, an
//! empty `--config-file` (the host's `daemon.json` must not apply), `--iptables=false
//! --ip-masq=false --bridge=none`; storage driver `fuse-overlayfs` (the main engine's, and ~10×
//! faster to load images into than `vfs`).

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::super::LabError;
use crate::topology::{Hosts, NODES, node_name};

/// Programs the Swarm lab runs, with the Debian package that has each.
pub const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
    ("dockerd", "docker.io"),
    ("docker", "docker.io"),
    ("docker-registry", "docker-registry"),
    ("fuse-overlayfs", "fuse-overlayfs"),
];

/// Where everything of lab index `k` lives and is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The lab's index: its /24 is `10.199.<k>.0/24`, its namespaces `krl<k>…`.
    pub k: u8,
    /// Data roots of the engines and the registry (under the lab directory).
    pub data: PathBuf,
    /// Short paths for sockets and exec-roots (unix socket paths are limited to 108 bytes).
    pub run: PathBuf,
}

/// The lab's /24 prefix.
const NET: [u8; 2] = [10, 199];

impl Layout {
    pub fn new(k: u8, lab_dir: &Path) -> Self {
        Self {
            k,
            data: lab_dir.join("swarm"),
            run: PathBuf::from(format!("/run/kroll-swarm/{k}")),
        }
    }

    /// How the lab's topology addresses the nodes.
    pub fn hosts(&self) -> Hosts {
        Hosts::Nodes {
            subnet: [NET[0], NET[1], self.k],
        }
    }

    pub fn hub_ns(&self) -> String {
        format!("krl{}hub", self.k)
    }

    pub fn node_ns(&self, n: u8) -> String {
        format!("krl{}n{n}", self.k)
    }

    /// `/var/run/netns/<ns>`, for `nsenter --net=`.
    pub fn ns_path(ns: &str) -> PathBuf {
        Path::new("/var/run/netns").join(ns)
    }

    fn ip(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(NET[0], NET[1], self.k, last)
    }

    /// The hub bridge's address, where the registry listens.
    pub fn registry_ip(&self) -> Ipv4Addr {
        self.ip(1)
    }

    /// `10.199.<k>.1:5000`: the registry the lab's images are pushed to and pulled from.
    pub fn registry(&self) -> String {
        format!("{}:5000", self.registry_ip())
    }

    /// This machine's address on the lab network.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.ip(254)
    }

    pub fn node_ip(&self, n: u8) -> Ipv4Addr {
        self.hosts().node_ip(n)
    }

    /// The Docker API socket of node `n`'s engine.
    pub fn socket(&self, n: u8) -> PathBuf {
        self.run.join(format!("{n}/docker.sock"))
    }

    /// Directory of a second socket of every node's engine, `<hostname>.sock`: what the agents
    /// run as a global service mount (a path Swarm's `{{.Node.Hostname}}` can name).
    pub fn sockets(&self) -> PathBuf {
        self.run.join("sockets")
    }

    /// `unix://…` of node `n`'s engine, for `docker -H` and the agent's `[docker] host`.
    pub fn docker_host(&self, n: u8) -> String {
        format!("unix://{}", self.socket(n).display())
    }

    /// Directory shared by every node (all engines run on this machine: like an NFS export).
    pub fn shared(&self) -> PathBuf {
        self.data.join("shared")
    }
}

/// The processes the lab started, by PID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    /// dockerd of node `n` at index `n - 1`.
    pub engines: Vec<u32>,
    pub registry: Option<u32>,
}

/// The lab index not used by any namespace on this machine (1..=250).
pub fn free_index() -> Result<u8, LabError> {
    (1..=250u8)
        .find(|k| !Layout::ns_path(&format!("krl{k}hub")).exists())
        .ok_or_else(|| LabError::Usage("no free Swarm lab index: 250 Swarm labs exist".into()))
}

/// Fails naming the Debian package of the first missing tool.
pub fn check_tools() -> Result<(), LabError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for (tool, package) in TOOLS {
        let found = std::env::split_paths(&path).any(|d| d.join(tool).is_file());
        if !found {
            return Err(LabError::Usage(format!(
                "the Swarm lab needs `{tool}`: install the Debian package `{package}` (deploy/setup.sh does)"
            )));
        }
    }
    Ok(())
}

fn sh(what: &str, cmd: &mut Command) -> Result<String, LabError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::Io {
            path: PathBuf::from(what),
            source: e,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LabError::Swarm(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn ip(args: &[&str]) -> Result<String, LabError> {
    sh(
        &format!("ip {}", args.join(" ")),
        Command::new("ip").args(args),
    )
}

/// Creates the hub, the link from this machine and one namespace per node.
pub fn make_network(l: &Layout) -> Result<(), LabError> {
    let hub = l.hub_ns();
    let k = l.k;
    ip(&["netns", "add", &hub])?;
    ip(&["-n", &hub, "link", "set", "lo", "up"])?;
    ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &hub, "link", "set", "br0", "up"])?;
    ip(&[
        "-n",
        &hub,
        "addr",
        "add",
        &format!("{}/24", l.registry_ip()),
        "dev",
        "br0",
    ])?;
    let host_if = format!("krl{k}host");
    ip(&[
        "link", "add", &host_if, "type", "veth", "peer", "name", "uplink", "netns", &hub,
    ])?;
    ip(&["-n", &hub, "link", "set", "uplink", "master", "br0", "up"])?;
    ip(&[
        "addr",
        "add",
        &format!("{}/24", l.host_ip()),
        "dev",
        &host_if,
    ])?;
    ip(&["link", "set", &host_if, "up"])?;
    for n in 1..=NODES {
        let ns = l.node_ns(n);
        let hub_if = format!("krl{k}v{n}");
        ip(&["netns", "add", &ns])?;
        ip(&[
            "link", "add", &hub_if, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        ip(&["link", "set", &hub_if, "netns", &hub])?;
        ip(&["-n", &hub, "link", "set", &hub_if, "master", "br0", "up"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/24", l.node_ip(n)),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    }
    Ok(())
}

fn log_file(path: &Path) -> Result<std::fs::File, LabError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(LabError::io(path))
}

/// Starts node `n`'s engine in its namespace under its hostname; returns dockerd's PID
/// (`nsenter` and `unshare` exec, `sh` execs dockerd: one process throughout).
pub fn start_engine(l: &Layout, n: u8) -> Result<u32, LabError> {
    let run = l.run.join(n.to_string());
    let data = l.data.join(format!("node-{n}"));
    for d in [&run, &data, &l.sockets()] {
        std::fs::create_dir_all(d).map_err(LabError::io(d))?;
    }
    let empty = l.run.join("daemon.json");
    std::fs::write(&empty, "{}\n").map_err(LabError::io(&empty))?;
    let script = format!(
        "hostname {host} && exec dockerd --config-file {empty} --data-root {data} \
         --exec-root {exec} --pidfile {pid} -H {sock} -H unix://{by_name} \
         --iptables=false --ip-masq=false \
         --bridge=none --storage-driver=fuse-overlayfs --insecure-registry {registry} \
         --shutdown-timeout 5",
        host = node_name(n),
        empty = empty.display(),
        data = data.join("docker").display(),
        exec = run.join("exec").display(),
        pid = run.join("docker.pid").display(),
        sock = l.docker_host(n),
        by_name = l.sockets().join(format!("{}.sock", node_name(n))).display(),
        registry = l.registry(),
    );
    let log = l.data.join(format!("node-{n}.log"));
    crate::inherit_nothing();
    let child = Command::new("nsenter")
        .arg(format!(
            "--net={}",
            Layout::ns_path(&l.node_ns(n)).display()
        ))
        .args(["unshare", "--uts", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(log_file(&log)?)
        .stderr(log_file(&log)?)
        .process_group(0)
        .spawn()
        .map_err(LabError::io(Path::new("nsenter")))?;
    Ok(reap(child))
}

/// Starts the registry in the hub; returns its PID.
pub fn start_registry(l: &Layout) -> Result<u32, LabError> {
    let root = l.data.join("registry");
    std::fs::create_dir_all(&root).map_err(LabError::io(&root))?;
    let config = l.data.join("registry.yml");
    let text = format!(
        "version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: \"{}\"}}\n",
        root.display(),
        l.registry()
    );
    std::fs::write(&config, text).map_err(LabError::io(&config))?;
    let log = l.data.join("registry.log");
    crate::inherit_nothing();
    let child = Command::new("nsenter")
        .arg(format!("--net={}", Layout::ns_path(&l.hub_ns()).display()))
        .arg("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log_file(&log)?)
        .stderr(log_file(&log)?)
        .process_group(0)
        .spawn()
        .map_err(LabError::io(Path::new("docker-registry")))?;
    Ok(reap(child))
}

/// Reaps `child` when it exits (no zombie while this process lives); returns its PID.
fn reap(mut child: std::process::Child) -> u32 {
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    pid
}

/// `docker -H <node n> args…`, its standard output.
pub fn docker(l: &Layout, n: u8, args: &[&str]) -> Result<String, LabError> {
    let host = l.docker_host(n);
    sh(
        &format!("docker -H {host} {}", args.join(" ")),
        Command::new("docker").arg("-H").arg(&host).args(args),
    )
}

/// Waits until every engine answers and the registry serves.
pub async fn wait_ready(l: &Layout, limit: Duration) -> Result<(), LabError> {
    let began = Instant::now();
    loop {
        let mut pending = Vec::new();
        for n in 1..=NODES {
            if let Err(e) = docker(l, n, &["version", "--format", "{{.Server.Version}}"]) {
                pending.push(format!("{}: {e}", node_name(n)));
            }
        }
        let registry = tokio::net::TcpStream::connect((l.registry_ip(), 5000)).await;
        if let Err(e) = registry {
            pending.push(format!("registry {}: {e}", l.registry()));
        }
        if pending.is_empty() {
            return Ok(());
        }
        if began.elapsed() > limit {
            return Err(LabError::NotReady {
                what: "the Swarm lab's engines and registry".into(),
                waited: began.elapsed(),
                last: pending.join("; "),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `swarm init` on node 1; nodes 2…`managers` join as managers, the others as workers.
pub fn form_swarm(l: &Layout, managers: u8) -> Result<(), LabError> {
    let addr = l.node_ip(1).to_string();
    docker(
        l,
        1,
        &[
            "swarm",
            "init",
            "--advertise-addr",
            &addr,
            "--listen-addr",
            &format!("{addr}:2377"),
        ],
    )?;
    let worker = docker(l, 1, &["swarm", "join-token", "-q", "worker"])?;
    let manager = docker(l, 1, &["swarm", "join-token", "-q", "manager"])?;
    for n in 2..=NODES {
        let token = if n <= managers { &manager } else { &worker }.trim();
        docker(
            l,
            n,
            &[
                "swarm",
                "join",
                "--token",
                token,
                "--advertise-addr",
                &l.node_ip(n).to_string(),
                &format!("{addr}:2377"),
            ],
        )?;
    }
    Ok(())
}

/// Whether `pid` still runs `program` (by `/proc/<pid>/exe`'s file name).
fn runs(pid: u32, program: &str) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .is_some_and(|f| f == program)
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Processes left behind by the lab's engines (`containerd-shim`s whose command line names
/// the lab's exec-root), with every process below them (the containers' processes).
fn leftovers(l: &Layout) -> Vec<u32> {
    let root = l.run.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&root))
        })
        .collect();
    let mut i = 0;
    while i < found.len() {
        for c in children(found[i]) {
            if !found.contains(&c) {
                found.push(c);
            }
        }
        i += 1;
    }
    found
}

/// The lab's containers' first processes: the children of its engines' `containerd-shim`s.
fn containers(l: &Layout) -> Vec<u32> {
    leftovers(l)
        .into_iter()
        .filter(|&pid| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .is_ok_and(|p| p.to_string_lossy().contains("containerd-shim"))
        })
        .flat_map(children)
        .collect()
}

/// The children of every thread of `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Stops the recorded processes (SIGTERM, then SIGKILL after `grace`), only while each PID
/// still runs the program recorded for it; then whatever the engines left behind.
pub async fn stop(l: &Layout, pids: &Pids, grace: Duration) {
    stop_processes(l, pids, grace).await;
    for pid in leftovers(l) {
        signal(pid, rustix::process::Signal::KILL);
    }
}

async fn stop_processes(l: &Layout, pids: &Pids, grace: Duration) {
    let mut mine: Vec<u32> = Vec::new();
    for &pid in &pids.engines {
        if runs(pid, "dockerd") {
            mine.push(pid);
        }
    }
    if let Some(pid) = pids.registry.filter(|&p| runs(p, "docker-registry")) {
        mine.push(pid);
    }
    for &pid in &mine {
        signal(pid, rustix::process::Signal::TERM);
    }
    // The lab is being removed: its containers get no grace. An engine stopping would give
    // each its stop timeout, up to the engine's own shutdown timeout (15 s), and a Swarm lab's
    // teardown spent most of its time there.
    for pid in containers(l) {
        signal(pid, rustix::process::Signal::KILL);
    }
    let began = Instant::now();
    while began.elapsed() < grace
        && mine
            .iter()
            .any(|&p| Path::new(&format!("/proc/{p}")).exists())
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for &pid in &mine {
        if Path::new(&format!("/proc/{pid}")).exists() {
            signal(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Removes the namespaces, every mount below the lab's roots, and the directories.
pub fn remove(l: &Layout) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names = vec![l.hub_ns()];
    names.extend((1..=NODES).map(|n| l.node_ns(n)));
    for ns in names {
        if Layout::ns_path(&ns).exists()
            && let Err(e) = ip(&["netns", "del", &ns])
        {
            problems.push(e.to_string());
        }
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let roots = [l.data.clone(), l.run.clone()];
    let mut targets: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .filter(|m| roots.iter().any(|r| Path::new(m).starts_with(r)))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        let _ = sh("umount", Command::new("umount").args(["-l", t]));
    }
    for d in roots {
        if d.exists()
            && let Err(e) = std::fs::remove_dir_all(&d)
        {
            problems.push(format!("{}: {e}", d.display()));
        }
    }
    problems
}
