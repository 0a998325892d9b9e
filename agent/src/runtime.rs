//! The container runtime as the agent needs it, behind a small trait so the agent's logic is
//! unit-tested with a fake and the real implementation ([`crate::docker`]) against the real
//! Docker engine.
//!
//! The node-action layer talks only to this trait. A Docker Swarm backend (replace a task by
//! updating its service through a manager) fits beside [`crate::docker::DockerRuntime`] without
//! touching the agent's authorisation, audit or the coordinator.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::stream::BoxStream;
use kroll_shared::model::Container;

/// Errors of the container runtime, classified as the caller needs them.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no such container `{0}`")]
    NotFound(String),
    #[error("the container runtime is unreachable: {0}")]
    Unavailable(String),
    #[error("the container runtime refused: {0}")]
    Refused(String),
}

impl RuntimeError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// The engine's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    pub version: String,
    pub api_version: String,
}

/// Just enough of a container to decide whether it is managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A container fully described, with the raw facts the agent filters before reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// Described as the agent reports it, except `env`/`env_keys` (filled from `raw_env`) and
    /// `labels` (all labels; filtered before reporting).
    pub container: Container,
    /// `KEY=value` entries, secrets included: never leaves the agent.
    pub raw_env: Vec<String>,
}

/// What Docker said happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// Docker's action: `start`, `die`, `oom`, `stop`, `kill`, `health_status: healthy`, ...
    pub action: String,
    pub container_id: String,
    /// Container name and labels, from the event's actor attributes.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
    pub time_unix_ms: i64,
}

/// What the agent needs from a container runtime.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// The engine's version and negotiated API version.
    fn info(&self) -> impl Future<Output = Result<RuntimeInfo, RuntimeError>> + Send;

    /// Every container, running or not.
    fn list(&self) -> impl Future<Output = Result<Vec<Summary>, RuntimeError>> + Send;

    /// One container by name or id.
    fn inspect(
        &self,
        name_or_id: &str,
    ) -> impl Future<Output = Result<Inspected, RuntimeError>> + Send;

    /// Graceful stop: the container's stop signal (SIGTERM by default), then SIGKILL after
    /// `timeout`. Returns once the container has exited.
    fn stop(
        &self,
        id: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Starts a stopped container.
    fn start(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Container events from now on. The stream ends or errs when the connection drops; the
    /// caller resubscribes.
    fn events(&self) -> BoxStream<'static, Result<RawEvent, RuntimeError>>;
}
