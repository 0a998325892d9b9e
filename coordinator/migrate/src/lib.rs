//! Pure migration logic for kroll: no I/O, no async.
//!
//! The coordinator feeds this crate what it read from Kafka Connect, Schema
//! Registry and Docker, and acts on what it returns:
//!
//! - [`migrate_connector`] turns a Debezium MySQL 1.9 connector config into a 3.0
//!   one, driven by the rule table in [`rules`] (the brief's rename table plus the
//!   journal's CDC and CT variants). It returns the migrated config, every
//!   [`Change`] with the rule that made it (a `--dry-run` diff), and [`Finding`]s:
//!   unknown, ambiguous and removed keys, conflicts, missing values. Running it on
//!   its own output changes nothing.
//! - [`predict_drift`] predicts the Avro schema names Debezium 1.9 and 3.0 give each
//!   captured table, so the key-schema drift of the journal ("the clusterfuck") is
//!   prevented before it happens; [`route_topic`] gives the topic (and so the
//!   `<topic>-key` subject) a record lands in; [`partition`] has Kafka's murmur2
//!   partitioner to count how many keys a new key schema id would move.
//! - [`migrate_connect_env`] rewrites a Connect container's environment for the
//!   cp-kafka-connect image (the `CONNECT_` prefixes, listeners, the heap variable).
//!
//! # Layout
//!
//! - `lib.rs` — this overview, [`Config`], [`config_from_json`], re-exports.
//! - [`rules`] — the rule table: ids, descriptions, actions, order.
//! - `engine.rs` — applies data rules to a config: renames, removals, sets, conflicts
//!   (`engine_cases.rs`: one test case per data rule).
//! - `custom.rs` — the logic-bearing rules (driver pass-through, transaction topic,
//!   server id, the schema-name guard).
//! - `checks.rs` — post-migration checks: required values, unknown keys, changed defaults.
//! - `migrate.rs` — [`migrate_connector`], [`MigrateOptions`], [`Migration`].
//! - [`kind`] — Debezium or not; CDC or CT, with the evidence.
//! - [`keys`] — known connector keys and the `database.*` classification.
//! - [`finding`] — [`Change`], [`Finding`], severities, secret masking.
//! - [`naming`] — Debezium's Avro name adjustment, 1.9 and 3.0, every mode.
//! - [`tables`] — captured tables from include/exclude lists.
//! - [`drift`] — schema-name prediction per table.
//! - [`route`] — `RegexRouter` with Java `matches()` + `replaceFirst` semantics.
//! - [`partition`] — murmur2, the default partitioner, Confluent key bytes.
//! - `env_patch.rs`, `env_vars.rs`, `env.rs` — [`EnvPatch`], how each Connect variable is
//!   classified, and the Connect environment migration.
//! - [`error`] — error types.
//! - `journal_tests.rs` — end-to-end migrations of configs modelled on the journal's.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

mod checks;
mod custom;
pub mod drift;
mod engine;
mod env;
mod env_patch;
mod env_vars;
pub mod error;
pub mod finding;
pub mod keys;
pub mod kind;
mod migrate;
pub mod naming;
pub mod partition;
pub mod route;
pub mod rules;
pub mod tables;

#[cfg(test)]
mod journal_tests;

pub use drift::{DriftReport, DriftVerdict, SchemaNames, TableDrift, predict, predict_drift};
pub use env::{
    EnvMigration, EnvTarget, HeapVariable, REQUIRED_CONNECT_VARIABLES, migrate_connect_env,
};
pub use env_patch::{Env, EnvPatch, describe_patch};
pub use env_vars::env_to_property;
pub use error::{ConfigError, DriftError, EnvConflict, EnvError, FilterError, RouteError};
pub use finding::{Change, ChangeOp, Finding, FindingKind, Severity};
pub use kind::{ConnectorClass, ConnectorKind, KindDecision};
pub use migrate::{MigrateOptions, Migration, migrate_connector};
pub use naming::NameRules;
pub use route::route_topic;
pub use tables::{CapturedTables, TableId, captured_tables};

/// A connector config as Kafka Connect's REST API returns it: string keys and values.
pub type Config = BTreeMap<String, String>;

/// Parses a connector config from JSON (`GET /connectors/{name}/config`).
///
/// Numbers and booleans are accepted and turned into their JSON text, as Connect does
/// when it stores a config submitted with them.
pub fn config_from_json(json: &str) -> Result<Config, ConfigError> {
    let serde_json::Value::Object(map) = serde_json::from_str(json)? else {
        return Err(ConfigError::NotObject);
    };
    map.into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => Ok((key, text)),
            serde_json::Value::Number(n) => Ok((key, n.to_string())),
            serde_json::Value::Bool(b) => Ok((key, b.to_string())),
            _ => Err(ConfigError::NonScalar { key }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_from_connects_json() {
        let config = config_from_json(r#"{"name":"a","tasks.max":1,"x":true}"#).expect("valid");
        assert_eq!(config["tasks.max"], "1");
        assert_eq!(config["x"], "true");
        assert!(matches!(
            config_from_json("[1]"),
            Err(ConfigError::NotObject)
        ));
        assert!(matches!(
            config_from_json(r#"{"a":null}"#),
            Err(ConfigError::NonScalar { key }) if key == "a"
        ));
        assert!(matches!(config_from_json("{"), Err(ConfigError::Json(_))));
    }

    #[test]
    fn a_migration_round_trips_through_json_for_the_run_journal() {
        let config = config_from_json(
            r#"{"name": "ct-x", "connector.class": "io.debezium.connector.mysql.MySqlConnector",
                "database.server.name": "ct-x", "database.server.id": "7"}"#,
        )
        .expect("valid");
        let migration = migrate_connector(&config, &MigrateOptions::default());
        let json = serde_json::to_string(&migration).expect("serializable");
        let back: Migration = serde_json::from_str(&json).expect("deserializable");
        assert_eq!(back, migration);
        assert!(
            json.contains(r#""class":{"type":"debezium_mysql"}"#),
            "{json}"
        );
    }
}
