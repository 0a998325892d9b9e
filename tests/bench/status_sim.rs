//! `status-sim`: the whole `kroll status` command against N simulated agents — real gRPC servers
//! with mutual TLS (one certificate per node from the cluster CA, client certificates required)
//! that answer `GetNodeState` with the snapshot a real agent took of 3 real containers — timed,
//! with the coordinator's peak memory (GNU time's maximum resident set size).

use std::process::Command;

use kroll_tests::sim::Fleet;
use kroll_tests::{Spec, TestContainer, on_node};

pub async fn run(agents: u64, rounds: u64) {
    // The snapshot every simulated agent serves: a real agent's view of 3 real containers.
    let mut boxes = Vec::new();
    for j in 0..3 {
        boxes.push(
            TestContainer::start(
                &format!("simsrc-{j}"),
                Spec {
                    labels: on_node("real-node"),
                    ..Default::default()
                },
            )
            .await,
        );
    }
    let fleet = Fleet::start(agents, boxes, 0, false).await;
    let inv_path = fleet.inventory.clone();
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..rounds {
        let inv_path = inv_path.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("/usr/bin/time")
                .args(["-f", "kroll-bench-time %e %M"])
                .arg(kroll_tests::bin("kroll"))
                .args(["--output", "json", "--inventory"])
                .arg(&inv_path)
                .arg("status")
                .output()
                .expect("/usr/bin/time (Debian package `time`; deploy/setup.sh installs it)")
        })
        .await
        .expect("join");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let figures = stderr
            .lines()
            .find_map(|l| l.strip_prefix("kroll-bench-time "))
            .unwrap_or_else(|| panic!("no GNU time figures in: {stderr}"));
        let mut it = figures.split_whitespace();
        let secs: f64 = it.next().and_then(|v| v.parse().ok()).expect("elapsed");
        let kib: u64 = it.next().and_then(|v| v.parse().ok()).expect("max RSS");
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("kroll status --output json");
        let reached = json["nodes"]
            .as_array()
            .map_or(0, |n| n.iter().filter(|n| n["reachable"] == true).count());
        assert_eq!(
            reached as u64, agents,
            "every simulated agent answered: {stderr}"
        );
        times.push(secs);
        peaks.push(kib);
    }
    fleet.stop().await;
    times.sort_by(f64::total_cmp);
    peaks.sort_unstable();
    println!(
        "status-sim: agents={agents} (3 containers each, snapshot of a real agent), rounds={rounds}"
    );
    println!(
        "  `kroll status` whole command: median {:.2} s, max {:.2} s",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    println!(
        "  coordinator peak RSS: median {:.1} MiB, max {:.1} MiB",
        peaks[peaks.len() / 2] as f64 / 1024.0,
        peaks[peaks.len() - 1] as f64 / 1024.0
    );
}
