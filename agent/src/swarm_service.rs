//! Rolling one Docker Swarm service through a manager's engine: the Swarm way to do what
//! `RecreateContainer` does for a plain container (issue 13, item 1). Recreating a task's
//! container behind Swarm's back makes Swarm start the old task again beside it — two brokers
//! with one id on one data directory — so on a Swarm the agent of a manager node updates the
//! *service* and Swarm replaces the task.
//!
//! One update: inspect the service (without inserted defaults: what is sent back must be what
//! was read, changed only where kroll means to), keep the whole previous spec (what a rollback
//! re-applies — never `docker service rollback`, which toggles between the last two specs),
//! change only image / environment / hostname, raise `stop_grace_period` to the step's stop
//! timeout (Swarm's 10 s default would SIGKILL a broker in controlled shutdown), force
//! `UpdateConfig { parallelism 1, order stop-first, failure_action pause }` (two brokers must
//! never share a data directory; kroll, not Swarm, decides about rollback), label the spec with
//! the operation id, write the environment **sorted** as `docker stack deploy` writes it (so a
//! redeploy of the stack file kroll keeps true starts no task), and send it with the version
//! index read — a stale index comes back as HTTP 500 "update out of sequence": read again and
//! retry. Then wait until exactly one task of the new spec runs and no older task does.
//!
//! [`change_spec`] is pure and table-tested; [`update`] and [`restore`] are tested against a
//! real swarm (`tests/lab/swarm.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ServiceSpec, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskState,
};
use bollard::query_parameters::{InspectServiceOptions, ListTasksOptions, UpdateServiceOptions};

/// Service label carrying the operation id of the update that wrote the spec.
pub const OP_LABEL: &str = "kroll.operation-id";
/// Service label `docker stack deploy` keeps the stack file's image text in.
pub const STACK_IMAGE_LABEL: &str = "com.docker.stack.image";
/// Attempts when the version index went stale under us.
const SEQUENCE_TRIES: u32 = 5;

/// What kroll changes in a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceChange {
    /// New image, if any.
    pub image: Option<String>,
    /// Variables to set.
    pub set_env: BTreeMap<String, String>,
    /// Variables to remove.
    pub remove_env: Vec<String>,
    /// Variables to rename (old name → new name), keeping the value.
    pub rename_env: BTreeMap<String, String>,
    /// New hostname, if any.
    pub hostname: Option<String>,
    /// `stop_grace_period` is raised to at least this.
    pub min_stop_grace: Duration,
}

/// Why a service could not be rolled.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("service `{service}`: {what}: {source}")]
    Docker {
        service: String,
        what: &'static str,
        #[source]
        source: BollardError,
    },
    #[error("service `{service}`: the change is invalid: {why}; nothing was changed")]
    Invalid { service: String, why: String },
    #[error(
        "service `{service}`: its spec kept changing under kroll ({SEQUENCE_TRIES} updates out of sequence); nothing was changed by kroll"
    )]
    OutOfSequence { service: String },
    #[error(
        "service `{service}`: cannot save its spec before the update: {why}; nothing was changed"
    )]
    Saving { service: String, why: String },
    #[error("service `{service}`: Swarm paused the update: {message}")]
    Paused { service: String, message: String },
    #[error("service `{service}`: the new spec was sent, then {what}: {source}")]
    Waiting {
        service: String,
        what: &'static str,
        #[source]
        source: BollardError,
    },
    #[error(
        "service `{service}`: no task of the new spec running after {waited:.0?}; last seen: {last}"
    )]
    Timeout {
        service: String,
        waited: Duration,
        last: String,
    },
}

/// What [`update`] did.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The spec before the update, to re-apply on rollback.
    pub previous: ServiceSpec,
    /// The spec sent.
    pub applied: ServiceSpec,
    /// The task of the new spec now running.
    pub task_id: String,
    /// Update call → new task running.
    pub elapsed: Duration,
    /// The service's spec already carried this operation's label: the spec was sent before
    /// (by an earlier call under the same id, on this manager or another), so nothing was
    /// saved or sent again and `previous` is the spec as found.
    pub already_sent: bool,
}

fn invalid(service: &str, why: impl Into<String>) -> SwarmError {
    SwarmError::Invalid {
        service: service.to_owned(),
        why: why.into(),
    }
}

fn valid_env_name(k: &str) -> bool {
    !k.is_empty() && !k.contains('=') && !k.contains('\0')
}

/// The spec to send: `spec` changed as `change` says, labelled with `op_id` (pure).
pub fn change_spec(
    service: &str,
    mut spec: ServiceSpec,
    change: &ServiceChange,
    op_id: &str,
) -> Result<ServiceSpec, SwarmError> {
    for k in change
        .set_env
        .keys()
        .chain(&change.remove_env)
        .chain(change.rename_env.keys())
        .chain(change.rename_env.values())
    {
        if !valid_env_name(k) {
            return Err(invalid(service, format!("environment name `{k}`")));
        }
    }
    if change.image.as_deref().is_some_and(|i| i.trim().is_empty()) {
        return Err(invalid(service, "an empty image"));
    }
    let task: &mut TaskSpec = spec
        .task_template
        .as_mut()
        .ok_or_else(|| invalid(service, "it has no task template"))?;
    let c = task
        .container_spec
        .as_mut()
        .ok_or_else(|| invalid(service, "it is not a container service"))?;
    if let Some(image) = &change.image {
        c.image = Some(image.clone());
    }
    if let Some(h) = &change.hostname {
        c.hostname = Some(h.clone());
    }
    let mut env: Vec<String> = c
        .env
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => match change.rename_env.get(k) {
                Some(new) => format!("{new}={v}"),
                None => e,
            },
            None => e,
        })
        .filter(|e| {
            let name = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            !change.remove_env.iter().any(|r| r == name) && !change.set_env.contains_key(name)
        })
        .collect();
    env.extend(change.set_env.iter().map(|(k, v)| format!("{k}={v}")));
    env.sort();
    c.env = Some(env);
    let min = i64::try_from(change.min_stop_grace.as_nanos()).unwrap_or(i64::MAX);
    if c.stop_grace_period.unwrap_or(10_000_000_000) < min {
        c.stop_grace_period = Some(min);
    }
    spec.update_config = Some(ServiceSpecUpdateConfig {
        parallelism: Some(1),
        order: Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
        failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
        ..spec.update_config.unwrap_or_default()
    });
    let labels = spec.labels.get_or_insert_with(Default::default);
    labels.insert(OP_LABEL.to_owned(), op_id.to_owned());
    if let Some(image) = &change.image
        && labels.contains_key(STACK_IMAGE_LABEL)
    {
        // The label holds the image as a stack file names it: without the pinned digest.
        let named = image
            .split_once('@')
            .map_or(image.as_str(), |(named, _)| named);
        labels.insert(STACK_IMAGE_LABEL.to_owned(), named.to_owned());
    }
    Ok(spec)
}

fn docker_err<'a>(
    service: &'a str,
    what: &'static str,
) -> impl FnOnce(BollardError) -> SwarmError + 'a {
    move |source| SwarmError::Docker {
        service: service.to_owned(),
        what,
        source,
    }
}

/// Whether the engine refused an update for a stale version index.
pub fn is_out_of_sequence(e: &BollardError) -> bool {
    matches!(e, BollardError::DockerResponseServerError { status_code: 500, message }
        if message.contains("update out of sequence"))
}

/// Updates service `service` as `change` says, under operation id `op_id`, and waits (at most
/// `limit`) until its new task runs.
pub async fn update(
    docker: &Docker,
    service: &str,
    change: &ServiceChange,
    op_id: &str,
    limit: Duration,
) -> Result<Updated, SwarmError> {
    update_keeping(docker, service, change, op_id, limit, |_| {
        std::future::ready(Ok(()))
    })
    .await
}

/// [`update`], calling `keep` with the spec about to be replaced just before each update is
/// sent (so what a rollback needs is saved before anything changes); an error of `keep` sends
/// nothing.
pub async fn update_keeping<K: Future<Output = Result<(), SwarmError>>>(
    docker: &Docker,
    service: &str,
    change: &ServiceChange,
    op_id: &str,
    limit: Duration,
    keep: impl Fn(ServiceSpec) -> K,
) -> Result<Updated, SwarmError> {
    roll(
        docker,
        service,
        op_id,
        limit,
        |spec| change_spec(service, spec, change, op_id),
        keep,
    )
    .await
}

/// Re-applies `saved` (a spec [`update`] returned as `previous`) to `service` under `op_id`,
/// and waits until its task runs: kroll's rollback.
pub async fn restore(
    docker: &Docker,
    service: &str,
    saved: &ServiceSpec,
    op_id: &str,
    limit: Duration,
) -> Result<Updated, SwarmError> {
    roll(
        docker,
        service,
        op_id,
        limit,
        |_| {
            let mut s = saved.clone();
            s.labels
                .get_or_insert_with(Default::default)
                .insert(OP_LABEL.to_owned(), op_id.to_owned());
            Ok(s)
        },
        |_| std::future::ready(Ok(())),
    )
    .await
}

/// Sends the spec `make` builds from the inspected one — unless the service already carries
/// `op_id`'s spec — and waits (at most `limit`) until a task of it runs.
async fn roll<K: Future<Output = Result<(), SwarmError>>>(
    docker: &Docker,
    service: &str,
    op_id: &str,
    limit: Duration,
    make: impl Fn(ServiceSpec) -> Result<ServiceSpec, SwarmError>,
    keep: impl Fn(ServiceSpec) -> K,
) -> Result<Updated, SwarmError> {
    let began = Instant::now();
    let sent_unix_ms = kroll_shared::time::now_unix_ms();
    let (previous, applied, already_sent) = send(docker, service, op_id, make, keep).await?;
    // A pause shown for a spec sent before this call is this operation's own.
    let since = if already_sent { 0 } else { sent_unix_ms };
    let task_id = wait_running(docker, service, &applied, limit, since)
        .await
        .map_err(|e| match e {
            SwarmError::Docker {
                service,
                what,
                source,
            } => SwarmError::Waiting {
                service,
                what,
                source,
            },
            other => other,
        })?;
    Ok(Updated {
        previous,
        applied,
        task_id,
        elapsed: began.elapsed(),
        already_sent,
    })
}

/// Whether `spec` is labelled as sent by operation `op_id`.
pub fn sent_by(spec: &ServiceSpec, op_id: &str) -> bool {
    spec.labels
        .as_ref()
        .and_then(|l| l.get(OP_LABEL))
        .is_some_and(|o| o == op_id)
}

/// Inspect → `make` → `keep` → update with the version read; again on "update out of
/// sequence". A service whose spec `op_id` already sent is left as it is (true in the answer):
/// saving it again would save the new spec over the one a rollback needs.
async fn send<K: Future<Output = Result<(), SwarmError>>>(
    docker: &Docker,
    service: &str,
    op_id: &str,
    make: impl Fn(ServiceSpec) -> Result<ServiceSpec, SwarmError>,
    keep: impl Fn(ServiceSpec) -> K,
) -> Result<(ServiceSpec, ServiceSpec, bool), SwarmError> {
    for _ in 0..SEQUENCE_TRIES {
        let svc = docker
            .inspect_service(
                service,
                Some(InspectServiceOptions {
                    insert_defaults: false,
                }),
            )
            .await
            .map_err(docker_err(service, "inspecting"))?;
        let version = svc
            .version
            .and_then(|v| v.index)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| invalid(service, "its version index is missing or too large"))?;
        let previous = svc.spec.ok_or_else(|| invalid(service, "it has no spec"))?;
        if sent_by(&previous, op_id) {
            return Ok((previous.clone(), previous, true));
        }
        let applied = make(previous.clone())?;
        keep(previous.clone()).await?;
        let opts = UpdateServiceOptions {
            version,
            ..Default::default()
        };
        match docker
            .update_service(service, applied.clone(), opts, None)
            .await
        {
            Ok(_) => return Ok((previous, applied, false)),
            Err(e) if is_out_of_sequence(&e) => continue,
            Err(e) => return Err(docker_err(service, "updating")(e)),
        }
    }
    Err(SwarmError::OutOfSequence {
        service: service.to_owned(),
    })
}

/// Waits until one task whose container spec is `applied`'s runs and no other task of the
/// service does; fails early when Swarm paused the update begun at `sent_unix_ms` (a pause of
/// an earlier update, still shown until Swarm starts this one, is not this update's).
async fn wait_running(
    docker: &Docker,
    service: &str,
    applied: &ServiceSpec,
    limit: Duration,
    sent_unix_ms: i64,
) -> Result<String, SwarmError> {
    let began = Instant::now();
    let want = applied
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.clone());
    loop {
        let tasks = docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some([("service".to_owned(), vec![service.to_owned()])].into()),
            }))
            .await
            .map_err(docker_err(service, "listing tasks"))?;
        let running = |t: &bollard::models::Task| {
            t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
        };
        let new: Vec<_> = tasks
            .iter()
            .filter(|t| t.spec.as_ref().and_then(|s| s.container_spec.clone()) == want)
            .collect();
        let old_running = tasks
            .iter()
            .filter(|t| running(t))
            .filter(|t| t.spec.as_ref().and_then(|s| s.container_spec.clone()) != want)
            .count();
        let up: Vec<_> = new.iter().filter(|t| running(t)).collect();
        if let ([t], 0) = (up.as_slice(), old_running) {
            return Ok(t.id.clone().unwrap_or_default());
        }
        let svc = docker
            .inspect_service(service, None::<InspectServiceOptions>)
            .await
            .map_err(docker_err(service, "inspecting"))?;
        if let Some(u) = svc.update_status
            && u.state.map(|s| s.to_string()).as_deref() == Some("paused")
            && u.started_at
                .as_deref()
                .is_none_or(|t| kroll_shared::time::parse_rfc3339_ms(t) + 1000 >= sent_unix_ms)
        {
            return Err(SwarmError::Paused {
                service: service.to_owned(),
                message: u.message.unwrap_or_default(),
            });
        }
        if began.elapsed() > limit {
            let last = new
                .iter()
                .filter_map(|t| t.status.as_ref())
                .map(|s| {
                    format!(
                        "{:?}{}",
                        s.state,
                        s.err
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(SwarmError::Timeout {
                service: service.to_owned(),
                waited: began.elapsed(),
                last: format!("new tasks [{last}], older tasks still running: {old_running}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::TaskSpecContainerSpec;

    use super::*;

    fn spec(env: &[&str], grace: Option<i64>) -> ServiceSpec {
        ServiceSpec {
            name: Some("lab_kafka-01".into()),
            labels: Some([(STACK_IMAGE_LABEL.to_owned(), "${R}/kafka".to_owned())].into()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some("r/kafka:7.1.1@sha256:aa".into()),
                    env: Some(env.iter().map(|e| (*e).to_owned()).collect()),
                    hostname: Some("kafka-01".into()),
                    stop_grace_period: grace,
                    ..Default::default()
                }),
                force_update: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn env_of(s: &ServiceSpec) -> Vec<String> {
        s.task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.env.clone())
            .unwrap_or_default()
    }

    #[test]
    fn a_change_touches_only_what_it_names_and_sorts_the_environment() {
        let change = ServiceChange {
            image: Some("r/kafka:7.7.1".into()),
            set_env: [("KAFKA_INTER_BROKER_PROTOCOL_VERSION".into(), "3.1".into())].into(),
            remove_env: vec!["OLD".into()],
            rename_env: [("CONNECT_X".into(), "B_RENAMED".into())].into(),
            hostname: None,
            min_stop_grace: Duration::from_secs(300),
        };
        let out = change_spec(
            "s",
            spec(
                &["Z=1", "OLD=x", "A=2", "FLAG", "CONNECT_X=kept=value"],
                None,
            ),
            &change,
            "run/1",
        )
        .expect("valid");
        assert_eq!(
            env_of(&out),
            [
                "A=2",
                "B_RENAMED=kept=value",
                "FLAG",
                "KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1",
                "Z=1"
            ]
        );
        let c = out
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .expect("container");
        assert_eq!(c.image.as_deref(), Some("r/kafka:7.7.1"));
        assert_eq!(c.hostname.as_deref(), Some("kafka-01"));
        assert_eq!(c.stop_grace_period, Some(300_000_000_000));
        assert_eq!(
            out.task_template.as_ref().and_then(|t| t.force_update),
            Some(3)
        );
        let u = out.update_config.as_ref().expect("update config");
        assert_eq!(u.parallelism, Some(1));
        assert_eq!(u.order, Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST));
        assert_eq!(
            u.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE)
        );
        let labels = out.labels.as_ref().expect("labels");
        assert_eq!(labels[OP_LABEL], "run/1");
        assert_eq!(labels[STACK_IMAGE_LABEL], "r/kafka:7.7.1");
    }

    #[test]
    fn a_longer_grace_period_stays_and_a_set_replaces_the_old_value() {
        let change = ServiceChange {
            set_env: [("A".into(), "new".into())].into(),
            min_stop_grace: Duration::from_secs(30),
            ..Default::default()
        };
        let out = change_spec("s", spec(&["A=old"], Some(600_000_000_000)), &change, "op")
            .expect("valid");
        assert_eq!(env_of(&out), ["A=new"]);
        let grace = out
            .task_template
            .and_then(|t| t.container_spec)
            .and_then(|c| c.stop_grace_period);
        assert_eq!(grace, Some(600_000_000_000));
    }

    #[test]
    fn invalid_changes_are_refused_before_anything_is_sent() {
        let cases = [
            ServiceChange {
                set_env: [(String::new(), "x".into())].into(),
                ..Default::default()
            },
            ServiceChange {
                set_env: [("A=B".into(), "x".into())].into(),
                ..Default::default()
            },
            ServiceChange {
                remove_env: vec![String::new()],
                ..Default::default()
            },
            ServiceChange {
                image: Some(" ".into()),
                ..Default::default()
            },
            ServiceChange {
                rename_env: [("A".into(), "B=C".into())].into(),
                ..Default::default()
            },
        ];
        for c in cases {
            assert!(
                matches!(
                    change_spec("s", spec(&[], None), &c, "op"),
                    Err(SwarmError::Invalid { .. })
                ),
                "{c:?}"
            );
        }
        let no_template = ServiceSpec::default();
        assert!(matches!(
            change_spec("s", no_template, &ServiceChange::default(), "op"),
            Err(SwarmError::Invalid { .. })
        ));
    }

    #[test]
    fn only_the_engines_stale_version_answer_is_retried() {
        let stale = BollardError::DockerResponseServerError {
            status_code: 500,
            message: "rpc error: code = Unknown desc = update out of sequence".into(),
        };
        let other = BollardError::DockerResponseServerError {
            status_code: 500,
            message: "something else".into(),
        };
        assert!(is_out_of_sequence(&stale));
        assert!(!is_out_of_sequence(&other));
    }
}
