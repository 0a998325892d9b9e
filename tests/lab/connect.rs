//! Connect workers beside a full lab's own Connect cluster (their own group, so the lab's
//! connectors are not touched): a 7.7.1 worker meeting Debezium 1.9 configs and the key-schema
//! drift of the journal, and a worker pushed past its heap.

use std::time::Duration;

use kroll_lab::http::{Http, Method};
use kroll_lab::images::{BrokerBinary, ensure_platform};
use kroll_lab::topology::Platform;
use serde_json::{Value, json};

use super::{TestLab, container_logs, free_port, poll};

const MINUTE: Duration = Duration::from_secs(60);

/// Starts `<lab>-<service>`, a Connect worker of `version` in group `<service>` with `heap`,
/// on the lab's network and a free host port; returns its URL once it answers.
async fn extra_worker(lab: &TestLab, version: &str, service: &str, heap: &str) -> String {
    let d = kroll_tests::docker().await;
    let platform = Platform::find(version).expect("platform");
    let broker = BrokerBinary::beside_this_executable().expect("kroll-lab-broker built");
    ensure_platform(&d, &lab.handle.spec.registry, platform, &broker)
        .await
        .expect("images");
    let spec = lab.handle.spec.at_version(platform);
    let mut c = spec.container("connect-05").expect("connect-05");
    c.name = format!("{}-{service}", lab.name());
    c.service = service.to_owned();
    c.mounts.clear();
    let port = free_port();
    c.ports = vec![(8083, port)];
    for (key, value) in [
        ("GROUP_ID", service),
        ("ADVERTISED_HOST_NAME", service),
        ("HEAP_OPTS", heap),
        ("CONNECT_GROUP_ID", service),
        ("CONNECT_REST_ADVERTISED_HOST_NAME", service),
        ("KAFKA_HEAP_OPTS", heap),
    ] {
        if let Some(v) = c.env.get_mut(key) {
            *v = value.to_owned();
        }
    }
    kroll_lab::docker::recreate(&d, &c, &spec.network())
        .await
        .expect("start the extra worker");
    let url = format!("http://127.0.0.1:{port}");
    let http = Http::new().expect("http");
    let (h, u) = (&http, &url);
    poll(
        &format!("worker {service} to answer"),
        3 * MINUTE,
        async || match h.get(u).await? {
            (200, body) => Ok(body),
            (s, body) => Err(format!("{s} {body}")),
        },
    )
    .await;
    url
}

/// A Debezium 1.9 CT connector (dashed server name `ct-<db>-slave`) over `<db>.receipts`,
/// routed to `ct.<db>.receipts`; `rows` snapshot rows each of `row_bytes` heap.
fn config_19(lab: &TestLab, db: &str, rows: u32, row_bytes: u32) -> Value {
    let name = format!("ct-{db}-slave");
    json!({
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "tasks.max": "1",
        "database.hostname": "mysql",
        "database.port": "3306",
        "database.user": "debezium",
        "database.password": "lab",
        "database.server.id": "12332101",
        "database.server.name": name,
        "database.include.list": db,
        "table.include.list": format!("{db}.receipts"),
        "database.history.kafka.bootstrap.servers": lab.handle.spec.internal_bootstrap(),
        "database.history.kafka.topic": format!("dbhistory.{name}"),
        "snapshot.mode": "initial",
        "lab.table.rows": rows.to_string(),
        "lab.record.bytes": row_bytes.to_string(),
        "lab.events.per.second": "0",
        "key.converter": "io.confluent.connect.avro.AvroConverter",
        "key.converter.schema.registry.url": "http://schema-registry:8081",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": "http://schema-registry:8081",
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "([^.]+)\\.([^.]+)\\.([^.]+)",
        "transforms.route.replacement": "ct.$2.$3",
    })
}

async fn put_config(http: &Http, worker: &str, name: &str, config: &Value) -> (u16, Value) {
    http.send(
        Method::PUT,
        &format!("{worker}/connectors/{name}/config"),
        config,
    )
    .await
    .expect("PUT config")
}

async fn wait_running(http: &Http, worker: &str, name: &str) {
    kroll_lab::ready::connector_running(http, worker, name, 2 * MINUTE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `(id, version count)` of the latest schema of `subject`, once it exists.
async fn latest(http: &Http, registry: &str, subject: &str) -> (i64, usize, Value) {
    let url = format!("{registry}/subjects/{subject}/versions");
    let (h, u) = (http, &url);
    let versions = poll(
        &format!("subject {subject}"),
        2 * MINUTE,
        async || match h.get(u).await? {
            (200, v) => Ok(v.as_array().map_or(0, Vec::len)),
            (s, b) => Err(format!("{s} {b}")),
        },
    )
    .await;
    let (_, body) = http.get(&format!("{url}/latest")).await.expect("latest");
    (body["id"].as_i64().expect("id"), versions, body)
}

/// The 1.9 connector on the lab's 7.1.1 cluster registers its schemas, then is deleted.
async fn register_with_19(lab: &TestLab, http: &Http, db: &str) -> (i64, i64) {
    let worker = &lab.handle.connect[0];
    let registry = lab.handle.schema_registry.clone().expect("registry");
    let name = format!("ct-{db}-slave");
    let (s, b) = put_config(http, worker, &name, &config_19(lab, db, 5, 0)).await;
    assert!(s == 201 || s == 200, "{s} {b}");
    let (id, versions, _) = latest(http, &registry, &format!("ct.{db}.receipts-key")).await;
    assert_eq!(versions, 1);
    let topic = format!("ct.{db}.receipts");
    let b = &lab.handle.bootstrap;
    let produced = poll("the 1.9 snapshot", MINUTE, async || {
        let n = kroll_lab::kafka::end_offsets_total(b, &topic).await?;
        if n >= 5 {
            Ok(n)
        } else {
            Err(format!("{n} records"))
        }
    })
    .await;
    let (s, b) = http
        .send(
            Method::DELETE,
            &format!("{worker}/connectors/{name}"),
            &Value::Null,
        )
        .await
        .expect("delete");
    assert_eq!(s, 204, "{b}");
    // The 3.0 envelope is not BACKWARD compatible with 1.9's (409): let its value register,
    // as the brief's cure does, so only the key subject decides.
    let url = format!("{registry}/config/{topic}-value");
    let (s, b) = http
        .send(Method::PUT, &url, &json!({"compatibility": "NONE"}))
        .await
        .expect("config");
    assert_eq!(s, 200, "{b}");
    (id, produced)
}

/// 7.7.1 refuses a 1.9 config with Debezium's text; migrated by kroll-migrate it runs; the
/// key subject keeps its id with `schema.name.adjustment.mode=avro` and gets a new one with
/// `none` and the dashed prefix.
pub async fn a_7_7_worker_and_the_key_schema_drift(lab: &TestLab) {
    let http = Http::new().expect("http");
    let (w77, (avro_id, avro_produced), (none_id, _)) = tokio::join!(
        extra_worker(lab, "7.7.1", "connect-77", "-Xms32M -Xmx256M"),
        register_with_19(lab, &http, "t77a_fulfillment"),
        register_with_19(lab, &http, "t77b_fulfillment"),
    );
    let (_, version) = http.get(&w77).await.expect("GET /");
    assert_eq!(version["version"], "7.7.1-ccs", "{version}");

    let old = config_19(lab, "t77a_fulfillment", 5, 0);
    let (s, body) = put_config(&http, &w77, "ct-t77a_fulfillment-slave", &old).await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body.to_string()
            .contains("The 'topic.prefix' value is invalid: A value is required"),
        "{body}"
    );

    let registered = [
        ("t77a_fulfillment", "avro", avro_id, avro_produced),
        ("t77b_fulfillment", "none", none_id, 0),
    ];
    for (db, mode, id19, produced19) in registered {
        run_migrated(lab, &http, &w77, db, mode, (id19, produced19)).await;
    }
}

/// Migrates the 1.9 config of `db` with kroll-migrate, forces `schema.name.adjustment.mode`
/// to `mode`, runs it on the 7.7.1 worker and checks the key subject against the 1.9 id.
async fn run_migrated(
    lab: &TestLab,
    http: &Http,
    w77: &str,
    db: &str,
    mode: &str,
    (id19, produced19): (i64, i64),
) {
    let registry = lab.handle.schema_registry.clone().expect("registry");
    let v19 =
        kroll_migrate::config_from_json(&config_19(lab, db, 5, 0).to_string()).expect("config");
    let m = kroll_migrate::migrate_connector(&v19, &kroll_migrate::MigrateOptions::default());
    assert!(!m.is_blocked(), "{:?}", m.findings);
    assert_eq!(
        m.config["schema.name.adjustment.mode"], "avro",
        "kroll-migrate guards the names"
    );
    let mut cfg = m.config.clone();
    cfg.insert("schema.name.adjustment.mode".into(), mode.into());
    let name = format!("ct-{db}-slave");
    let (s, b) = put_config(http, w77, &name, &json!(cfg)).await;
    assert!(s == 201 || s == 200, "{s} {b}");
    wait_running(http, w77, &name).await;
    let subject = format!("ct.{db}.receipts-key");
    if mode == "avro" {
        let topic = format!("ct.{db}.receipts");
        let b = &lab.handle.bootstrap;
        poll("the 3.0 snapshot to be produced", 2 * MINUTE, async || {
            let n = kroll_lab::kafka::end_offsets_total(b, &topic).await?;
            if n > produced19 {
                Ok(())
            } else {
                Err(format!("{n} records"))
            }
        })
        .await;
        let (id, versions, _) = latest(http, &registry, &subject).await;
        assert_eq!((id, versions), (id19, 1), "avro mode keeps the key schema");
    } else {
        let url = format!("{registry}/subjects/{subject}/versions");
        let u = &url;
        poll(
            "a second key schema version",
            2 * MINUTE,
            async || match http.get(u).await? {
                (200, v) if v.as_array().map_or(0, Vec::len) == 2 => Ok(()),
                (s, v) => Err(format!("{s} {v}")),
            },
        )
        .await;
        let (id, _, body) = latest(http, &registry, &subject).await;
        assert_ne!(
            id, id19,
            "none + dashed prefix must give the key a new schema id"
        );
        let schema = body["schema"].as_str().unwrap_or_default();
        assert!(schema.contains(&format!("ct-{db}-slave")), "{body}");
    }
}

/// A 7.1.1 worker with a 64 MiB heap, a stalled producer and a snapshot of 64 KiB rows:
/// its reader fills the queue until the JVM throws a real OutOfMemoryError.
pub async fn a_worker_past_its_heap_throws_a_real_oom(lab: &TestLab) {
    let http = Http::new().expect("http");
    let worker = extra_worker(lab, "7.1.1", "connect-oom", "-Xms32M -Xmx64M").await;
    let mut config = config_19(lab, "oom_fulfillment", 4000, 65536);
    config["lab.produce.delay.ms"] = json!("600000");
    config["max.queue.size"] = json!("100000");
    let (s, b) = put_config(&http, &worker, "ct-oom_fulfillment-slave", &config).await;
    assert!(s == 201 || s == 200, "{s} {b}");
    let name = format!("{}-connect-oom", lab.name());
    let n = &name;
    let line = poll(
        "java.lang.OutOfMemoryError in the worker's log",
        3 * MINUTE,
        async || {
            let logs = container_logs(n);
            logs.lines()
                .find(|l| l.contains("java.lang.OutOfMemoryError: Java heap space"))
                .map(str::to_owned)
                .ok_or_else(|| format!("{} log lines", logs.lines().count()))
        },
    )
    .await;
    println!("OOM seen in {name}: {line}");
}
