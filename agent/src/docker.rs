//! [`ContainerRuntime`] on the Docker engine, through bollard.
//!
//! The API version is negotiated with the engine at connect time (bollard defaults to a newer
//! API than many production engines speak; the engines here answer 1.41).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerInspectResponse, EventMessage, MountPoint};
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, ListContainersOptions, StartContainerOptions,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use kroll_shared::model::{Container, ContainerStatus, Health, Mount, VERSION_LABELS};
use kroll_shared::time::parse_rfc3339_ms;

use crate::runtime::{
    ContainerRuntime, ImageFacts, Inspected, RawEvent, RecreateSpec, Recreated, RolledBack,
    RuntimeError, RuntimeInfo, Stopped, Summary,
};
use crate::swarm_tasks;

/// Timeout of ordinary requests (list, inspect, start).
mod logs;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The Docker engine.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    pub(crate) docker: Docker,
    /// What the agent remembers about kept previous definitions.
    pub(crate) kept: crate::kept::KeptStore,
}

impl DockerRuntime {
    /// Connects to `host` (`unix:///…`, `tcp://…`) or, when `None`, to `DOCKER_HOST` / the local
    /// socket, and negotiates the API version.
    pub async fn connect(
        host: Option<&str>,
        state_dir: &std::path::Path,
    ) -> Result<Self, RuntimeError> {
        let docker = match host {
            Some(h) => Docker::connect_with_host(h),
            None => Docker::connect_with_local_defaults(),
        }
        .map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        let docker = docker.negotiate_version().await.map_err(|e| {
            RuntimeError::Unavailable(format!(
                "cannot reach the Docker engine at {}: {e}",
                host.unwrap_or("the local socket")
            ))
        })?;
        Ok(Self {
            docker: docker.with_timeout(REQUEST_TIMEOUT),
            kept: crate::kept::KeptStore::new(state_dir),
        })
    }
}

pub(crate) fn classify(e: BollardError, what: &str) -> RuntimeError {
    match e {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => RuntimeError::NotFound(what.to_owned()),
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } if status_code < 500 => {
            RuntimeError::Refused(format!("{what}: {message} (HTTP {status_code})"))
        }
        // A demoted manager's engine answers so while its Swarm state still says manager.
        BollardError::DockerResponseServerError {
            status_code: 503,
            message,
        } if message.contains("not a swarm manager") => {
            RuntimeError::NotManager(format!("{what}: {message}"))
        }
        other => RuntimeError::Unavailable(format!("{what}: {other}")),
    }
}

impl ContainerRuntime for DockerRuntime {
    async fn info(&self) -> Result<RuntimeInfo, RuntimeError> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| classify(e, "version"))?;
        Ok(RuntimeInfo {
            version: v.version.unwrap_or_default(),
            api_version: self.docker.client_version().to_string(),
        })
    }

    async fn list(&self) -> Result<Vec<Summary>, RuntimeError> {
        let opts = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| classify(e, "list"))?;
        Ok(swarm_tasks::current(
            list.into_iter()
                .map(|c| swarm_tasks::Listed {
                    running: c.state.as_ref().is_some_and(|s| s.as_ref() == "running"),
                    created: c.created.unwrap_or(0),
                    summary: Summary {
                        id: c.id.unwrap_or_default(),
                        name: c
                            .names
                            .and_then(|n| n.into_iter().next())
                            .unwrap_or_default()
                            .trim_start_matches('/')
                            .to_owned(),
                        labels: c.labels.unwrap_or_default().into_iter().collect(),
                    },
                })
                .collect(),
        ))
    }

    async fn inspect(&self, name_or_id: &str) -> Result<Inspected, RuntimeError> {
        let r = match self
            .docker
            .inspect_container(name_or_id, None::<InspectContainerOptions>)
            .await
        {
            Ok(r) => r,
            // A Swarm service's name: its current task on this node.
            Err(e) => match self.current_task(name_or_id).await? {
                Some(id) => self
                    .docker
                    .inspect_container(&id, None::<InspectContainerOptions>)
                    .await
                    .map_err(|e| classify(e, name_or_id))?,
                None => return Err(classify(e, name_or_id)),
            },
        };
        Ok(from_inspect(r))
    }

    async fn stop(&self, id: &str, timeout: Duration) -> Result<Stopped, RuntimeError> {
        self.stop_measured(id, timeout).await
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        match self
            .docker
            .start_container(id, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(classify(e, id)),
        }
    }

    async fn image_ids(&self, images: &[String]) -> Result<BTreeMap<String, String>, RuntimeError> {
        let mut out = BTreeMap::new();
        for image in images {
            match self.docker.inspect_image(image).await {
                Ok(i) => {
                    out.insert(image.clone(), i.id.unwrap_or_default());
                }
                Err(BollardError::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(classify(e, image)),
            }
        }
        Ok(out)
    }

    async fn pull(&self, image: &str) -> Result<String, RuntimeError> {
        self.pull_image(image).await
    }

    async fn image_facts(&self, image: &str) -> Result<Option<ImageFacts>, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(ImageFacts {
                id: i.id.unwrap_or_default(),
                repo_digests: i.repo_digests.unwrap_or_default(),
                labels: i
                    .config
                    .and_then(|c| c.labels)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(k, _)| VERSION_LABELS.contains(&k.as_str()))
                    .collect(),
            })),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(classify(e, image)),
        }
    }

    async fn recreate(
        &self,
        op: &str,
        id: &str,
        spec: &RecreateSpec,
    ) -> Result<Recreated, RuntimeError> {
        Box::pin(self.recreate_container(op, id, spec)).await
    }

    async fn rollback(
        &self,
        name: &str,
        stop_timeout: Duration,
    ) -> Result<RolledBack, RuntimeError> {
        self.rollback_container(name, stop_timeout).await
    }

    async fn recover(&self, what: &crate::recovery::Interrupted) -> Result<String, RuntimeError> {
        Box::pin(self.recover_container(what)).await
    }

    async fn swarm_node(&self) -> Result<crate::runtime::SwarmNode, RuntimeError> {
        self.swarm_node_info().await
    }

    async fn service_labels(&self, name: &str) -> Result<BTreeMap<String, String>, RuntimeError> {
        self.labels_of_service(name).await
    }

    async fn stack_services(
        &self,
        stack: &str,
    ) -> Result<Vec<crate::runtime::ServiceView>, RuntimeError> {
        self.services_of_stack(stack).await
    }

    async fn update_service(
        &self,
        op: &str,
        name: &str,
        update: &crate::runtime::ServiceUpdate,
    ) -> Result<crate::runtime::ServiceRolled, RuntimeError> {
        Box::pin(self.update_swarm_service(op, name, update)).await
    }

    async fn saved_service(&self, name: &str) -> Result<bool, RuntimeError> {
        Ok(crate::swarm_saved::recall(&self.docker, name)
            .await?
            .is_some())
    }

    async fn restore_service(
        &self,
        op: &str,
        name: &str,
        stop_timeout: Duration,
    ) -> Result<crate::runtime::ServiceRolled, RuntimeError> {
        Box::pin(self.restore_swarm_service(op, name, stop_timeout)).await
    }

    fn events(&self) -> BoxStream<'static, Result<RawEvent, RuntimeError>> {
        let filters = HashMap::from([("type".to_owned(), vec!["container".to_owned()])]);
        let opts = EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        self.docker
            .events(Some(opts))
            .map(|r| r.map(from_event).map_err(|e| classify(e, "events")))
            .boxed()
    }

    fn logs_follow(
        &self,
        id: &str,
        since_unix_s: i64,
    ) -> BoxStream<'static, Result<crate::runtime::LogChunk, RuntimeError>> {
        logs::follow(&self.docker, id, since_unix_s)
    }
}

impl DockerRuntime {
    /// The id of the current task container of Swarm service `service` on this node, if any.
    async fn current_task(&self, service: &str) -> Result<Option<String>, RuntimeError> {
        let all = self.list().await?;
        Ok(all
            .into_iter()
            .find(|s| s.name == service && s.labels.contains_key(swarm_tasks::TASK_LABEL))
            .map(|s| s.id))
    }
}

fn from_event(e: EventMessage) -> RawEvent {
    let actor = e.actor.unwrap_or_default();
    let attributes: BTreeMap<String, String> =
        actor.attributes.unwrap_or_default().into_iter().collect();
    let time_unix_ms = e
        .time_nano
        .map(|n| n / 1_000_000)
        .or(e.time.map(|s| s * 1000))
        .unwrap_or(0);
    RawEvent {
        action: e.action.unwrap_or_default(),
        container_id: actor.id.unwrap_or_default(),
        name: swarm_tasks::display_name(
            attributes.get("name").map_or("", String::as_str),
            &attributes,
        ),
        labels: attributes.clone(),
        attributes,
        time_unix_ms,
    }
}

pub(crate) fn from_inspect(r: ContainerInspectResponse) -> Inspected {
    let state = r.state.unwrap_or_default();
    let config = r.config.unwrap_or_default();
    let health = state.health.and_then(|h| h.status).map(|s| s.to_string());
    let labels: BTreeMap<String, String> = config.labels.unwrap_or_default().into_iter().collect();
    let container = Container {
        id: r.id.unwrap_or_default(),
        name: swarm_tasks::display_name(
            r.name.unwrap_or_default().trim_start_matches('/'),
            &labels,
        ),
        image: config.image.unwrap_or_default(),
        image_id: r.image.unwrap_or_default(),
        status: state.status.map_or(ContainerStatus::Unknown, |s| {
            ContainerStatus::from_docker(s.as_ref())
        }),
        health: Health::from_docker(health.as_deref()),
        started_at_unix_ms: state.started_at.as_deref().map_or(0, parse_rfc3339_ms),
        finished_at_unix_ms: state.finished_at.as_deref().map_or(0, parse_rfc3339_ms),
        exit_code: state
            .exit_code
            .map_or(0, |c| i32::try_from(c).unwrap_or(i32::MIN)),
        oom_killed: state.oom_killed.unwrap_or(false),
        restart_count: r
            .restart_count
            .map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX)),
        labels,
        env_keys: Vec::new(),
        env: BTreeMap::new(),
        mounts: r
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(to_mount)
            .collect(),
        hostname: config.hostname.unwrap_or_default(),
        pid: state.pid.unwrap_or(0),
        java: None,
    };
    Inspected {
        container,
        raw_env: config.env.unwrap_or_default(),
    }
}

fn to_mount(m: MountPoint) -> Mount {
    Mount {
        source: m.source.unwrap_or_default(),
        destination: m.destination.unwrap_or_default(),
        kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
        read_only: !m.rw.unwrap_or(true),
        host_mount_point: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn engine_answers_are_classified_by_what_they_mean_for_a_retry() {
        let demoted = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state.";
        for (e, want) in [
            (server(404, "no such service"), "NotFound"),
            (server(409, "conflict"), "Refused"),
            (server(503, demoted), "NotManager"),
            (
                server(503, "the swarm does not have a leader"),
                "Unavailable",
            ),
            (server(500, "update out of sequence"), "Unavailable"),
        ] {
            let got = classify(e, "service `s`");
            let kind = match &got {
                RuntimeError::NotFound(_) => "NotFound",
                RuntimeError::Refused(_) => "Refused",
                RuntimeError::NotManager(_) => "NotManager",
                RuntimeError::Unavailable(_) => "Unavailable",
                _ => "other",
            };
            assert_eq!(kind, want, "{got}");
        }
        let said = classify(server(503, demoted), "service `s`").to_string();
        assert!(said.contains(kroll_shared::wire::NOT_A_MANAGER), "{said}");
    }
}
