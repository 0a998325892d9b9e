//! The reproduced hazard of issue 10: the coordinator SIGKILLed in the middle of Roll 2 (some
//! brokers on the new inter.broker.protocol.version, the others still on the old one). No
//! command that follows — a fresh `kroll upgrade`, `kroll rollback`, `kroll upgrade --resume` —
//! may recreate a broker with a lower IBP than it runs; `kroll plan` shows exactly the bump
//! steps left. Every broker's IBP is read with `docker inspect` while each command runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kroll_lab::topology::Services;

use super::observer::Observer;
use super::{FAST, Started, assert_brokers_on_7_7_1, kroll, kroll_cmd, text};
use crate::lab::TestLab;

const NEW_IBP: &str = "3.7";

/// Broker container → its IBP's minor version (unset = the 7.1.1 default, 3.1), read with
/// `docker inspect` while commands run: a container renamed away between listing and
/// inspecting (a recreate in progress) is left out of this sample.
fn ibps(lab: &str) -> BTreeMap<String, u32> {
    let names = super::broker_names(lab);
    // One `docker inspect` for all; a name gone meanwhile is reported on stderr and left out.
    let inspected = Command::new("docker")
        .arg("inspect")
        .args(["--format", "{{.Name}} {{json .Config.Env}}"])
        .args(&names)
        .output()
        .expect("docker inspect");
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(&inspected.stdout).lines() {
        let Some((name, env)) = line.split_once(' ') else {
            continue;
        };
        let env: Vec<String> = serde_json::from_str(env).unwrap_or_default();
        let minor = env
            .iter()
            .find_map(|v| v.strip_prefix("KAFKA_INTER_BROKER_PROTOCOL_VERSION="))
            .and_then(|i| i.split('.').nth(1))
            .and_then(|m| m.parse().ok())
            .unwrap_or(1);
        out.insert(name.trim_start_matches('/').to_owned(), minor);
    }
    out
}

/// Runs `cmd` to its end while reading every broker's IBP every 100 ms; returns its output and
/// every IBP lowering seen (a broker container found on a lower IBP than it ran before).
fn watched(lab: &str, mut cmd: Command, mut last: BTreeMap<String, u32>) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().expect("tmp");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Started(
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout"))
            .stderr(std::fs::File::create(&err).expect("stderr"))
            .spawn()
            .expect("kroll"),
    );
    let began = Instant::now();
    let mut lowered = Vec::new();
    let status = loop {
        let now = ibps(lab);
        for (name, minor) in &now {
            if let Some(before) = last.get(name)
                && minor < before
            {
                lowered.push(format!("{name}: IBP 3.{before} → 3.{minor}"));
            }
        }
        last.extend(now);
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            began.elapsed() < Duration::from_secs(900),
            "the command did not end in 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = Output {
        status,
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    };
    (output, lowered)
}

/// Every container of the lab with its IBP variable, for failure messages.
fn all_containers(lab: &str) -> String {
    let o = Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("label=kroll.lab={lab}")])
        .args(["--format", "{{.Names}} {{.Status}} {{.Image}}"])
        .output()
        .expect("docker ps");
    format!("{}\n{:?}", String::from_utf8_lossy(&o.stdout), ibps(lab))
}

fn bumped(lab: &str) -> usize {
    ibps(lab).values().filter(|m| **m == 7).count()
}

/// `kroll upgrade` with a new run id, retried while the killed coordinator's ZooKeeper lock
/// has not expired yet.
fn fresh_upgrade(lab: &str, inv: &Path, args: &[&str]) -> (Output, Vec<String>) {
    let began = Instant::now();
    loop {
        let (o, lowered) = watched(lab, kroll_cmd(inv, args), ibps(lab));
        let locked = text(&o).contains("another kroll coordinator is upgrading this cluster");
        if !locked || began.elapsed() > Duration::from_secs(120) {
            return (o, lowered);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_kill_mid_bump_no_command_lowers_a_brokers_ibp() {
    let lab = TestLab::up("bump", Services::Kafka, true).await;
    kroll_tests::lab_platform_images("7.7.1").await;
    let inv = lab.handle.inventory.clone();
    let runs = lab.handle.dir.join("runs");
    let runs_arg = runs.display().to_string();
    super::orders_topic(&lab, 300).await;
    let observer = Observer::start(lab.name(), &lab.handle.kafka_zookeeper(), 2).await;

    // The first run, SIGKILLed once some but not all brokers run the new IBP.
    let mut args = vec![
        "upgrade",
        "--to",
        "7.7.1",
        "--yes",
        "--skip-connect",
        "--runs",
        &runs_arg,
    ];
    args.extend(FAST);
    let first_err = lab.handle.dir.join("first.stderr");
    let mut first = Started(
        kroll_cmd(&inv, &args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&first_err).expect("stderr file"))
            .spawn()
            .expect("kroll upgrade"),
    );
    let began = Instant::now();
    while bumped(lab.name()) == 0 {
        if let Some(s) = first.0.try_wait().expect("wait") {
            panic!(
                "the first run ended ({s}) before any broker was bumped: {}",
                std::fs::read_to_string(&first_err).unwrap_or_default()
            );
        }
        assert!(
            began.elapsed() < Duration::from_secs(600),
            "no broker of Roll 2 bumped in 10 minutes: {:?}",
            ibps(lab.name())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(first); // SIGKILL
    let half = ibps(lab.name());
    let n = bumped(lab.name());
    assert!(
        (1..5).contains(&n),
        "killed with some, not all, brokers bumped: {half:?}"
    );

    // A fresh run (new run id, not --resume): refused, or only the rest of the bump.
    let mut fresh = vec!["upgrade", "--to", "7.7.1", "--yes", "--runs", &runs_arg];
    fresh.extend(FAST);
    let (o, lowered) = fresh_upgrade(lab.name(), &inv, &fresh);
    assert!(
        lowered.is_empty(),
        "a fresh `kroll upgrade` lowered the IBP: {lowered:?}\n{}",
        text(&o)
    );
    match o.status.code() {
        Some(2) => assert!(
            text(&o).contains("--resume") && text(&o).contains("rollback"),
            "the refusal names --resume and rollback: {}",
            text(&o)
        ),
        Some(0) => {}
        other => panic!("fresh upgrade exited {other:?}: {}", text(&o)),
    }

    // The plan of the half-bumped cluster: exactly the bump steps left.
    let plan = kroll(&inv, &["--output", "json", "plan", "--to", "7.7.1"]);
    if bumped(lab.name()) < 5 {
        assert!(plan.status.success(), "{}", text(&plan));
        let p: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
        let pending = |phase: &str| -> Vec<String> {
            p["phases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|ph| ph["id"] == phase)
                .flat_map(|ph| ph["steps"].as_array().cloned().unwrap_or_default())
                .filter(|s| s["done"] == false && !s["change"].is_null())
                .filter_map(|s| s["container"].as_str().map(str::to_owned))
                .collect()
        };
        assert!(pending("roll-brokers").is_empty(), "{p}");
        let mut left = pending("bump-ibp");
        left.sort();
        let mut expected: Vec<String> = ibps(lab.name())
            .into_iter()
            .filter(|(_, m)| *m != 7)
            .map(|(c, _)| c)
            .collect();
        expected.sort();
        assert_eq!(
            left,
            expected,
            "bump steps the plan leaves vs brokers docker shows below IBP {NEW_IBP}; fresh run said: {}\ncontainers: {}\nplan: {p}",
            text(&o),
            all_containers(lab.name())
        );
    }

    // `kroll rollback` must refuse: the IBP bump has begun.
    let (o, lowered) = watched(
        lab.name(),
        kroll_cmd(&inv, &["rollback", "--runs", &runs_arg]),
        ibps(lab.name()),
    );
    assert!(lowered.is_empty(), "rollback lowered the IBP: {lowered:?}");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // `--resume` finishes the bump, never lowering an IBP.
    let mut resume = vec!["upgrade", "--resume", "--yes", "--runs", &runs_arg];
    resume.extend(FAST);
    let (o, lowered) = watched(lab.name(), kroll_cmd(&inv, &resume), ibps(lab.name()));
    assert!(lowered.is_empty(), "--resume lowered the IBP: {lowered:?}");
    assert!(o.status.success(), "{}", text(&o));
    assert_brokers_on_7_7_1(lab.name());
    let seen = observer.stop().await;
    assert_eq!(
        seen.max_down, 1,
        "never two brokers down at once: {:?}; stops {:?}",
        seen.max_down_seen, seen.stops
    );
    assert!(
        seen.min_isr_breaches.is_empty(),
        "{:?}",
        seen.min_isr_breaches
    );
    for (broker, n) in seen.restarts() {
        assert_eq!(n, 2, "broker {broker} restarted exactly twice");
    }
    lab.down().await;
}
