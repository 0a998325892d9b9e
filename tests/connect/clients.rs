//! kroll's real Connect and Schema Registry clients against the lab's real JVM services.

use std::time::Duration;

use kroll::connect::{ConnectApi, ConnectClients, ConnectorType, State, TargetState};
use kroll::registry::{NewSchema, RegistryApi, RegistryClient};
use kroll::rest::RestOptions;
use kroll_migrate::Config;

use super::poll;
use kroll_tests::hostlab::cluster::{schema_registry, worker};
use kroll_tests::hostlab::{LabHome, free_port};

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A Debezium 3.0 config the lab's 7.7 worker accepts (no brokers: it only registers schemas).
pub fn dbz30(name: &str, prefix: &str, table: &str) -> Config {
    config(&[
        ("name", name),
        (
            "connector.class",
            "io.debezium.connector.mysql.MySqlConnector",
        ),
        ("database.hostname", "mysql"),
        ("database.user", "debezium"),
        ("database.server.id", "1"),
        ("topic.prefix", prefix),
        ("table.include.list", &format!("shop.{table}")),
        ("schema.history.internal.kafka.topic", "history"),
        (
            "schema.history.internal.kafka.bootstrap.servers",
            "127.0.0.1:1",
        ),
        ("lab.table.rows", "3"),
        ("lab.events.per.second", "0"),
    ])
}

#[tokio::test]
async fn the_connect_client_reads_changes_validates_and_names_errors() {
    let home = LabHome::new("7.7.1");
    let sr = schema_registry(&home);
    let w = worker(&home, "connect-01", &home.dir("cluster"), &sr.url, None);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let options = RestOptions {
        attempts: 2,
        backoff: Duration::from_millis(20),
        ..RestOptions::default()
    };
    let connect = ConnectClients::new(
        &[
            ("connect-00".into(), dead),
            ("connect-01".into(), w.url.clone()),
        ],
        options,
    )
    .expect("clients");
    let workers = connect.workers().await;
    assert!(
        workers[0].info.is_err(),
        "the dead worker is reported unreachable"
    );
    let version = workers[1].kafka_version().expect("7.7 answers");
    assert_eq!(
        (version.to_string(), version.supports_stop()),
        ("3.7.1".to_owned(), true)
    );

    let orders = dbz30("orders", "shop-db", "orders");
    connect
        .create("orders", &orders, None)
        .await
        .expect("create (fails over past the dead worker)");
    assert_eq!(connect.config("orders").await.expect("config"), orders);
    let all = connect.connectors().await.expect("list");
    assert_eq!(
        (all["orders"].kind, &all["orders"].config),
        (ConnectorType::Source, &orders)
    );
    poll("orders RUNNING", async || {
        connect.status("orders").await.ok().filter(|s| {
            s.connector.state == State::Running
                && s.tasks.iter().all(|t| t.state == State::Running)
                && !s.tasks.is_empty()
        })
    })
    .await;
    for (target, state) in [
        (TargetState::Paused, State::Paused),
        (TargetState::Stopped, State::Stopped),
        (TargetState::Running, State::Running),
    ] {
        kroll::connect::set_target(&connect, "orders", target)
            .await
            .expect("target");
        poll(&format!("orders {state}"), async || {
            connect
                .status("orders")
                .await
                .ok()
                .filter(|s| s.connector.state == state)
        })
        .await;
    }

    let mut legacy = orders.clone();
    legacy.remove("topic.prefix");
    legacy.insert("database.server.name".into(), "shop-db".into());
    let validation = connect
        .validate("io.debezium.connector.mysql.MySqlConnector", &legacy)
        .await
        .expect("validate");
    assert!(validation.error_count >= 1);
    let prefix = validation
        .errors
        .iter()
        .find(|k| k.name == "topic.prefix")
        .expect("topic.prefix error");
    assert_eq!(
        prefix.errors,
        ["The 'topic.prefix' value is invalid: A value is required"]
    );

    let err = connect.status("nosuch").await.expect_err("404");
    assert_eq!(
        (err.status(), err.message()),
        (Some(404), "Connector nosuch not found".to_owned())
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "Connect worker connect-01 at {}/: GET /connectors/nosuch/status answered 404",
            w.url
        )),
        "{text}"
    );
}

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"#;
const BAD: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;

#[tokio::test]
async fn the_registry_client_registers_reads_levels_and_names_errors() {
    let home = LabHome::new("7.7.1");
    let sr = schema_registry(&home);
    let registry = RegistryClient::new(&sr.url, RestOptions::default()).expect("client");
    let id1 = registry
        .register("orders-value", &NewSchema::avro(V1))
        .await
        .expect("v1");
    let id2 = registry
        .register("orders-value", &NewSchema::avro(V2))
        .await
        .expect("v2");
    assert_ne!(id1, id2);
    assert_eq!(
        registry
            .register("orders-value", &NewSchema::avro(V1))
            .await
            .expect("again"),
        id1,
        "a live schema keeps its id"
    );
    assert_eq!(
        registry
            .versions("orders-value", false)
            .await
            .expect("versions"),
        [1, 2]
    );
    let latest = registry
        .latest("orders-value")
        .await
        .expect("latest")
        .expect("some");
    assert_eq!((latest.version, latest.id), (2, id2));
    assert_eq!(
        registry
            .lookup("orders-value", &NewSchema::avro(V1))
            .await
            .expect("lookup")
            .map(|v| v.version),
        Some(1)
    );
    assert_eq!(
        registry.latest("nothing-value").await.expect("latest"),
        None
    );

    assert_eq!(
        registry
            .subject_compatibility("orders-value")
            .await
            .expect("level"),
        None
    );
    registry
        .set_subject_compatibility("orders-value", "FULL")
        .await
        .expect("set");
    assert_eq!(
        registry
            .subject_compatibility("orders-value")
            .await
            .expect("level")
            .as_deref(),
        Some("FULL")
    );
    registry
        .delete_subject_compatibility("orders-value")
        .await
        .expect("delete");
    assert_eq!(
        registry
            .subject_compatibility("orders-value")
            .await
            .expect("level"),
        None
    );
    assert_eq!(
        registry.global_compatibility().await.expect("global"),
        "BACKWARD"
    );

    let verdict = registry
        .test_compatibility("orders-value", &NewSchema::avro(BAD))
        .await
        .expect("test");
    assert!(
        !verdict.is_compatible && !verdict.messages.is_empty(),
        "{verdict:?}"
    );
    let refused = registry
        .register("orders-value", &NewSchema::avro(BAD))
        .await
        .expect_err("409");
    assert_eq!(refused.status(), Some(409));

    let err = registry
        .versions("nothing-key", false)
        .await
        .expect_err("404");
    assert_eq!(
        (err.error_code(), err.message()),
        (Some(40401), "Subject 'nothing-key' not found.".to_owned())
    );
    assert!(
        err.to_string().contains(&format!(
            "Schema Registry at {}/: GET /subjects/nothing-key/versions answered 404 (error 40401)",
            sr.url
        )),
        "{err}"
    );
}
