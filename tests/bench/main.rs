//! `kroll-bench`: benchmarks that print their figures (recorded in BENCHMARKS.md).
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo run --release -p kroll-tests --bin kroll-bench -- agent-idle [--containers 12] [--jvms 3] [--seconds 60]
//! cargo run --release -p kroll-tests --bin kroll-bench -- oom-latency [--count 25] [--gap-ms 400]
//! cargo run --release -p kroll-tests --bin kroll-bench -- am-latency [--count 25] [--gap-ms 1000]
//! cargo run --release -p kroll-tests --bin kroll-bench -- scrape-cost [--containers 12] [--jvms 3] [--scrapes 500]
//! cargo run --release -p kroll-tests --bin kroll-bench -- status [--agents 5] [--rounds 50]
//! cargo run --release -p kroll-tests --bin kroll-bench -- backup [--subjects 1000] [--versions 5] [--connectors 200]
//! cargo run --release -p kroll-tests --bin kroll-bench -- status-sim [--agents 500] [--rounds 5]
//! cargo run --release -p kroll-tests --bin kroll-bench -- ui-sim [--agents 18] [--pages 10] [--warm 30] [--seconds 60]
//! cargo run --release -p kroll-tests --bin kroll-bench -- upgrade [--observer-ms 10] [--log FILE] [--swarm] [--partitions 10] [--shape lab] [--kafka-requests] [--services kafka] [--broker-env KAFKA_REPLICA_LAG_TIME_MAX_MS=30000]
//! cargo run --release -p kroll-tests --bin kroll-bench -- agent-streams [--streams 500] [--containers 3] [--agent PATH]
//! cargo run --release -p kroll-tests --bin kroll-bench -- node-state-flood [--callers 64] [--scrapers 0] [--seconds 20] [--containers 12] [--agent PATH]
//! ```
//! `agent-streams` and `node-state-flood` run the `kroll-agent` binary beside the benchmark (or
//! `--agent PATH`): see `agent_load`.
//! `backup` backs up and restores (after hard-deleting every subject and deleting every
//! connector) the lab's real Schema Registry and Connect worker, run as host processes.
//! `agent-idle` runs the real `kroll-agent` binary (1 s sampling) watching N labbox containers
//! and reads its resident memory and CPU time from `/proc`. `status` starts N agents and times
//! `GetNodeState` fan-out to all of them, and the whole `kroll status` command. `upgrade` runs
//! the rolling upgrade of a Kafka-only lab (`--services full`: the full lab, Connect's phases
//! included) and times each broker step against an independent observer: unavoidable time, gate
//! latency and orchestration overhead. `am-latency` and `scrape-cost`: see `prom.rs`.

mod agent_load;
mod backup;
mod heap;
mod prom;
mod status_sim;
mod ui_sim;
mod upgrade;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kroll_shared::inventory::Inventory;
use kroll_tests::{Pki, Spec, TestContainer, allow_node, bin, on_node};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

/// Kills the child this benchmark started when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn proc_figures(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of /proc/pid/stat (1-based), 12 and 13 after comm.
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    (rss_kib, ticks)
}

fn agent_config(dir: &std::path::Path, pki: &Pki, node: &str) -> std::path::PathBuf {
    let text = format!(
        "node = \"{node}\"\nlisten = \"127.0.0.1:0\"\n[tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n[allow]\nlabels = {{ \"kroll.node\" = \"{node}\", \"kroll.test.run\" = \"{run}\" }}\n[audit]\npath = \"{dir}/audit-{node}.log\"\n[sampling]\ninterval_ms = 1000\n",
        ca = pki.path("ca.pem").display(),
        cert = pki.path(&format!("agent-{node}.pem")).display(),
        key = pki.path(&format!("agent-{node}-key.pem")).display(),
        run = kroll_tests::run_id(),
        dir = dir.display(),
    );
    let p = dir.join(format!("{node}.toml"));
    std::fs::write(&p, text).expect("write config");
    p
}

async fn agent_idle(containers: u64, jvms: u64, seconds: u64) {
    let pki = Pki::new(&["bench-node"]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut boxes = Vec::new();
    for i in 0..containers.saturating_sub(jvms) {
        boxes.push(
            TestContainer::start(
                &format!("bench-{i}"),
                Spec {
                    labels: on_node("bench-node"),
                    ..Default::default()
                },
            )
            .await,
        );
    }
    // JVM containers count among the `containers`: 12 containers with 3 JVMs = 9 labbox + 3 Java.
    for i in 0..jvms {
        let name = format!("bench-jvm-{i}");
        boxes.push(
            kroll_tests::java::start_java(&name, "bench-node", &[], &["-Xmx64m"], &["Idle", "16"])
                .await,
        );
    }
    let cfg = agent_config(dir.path(), &pki, "bench-node");
    let child = Command::new(bin("kroll-agent"))
        .arg("--config")
        .arg(&cfg)
        .stderr(Stdio::null())
        .spawn()
        .expect("agent");
    let agent = Guard(child);
    let pid = agent.0.id();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, t0) = proc_figures(pid);
    let began = Instant::now();
    let mut peak_rss = 0;
    while began.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak_rss = peak_rss.max(proc_figures(pid).0);
    }
    let (rss, t1) = proc_figures(pid);
    let hz = 100.0; // USER_HZ on Linux.
    let cpu_percent = (t1 - t0) as f64 / hz / began.elapsed().as_secs_f64() * 100.0;
    println!(
        "agent-idle: containers={containers} (of which JVMs: {jvms}) sampling=1s window={seconds}s"
    );
    println!(
        "  rss_now={:.1} MiB rss_peak={:.1} MiB",
        rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    println!(
        "  cpu={cpu_percent:.3} % of one core ({} ticks in {:.1}s)",
        t1 - t0,
        began.elapsed().as_secs_f64()
    );
    drop(agent);
    drop(boxes);
}

async fn status(agents: u64, rounds: u64) {
    let names: Vec<String> = (1..=agents).map(|i| format!("bench-{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let pki = Pki::new(&refs);
    let dir = tempfile::tempdir().expect("tmp");
    let mut boxes = Vec::new();
    let mut running = Vec::new();
    for n in &names {
        for j in 0..3 {
            boxes.push(
                TestContainer::start(
                    &format!("{n}-{j}"),
                    Spec {
                        labels: on_node(n),
                        ..Default::default()
                    },
                )
                .await,
            );
        }
        running.push(kroll_tests::RunningAgent::start(&pki, n, allow_node(n), dir.path()).await);
    }
    let mut inv = format!(
        "[cluster]\nname = \"bench\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
        pki.path("ca.pem").display(),
        pki.path("coordinator.pem").display(),
        pki.path("coordinator-key.pem").display()
    );
    for a in &running {
        inv.push_str(&format!(
            "[[nodes]]\nname = \"{}\"\nagent = \"{}\"\n",
            a.node, a.addr
        ));
    }
    let inv_path = dir.path().join("kroll.toml");
    std::fs::write(&inv_path, &inv).expect("inventory");
    let inventory = Inventory::load(&inv_path).expect("load");
    let tls = inventory.tls.load().expect("tls");
    let mut fanout = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let reports = kroll::agents::query_all(&inventory, &tls).await;
        assert!(reports.iter().all(|r| r.state.is_ok()));
        fanout.push(t.elapsed());
    }
    let mut cli = Vec::new();
    for _ in 0..rounds.min(20) {
        let t = Instant::now();
        let out = Command::new(bin("kroll"))
            .args(["--output", "json", "status", "--inventory"])
            .arg(&inv_path)
            .output()
            .expect("kroll");
        assert!(out.status.code().is_some());
        cli.push(t.elapsed());
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0
    };
    println!(
        "status: agents={agents} containers={} rounds={rounds}",
        boxes.len()
    );
    println!(
        "  fan-out GetNodeState (new TLS connections each round): p50={:.1} ms p99={:.1} ms",
        pct(&mut fanout, 0.5),
        pct(&mut fanout, 0.99)
    );
    println!(
        "  `kroll status` whole command: p50={:.1} ms p99={:.1} ms",
        pct(&mut cli, 0.5),
        pct(&mut cli, 0.99)
    );
    for a in running {
        a.stop().await;
    }
}

/// `--agent PATH`, else the `kroll-agent` beside this binary.
fn agent_bin(args: &[String]) -> std::path::PathBuf {
    args.windows(2)
        .find(|w| w[0] == "--agent")
        .map(|w| std::path::PathBuf::from(&w[1]))
        .unwrap_or_else(|| bin("kroll-agent"))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("agent-idle") => {
            agent_idle(
                arg(&args, "--containers", 12),
                arg(&args, "--jvms", 0),
                arg(&args, "--seconds", 60),
            )
            .await
        }
        Some("oom-latency") => {
            heap::oom_latency(arg(&args, "--count", 25), arg(&args, "--gap-ms", 400)).await
        }
        Some("am-latency") => {
            prom::am_latency(arg(&args, "--count", 25), arg(&args, "--gap-ms", 1000)).await
        }
        Some("scrape-cost") => {
            prom::scrape_cost(
                arg(&args, "--containers", 12),
                arg(&args, "--jvms", 3),
                arg(&args, "--scrapes", 500),
            )
            .await
        }
        Some("status") => status(arg(&args, "--agents", 5), arg(&args, "--rounds", 50)).await,
        Some("backup") => {
            backup::run(
                arg(&args, "--subjects", 1000),
                arg(&args, "--versions", 5),
                arg(&args, "--connectors", 200),
            )
            .await
        }
        Some("status-sim") => {
            status_sim::run(arg(&args, "--agents", 500), arg(&args, "--rounds", 5)).await
        }
        Some("ui-sim") => {
            ui_sim::run(
                arg(&args, "--agents", 18),
                usize::try_from(arg(&args, "--pages", 10)).unwrap_or(10),
                arg(&args, "--warm", 30),
                arg(&args, "--seconds", 60),
            )
            .await
        }
        Some("upgrade") => {
            let log = args
                .windows(2)
                .find(|w| w[0] == "--log")
                .map(|w| w[1].clone());
            let swarm = args.iter().any(|a| a == "--swarm");
            let shape = match args.windows(2).find(|w| w[0] == "--shape") {
                None => kroll_lab::topology::Shape::LAB,
                Some(w) if w[1] == "lab" => kroll_lab::topology::Shape::LAB,
                Some(w) if w[1] == "production" => kroll_lab::topology::Shape::PRODUCTION,
                Some(w) => panic!("--shape {}: use lab or production", w[1]),
            };
            let services = match args.windows(2).find(|w| w[0] == "--services") {
                None => kroll_lab::topology::Services::Kafka,
                Some(w) if w[1] == "kafka" => kroll_lab::topology::Services::Kafka,
                Some(w) if w[1] == "full" => kroll_lab::topology::Services::Full,
                Some(w) => panic!("--services {}: use kafka or full", w[1]),
            };
            let broker_env = args
                .windows(2)
                .filter(|w| w[0] == "--broker-env")
                .map(|w| match w[1].split_once('=') {
                    Some((k, v)) if k.starts_with("KAFKA_") => (k.to_owned(), v.to_owned()),
                    _ => panic!("--broker-env {}: use KAFKA_SETTING=value", w[1]),
                })
                .collect();
            upgrade::run(upgrade::Options {
                poll_ms: arg(&args, "--observer-ms", 10),
                log_copy: log,
                swarm,
                partitions: arg(&args, "--partitions", 10),
                shape,
                kafka_requests: args.iter().any(|a| a == "--kafka-requests"),
                services,
                broker_env,
            })
            .await
        }
        Some("agent-streams") => {
            agent_load::streams(
                &agent_bin(&args),
                arg(&args, "--streams", 500),
                arg(&args, "--containers", 3),
            )
            .await
        }
        Some("node-state-flood") => {
            agent_load::flood(
                &agent_bin(&args),
                arg(&args, "--callers", 64),
                arg(&args, "--scrapers", 0),
                arg(&args, "--seconds", 20),
                arg(&args, "--containers", 12),
            )
            .await
        }
        _ => {
            eprintln!(
                "usage: kroll-bench agent-streams [--streams N] [--containers N] [--agent PATH] | node-state-flood [--callers N] [--scrapers N] [--seconds S] [--containers N] [--agent PATH] | agent-idle [--containers N] [--jvms N] [--seconds S] | oom-latency [--count N] [--gap-ms MS] | am-latency [--count N] [--gap-ms MS] | scrape-cost [--containers N] [--jvms N] [--scrapes N] | status [--agents N] [--rounds R] | backup [--subjects N] [--versions V] [--connectors C] | status-sim [--agents N] [--rounds R] | ui-sim [--agents N] [--pages P] [--warm S] [--seconds S] | upgrade [--observer-ms MS] [--log FILE] [--swarm] [--partitions N] [--shape lab|production] [--kafka-requests] [--services kafka|full] [--broker-env KAFKA_X=v]…"
            );
            std::process::exit(2);
        }
    }
}
