//! One full lab, shared by every check that does not disturb it: kcat sees the cluster and
//! moves data; `lab up` again reconciles; a 7.7.1 Connect worker meets 1.9 configs; a worker
//! runs out of heap — then `lab down` leaves nothing behind.

use std::time::Instant;

use kroll_lab::topology::Services;
use kroll_tests::docker_cli;
use serde_json::Value;

use super::{TestLab, kcat, kcat_produce, kcat_read};

/// kcat's JSON metadata (`-L -J`).
fn kcat_metadata(bootstrap: &str) -> Value {
    serde_json::from_str(&kcat(&["-b", bootstrap, "-L", "-J"], "")).expect("kcat -J")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_lab_serves_kcat_connect_and_heap_and_down_leaves_nothing() {
    // What `flock <lock> kroll-lab up` hands down: a descriptor without close-on-exec.
    let held = tempfile::NamedTempFile::new().expect("temp file");
    rustix::io::fcntl_setfd(held.as_file(), rustix::io::FdFlags::empty()).expect("fcntl");
    let began = Instant::now();
    let lab = TestLab::up("full", Services::Full, true).await;
    let up_secs = began.elapsed().as_secs_f64();
    agents_keep_nothing_inherited(&lab, held.path());
    let memory = kroll_lab::memory(lab.name(), &lab.handle.agents)
        .await
        .expect("memory");
    println!(
        "FIGURE lab up (full, 7.1.1): {up_secs:.1} s wall, phases {:?}; memory {memory}",
        lab.handle.timings
    );
    kcat_sees_brokers_partitions_and_moves_data(&lab);
    up_again_reconciles(&lab).await;
    tokio::join!(
        super::connect::a_7_7_worker_and_the_key_schema_drift(&lab),
        super::connect::a_worker_past_its_heap_throws_a_real_oom(&lab),
    );
    down_leaves_nothing(lab).await;
}

/// The agents outlive `lab up`: none may hold what its caller handed down (a lock held so would
/// stay locked until `lab down`, which waits for the same lock: found when a benchmark's
/// `flock … kroll-lab down` hung behind its own agents).
fn agents_keep_nothing_inherited(lab: &TestLab, held: &std::path::Path) {
    assert_eq!(lab.handle.agents.len(), 5);
    for a in &lab.handle.agents {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", a.pid)).expect("the agent's fds");
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            assert_ne!(
                target, held,
                "{}'s agent (PID {}) holds the test's inherited descriptor",
                a.node, a.pid
            );
        }
    }
}

fn kcat_sees_brokers_partitions_and_moves_data(lab: &TestLab) {
    let bootstrap = lab.handle.bootstrap[0].clone();
    let md = kcat_metadata(&bootstrap);
    let mut brokers: Vec<i64> = md["brokers"]
        .as_array()
        .expect("brokers")
        .iter()
        .filter_map(|b| b["id"].as_i64())
        .collect();
    brokers.sort_unstable();
    assert_eq!(brokers, [1, 2, 3, 4, 5], "{md}");
    let topic = md["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .find(|t| t["topic"] == "supernova.digikala_fulfillment.receipts")
        .unwrap_or_else(|| panic!("seeded topic in {md}"));
    let partitions = topic["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 3);
    for p in partitions {
        assert!(
            p["leader"].as_i64().is_some_and(|l| (1..=5).contains(&l)),
            "{p}"
        );
        assert_eq!(p["replicas"].as_array().map(Vec::len), Some(3), "{p}");
        assert_eq!(p["isrs"].as_array().map(Vec::len), Some(3), "{p}");
    }
    let lines: Vec<String> = (0..20).map(|i| format!("k{i}:value-{i}")).collect();
    kcat_produce(&bootstrap, "kcat-smoke", &lines);
    let out = kcat_read(&bootstrap, "kcat-smoke", "%k:%s\n");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    let mut want: Vec<&str> = lines.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(got, want);
}

async fn up_again_reconciles(lab: &TestLab) {
    let mut opts = kroll_lab::UpOptions::new(lab.name());
    opts.dir = Some(lab.handle.dir.clone());
    let began = Instant::now();
    let again = kroll_lab::up(opts).await.expect("lab up again");
    println!(
        "FIGURE lab up on a running lab: {:.1} s",
        began.elapsed().as_secs_f64()
    );
    super::assert_up_again_kept_every_container(&again);
    let pids = |h: &kroll_lab::LabHandle| h.agents.iter().map(|a| a.pid).collect::<Vec<_>>();
    assert_eq!(
        pids(&again),
        pids(&lab.handle),
        "the running agents are kept"
    );
    assert_eq!(again.bootstrap, lab.handle.bootstrap, "the same ports");
}

async fn down_leaves_nothing(lab: TestLab) {
    let name = lab.name().to_owned();
    let dir = lab.handle.dir.clone();
    let agents = lab.handle.agents.clone();
    let report = lab.down().await;
    assert_eq!(
        report.containers.len(),
        16,
        "14 + the two test workers: {report:?}"
    );
    assert_eq!(report.agents.len(), 5, "{report:?}");
    super::assert_nothing_labelled(&name);
    let volumes = docker_cli(&["volume", "ls", "-q"]);
    assert!(
        !volumes.lines().any(|v| v.starts_with(&format!("{name}-"))),
        "{volumes}"
    );
    for a in &agents {
        assert!(
            !kroll_lab::agents::is_lab_agent(a.pid, &a.config),
            "agent {} (pid {}) still runs",
            a.node,
            a.pid
        );
    }
    assert!(!dir.exists(), "{} is left", dir.display());
    let again = kroll_lab::down(kroll_lab::DownOptions::new(&name))
        .await
        .expect("down twice");
    assert!(again.containers.is_empty() && again.volumes.is_empty() && again.agents.is_empty());
}
