//! `deploy/prometheus/kroll.rules.yml`: promtool's checks and unit tests; the rules loaded into a
//! real Prometheus scraping real agents watching real JVMs on two nodes — the same Prometheus
//! then answers every query of the Grafana dashboard (`dashboard.rs`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kroll_tests::prom::{metric_names, need_tool, query, rules_dir, start_prometheus};
use kroll_tests::{Pki, eventually, java::start_java};

use super::{agent, hog_at};

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let promtool = need_tool("promtool", "prometheus");
    let dir = rules_dir();
    let out = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(dir.join("kroll.rules.yml"))
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tests: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .expect("deploy/prometheus/tests")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 2, "rule unit tests: {tests:?}");
    let out = Command::new(&promtool)
        .args(["test", "rules"])
        .args(&tests)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The alerts Prometheus reports (`/api/v1/alerts`): (name, container or instance, state).
fn alerts(prom: &kroll_tests::prom::Daemon) -> Vec<serde_json::Value> {
    prom.get_json("/api/v1/alerts")["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_real_agents_an_oom_fires_and_every_rule_and_dashboard_query_has_data() {
    let (node, node_b) = ("prom-a", "prom-b");
    let pki = Pki::new(&[node, node_b]);
    let dir = tempfile::tempdir().expect("tmp");
    // KAFKA_HEAP_OPTS asks for 128 MiB, the JVM runs with -Xmx64m: heap config drift.
    let drift = start_java(
        "prom-drift",
        node,
        &["KAFKA_HEAP_OPTS=-Xmx128m"],
        &["-Xmx64m", "-XX:+UseG1GC"],
        &["Idle", "4"],
    )
    .await;
    // Two OutOfMemoryErrors (caught) 8 s after start, then idle: the JVM stays up.
    let hog = start_java(
        "prom-hog",
        node,
        &[],
        &["-Xmx16m"],
        &["Hog", "8000", "2", "300"],
    )
    .await;
    // A second node with a JVM of its own: the dashboard's node and container variables must
    // tell the two apart.
    let idle_b = start_java("prom-b-idle", node_b, &[], &["-Xmx32m"], &["Idle", "4"]).await;
    let agent = agent(&pki, node, dir.path()).await;
    let agent_b = super::agent(&pki, node_b, dir.path()).await;
    // A third target nobody serves: `up == 0`, the agent-down alert pending.
    let dead: std::net::SocketAddr = ([127, 0, 0, 1], kroll_tests::prom::free_port()).into();
    let prom = start_prometheus(&[
        agent.metrics.expect("metrics listener"),
        agent_b.metrics.expect("metrics listener"),
        dead,
    ]);
    let began = Instant::now();

    let firing = eventually(
        "JavaOutOfMemoryError firing in Prometheus",
        Duration::from_secs(120),
        async || {
            alerts(&prom).into_iter().find(|a| {
                a["labels"]["alertname"] == "JavaOutOfMemoryError"
                    && a["labels"]["container"] == hog.name.as_str()
                    && a["state"] == "firing"
            })
        },
    )
    .await;
    let seen_ms = kroll_shared::time::now_unix_ms();
    assert_eq!(firing["labels"]["node"], node, "{firing}");
    assert_eq!(firing["labels"]["severity"], "critical", "{firing}");
    assert_eq!(firing["labels"]["source"], "prometheus", "{firing}");
    let logs = kroll_tests::docker_cli(&["logs", &hog.name]);
    let at = hog_at(&logs).unwrap_or_else(|| panic!("no at= in {}'s logs: {logs}", hog.name));
    eprintln!(
        "OOM → Prometheus alert firing (1 s scrape, 1 s evaluation): {} ms",
        seen_ms - at
    );

    // Every rule is healthy and every series it reads exists, live.
    let rules = prom.get_json("/api/v1/rules");
    let all: Vec<serde_json::Value> = rules["data"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect();
    let expected_alerts = [
        "JavaOutOfMemoryError",
        "JavaOutOfMemoryExit",
        "ContainerOomKilled",
        "JvmHeapPressure",
        "JvmGcOverhead",
        "JvmHeapConfigDrift",
        "JvmHung",
        "JvmHeapUnreadable",
        "KrollAgentDown",
        "ContainerRestarting",
        "ContainerNotRunning",
        "DiskHeadroomLow",
        "DiskHeadroomCritical",
        "DiskFillingUp",
        "HostMemoryLow",
    ];
    for name in expected_alerts {
        assert!(
            all.iter().any(|r| r["name"] == name),
            "{name} not loaded: {rules}"
        );
    }
    let missing = eventually(
        "every series the rules read, live, and every rule healthy",
        Duration::from_secs(90),
        async || {
            let rules = prom.get_json("/api/v1/rules");
            let mut missing = Vec::new();
            for r in rules["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            {
                let expr = r["query"].as_str().expect("query");
                let names = metric_names(expr);
                assert!(
                    !names.is_empty(),
                    "{} reads no known series: {expr}",
                    r["name"]
                );
                if r["health"] != "ok" {
                    missing.push(format!(
                        "{} health {} {}",
                        r["name"], r["health"], r["lastError"]
                    ));
                }
                for n in names {
                    if query(&prom, &format!("count({n})")).is_empty() {
                        missing.push(format!("{n} (read by {})", r["name"]));
                    }
                }
                // The expression itself evaluates (an error answer fails `query`); a recording
                // rule's result is live data.
                let result = query(&prom, expr);
                if r["type"] == "recording" && result.is_empty() {
                    missing.push(format!("{} evaluates to nothing", r["name"]));
                }
            }
            missing.sort();
            missing.dedup();
            if missing.is_empty() {
                Some(missing)
            } else {
                eprintln!("not yet: {missing:?}");
                None
            }
        },
    )
    .await;
    assert!(missing.is_empty());

    // Alerts with a `for:` are pending on live data: drift (128 MiB asked, 64 MiB run) and the
    // unserved target.
    let pending = alerts(&prom);
    let drift_alert = pending
        .iter()
        .find(|a| {
            a["labels"]["alertname"] == "JvmHeapConfigDrift"
                && a["labels"]["container"] == drift.name.as_str()
        })
        .unwrap_or_else(|| panic!("no heap config drift alert for {}: {pending:?}", drift.name));
    assert_eq!(drift_alert["labels"]["variable"], "KAFKA_HEAP_OPTS");
    assert_eq!(drift_alert["state"], "pending");
    assert!(
        pending
            .iter()
            .any(|a| a["labels"]["alertname"] == "KrollAgentDown"
                && a["labels"]["instance"] == dead.to_string().as_str()),
        "no agent-down alert for the unserved target {dead}: {pending:?}"
    );
    for live in [&agent, &agent_b] {
        let at = live.metrics.expect("metrics").to_string();
        assert!(
            !pending
                .iter()
                .any(|a| a["labels"]["alertname"] == "KrollAgentDown"
                    && a["labels"]["instance"] == at.as_str()),
            "the live agent {} is not down: {pending:?}",
            live.node
        );
    }
    eprintln!("rules checked live in {:?}", began.elapsed());

    super::dashboard::check_live(&prom, [node, node_b], [&drift.name, &hog.name]).await;
    drop(prom);
    drop(hog);
    drop(drift);
    drop(idle_b);
    agent.stop().await;
    agent_b.stop().await;
}
