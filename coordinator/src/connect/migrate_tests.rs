//! The migration operation against the in-memory Connect.

use super::*;
use crate::connect::fake::{FakeConnect, FakeConnector};
use crate::connect::{ConnectorType, TargetState};

const CLASS: &str = "io.debezium.connector.mysql.MySqlConnector";

/// A 1.9 CT connector shaped like the journal's (dashed prefix, RegexRouter to `ct.`).
fn ct19(name: &str, table: &str, server_id: Option<&str>) -> FakeConnector {
    let prefix = "ct-digikala_fulfillment-slave";
    let mut pairs = vec![
        ("name", name.to_owned()),
        ("connector.class", CLASS.to_owned()),
        ("database.hostname", "mysql".to_owned()),
        ("database.user", "debezium".to_owned()),
        ("database.server.name", prefix.to_owned()),
        (
            "table.include.list",
            format!("digikala_fulfillment.{table}"),
        ),
        (
            "database.history.kafka.bootstrap.servers",
            "kafka-01:29091".to_owned(),
        ),
        ("database.history.kafka.topic", format!("dbhistory.{name}")),
        ("transforms", "route".to_owned()),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter".to_owned(),
        ),
        (
            "transforms.route.regex",
            r"([^.]+)\.([^.]+)\.([^.]+)".to_owned(),
        ),
        ("transforms.route.replacement", "ct.$2.$3".to_owned()),
        ("acks", "all".to_owned()),
    ];
    if let Some(id) = server_id {
        pairs.push(("database.server.id", id.to_owned()));
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    FakeConnector::new(ConnectorType::Source, TargetState::Running, &borrowed)
}

fn cluster() -> FakeConnect {
    FakeConnect::new(
        "7.7.1-ccs",
        vec![
            ("ct-receipts", ct19("ct-receipts", "receipts", None)),
            ("ct-returns", ct19("ct-returns", "returns", Some("101"))),
            ("ct-shipments", ct19("ct-shipments", "shipments", None)),
            (
                "dwh-sink",
                FakeConnector::new(
                    ConnectorType::Sink,
                    TargetState::Running,
                    &[(
                        "connector.class",
                        "io.confluent.connect.jdbc.JdbcSinkConnector",
                    )],
                ),
            ),
        ],
    )
}

async fn plan(connect: &FakeConnect, request: &MigrateRequest) -> MigrationPlan {
    plan_migration(
        &connect.connectors().await.expect("connectors"),
        &[],
        request,
    )
}

#[tokio::test]
async fn server_ids_are_unique_and_skip_ids_in_use() {
    let connect = cluster();
    let p = plan(
        &connect,
        &MigrateRequest {
            server_id: Some(100),
            ..MigrateRequest::default()
        },
    )
    .await;
    let ids: Vec<(&str, Option<&str>)> = p
        .connectors
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.migration
                    .config
                    .get("database.server.id")
                    .map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("ct-receipts", Some("100")),
            ("ct-returns", Some("101")),
            ("ct-shipments", Some("102"))
        ]
    );
    assert_eq!(
        p.passed_through,
        [(
            "dwh-sink".to_owned(),
            "io.confluent.connect.jdbc.JdbcSinkConnector is not Debezium MySQL".to_owned()
        )]
    );
    assert!(p.blocked().is_empty());
    assert_eq!(p.to_apply().count(), 3);
}

#[tokio::test]
async fn a_missing_server_id_blocks_with_the_reason() {
    let connect = cluster();
    let p = plan(&connect, &MigrateRequest::default()).await;
    let blocked: Vec<&str> = p.blocked().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(blocked, ["ct-receipts", "ct-shipments"]);
    let reason = p.blocked()[0]
        .migration
        .errors()
        .next()
        .expect("error")
        .to_string();
    assert!(reason.contains("database.server.id"), "{reason}");
}

#[tokio::test]
async fn the_guard_pins_avro_names_and_can_be_turned_off_for_rehearsals() {
    let connect = cluster();
    let guarded = plan(
        &connect,
        &MigrateRequest {
            server_id: Some(7),
            ..MigrateRequest::default()
        },
    )
    .await;
    let c = &guarded.connectors[0];
    assert_eq!(
        c.migration
            .config
            .get("schema.name.adjustment.mode")
            .map(String::as_str),
        Some("avro")
    );
    assert!(c.migration.changes.iter().any(|ch| ch.rule == GUARD_RULE));
    let rehearsal = MigrateRequest {
        server_id: Some(7),
        schema_name_guard: false,
        ..MigrateRequest::default()
    };
    let unguarded = plan(&connect, &rehearsal).await;
    let c = &unguarded.connectors[0];
    assert!(
        !c.migration
            .config
            .contains_key("schema.name.adjustment.mode")
    );
    assert!(c.migration.changes.iter().all(|ch| ch.rule != GUARD_RULE));
    assert!(c.applies(), "the rest of the migration is unchanged");
}

#[tokio::test]
async fn only_selects_connectors_and_produced_topics_follow_routing() {
    let connect = cluster();
    let request = MigrateRequest {
        only: vec!["ct-returns".into()],
        ..MigrateRequest::default()
    };
    let p = plan(&connect, &request).await;
    assert_eq!(p.connectors.len(), 1);
    let only_receipts = MigrateRequest {
        only: vec!["ct-receipts".into()],
        server_id: Some(101),
        ..MigrateRequest::default()
    };
    let id = plan(&connect, &only_receipts).await.connectors[0]
        .migration
        .config
        .get("database.server.id")
        .cloned();
    assert_eq!(
        id.as_deref(),
        Some("102"),
        "ct-returns (not selected) holds 101"
    );
    assert_eq!(
        produced_topics(&p),
        [(
            "ct-returns".to_owned(),
            "ct.digikala_fulfillment.returns".to_owned()
        )]
    );
}

#[tokio::test]
async fn validation_failures_are_reported_per_connector_and_key() {
    let connect = cluster();
    connect.with(|s| {
        s.invalid.insert(
            "ct-returns".into(),
            vec![("database.server.id".into(), "Not a number".into())],
        )
    });
    let p = plan(
        &connect,
        &MigrateRequest {
            server_id: Some(1),
            ..MigrateRequest::default()
        },
    )
    .await;
    let failures = validate_plan(&connect, &p).await.expect("validated");
    assert_eq!(failures.len(), 1);
    assert_eq!(
        (
            failures[0].connector.as_str(),
            failures[0].errors[0].name.as_str()
        ),
        ("ct-returns", "database.server.id")
    );
    assert!(
        connect.calls().iter().all(|c| c.starts_with("validate ")),
        "validation changes nothing: {:?}",
        connect.calls()
    );
}

#[tokio::test]
async fn applying_stops_at_the_first_failure_and_says_what_was_applied() {
    let connect = cluster();
    connect.with(|s| s.put_fails.insert("ct-returns".into()));
    let p = plan(
        &connect,
        &MigrateRequest {
            server_id: Some(1),
            ..MigrateRequest::default()
        },
    )
    .await;
    let err = apply_plan(&connect, &p).await.expect_err("fails");
    assert_eq!(
        (
            err.applied.as_slice(),
            err.failed.as_str(),
            err.not_applied.as_slice()
        ),
        (
            &["ct-receipts".to_owned()][..],
            "ct-returns",
            &["ct-shipments".to_owned()][..]
        )
    );
    assert!(
        err.to_string()
            .contains("applied before it: ct-receipts; not applied: ct-shipments"),
        "{err}"
    );
    // Migrating the applied config again changes nothing.
    let again = plan(
        &connect,
        &MigrateRequest {
            only: vec!["ct-receipts".into()],
            ..MigrateRequest::default()
        },
    )
    .await;
    assert!(
        !again.connectors[0].migration.changed(),
        "{}",
        again.connectors[0].migration
    );
}

#[test]
fn table_candidates_come_from_topic_and_subject_names() {
    let tables = known_tables([
        "ct.shop.orders-key",
        "ct.shop.orders-value",
        "supernova.shop.order-lines",
        "connect-offsets",
        "_schemas",
    ]);
    let shown: Vec<String> = tables.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["shop.order-lines", "shop.orders"]);
}
