//! End-to-end migrations of connector configs modelled on the journal's.

use crate::rules::rule;
use crate::{
    ChangeOp, Config, ConnectorClass, ConnectorKind, DriftVerdict, FindingKind, MigrateOptions,
    Migration, Severity, config_from_json, migrate_connector,
};

/// A production-style 1.9 CDC connector (dashed server name, RegexRouter to supernova).
const CDC_19: &str = r#"{
  "name": "cdc-digikala_fulfillment-slave",
  "connector.class": "io.debezium.connector.mysql.MySqlConnector",
  "tasks.max": "1",
  "database.hostname": "mysql-fulfillment-slave",
  "database.port": "3306",
  "database.user": "debezium",
  "database.password": "s3cret-pw",
  "database.server.name": "cdc-digikala_fulfillment-slave",
  "database.include.list": "digikala_fulfillment",
  "table.include.list": "digikala_fulfillment\\.receipts,digikala_fulfillment\\.shipments",
  "database.history.kafka.bootstrap.servers": "kafka-01:29091,kafka-02:29092",
  "database.history.kafka.topic": "dbhistory.cdc-digikala_fulfillment-slave",
  "database.history.store.only.captured.tables.ddl": "true",
  "database.history.skip.unparseable.ddl": "true",
  "database.serverTimezone": "Asia/Tehran",
  "database.allowPublicKeyRetrieval": "true",
  "snapshot.mode": "schema_only",
  "sanitize.field.names": "true",
  "include.schema.changes": "false",
  "producer.request.timeout.ms": "120000",
  "producer.compression.type": "snappy",
  "producer.linger.ms": "10",
  "producer.batch.size": "32768",
  "connector.client.config.override.policy": "All",
  "key.converter": "io.confluent.connect.avro.AvroConverter",
  "key.converter.schema.registry.url": "http://schema-registry:8081",
  "value.converter": "io.confluent.connect.avro.AvroConverter",
  "value.converter.schema.registry.url": "http://schema-registry:8081",
  "transforms": "route",
  "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
  "transforms.route.regex": "([^.]+)\\.([^.]+)\\.([^.]+)",
  "transforms.route.replacement": "supernova.$2.$3"
}"#;

/// A 1.9 CT connector with older spellings, a removed key, an ambiguous and an unknown key.
const CT_19: &str = r#"{
  "name": "ct-digikala_fulfillment-slave",
  "connector.class": "io.debezium.connector.mysql.MySqlConnector",
  "tasks.max": "1",
  "database.hostname": "mysql-fulfillment-slave",
  "database.port": "3306",
  "database.user": "debezium",
  "database.password": "s3cret-pw",
  "database.server.id": "12332101",
  "database.server.name": "ct-digikala_fulfillment-slave",
  "database.whitelist": "digikala_fulfillment",
  "table.whitelist": "digikala_fulfillment.receipts",
  "database.history": "io.debezium.relational.history.KafkaDatabaseHistory",
  "database.history.kafka.bootstrap.servers": "kafka-01:29091,kafka-02:29092",
  "database.history.kafka.topic": "dbhistory.ct-digikala_fulfillment-slave",
  "database.history.store.only.monitored.tables.ddl": "true",
  "database.sslfactory": "com.acme.Factory",
  "heartbeat.interval.ms": "10000",
  "heartbeat.topics.prefix": "__debezium-heartbeat",
  "event.deserialization.failure.handling.mode": "warn",
  "snapshot.new.tables": "parallel",
  "acks": "all",
  "some.custom.flag": "x",
  "transforms": "route",
  "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
  "transforms.route.regex": "([^.]+)\\.([^.]+)\\.([^.]+)",
  "transforms.route.replacement": "ct.$2.$3"
}"#;

/// What the CDC fixture must hold after migration.
const CDC_EXPECTED: &[(&str, &str)] = &[
    ("topic.prefix", "cdc-digikala_fulfillment-slave"),
    (
        "schema.history.internal.kafka.topic",
        "dbhistory.cdc-digikala_fulfillment-slave",
    ),
    (
        "schema.history.internal.kafka.bootstrap.servers",
        "kafka-01:29091,kafka-02:29092",
    ),
    ("schema.history.internal.skip.unparseable.ddl", "true"),
    (
        "schema.history.internal.store.only.captured.tables.ddl",
        "true",
    ),
    ("driver.serverTimezone", "Asia/Tehran"),
    ("driver.allowPublicKeyRetrieval", "true"),
    ("snapshot.mode", "no_data"),
    ("field.name.adjustment.mode", "avro"),
    ("schema.name.adjustment.mode", "avro"),
    ("producer.override.compression.type", "lz4"),
    ("producer.override.linger.ms", "100"),
    ("producer.override.batch.size", "65536"),
    ("transforms.route.replacement", "supernova.$2.$3"),
    ("database.server.id", "12332102"),
];

/// Keys the CDC migration must remove.
const CDC_GONE: &[&str] = &[
    "database.server.name",
    "database.history.kafka.topic",
    "database.serverTimezone",
    "sanitize.field.names",
    "producer.request.timeout.ms",
    "producer.compression.type",
    "producer.linger.ms",
    "producer.batch.size",
    "connector.client.config.override.policy",
];

/// What the CT fixture must hold after migration.
const CT_EXPECTED: &[(&str, &str)] = &[
    ("topic.prefix", "ct-digikala_fulfillment-slave"),
    (
        "schema.history.internal",
        "io.debezium.storage.kafka.history.KafkaSchemaHistory",
    ),
    (
        "schema.history.internal.store.only.captured.tables.ddl",
        "true",
    ),
    ("database.include.list", "digikala_fulfillment"),
    ("table.include.list", "digikala_fulfillment.receipts"),
    ("topic.heartbeat.prefix", "__debezium-heartbeat"),
    ("event.processing.failure.handling.mode", "warn"),
    ("transforms.route.replacement", "ct.$2.$3"),
    ("field.name.adjustment.mode", "avro"),
    ("schema.name.adjustment.mode", "avro"),
    ("database.server.id", "12332101"),
    ("database.sslfactory", "com.acme.Factory"),
    ("some.custom.flag", "x"),
];

fn fixture(json: &str) -> Config {
    config_from_json(json).expect("fixture is valid JSON")
}

fn with_server_id() -> MigrateOptions {
    MigrateOptions {
        server_id: Some(12_332_102),
        ..MigrateOptions::default()
    }
}

fn has(m: &Migration, kind: FindingKind, key: &str) -> bool {
    m.findings
        .iter()
        .any(|f| f.kind == kind && f.key.as_deref() == Some(key))
}

fn assert_idempotent(first: &Migration, options: &MigrateOptions) {
    let second = migrate_connector(&first.config, options);
    assert_eq!(second.config, first.config, "second run changed the config");
    assert!(
        second.changes.is_empty(),
        "second run made changes: {:?}",
        second.changes
    );
    assert!(
        !second
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Conflict)
    );
}

#[test]
fn cdc_variant_end_to_end() {
    let m = migrate_connector(&fixture(CDC_19), &with_server_id());
    assert_eq!(
        m.kind.as_ref().and_then(|k| k.kind),
        Some(ConnectorKind::Cdc)
    );
    assert!(!m.is_blocked(), "{m}");
    let c = &m.config;
    let expect = CDC_EXPECTED;
    for (key, value) in expect.iter().copied() {
        assert_eq!(c.get(key).map(String::as_str), Some(value), "{key}");
    }
    let gone = CDC_GONE;
    for key in gone.iter().copied() {
        assert!(!c.contains_key(key), "{key} should be gone");
    }
    assert!(
        !c.contains_key("producer.override.enable.idempotence"),
        "idempotence is opt-in"
    );
    assert!(
        m.changes.iter().all(|change| rule(&change.rule).is_some()),
        "every change names a rule"
    );
    assert!(
        m.findings
            .iter()
            .any(|f| f.kind == FindingKind::SchemaNameDrift && f.severity == Severity::Info)
    );
    let drift = m.drift.as_ref().expect("predictable");
    assert_eq!(drift.verdict, DriftVerdict::Unchanged);
    let subjects: Vec<_> = drift
        .tables
        .iter()
        .filter_map(|t| t.key_subject())
        .collect();
    assert_eq!(
        subjects,
        [
            "supernova.digikala_fulfillment.receipts-key",
            "supernova.digikala_fulfillment.shipments-key"
        ]
    );
    assert_idempotent(&m, &with_server_id());
}

#[test]
fn cdc_variant_matches_the_journal_function_on_the_keys_it_touches() {
    // What update_cdc_config_to_v3_matching_topic_prefix_to_server_name leaves, key by key.
    let m = migrate_connector(&fixture(CDC_19), &with_server_id());
    let journal = [
        ("topic.prefix", Some("cdc-digikala_fulfillment-slave")),
        ("database.server.name", None),
        (
            "schema.history.internal.kafka.topic",
            Some("dbhistory.cdc-digikala_fulfillment-slave"),
        ),
        ("database.history.kafka.topic", None),
        (
            "schema.history.internal.kafka.bootstrap.servers",
            Some("kafka-01:29091,kafka-02:29092"),
        ),
        ("database.history.kafka.bootstrap.servers", None),
        ("producer.request.timeout.ms", None),
        ("producer.compression.type", None),
        ("connector.client.config.override.policy", None),
        ("producer.linger.ms", None),
        ("producer.batch.size", None),
        ("producer.override.compression.type", Some("lz4")),
        ("producer.override.linger.ms", Some("100")),
        ("producer.override.batch.size", Some("65536")),
        ("database.history.store.only.captured.tables.ddl", None),
        (
            "schema.history.internal.store.only.captured.tables.ddl",
            Some("true"),
        ),
        ("sanitize.field.names", None),
        ("field.name.adjustment.mode", Some("avro")),
        ("transforms.route.replacement", Some("supernova.$2.$3")),
    ];
    for (key, value) in journal {
        assert_eq!(m.config.get(key).map(String::as_str), value, "{key}");
    }
}

#[test]
fn ct_variant_end_to_end() {
    let m = migrate_connector(&fixture(CT_19), &MigrateOptions::default());
    assert_eq!(
        m.kind.as_ref().and_then(|k| k.kind),
        Some(ConnectorKind::Ct)
    );
    assert!(!m.is_blocked(), "{m}");
    let c = &m.config;
    let expect = CT_EXPECTED;
    for (key, value) in expect.iter().copied() {
        assert_eq!(c.get(key).map(String::as_str), Some(value), "{key}");
    }
    for key in [
        "acks",
        "snapshot.new.tables",
        "database.history.store.only.monitored.tables.ddl",
        "table.whitelist",
    ] {
        assert!(!c.contains_key(key), "{key} should be gone");
    }
    assert!(
        !c.contains_key("producer.override.linger.ms"),
        "CDC-only settings stay off CT connectors"
    );
    assert!(has(&m, FindingKind::RemovedKey, "snapshot.new.tables"));
    assert!(has(&m, FindingKind::AmbiguousKey, "database.sslfactory"));
    assert!(has(&m, FindingKind::UnknownKey, "some.custom.flag"));
    let drift = m.drift.as_ref().expect("predictable");
    assert_eq!(
        drift.tables[0].after.key,
        "ct_digikala_fulfillment_slave.digikala_fulfillment.receipts.Key"
    );
    assert_eq!(
        drift.tables[0].key_subject().as_deref(),
        Some("ct.digikala_fulfillment.receipts-key")
    );
    assert_idempotent(&m, &MigrateOptions::default());
}

#[test]
fn dry_run_diff_names_rules_and_masks_nothing_it_should_show() {
    let m = migrate_connector(&fixture(CDC_19), &with_server_id());
    let diff = m.render_diff();
    assert!(
        diff.starts_with("--- cdc-digikala_fulfillment-slave (Debezium 1.9)\n"),
        "{diff}"
    );
    assert!(
        diff.contains(
            "- database.server.name=cdc-digikala_fulfillment-slave    [dbz.topic-prefix]"
        ),
        "{diff}"
    );
    assert!(
        diff.contains("+ topic.prefix=cdc-digikala_fulfillment-slave"),
        "{diff}"
    );
    assert!(
        diff.contains("+ schema.name.adjustment.mode=avro"),
        "{diff}"
    );
    assert!(!m.to_string().contains("s3cret-pw"));
}

#[test]
fn missing_server_id_blocks_unless_supplied() {
    let m = migrate_connector(&fixture(CDC_19), &MigrateOptions::default());
    assert!(m.is_blocked());
    assert!(has(&m, FindingKind::MissingRequired, "database.server.id"));
    assert!(!m.config.contains_key("database.server.id"));
    let mut ct = fixture(CT_19);
    ct.insert("database.server.id".into(), "not-a-number".into());
    assert!(migrate_connector(&ct, &MigrateOptions::default()).is_blocked());
    let kept = migrate_connector(&fixture(CT_19), &with_server_id());
    assert_eq!(kept.config["database.server.id"], "12332101");
    assert!(has(&kept, FindingKind::ValueReplaced, "database.server.id"));
}

#[test]
fn old_and_new_names_with_different_values_block_and_keep_both() {
    let mut config = fixture(CT_19);
    config.insert("topic.prefix".into(), "ct-other".into());
    let m = migrate_connector(&config, &MigrateOptions::default());
    assert!(m.is_blocked());
    assert!(has(&m, FindingKind::Conflict, "database.server.name"));
    assert_eq!(
        m.config["database.server.name"],
        "ct-digikala_fulfillment-slave"
    );
    assert_eq!(m.config["topic.prefix"], "ct-other");
}

#[test]
fn sinks_pass_through_untouched() {
    let sink = fixture(
        r#"{"name": "dwh-sink", "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "topics": "supernova.digikala_fulfillment.receipts", "acks": "all"}"#,
    );
    let m = migrate_connector(&sink, &MigrateOptions::default());
    assert_eq!(m.config, sink);
    assert!(m.changes.is_empty() && !m.is_blocked());
    assert!(matches!(m.class, ConnectorClass::Other(_)));
    assert_eq!(m.findings.len(), 1);
    assert_eq!(m.findings[0].kind, FindingKind::NotMigrated);
}

#[test]
fn undecided_kind_applies_common_rules_only_and_says_so() {
    let mut config = fixture(CT_19);
    config.insert("name".into(), "fulfillment-orders".into());
    config.insert("database.server.name".into(), "fulfillment-orders".into());
    config.insert("transforms.route.replacement".into(), "$2.$3".into());
    let m = migrate_connector(&config, &MigrateOptions::default());
    assert!(m.is_blocked());
    let finding = m
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::KindUndecided)
        .expect("reported");
    assert!(finding.message.contains("neither"), "{}", finding.message);
    assert_eq!(m.config["topic.prefix"], "fulfillment-orders");
    assert_eq!(m.config["transforms.route.replacement"], "$2.$3");
    assert!(m.config.contains_key("acks"), "CT rules were not applied");
    let chosen = MigrateOptions {
        kind: Some(ConnectorKind::Ct),
        ..MigrateOptions::default()
    };
    let m = migrate_connector(&config, &chosen);
    assert_eq!(m.config["transforms.route.replacement"], "ct.$2.$3");
    assert!(
        has(&m, FindingKind::TopicChange, "transforms.route.replacement"),
        "{m}"
    );
}

#[test]
fn transaction_topic_becomes_a_suffix_of_the_prefix() {
    let cases = [
        (
            "ct-digikala_fulfillment-slave.transaction",
            Some("transaction"),
        ),
        ("${database.server.name}.tx", Some("tx")),
        ("elsewhere.tx", None),
    ];
    for (value, expected) in cases {
        let mut config = fixture(CT_19);
        config.insert("transaction.topic".into(), value.into());
        let m = migrate_connector(&config, &MigrateOptions::default());
        assert_eq!(
            m.config.get("topic.transaction").map(String::as_str),
            expected,
            "{value}"
        );
        assert_eq!(
            m.config.contains_key("transaction.topic"),
            expected.is_none(),
            "{value}"
        );
        assert_eq!(
            has(&m, FindingKind::AmbiguousKey, "transaction.topic"),
            expected.is_none(),
            "{value}"
        );
    }
}

#[test]
fn idempotence_is_opt_in_and_checks_its_requirements() {
    let options = MigrateOptions {
        enable_idempotence: true,
        ..with_server_id()
    };
    let m = migrate_connector(&fixture(CDC_19), &options);
    assert_eq!(m.config["producer.override.enable.idempotence"], "true");
    assert!(
        m.changes
            .iter()
            .any(|c| c.rule == "opt.idempotence" && c.op == ChangeOp::Set)
    );
    assert!(!m.is_blocked(), "{m}");
    let mut weak = fixture(CDC_19);
    weak.insert("producer.override.acks".into(), "1".into());
    let m = migrate_connector(&weak, &options);
    assert!(has(&m, FindingKind::Conflict, "producer.override.acks"));
    assert_idempotent(&migrate_connector(&fixture(CDC_19), &options), &options);
}

#[test]
fn clean_names_are_not_pinned_and_leading_digits_cannot_be_fixed() {
    let mut clean = fixture(CT_19);
    clean.insert("database.server.name".into(), "ct_fulfillment".into());
    let m = migrate_connector(&clean, &MigrateOptions::default());
    assert!(!m.config.contains_key("schema.name.adjustment.mode"), "{m}");
    assert_eq!(
        m.drift.as_ref().map(|d| d.verdict),
        Some(DriftVerdict::Unchanged)
    );
    assert_idempotent(&m, &MigrateOptions::default());

    let mut digit = fixture(CT_19);
    digit.insert("database.server.name".into(), "9ct-fulfillment".into());
    let m = migrate_connector(&digit, &MigrateOptions::default());
    assert_eq!(m.config["schema.name.adjustment.mode"], "avro");
    assert!(
        m.errors().any(|f| f.kind == FindingKind::SchemaNameDrift),
        "{m}"
    );
}

#[test]
fn a_missing_router_skips_the_replacement_rule() {
    let mut config = fixture(CT_19);
    for key in [
        "transforms",
        "transforms.route.type",
        "transforms.route.regex",
        "transforms.route.replacement",
    ] {
        config.remove(key);
    }
    let m = migrate_connector(
        &config,
        &MigrateOptions {
            kind: Some(ConnectorKind::Ct),
            ..MigrateOptions::default()
        },
    );
    assert!(!m.config.contains_key("transforms.route.replacement"));
    assert!(has(
        &m,
        FindingKind::TopicChange,
        "transforms.route.replacement"
    ));
}
