//! `kroll-bench am-latency`: Java OutOfMemoryError → an alert visible in Debian's real
//! Alertmanager (`GET /api/v2/alerts`), through `kroll watch --webhook` (the real binary).
//! One container runs `Hog` (heap exhausted every `--gap-ms`, each OutOfMemoryError caught and
//! printed with its moment, `at=<unix ms>`). Every OOM is re-posted under the same labels, so
//! Alertmanager keeps one alert and replaces its annotations: the benchmark polls the API every
//! 10 ms and takes the first moment each new `at=` shows in the description (same host clock).
//!
//! `kroll-bench scrape-cost`: the real `kroll-agent` binary with `/metrics` on, N containers of
//! which some JVMs; bytes per scrape, and the agent's CPU time per scrape from `/proc/<pid>/stat`
//! (all threads, 10 ms ticks) over `--scrapes` back-to-back scrapes, minus its idle CPU over as
//! long a window right after.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kroll_tests::prom::{http, start_alertmanager, webhook};
use kroll_tests::{Pki, RunningAgent, Spec, TestContainer, allow_node, bin, on_node};

use crate::Guard;

fn pct(v: &[i64], p: f64) -> i64 {
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs the OOM → Alertmanager benchmark and prints p50 / p99 / max.
pub async fn am_latency(count: u64, gap_ms: u64) {
    let (receiver, _notifications) = webhook().await;
    let am = start_alertmanager(&receiver);
    let node = "bench-am";
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
    let watch = Command::new(bin("kroll"))
        .arg("--inventory")
        .arg(&inv)
        .args([
            "--output",
            "json",
            "watch",
            "--kinds",
            "java_oom",
            "--webhook",
        ])
        .arg(format!("http://{}/api/v2/alerts", am.addr))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kroll watch");
    let watch = Guard(watch);
    let (n, gap) = (count.to_string(), gap_ms.to_string());
    let hog = kroll_tests::java::start_java(
        "bench-am-hog",
        node,
        &[],
        &["-Xmx16m"],
        &["Hog", "5000", &n, &gap],
    )
    .await;
    let addr = am.addr;
    let latencies = tokio::task::spawn_blocking(move || {
        let mut seen: BTreeMap<i64, i64> = BTreeMap::new();
        let began = Instant::now();
        while (seen.len() as u64) < count && began.elapsed() < Duration::from_secs(600) {
            std::thread::sleep(Duration::from_millis(10));
            let Ok((200, body)) = http(addr, "GET", "/api/v2/alerts", None) else {
                continue;
            };
            let now = kroll_shared::time::now_unix_ms();
            let alerts: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            for a in alerts.as_array().into_iter().flatten() {
                let d = a["annotations"]["description"].as_str().unwrap_or_default();
                if let Some(at) = d
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("at="))
                    .and_then(|v| v.parse::<i64>().ok())
                {
                    seen.entry(at).or_insert(now - at);
                }
            }
        }
        seen.into_values().collect::<Vec<i64>>()
    })
    .await
    .expect("poller");
    drop(watch);
    drop(hog);
    drop(am);
    agent.stop().await;
    let mut latencies = latencies;
    latencies.sort_unstable();
    assert!(!latencies.is_empty(), "no OOM reached Alertmanager");
    println!(
        "am-latency: OutOfMemoryError → Alertmanager GET /api/v2/alerts via kroll watch --webhook, n={} (asked {count}, gap {gap_ms} ms, 10 ms polling)",
        latencies.len()
    );
    println!(
        "  p50={} ms  p99={} ms  max={} ms  min={} ms",
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        pct(&latencies, 1.0),
        pct(&latencies, 0.0)
    );
}

/// CPU time (ns) the process has used, all its threads (exited ones included): utime + stime of
/// `/proc/<pid>/stat`, in clock ticks of 10 ms.
fn cpu_ns(pid: u32) -> u64 {
    crate::proc_figures(pid).1 * 10_000_000
}

/// Runs the scrape-cost benchmark and prints bytes and CPU per scrape.
pub async fn scrape_cost(containers: u64, jvms: u64, scrapes: u64) {
    let node = "bench-scrape";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut boxes = Vec::new();
    for i in 0..containers.saturating_sub(jvms) {
        boxes.push(
            TestContainer::start(
                &format!("bench-scrape-{i}"),
                Spec {
                    labels: on_node(node),
                    ..Default::default()
                },
            )
            .await,
        );
    }
    for i in 0..jvms {
        boxes.push(
            kroll_tests::java::start_java(
                &format!("bench-scrape-jvm-{i}"),
                node,
                &["KAFKA_HEAP_OPTS=-Xmx64m"],
                &["-Xmx64m"],
                &["Idle", "16"],
            )
            .await,
        );
    }
    let port = kroll_tests::prom::free_port();
    let cfg = crate::agent_config(dir.path(), &pki, node);
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&cfg, text).expect("config");
    let agent = Guard(
        Command::new(bin("kroll-agent"))
            .arg("--config")
            .arg(&cfg)
            .stderr(Stdio::null())
            .spawn()
            .expect("agent"),
    );
    let pid = agent.0.id();
    let addr = ([127, 0, 0, 1], port).into();
    // Wait until every JVM is reported, then let the agent settle.
    let began = Instant::now();
    let body = loop {
        if let Ok((200, body)) = http(addr, "GET", "/metrics", None)
            && body.matches("kroll_jvm_heap_used_bytes{").count() as u64 >= jvms
        {
            break body;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the agent's /metrics never showed {jvms} JVMs"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Back-to-back scrapes, timed; then the idle rate over as long a window.
    let c0 = cpu_ns(pid);
    let t0 = Instant::now();
    let mut bytes = Vec::new();
    let mut lat = Vec::new();
    for _ in 0..scrapes {
        let t = Instant::now();
        let (status, body) = http(addr, "GET", "/metrics", None).expect("scrape");
        assert_eq!(status, 200);
        lat.push(t.elapsed().as_micros() as i64);
        bytes.push(body.len() as i64);
    }
    let busy = t0.elapsed();
    let scraping = cpu_ns(pid) - c0;
    let c1 = cpu_ns(pid);
    tokio::time::sleep(busy).await;
    let idle = cpu_ns(pid) - c1;
    drop(agent);
    drop(boxes);
    lat.sort_unstable();
    bytes.sort_unstable();
    let per_scrape_us = scraping.saturating_sub(idle) as f64 / scrapes as f64 / 1000.0;
    println!(
        "scrape-cost: kroll-agent binary, containers={containers} (of which JVMs: {jvms}), 1 s sampling, {scrapes} back-to-back scrapes in {:.2} s",
        busy.as_secs_f64()
    );
    println!(
        "  bytes per scrape: median {} (min {}, max {}); series: {}",
        pct(&bytes, 0.5),
        pct(&bytes, 0.0),
        pct(&bytes, 1.0),
        body.lines().filter(|l| !l.starts_with('#')).count()
    );
    println!(
        "  agent CPU per scrape: {per_scrape_us:.0} µs (scraping {:.1} ms CPU, idle over the same time {:.1} ms)",
        scraping as f64 / 1e6,
        idle as f64 / 1e6
    );
    println!(
        "  scrape latency: p50 {} µs, p99 {} µs",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
}
