//! The full upgrade 7.1.1 → 7.7.1 with the coordinator SIGKILLed at ≥ 20 points.

use std::time::{Duration, Instant};

use kroll_lab::topology::Services;
use kroll_tests::hostlab::{Method, call};

use super::observer::Observer;
use super::{
    assert_brokers_on_7_7_1, assert_healthy, assert_two_safe_rolls, kill_and_resume, kroll, text,
};
use crate::lab::TestLab;

/// Kill points: the coordinator is SIGKILLed once its journal has grown by this many events since
/// it started (landing on run start, phase starts, step intents — mid-recreate — and step ends
/// across the whole run), then resumed.
const KILL_AFTER_EVENTS: [usize; 22] = [
    3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 4, 5,
];

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_coordinator_resumes_to_a_healthy_7_7_1_cluster_restarting_each_broker_twice() {
    let lab = TestLab::up("up", Services::Full, true).await;
    kroll_tests::lab_platform_images("7.7.1").await;
    let inv = lab.handle.inventory.clone();
    let runs = lab.handle.dir.join("runs");
    let plan = kroll(&inv, &["plan", "--to", "7.7.1"]);
    assert!(plan.status.success(), "{}", text(&plan));
    // The same cluster planned to 7.8.0, for scripts: IBP 3.1 → 3.8, the bump the point of no
    // return over all 5 brokers.
    let plan78 = kroll(&inv, &["--output", "json", "plan", "--to", "7.8.0"]);
    assert!(plan78.status.success(), "{}", text(&plan78));
    let p: serde_json::Value = serde_json::from_slice(&plan78.stdout).expect("plan JSON");
    assert_eq!(
        p["from_ibp"],
        serde_json::json!({"major": 3, "minor": 1}),
        "{p}"
    );
    assert_eq!(
        p["to_ibp"],
        serde_json::json!({"major": 3, "minor": 8}),
        "{p}"
    );
    let bump = p["phases"]
        .as_array()
        .and_then(|ph| ph.iter().find(|x| x["id"] == "bump-ibp"))
        .expect("a bump phase");
    assert_eq!(bump["point_of_no_return"], true, "{bump}");
    assert_eq!(bump["steps"].as_array().map(Vec::len), Some(5), "{bump}");
    let connect = lab.handle.connect[0].clone();
    let registry = lab
        .handle
        .schema_registry
        .clone()
        .expect("a full lab has Schema Registry");
    let key_ids_before = key_ids(&registry).await;
    assert!(
        !key_ids_before.is_empty(),
        "the seeded sources registered key subjects"
    );
    for s in kroll_lab::seed::sources() {
        let config = call(
            &connect,
            Method::GET,
            &["connectors", &s.name, "config"],
            None,
        )
        .await
        .expect("config");
        assert_eq!(
            config["database.server.name"], s.name,
            "seeded 1.9-style: {config}"
        );
    }
    let observer = Observer::start(lab.name(), &lab.handle.kafka_zookeeper(), 2).await;
    let began = Instant::now();
    // The lab's connectors are the journal's: Debezium 3.0's value schemas are incompatible with
    // 1.9's, so the run must halt before resuming Connect until the operator allows it.
    let run = kill_and_resume(
        &inv,
        &runs,
        "7.7.1",
        &KILL_AFTER_EVENTS,
        Duration::from_secs(1500),
        |said| {
            assert!(
                said.contains("HALTED")
                    && said.contains("would refuse the Debezium 3.0 value schema")
                    && said.contains("--allow-incompatible-values"),
                "the only expected halt is the value-schema refusal before Connect resumes: {said}"
            );
            Some("--allow-incompatible-values")
        },
    )
    .await;
    assert_eq!(
        run.halts_accepted, 1,
        "the incompatible value schemas were refused once before Connect resumed"
    );
    let kills = run.kills;
    let seen = observer.stop().await;
    assert!(kills >= 20, "the coordinator was killed only {kills} times");
    assert_two_safe_rolls(&seen);
    assert_brokers_on_7_7_1(lab.name());
    assert_healthy(&inv);
    // Connect: sources migrated to Debezium 3.0 keys and running again, sinks running, and no
    // key schema changed (the journal's 3-day outage).
    for s in kroll_lab::seed::sources() {
        let config = call(
            &connect,
            Method::GET,
            &["connectors", &s.name, "config"],
            None,
        )
        .await
        .expect("config");
        assert_eq!(
            config["topic.prefix"], s.name,
            "{}: migrated: {config}",
            s.name
        );
        assert!(
            config.get("database.server.name").is_none(),
            "{}: 1.9 key removed: {config}",
            s.name
        );
        for name in [&s.name, &s.sink] {
            let status = call(&connect, Method::GET, &["connectors", name, "status"], None)
                .await
                .expect("status");
            assert_eq!(
                status["connector"]["state"], "RUNNING",
                "{name} resumed: {status}"
            );
        }
    }
    assert_eq!(
        key_ids(&registry).await,
        key_ids_before,
        "no key schema changed"
    );
    let report = std::fs::read_dir(&runs)
        .expect("runs")
        .filter_map(|e| e.ok())
        .find(|e| e.path().join("report.json").exists());
    let report = report
        .expect("a report is written to the run directory")
        .path();
    // The page drawn from this real run (every kill and resume in it) shows what its journal
    // says, and the partition counts its gates observed.
    assert!(
        !kroll::upgrade::journal::read_samples(&report).is_empty(),
        "the gates' observations are sampled"
    );
    let entries =
        kroll::upgrade::journal::read(&report.join("journal.jsonl")).expect("the run's journal");
    crate::report::check_against_journal(
        &report.join("report.html"),
        &entries,
        kroll_tests::browser::Look::LAPTOP,
        "report-killed-coordinator-run",
    )
    .await;
    // `kroll ui` over the same runs: its summary is this run's, finished, and its `/run` is the
    // page drawn from the same journal, checked the same way, on a phone in dark.
    let timeline = kroll::upgrade::timeline::Timeline::from_journal(&entries);
    let runs_arg = runs.display().to_string();
    let ui = crate::heap::ui::start_ui(&inv, &["--runs", &runs_arg, "--every", "1s"], "http");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let summary = kroll_tests::eventually(
        "kroll ui's summary of the run",
        Duration::from_secs(30),
        async || {
            let v = ui.state().await?;
            v["run"]["run_id"].is_string().then(|| v["run"].clone())
        },
    )
    .await;
    assert_eq!(summary["run_id"], timeline.run_id.as_str(), "{summary}");
    assert_eq!(summary["state"], "finished", "{summary}");
    assert_eq!(summary["from"], timeline.from.as_str(), "{summary}");
    assert_eq!(summary["to"], "7.7.1", "{summary}");
    assert_eq!(
        summary["containers"].as_u64(),
        Some(timeline.rows.len() as u64),
        "{summary}"
    );
    let served = http
        .get(format!("{}run", ui.url))
        .send()
        .await
        .expect("GET /run");
    assert_eq!(served.status(), 200);
    // Kept in the run's directory, where the check finds the gates' samples beside it.
    let served_page = report.join("served-by-kroll-ui.html");
    std::fs::write(&served_page, served.bytes().await.expect("body")).expect("write");
    crate::report::check_against_journal(
        &served_page,
        &entries,
        kroll_tests::browser::Look::PHONE_DARK,
        "ui-run-killed-coordinator-run",
    )
    .await;
    drop(ui);
    eprintln!(
        "upgrade with {kills} kills took {:.0}s, observer samples {}",
        began.elapsed().as_secs_f64(),
        seen.samples
    );
    // Recreated containers bind their images' anonymous volumes by name (their data survives
    // the upgrade); `lab down` must still remove every one of them.
    let docker = kroll_tests::docker().await;
    let anonymous = kroll_lab::docker::lab_listing(&docker, lab.name())
        .await
        .expect("volumes")
        .anonymous_volumes;
    assert!(!anonymous.is_empty(), "the lab's images declare volumes");
    let name = lab.name().to_owned();
    let down = lab.down().await;
    let left = std::process::Command::new("docker")
        .args(["volume", "ls", "-q"])
        .output()
        .expect("docker volume ls");
    let left = String::from_utf8_lossy(&left.stdout);
    let leaked: Vec<&String> = anonymous
        .iter()
        .filter(|v| left.lines().any(|l| l == v.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "lab {name} left anonymous volumes behind: {leaked:?} (down: {down:?})"
    );
}

/// The latest schema id of every seeded key subject.
async fn key_ids(registry: &str) -> std::collections::BTreeMap<String, i64> {
    let mut ids = std::collections::BTreeMap::new();
    for subject in kroll_lab::seed::subjects()
        .into_iter()
        .filter(|s| s.ends_with("-key"))
    {
        if let Ok(v) = call(
            registry,
            Method::GET,
            &["subjects", &subject, "versions", "latest"],
            None,
        )
        .await
        {
            ids.insert(subject, v["id"].as_i64().unwrap_or_default());
        }
    }
    ids
}
