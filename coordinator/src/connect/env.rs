//! The Connect worker environment for the target image (the journal's "Update Sequence",
//! step 2), as a recreate patch the upgrade plan applies per Connect container: `CONNECT_`
//! prefixes, `ADVERTISED_HOST_NAME` → `CONNECT_REST_ADVERTISED_HOST_NAME`, `CONNECT_LISTENERS`
//! instead of the removed `rest.port`, the heap in the variable the target image reads, and the
//! container hostname the advertised name requires.

use kroll_migrate::{
    Env, EnvError, EnvPatch, EnvTarget, Finding, HeapVariable, migrate_connect_env,
};
use serde::{Deserialize, Serialize};

use crate::connect::types::KafkaVersion;

/// The recreate patch of one Connect container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectEnvPlan {
    pub container: String,
    /// Renames, removals and settings of environment variables.
    pub patch: EnvPatch,
    /// The hostname (and network alias) the container must have: its advertised REST host
    /// name. The journal: "otherwise connect won't work".
    pub hostname: Option<String>,
    /// The heap variable the target image reads.
    pub heap_variable: String,
    /// What the operator must know (unrecognised variables, heap defaults, …).
    pub findings: Vec<Finding>,
}

/// Why a container's environment cannot be patched; nothing is changed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectEnvError {
    #[error(
        "container {container}: target version `{target}` is not a Confluent Platform version like 7.7.1"
    )]
    BadTarget { container: String, target: String },
    #[error("container {container}: {error} (patch so far: {})", kroll_migrate::describe_patch(&.error.patch).replace('\n', ", "))]
    Env {
        container: String,
        #[source]
        error: EnvError,
    },
}

/// The heap variable of the cp-kafka-connect image of `target` (every Confluent Platform
/// version reads `KAFKA_HEAP_OPTS`; the journal's `HEAP_OPTS` was its in-house 7.1 image's).
fn heap_variable(_target: KafkaVersion) -> HeapVariable {
    HeapVariable::KafkaHeapOpts
}

/// The environment patch that makes `container`'s environment right for the Connect image of
/// platform version `target` (e.g. `7.7.1`). An environment already in that shape gives an
/// empty patch.
pub fn connect_env_patch(
    container: &str,
    env: &Env,
    target: &str,
) -> Result<ConnectEnvPlan, ConnectEnvError> {
    let version = KafkaVersion::from_worker_version(&format!("{}-ccs", target.trim()))
        .filter(|_| target.trim().split('.').count() >= 2)
        .ok_or_else(|| ConnectEnvError::BadTarget {
            container: container.to_owned(),
            target: target.to_owned(),
        })?;
    let heap = heap_variable(version);
    let migration = migrate_connect_env(
        env,
        EnvTarget {
            heap_variable: heap,
        },
    )
    .map_err(|error| ConnectEnvError::Env {
        container: container.to_owned(),
        error,
    })?;
    let hostname = migration
        .patch
        .apply_env(env)
        .get("CONNECT_REST_ADVERTISED_HOST_NAME")
        .cloned();
    Ok(ConnectEnvPlan {
        container: container.to_owned(),
        patch: migration.patch,
        hostname,
        heap_variable: heap.name().to_owned(),
        findings: migration.findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn journal() -> Env {
        env(&[
            ("GROUP_ID", "connect"),
            ("CONFIG_STORAGE_TOPIC", "connect-configs"),
            ("OFFSET_STORAGE_TOPIC", "connect-offsets"),
            ("STATUS_STORAGE_TOPIC", "connect-statuses"),
            ("BOOTSTRAP_SERVERS", "kafka-01:29091"),
            ("KEY_CONVERTER", "io.confluent.connect.avro.AvroConverter"),
            ("VALUE_CONVERTER", "io.confluent.connect.avro.AvroConverter"),
            ("HEAP_OPTS", "-Xmx12G -Xms12G"),
            ("ADVERTISED_HOST_NAME", "connect-01"),
        ])
    }

    #[test]
    fn the_journals_worker_env_becomes_cp_kafka_connects() {
        let plan = connect_env_patch("connect-01", &journal(), "7.7.1").expect("patch");
        let after = plan.patch.apply_env(&journal());
        assert_eq!(
            after.get("CONNECT_GROUP_ID").map(String::as_str),
            Some("connect")
        );
        assert_eq!(
            after.get("KAFKA_HEAP_OPTS").map(String::as_str),
            Some("-Xmx12G -Xms12G")
        );
        assert_eq!(
            after.get("CONNECT_LISTENERS").map(String::as_str),
            Some("http://0.0.0.0:8083")
        );
        assert!(!after.contains_key("HEAP_OPTS") && !after.contains_key("GROUP_ID"));
        assert_eq!(plan.hostname.as_deref(), Some("connect-01"));
        assert_eq!(plan.heap_variable, "KAFKA_HEAP_OPTS");
        // Applying to the patched environment again is a no-op.
        let again = connect_env_patch("connect-01", &after, "7.7.1").expect("again");
        assert!(again.patch.is_empty(), "{:?}", again.patch);
    }

    #[test]
    fn bad_input_names_the_container() {
        let err = connect_env_patch("connect-02", &journal(), "latest").expect_err("bad target");
        assert!(
            err.to_string().starts_with("container connect-02:"),
            "{err}"
        );
        let mut missing = journal();
        missing.remove("GROUP_ID");
        let err = connect_env_patch("connect-02", &missing, "7.7.1").expect_err("missing group id");
        assert!(
            err.to_string().contains("CONNECT_GROUP_ID") && err.to_string().contains("connect-02"),
            "{err}"
        );
    }
}
