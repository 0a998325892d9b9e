//! The agent as a Swarm global service runs it: in a container of its own pid namespace (Swarm
//! has no `pid: host`), the host's `/proc` bind-mounted read-only, `SYS_PTRACE` added, the
//! Docker socket mounted. With `[jvm] proc_root` pointing at the host's proc it reads a JVM
//! container's heap (found by the host pid Docker reports, its hsperfdata by `NSpid`); with the
//! default (its own `/proc`) it finds none — so the setting is what makes it work.

use std::path::Path;
use std::time::Duration;

use kroll::agents::AgentClient;
use kroll_shared::jvm::Liveness;
use kroll_tests::{Pki, bin, docker_cli, eventually, inspect_json, run_id};

use super::start_java;

const MIB: u64 = 1 << 20;

/// The agent's image: its binary and shared libraries on an empty base (nothing pulled), the
/// one the Swarm lab runs its agents' global service from.
async fn agent_image() -> String {
    kroll_lab::swarm::agent_service::agent_image(&bin("kroll-agent"))
        .await
        .expect("agent image")
}

/// The agent in a container (`--network host`, own pid namespace), its config and state in
/// `dir`, the certificates of `pki`; removed when the guard drops.
pub(super) struct ContainerAgent {
    pub(super) name: String,
    pub(super) addr: std::net::SocketAddr,
}

impl Drop for ContainerAgent {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

fn start_in_container(
    image: &str,
    pki: &Pki,
    node: &str,
    dir: &Path,
    proc_root: Option<&str>,
    suffix: &str,
) -> ContainerAgent {
    let port = free_port();
    let jvm = proc_root.map_or(String::new(), |p| format!("proc_root = \"{p}\"\n"));
    let config = format!(
        "node = \"{node}\"\nlisten = \"127.0.0.1:{port}\"\n\
         [tls]\nca = \"/pki/ca.pem\"\ncert = \"/pki/agent-{node}.pem\"\nkey = \"/pki/agent-{node}-key.pem\"\n\
         [allow]\nlabels = {{ \"kroll.node\" = \"{node}\", \"kroll.test.run\" = \"{run}\" }}\n\
         [audit]\npath = \"/state/audit.log\"\n\
         [sampling]\ninterval_ms = 200\n\
         [jvm]\n{jvm}",
        run = run_id()
    );
    std::fs::write(dir.join("agent.toml"), config).expect("agent config");
    let name = format!("{}-agent-{suffix}", run_id());
    docker_cli(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &format!("kroll.test.run={}", run_id()),
        "--network",
        "host",
        "--cap-add",
        "SYS_PTRACE",
        "-v",
        "/proc:/host/proc:ro",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        &format!("{}:/pki:ro", pki.dir.path().display()),
        "-v",
        &format!("{}:/state", dir.display()),
        image,
        "--config",
        "/state/agent.toml",
    ]);
    ContainerAgent {
        name,
        addr: format!("127.0.0.1:{port}").parse().expect("addr"),
    }
}

pub(super) async fn client(pki: &Pki, node: &str, addr: std::net::SocketAddr) -> AgentClient {
    let material = pki.files("coordinator").load().expect("tls");
    let inv_node = kroll_shared::inventory::Node {
        name: node.to_owned(),
        agent: addr.to_string(),
        services: vec![],
    };
    eventually(
        "the containerized agent answers",
        Duration::from_secs(30),
        async || {
            AgentClient::connect(&inv_node, &material, Duration::from_secs(3))
                .await
                .ok()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_in_its_own_pid_namespace_reads_jvm_heaps_through_the_hosts_proc() {
    let node = "procroot";
    let pki = Pki::new(&[node]);
    let image = agent_image().await;
    let java = start_java("procroot-jvm", node, &[], &["-Xmx48m"], &["Idle", "8"]).await;
    let host_pid = inspect_json(&java.name)["State"]["Pid"]
        .as_i64()
        .expect("pid");

    let dir = tempfile::tempdir().expect("tmp");
    let with = start_in_container(&image, &pki, node, dir.path(), Some("/host/proc"), "host");
    let mut c = client(&pki, node, with.addr).await;
    let jvm = eventually(
        "the JVM's heap through /host/proc",
        Duration::from_secs(60),
        async || {
            let s = c.node_state().await.ok()?;
            let j = s
                .container(&java.name)?
                .java
                .as_ref()?
                .jvms
                .first()?
                .clone();
            (j.heap.is_some() && j.liveness == Liveness::Advancing).then_some(j)
        },
    )
    .await;
    assert_eq!(i64::from(jvm.pid), host_pid, "found by the host pid");
    assert_eq!(jvm.nspid, 1, "its hsperfdata named by NSpid");
    assert_eq!(jvm.heap.as_ref().and_then(|h| h.max_bytes), Some(48 * MIB));
    drop(c);
    drop(with);

    // The control: the same agent with its own /proc finds the container but not its JVM.
    let dir2 = tempfile::tempdir().expect("tmp");
    let without = start_in_container(&image, &pki, node, dir2.path(), None, "own");
    let mut c = client(&pki, node, without.addr).await;
    eventually(
        "the container listed",
        Duration::from_secs(30),
        async || c.node_state().await.ok()?.container(&java.name).map(|_| ()),
    )
    .await;
    // Over ten sampling passes (200 ms each), no answer shows a heap.
    let window = std::time::Instant::now();
    while window.elapsed() < Duration::from_secs(2) {
        let s = c.node_state().await.expect("state");
        let heaps = s
            .container(&java.name)
            .and_then(|c| c.java.as_ref())
            .map_or(0, |j| j.jvms.iter().filter(|j| j.heap.is_some()).count());
        assert_eq!(heaps, 0, "without the host's proc no heap can be read");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
