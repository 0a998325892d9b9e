//! The upgrade's Connect phases (`UpgradeConnect`) around a real 7.1 → 7.7 worker swap: back up
//! and quiesce (pause: 7.1 knows nothing else), then migrate, resume and verify the key ids.

use std::time::Duration;

use kroll::connect::migrate::MigrateRequest;
use kroll::migration::MigrateSettings;
use kroll::upgrade::connect_phases::UpgradeConnect;
use kroll_shared::inventory::Inventory;
use kroll_tests::hostlab::cluster::{HostKafka, inventory, schema_registry, worker};
use kroll_tests::hostlab::{LabHome, Method, call};
use serde_json::json;

use super::migrate::ct19;
use super::poll;

async fn state(w: &str, name: &str) -> String {
    let s = call(w, Method::GET, &["connectors", name, "status"], None)
        .await
        .expect("status");
    format!(
        "{} {}",
        s["connector"]["state"].as_str().unwrap_or("?"),
        s["tasks"][0]["state"].as_str().unwrap_or("-")
    )
}

async fn key_id(sr: &str) -> Option<i64> {
    let subject = "ct.digikala_fulfillment.receipts-key";
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

#[tokio::test]
async fn the_upgrade_phases_pause_on_71_then_migrate_resume_and_keep_key_ids() {
    let (home71, home77) = (LabHome::new("7.1.1"), LabHome::new("7.7.1"));
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
    call(
        &w71.url,
        Method::PUT,
        &["connectors", "ct-receipts", "config"],
        Some(ct19("ct-receipts", "receipts", &kafka.bootstrap)),
    )
    .await
    .expect("1.9 source");
    let sink = json!({"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "ct.digikala_fulfillment.receipts", "connection.url": "jdbc:postgresql://dwh/dwh", "lab.records.per.second": "500"});
    call(
        &w71.url,
        Method::PUT,
        &["connectors", "dwh", "config"],
        Some(sink),
    )
    .await
    .expect("sink");
    let before = poll("the 1.9 key schema", async || key_id(&sr.url).await).await;
    let inv = Inventory::load(&inventory(
        home71.root.path(),
        &[&w71],
        &sr,
        Some(&kafka.bootstrap),
    ))
    .expect("inventory");
    let run = home77.root.path().join("run");
    let phases = UpgradeConnect::from_inventory(&inv, None).expect("phases");
    let summary = phases
        .quiesce_phase(&run, &kroll::progress::quiet)
        .await
        .expect("quiesce phase");
    assert!(
        summary.starts_with("2 connector(s) halted by kroll (pause)"),
        "{summary}"
    );
    assert!(
        run.join("connect/backup/manifest.json").exists()
            && run.join("connect/quiesce.json").exists()
    );
    assert_eq!(
        [
            state(&w71.url, "ct-receipts").await,
            state(&w71.url, "dwh").await
        ],
        ["PAUSED PAUSED", "PAUSED PAUSED"]
    );

    // The roll: the 7.1 worker goes, a 7.7 one (Debezium 3.0) takes over the same cluster.
    w71.proc.terminate();
    let w77 = worker(
        &home77,
        "connect-77",
        &cluster,
        &sr.url,
        Some(&kafka.bootstrap),
    );
    let inv = Inventory::load(&inventory(
        home77.root.path(),
        &[&w77],
        &sr,
        Some(&kafka.bootstrap),
    ))
    .expect("inventory");
    let settings = MigrateSettings {
        request: MigrateRequest {
            server_id: Some(5400),
            ..MigrateRequest::default()
        },
        allow_incompatible_values: true,
        dry_run: false,
    };
    let mut phases = UpgradeConnect::from_inventory(&inv, Some(settings)).expect("phases");
    phases.drift.produce_timeout = Duration::from_secs(40);
    let resumed = phases
        .resume_phase(&run, &kroll::progress::quiet)
        .await
        .expect("resume phase");
    // Migrated while paused, its tasks still had the 1.9 config: stopped first, so that they
    // start on the migrated one.
    assert_eq!(
        resumed.to_string(),
        "migrated 1; resumed 2 (1 stopped first: ct-receipts — their tasks still had the old config); key schema ids unchanged on 1 topic(s), 0 not verified yet"
    );
    let tasks = call(
        &w77.url,
        Method::GET,
        &["connectors", "ct-receipts", "tasks"],
        None,
    )
    .await
    .expect("tasks");
    assert_eq!(
        tasks[0]["config"]["topic.prefix"], "ct-digikala_fulfillment-slave",
        "the task runs the migrated config: {tasks}"
    );
    assert!(
        tasks[0]["config"].get("database.server.name").is_none(),
        "{tasks}"
    );
    assert_eq!(
        [
            state(&w77.url, "ct-receipts").await,
            state(&w77.url, "dwh").await
        ],
        ["RUNNING RUNNING", "RUNNING RUNNING"]
    );
    assert_eq!(
        key_id(&sr.url).await,
        Some(before),
        "the guard kept the key schema id"
    );
    // Running the phase again (an interrupted upgrade resumed) changes nothing and still passes.
    let again = phases
        .resume_phase(&run, &kroll::progress::quiet)
        .await
        .expect("again")
        .to_string();
    assert!(again.starts_with("migrated 0; resumed 2;"), "{again}");
}
