//! `kroll-bench oom-latency`: Java OutOfMemoryError → event at a `kroll watch` client.
//!
//! One container runs `Hog` (heap exhausted every `--gap-ms`, each OutOfMemoryError caught and
//! printed with the moment it happened, `at=<unix ms>`); a `kroll watch --output json` process
//! (the real binary) receives the agent's `java_oom` events; the latency of each is
//! `received_at_unix_ms − at` (same host clock). The agent folds no lines
//! (`oom_repeat_seconds = 0`) so every OOM is one event.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kroll_tests::{Pki, RunningAgent, allow_node, bin};

/// Runs the benchmark and prints p50 / p99 / max.
pub async fn oom_latency(count: u64, gap_ms: u64) {
    let node = "bench-oom";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = kroll_tests::agent_config(&pki, node, allow_node(node), dir.path());
    config.jvm.oom_repeat_seconds = 0;
    let agent = Box::pin(kroll_agent::Agent::start(config))
        .await
        .expect("agent");
    let agent = RunningAgent::from_started(node, agent, dir.path());
    let inv = dir.path().join("kroll.toml");
    let text = format!(
        "[cluster]\nname = \"bench\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[[nodes]]\nname = \"{node}\"\nagent = \"{}\"\n",
        pki.path("ca.pem").display(),
        pki.path("coordinator.pem").display(),
        pki.path("coordinator-key.pem").display(),
        agent.addr
    );
    std::fs::write(&inv, text).expect("inventory");
    let mut watch = Command::new(bin("kroll"))
        .arg("--inventory")
        .arg(&inv)
        .args(["--output", "json", "watch", "--kinds", "java_oom"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kroll watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (n, gap) = (count.to_string(), gap_ms.to_string());
    let hog = kroll_tests::java::start_java(
        "bench-hog",
        node,
        &[],
        &["-Xmx16m"],
        &["Hog", "3000", &n, &gap],
    )
    .await;
    let reader = std::thread::spawn(move || {
        let mut latencies = Vec::new();
        let began = Instant::now();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let text = v["kind"]["line"].as_str().unwrap_or_default();
            let Some(at) = text.split_whitespace().find_map(|w| w.strip_prefix("at=")) else {
                continue;
            };
            let at: i64 = at.parse().unwrap_or(0);
            latencies.push(v["received_at_unix_ms"].as_i64().unwrap_or(0) - at);
            if latencies.len() as u64 >= count || began.elapsed() > Duration::from_secs(600) {
                break;
            }
        }
        latencies
    });
    let mut latencies = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
        .await
        .expect("join");
    let _ = watch.kill();
    let _ = watch.wait();
    drop(hog);
    agent.stop().await;
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "oom-latency: OutOfMemoryError → `kroll watch` (json), n={} (asked {count}, gap {gap_ms} ms)",
        latencies.len()
    );
    println!(
        "  p50={} ms  p99={} ms  max={} ms  min={} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0),
        pct(0.0)
    );
}
