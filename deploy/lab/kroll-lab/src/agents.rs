//! The lab's agents: one `kroll-agent` host process per node, each on its own loopback address
//! (`127.77.0.<N>`), with mutual-TLS certificates from the lab's own CA and an allowlist by the
//! labels `kroll.lab=<lab>, kroll.node=<node>`.
//!
//! Processes are started in their own process group (a Ctrl-C of `kroll-lab up` does not stop
//! them), their stderr goes to `<dir>/agents/<node>.log`, and they are stopped only by the PID
//! recorded for them, and only while that PID still runs a `kroll-agent` whose command line
//! names this lab's configuration file.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kroll_shared::tls::{self, Role, Validity};
use serde::{Deserialize, Serialize};

use super::LabError;
use super::topology::{LAB_LABEL, LabSpec, NODE_LABEL, node_name};

/// One running agent, as recorded in the lab's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub node: String,
    pub addr: SocketAddr,
    pub pid: u32,
    pub config: PathBuf,
    pub log: PathBuf,
}

/// Writes the lab's CA and the coordinator, reader and agent certificates under
/// `<dir>/certs` unless the CA is already there (agents keep trusting the lab's CA).
pub fn ensure_certs(dir: &Path, spec: &LabSpec) -> Result<PathBuf, LabError> {
    let certs = dir.join("certs");
    if certs.join("ca.pem").is_file() {
        return Ok(certs);
    }
    std::fs::create_dir_all(&certs).map_err(LabError::io(&certs))?;
    let v = Validity::default();
    let tls_err = |e: tls::TlsError| LabError::Agent {
        node: "-".into(),
        detail: format!("issuing certificates in {}: {e}", certs.display()),
    };
    let ca = tls::generate_ca(&spec.cluster_name(), v).map_err(tls_err)?;
    tls::write_pair(&certs, "ca", &ca, true).map_err(tls_err)?;
    for (stem, role) in [("coordinator", Role::Coordinator), ("reader", Role::Reader)] {
        let pair = tls::issue(&ca, role, stem, &[], v).map_err(tls_err)?;
        tls::write_pair(&certs, stem, &pair, true).map_err(tls_err)?;
    }
    for n in 1..=spec.shape.nodes {
        let node = node_name(n);
        let hosts = [node.clone(), spec.hosts.agent_ip(n).to_string()];
        let pair = tls::issue(&ca, Role::Agent, &node, &hosts, v).map_err(tls_err)?;
        tls::write_pair(&certs, &format!("agent-{node}"), &pair, true).map_err(tls_err)?;
    }
    Ok(certs)
}

/// Writes `<dir>/agents/<node>.toml` for node `n` and returns its path.
pub fn write_config(dir: &Path, spec: &LabSpec, n: u8) -> Result<PathBuf, LabError> {
    write_config_for(dir, spec, n, None, None)
}

/// [`write_config`] for an agent whose node's engine is at `docker_host` (`unix://…`; the
/// Swarm lab's nodes each have their own).
pub fn write_config_for(
    dir: &Path,
    spec: &LabSpec,
    n: u8,
    docker_host: Option<&str>,
    manages_stack: Option<&str>,
) -> Result<PathBuf, LabError> {
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).map_err(LabError::io(&agents))?;
    let node = node_name(n);
    let certs = dir.join("certs");
    let path = agents.join(format!("{node}.toml"));
    let mut text = format!(
        "# kroll-agent of lab `{lab}`, node {node} (written by `kroll-lab up`).\n\
         node = \"{node}\"\n\
         listen = \"{listen}\"\n\
         report_env = [\"KAFKA_ADVERTISED_LISTENERS\", \"KAFKA_INTER_BROKER_PROTOCOL_VERSION\"]\n\n\
         [tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n\n\
         [allow]\nlabels = {{ \"{LAB_LABEL}\" = \"{lab}\", \"{NODE_LABEL}\" = \"{node}\" }}\n{stacks}\n\
         [audit]\npath = \"{audit}\"\n\n\
         [restart]\ndefault_stop_timeout_seconds = 60\n",
        lab = spec.name,
        stacks = manages_stack
            .map(|s| format!("stacks = [\"{s}\"]\n"))
            .unwrap_or_default(),
        listen = spec.agent_addr(n),
        ca = certs.join("ca.pem").display(),
        cert = certs.join(format!("agent-{node}.pem")).display(),
        key = certs.join(format!("agent-{node}-key.pem")).display(),
        audit = agents.join(format!("{node}-audit.log")).display(),
    );
    if let Some(host) = docker_host {
        text.push_str(&format!("\n[docker]\nhost = \"{host}\"\n"));
    }
    std::fs::write(&path, text).map_err(LabError::io(&path))?;
    Ok(path)
}

/// Starts `kroll-agent --config <config>` for `node` at `addr`, stderr to `<config>.log`
/// (`…/agents/<node>.log`), and waits until it accepts connections.
pub async fn spawn(
    agent_bin: &Path,
    node: &str,
    addr: SocketAddr,
    config: &Path,
) -> Result<AgentRecord, LabError> {
    spawn_in(agent_bin, node, addr, config, None).await
}

/// [`spawn`] inside the network namespace at `netns` (`/var/run/netns/<ns>`: the Swarm lab's
/// node), through `nsenter`, which execs the agent (the PID recorded is the agent's).
pub async fn spawn_in(
    agent_bin: &Path,
    node: &str,
    addr: SocketAddr,
    config: &Path,
    netns: Option<&Path>,
) -> Result<AgentRecord, LabError> {
    let log = config.with_extension("log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(LabError::io(&log))?;
    super::inherit_nothing();
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", ns.display())).arg(agent_bin);
            c
        }
        None => Command::new(agent_bin),
    };
    let mut child = cmd
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::Agent {
            node: node.to_owned(),
            detail: format!("starting {}: {e}", agent_bin.display()),
        })?;
    let pid = child.id();
    // Reap the child when it exits, so a stopped agent does not linger as a zombie while this
    // process (e.g. a test) keeps running; `exited` tells the wait below that it died.
    let exited = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&exited);
    std::thread::spawn(move || {
        let _ = child.wait();
        flag.store(true, Ordering::SeqCst);
    });
    let record = AgentRecord {
        node: node.to_owned(),
        addr,
        pid,
        config: config.to_owned(),
        log,
    };
    if let Err(e) = wait_listening(&record, &exited).await {
        // Not serving: stop the process just started rather than leave it unrecorded.
        if !exited.load(Ordering::SeqCst) {
            signal_then_kill(&record, &exited).await;
        }
        return Err(e);
    }
    Ok(record)
}

/// SIGTERM to the agent this process started, SIGKILL after 10 s.
async fn signal_then_kill(a: &AgentRecord, exited: &AtomicBool) {
    use rustix::process::{Pid, Signal, kill_process};
    let Some(pid) = i32::try_from(a.pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let _ = kill_process(pid, Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exited.load(Ordering::SeqCst) {
        if Instant::now() > deadline {
            let _ = kill_process(pid, Signal::KILL);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_listening(a: &AgentRecord, exited: &AtomicBool) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(a.addr).await.is_ok() {
            return Ok(());
        }
        if exited.load(Ordering::SeqCst) || Instant::now() > deadline {
            let tail = std::fs::read_to_string(&a.log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(LabError::Agent {
                node: a.node.clone(),
                detail: format!(
                    "kroll-agent (pid {}) is not listening on {}; its log {} ends: {}",
                    a.pid,
                    a.addr,
                    a.log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `pid` is a live (not zombie) `kroll-agent` whose command line names `config`.
pub fn is_lab_agent(pid: u32, config: &Path) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let Ok(cmdline) = std::fs::read(proc.join("cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let exe_ok = args
        .first()
        .and_then(|a| {
            Path::new(std::str::from_utf8(a).ok()?)
                .file_name()?
                .to_str()
        })
        .is_some_and(|name| name.starts_with("kroll-agent"));
    let config = config.as_os_str().as_encoded_bytes();
    let names_config = args.contains(&config);
    let stat = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    exe_ok && names_config && !zombie
}

/// Stops the agent recorded in `a` (SIGTERM, then SIGKILL after 10 s) if its PID still runs
/// this lab's agent; returns whether it was running.
pub async fn stop(a: &AgentRecord) -> bool {
    use rustix::process::{Pid, Signal, kill_process};
    if !is_lab_agent(a.pid, &a.config) {
        return false;
    }
    let Some(pid) = i32::try_from(a.pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    let _ = kill_process(pid, Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_lab_agent(a.pid, &a.config) {
        if Instant::now() > deadline {
            let _ = kill_process(pid, Signal::KILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Resident memory of a process in bytes (`VmRSS`), if it runs.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_kroll_agent_naming_the_config_counts_as_the_labs_agent() {
        let me = std::process::id();
        assert!(!is_lab_agent(me, Path::new("/nonexistent/agent.toml")));
        assert!(!is_lab_agent(u32::MAX - 1, Path::new("/x")));
    }

    #[test]
    fn rss_of_this_process_is_known() {
        assert!(rss_bytes(std::process::id()).is_some_and(|b| b > 1024 * 1024));
    }
}
