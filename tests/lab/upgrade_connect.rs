//! Connect through whole upgrades of a full lab, run as an operator types them (the `kroll`
//! binary):
//!
//! - the one-pass `kroll upgrade --to 7.7.1 --yes --allow-incompatible-values` of the **full Swarm
//!   lab with the journal's security** (`--security sasl`: kroll's Kafka clients on `SASL_EXT`,
//!   and Connect, Schema Registry and the REST proxy requiring HTTP basic auth — kroll logs in
//!   with the inventory's `[connect]` / `[schema_registry]`, the workers' converters with their
//!   `FileConfigProvider` secret; five engines, three managers, every service of the journal's
//!   stack rolled as a Swarm service through a manager's agent) ends exit 0 with every connector kroll halted
//!   RUNNING on its migrated *task* configuration and every value subject's compatibility put
//!   back; the independent observer on all five engines sees two safe rolls, and `docker stack
//!   deploy` of the stack file kroll kept changes nothing (the halt-then-resume form the demo
//!   types is `upgrade::killed`, on plain containers);
//! - `--skip-connect` leaves the journal's Debezium 1.9 sources FAILED on the 7.7.1 workers: the
//!   post-checks fail naming them (exit 1), and `kroll status` lists them (exit 3).

use std::path::Path;

use kroll::rest::{Access, RestFailure};
use kroll_lab::swarm::SwarmState;
use kroll_lab::topology::{Security, Services};
use kroll_tests::hostlab::{Method, call_as};
use serde_json::Value;

use super::TestLab;
use crate::upgrade::observer::Observer;
use crate::upgrade::swarm::redeploy_changes_nothing;
use crate::upgrade::{FAST, assert_two_safe_rolls, kroll, text};

/// `GET base/path…` logged in with `access` (the lab's inventory's).
async fn get(base: &str, access: &Access, path: &[&str]) -> Value {
    call_as(base, access, Method::GET, path, None)
        .await
        .unwrap_or_else(|e| panic!("GET {path:?}: {e}"))
}

/// `kroll upgrade --to 7.7.1 --yes <extra> --runs <lab>/runs` + the fast timeouts.
fn upgrade(lab: &TestLab, extra: &[&str]) -> std::process::Output {
    let runs = lab.handle.dir.join("runs").display().to_string();
    let mut args = vec!["upgrade", "--to", "7.7.1", "--yes", "--runs", runs.as_str()];
    args.extend(extra);
    args.extend(FAST);
    kroll(&lab.handle.inventory, &args)
}

fn inventory(lab: &TestLab) -> &Path {
    &lab.handle.inventory
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_pass_upgrade_resumes_every_connector_on_its_migrated_config_and_restores_compatibility()
 {
    let lab = TestLab::up_custom("onepass", |o| {
        o.services = Services::Full;
        o.swarm = true;
        o.security = Security::Sasl;
    })
    .await;
    assert!(
        lab.handle.rest_auth.is_some(),
        "Connect, Schema Registry and the REST proxy require basic auth"
    );
    let (connect_access, registry_access) = (
        lab.rest_access("[connect]"),
        lab.rest_access("[schema_registry]"),
    );
    assert_eq!(connect_access.user(), Some("kroll"));
    let name = lab.name().to_owned();
    let swarm = SwarmState::load(&lab.handle.dir)
        .expect("swarm.json")
        .expect("a Swarm lab records its machines");
    let manager = swarm.layout.docker_host(1);
    let repository = kroll_lab::swarm::repository(&swarm.layout);
    kroll_tests::push_to_swarm_lab("7.7.1", &name, &lab.handle.dir);
    let connect = lab.handle.connect[0].clone();
    let registry = lab.registry_url();
    let observer = Observer::start_swarm(&lab.handle, &swarm).await;
    let began = std::time::Instant::now();
    let out = upgrade(&lab, &["--allow-incompatible-values"]);
    let seen = observer.stop().await;
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "one pass, finished:\n{said}");
    eprintln!(
        "[onepass] full Swarm lab upgraded in {:.0} s",
        began.elapsed().as_secs_f64()
    );
    assert_two_safe_rolls(&seen);
    redeploy_changes_nothing(
        &manager,
        &swarm.stack_file,
        &name,
        &repository,
        "the stack file kroll kept",
    );
    assert!(
        said.contains("resumed 4"),
        "every connector kroll halted:\n{said}"
    );
    for s in kroll_lab::seed::sources() {
        let tasks = get(&connect, &connect_access, &["connectors", &s.name, "tasks"]).await;
        let configs = tasks.as_array().expect("task list");
        assert!(!configs.is_empty(), "{}: tasks {tasks}", s.name);
        for t in configs {
            assert_eq!(
                t["config"]["topic.prefix"], s.name,
                "{}: the task runs the migrated config: {t}",
                s.name
            );
            assert!(
                t["config"].get("database.server.name").is_none(),
                "{}: no 1.9 key left in the task config: {t}",
                s.name
            );
            assert_eq!(
                t["config"]["value.converter.basic.auth.user.info"],
                kroll_lab::rest_auth::user_info_variable(),
                "{}: the converters still log in to Schema Registry through the workers' secret: {t}",
                s.name
            );
        }
        for name in [&s.name, &s.sink] {
            let status = get(&connect, &connect_access, &["connectors", name, "status"]).await;
            assert_eq!(status["connector"]["state"], "RUNNING", "{name}: {status}");
            let tasks = status["tasks"].as_array().expect("tasks");
            assert!(
                !tasks.is_empty() && tasks.iter().all(|t| t["state"] == "RUNNING"),
                "{name}: every task RUNNING: {status}"
            );
        }
    }
    // Every value subject's level is back: none is left with a subject-level NONE (a subject
    // without a level of its own answers 404; a refusal fails the test).
    for subject in kroll_lab::seed::subjects() {
        match call_as(
            &registry,
            &registry_access,
            Method::GET,
            &["config", &subject],
            None,
        )
        .await
        {
            Ok(v) => assert_ne!(
                v["compatibilityLevel"], "NONE",
                "{subject} left at NONE: {v}"
            ),
            Err(e) => assert!(
                matches!(e.failure(), RestFailure::Status { status: 404, .. }),
                "{subject}: {e}"
            ),
        }
    }
    let remedy: Value = std::fs::read_dir(lab.handle.dir.join("runs"))
        .expect("runs")
        .filter_map(|e| e.ok())
        .find_map(|e| std::fs::read(e.path().join("connect/value-remedy.json")).ok())
        .map(|b| serde_json::from_slice(&b).expect("remedy JSON"))
        .expect("the run opened the value remedy (the 3.0 envelopes are incompatible)");
    let subjects = remedy["subjects"].as_array().expect("subjects");
    assert!(!subjects.is_empty(), "{remedy}");
    assert!(
        subjects.iter().all(|s| s["closed_with"].is_i64()),
        "every subject registered and was put back: {remedy}"
    );
    let status = kroll(inventory(&lab), &["status"]);
    let shown = text(&status);
    assert_eq!(
        status.status.code(),
        Some(0),
        "healthy after the upgrade:\n{shown}"
    );
    assert!(
        shown.contains("Connect: 5/5 workers answering")
            && shown.contains("Schema Registry: answering"),
        "kroll logged in to both:\n{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_connect_upgrade_fails_its_post_checks_naming_the_failed_debezium_tasks() {
    let lab = TestLab::up("skipc", Services::Full, true).await;
    kroll_tests::lab_platform_images("7.7.1").await;
    let out = upgrade(&lab, &["--skip-connect"]);
    let said = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the post-checks must fail: the 1.9 sources cannot run on Debezium 3.0:\n{said}"
    );
    for s in kroll_lab::seed::sources() {
        assert!(
            said.contains(&format!(
                "Connect task {}-0 is FAILED on worker connect-0",
                s.name
            )),
            "{} named with its worker:\n{said}",
            s.name
        );
    }
    assert!(
        said.contains("Error configuring an instance of MySqlConnectorTask")
            && said.contains("kroll connectors migrate"),
        "the error's first line and the way out:\n{said}"
    );
    let status = kroll(inventory(&lab), &["status"]);
    let shown = text(&status);
    assert_eq!(
        status.status.code(),
        Some(3),
        "status sees the failed tasks:\n{shown}"
    );
    for s in kroll_lab::seed::sources() {
        assert!(
            shown.contains(&format!("Connect task {}-0 is FAILED", s.name)),
            "{}:\n{shown}",
            s.name
        );
    }
    assert!(
        shown.contains("5/5 workers answering") && !shown.contains("— OK"),
        "{shown}"
    );
}
