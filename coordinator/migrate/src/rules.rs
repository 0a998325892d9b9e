//! The rule table: every change the Debezium MySQL 1.9 → 3.0 migration can make.
//!
//! Rules run in table order: [`COMMON_RULES`] on every Debezium MySQL connector,
//! then [`CDC_RULES`] or [`CT_RULES`] (the journal's two variants, by connector
//! kind), then the opt-in [`IDEMPOTENCE_RULE`], then [`SCHEMA_NAME_GUARD`]. Most
//! rules are data ([`Action`]); the few that need logic name it with
//! [`Action::Custom`] and are implemented in `migrate.rs`. Every rule has an id
//! that the [`crate::Change`]s it makes carry, so a diff line can be traced back.

/// What a set-rule does when the key already has a different value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetPolicy {
    /// Replace it (the change and a warning finding say so).
    Always,
    /// Keep the operator's value (an info finding says so).
    IfAbsent,
}

/// What a renamed key's value becomes when it is not in the rule's value map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherValues {
    /// Kept as is: every value means the same under the new name.
    Keep,
    /// Kept as is, with a warning: the value may not mean the same under the new name.
    Warn,
}

/// Logic-bearing rules, implemented in `migrate.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Custom {
    /// `database.<driver property>` → `driver.<driver property>`; unknown `database.*` → ambiguous.
    DriverPassThrough,
    /// `transaction.topic` (a full topic name) → `topic.transaction` (a suffix after the prefix).
    TransactionTopic,
    /// `database.server.id` has no default in 3.0: keep it, take the operator's, or fail.
    ServerId,
    /// Pin `schema.name.adjustment.mode=avro` where 3.0's `none` default would rename schemas.
    SchemaNameGuard,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Rename one key; `values` rewrites listed values on the way (exact, ASCII case-insensitive).
    RenameKey {
        /// Old key.
        from: &'static str,
        /// New key.
        to: &'static str,
        /// `(old value, new value)` pairs.
        values: &'static [(&'static str, &'static str)],
        /// What happens to values not listed.
        other: OtherValues,
    },
    /// Rename every key starting with `from` to start with `to` instead.
    RenamePrefix {
        /// Old prefix (with its trailing dot).
        from: &'static str,
        /// New prefix (with its trailing dot).
        to: &'static str,
    },
    /// Remove a key.
    RemoveKey {
        /// The key.
        key: &'static str,
    },
    /// Set a key.
    SetKey {
        /// The key.
        key: &'static str,
        /// The value.
        value: &'static str,
        /// Whether an existing different value is replaced.
        policy: SetPolicy,
    },
    /// Replace one value of a key by another.
    RewriteValue {
        /// The key.
        key: &'static str,
        /// The old value.
        from: &'static str,
        /// The new value.
        to: &'static str,
    },
    /// Logic that is not a table entry.
    Custom(Custom),
}

/// One migration rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, carried by every change the rule makes.
    pub id: &'static str,
    /// What it does and why, for the operator.
    pub description: &'static str,
    /// The action.
    pub action: Action,
}

const fn rename(
    id: &'static str,
    from: &'static str,
    to: &'static str,
    description: &'static str,
) -> Rule {
    Rule {
        id,
        description,
        action: Action::RenameKey {
            from,
            to,
            values: &[],
            other: OtherValues::Keep,
        },
    }
}

const fn remove(id: &'static str, key: &'static str, description: &'static str) -> Rule {
    Rule {
        id,
        description,
        action: Action::RemoveKey { key },
    }
}

const fn set(
    id: &'static str,
    key: &'static str,
    value: &'static str,
    policy: SetPolicy,
    description: &'static str,
) -> Rule {
    Rule {
        id,
        description,
        action: Action::SetKey { key, value, policy },
    }
}

const fn custom(id: &'static str, which: Custom, description: &'static str) -> Rule {
    Rule {
        id,
        description,
        action: Action::Custom(which),
    }
}

/// Schema history implementations: 1.9 class → 3.0 class.
const HISTORY_CLASSES: &[(&str, &str)] = &[
    (
        "io.debezium.relational.history.KafkaDatabaseHistory",
        "io.debezium.storage.kafka.history.KafkaSchemaHistory",
    ),
    (
        "io.debezium.relational.history.FileDatabaseHistory",
        "io.debezium.storage.file.history.FileSchemaHistory",
    ),
    (
        "io.debezium.relational.history.MemoryDatabaseHistory",
        "io.debezium.relational.history.MemorySchemaHistory",
    ),
];

/// Rules for every Debezium MySQL connector, in the order they run.
pub const COMMON_RULES: &[Rule] = &[
    remove(
        "dbz.history-monitored-ddl",
        "database.history.store.only.monitored.tables.ddl",
        "Removed in 3.0 (it was the deprecated spelling of store.only.captured.tables.ddl).",
    ),
    rename(
        "dbz.topic-prefix",
        "database.server.name",
        "topic.prefix",
        "database.server.name became topic.prefix. The value is kept: source offsets are keyed {\"server\": <value>}, \
         topics and schema names start with it.",
    ),
    Rule {
        id: "dbz.history-class",
        description: "database.history became schema.history.internal; the 1.9 class names are replaced by their 3.0 \
                      equivalents (Kafka: io.debezium.storage.kafka.history.KafkaSchemaHistory).",
        action: Action::RenameKey {
            from: "database.history",
            to: "schema.history.internal",
            values: HISTORY_CLASSES,
            other: OtherValues::Warn,
        },
    },
    Rule {
        id: "dbz.history-prefix",
        description: "database.history.* (kafka.*, producer.*, consumer.*, skip.unparseable.ddl, \
                      store.only.captured.tables.ddl, ddl.filter, …) became schema.history.internal.*, same suffixes.",
        action: Action::RenamePrefix {
            from: "database.history.",
            to: "schema.history.internal.",
        },
    },
    rename(
        "dbz.table-include",
        "table.whitelist",
        "table.include.list",
        "table.whitelist became table.include.list.",
    ),
    rename(
        "dbz.table-exclude",
        "table.blacklist",
        "table.exclude.list",
        "table.blacklist became table.exclude.list.",
    ),
    rename(
        "dbz.database-include",
        "database.whitelist",
        "database.include.list",
        "database.whitelist became database.include.list.",
    ),
    rename(
        "dbz.database-exclude",
        "database.blacklist",
        "database.exclude.list",
        "database.blacklist became database.exclude.list.",
    ),
    rename(
        "dbz.column-include",
        "column.whitelist",
        "column.include.list",
        "column.whitelist became column.include.list.",
    ),
    rename(
        "dbz.column-exclude",
        "column.blacklist",
        "column.exclude.list",
        "column.blacklist became column.exclude.list.",
    ),
    Rule {
        id: "dbz.field-name-adjustment",
        description: "sanitize.field.names became field.name.adjustment.mode: true → avro, false → none.",
        action: Action::RenameKey {
            from: "sanitize.field.names",
            to: "field.name.adjustment.mode",
            values: &[("true", "avro"), ("false", "none")],
            other: OtherValues::Warn,
        },
    },
    custom(
        "dbz.transaction-topic",
        Custom::TransactionTopic,
        "transaction.topic (a full topic name, default <server name>.transaction) became topic.transaction, a suffix \
         that 3.0 appends to topic.prefix: '<prefix>.' is stripped from the value; any other value cannot be expressed.",
    ),
    rename(
        "dbz.heartbeat-prefix",
        "heartbeat.topics.prefix",
        "topic.heartbeat.prefix",
        "heartbeat.topics.prefix became topic.heartbeat.prefix (same meaning: <value>.<topic prefix>).",
    ),
    rename(
        "dbz.event-processing-failure",
        "event.deserialization.failure.handling.mode",
        "event.processing.failure.handling.mode",
        "event.deserialization.failure.handling.mode became event.processing.failure.handling.mode.",
    ),
    remove(
        "dbz.removed.source-struct-version",
        "source.struct.version",
        "Removed in 3.0 (only the v2 source block exists).",
    ),
    remove(
        "dbz.removed.snapshot-new-tables",
        "snapshot.new.tables",
        "Removed in 3.0 (use incremental snapshots).",
    ),
    remove(
        "dbz.removed.gtid-new-channel-position",
        "gtid.new.channel.position",
        "Removed in 3.0.",
    ),
    remove(
        "dbz.removed.internal-implementation",
        "internal.implementation",
        "Removed in 3.0 (the legacy 1.x implementation is gone).",
    ),
    Rule {
        id: "dbz.snapshot-mode.no-data",
        description: "snapshot.mode=schema_only is deprecated in 3.0; the same mode is called no_data.",
        action: Action::RewriteValue {
            key: "snapshot.mode",
            from: "schema_only",
            to: "no_data",
        },
    },
    Rule {
        id: "dbz.snapshot-mode.recovery",
        description: "snapshot.mode=schema_only_recovery is deprecated in 3.0; the same mode is called recovery.",
        action: Action::RewriteValue {
            key: "snapshot.mode",
            from: "schema_only_recovery",
            to: "recovery",
        },
    },
    custom(
        "dbz.driver-pass-through",
        Custom::DriverPassThrough,
        "3.0 passes only driver.* to the JDBC driver: database.<Connector/J property> moves to driver.<property>. \
         Debezium's own database.* options stay; any other database.* key is reported as ambiguous and kept.",
    ),
    custom(
        "dbz.server-id",
        Custom::ServerId,
        "database.server.id has no default in 3.0 (1.9 picked a random one): an existing value is kept, else the \
         operator's is set, else the migration fails.",
    ),
];

/// The journal's CDC variant (`update_cdc_config_to_v3_…`), in the order it runs.
pub const CDC_RULES: &[Rule] = &[
    set(
        "cdc.route-replacement",
        "transforms.route.replacement",
        "supernova.$2.$3",
        SetPolicy::Always,
        "CDC connectors route <prefix>.<db>.<table> to supernova.<db>.<table> (journal).",
    ),
    remove(
        "cdc.drop.producer-request-timeout",
        "producer.request.timeout.ms",
        "Not a connector setting (Connect reads producer.override.*); dropped as the journal does.",
    ),
    remove(
        "cdc.drop.producer-compression",
        "producer.compression.type",
        "Not a connector setting; replaced by producer.override.compression.type.",
    ),
    remove(
        "cdc.drop.producer-linger",
        "producer.linger.ms",
        "Not a connector setting; replaced by producer.override.linger.ms.",
    ),
    remove(
        "cdc.drop.producer-batch-size",
        "producer.batch.size",
        "Not a connector setting; replaced by producer.override.batch.size.",
    ),
    remove(
        "cdc.drop.override-policy",
        "connector.client.config.override.policy",
        "A worker setting with no effect in a connector config (the worker default is All since Kafka 3.0).",
    ),
    set(
        "cdc.producer-compression",
        "producer.override.compression.type",
        "lz4",
        SetPolicy::IfAbsent,
        "Compress CDC batches with lz4 (journal).",
    ),
    set(
        "cdc.producer-linger",
        "producer.override.linger.ms",
        "100",
        SetPolicy::IfAbsent,
        "Wait up to 100 ms to fill CDC batches (journal).",
    ),
    set(
        "cdc.producer-batch-size",
        "producer.override.batch.size",
        "65536",
        SetPolicy::IfAbsent,
        "64 KiB CDC batches (journal).",
    ),
    set(
        "cdc.history-captured-ddl",
        "schema.history.internal.store.only.captured.tables.ddl",
        "true",
        SetPolicy::Always,
        "Keep only the captured tables' DDL in the schema history topic (journal).",
    ),
    set(
        "cdc.field-name-adjustment",
        "field.name.adjustment.mode",
        "avro",
        SetPolicy::Always,
        "Sanitize field names as 1.9 did with Avro (3.0 defaults to none). A 1.9 connector that ran without \
         sanitizing could not have produced invalid Avro field names, so this renames nothing that exists.",
    ),
];

/// The journal's CT variant (`update_ct_config_to_v3_…`), in the order it runs.
pub const CT_RULES: &[Rule] = &[
    set(
        "ct.route-replacement",
        "transforms.route.replacement",
        "ct.$2.$3",
        SetPolicy::Always,
        "CT connectors route <prefix>.<db>.<table> to ct.<db>.<table> (journal).",
    ),
    remove(
        "ct.drop.acks",
        "acks",
        "Not a connector setting (Connect reads producer.override.acks); dropped as the journal does.",
    ),
    set(
        "ct.history-captured-ddl",
        "schema.history.internal.store.only.captured.tables.ddl",
        "true",
        SetPolicy::Always,
        "Keep only the captured tables' DDL in the schema history topic (journal).",
    ),
    set(
        "ct.field-name-adjustment",
        "field.name.adjustment.mode",
        "avro",
        SetPolicy::Always,
        "Sanitize field names as 1.9 did with Avro (3.0 defaults to none); see cdc.field-name-adjustment.",
    ),
];

/// Opt-in: turn on the idempotent producer for this connector's records.
pub const IDEMPOTENCE_RULE: Rule = set(
    "opt.idempotence",
    "producer.override.enable.idempotence",
    "true",
    SetPolicy::Always,
    "Off by default; the journal wants enable.idempotence=true. Kafka 3.0+ clients default to idempotence, but \
     Connect forces it off for its own producers, so it has to be set per connector as a producer override (the \
     worker's override policy must allow it; All is the default since Kafka 3.0). It only removes duplicates caused \
     by producer retries: it is not exactly-once delivery, and Debezium 3.0's MySQL connector does not support \
     exactly-once source (KIP-618). It needs acks=all, at most 5 in-flight requests and retries > 0. On \
     ACL-protected clusters the connector's principal needs IDEMPOTENT_WRITE on the cluster resource (brokers \
     before 2.8) or WRITE on the topics it produces to (2.8+, KIP-679).",
);

/// Pins `schema.name.adjustment.mode=avro` where names would otherwise change (runs last).
pub const SCHEMA_NAME_GUARD: Rule = custom(
    "guard.schema-name-adjustment",
    Custom::SchemaNameGuard,
    "Debezium 2.0 changed schema.name.adjustment.mode's default from avro to none, so a prefix, database or table \
     name with a character invalid in Avro (a dash, say) changes the key schema's name, hence its schema id, hence \
     the key bytes, hence the partition of every key. Set to avro (not avro_unicode) on every connector whose names \
     would change, or whose tables cannot all be enumerated.",
);

/// Every rule, in the order the migration can run them.
pub fn all_rules() -> impl Iterator<Item = &'static Rule> {
    COMMON_RULES
        .iter()
        .chain(CDC_RULES)
        .chain(CT_RULES)
        .chain([&IDEMPOTENCE_RULE, &SCHEMA_NAME_GUARD])
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    all_rules().find(|rule| rule.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn rule_ids_are_unique_and_findable() {
        let mut seen = BTreeSet::new();
        for each in all_rules() {
            assert!(seen.insert(each.id), "duplicate rule id {}", each.id);
            assert_eq!(rule(each.id).map(|r| r.id), Some(each.id));
            assert!(!each.description.is_empty(), "{}", each.id);
        }
        assert!(rule("no.such.rule").is_none());
    }

    #[test]
    fn removal_of_the_deprecated_history_key_runs_before_the_prefix_rename() {
        let position = |id: &str| COMMON_RULES.iter().position(|r| r.id == id);
        assert!(position("dbz.history-monitored-ddl") < position("dbz.history-prefix"));
        assert!(position("dbz.topic-prefix") < position("dbz.transaction-topic"));
    }

    #[test]
    fn idempotence_rule_states_its_caveats() {
        let text = IDEMPOTENCE_RULE.description;
        for needle in [
            "forces it off",
            "exactly-once source",
            "IDEMPOTENT_WRITE",
            "ACL",
        ] {
            assert!(text.contains(needle), "missing {needle:?}");
        }
    }
}
