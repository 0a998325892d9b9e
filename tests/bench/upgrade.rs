//! `upgrade`: the rolling upgrade 7.1.1 → 7.7.1 of a Kafka-only lab (ZooKeeper + 5 brokers,
//! a 10-partition topic with data) run by the real `kroll` binary, timed against the independent
//! observer of the upgrade tests (its own ZooKeeper session — the partition state the controller
//! writes — and Docker view). With `--services full` the lab also runs what `kroll-lab up`'s full
//! lab runs (Connect workers with the seed connectors, Schema Registry, REST proxy, Kafdrop) and
//! the upgrade quiesces, migrates and resumes Connect in one pass (`--allow-incompatible-values`,
//! the operator's answer to the journal's value-schema trap).
//!
//! Figures, per broker restart:
//! - unavoidable time: from the step's intent (journalled right before the agent is asked to stop
//!   the broker) to the moment the observer first sees the broker running and back in the ISR of
//!   every partition it replicates (stop + start + catch-up);
//! - gate latency: from that moment to the coordinator's after-gate passing (journalled in
//!   `step_done`, as `back_during_action_ms` when it passed before the agent's answer);
//! - step done: from that moment to `step_done` (the agent answers a recreate only once the new
//!   container has run for its settle window, which a lab broker outruns);
//! - since previous: from the previous step's end (or the roll's start) to this step's intent
//!   (choosing the broker, observing the cluster, the gate before the stop);
//! - orchestration overhead per roll: the roll's wall time (phase start → last step done)
//!   divided by the sum of its brokers' unavoidable times.

use std::collections::BTreeMap;
use std::time::Duration;

use kroll_lab::topology::{Services, Shape};
use kroll_lab::{DownOptions, UpOptions};

#[path = "../upgrade/observer.rs"]
#[allow(dead_code)]
mod observer;

/// Removes the lab (name, directory) when dropped (also when the benchmark fails).
struct LabGuard(String, std::path::PathBuf);

impl Drop for LabGuard {
    fn drop(&mut self) {
        let mut opts = DownOptions::new(&self.0);
        opts.dir = Some(self.1.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(kroll_lab::down(opts)).ok()
        })
        .join();
    }
}

/// `text` without terminal colour sequences (`ESC [ … m`), as the coordinator's log has them.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Debian's GNU time (package `time`).
const GNU_TIME: &str = "/usr/bin/time";

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What `kroll-bench upgrade` runs.
#[derive(Debug)]
pub struct Options {
    /// The observer's poll period.
    pub poll_ms: u64,
    /// Where to copy kroll's debug log.
    pub log_copy: Option<String>,
    /// The Swarm lab (five engines, the stack's services updated through the manager's agent)
    /// instead of containers on this machine's engine.
    pub swarm: bool,
    /// Of the topic `orders` (RF 3), for the cost curve of the gates' observations.
    pub partitions: u64,
    /// The lab's size (its own load topic is not made: `orders` has `partitions`).
    pub shape: Shape,
    /// Turn on the brokers' request logger and count the requests kroll's Kafka clients
    /// (client id `kroll`) send during the upgrade — a separate run, as the logging itself
    /// costs the brokers CPU.
    pub kafka_requests: bool,
    /// Kafka only, or the full lab (Connect, Schema Registry, REST proxy, Kafdrop, the seed
    /// connectors) whose Connect phases the upgrade then carries out too.
    pub services: Services,
    /// Extra broker environment (`--broker-env KAFKA_REPLICA_LAG_TIME_MAX_MS=30000`): a broker
    /// setting the figures depend on, said on the command line that produced them.
    pub broker_env: std::collections::BTreeMap<String, String>,
}

pub async fn run(options: Options) {
    let Options {
        poll_ms,
        log_copy,
        swarm,
        partitions,
        shape,
        kafka_requests,
        services,
        broker_env,
    } = options;
    let partitions = i32::try_from(partitions).expect("--partitions fits an i32");
    let name = format!("bench{}", &kroll_tests::run_id()[..6]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = UpOptions::new(&name);
    opts.dir = Some(dir.path().join("lab"));
    opts.services = services;
    opts.swarm = swarm;
    opts.shape = Shape {
        load_partitions: 0,
        ..shape
    };
    for (key, value) in &broker_env {
        println!("broker env: {key}={value}");
    }
    opts.broker_env.extend(broker_env);
    if kafka_requests {
        assert!(
            !swarm,
            "--kafka-requests counts on this machine's engine only"
        );
        opts.broker_env.insert(
            "KAFKA_LOG4J_LOGGERS".into(),
            "kafka.request.logger=DEBUG".into(),
        );
    }
    opts.progress = kroll_lab::Progress::new(|l| eprintln!("lab: {l}"));
    let _guard = LabGuard(name.clone(), dir.path().join("lab"));
    let up_began = std::time::Instant::now();
    let lab = kroll_lab::up(opts).await.expect("lab up");
    println!(
        "lab up: {:.1} s ({} containers; phases {})",
        up_began.elapsed().as_secs_f64(),
        lab.containers.len(),
        lab.timings
            .iter()
            .map(|(what, ms)| format!("{what} {:.1} s", *ms as f64 / 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let engines = if swarm {
        kroll_tests::push_to_swarm_lab("7.7.1", &name, &lab.dir);
        let state = kroll_lab::swarm::SwarmState::load(&lab.dir)
            .expect("swarm.json")
            .expect("a Swarm lab");
        observer::Engines::swarm(&name, &state)
    } else {
        kroll_tests::lab_platform_images("7.7.1").await;
        observer::Engines::local(&name)
    };
    kroll_lab::kafka::create_topic(&lab.bootstrap, "orders", partitions)
        .await
        .expect("topic");
    produce(&lab.bootstrap, "orders", 2000).await;

    let observer = observer::Observer::start_every(
        engines,
        &lab.kafka_zookeeper(),
        2,
        Duration::from_millis(poll_ms),
    )
    .await;
    let counter = kafka_requests.then(|| RequestCounter::start(&name));
    let runs = dir.path().join("runs");
    // GNU time reports the coordinator's CPU and peak RSS (its own wait4 rusage).
    let rusage = dir.path().join("kroll.rusage");
    assert!(
        std::path::Path::new(GNU_TIME).exists(),
        "{GNU_TIME} is missing: install Debian's `time` package"
    );
    let full = services == Services::Full;
    // The observations' timings always (ZooKeeper requests are counted from them); with `--log`
    // also every gate's and rejoin watch's verdict, to see what a slow step waited for.
    let mut log_filter = "warn,librdkafka=off,rdkafka::client=off,zookeeper_client=off,kroll::upgrade::observe=debug".to_owned();
    if log_copy.is_some() {
        log_filter.push_str(",kroll::upgrade::steps=debug,kroll::upgrade::wait=debug");
    }
    let began = std::time::Instant::now();
    let out = std::process::Command::new(GNU_TIME)
        .arg("-f")
        .arg("%e %U %S %M")
        .arg("-o")
        .arg(&rusage)
        .arg(kroll_tests::bin("kroll"))
        .arg("--inventory")
        .arg(&lab.inventory)
        .args(["upgrade", "--to", "7.7.1", "--yes", "--runs"])
        .arg(&runs)
        .args(full.then_some("--allow-incompatible-values"))
        .env_remove("KROLL_INVENTORY")
        .env("KROLL_LOG", log_filter)
        .output()
        .expect("kroll upgrade");
    let total = began.elapsed();
    let seen = observer.stop().await;
    let log = dir.path().join("kroll.stderr");
    std::fs::write(&log, &out.stderr).expect("write the coordinator's log");
    if let Some(keep) = log_copy {
        std::fs::copy(&log, &keep).expect("copy the coordinator's log");
        let progress = format!("{keep}.stdout");
        std::fs::write(&progress, &out.stdout).expect("write the coordinator's progress");
        println!("coordinator's log (observation timings): {keep}; its progress lines: {progress}");
    }
    assert!(
        out.status.success(),
        "kroll upgrade failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_dir = std::fs::read_dir(&runs)
        .expect("runs")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("journal.jsonl").exists())
        .expect("a run directory");
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).expect("journal");
    let entries: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();

    // The broker of each container, from the step ids (`roll-brokers/<lab>-kafka-0N`).
    let broker_of = |step: &str| -> Option<i32> { step.rsplit('-').next()?.parse().ok() };
    let mut rejoined: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (b, at) in &seen.rejoined {
        rejoined.entry(*b).or_default().push(*at);
    }
    let mut whole: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (b, at) in &seen.whole {
        whole.entry(*b).or_default().push(*at);
    }
    let mut latencies = Vec::new();
    let mut overhangs = Vec::new();
    let lab_kind = if full {
        format!(
            "full lab ({} Connect workers, Schema Registry, REST proxy, Kafdrop, the seed connectors)",
            shape.connect_workers
        )
    } else {
        "Kafka-only lab".to_owned()
    };
    println!(
        "upgrade: {lab_kind}, {} brokers, {} ZooKeeper server(s), topic orders ({partitions} partitions, RF 3, min ISR 2, 2000 records); observer every {poll_ms} ms (+ its sample time), {} samples",
        shape.nodes, shape.zookeepers, seen.samples
    );
    // Each phase's wall time: from its start to the next phase's (the last: to the journal's
    // last entry).
    let starts: Vec<(&str, i64)> = entries
        .iter()
        .filter(|e| e["event"] == "phase_started")
        .filter_map(|e| Some((e["phase"].as_str()?, e["time_unix_ms"].as_i64()?)))
        .collect();
    let last_entry = entries
        .last()
        .and_then(|e| e["time_unix_ms"].as_i64())
        .unwrap_or_default();
    let phases: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(i, (phase, at))| {
            let end = starts.get(i + 1).map_or(last_entry, |(_, t)| *t);
            format!("{phase} {:.1} s", (end - at) as f64 / 1000.0)
        })
        .collect();
    println!("phases: {}", phases.join(", "));
    println!(
        "{:<36} {:>12} {:>12} {:>14} {:>12}",
        "step", "unavoidable", "gate lat.", "since previous", "+ whole"
    );
    for phase in ["roll-brokers", "bump-ibp"] {
        let prefix = format!("{phase}/");
        let started = entries
            .iter()
            .find(|e| e["event"] == "phase_started" && e["phase"] == phase)
            .and_then(|e| e["time_unix_ms"].as_i64())
            .expect("phase start");
        let mut sum_unavoidable = 0i64;
        let mut sum_whole = 0i64;
        let mut last_done = started;
        for intent in entries.iter().filter(|e| {
            e["event"] == "step_intent"
                && e["step"].as_str().is_some_and(|s| s.starts_with(&prefix))
        }) {
            let step = intent["step"].as_str().unwrap_or_default();
            let b = broker_of(step).expect("broker step");
            let t_intent = intent["time_unix_ms"].as_i64().unwrap_or_default();
            let done = entries
                .iter()
                .find(|e| e["event"] == "step_done" && e["step"] == step)
                .and_then(|e| e["time_unix_ms"].as_i64())
                .expect("step done");
            let back = rejoined
                .get(&b)
                .and_then(|v| v.iter().copied().find(|t| *t >= t_intent))
                .expect("the observer saw the broker back");
            let unavoidable = back - t_intent;
            // Until every partition the broker replicates was fully replicated again (another
            // replica of them lagging, e.g. starved of CPU, delays this beyond the broker's own
            // return; the gate after a restart waits for it).
            let whole_at = whole
                .get(&b)
                .and_then(|v| v.iter().copied().find(|t| *t >= back))
                .unwrap_or(back);
            sum_whole += whole_at - t_intent;
            // The gate passed while the agent's action was still running (the broker back
            // before the agent's settle window ended), or after its answer.
            let done_entry = entries
                .iter()
                .find(|e| e["event"] == "step_done" && e["step"] == step);
            let gate_passed = done_entry
                .and_then(|e| e["back_during_action_ms"].as_i64())
                .map_or(done, |ms| t_intent + ms);
            let latency = gate_passed - back;
            overhangs.push(done - back);
            sum_unavoidable += unavoidable;
            latencies.push(latency);
            println!(
                "{step:<36} {unavoidable:>9} ms {latency:>9} ms {:>11} ms {:>9} ms",
                t_intent - last_done,
                whole_at - back
            );
            last_done = last_done.max(done);
        }
        let wall = last_done - started;
        println!(
            "{phase}: wall {wall} ms, Σ unavoidable {sum_unavoidable} ms, overhead ratio {:.3}; Σ until its partitions were whole {sum_whole} ms, ratio {:.3}",
            wall as f64 / sum_unavoidable.max(1) as f64,
            wall as f64 / sum_whole.max(1) as f64
        );
    }
    // ZooKeeper requests the coordinator's observations sent (its debug log's running count per
    // session; a count that drops is a new session's).
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    let (mut zk_requests, mut last) = (0u64, 0u64);
    for n in stderr.lines().filter_map(|l| {
        l.split("zookeeper_requests=")
            .nth(1)?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u64>()
            .ok()
    }) {
        if n < last {
            zk_requests += last;
        }
        last = n;
    }
    zk_requests += last;
    let first = entries
        .first()
        .and_then(|e| e["time_unix_ms"].as_i64())
        .unwrap_or_default();
    let end = entries
        .last()
        .and_then(|e| e["time_unix_ms"].as_i64())
        .unwrap_or_default();
    let secs = ((end - first) as f64 / 1000.0).max(0.001);
    println!(
        "ZooKeeper requests of the coordinator's observations: {zk_requests} in {secs:.1} s ({:.1}/s)",
        zk_requests as f64 / secs
    );
    let usage = std::fs::read_to_string(&rusage).expect("GNU time's report");
    let fields: Vec<f64> = usage
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [_, user, system, max_rss_kib] = fields[..] else {
        panic!("GNU time's report is not `elapsed user system maxrss`: {usage}")
    };
    println!(
        "kroll upgrade: wall {:.1} s; coordinator CPU {:.2} s (user {user:.2} + system {system:.2}), peak RSS {:.1} MiB",
        total.as_secs_f64(),
        user + system,
        max_rss_kib / 1024.0
    );
    if let Some(c) = counter {
        let n = c.stop();
        println!(
            "Kafka requests of kroll's clients (client id `kroll`, the brokers' request logs): {n} in {secs:.1} s ({:.1}/s)",
            n as f64 / secs
        );
    }
    latencies.sort_unstable();
    println!(
        "gate latency (broker back in full ISR → gate passed), n = {}: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    overhangs.sort_unstable();
    println!(
        "step done after the broker was back (the gate, then the agent's answer after its {} ms settle window): p50 {} ms, max {} ms",
        kroll_agent::docker_recreate::SETTLE.as_millis(),
        percentile(&overhangs, 0.5),
        overhangs.last().copied().unwrap_or_default()
    );
}

/// Counts the requests with client id `kroll` in every broker container's request log, each
/// container followed (`docker logs -f`, history included) from when it first appears until it
/// is removed, so containers an upgrade replaces are counted too.
struct RequestCounter {
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    followers: std::sync::Arc<std::sync::Mutex<Vec<std::process::Child>>>,
    watcher: std::thread::JoinHandle<()>,
}

impl RequestCounter {
    fn start(lab: &str) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let followers: Arc<Mutex<Vec<std::process::Child>>> = Arc::default();
        let (c, s, f) = (count.clone(), stop.clone(), followers.clone());
        let filter = format!("label=kroll.lab={lab}");
        let watcher = std::thread::spawn(move || {
            let mut followed = std::collections::BTreeSet::new();
            while !s.load(Ordering::Relaxed) {
                let out = std::process::Command::new("docker")
                    .args(["ps", "-aq", "--no-trunc", "--filter", &filter])
                    .args(["--filter", "label=kroll.role=broker"])
                    .output()
                    .expect("docker ps");
                for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if !followed.insert(id.to_owned()) {
                        continue;
                    }
                    let mut child = std::process::Command::new("docker")
                        .args(["logs", "-f", id])
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .expect("docker logs");
                    let stdout = child.stdout.take().expect("piped");
                    let c = c.clone();
                    std::thread::spawn(move || {
                        use std::io::BufRead as _;
                        for line in std::io::BufReader::new(stdout)
                            .lines()
                            .map_while(Result::ok)
                        {
                            if line.contains("(kafka.request.logger)")
                                && line.contains("\"clientId\":\"kroll\"")
                            {
                                c.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                    f.lock().expect("followers").push(child);
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        Self {
            count,
            stop,
            followers,
            watcher,
        }
    }

    /// Stops following and returns the count.
    fn stop(self) -> u64 {
        use std::sync::atomic::Ordering;
        // Let the followers read what the brokers logged last.
        std::thread::sleep(Duration::from_secs(2));
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.watcher.join();
        for mut child in self.followers.lock().expect("followers").drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.count.load(Ordering::Relaxed)
    }
}

async fn produce(bootstrap: &[String], topic: &str, n: usize) {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap.join(","))
        .set("acks", "all")
        .create()
        .expect("producer");
    for i in 0..n {
        let key = format!("k{i}");
        let value = format!("order {i}");
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produce");
    }
}
