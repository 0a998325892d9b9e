//! The Connect worker environment rewrite (the journal's "Update Sequence", step 2).
//!
//! The 7.1 image read unprefixed variables (`GROUP_ID`, `BOOTSTRAP_SERVERS`,
//! `ADVERTISED_HOST_NAME`, `HEAP_OPTS`, …). cp-kafka-connect turns every
//! `CONNECT_*` variable into a worker property (`_` → `.`, `__` → `_`, `___` → `-`,
//! lower-cased) and reads the heap from `KAFKA_HEAP_OPTS`. Each variable is put in
//! exactly one class:
//!
//! - already `CONNECT_*`: kept;
//! - the heap (`HEAP_OPTS`, `KAFKA_HEAP_OPTS`): renamed to the variable the target
//!   image reads — the journal kept `HEAP_OPTS`, which cp-kafka-connect ignores, so
//!   its workers ran with the image default (`-Xms256M -Xmx2G`) and hit
//!   `OutOfMemoryError`;
//! - renamed by name: `ADVERTISED_HOST_NAME` → `CONNECT_REST_ADVERTISED_HOST_NAME`,
//!   `ADVERTISED_PORT` → `CONNECT_REST_ADVERTISED_PORT`;
//! - gone since Kafka 3.0: `REST_PORT` (its port moves into `CONNECT_LISTENERS`) and
//!   `HOST_NAME` (`rest.host.name`): removed;
//! - not worker settings, kept as they are: `KAFKA_*` (script options: `KAFKA_JMX_*`,
//!   `KAFKA_OPTS`, `KAFKA_LOG4J_OPTS`, …), `JAVA_*`, `JMX_*`, `CONFLUENT_*`, `CUB_*`,
//!   `LC_*`, `ENABLE_*`, `MAVEN_*`, and `PATH`, `HOME`, `HOSTNAME`, `LANG`,
//!   `LANGUAGE`, `TZ`, `USER`, `PWD`, `SHLVL`, `TERM`, `COMPONENT`, `CLASSPATH`,
//!   `LOG_DIR`, `LOG_LEVEL`, `JMXHOST`, `JMXPORT`, `EXTRA_ARGS`;
//! - a known worker property (by the name it maps to): prefixed with `CONNECT_`;
//! - anything else: kept and reported, never prefixed on a guess.
//!
//! `CONNECT_LISTENERS=http://0.0.0.0:8083` is added when absent. `CONNECT_REST_PORT`
//! is *not* added although the journal does: `rest.port` was removed in Kafka 3.0, a
//! 7.7 worker ignores it, and `listeners` alone decides the port.

use serde::{Deserialize, Serialize};

use crate::env_patch::{Env, EnvPatch};
use crate::env_vars::{Class, classify, env_to_property};
use crate::error::{EnvConflict, EnvError};
use crate::finding::{Finding, FindingKind, Severity};

/// Variables cp-kafka-connect refuses to start without.
pub const REQUIRED_CONNECT_VARIABLES: &[&str] = &[
    "CONNECT_BOOTSTRAP_SERVERS",
    "CONNECT_GROUP_ID",
    "CONNECT_CONFIG_STORAGE_TOPIC",
    "CONNECT_OFFSET_STORAGE_TOPIC",
    "CONNECT_STATUS_STORAGE_TOPIC",
    "CONNECT_KEY_CONVERTER",
    "CONNECT_VALUE_CONVERTER",
    "CONNECT_REST_ADVERTISED_HOST_NAME",
];

/// The heap variable the target image's start scripts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HeapVariable {
    /// `KAFKA_HEAP_OPTS` (Apache Kafka scripts, cp-kafka-connect).
    #[default]
    KafkaHeapOpts,
    /// `HEAP_OPTS` (the Debezium connect image's entrypoint).
    HeapOpts,
}

impl HeapVariable {
    /// The variable name.
    pub fn name(self) -> &'static str {
        match self {
            Self::KafkaHeapOpts => "KAFKA_HEAP_OPTS",
            Self::HeapOpts => "HEAP_OPTS",
        }
    }
}

/// What the target Connect image reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnvTarget {
    /// Its heap variable.
    pub heap_variable: HeapVariable,
}

/// The result of a Connect environment migration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnvMigration {
    /// The changes to make.
    pub patch: EnvPatch,
    /// What the operator must know (unrecognised variables, the compose hostname, …).
    pub findings: Vec<Finding>,
}

#[derive(Default)]
struct Plan {
    migration: EnvMigration,
    conflicts: Vec<EnvConflict>,
}

impl Plan {
    /// Renames `from` to `to`, unless `to` already holds a value.
    fn rename(&mut self, env: &Env, from: &str, to: &str) {
        match env.get(to) {
            None => {
                self.migration
                    .patch
                    .rename
                    .insert(from.to_owned(), to.to_owned());
            }
            Some(existing) if env.get(from) == Some(existing) => {
                self.migration.patch.remove_var(from);
            }
            Some(_) => self.conflicts.push(EnvConflict {
                from: from.to_owned(),
                to: to.to_owned(),
            }),
        }
    }

    fn note(&mut self, severity: Severity, kind: FindingKind, name: &str, message: String) {
        self.migration
            .findings
            .push(Finding::about(severity, kind, name, message));
    }
}

fn plan_heap(plan: &mut Plan, env: &Env, target: EnvTarget) {
    let wanted = target.heap_variable.name();
    let other = match target.heap_variable {
        HeapVariable::KafkaHeapOpts => "HEAP_OPTS",
        HeapVariable::HeapOpts => "KAFKA_HEAP_OPTS",
    };
    if env.contains_key(other) && target.heap_variable == HeapVariable::KafkaHeapOpts {
        plan.rename(env, other, wanted);
        if !plan.migration.patch.rename.contains_key(other) {
            return;
        }
        let message = format!(
            "the target image reads {wanted} and ignores {other}: without this rename the workers run with the \
             image default (-Xms256M -Xmx2G) instead of {:?} — the likely cause of the journal's OutOfMemoryError",
            env[other]
        );
        plan.note(
            Severity::Warning,
            FindingKind::ValueReplaced,
            other,
            message,
        );
    } else if !env.contains_key(wanted) && !env.contains_key(other) {
        let message =
            "no heap variable is set: the workers run with the image default (-Xms256M -Xmx2G)"
                .to_owned();
        plan.note(
            Severity::Warning,
            FindingKind::DefaultChanged,
            wanted,
            message,
        );
    }
}

fn listener_port(plan: &mut Plan, env: &Env) -> u16 {
    let Some((name, value)) = ["REST_PORT", "CONNECT_REST_PORT"]
        .iter()
        .find_map(|name| env.get(*name).map(|value| (*name, value)))
    else {
        return 8083;
    };
    value.trim().parse().unwrap_or_else(|_| {
        let message = format!("{value:?} is not a port number; CONNECT_LISTENERS uses 8083");
        plan.note(Severity::Warning, FindingKind::AmbiguousKey, name, message);
        8083
    })
}

/// Computes the environment patch for one Connect container.
///
/// Errors when a variable cp-kafka-connect requires is missing after the patch, or
/// when a variable is set under its old and its new name with different values.
pub fn migrate_connect_env(env: &Env, target: EnvTarget) -> Result<EnvMigration, EnvError> {
    let mut plan = Plan::default();
    for name in env.keys() {
        match classify(name) {
            Class::Keep | Class::Heap => {}
            Class::Rename(to) => plan.rename(env, name, to),
            Class::Worker => plan.rename(env, name, &format!("CONNECT_{name}")),
            Class::Gone(why) => {
                plan.migration.patch.remove_var(name);
                plan.note(
                    Severity::Info,
                    FindingKind::RemovedKey,
                    name,
                    why.to_owned(),
                );
            }
            Class::Unknown => {
                let message = format!(
                    "neither a known worker setting ({}) nor a known non-worker variable: left unprefixed; prefix it \
                     with CONNECT_ by hand if the worker should read it",
                    env_to_property(name)
                );
                plan.note(Severity::Warning, FindingKind::UnknownKey, name, message);
            }
        }
    }
    if env.contains_key("CONNECT_REST_PORT") {
        let message = "rest.port was removed in Kafka 3.0: the worker ignores it; CONNECT_LISTENERS sets the port".to_owned();
        plan.note(
            Severity::Info,
            FindingKind::RemovedKey,
            "CONNECT_REST_PORT",
            message,
        );
    }
    plan_heap(&mut plan, env, target);
    let port = listener_port(&mut plan, env);
    if !env.contains_key("CONNECT_LISTENERS") {
        plan.migration
            .patch
            .set
            .insert("CONNECT_LISTENERS".into(), format!("http://0.0.0.0:{port}"));
    }
    finish(plan, env)
}

fn finish(mut plan: Plan, env: &Env) -> Result<EnvMigration, EnvError> {
    let patched = plan.migration.patch.apply_env(env);
    if let Some(host) = patched.get("CONNECT_REST_ADVERTISED_HOST_NAME") {
        let message = format!(
            "set the service's hostname and container_name to {host:?} in the compose file (the journal: otherwise \
             Connect won't work); kroll's caller does this, not the environment"
        );
        plan.note(
            Severity::Info,
            FindingKind::OperatorAction,
            "CONNECT_REST_ADVERTISED_HOST_NAME",
            message,
        );
    }
    let missing: Vec<String> = REQUIRED_CONNECT_VARIABLES
        .iter()
        .filter(|name| !patched.contains_key(**name))
        .map(|name| (*name).to_owned())
        .collect();
    if missing.is_empty() && plan.conflicts.is_empty() {
        return Ok(plan.migration);
    }
    Err(EnvError {
        missing,
        conflicts: plan.conflicts,
        patch: Box::new(plan.migration.patch),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_patch::describe_patch;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The journal's `x-connect-envs` block plus connect-01's own variable.
    fn journal_connect_01() -> Env {
        env(&[
            ("GROUP_ID", "connect"),
            ("CONFIG_STORAGE_TOPIC", "connect-configs"),
            ("OFFSET_STORAGE_TOPIC", "connect-offsets"),
            ("STATUS_STORAGE_TOPIC", "connect-statuses"),
            ("CONFIG_STORAGE_REPLICATION_FACTOR", "3"),
            ("OFFSET_STORAGE_REPLICATION_FACTOR", "3"),
            ("STATUS_STORAGE_REPLICATION_FACTOR", "3"),
            ("BOOTSTRAP_SERVERS", "${BOOTSTRAP_SERVERS}"),
            ("KEY_CONVERTER", "io.confluent.connect.avro.AvroConverter"),
            ("VALUE_CONVERTER", "io.confluent.connect.avro.AvroConverter"),
            (
                "CONNECT_KEY_CONVERTER_SCHEMA_REGISTRY_URL",
                "http://schema-registry:8081",
            ),
            (
                "CONNECT_VALUE_CONVERTER_SCHEMA_REGISTRY_URL",
                "http://schema-registry:8081",
            ),
            ("HEAP_OPTS", "-Xmx12G -Xms12G"),
            ("ADVERTISED_HOST_NAME", "connect-01"),
        ])
    }

    /// What the journal's connect-01 environment must be renamed to.
    const JOURNAL_RENAMES: &[(&str, &str)] = &[
        ("ADVERTISED_HOST_NAME", "CONNECT_REST_ADVERTISED_HOST_NAME"),
        ("BOOTSTRAP_SERVERS", "CONNECT_BOOTSTRAP_SERVERS"),
        (
            "CONFIG_STORAGE_REPLICATION_FACTOR",
            "CONNECT_CONFIG_STORAGE_REPLICATION_FACTOR",
        ),
        ("CONFIG_STORAGE_TOPIC", "CONNECT_CONFIG_STORAGE_TOPIC"),
        ("GROUP_ID", "CONNECT_GROUP_ID"),
        ("HEAP_OPTS", "KAFKA_HEAP_OPTS"),
        ("KEY_CONVERTER", "CONNECT_KEY_CONVERTER"),
        (
            "OFFSET_STORAGE_REPLICATION_FACTOR",
            "CONNECT_OFFSET_STORAGE_REPLICATION_FACTOR",
        ),
        ("OFFSET_STORAGE_TOPIC", "CONNECT_OFFSET_STORAGE_TOPIC"),
        (
            "STATUS_STORAGE_REPLICATION_FACTOR",
            "CONNECT_STATUS_STORAGE_REPLICATION_FACTOR",
        ),
        ("STATUS_STORAGE_TOPIC", "CONNECT_STATUS_STORAGE_TOPIC"),
        ("VALUE_CONVERTER", "CONNECT_VALUE_CONVERTER"),
    ];

    #[test]
    fn journal_connect_env_gets_prefixes_listener_and_heap_rename() {
        let migration =
            migrate_connect_env(&journal_connect_01(), EnvTarget::default()).expect("complete env");
        let mut renames: Vec<(&str, &str)> = migration
            .patch
            .rename
            .iter()
            .map(|(from, to)| (from.as_str(), to.as_str()))
            .collect();
        renames.sort();
        let mut expected = JOURNAL_RENAMES.to_vec();
        expected.sort();
        assert_eq!(renames, expected);
        assert!(migration.patch.remove.is_empty());
        assert_eq!(
            migration.patch.set,
            env(&[("CONNECT_LISTENERS", "http://0.0.0.0:8083")])
        );
        assert!(!migration.patch.set.contains_key("CONNECT_REST_PORT"));
        let patched = migration.patch.apply_env(&journal_connect_01());
        assert_eq!(patched["KAFKA_HEAP_OPTS"], "-Xmx12G -Xms12G");
        assert!(!patched.contains_key("HEAP_OPTS"));
        let heap = migration
            .findings
            .iter()
            .find(|f| f.key.as_deref() == Some("HEAP_OPTS"))
            .expect("heap finding");
        assert!(
            heap.message.contains("OutOfMemoryError"),
            "{}",
            heap.message
        );
        assert!(
            migration
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::OperatorAction
                    && f.message.contains("\"connect-01\""))
        );
    }

    #[test]
    fn migrating_a_migrated_env_changes_nothing() {
        let once =
            migrate_connect_env(&journal_connect_01(), EnvTarget::default()).expect("complete env");
        let patched = once.patch.apply_env(&journal_connect_01());
        let twice = migrate_connect_env(&patched, EnvTarget::default()).expect("still complete");
        assert!(twice.patch.is_empty(), "{}", describe_patch(&twice.patch));
    }

    #[test]
    fn missing_required_variables_are_named() {
        let mut anchor_only = journal_connect_01();
        anchor_only.remove("ADVERTISED_HOST_NAME");
        anchor_only.remove("GROUP_ID");
        let err = migrate_connect_env(&anchor_only, EnvTarget::default()).expect_err("incomplete");
        assert_eq!(
            err.missing,
            vec!["CONNECT_GROUP_ID", "CONNECT_REST_ADVERTISED_HOST_NAME"]
        );
        assert!(
            err.to_string()
                .contains("CONNECT_REST_ADVERTISED_HOST_NAME"),
            "{err}"
        );
        assert!(err.patch.rename.contains_key("BOOTSTRAP_SERVERS"));
    }

    #[test]
    fn old_and_new_spellings_conflict_or_collapse() {
        let mut conflicting = journal_connect_01();
        conflicting.insert("CONNECT_GROUP_ID".into(), "other".into());
        let err = migrate_connect_env(&conflicting, EnvTarget::default()).expect_err("conflict");
        assert_eq!(
            err.conflicts,
            vec![EnvConflict {
                from: "GROUP_ID".into(),
                to: "CONNECT_GROUP_ID".into()
            }]
        );
        assert!(err.missing.is_empty());

        let mut duplicate = journal_connect_01();
        duplicate.insert("CONNECT_GROUP_ID".into(), "connect".into());
        let migration = migrate_connect_env(&duplicate, EnvTarget::default()).expect("same value");
        assert!(migration.patch.remove.iter().any(|r| r == "GROUP_ID"));
        assert!(!migration.patch.rename.contains_key("GROUP_ID"));
    }

    #[test]
    fn rest_port_moves_into_the_listener_and_non_worker_variables_stay() {
        let mut input = journal_connect_01();
        input.extend(env(&[
            ("REST_PORT", "8084"),
            ("KAFKA_JMX_PORT", "9101"),
            ("TZ", "UTC"),
            ("OFFSET_FLUSH_INTERVAL_MS", "10000"),
            ("SOME_FLAG", "1"),
        ]));
        let migration = migrate_connect_env(&input, EnvTarget::default()).expect("complete env");
        assert_eq!(
            migration.patch.set["CONNECT_LISTENERS"],
            "http://0.0.0.0:8084"
        );
        assert!(migration.patch.remove.iter().any(|r| r == "REST_PORT"));
        assert_eq!(
            migration
                .patch
                .rename
                .get("OFFSET_FLUSH_INTERVAL_MS")
                .map(String::as_str),
            Some("CONNECT_OFFSET_FLUSH_INTERVAL_MS")
        );
        for untouched in ["KAFKA_JMX_PORT", "TZ", "SOME_FLAG"] {
            assert!(
                !migration.patch.rename.contains_key(untouched),
                "{untouched}"
            );
            assert!(
                !migration.patch.remove.iter().any(|r| r == untouched),
                "{untouched}"
            );
        }
        let unknown: Vec<_> = migration
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::UnknownKey)
            .collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].key.as_deref(), Some("SOME_FLAG"));
    }

    #[test]
    fn heap_opts_stays_for_an_image_that_reads_it() {
        let target = EnvTarget {
            heap_variable: HeapVariable::HeapOpts,
        };
        let migration = migrate_connect_env(&journal_connect_01(), target).expect("complete env");
        assert!(!migration.patch.rename.contains_key("HEAP_OPTS"));
        let mut no_heap = journal_connect_01();
        no_heap.remove("HEAP_OPTS");
        let migration = migrate_connect_env(&no_heap, EnvTarget::default()).expect("complete env");
        assert!(
            migration
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::DefaultChanged)
        );
    }
}
