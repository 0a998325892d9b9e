//! `kroll backup` → destructive changes → `kroll restore` against the lab's real Connect worker
//! and Schema Registry: identical connector configs and subject versions come back, and what
//! cannot come back exactly is reported.

use std::process::Command;

use serde_json::{Value, json};

use super::clients::dbz30;
use super::poll;
use kroll_tests::hostlab::cluster::{inventory, schema_registry, worker};
use kroll_tests::hostlab::{LabHome, Method, call};

const V: [&str; 3] = [
    r#"{"type":"record","name":"A","fields":[{"name":"id","type":"long"}]}"#,
    r#"{"type":"record","name":"A","fields":[{"name":"id","type":"long"},{"name":"x","type":["null","string"],"default":null}]}"#,
    r#"{"type":"record","name":"A","fields":[{"name":"id","type":"long"},{"name":"x","type":["null","string"],"default":null},{"name":"y","type":["null","long"],"default":null}]}"#,
];

fn kroll(inventory: &std::path::Path, args: &[&str]) -> (i32, String, String) {
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

/// Every live version of `subject` as (version, id, schema).
async fn versions(sr: &str, subject: &str) -> Vec<(i64, i64, String)> {
    let Ok(list) = call(sr, Method::GET, &["subjects", subject, "versions"], None).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in list.as_array().expect("list") {
        let v = v.as_i64().expect("number").to_string();
        let doc = call(
            sr,
            Method::GET,
            &["subjects", subject, "versions", &v],
            None,
        )
        .await
        .expect("version");
        out.push((
            doc["version"].as_i64().expect("v"),
            doc["id"].as_i64().expect("id"),
            doc["schema"].as_str().expect("schema").to_owned(),
        ));
    }
    out
}

async fn register(sr: &str, subject: &str, schema: &str) {
    call(
        sr,
        Method::POST,
        &["subjects", subject, "versions"],
        Some(json!({ "schema": schema })),
    )
    .await
    .expect("register");
}

#[tokio::test]
async fn restore_after_destruction_gives_back_identical_configs_and_versions() {
    let home = LabHome::new("7.7.1");
    let sr = schema_registry(&home);
    let w = worker(&home, "connect-01", &home.dir("cluster"), &sr.url, None);
    let inv = inventory(home.root.path(), &[&w], &sr, None);
    for name in ["orders", "held"] {
        call(
            &w.url,
            Method::POST,
            &["connectors"],
            Some(json!({"name": name, "config": dbz30(name, &format!("{name}-db"), name)})),
        )
        .await
        .expect("create");
    }
    call(&w.url, Method::PUT, &["connectors", "held", "pause"], None)
        .await
        .expect("pause");
    let sink = json!({"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "orders-db.shop.orders", "connection.url": "jdbc:postgresql://dwh/dwh"});
    call(
        &w.url,
        Method::PUT,
        &["connectors", "dwh-sink", "config"],
        Some(sink),
    )
    .await
    .expect("sink");
    for schema in V {
        register(&sr.url, "a-value", schema).await;
    }
    register(&sr.url, "b-value", V[0]).await;
    register(&sr.url, "b-value", V[1]).await;
    call(
        &sr.url,
        Method::PUT,
        &["config", "a-value"],
        Some(json!({"compatibility": "FULL"})),
    )
    .await
    .expect("level");
    poll("the connectors' key schemas", async || {
        Some(versions(&sr.url, "orders-db.shop.orders-key").await).filter(|v| !v.is_empty())
    })
    .await;
    let a_before = versions(&sr.url, "a-value").await;
    let dir = home.root.path().join("backup");
    let (code, out, err) = kroll(&inv, &["backup", "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Backed up 3 connector(s)"), "{out}");
    let backup = kroll::backup::load(&dir).expect("load the backup");

    // Destruction: a connector deleted, a config changed, a subject soft+hard deleted, one soft
    // deleted, the global level changed.
    call(&w.url, Method::DELETE, &["connectors", "orders"], None)
        .await
        .expect("delete connector");
    call(&w.url, Method::PUT, &["connectors", "dwh-sink", "config"], Some(json!({"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "x", "connection.url": "jdbc:postgresql://other/dwh"}))).await.expect("change");
    call(&sr.url, Method::DELETE, &["subjects", "a-value"], None)
        .await
        .expect("soft delete");
    let hard =
        kroll::rest::Call::new(Method::DELETE, &["subjects", "a-value"]).query("permanent", "true");
    kroll_tests::hostlab::raw(&sr.url)
        .send(&hard)
        .await
        .expect("hard delete");
    call(&sr.url, Method::DELETE, &["subjects", "b-value"], None)
        .await
        .expect("soft delete b");
    call(
        &sr.url,
        Method::PUT,
        &["config"],
        Some(json!({"compatibility": "NONE"})),
    )
    .await
    .expect("global");

    let (code, out, err) = kroll(
        &inv,
        &[
            "restore",
            "--from",
            dir.to_str().expect("utf-8"),
            "--dry-run",
        ],
    );
    assert_eq!(code, 3, "b-value's numbers cannot come back: {out}{err}");
    assert!(
        out.contains("orders: recreate (RUNNING)") && out.contains("a-value: v1"),
        "{out}"
    );
    assert!(
        call(&w.url, Method::GET, &["connectors", "orders"], None)
            .await
            .is_err(),
        "the dry run created nothing"
    );
    assert!(
        versions(&sr.url, "a-value").await.is_empty(),
        "the dry run registered nothing"
    );

    let (code, out, err) = kroll(
        &inv,
        &[
            "--output",
            "json",
            "restore",
            "--from",
            dir.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 3, "{out}{err}");
    let report: Value = serde_json::from_str(&out).expect("json report");
    for c in &backup.connectors {
        let now = call(
            &w.url,
            Method::GET,
            &["connectors", &c.name, "config"],
            None,
        )
        .await
        .expect("config");
        let now: kroll_migrate::Config = serde_json::from_value(now).expect("config map");
        assert_eq!(now, c.config, "connector {} is back as it was", c.name);
    }
    poll("orders running again", async || {
        let s = call(
            &w.url,
            Method::GET,
            &["connectors", "orders", "status"],
            None,
        )
        .await
        .ok()?;
        (s["connector"]["state"] == "RUNNING").then_some(())
    })
    .await;
    let held = call(&w.url, Method::GET, &["connectors", "held", "status"], None)
        .await
        .expect("held");
    assert_eq!(
        held["connector"]["state"], "PAUSED",
        "restore leaves existing states alone"
    );
    assert_eq!(
        versions(&sr.url, "a-value").await,
        a_before,
        "identical versions, ids and schemas"
    );
    assert_eq!(
        call(&sr.url, Method::GET, &["config", "a-value"], None)
            .await
            .expect("level")["compatibilityLevel"],
        "FULL"
    );
    assert_eq!(
        call(&sr.url, Method::GET, &["config"], None)
            .await
            .expect("global")["compatibilityLevel"],
        "BACKWARD"
    );
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().all(|p| p.starts_with("b-value v"))
            && problems[0].contains("came back as v3"),
        "{problems:?}"
    );
    let b = versions(&sr.url, "b-value").await;
    assert_eq!(
        b.iter().map(|v| v.0).collect::<Vec<_>>(),
        [3, 4],
        "soft-deleted numbers stay taken"
    );
    let ids_before: Vec<i64> = backup
        .registry
        .subjects
        .iter()
        .find(|s| s.subject == "b-value")
        .expect("b")
        .versions
        .iter()
        .map(|v| i64::from(v.id))
        .collect();
    assert_eq!(
        b.iter().map(|v| v.1).collect::<Vec<_>>(),
        ids_before,
        "the ids do come back"
    );
}
