//! Test cases for the data rules: rule id, input config, expected config.

/// A data rule, its input config and the config it must produce.
pub(crate) type Case = (&'static str, Pairs, Pairs);
pub(crate) type Pairs = &'static [(&'static str, &'static str)];

/// One case per data rule (and a few no-op cases).
pub(crate) const DATA_RULE_CASES: &[Case] = &[
    (
        "cdc.drop.producer-request-timeout",
        &[("producer.request.timeout.ms", "1")],
        &[],
    ),
    (
        "cdc.drop.producer-compression",
        &[("producer.compression.type", "gzip")],
        &[],
    ),
    (
        "cdc.drop.producer-batch-size",
        &[("producer.batch.size", "1")],
        &[],
    ),
    (
        "ct.history-captured-ddl",
        &[],
        &[(
            "schema.history.internal.store.only.captured.tables.ddl",
            "true",
        )],
    ),
    (
        "cdc.field-name-adjustment",
        &[],
        &[("field.name.adjustment.mode", "avro")],
    ),
    (
        "dbz.history-monitored-ddl",
        &[("database.history.store.only.monitored.tables.ddl", "true")],
        &[],
    ),
    (
        "dbz.topic-prefix",
        &[("database.server.name", "cdc-a")],
        &[("topic.prefix", "cdc-a")],
    ),
    (
        "dbz.history-class",
        &[(
            "database.history",
            "io.debezium.relational.history.KafkaDatabaseHistory",
        )],
        &[(
            "schema.history.internal",
            "io.debezium.storage.kafka.history.KafkaSchemaHistory",
        )],
    ),
    (
        "dbz.history-prefix",
        &[
            ("database.history.kafka.topic", "h"),
            ("database.history.producer.security.protocol", "SASL"),
        ],
        &[
            ("schema.history.internal.kafka.topic", "h"),
            ("schema.history.internal.producer.security.protocol", "SASL"),
        ],
    ),
    (
        "dbz.table-include",
        &[("table.whitelist", "a.b")],
        &[("table.include.list", "a.b")],
    ),
    (
        "dbz.table-exclude",
        &[("table.blacklist", "a.b")],
        &[("table.exclude.list", "a.b")],
    ),
    (
        "dbz.database-include",
        &[("database.whitelist", "a")],
        &[("database.include.list", "a")],
    ),
    (
        "dbz.database-exclude",
        &[("database.blacklist", "a")],
        &[("database.exclude.list", "a")],
    ),
    (
        "dbz.column-include",
        &[("column.whitelist", "a.b.c")],
        &[("column.include.list", "a.b.c")],
    ),
    (
        "dbz.column-exclude",
        &[("column.blacklist", "a.b.c")],
        &[("column.exclude.list", "a.b.c")],
    ),
    (
        "dbz.field-name-adjustment",
        &[("sanitize.field.names", "TRUE")],
        &[("field.name.adjustment.mode", "avro")],
    ),
    (
        "dbz.heartbeat-prefix",
        &[("heartbeat.topics.prefix", "hb")],
        &[("topic.heartbeat.prefix", "hb")],
    ),
    (
        "dbz.event-processing-failure",
        &[("event.deserialization.failure.handling.mode", "warn")],
        &[("event.processing.failure.handling.mode", "warn")],
    ),
    (
        "dbz.removed.source-struct-version",
        &[("source.struct.version", "v2")],
        &[],
    ),
    (
        "dbz.removed.snapshot-new-tables",
        &[("snapshot.new.tables", "parallel")],
        &[],
    ),
    (
        "dbz.removed.gtid-new-channel-position",
        &[("gtid.new.channel.position", "earliest")],
        &[],
    ),
    (
        "dbz.removed.internal-implementation",
        &[("internal.implementation", "legacy")],
        &[],
    ),
    (
        "dbz.snapshot-mode.no-data",
        &[("snapshot.mode", "schema_only")],
        &[("snapshot.mode", "no_data")],
    ),
    (
        "dbz.snapshot-mode.recovery",
        &[("snapshot.mode", "schema_only_recovery")],
        &[("snapshot.mode", "recovery")],
    ),
    (
        "dbz.snapshot-mode.no-data",
        &[("snapshot.mode", "initial")],
        &[("snapshot.mode", "initial")],
    ),
    (
        "cdc.route-replacement",
        &[("transforms.route.replacement", "$2.$3")],
        &[("transforms.route.replacement", "supernova.$2.$3")],
    ),
    (
        "ct.route-replacement",
        &[],
        &[("transforms.route.replacement", "ct.$2.$3")],
    ),
    ("ct.drop.acks", &[("acks", "all")], &[]),
    (
        "cdc.drop.producer-linger",
        &[("producer.linger.ms", "5")],
        &[],
    ),
    (
        "cdc.drop.override-policy",
        &[("connector.client.config.override.policy", "All")],
        &[],
    ),
    (
        "cdc.producer-linger",
        &[],
        &[("producer.override.linger.ms", "100")],
    ),
    (
        "cdc.producer-linger",
        &[("producer.override.linger.ms", "20")],
        &[("producer.override.linger.ms", "20")],
    ),
    (
        "cdc.producer-compression",
        &[],
        &[("producer.override.compression.type", "lz4")],
    ),
    (
        "cdc.producer-batch-size",
        &[],
        &[("producer.override.batch.size", "65536")],
    ),
    (
        "cdc.history-captured-ddl",
        &[(
            "schema.history.internal.store.only.captured.tables.ddl",
            "false",
        )],
        &[(
            "schema.history.internal.store.only.captured.tables.ddl",
            "true",
        )],
    ),
    (
        "ct.field-name-adjustment",
        &[("field.name.adjustment.mode", "none")],
        &[("field.name.adjustment.mode", "avro")],
    ),
    (
        "opt.idempotence",
        &[],
        &[("producer.override.enable.idempotence", "true")],
    ),
];
