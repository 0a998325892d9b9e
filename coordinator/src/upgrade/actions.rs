//! The node-action layer: how the upgrade changes a container on a node. The planner and the
//! gates never see below this trait.
//!
//! [`AgentActions`] does it through each node's kroll-agent (standalone or Compose
//! containers: recreate in place, keep the previous definition for rollback). A Docker Swarm
//! backend fits beside it: `recreate` becomes a service update through a manager
//! (`--image`, `--env-add`/`--env-rm`, `--hostname`), `rollback` the service's rollback, image
//! presence a per-node check through the agents — without touching the planner or the gates.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use kroll_shared::inventory::Inventory;
use kroll_shared::tls::TlsMaterial;

use super::plan::Change;
use crate::agents::{AgentCallError, AgentClient, Recreated, RolledBack};

/// What the upgrade asks of a node.
pub trait NodeActions: Sync {
    /// Which of `images` are present on `node`: (present → id, missing).
    fn images_present(
        &self,
        node: &str,
        images: &[String],
    ) -> impl Future<Output = Result<(BTreeMap<String, String>, Vec<String>), AgentCallError>> + Send;

    /// Pulls `image` onto `node`.
    fn pull(
        &self,
        node: &str,
        op_id: &str,
        image: &str,
    ) -> impl Future<Output = Result<String, AgentCallError>> + Send;

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
        let n = self.inv.node(node).ok_or_else(|| AgentCallError {
            node: node.into(),
            addr: String::new(),
            kind: crate::agents::CallErrorKind::Unreachable("not in the inventory".into()),
        })?;
        AgentClient::connect(n, &self.tls, self.inv.agents.timeout()).await
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

    async fn pull(&self, node: &str, op_id: &str, image: &str) -> Result<String, AgentCallError> {
        Ok(self.client(node).await?.pull(op_id, image).await?.0)
    }

    async fn recreate(
        &self,
        node: &str,
        op_id: &str,
        container: &str,
        change: &Change,
        stop_timeout: Duration,
    ) -> Result<Recreated, AgentCallError> {
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
        self.client(node)
            .await?
            .rollback(op_id, container, stop_timeout)
            .await
    }
}
