//! The Swarm service actions the coordinator may ask a manager's agent for — update a service,
//! restore its saved spec — through the same path as every container action
//! (`Core::run_op`: operation id, audited refusal, operation-id record and replay, fsynced
//! `begin` / `end`). Their own checks, before anything is audited as begun: the caller's values
//! are valid, this engine is a Swarm manager (else the refusal names the node), and the
//! service is allowed (`[allow] services` / `stacks`; a missing service and one outside the
//! allowlist get the same answer).

use serde::{Deserialize, Serialize};

use kroll_shared::tls::PeerIdentity;

use crate::actions::{Answer, Op, Replacement, millis};
use crate::error::AgentError;
use crate::node::Core;
use crate::runtime::{ContainerRuntime, RuntimeError, ServiceRolled, ServiceUpdate};

/// The audit log's action name of a service update.
pub const UPDATE: &str = "update-service";
/// The audit log's action name of a service restore.
pub const RESTORE: &str = "restore-service";

/// Whether an audited action is a Swarm service action (recovery at start-up leaves those to
/// Swarm).
pub fn is_service_action(action: &str) -> bool {
    action == UPDATE || action == RESTORE
}

/// A finished service update or restore (also what the audit log records for replay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceOutcome {
    pub task_id: String,
    pub previous_image: String,
    pub image: String,
    pub elapsed_ms: u64,
}

impl From<ServiceRolled> for ServiceOutcome {
    fn from(r: ServiceRolled) -> Self {
        Self {
            task_id: r.task_id,
            previous_image: r.previous_image,
            image: r.image,
            elapsed_ms: millis(r.elapsed),
        }
    }
}

impl<R: ContainerRuntime> Core<R> {
    /// Refuses unless this engine is a Swarm manager (the refusal names the node and its state).
    pub(crate) async fn require_manager(&self) -> Result<(), AgentError> {
        let swarm = self.runtime.swarm_node().await?;
        if swarm.manager {
            return Ok(());
        }
        Err(AgentError::NotSwarmManager {
            node: self.config.node.clone(),
            state: if swarm.state == "active" {
                "active worker".into()
            } else {
                swarm.state
            },
        })
    }

    /// Checks that this engine is a manager and `service` an allowed service: (name, name).
    async fn managed_service(&self, service: &str) -> Result<(String, String), AgentError> {
        self.require_manager().await?;
        let unmanaged = || AgentError::ServiceNotManaged {
            service: service.to_owned(),
            node: self.config.node.clone(),
            allowed: self.config.allow.services_text(),
        };
        let labels = self
            .runtime
            .service_labels(service)
            .await
            .map_err(|e| match e {
                RuntimeError::NotFound(_) => unmanaged(),
                other => other.into(),
            })?;
        if !self.config.allow.allows_service(service, &labels) {
            return Err(unmanaged());
        }
        Ok((service.to_owned(), service.to_owned()))
    }

    /// Updates Swarm service `service` (new image, environment patch, hostname), saving its
    /// previous spec for [`Self::restore_service`].
    pub async fn update_service(
        &self,
        peer: &PeerIdentity,
        id: &str,
        service: &str,
        change: Replacement,
    ) -> Result<Answer<ServiceOutcome>, AgentError> {
        let Replacement {
            image,
            env,
            hostname,
            stop_timeout_s,
        } = change;
        let op = Op {
            peer,
            action: UPDATE,
            id,
            target: service,
            stop: None,
        };
        let asked = (env.clone(), hostname.clone(), image.clone());
        let check = async move {
            self.stop_timeout(stop_timeout_s)?;
            let (env, hostname, image) = asked;
            crate::validate::env_patch(&env)?;
            if let Some(h) = &hostname {
                crate::validate::hostname(h)?;
            }
            if let Some(i) = &image {
                crate::validate::image(i)?;
            }
            self.managed_service(service).await
        };
        let (outcome, replayed) = self
            .run_op(op, check, |name| async move {
                let update = ServiceUpdate {
                    image,
                    env,
                    hostname,
                    stop_timeout: self.stop_timeout(stop_timeout_s)?,
                };
                let r = self.runtime.update_service(id, &name, &update).await?;
                let detail = format!(
                    "{} → {}; task {} running after {} ms",
                    r.previous_image,
                    r.image,
                    r.task_id,
                    millis(r.elapsed)
                );
                Ok((ServiceOutcome::from(r), detail))
            })
            .await?;
        Ok(Answer {
            outcome,
            replayed,
            container: None,
        })
    }

    /// Re-applies the spec the last update of `service` saved.
    pub async fn restore_service(
        &self,
        peer: &PeerIdentity,
        id: &str,
        service: &str,
        stop_timeout_s: u32,
    ) -> Result<Answer<ServiceOutcome>, AgentError> {
        let op = Op {
            peer,
            action: RESTORE,
            id,
            target: service,
            stop: None,
        };
        let check = async {
            self.stop_timeout(stop_timeout_s)?;
            let target = self.managed_service(service).await?;
            if !self.runtime.saved_service(service).await? {
                return Err(AgentError::NothingSaved {
                    service: service.to_owned(),
                    node: self.config.node.clone(),
                });
            }
            Ok(target)
        };
        let (outcome, replayed) = self
            .run_op(op, check, |name| async move {
                let r = self
                    .runtime
                    .restore_service(id, &name, self.stop_timeout(stop_timeout_s)?)
                    .await?;
                let detail = format!(
                    "saved spec back: {} → {}; task {} running after {} ms",
                    r.previous_image,
                    r.image,
                    r.task_id,
                    millis(r.elapsed)
                );
                Ok((ServiceOutcome::from(r), detail))
            })
            .await?;
        Ok(Answer {
            outcome,
            replayed,
            container: None,
        })
    }
}
