//! `kroll connectors migrate` on the journal's upgrade: Debezium 1.9 CT connectors with a dashed
//! topic prefix run on a 7.1 worker against real lab brokers, the worker is replaced by a 7.7
//! one (Debezium 3.0: the stored 1.9 configs fail), and kroll migrates them.

use std::path::Path;
use std::process::Command;

use kroll_migrate::Config;
use serde_json::{Value, json};

use super::poll;
use kroll_tests::hostlab::cluster::{HostKafka, Service, inventory, schema_registry, worker};
use kroll_tests::hostlab::{LabHome, Method, call};

const PREFIX: &str = "ct-digikala_fulfillment-slave";

fn kroll(inventory: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(kroll_tests::bin("kroll"))
        .arg("--inventory")
        .arg(inventory)
        .args(args)
        .output()
        .expect("run kroll");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A Debezium 1.9 CT connector as the journal's production ones (no server id: 1.9 picked one).
pub(super) fn ct19(name: &str, table: &str, bootstrap: &str) -> Value {
    json!({
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "tasks.max": "1",
        "database.hostname": "mysql-slave",
        "database.port": "3306",
        "database.user": "debezium",
        "database.password": "secret",
        "database.server.name": PREFIX,
        "database.include.list": "digikala_fulfillment",
        "table.include.list": format!("digikala_fulfillment.{table}"),
        "database.history.kafka.bootstrap.servers": bootstrap,
        "database.history.kafka.topic": format!("dbhistory.{name}"),
        "acks": "all",
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "([^.]+)\\.([^.]+)\\.([^.]+)",
        "transforms.route.replacement": "ct.$2.$3",
        "lab.table.rows": "5",
        "lab.events.per.second": "10",
    })
}

async fn latest_id(sr: &str, subject: &str) -> Option<i64> {
    call(
        sr,
        Method::GET,
        &["subjects", subject, "versions", "latest"],
        None,
    )
    .await
    .ok()?["id"]
        .as_i64()
}

async fn version_count(sr: &str, subject: &str) -> usize {
    call(sr, Method::GET, &["subjects", subject, "versions"], None)
        .await
        .map_or(0, |v| v.as_array().map_or(0, Vec::len))
}

async fn config(w: &str, name: &str) -> Config {
    serde_json::from_value(
        call(w, Method::GET, &["connectors", name, "config"], None)
            .await
            .expect("config"),
    )
    .expect("map")
}

async fn task_state(w: &str, name: &str) -> String {
    let s = call(w, Method::GET, &["connectors", name, "status"], None)
        .await
        .expect("status");
    s["tasks"][0]["state"]
        .as_str()
        .unwrap_or("NO_TASKS")
        .to_owned()
}

/// 1.9 connectors producing on a 7.1 worker, then the worker replaced by a 7.7 one.
struct Upgraded {
    home77: LabHome,
    _home71: LabHome,
    _kafka: HostKafka,
    sr: Service,
    w: Service,
    inv: std::path::PathBuf,
}

async fn upgraded_lab(tables: &[&str]) -> Upgraded {
    let home71 = LabHome::new("7.1.1");
    let home77 = LabHome::new("7.7.1");
    let kafka = HostKafka::start(&home77, 1, "3.7.1");
    let sr = schema_registry(&home77);
    let cluster = home77.dir("connect-cluster");
    let mut w71 = worker(
        &home71,
        "connect-71",
        &cluster,
        &sr.url,
        Some(&kafka.bootstrap),
    );
    for t in tables {
        let name = format!("ct-{t}");
        call(
            &w71.url,
            Method::PUT,
            &["connectors", &name, "config"],
            Some(ct19(&name, t, &kafka.bootstrap)),
        )
        .await
        .expect("1.9 connector");
    }
    for t in tables {
        let subject = format!("ct.digikala_fulfillment.{t}-key");
        poll(&format!("{subject} registered by 1.9"), async || {
            latest_id(&sr.url, &subject).await
        })
        .await;
    }
    w71.proc.terminate();
    let w = worker(
        &home77,
        "connect-77",
        &cluster,
        &sr.url,
        Some(&kafka.bootstrap),
    );
    for t in tables {
        let name = format!("ct-{t}");
        poll(
            &format!("{name} FAILED on 7.7 with its 1.9 config"),
            async || (task_state(&w.url, &name).await == "FAILED").then_some(()),
        )
        .await;
    }
    let inv = inventory(home77.root.path(), &[&w], &sr, Some(&kafka.bootstrap));
    Upgraded {
        home77,
        _home71: home71,
        _kafka: kafka,
        sr,
        w,
        inv,
    }
}

#[tokio::test]
async fn the_guard_keeps_every_key_schema_id_and_without_it_kroll_names_the_drift() {
    let lab = upgraded_lab(&["receipts", "shipments"]).await;
    let (sr, w) = (&lab.sr.url, &lab.w.url);
    let receipts_key = "ct.digikala_fulfillment.receipts-key";
    let shipments_key = "ct.digikala_fulfillment.shipments-key";
    let ids_before = (
        latest_id(sr, receipts_key).await,
        latest_id(sr, shipments_key).await,
    );
    let configs_before = config(w, "ct-receipts").await;
    let run = |name: &str| lab.home77.root.path().join(name).display().to_string();

    // `connectors status` shows the 1.9 configs failing on the 7.7 worker (exit 3).
    let (code, out, err) = kroll(&lab.inv, &["connectors", "status"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains("ct-receipts task 0 FAILED: ")
            && out.contains(
                "Recommendation: ct-receipts, ct-shipments run without producer idempotence"
            ),
        "{out}"
    );

    // --dry-run shows the diff and changes nothing; without the opt-in the 409 is refused.
    let (code, out, err) = kroll(
        &lab.inv,
        &["connectors", "migrate", "--dry-run", "--server-id", "5400"],
    );
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        &format!("- database.server.name={PREFIX}"),
        &format!("+ topic.prefix={PREFIX}"),
        "+ schema.name.adjustment.mode=avro",
        "+ database.server.id=5401",
        "- acks=all",
    ] {
        assert!(
            out.contains(line),
            "{line:?} missing from the dry run:\n{out}"
        );
    }
    let (code, out, err) = kroll(
        &lab.inv,
        &[
            "connectors",
            "migrate",
            "--server-id",
            "5400",
            "--run-dir",
            &run("refused"),
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("ct.digikala_fulfillment.receipts-value")
            && err.contains("--allow-incompatible-values"),
        "{err}"
    );
    assert_eq!(
        config(w, "ct-receipts").await,
        configs_before,
        "refused: nothing changed"
    );

    // With the guard: the key subject keeps its id; the value subject registers under NONE.
    let (code, out, err) = kroll(
        &lab.inv,
        &[
            "connectors",
            "migrate",
            "--only",
            "ct-receipts",
            "--server-id",
            "5400",
            "--allow-incompatible-values",
            "--run-dir",
            &run("guarded"),
            "--verify-timeout",
            "40s",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "key schema ids unchanged on 1 topic(s); not verified yet (no new records): 0"
        ),
        "{out}"
    );
    assert_eq!(task_state(w, "ct-receipts").await, "RUNNING");
    let (code, out, _) = kroll(&lab.inv, &["--output", "json", "connectors", "status"]);
    let status: Value = serde_json::from_str(&out).expect("status json");
    assert_eq!(
        status["connectors"]["ct-receipts"]["status"]["connector"]["state"],
        "RUNNING"
    );
    assert_eq!(code, 3, "ct-shipments still fails with its 1.9 config");
    assert_eq!(
        (
            latest_id(sr, receipts_key).await,
            version_count(sr, receipts_key).await
        ),
        (ids_before.0, 1)
    );
    assert_eq!(
        version_count(sr, "ct.digikala_fulfillment.receipts-value").await,
        2,
        "the 3.0 envelope registered"
    );
    let level = call(
        sr,
        Method::GET,
        &["config", "ct.digikala_fulfillment.receipts-value"],
        None,
    )
    .await;
    assert_eq!(
        level.map_err(|e| e.status()),
        Err(Some(404)),
        "the subject is back at the global level"
    );
    for file in ["key-ids.json", "value-remedy.json", "migration.json"] {
        assert!(Path::new(&run("guarded")).join(file).exists(), "{file}");
    }

    // Without the guard (a lab rehearsal of the journal): the key id changes and kroll says so.
    let (code, out, err) = kroll(
        &lab.inv,
        &[
            "connectors",
            "migrate",
            "--only",
            "ct-shipments",
            "--server-id",
            "5400",
            "--allow-incompatible-values",
            "--no-schema-name-guard",
            "--run-dir",
            &run("unguarded"),
            "--verify-timeout",
            "40s",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let after = latest_id(sr, shipments_key).await;
    assert_ne!(after, ids_before.1, "the journal's drift happened");
    let named = format!(
        "ct.digikala_fulfillment.shipments (connector ct-shipments, subject {shipments_key}): id {} → {}",
        ids_before.1.unwrap_or(-1),
        after.unwrap_or(-1)
    );
    assert!(
        err.contains("key schema drift: 1 topic(s)") && err.contains(&named),
        "{err}"
    );
    assert!(
        err.contains("sampled keys move to another of 3 partitions"),
        "{err}"
    );
    assert!(
        !err.contains("receipts"),
        "only the drifted topic is named: {err}"
    );
    assert_eq!(
        config(w, "ct-shipments")
            .await
            .get("database.server.id")
            .map(String::as_str),
        Some("5401"),
        "5400 is ct-receipts'"
    );
}

#[tokio::test]
async fn a_config_connect_refuses_blocks_every_apply_and_changes_nothing() {
    let home = LabHome::new("7.1.1");
    let sr = schema_registry(&home);
    let w = worker(&home, "connect-01", &home.dir("cluster"), &sr.url, None);
    for t in ["receipts", "shipments"] {
        let name = format!("ct-{t}");
        call(
            &w.url,
            Method::PUT,
            &["connectors", &name, "config"],
            Some(ct19(&name, t, "127.0.0.1:1")),
        )
        .await
        .expect("1.9 connector");
    }
    let inv = inventory(home.root.path(), &[&w], &sr, None);
    let before = (
        config(&w.url, "ct-receipts").await,
        config(&w.url, "ct-shipments").await,
    );
    let run = home.root.path().join("run");
    let (code, out, err) = kroll(
        &inv,
        &[
            "connectors",
            "migrate",
            "--server-id",
            "9",
            "--allow-incompatible-values",
            "--run-dir",
            run.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    for part in [
        "Connect refuses the migrated config(s)",
        "ct-receipts (io.debezium.connector.mysql.MySqlConnector",
        "database.server.name: The 'database.server.name' value is invalid: A value is required",
        "hint: a worker runs Kafka 3.1.1",
        "nothing was changed",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert_eq!(
        (
            config(&w.url, "ct-receipts").await,
            config(&w.url, "ct-shipments").await
        ),
        before
    );
    assert!(!run.exists(), "no backup, no record: nothing was touched");
}
