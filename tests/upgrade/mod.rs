//! The rolling upgrade on real labs, run as users run it (the `kroll` binary), watched by an
//! independent observer (`observer.rs`).
//!
//! - `killed`: 7.1.1 → 7.7.1 with the coordinator SIGKILLed at ≥ 20 points and resumed each
//!   time; ends healthy, every broker on 7.7.1 with IBP 3.7, restarted exactly twice, never two
//!   brokers down, no stop below min ISR, the controller last in each roll.
//! - `failures`: forgetting the IBP pin gets stuck at the gate and is rolled back; a target image
//!   that cannot start is rolled back; an agent lost mid-step halts, and the run completes after
//!   it returns; bad inputs are refused before anything is touched.
//! - `bumped`: the coordinator SIGKILLed in the middle of Roll 2; no later command (fresh run,
//!   `rollback`, `--resume`) lowers a broker's IBP, and the plan shows the bump steps left.

mod bumped;
mod failures;
mod killed;
mod observer;

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
    kroll::lab::kafka::create_topic(&lab.handle.bootstrap, "orders", 10)
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
pub struct Respawned(pub kroll::lab::agents::AgentRecord);

impl Drop for Respawned {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.pid.to_string()])
            .output();
    }
}

/// Starts a lab's stopped agent again, exactly as `lab up` did.
pub async fn respawn(old: &kroll::lab::agents::AgentRecord) -> Respawned {
    let rec = kroll::lab::agents::spawn(&bin("kroll-agent"), &old.node, old.addr, &old.config)
        .await
        .expect("agent back");
    Respawned(rec)
}
