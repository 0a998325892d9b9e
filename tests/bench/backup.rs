//! `kroll-bench backup`: backing up and restoring N subjects × V versions and C connectors
//! against the lab's real Schema Registry and Connect worker (host processes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, stream};
use kroll::backup::{RestoreOptions, backup, load, restore};
use kroll::connect::{ConnectApi, ConnectClients};
use kroll::progress::quiet;
use kroll::registry::{NewSchema, RegistryApi, RegistryClient};
use kroll::rest::{Call, Method, RestOptions};
use kroll_tests::hostlab::cluster::{schema_registry, worker};
use kroll_tests::hostlab::{LabHome, raw};

/// Version `v` of subject `s`: a record with `v` optional fields (each version BACKWARD compatible).
fn schema(s: u64, v: u64) -> String {
    let fields: Vec<String> = (1..v)
        .map(|f| format!(r#"{{"name":"f{f}","type":["null","long"],"default":null}}"#))
        .collect();
    let mut all = vec![r#"{"name":"id","type":"long"}"#.to_owned()];
    all.extend(fields);
    format!(
        r#"{{"type":"record","name":"R{s}","namespace":"bench","fields":[{}]}}"#,
        all.join(",")
    )
}

fn connector(i: u64) -> kroll_migrate::Config {
    [
        (
            "connector.class",
            "io.debezium.connector.mysql.MySqlConnector".to_owned(),
        ),
        ("database.hostname", "mysql".to_owned()),
        ("database.user", "debezium".to_owned()),
        ("database.server.id", (1000 + i).to_string()),
        ("topic.prefix", format!("bench-{i}")),
        ("table.include.list", format!("db{i}.t")),
        (
            "schema.history.internal.kafka.topic",
            format!("history-{i}"),
        ),
        (
            "schema.history.internal.kafka.bootstrap.servers",
            "127.0.0.1:1".to_owned(),
        ),
        ("lab.table.rows", "0".to_owned()),
        ("lab.events.per.second", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn seed(
    registry: &RegistryClient,
    connect: &ConnectClients,
    subjects: u64,
    versions: u64,
    connectors: u64,
) {
    stream::iter(0..subjects)
        .for_each_concurrent(8, |s| async move {
            for v in 1..=versions {
                registry
                    .register(
                        &format!("bench-{s:04}-value"),
                        &NewSchema::avro(schema(s, v)),
                    )
                    .await
                    .expect("register");
            }
        })
        .await;
    for i in 0..connectors {
        connect
            .put_config(&format!("bench-{i:03}"), &connector(i))
            .await
            .expect("connector");
    }
}

/// Hard-deletes every subject and deletes every connector: the worst case for restore.
async fn destroy(sr: &str, worker: &str, connect: &ConnectClients, registry: &RegistryClient) {
    let subjects = registry.subjects(false).await.expect("subjects");
    stream::iter(subjects)
        .for_each_concurrent(8, |s| async move {
            raw(sr)
                .send(&Call::new(Method::DELETE, &["subjects", &s]))
                .await
                .expect("soft delete");
            raw(sr)
                .send(&Call::new(Method::DELETE, &["subjects", &s]).query("permanent", "true"))
                .await
                .expect("hard delete");
        })
        .await;
    let names: Vec<String> = connect
        .connectors()
        .await
        .expect("connectors")
        .into_keys()
        .collect();
    for name in names {
        raw(worker)
            .send(&Call::new(Method::DELETE, &["connectors", &name]))
            .await
            .expect("delete");
    }
}

/// Runs the benchmark and prints its figures.
pub async fn run(subjects: u64, versions: u64, connectors: u64) {
    let home = LabHome::new("7.7.1");
    let sr = schema_registry(&home);
    let w = worker(&home, "connect-01", &home.dir("cluster"), &sr.url, None);
    let options = RestOptions {
        timeout: Duration::from_secs(60),
        ..RestOptions::default()
    };
    let registry = RegistryClient::new(&sr.url, options).expect("registry");
    let connect =
        ConnectClients::new(&[("connect-01".into(), w.url.clone())], options).expect("connect");
    let began = Instant::now();
    seed(&registry, &connect, subjects, versions, connectors).await;
    println!(
        "seeded {subjects} subjects × {versions} versions and {connectors} connectors in {:.1}s",
        began.elapsed().as_secs_f64()
    );
    let dir = home.root.path().join("backup");
    let began = Instant::now();
    let manifest = backup(&connect, &registry, &dir, &quiet)
        .await
        .expect("backup");
    let backup_s = began.elapsed().as_secs_f64();
    let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "backup: {:.2}s ({} connectors, {} subjects, {} versions, {:.1} MiB)",
        backup_s,
        manifest.connectors,
        manifest.subjects,
        manifest.versions,
        bytes as f64 / 1048576.0
    );
    destroy(&sr.url, &w.url, &connect, &registry).await;
    let loaded = load(&dir).expect("load");
    let began = Instant::now();
    let t = Instant::now();
    let note = move |line: &str| eprintln!("  [{:>6.2}s] {line}", t.elapsed().as_secs_f64());
    let report = restore(
        &connect,
        &registry,
        &loaded,
        RestoreOptions::default(),
        &note,
    )
    .await
    .expect("restore");
    let restore_s = began.elapsed().as_secs_f64();
    let problems = report.problems();
    println!(
        "restore after hard-deleting every subject and deleting every connector: {restore_s:.2}s, {} not exact",
        problems.len()
    );
    let counts: BTreeMap<&str, usize> = [
        (
            "connectors",
            connect.connectors().await.expect("list").len(),
        ),
        (
            "subjects",
            registry.subjects(false).await.expect("subjects").len(),
        ),
    ]
    .into_iter()
    .collect();
    println!("after restore: {counts:?}");
    assert!(problems.is_empty(), "{problems:?}");
}
