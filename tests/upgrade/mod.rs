//! The rolling upgrade on real labs, run as users run it (the `kroll` binary), watched by an
//! independent observer (`observer.rs`).
//!
//! - `killed`: 7.1.1 → 7.7.1 with the coordinator SIGKILLed at ≥ 20 points and resumed each
//!   time; ends healthy, every broker on 7.7.1 with IBP 3.7, restarted exactly twice, never two
//!   brokers down, no stop below min ISR, the controller last in each roll.
//! - `failures`: forgetting the IBP pin gets stuck at the gate and is rolled back; a target image
//!   that cannot start is rolled back; an agent lost mid-step halts, and the run completes after
//!   it returns; bad inputs are refused before anything is touched.
//! - `swarm`: the same upgrade of the Swarm lab's stack (services updated through the manager's
//!   agent) with the coordinator SIGKILLed at ≥ 10 points, watched on all five engines.
//! - `production`: the journal's production size (18 brokers, a 3-server ZooKeeper ensemble,
//!   100 partitions in the suite) upgraded under the observer's invariants.
//! - `bumped`: the coordinator SIGKILLed in the middle of Roll 2; no later command (fresh run,
//!   `rollback`, `--resume`) lowers a broker's IBP, and the plan shows the bump steps left.

mod bumped;
mod failures;
mod killed;
pub(crate) mod observer;
mod production;
pub(crate) mod swarm;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use kroll_tests::bin;

/// `kroll <args> --inventory <inv>` with the runs directory `runs`.
pub fn kroll_cmd(inv: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin("kroll"));
    c.arg("--inventory")
        .arg(inv)
        .args(args)
        .env_remove("KROLL_INVENTORY");
    c
}

/// Runs to completion; returns the output.
pub fn kroll(inv: &Path, args: &[&str]) -> Output {
    kroll_cmd(inv, args)
        .stdin(Stdio::null())
        .output()
        .expect("run kroll")
}

/// stdout + stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A child process this test started, killed (SIGKILL) and reaped when dropped.
pub struct Started(pub Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The run directories under `runs` (none while it does not exist).
pub fn run_dirs(runs: &Path) -> std::collections::BTreeSet<std::path::PathBuf> {
    std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect()
}

/// The journal of run directory `dir` (empty until it exists).
pub fn journal_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("journal.jsonl")).unwrap_or_default()
}

/// The text of every run's journal under `runs`.
fn journals(runs: &Path) -> Vec<String> {
    run_dirs(runs).iter().map(|d| journal_of(d)).collect()
}

/// How many events the journals under `runs` hold together.
fn journal_events(runs: &Path) -> usize {
    journals(runs).iter().map(|t| t.lines().count()).sum()
}

/// Every journal under `runs`, for assertion messages.
fn journal_text(runs: &Path) -> String {
    journals(runs).join("\n")
}

/// How a killed-and-resumed upgrade went.
#[derive(Debug, Default)]
pub struct KilledRun {
    /// SIGKILLs sent.
    pub kills: usize,
    /// The halts the caller accepted (each answered by an extra `--resume` option).
    pub halts_accepted: usize,
}

/// Runs `kroll upgrade --to <to> --yes` ([`FAST`], journals under `runs`) on `inv` and SIGKILLs
/// it each time its journals have grown by the next of `kill_points` events since it started,
/// then continues with `kroll upgrade --resume --yes` — until a run finishes (exit 0) within
/// `limit`. A halt (exit 1) is shown to `on_halt` with the run's stderr: the option it returns is
/// added to the resume (the operator's answer), `None` fails the test. Any other exit fails the
/// test with stderr and journals.
pub async fn kill_and_resume(
    inv: &Path,
    runs: &Path,
    to: &str,
    kill_points: &[usize],
    limit: std::time::Duration,
    mut on_halt: impl FnMut(&str) -> Option<&'static str>,
) -> KilledRun {
    let began = std::time::Instant::now();
    let stderr_path = runs.with_extension("stderr");
    let runs_arg = runs.display().to_string();
    let mut args = vec!["upgrade", "--to", to, "--yes", "--runs", &runs_arg];
    args.extend(FAST);
    let mut resume = vec!["upgrade", "--resume", "--yes", "--runs", &runs_arg];
    resume.extend(FAST);
    let mut done = KilledRun::default();
    let mut first = true;
    loop {
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = Started(
            kroll_cmd(inv, if first { &args } else { &resume })
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("kroll upgrade"),
        );
        first = false;
        let kill_at = kill_points
            .get(done.kills)
            .map(|d| journal_events(runs) + d);
        let status = loop {
            if let Some(s) = child.0.try_wait().expect("wait") {
                break Some(s);
            }
            if kill_at.is_some_and(|k| journal_events(runs) >= k) {
                break None;
            }
            assert!(
                began.elapsed() < limit,
                "the upgrade did not finish in {limit:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let said = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
        match status {
            Some(s) if s.success() => return done,
            Some(s) if s.code() == Some(1) => match on_halt(&said()) {
                Some(option) => {
                    done.halts_accepted += 1;
                    resume.push(option);
                }
                None => panic!(
                    "kroll upgrade halted after {} kills: {}\njournal: {}",
                    done.kills,
                    said(),
                    journal_text(runs)
                ),
            },
            Some(s) => panic!(
                "kroll upgrade exited {s} after {} kills: {}\njournal: {}",
                done.kills,
                said(),
                journal_text(runs)
            ),
            None => {
                drop(child); // SIGKILL
                done.kills += 1;
            }
        }
    }
}

/// The observer's verdict on a whole upgrade of five brokers: never two down at once, no stop
/// below min ISR, each broker restarted exactly twice (once per roll), ten stops, and the
/// controller the last broker of each roll.
pub fn assert_two_safe_rolls(seen: &observer::Seen) {
    assert_two_safe_rolls_of(seen, 5);
}

/// [`assert_two_safe_rolls`] for a cluster of `brokers`.
pub fn assert_two_safe_rolls_of(seen: &observer::Seen, brokers: usize) {
    assert_eq!(
        seen.max_down, 1,
        "never two brokers down at once (observed {}: {:?})",
        seen.max_down, seen.max_down_seen
    );
    assert!(
        seen.min_isr_breaches.is_empty(),
        "{:?}",
        seen.min_isr_breaches
    );
    assert_eq!(seen.restarts().len(), brokers, "{:?}", seen.container_ids);
    for (broker, n) in seen.restarts() {
        assert_eq!(
            n,
            2,
            "broker {broker} restarted exactly twice (containers: {:?})",
            seen.container_ids.get(&broker)
        );
    }
    assert_eq!(seen.stops.len(), 2 * brokers, "{:?}", seen.stops);
    for roll in seen.stops.chunks(brokers) {
        for (b, controller) in &roll[..brokers - 1] {
            assert_ne!(
                Some(*b),
                *controller,
                "broker {b} was the controller but not the last of its roll: {:?}",
                seen.stops
            );
        }
    }
}

/// Upgrade options that keep the lab runs short (the lab's brokers stop in seconds).
pub const FAST: [&str; 6] = [
    "--broker-stop-timeout",
    "60s",
    "--stop-timeout",
    "30s",
    "--gate-timeout",
    "60s",
];

/// [`FAST`] with another gate time limit.
pub fn fast_with_gate(gate: &'static str) -> Vec<&'static str> {
    let mut v = FAST[..4].to_vec();
    v.extend(["--gate-timeout", gate]);
    v
}

/// The names of `lab`'s broker containers (not the kept previous ones).
pub fn broker_names(lab: &str) -> Vec<String> {
    let names = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=kroll.lab={lab}"),
            "--filter",
            "label=kroll.role=broker",
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&names.stdout)
        .lines()
        // Kept previous definitions and new ones not yet in place are not the broker.
        .filter(|n| !n.ends_with("-kroll-prev") && !n.ends_with("-kroll-next"))
        .map(str::to_owned)
        .collect()
}

/// Topic `orders` on `lab` (10 partitions, RF 3, min ISR 2) holding `records` records written
/// with acks=all: partitions on every broker with data, so the gates have work to judge.
pub async fn orders_topic(lab: &crate::lab::TestLab, records: usize) {
    kroll_lab::kafka::create_topic(&lab.handle.bootstrap, "orders", 10)
        .await
        .expect("topic");
    let records: String = (0..records).map(|i| format!("k{i}:order {i}\n")).collect();
    crate::lab::kcat(
        &[
            "-b",
            &lab.handle.bootstrap[0],
            "-P",
            "-t",
            "orders",
            "-K",
            ":",
            "-X",
            "acks=all",
        ],
        &records,
    );
}

/// Asserts every broker container of `lab` runs 7.7.1 with IBP 3.7 (the upgrade's end state);
/// returns how many there are.
pub fn assert_brokers_on_7_7_1(lab: &str) -> usize {
    let brokers = broker_state(lab);
    for (name, image, ibp) in &brokers {
        assert!(image.ends_with("/kafka:7.7.1"), "{name} runs {image}");
        assert_eq!(ibp.as_deref(), Some("3.7"), "{name}");
    }
    brokers.len()
}

/// Asserts `kroll status` on `inv` exits 0 (a healthy cluster) after an upgrade.
pub fn assert_healthy(inv: &Path) {
    let status = kroll(inv, &["status"]);
    assert!(
        status.status.success(),
        "healthy after the upgrade:\n{}",
        text(&status)
    );
}

/// The image and IBP every broker container of `lab` runs now (via `docker inspect`).
pub fn broker_state(lab: &str) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for name in broker_names(lab) {
        let i = kroll_tests::inspect_json(&name);
        let ibp = i["Config"]["Env"].as_array().and_then(|e| {
            e.iter().filter_map(|v| v.as_str()).find_map(|v| {
                v.strip_prefix("KAFKA_INTER_BROKER_PROTOCOL_VERSION=")
                    .map(str::to_owned)
            })
        });
        out.push((
            name,
            i["Config"]["Image"].as_str().unwrap_or_default().to_owned(),
            ibp,
        ));
    }
    out.sort();
    out
}

/// An agent this test started again after stopping it; stopped (by its PID) when dropped.
pub struct Respawned(pub kroll_lab::agents::AgentRecord);

impl Drop for Respawned {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.pid.to_string()])
            .output();
    }
}

/// Starts a lab's stopped agent again, exactly as `lab up` did.
pub async fn respawn(old: &kroll_lab::agents::AgentRecord) -> Respawned {
    let rec = kroll_lab::agents::spawn(&bin("kroll-agent"), &old.node, old.addr, &old.config)
        .await
        .expect("agent back");
    Respawned(rec)
}
