//! The Swarm half of [`DockerRuntime`]: is this engine a manager, a service's labels, and a
//! service update / restore ([`crate::swarm_service`]) with the previous spec saved
//! ([`crate::swarm_saved`]) before anything is sent.
//!
//! The error classes follow `RecreateContainer`'s: whatever fails before the update is sent
//! changed nothing (`Refused` / `Unavailable` / `NotFound`); when the new task does not come up
//! (Swarm paused the update, or no task of the new spec ran in time) the saved spec is put back
//! and waited for ([`RuntimeError::Restored`]), and when that fails too the error says so
//! ([`RuntimeError::Broken`]).

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::query_parameters::{InspectServiceOptions, ListServicesOptions};

use crate::allow::STACK_LABEL;
use crate::docker::{DockerRuntime, classify};
use crate::runtime::{RuntimeError, ServiceRolled, ServiceUpdate, ServiceView, SwarmNode};
use crate::swarm_saved::{self, Saved};
use crate::swarm_service::{self, ServiceChange, SwarmError, Updated};

/// How long a new task may take to run after the old one stopped (image start, JVM start);
/// the stop itself gets the step's stop timeout on top.
pub const START_LIMIT: Duration = Duration::from_secs(240);

fn image_of(spec: &bollard::models::ServiceSpec) -> String {
    spec.task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// Whether `e` came after the new spec was sent (the service may be half-rolled).
fn after_send(e: &SwarmError) -> bool {
    matches!(
        e,
        SwarmError::Paused { .. } | SwarmError::Timeout { .. } | SwarmError::Waiting { .. }
    )
}

/// A failure before anything was sent, classified.
fn before_send(e: SwarmError) -> RuntimeError {
    match e {
        SwarmError::Docker {
            service,
            what,
            source,
        } => classify(source, &format!("service `{service}`: {what}")),
        SwarmError::Saving { .. } => RuntimeError::Unavailable(e.to_string()),
        other => RuntimeError::Refused(other.to_string()),
    }
}

fn rolled(u: &Updated, previous_image: String) -> ServiceRolled {
    ServiceRolled {
        task_id: u.task_id.clone(),
        previous_image,
        image: image_of(&u.applied),
        elapsed: u.elapsed,
    }
}

impl DockerRuntime {
    pub(crate) async fn swarm_node_info(&self) -> Result<SwarmNode, RuntimeError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| classify(e, "reading the engine's Swarm state"))?;
        let swarm = info.swarm.unwrap_or_default();
        Ok(SwarmNode {
            manager: swarm.control_available == Some(true),
            state: swarm
                .local_node_state
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "inactive".into()),
        })
    }

    pub(crate) async fn labels_of_service(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, String>, RuntimeError> {
        let svc = self
            .docker
            .inspect_service(name, None::<InspectServiceOptions>)
            .await
            .map_err(|e| classify(e, &format!("service `{name}`")))?;
        Ok(svc
            .spec
            .and_then(|s| s.labels)
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    pub(crate) async fn services_of_stack(
        &self,
        stack: &str,
    ) -> Result<Vec<ServiceView>, RuntimeError> {
        let filters = std::collections::HashMap::from([(
            "label".to_owned(),
            vec![format!("{STACK_LABEL}={stack}")],
        )]);
        let services = self
            .docker
            .list_services(Some(ListServicesOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|e| classify(e, &format!("the services of stack `{stack}`")))?;
        Ok(services
            .into_iter()
            .filter_map(|s| s.spec)
            .map(|spec| {
                let container = spec
                    .task_template
                    .as_ref()
                    .and_then(|t| t.container_spec.clone())
                    .unwrap_or_default();
                ServiceView {
                    name: spec.name.clone().unwrap_or_default(),
                    image: container.image.unwrap_or_default(),
                    env: container.env.unwrap_or_default(),
                    hostname: container.hostname.unwrap_or_default(),
                    stop_grace_period: container
                        .stop_grace_period
                        .and_then(|ns| u64::try_from(ns).ok())
                        .map(Duration::from_nanos),
                    labels: spec.labels.unwrap_or_default().into_iter().collect(),
                }
            })
            .collect())
    }

    /// `image` pinned to the digest its registry names for it now, as `docker stack deploy`
    /// and `docker service update` pin it (`--resolve-image always`): every node runs the same
    /// image, and redeploying the stack file that names the tag changes nothing. When the
    /// registry cannot be asked, the image as named (what the CLI does too, with a warning).
    async fn pinned(&self, image: &str) -> String {
        if image.contains('@') {
            return image.to_owned();
        }
        match self.docker.inspect_registry_image(image, None).await {
            Ok(d) if !d.descriptor.digest.as_deref().unwrap_or("").is_empty() => {
                format!("{image}@{}", d.descriptor.digest.unwrap_or_default())
            }
            Ok(_) => image.to_owned(),
            Err(e) => {
                tracing::warn!(
                    "{image}: the registry gave no digest ({e}); the service names the tag, each node resolves it"
                );
                image.to_owned()
            }
        }
    }

    pub(crate) async fn update_swarm_service(
        &self,
        op: &str,
        name: &str,
        u: &ServiceUpdate,
    ) -> Result<ServiceRolled, RuntimeError> {
        let image = match &u.image {
            Some(i) => Some(self.pinned(i).await),
            None => None,
        };
        let change = ServiceChange {
            image,
            set_env: u.env.set.clone(),
            remove_env: u.env.remove.clone(),
            rename_env: u.env.rename.clone(),
            hostname: u.hostname.clone(),
            min_stop_grace: u.stop_timeout,
        };
        let limit = u.stop_timeout + START_LIMIT;
        let docker = &self.docker;
        let keep = |previous: bollard::models::ServiceSpec| {
            let saved = Saved {
                operation_id: op.to_owned(),
                spec: previous,
            };
            async move {
                swarm_saved::remember(docker, name, &saved)
                    .await
                    .map_err(|e| SwarmError::Saving {
                        service: name.to_owned(),
                        why: e.to_string(),
                    })
            }
        };
        match swarm_service::update_keeping(docker, name, &change, op, limit, keep).await {
            Ok(done) if done.already_sent => {
                // Sent before under this id (maybe through another manager): the image before
                // is the one that send saved.
                let previous = swarm_saved::recall(docker, name)
                    .await
                    .ok()
                    .flatten()
                    .filter(|s| s.operation_id == op)
                    .map(|s| s.image())
                    .unwrap_or_default();
                Ok(rolled(&done, previous))
            }
            Ok(done) => Ok(rolled(&done, image_of(&done.previous))),
            Err(e) if after_send(&e) => Err(self.put_service_back(op, name, limit, &e).await),
            Err(e) => Err(before_send(e)),
        }
    }

    /// After an update that did not come up: the saved spec back in place, waited for.
    async fn put_service_back(
        &self,
        op: &str,
        name: &str,
        limit: Duration,
        cause: &SwarmError,
    ) -> RuntimeError {
        let broken = |restore: String| RuntimeError::Broken {
            container: name.to_owned(),
            cause: cause.to_string(),
            restore,
        };
        let saved = match swarm_saved::recall(&self.docker, name).await {
            Ok(Some(s)) => s,
            Ok(None) => return broken("no saved spec".into()),
            Err(e) => return broken(e.to_string()),
        };
        tracing::warn!(service = name, operation_id = op, error = %cause, "The service's new task did not come up; putting the saved spec back.");
        let back_op = format!("{op}/put-back");
        match swarm_service::restore(&self.docker, name, &saved.spec, &back_op, limit).await {
            Ok(_) => RuntimeError::Restored {
                container: name.to_owned(),
                cause: cause.to_string(),
            },
            Err(e) => broken(e.to_string()),
        }
    }

    pub(crate) async fn restore_swarm_service(
        &self,
        op: &str,
        name: &str,
        stop_timeout: Duration,
    ) -> Result<ServiceRolled, RuntimeError> {
        let saved = swarm_saved::recall(&self.docker, name)
            .await?
            .ok_or_else(|| {
                RuntimeError::Refused(format!("no spec of service `{name}` is saved"))
            })?;
        let limit = stop_timeout + START_LIMIT;
        match swarm_service::restore(&self.docker, name, &saved.spec, op, limit).await {
            Ok(done) => {
                swarm_saved::forget(&self.docker, name).await?;
                Ok(rolled(&done, image_of(&done.previous)))
            }
            Err(e) if after_send(&e) => Err(RuntimeError::Broken {
                container: name.to_owned(),
                cause: e.to_string(),
                restore: format!(
                    "the saved spec (of operation `{}`) stays saved; check `docker service ps {name}`",
                    saved.operation_id
                ),
            }),
            Err(e) => Err(before_send(e)),
        }
    }
}
