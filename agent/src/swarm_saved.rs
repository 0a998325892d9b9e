//! The service specs a Swarm update saved for rollback, kept in the swarm itself.
//!
//! What `-kroll-prev` is for a container: before `UpdateService` sends a new spec, the spec it
//! replaces is saved, with the operation that saved it. It is saved as a **Swarm config**
//! (`kroll-saved.<service>.<ms>`, labelled with the service and the operation), not on the
//! agent's disk: Swarm replicates configs through its Raft log to every manager, so whichever
//! manager's agent the coordinator reaches next — after the first manager or its agent died —
//! finds what the update saved, and a wiped agent state directory loses nothing.
//! `RestoreService` re-applies it and then forgets it (as a rollback consumes the kept
//! container); a later update of the same service saves a newer one and removes the older.
//!
//! Who may read it: a config is readable through any manager's API, as the service spec it
//! copies already is; nothing is mounted into a task.

use std::collections::HashMap;

use base64::Engine as _;
use bollard::Docker;
use bollard::models::{Config, ConfigSpec, ServiceSpec};
use bollard::query_parameters::ListConfigsOptions;
use serde::{Deserialize, Serialize};

use crate::docker::classify;
use crate::runtime::RuntimeError;

/// Label naming the service a saved spec belongs to.
pub const SERVICE_LABEL: &str = "io.kroll.saved-service";
/// Label naming the operation that saved it.
pub const OPERATION_LABEL: &str = "io.kroll.operation-id";
/// Label with when it was saved (Unix milliseconds): the newest is the one a restore applies.
pub const SAVED_AT_LABEL: &str = "io.kroll.saved-at-ms";
/// Prefix of the configs' names (`docker config ls --filter name=kroll-saved.`).
pub const NAME_PREFIX: &str = "kroll-saved.";
/// Docker's limit on a config's name.
const NAME_MAX: usize = 64;

/// One saved spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// The update that saved it.
    pub operation_id: String,
    /// The whole spec as the engine had it (inspected without inserted defaults).
    pub spec: ServiceSpec,
}

impl Saved {
    /// The image of the saved spec.
    pub fn image(&self) -> String {
        self.spec
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.clone())
            .unwrap_or_default()
    }
}

/// The config name of `service`'s spec saved at `at_ms`: the service's name cut to fit Docker's
/// 64 characters (the label, not the name, says whose it is).
pub fn config_name(service: &str, at_ms: i64) -> String {
    let stamp = format!(".{at_ms}");
    let room = NAME_MAX - NAME_PREFIX.len() - stamp.len();
    let cut: String = service.chars().take(room).collect();
    format!("{NAME_PREFIX}{cut}{stamp}")
}

/// The config spec saving `saved` for `service` at `at_ms`.
pub fn config_spec(service: &str, saved: &Saved, at_ms: i64) -> Result<ConfigSpec, RuntimeError> {
    let json = serde_json::to_vec(saved)
        .map_err(|e| RuntimeError::Unavailable(format!("encoding the saved spec: {e}")))?;
    Ok(ConfigSpec {
        name: Some(config_name(service, at_ms)),
        labels: Some(HashMap::from([
            (SERVICE_LABEL.to_owned(), service.to_owned()),
            (OPERATION_LABEL.to_owned(), saved.operation_id.clone()),
            (SAVED_AT_LABEL.to_owned(), at_ms.to_string()),
        ])),
        data: Some(base64::engine::general_purpose::STANDARD.encode(json)),
        templating: None,
    })
}

/// The saved spec a config holds (`what` names the config in errors).
pub fn decode(data: &str, what: &str) -> Result<Saved, RuntimeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| RuntimeError::Refused(format!("config `{what}`: not base64: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RuntimeError::Refused(format!("config `{what}`: not a saved spec: {e}")))
}

/// When a listed config was saved (its label; 0 when missing or unreadable).
fn saved_at(c: &Config) -> i64 {
    c.spec
        .as_ref()
        .and_then(|s| s.labels.as_ref())
        .and_then(|l| l.get(SAVED_AT_LABEL))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The configs saved for `service`, oldest first.
async fn listed(docker: &Docker, service: &str) -> Result<Vec<Config>, RuntimeError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{SERVICE_LABEL}={service}")],
    )]);
    let mut all = docker
        .list_configs(Some(ListConfigsOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| classify(e, &format!("the saved specs of service `{service}`")))?;
    // The filter is Docker's; the exact label is checked here too.
    all.retain(|c| {
        c.spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(|l| l.get(SERVICE_LABEL))
            .is_some_and(|s| s == service)
    });
    all.sort_by_key(saved_at);
    Ok(all)
}

async fn delete(docker: &Docker, c: &Config) -> Result<(), RuntimeError> {
    let id = c.id.clone().unwrap_or_default();
    match docker.delete_config(&id).await {
        Ok(()) => Ok(()),
        Err(e) => match classify(e, &format!("saved spec `{id}`")) {
            // Already gone (another manager's agent removed it): what was asked.
            RuntimeError::NotFound(_) => Ok(()),
            other => Err(other),
        },
    }
}

/// Saves `saved` for `service` in the swarm, then removes what was saved for it before (so a
/// failure in between leaves the older and the newer, and the newer is the one recalled).
pub async fn remember(docker: &Docker, service: &str, saved: &Saved) -> Result<(), RuntimeError> {
    let before = listed(docker, service).await?;
    let at_ms = kroll_shared::time::now_unix_ms().max(before.last().map(saved_at).unwrap_or(0) + 1);
    docker
        .create_config(config_spec(service, saved, at_ms)?)
        .await
        .map_err(|e| classify(e, &format!("saving the spec of service `{service}`")))?;
    for old in &before {
        delete(docker, old).await?;
    }
    Ok(())
}

/// What is saved for `service` (the newest, when an interrupted save left two).
pub async fn recall(docker: &Docker, service: &str) -> Result<Option<Saved>, RuntimeError> {
    let Some(newest) = listed(docker, service).await?.pop() else {
        return Ok(None);
    };
    let id = newest.id.clone().unwrap_or_default();
    // A listing need not carry the data; the inspection does.
    let full = docker
        .inspect_config(&id)
        .await
        .map_err(|e| classify(e, &format!("saved spec `{id}`")))?;
    let data = full.spec.and_then(|s| s.data).unwrap_or_default();
    decode(&data, &id).map(Some)
}

/// Forgets what is saved for `service`.
pub async fn forget(docker: &Docker, service: &str) -> Result<(), RuntimeError> {
    for c in listed(docker, service).await? {
        delete(docker, &c).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bollard::models::{TaskSpec, TaskSpecContainerSpec};

    use super::*;

    fn saved(image: &str) -> Saved {
        Saved {
            operation_id: "20261204T164741.688Z/roll1/kafka-01".into(),
            spec: ServiceSpec {
                name: Some("lab_kafka-01".into()),
                task_template: Some(TaskSpec {
                    container_spec: Some(TaskSpecContainerSpec {
                        image: Some(image.into()),
                        env: Some(vec!["B=2".into(), "A=1".into()]),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_saved_spec_round_trips_through_its_config_with_its_labels() {
        let s = saved("r/kafka:7.1.1");
        let c = config_spec("lab_kafka-01", &s, 1_733_351_234_567).expect("spec");
        assert_eq!(
            c.name.as_deref(),
            Some("kroll-saved.lab_kafka-01.1733351234567")
        );
        let labels = c.labels.clone().unwrap_or_default();
        assert_eq!(labels[SERVICE_LABEL], "lab_kafka-01");
        assert_eq!(labels[OPERATION_LABEL], s.operation_id);
        assert_eq!(labels[SAVED_AT_LABEL], "1733351234567");
        let back = decode(c.data.as_deref().unwrap_or_default(), "x").expect("decode");
        assert_eq!(back, s);
        assert_eq!(back.image(), "r/kafka:7.1.1");
    }

    #[test]
    fn config_names_fit_dockers_limit_and_its_alphabet() {
        for service in ["a", "lab_kafka-01", &"s".repeat(63), "stack.with.dots_x-1"] {
            let n = config_name(service, 1_733_351_234_567);
            assert!(n.len() <= NAME_MAX, "{n}");
            assert!(n.starts_with(NAME_PREFIX), "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{n}"
            );
            assert!(n.ends_with("1733351234567"), "{n}");
        }
    }

    #[test]
    fn what_is_not_a_saved_spec_is_refused_naming_the_config() {
        for (data, says) in [("%%%", "not base64"), ("e25vdCBqc29u", "not a saved spec")] {
            match decode(data, "cfg-1") {
                Err(RuntimeError::Refused(m)) => {
                    assert!(m.contains("cfg-1") && m.contains(says), "{m}")
                }
                other => panic!("{data}: {other:?}"),
            }
        }
    }
}
