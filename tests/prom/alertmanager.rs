//! `kroll watch --webhook` (the real binary) → Debian's real Alertmanager: an OutOfMemoryError
//! in a real JVM is an active alert with the labels an operator routes on; a hung JVM's alert
//! is resolved when it recovers, the OOM's when the container starts again; Alertmanager's own
//! notifications (to a webhook receiver) say firing, then resolved.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kroll_tests::prom::{Daemon, start_alertmanager, webhook};
use kroll_tests::{Pki, docker_cli, eventually, java::start_java};

use super::{agent, hog_at};
use crate::heap::{Watch, inventory};

/// Alertmanager's active alerts (`GET /api/v2/alerts`) named `name` about `container`.
fn active(am: &Daemon, name: &str, container: &str) -> Vec<serde_json::Value> {
    am.get_json("/api/v2/alerts")
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == name && a["labels"]["container"] == container)
        .collect()
}

/// Whether Alertmanager notified its receiver of `name` about `container` with `status`.
fn notified(
    seen: &Arc<Mutex<Vec<serde_json::Value>>>,
    name: &str,
    container: &str,
    status: &str,
) -> bool {
    seen.lock().expect("lock").iter().any(|n| {
        n["alerts"].as_array().into_iter().flatten().any(|a| {
            a["status"] == status
                && a["labels"]["alertname"] == name
                && a["labels"]["container"] == container
        })
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn kroll_watch_alerts_reach_alertmanager_with_routing_labels_and_are_resolved() {
    let (receiver, notifications) = webhook().await;
    let am = start_alertmanager(&receiver);
    let node = "prom-am";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let agent = agent(&pki, node, dir.path()).await;
    let inv = inventory(dir.path(), &pki, &[&agent], "");
    let url = format!("http://{}/api/v2/alerts", am.addr);
    let watch = Watch::start(&inv, &["--webhook", &url]);
    watch.next_matching("the connected notice", Duration::from_secs(20), |v| {
        v["watch"] == "connected"
    });
    // Two OutOfMemoryErrors (caught) 6 s after each start, then idle: the JVM stays up.
    let hog = start_java(
        "am-hog",
        node,
        &[],
        &["-Xmx16m"],
        &["Hog", "6000", "2", "300"],
    )
    .await;

    let alert = eventually(
        "the OOM alert in Alertmanager",
        Duration::from_secs(90),
        async || {
            active(&am, "JavaOutOfMemoryError", &hog.name)
                .into_iter()
                .next()
        },
    )
    .await;
    let seen_ms = kroll_shared::time::now_unix_ms();
    let labels = &alert["labels"];
    for (k, v) in [
        ("node", node),
        ("container", hog.name.as_str()),
        ("cluster", "heaptest"),
        ("severity", "critical"),
        ("source", "kroll"),
    ] {
        assert_eq!(labels[k], v, "label {k}: {alert}");
    }
    assert_eq!(alert["status"]["state"], "active", "{alert}");
    let description = alert["annotations"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(description.contains("Java heap space"), "{alert}");
    let at = hog_at(description).unwrap_or_else(|| {
        hog_at(&docker_cli(&["logs", &hog.name])).expect("at= in the hog's logs")
    });
    let latency = seen_ms - at;
    eprintln!("OOM → Alertmanager API: {latency} ms");
    assert!(
        (0..5000).contains(&latency),
        "OOM → Alertmanager took {latency} ms"
    );
    eventually(
        "Alertmanager's firing notification",
        Duration::from_secs(20),
        async || {
            notified(&notifications, "JavaOutOfMemoryError", &hog.name, "firing").then_some(())
        },
    )
    .await;

    // A hung JVM (paused container) fires; its recovery resolves the same alert.
    docker_cli(&["pause", &hog.name]);
    let hung = eventually("the JvmHung alert", Duration::from_secs(30), async || {
        active(&am, "JvmHung", &hog.name).into_iter().next()
    })
    .await;
    assert_eq!(hung["labels"]["node"], node, "{hung}");
    assert!(hung["labels"]["pid"].is_string(), "{hung}");
    docker_cli(&["unpause", &hog.name]);
    eventually(
        "the JvmHung alert resolved",
        Duration::from_secs(30),
        async || active(&am, "JvmHung", &hog.name).is_empty().then_some(()),
    )
    .await;
    eventually(
        "Alertmanager's resolved notification of JvmHung",
        Duration::from_secs(20),
        async || notified(&notifications, "JvmHung", &hog.name, "resolved").then_some(()),
    )
    .await;

    // The container starts again (a fresh JVM): its OOM alert is resolved before the new JVM's
    // first OutOfMemoryError (6 s after the start).
    docker_cli(&["restart", "-t", "1", &hog.name]);
    eventually(
        "the OOM alert resolved after the restart",
        Duration::from_secs(5),
        async || {
            active(&am, "JavaOutOfMemoryError", &hog.name)
                .is_empty()
                .then_some(())
        },
    )
    .await;
    eventually(
        "Alertmanager's resolved notification of the OOM",
        Duration::from_secs(20),
        async || {
            notified(
                &notifications,
                "JavaOutOfMemoryError",
                &hog.name,
                "resolved",
            )
            .then_some(())
        },
    )
    .await;
    drop(watch);
    drop(am);
    drop(hog);
    agent.stop().await;
}
