//! `GetNodeState`'s JVM report against `jstat -gc` on the same container JVM; heap config
//! drift and unreadable heaps in `kroll status`; `/metrics`; a hung (paused) JVM; a symlink
//! planted at the hsperfdata path.

use std::io::{Read, Write};
use std::time::Duration;

use kroll::agents::AgentClient;
use kroll_shared::jvm::{HeapLimit, HeapSetting, Jvm, Liveness};
use kroll_shared::model::{EventKind, NodeState};
use kroll_tests::{Pki, RunningAgent, allow_node, eventually, inspect_json};

use super::jstat::{jstat_gc, mismatches};
use super::{inventory, start_java};

const MIB: u64 = 1 << 20;

async fn agent(pki: &Pki, node: &str, dir: &std::path::Path, metrics: bool) -> RunningAgent {
    let mut config = kroll_tests::agent_config(pki, node, allow_node(node), dir);
    config.sampling.interval_ms = 200;
    config.jvm.hung_after_ms = 1000;
    if metrics {
        config.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
    }
    let agent = Box::pin(kroll_agent::Agent::start(config))
        .await
        .expect("agent");
    RunningAgent::from_started(node, agent, dir)
}

fn first_jvm<'a>(s: &'a NodeState, container: &str) -> Option<&'a Jvm> {
    s.container(container)?.java.as_ref()?.jvms.first()
}

async fn wait_jvm(
    client: &mut AgentClient,
    container: &str,
    what: &str,
    ok: impl Fn(&Jvm) -> bool,
) -> Jvm {
    eventually(what, Duration::from_secs(60), async || {
        let s = client.node_state().await.ok()?;
        first_jvm(&s, container).filter(|j| ok(j)).cloned()
    })
    .await
}

fn scrape(addr: std::net::SocketAddr) -> String {
    let mut c = std::net::TcpStream::connect(addr).expect("connect /metrics");
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut out = String::new();
    c.read_to_string(&mut out).expect("read");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn heap_figures_equal_jstat_and_status_shows_drift_unknown_heaps_and_hung_jvms() {
    let node = "heap-a";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let idle = start_java(
        "idle",
        node,
        &["KAFKA_HEAP_OPTS=-Xmx64m"],
        &["-Xmx64m", "-XX:+UseG1GC"],
        &["Idle", "8"],
    )
    .await;
    let drift = start_java(
        "drift",
        node,
        &["HEAP_OPTS=-Xmx512m -Xms512m"],
        &["-Xmx64m"],
        &["Idle", "4"],
    )
    .await;
    let noperf = start_java(
        "noperf",
        node,
        &[],
        &["-Xmx32m", "-XX:-UsePerfData"],
        &["Idle", "4"],
    )
    .await;
    let agent = agent(&pki, node, dir.path(), true).await;
    let mut client = super::super::agent::client(&pki, "coordinator", &agent).await;

    let jvm = wait_jvm(&mut client, &idle.name, "idle's heap", |j| {
        j.heap.is_some() && j.liveness == Liveness::Advancing
    })
    .await;
    assert_eq!(
        i64::from(jvm.pid),
        inspect_json(&idle.name)["State"]["Pid"]
            .as_i64()
            .unwrap_or(-1)
    );
    assert_eq!(
        (jvm.nspid, jvm.main.as_str(), jvm.collector.as_str()),
        (1, "Idle", "G1")
    );
    assert!(jvm.java_version.starts_with("17"), "{}", jvm.java_version);
    let vm_max = HeapLimit {
        setting: HeapSetting::Bytes(64 * MIB),
        source: "vm_args".into(),
    };
    assert_eq!(jvm.max_heap_setting, Some(vm_max));
    assert_eq!(
        jvm.heap.as_ref().and_then(|h| h.max_bytes),
        Some(64 * MIB),
        "max heap = -Xmx64m"
    );

    // The same moment as jstat: agent, jstat, agent again — equal figures on an idle JVM.
    let agreed = eventually(
        "agent figures equal to jstat -gc",
        Duration::from_secs(30),
        async || {
            let before = first_jvm(&client.node_state().await.ok()?, &idle.name)?
                .heap
                .clone()?;
            let oracle = jstat_gc(jvm.pid);
            let after = first_jvm(&client.node_state().await.ok()?, &idle.name)?
                .heap
                .clone()?;
            let diff = mismatches(&before, &oracle);
            (before == after && diff.is_empty()).then_some(oracle)
        },
    )
    .await;
    assert!(agreed.contains_key("OU"), "{agreed:?}");

    let state = client.node_state().await.expect("state");
    let java = state
        .container(&idle.name)
        .and_then(|c| c.java.clone())
        .expect("java report");
    let asked = HeapLimit {
        setting: HeapSetting::Bytes(64 * MIB),
        source: "KAFKA_HEAP_OPTS".into(),
    };
    assert_eq!(java.configured_heap, Some(asked));
    let off = wait_jvm(&mut client, &noperf.name, "noperf's report", |j| {
        j.unreadable.is_some()
    })
    .await;
    assert_eq!(
        off.unreadable.as_deref(),
        Some("heap unknown: perf data disabled (-XX:-UsePerfData)")
    );
    wait_jvm(&mut client, &drift.name, "drift's heap", |j| {
        j.heap.is_some()
    })
    .await;

    status_shows_heap_and_drift(
        &pki,
        &agent,
        dir.path(),
        [&idle.name, &drift.name, &noperf.name],
    );
    metrics_show_heap(&agent, node, &idle.name, jvm.pid, &noperf.name);
    paused_jvm_is_hung_then_recovers(&mut client, &idle.name, jvm.pid).await;
    agent.stop().await;
}

fn status_shows_heap_and_drift(
    pki: &Pki,
    agent: &RunningAgent,
    dir: &std::path::Path,
    names: [&String; 3],
) {
    let services = format!(
        "services = [{{ kind = \"connect\", container = \"{}\" }}, {{ kind = \"connect\", container = \"{}\" }}, {{ kind = \"zookeeper\", container = \"{}\" }}]\n",
        names[0], names[1], names[2]
    );
    let inv = inventory(dir, pki, &[agent], "");
    let text = std::fs::read_to_string(&inv).expect("inventory") + &services;
    std::fs::write(&inv, text).expect("inventory");
    let out = std::process::Command::new(kroll_tests::bin("kroll"))
        .arg("--inventory")
        .arg(&inv)
        .arg("status")
        .output()
        .expect("kroll status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "drift is a problem:\n{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.contains(names[0].as_str()))
        .expect("idle row");
    // System.gc() in Idle is one full collection.
    assert!(
        row.contains("/64M ") && row.contains("y/1f"),
        "HEAP and GC columns: {row}"
    );
    let off_row = stdout
        .lines()
        .find(|l| l.contains(names[2].as_str()))
        .expect("noperf row");
    assert!(
        off_row.contains("heap unknown: perf data disabled"),
        "{off_row}"
    );
    let problem = stdout
        .lines()
        .find(|l| l.contains("heap config drift"))
        .expect("a drift problem");
    assert!(
        problem.contains(names[1].as_str())
            && problem.contains("512.0 MiB (`HEAP_OPTS`)")
            && problem.contains("64.0 MiB"),
        "{problem}"
    );
    assert_eq!(
        stdout.matches("heap config drift").count(),
        1,
        "only the drifting container:\n{stdout}"
    );
}

fn metrics_show_heap(agent: &RunningAgent, node: &str, container: &str, pid: u32, noperf: &str) {
    let body = scrape(agent.metrics.expect("metrics listener"));
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    for line in [
        format!(
            "kroll_jvm_heap_max_bytes{{node=\"{node}\",container=\"{container}\",pid=\"{pid}\"}} {}",
            64 * MIB
        ),
        format!(
            "kroll_container_configured_heap_bytes{{node=\"{node}\",container=\"{container}\",variable=\"KAFKA_HEAP_OPTS\"}} {}",
            64 * MIB
        ),
        format!("kroll_container_up{{node=\"{node}\",container=\"{container}\"}} 1"),
        "# TYPE kroll_jvm_gc_collections_total counter".to_owned(),
    ] {
        assert!(body.contains(&line), "missing `{line}` in:\n{body}");
    }
    assert!(
        body.contains(&format!(
            "kroll_jvm_heap_readable{{node=\"{node}\",container=\"{noperf}\""
        )),
        "{body}"
    );
    assert!(
        body.contains("kroll_disk_available_bytes{node=\"heap-a\",mount=\"/\"}"),
        "{body}"
    );
}

async fn paused_jvm_is_hung_then_recovers(client: &mut AgentClient, container: &str, pid: u32) {
    let mut events = client
        .watch(vec![container.to_owned()])
        .await
        .expect("watch");
    kroll_tests::docker_cli(&["pause", container]);
    let hung = wait_jvm(client, container, "a stalled JVM", |j| {
        matches!(j.liveness, Liveness::Stalled { .. })
    })
    .await;
    kroll_tests::docker_cli(&["unpause", container]);
    assert_eq!(hung.pid, pid);
    let mut kinds = Vec::new();
    while !kinds.contains(&"jvm_recovered") {
        let next = tokio::time::timeout(
            Duration::from_secs(20),
            futures::StreamExt::next(&mut events),
        )
        .await;
        let e = next
            .expect("a JVM event within 20 s")
            .expect("stream")
            .expect("event");
        if let EventKind::JvmHung { pid: p, stalled_ms } = &e.kind {
            assert_eq!(*p, pid);
            assert!(*stalled_ms >= 1000, "{stalled_ms}");
        }
        kinds.push(e.kind.name());
    }
    assert!(kinds.contains(&"jvm_hung"), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_planted_at_the_hsperfdata_path_is_refused() {
    let node = "heap-s";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    // A host file that *is* valid hsperfdata: a reader that followed the link would report it.
    let planted = dir.path().join("host-secret.hsperf");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/hsperf/tests/data/jdk17-g1.hsperf");
    std::fs::copy(&data, &planted).expect("copy captured hsperfdata");
    let victim = start_java("plant", node, &[], &["-Xmx32m"], &["Idle", "4"]).await;
    let agent = agent(&pki, node, dir.path(), false).await;
    let mut client = super::super::agent::client(&pki, "coordinator", &agent).await;
    wait_jvm(&mut client, &victim.name, "the JVM's heap", |j| {
        j.heap.is_some()
    })
    .await;

    let plant = format!(
        "rm /tmp/hsperfdata_appuser/1 && ln -s {} /tmp/hsperfdata_appuser/1",
        planted.display()
    );
    kroll_tests::docker_cli(&["exec", &victim.name, "/bin/sh", "-c", &plant]);
    let refused = wait_jvm(&mut client, &victim.name, "the refusal", |j| {
        j.heap.is_none()
    })
    .await;
    let why = refused.unreadable.unwrap_or_default();
    assert!(
        why.contains("not accessible"),
        "refused as not accessible: {why}"
    );
    // Several more samples: never the planted figures.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let s = client.node_state().await.expect("state");
        let j = first_jvm(&s, &victim.name).expect("jvm");
        assert!(
            j.heap.is_none(),
            "the agent read through the planted symlink: {j:?}"
        );
    }
    agent.stop().await;
}
