//! OutOfMemoryError → `kroll watch` (the real binary) and a webhook; OOM exits; the watch
//! reconnecting after an agent restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kroll_tests::{Pki, RunningAgent, Spec, TestContainer, allow_node, on_node};

use super::{Watch, inventory, is_event, start_java};

/// A webhook receiver recording every POST body (JSON), at an Alertmanager-like path.
async fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let (base, seen) = kroll_tests::prom::webhook().await;
    (format!("{base}api/v2/alerts"), seen)
}

pub(super) async fn start_agent(
    pki: &Pki,
    node: &str,
    dir: &std::path::Path,
    listen: Option<std::net::SocketAddr>,
) -> RunningAgent {
    let mut config = kroll_tests::agent_config(pki, node, allow_node(node), dir);
    config.sampling.interval_ms = 250;
    if let Some(l) = listen {
        config.listen = l;
    }
    let agent = Box::pin(kroll_agent::Agent::start(config))
        .await
        .expect("agent");
    RunningAgent::from_started(node, agent, dir)
}

/// The `at=<unix ms>` the Hog program printed in its OOM line: from the event's line, or — when
/// the JVM's own "Exception in thread …" line (stderr) reached the agent first and became the
/// event — from the container's stdout.
pub(super) fn oom_at(line: &str, container: &str) -> i64 {
    let find = |text: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix("at="))
            .and_then(|v| v.parse().ok())
    };
    find(line).unwrap_or_else(|| {
        let logs = std::process::Command::new("docker")
            .args(["logs", container])
            .output()
            .expect("docker logs");
        let out = String::from_utf8_lossy(&logs.stdout);
        find(&out)
            .unwrap_or_else(|| panic!("no at= in {line:?} nor in the logs of {container}: {out}"))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn java_oom_reaches_kroll_watch_and_a_webhook_and_oom_exits_are_recognised() {
    let node = "heap-w";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let agent = start_agent(&pki, node, dir.path(), None).await;
    let inv = inventory(dir.path(), &pki, &[&agent], "");
    let (hook, posts) = webhook().await;
    let watch = Watch::start(&inv, &["--webhook", &hook]);
    watch.next_matching("the connected notice", Duration::from_secs(20), |v| {
        v["watch"] == "connected"
    });

    let hog = start_java("hog", node, &[], &["-Xmx16m"], &["Hog", "1500"]).await;
    let exiter = start_java(
        "exiter",
        node,
        &[],
        &["-Xmx16m", "-XX:+ExitOnOutOfMemoryError"],
        &["Hog", "1500"],
    )
    .await;
    let squeezed = start_java("squeezed", node, &[], &["-Xmx32m"], &["Pressure", "85"]).await;

    let oom = watch.next_matching("hog's java_oom", Duration::from_secs(60), |v| {
        is_event(v, "java_oom", &hog.name)
    });
    let line = oom["kind"]["line"].as_str().expect("line");
    assert!(
        line.contains("java.lang.OutOfMemoryError: Java heap space"),
        "{line}"
    );
    let latency_ms =
        oom["received_at_unix_ms"].as_i64().expect("received") - oom_at(line, &hog.name);
    assert!(
        (0..5000).contains(&latency_ms),
        "OOM → kroll watch took {latency_ms} ms"
    );
    eprintln!("OOM → kroll watch: {latency_ms} ms");

    let exit = watch.next_matching("exiter's java_oom_exit", Duration::from_secs(60), |v| {
        is_event(v, "java_oom_exit", &exiter.name)
    });
    assert_eq!(exit["kind"]["exit_code"], 3);
    let evidence = exit["kind"]["evidence"].as_str().unwrap_or_default();
    assert!(evidence.contains("ExitOnOutOfMemoryError"), "{evidence}");

    let pressure = watch.next_matching("squeezed's heap_pressure", Duration::from_secs(60), |v| {
        is_event(v, "heap_pressure", &squeezed.name)
    });
    let reason = pressure["kind"]["reason"].as_str().unwrap_or_default();
    // Either rule may fire first: old generation full after a full GC, or too many full GCs.
    assert!(
        reason.contains("right after a full GC") || reason.contains("full GCs in the last 60 s"),
        "{reason}"
    );
    assert!(
        pressure["kind"]["old_used_bytes"].as_u64().unwrap_or(0) > 16 << 20,
        "{pressure}"
    );

    let began = Instant::now();
    let alert = loop {
        let found = posts
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|p| p.as_array().cloned().unwrap_or_default())
            .find(|a| {
                a["labels"]["alertname"] == "JavaOutOfMemoryError"
                    && a["labels"]["container"] == hog.name.as_str()
            });
        if let Some(a) = found {
            break a;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "no alert at the webhook: {:?}",
            posts.lock().expect("lock")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(alert["labels"]["node"], node);
    assert!(
        alert["annotations"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Java heap space")),
        "{alert}"
    );
    drop(watch);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kroll_watch_reconnects_after_an_agent_restart() {
    let node = "heap-r";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let agent = start_agent(&pki, node, dir.path(), None).await;
    let addr = agent.addr;
    let inv = inventory(dir.path(), &pki, &[&agent], "");
    let watch = Watch::start(&inv, &["--kinds", "started"]);
    watch.next_matching("the connected notice", Duration::from_secs(20), |v| {
        v["watch"] == "connected"
    });

    agent.stop().await;
    watch.next_matching("the disconnected notice", Duration::from_secs(20), |v| {
        v["watch"] == "disconnected"
    });
    let again = start_agent(&pki, node, dir.path(), Some(addr)).await;
    let back = watch.next_matching("the reconnected notice", Duration::from_secs(20), |v| {
        v["watch"] == "reconnected"
    });
    let detail = back["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("the agent restarted"), "{detail}");

    let c = TestContainer::start(
        "after",
        Spec {
            labels: on_node(node),
            ..Default::default()
        },
    )
    .await;
    watch.next_matching(
        "an event from the new agent",
        Duration::from_secs(20),
        |v| is_event(v, "started", &c.name),
    );
    drop(watch);
    again.stop().await;
}
