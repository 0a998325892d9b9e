//! Quiesce and resume against real lag: the lab's source produces into real lab brokers, its
//! sink commits a consumer group forward at a set rate, kroll measures lag through rdkafka.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use kroll::kafka::{Kafka, KafkaConnection, KafkaReader, KafkaSecurity, TopicSelector};
use serde_json::{Value, json};

use kroll_tests::hostlab::cluster::{HostKafka, inventory, schema_registry, worker};
use kroll_tests::hostlab::{LabHome, Method, call};

use super::clients::dbz30;
use super::poll;

const TOPIC: &str = "orders-db.shop.orders";

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

/// End offsets per partition as kcat (librdkafka, an independent client) reads them.
fn kcat_ends(bootstrap: &str) -> BTreeMap<i64, i64> {
    let out = Command::new("timeout")
        .args([
            "20",
            "kcat",
            "-b",
            bootstrap,
            "-C",
            "-t",
            TOPIC,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%p %o\\n",
        ])
        .output()
        .expect("kcat (apt-get install kcat)");
    let mut ends = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.split(' ').map(|p| p.parse::<i64>().expect("number"));
        if let (Some(p), Some(o)) = (parts.next(), parts.next()) {
            ends.insert(p, o + 1);
        }
    }
    ends
}

/// The sink's committed offsets as the Connect worker reports them (its own Kafka client).
async fn sink_offsets(worker: &str, sink: &str) -> BTreeMap<i64, i64> {
    let doc = call(worker, Method::GET, &["connectors", sink, "offsets"], None)
        .await
        .expect("offsets");
    doc["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| {
            (
                o["partition"]["kafka_partition"].as_i64().expect("p"),
                o["offset"]["kafka_offset"].as_i64().expect("o"),
            )
        })
        .collect()
}

async fn state(worker: &str, name: &str) -> String {
    let s = call(worker, Method::GET, &["connectors", name, "status"], None)
        .await
        .expect("status");
    s["connector"]["state"].as_str().unwrap_or("?").to_owned()
}

fn sink(rate: &str) -> Value {
    json!({"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": TOPIC, "connection.url": "jdbc:postgresql://dwh/dwh", "lab.records.per.second": rate, "lab.poll.interval.ms": "100"})
}

#[tokio::test]
async fn quiesce_waits_for_real_lag_halts_on_a_stuck_sink_and_resume_restores_exactly() {
    let home = LabHome::new("7.7.1");
    let kafka = HostKafka::start(&home, 1, "3.7.1");
    let sr = schema_registry(&home);
    let w = worker(
        &home,
        "connect-01",
        &home.dir("cluster"),
        &sr.url,
        Some(&kafka.bootstrap),
    );
    let inv = inventory(home.root.path(), &[&w], &sr, Some(&kafka.bootstrap));
    let run = home.root.path().join("run");
    let mut source = dbz30("orders", "orders-db", "orders");
    source.insert(
        "schema.history.internal.kafka.bootstrap.servers".into(),
        kafka.bootstrap.clone(),
    );
    source.insert("lab.events.per.second".into(), "60".into());
    call(
        &w.url,
        Method::PUT,
        &["connectors", "orders", "config"],
        Some(json!(source)),
    )
    .await
    .expect("source");
    call(
        &w.url,
        Method::PUT,
        &["connectors", "dwh", "config"],
        Some(sink("0")),
    )
    .await
    .expect("stuck sink");
    let mut held = dbz30("held", "held-db", "held");
    held.insert("lab.events.per.second".into(), "0".into());
    call(
        &w.url,
        Method::PUT,
        &["connectors", "held", "config"],
        Some(json!(held)),
    )
    .await
    .expect("held");
    call(&w.url, Method::PUT, &["connectors", "held", "pause"], None)
        .await
        .expect("the operator pauses held");
    let reader = Kafka::new(
        KafkaConnection::new(
            std::slice::from_ref(&kafka.bootstrap),
            KafkaSecurity::plaintext(),
        ),
        Duration::from_secs(10),
    );
    let produced = async || {
        reader
            .end_offsets(&[TOPIC.into()])
            .await
            .ok()?
            .get(TOPIC)
            .map(|e| e.end_sum)
    };
    poll("records in the topic", async || {
        produced().await.filter(|n| *n > 30)
    })
    .await;

    // A sink that does not consume: quiesce halts the source, waits, and halts with the lag named.
    let (code, out, err) = kroll(
        &inv,
        &[
            "connectors",
            "quiesce",
            "--run-dir",
            run.to_str().expect("utf-8"),
            "--lag-timeout",
            "3s",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    for part in [
        "dwh (group connect-dwh, RUNNING, tasks 0 RUNNING): lag ",
        &format!("{TOPIC}[0: "),
        "(committed 0, end ",
        "sources stay halted",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert_eq!(
        (state(&w.url, "orders").await, state(&w.url, "dwh").await),
        ("STOPPED".into(), "RUNNING".into())
    );

    // The sink is fixed; a second quiesce continues the first, waits for lag 0, halts the sink.
    call(
        &w.url,
        Method::PUT,
        &["connectors", "dwh", "config"],
        Some(sink("200")),
    )
    .await
    .expect("fix the sink");
    let lag = reader
        .group_lag("connect-dwh", &TopicSelector::Topics(vec![TOPIC.into()]))
        .await
        .expect("lag");
    assert!(lag.total() > 0, "there is lag to wait for: {lag:?}");
    let (code, out, err) = kroll(
        &inv,
        &[
            "--output",
            "json",
            "connectors",
            "quiesce",
            "--run-dir",
            run.to_str().expect("utf-8"),
            "--lag-timeout",
            "60s",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let record: Value = serde_json::from_str(&out).expect("record");
    assert_eq!(record["method"], "stop");
    let ends = kcat_ends(&kafka.bootstrap);
    assert_eq!(
        sink_offsets(&w.url, "dwh").await,
        ends,
        "the sink committed exactly up to the end offsets"
    );
    assert_eq!(
        [
            state(&w.url, "orders").await,
            state(&w.url, "dwh").await,
            state(&w.url, "held").await
        ],
        ["STOPPED", "STOPPED", "PAUSED"]
    );
    let handled: BTreeMap<String, String> = record["connectors"]
        .as_array()
        .expect("connectors")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("n").to_owned(),
                c["handling"].as_str().expect("h").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        handled["orders"], "halted",
        "the first run's stop stays kroll's"
    );
    assert_eq!(handled["held"], "left_alone");

    let (code, out, err) = kroll(
        &inv,
        &[
            "connectors",
            "resume",
            "--run-dir",
            run.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("resumed orders: RUNNING, tasks 0 RUNNING") && out.contains("left alone held"),
        "{out}"
    );
    assert_eq!(
        [
            state(&w.url, "orders").await,
            state(&w.url, "dwh").await,
            state(&w.url, "held").await
        ],
        ["RUNNING", "RUNNING", "PAUSED"]
    );
    let total: i64 = ends.values().sum();
    poll("records flow again", async || {
        produced().await.filter(|n| *n > total)
    })
    .await;
}
