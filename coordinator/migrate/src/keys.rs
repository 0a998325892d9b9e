//! Which connector config keys are known, and what a `database.*` key is.
//!
//! The lists cover Debezium MySQL 1.9 and 3.0 options plus the keys Kafka Connect
//! itself reads from a connector config (converters, transforms, predicates,
//! error handling, client overrides, topic creation, exactly-once). A key in none
//! of them is reported as unknown and kept: an unknown key is information, not a
//! reason to change anything.

/// The Debezium MySQL connector class (1.x, 2.x and 3.x alike).
pub const MYSQL_CONNECTOR_CLASS: &str = "io.debezium.connector.mysql.MySqlConnector";

/// Keys Kafka Connect reads from every connector config.
const CONNECT_KEYS: &[&str] = &[
    "name",
    "connector.class",
    "tasks.max",
    "key.converter",
    "value.converter",
    "header.converter",
    "transforms",
    "predicates",
    "config.action.reload",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "errors.tolerance",
    "errors.log.enable",
    "errors.log.include.messages",
    "topic.creation.groups",
    "exactly.once.support",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
    "offsets.storage.topic",
];

/// Key families Kafka Connect reads (`<prefix><anything>`).
const CONNECT_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "transforms.",
    "predicates.",
    "topic.creation.",
    "producer.override.",
    "consumer.override.",
    "admin.override.",
];

/// Debezium MySQL options with the same name in 1.9 and 3.0.
const DEBEZIUM_SHARED_KEYS: &[&str] = &[
    "database.hostname",
    "database.port",
    "database.user",
    "database.password",
    "database.server.id",
    "database.server.id.offset",
    "database.include.list",
    "database.exclude.list",
    "database.ssl.mode",
    "database.ssl.keystore",
    "database.ssl.keystore.password",
    "database.ssl.truststore",
    "database.ssl.truststore.password",
    "database.initial.statements",
    "database.jdbc.driver",
    "database.query.timeout.ms",
    "table.include.list",
    "table.exclude.list",
    "table.ignore.builtin",
    "column.include.list",
    "column.exclude.list",
    "column.propagate.source.type",
    "datatype.propagate.source.type",
    "message.key.columns",
    "include.schema.changes",
    "include.schema.comments",
    "include.query",
    "tombstones.on.delete",
    "snapshot.mode",
    "snapshot.locking.mode",
    "snapshot.include.collection.list",
    "snapshot.select.statement.overrides",
    "snapshot.delay.ms",
    "snapshot.fetch.size",
    "snapshot.lock.timeout.ms",
    "snapshot.max.threads",
    "min.row.count.to.stream.results",
    "max.queue.size",
    "max.queue.size.in.bytes",
    "max.batch.size",
    "poll.interval.ms",
    "heartbeat.interval.ms",
    "heartbeat.action.query",
    "connect.timeout.ms",
    "connect.keep.alive",
    "connect.keep.alive.interval.ms",
    "binlog.buffer.size",
    "gtid.source.includes",
    "gtid.source.excludes",
    "gtid.source.filter.dml.events",
    "inconsistent.schema.handling.mode",
    "event.processing.failure.handling.mode",
    "time.precision.mode",
    "decimal.handling.mode",
    "bigint.unsigned.handling.mode",
    "binary.handling.mode",
    "enable.time.adjuster",
    "skipped.operations",
    "signal.data.collection",
    "incremental.snapshot.chunk.size",
    "incremental.snapshot.allow.schema.changes",
    "read.only",
    "provide.transaction.metadata",
    "converters",
    "schema.name.adjustment.mode",
    "retriable.restart.connector.wait.ms",
    "query.fetch.size",
];

/// Debezium MySQL 1.9 options that 3.0 renamed or removed (the rules handle them).
const DEBEZIUM_19_ONLY_KEYS: &[&str] = &[
    "database.server.name",
    "database.history",
    "database.whitelist",
    "database.blacklist",
    "table.whitelist",
    "table.blacklist",
    "column.whitelist",
    "column.blacklist",
    "sanitize.field.names",
    "transaction.topic",
    "heartbeat.topics.prefix",
    "event.deserialization.failure.handling.mode",
    "source.struct.version",
    "snapshot.new.tables",
    "gtid.new.channel.position",
    "internal.implementation",
];

/// Debezium MySQL 3.0 options that 1.9 did not have.
const DEBEZIUM_30_ONLY_KEYS: &[&str] = &[
    "topic.prefix",
    "topic.delimiter",
    "topic.cache.size",
    "topic.naming.strategy",
    "topic.transaction",
    "topic.heartbeat.prefix",
    "schema.history.internal",
    "field.name.adjustment.mode",
    "database.protocol",
    "snapshot.mode.custom.name",
    "snapshot.locking.mode.custom.name",
    "snapshot.query.mode",
    "snapshot.query.mode.custom.name",
    "snapshot.tables.order.by.row.count",
    "signal.enabled.channels",
    "signal.poll.interval.ms",
    "notification.enabled.channels",
    "notification.sink.topic.name",
    "incremental.snapshot.watermarking.strategy",
    "streaming.delay.ms",
    "errors.max.retries",
    "custom.metric.tags",
    "use.nongraceful.disconnect",
    "skip.messages.without.change",
    "post.processors",
    "extended.headers.enabled",
];

/// Debezium key families (`<prefix><anything>`), 1.9 and 3.0.
const DEBEZIUM_PREFIXES: &[&str] = &[
    "database.history.",
    "schema.history.internal.",
    "driver.",
    "column.mask.with.",
    "column.mask.hash.",
    "column.truncate.to.",
    "snapshot.select.statement.overrides.",
    "snapshot.mode.configuration.based.",
    "signal.kafka.",
    "signal.consumer.",
    "openlineage.integration.",
];

/// MySQL Connector/J properties that a 1.9 config passes to the driver as `database.<property>`.
///
/// Debezium 3.0 only forwards `driver.<property>`; these are moved. Names are the
/// driver's own (case-sensitive) spelling.
pub const JDBC_DRIVER_PROPERTIES: &[&str] = &[
    "allowMultiQueries",
    "allowPublicKeyRetrieval",
    "autoReconnect",
    "cachePrepStmts",
    "characterEncoding",
    "characterSetResults",
    "clientCertificateKeyStorePassword",
    "clientCertificateKeyStoreType",
    "clientCertificateKeyStoreUrl",
    "connectTimeout",
    "connectionCollation",
    "connectionTimeZone",
    "defaultFetchSize",
    "enabledSslCipherSuites",
    "enabledTLSProtocols",
    "forceConnectionTimeZoneToSession",
    "maxAllowedPacket",
    "netTimeoutForStreamingResults",
    "noDatetimeStringSync",
    "nullCatalogMeansCurrent",
    "preserveInstants",
    "requireSSL",
    "rewriteBatchedStatements",
    "serverRSAPublicKeyFile",
    "serverTimezone",
    "sessionVariables",
    "socketTimeout",
    "sslMode",
    "tcpKeepAlive",
    "tcpNoDelay",
    "tinyInt1isBit",
    "tlsCiphersuites",
    "tlsVersions",
    "transformedBitIsBoolean",
    "trustCertificateKeyStorePassword",
    "trustCertificateKeyStoreType",
    "trustCertificateKeyStoreUrl",
    "useCompression",
    "useCursorFetch",
    "useInformationSchema",
    "useLegacyDatetimeCode",
    "useSSL",
    "useServerPrepStmts",
    "useTimezone",
    "useUnicode",
    "verifyServerCertificate",
    "yearIsDateType",
    "zeroDateTimeBehavior",
];

/// What a `database.*` key of a 1.9 config is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKey<'a> {
    /// A Debezium connector option (kept, or renamed by another rule).
    ConnectorOption,
    /// A MySQL Connector/J property passed through to the driver; the property name.
    DriverProperty(&'a str),
    /// Neither: moving it blindly could break the connection or silently drop a setting.
    Ambiguous,
}

/// Classifies a key that starts with `database.`; `None` for any other key.
pub fn classify_database_key(key: &str) -> Option<DatabaseKey<'_>> {
    let rest = key.strip_prefix("database.")?;
    if key == "database.history"
        || key.starts_with("database.history.")
        || DEBEZIUM_SHARED_KEYS.contains(&key)
        || DEBEZIUM_19_ONLY_KEYS.contains(&key)
    {
        return Some(DatabaseKey::ConnectorOption);
    }
    if JDBC_DRIVER_PROPERTIES.contains(&rest) {
        return Some(DatabaseKey::DriverProperty(rest));
    }
    Some(DatabaseKey::Ambiguous)
}

/// Whether `key` is a known Debezium MySQL (1.9 or 3.0) or Kafka Connect connector key.
///
/// `converter_aliases` are the names listed in the config's `converters` key: their
/// `<alias>.*` keys configure custom converters and are known too.
pub fn is_known_key(key: &str, converter_aliases: &[&str]) -> bool {
    let exact = [
        CONNECT_KEYS,
        DEBEZIUM_SHARED_KEYS,
        DEBEZIUM_19_ONLY_KEYS,
        DEBEZIUM_30_ONLY_KEYS,
    ];
    if exact.iter().any(|list| list.contains(&key)) {
        return true;
    }
    if CONNECT_PREFIXES
        .iter()
        .chain(DEBEZIUM_PREFIXES)
        .any(|prefix| key.starts_with(prefix))
    {
        return true;
    }
    converter_aliases.iter().any(|alias| {
        key.strip_prefix(alias)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// A hint for an unknown key, when its shape says what was probably meant.
pub fn unknown_key_hint(key: &str) -> Option<&'static str> {
    if key.starts_with("producer.") || key.starts_with("consumer.") {
        return Some(
            "Connect ignores client settings in a connector config unless they are spelled \
             producer.override.* / consumer.override.*",
        );
    }
    match key {
        "acks" => Some("a producer setting; in a connector config use producer.override.acks"),
        "connector.client.config.override.policy" => {
            Some("a worker setting; it has no effect in a connector config")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_keys_are_told_apart() {
        let cases = [
            ("database.hostname", DatabaseKey::ConnectorOption),
            ("database.server.id", DatabaseKey::ConnectorOption),
            ("database.server.name", DatabaseKey::ConnectorOption),
            ("database.history.kafka.topic", DatabaseKey::ConnectorOption),
            ("database.ssl.mode", DatabaseKey::ConnectorOption),
            ("database.whitelist", DatabaseKey::ConnectorOption),
            (
                "database.serverTimezone",
                DatabaseKey::DriverProperty("serverTimezone"),
            ),
            (
                "database.allowPublicKeyRetrieval",
                DatabaseKey::DriverProperty("allowPublicKeyRetrieval"),
            ),
            ("database.servertimezone", DatabaseKey::Ambiguous),
            ("database.fancy.option", DatabaseKey::Ambiguous),
        ];
        for (key, expected) in cases {
            assert_eq!(classify_database_key(key), Some(expected), "{key}");
        }
        assert_eq!(classify_database_key("table.include.list"), None);
    }

    #[test]
    fn known_keys_cover_connect_debezium_and_converter_aliases() {
        for key in [
            "name",
            "transforms.route.regex",
            "key.converter.schema.registry.url",
            "producer.override.linger.ms",
            "schema.history.internal.kafka.topic",
            "database.history.kafka.topic",
            "topic.prefix",
            "driver.serverTimezone",
            "column.mask.with.12.chars",
        ] {
            assert!(is_known_key(key, &[]), "{key}");
        }
        assert!(is_known_key("boolean.type", &["boolean"]));
        assert!(!is_known_key("booleanx.type", &["boolean"]));
        for key in ["acks", "producer.linger.ms", "my.custom.thing"] {
            assert!(!is_known_key(key, &[]), "{key}");
        }
        assert!(unknown_key_hint("producer.linger.ms").is_some());
        assert!(unknown_key_hint("my.custom.thing").is_none());
    }
}
