//! The node-action layer: how the upgrade changes a container on a node. The planner and the
//! gates never see below this trait.
//!
//! [`AgentActions`] does it through the kroll-agents, on one of two backends chosen from the
//! inventory in one place ([`Backend::of`]):
//!
//! - **containers** (standalone or Compose): the node's agent recreates the container in place
//!   and keeps the previous definition for rollback (`RecreateContainer` / `RollbackContainer`);
//! - **Docker Swarm stack** (`[swarm]` in the inventory): the step's container is the task the
//!   node's agent reports under its service's name (`<stack>_<service>`); a recreate becomes
//!   `UpdateService` through a manager's agent (the first of `[swarm] managers` that answers),
//!   a rollback `RestoreService` of the spec that update saved. Image presence and pre-pull
//!   stay on the node that runs the task (its engine starts the new task from its own image
//!   store, so a pull there is what keeps the registry out of the broker's downtime).
//!
//! Neither the planner nor the gates see which backend acts.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use kroll_shared::inventory::{Inventory, Swarm};
use kroll_shared::tls::TlsMaterial;

use super::plan::Change;
use crate::agents::{AgentCallError, AgentClient, CallErrorKind, Pulled, Recreated, RolledBack};

/// How a step's change reaches a service: the one place that decides it.
#[derive(Debug, Clone, Copy)]
pub enum Backend<'a> {
    /// Recreate the container through its node's agent.
    Containers,
    /// Update the Swarm service through a manager's agent.
    Swarm(&'a Swarm),
}

impl<'a> Backend<'a> {
    /// The backend the inventory describes.
    pub fn of(inv: &'a Inventory) -> Self {
        match &inv.swarm {
            Some(s) => Self::Swarm(s),
            None => Self::Containers,
        }
    }
}

/// What the upgrade asks of a node.
pub trait NodeActions: Sync {
    /// Which of `images` are present on `node`: (present → id, missing).
    fn images_present(
        &self,
        node: &str,
        images: &[String],
    ) -> impl Future<Output = Result<(BTreeMap<String, String>, Vec<String>), AgentCallError>> + Send;

    /// Pulls `image` onto `node` (again when `refresh`: a mutable tag), saying what it is.
    fn pull(
        &self,
        node: &str,
        op_id: &str,
        image: &str,
        refresh: bool,
    ) -> impl Future<Output = Result<Pulled, AgentCallError>> + Send;

    /// Replaces `container` on `node` with the definition `change` describes.
    fn recreate(
        &self,
        node: &str,
        op_id: &str,
        container: &str,
        change: &Change,
        stop_timeout: Duration,
    ) -> impl Future<Output = Result<Recreated, AgentCallError>> + Send;

    /// Brings back `container`'s previous definition on `node`.
    fn rollback(
        &self,
        node: &str,
        op_id: &str,
        container: &str,
        stop_timeout: Duration,
    ) -> impl Future<Output = Result<RolledBack, AgentCallError>> + Send;
}

/// [`NodeActions`] through the agents of the inventory.
#[derive(Debug, Clone)]
pub struct AgentActions {
    inv: Inventory,
    tls: TlsMaterial,
}

impl AgentActions {
    /// Actions through the inventory's agents with the coordinator's certificate.
    pub fn new(inv: Inventory, tls: TlsMaterial) -> Self {
        Self { inv, tls }
    }

    async fn client(&self, node: &str) -> Result<AgentClient, AgentCallError> {
        client(&self.inv, &self.tls, node).await
    }

    async fn on_manager<T, F: Future<Output = Result<T, AgentCallError>>>(
        &self,
        swarm: &Swarm,
        call: impl Fn(AgentClient) -> F,
    ) -> Result<T, AgentCallError> {
        on_manager(&self.inv, &self.tls, swarm, call).await
    }
}

/// A client for `node`'s agent.
async fn client(
    inv: &Inventory,
    tls: &TlsMaterial,
    node: &str,
) -> Result<AgentClient, AgentCallError> {
    let n = inv.node(node).ok_or_else(|| AgentCallError {
        node: node.into(),
        addr: String::new(),
        kind: CallErrorKind::Unreachable("not in the inventory".into()),
    })?;
    AgentClient::connect(n, tls, inv.agents.timeout()).await
}

/// `call` through the first of the inventory's Swarm managers that takes it: a manager whose
/// agent cannot be connected to, or whose engine refuses as no manager (demoted, or out of the
/// swarm), gives way to the next — both before anything was done. Any other answer, error or
/// not (a call that timed out may have acted), is the answer; the error of the last one tried
/// when none takes it.
pub async fn on_manager<T, F: Future<Output = Result<T, AgentCallError>>>(
    inv: &Inventory,
    tls: &TlsMaterial,
    swarm: &Swarm,
    call: impl Fn(AgentClient) -> F,
) -> Result<T, AgentCallError> {
    let mut last = no_manager(swarm);
    for m in &swarm.managers {
        let c = match client(inv, tls, m).await {
            Ok(c) => c,
            Err(e) => {
                last = e;
                continue;
            }
        };
        match call(c).await {
            Err(e) if e.not_a_manager() => last = e,
            other => return other,
        }
    }
    Err(last)
}

fn no_manager(swarm: &Swarm) -> AgentCallError {
    AgentCallError {
        node: swarm.managers.join(", "),
        addr: String::new(),
        kind: CallErrorKind::Unreachable("the inventory names no Swarm manager".into()),
    }
}

impl NodeActions for AgentActions {
    async fn images_present(
        &self,
        node: &str,
        images: &[String],
    ) -> Result<(BTreeMap<String, String>, Vec<String>), AgentCallError> {
        self.client(node).await?.images_present(images).await
    }

    async fn pull(
        &self,
        node: &str,
        op_id: &str,
        image: &str,
        refresh: bool,
    ) -> Result<Pulled, AgentCallError> {
        self.client(node).await?.pull(op_id, image, refresh).await
    }

    async fn recreate(
        &self,
        node: &str,
        op_id: &str,
        container: &str,
        change: &Change,
        stop_timeout: Duration,
    ) -> Result<Recreated, AgentCallError> {
        if let Backend::Swarm(swarm) = Backend::of(&self.inv) {
            let r = self
                .on_manager(swarm, |mut m| async move {
                    m.update_service(
                        op_id,
                        container,
                        &change.image,
                        &change.env,
                        change.hostname.as_deref(),
                        stop_timeout,
                    )
                    .await
                })
                .await?;
            return Ok(Recreated {
                node: node.to_owned(),
                container: None,
                replayed: r.replayed,
                stop_duration_ms: 0,
                killed_after_timeout: false,
                previous_image: r.previous_image,
            });
        }
        self.client(node)
            .await?
            .recreate(
                op_id,
                container,
                &change.image,
                &change.env,
                change.hostname.as_deref(),
                stop_timeout,
            )
            .await
    }

    async fn rollback(
        &self,
        node: &str,
        op_id: &str,
        container: &str,
        stop_timeout: Duration,
    ) -> Result<RolledBack, AgentCallError> {
        if let Backend::Swarm(swarm) = Backend::of(&self.inv) {
            let r = self
                .on_manager(swarm, |mut m| async move {
                    m.restore_service(op_id, container, stop_timeout).await
                })
                .await?;
            return Ok(RolledBack {
                node: node.to_owned(),
                container: None,
                replayed: r.replayed,
                restored_image: r.image,
            });
        }
        self.client(node)
            .await?
            .rollback(op_id, container, stop_timeout)
            .await
    }
}
