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
use kroll_shared::model::{Container, EnvPatch};

/// Errors of the container runtime, classified as the caller needs them.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no such container `{0}`")]
    NotFound(String),
    #[error("the container runtime is unreachable: {0}")]
    Unavailable(String),
    #[error("the container runtime refused: {0}")]
    Refused(String),
    /// The engine refused a Swarm call because it is no manager (HTTP 503).
    #[error("this engine {words} ({0}); nothing was done", words = kroll_shared::wire::NOT_A_MANAGER)]
    NotManager(String),
    /// A change failed midway; the previous container is back under its name and started.
    #[error(
        "{cause}; the previous container was put back under `{container}` and started (the new definition is not in place)"
    )]
    Restored { container: String, cause: String },
    /// A change failed midway and putting the previous container back failed too.
    #[error(
        "{cause}; putting the previous container back under `{container}` failed too: {restore}"
    )]
    Broken {
        container: String,
        cause: String,
        restore: String,
    },
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

/// What to replace a container with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecreateSpec {
    /// New image reference; `None` keeps the current one.
    pub image: Option<String>,
    pub env: EnvPatch,
    /// New hostname; `None` keeps the current one.
    pub hostname: Option<String>,
    pub stop_timeout: Duration,
}

/// A finished stop: how long it took and whether the runtime had to kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub took: Duration,
    pub killed_after_timeout: bool,
}

/// A finished recreate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recreated {
    /// Id of the new container (started).
    pub id: String,
    /// The image the kept previous definition runs.
    pub previous_image: String,
    pub stop: Stopped,
}

/// A finished rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// Id of the container running again (the previous definition).
    pub id: String,
    pub restored_image: String,
}

/// What a Swarm service update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUpdate {
    /// New image reference; `None` keeps the current one.
    pub image: Option<String>,
    pub env: EnvPatch,
    /// New hostname; `None` keeps the current one.
    pub hostname: Option<String>,
    /// `stop_grace_period` is raised to at least this.
    pub stop_timeout: Duration,
}

/// A finished Swarm service update or restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRolled {
    /// The task of the spec now in place, running.
    pub task_id: String,
    /// The image before (update: the saved spec's).
    pub previous_image: String,
    /// The image now.
    pub image: String,
    /// Update call → new task running.
    pub elapsed: Duration,
}

/// This engine's place in a Docker Swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    /// Whether the engine is a manager (may update services).
    pub manager: bool,
    /// Swarm's word for the engine's state (`inactive`, `active`, `pending`, `error`, `locked`).
    pub state: String,
}

/// A Swarm service's spec as far as a stack file describes it (the manager's copy).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceView {
    /// `<stack>_<service>`.
    pub name: String,
    /// `TaskTemplate.ContainerSpec.Image`.
    pub image: String,
    /// `TaskTemplate.ContainerSpec.Env`, `NAME=value` or `NAME`.
    pub env: Vec<String>,
    /// `TaskTemplate.ContainerSpec.Hostname` (empty: not set).
    pub hostname: String,
    /// `TaskTemplate.ContainerSpec.StopGracePeriod` (`None`: Swarm's default).
    pub stop_grace_period: Option<Duration>,
    /// The service's labels.
    pub labels: BTreeMap<String, String>,
}

/// What an image present on the node is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFacts {
    /// `sha256:…`.
    pub id: String,
    /// `repository@sha256:…`, one per registry it came from (none when built here).
    pub repo_digests: Vec<String>,
    /// Its version labels only ([`kroll_shared::model::VERSION_LABELS`]).
    pub labels: BTreeMap<String, String>,
}

/// A piece of a container's output, as the runtime delivers it (not split into lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// From stderr (else stdout, or a TTY).
    pub stderr: bool,
    pub bytes: Vec<u8>,
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
    ) -> impl Future<Output = Result<Stopped, RuntimeError>> + Send;

    /// Starts a stopped container.
    fn start(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Ids of the images present, by reference; absent references are missing.
    fn image_ids(
        &self,
        images: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, String>, RuntimeError>> + Send;

    /// Pulls an image; returns its id.
    fn pull(&self, image: &str) -> impl Future<Output = Result<String, RuntimeError>> + Send;

    /// What a present image is: id, registry digests, version labels (`None`: not present).
    fn image_facts(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<Option<ImageFacts>, RuntimeError>> + Send;

    /// Replaces container `id` as `spec` says under operation `op`, keeping the previous
    /// definition for [`ContainerRuntime::rollback`]. The new container is started and must
    /// stay up. Whatever fails before the old container is stopped changes nothing; whatever
    /// fails after puts the old container back ([`RuntimeError::Restored`]).
    fn recreate(
        &self,
        op: &str,
        id: &str,
        spec: &RecreateSpec,
    ) -> impl Future<Output = Result<Recreated, RuntimeError>> + Send;

    /// Brings back the previous definition of container `name` (stopping and removing the
    /// current one, never its volumes).
    fn rollback(
        &self,
        name: &str,
        stop_timeout: Duration,
    ) -> impl Future<Output = Result<RolledBack, RuntimeError>> + Send;

    /// Brings an action the agent died in the middle of to a known end (see
    /// [`crate::recovery`]): waits for a stop Docker still carries out, then leaves the
    /// container running on the definition it had — or on the new one, when a recreate had
    /// already put it in place and it runs. Never changes a definition on its own. Says what
    /// it found and did.
    fn recover(
        &self,
        what: &crate::recovery::Interrupted,
    ) -> impl Future<Output = Result<String, RuntimeError>> + Send;

    /// Whether this engine is a Swarm manager.
    fn swarm_node(&self) -> impl Future<Output = Result<SwarmNode, RuntimeError>> + Send;

    /// The labels of Swarm service `name` (its spec's; [`RuntimeError::NotFound`] when there
    /// is no such service).
    fn service_labels(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, RuntimeError>> + Send;

    /// The services of Swarm stack `stack` (labelled `com.docker.stack.namespace=<stack>`).
    fn stack_services(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<ServiceView>, RuntimeError>> + Send;

    /// Updates Swarm service `name` as `update` says under operation `op` (see
    /// [`crate::swarm_service`]), saving the spec it replaces for
    /// [`ContainerRuntime::restore_service`] before anything is sent. Answers when a task of
    /// the new spec runs. When it does not come up, the saved spec is put back
    /// ([`RuntimeError::Restored`]).
    fn update_service(
        &self,
        op: &str,
        name: &str,
        update: &ServiceUpdate,
    ) -> impl Future<Output = Result<ServiceRolled, RuntimeError>> + Send;

    /// Whether a spec of Swarm service `name` is saved (what a restore would re-apply).
    fn saved_service(&self, name: &str) -> impl Future<Output = Result<bool, RuntimeError>> + Send;

    /// Re-applies the spec the last update of Swarm service `name` saved, under operation
    /// `op`, and answers when its task runs.
    fn restore_service(
        &self,
        op: &str,
        name: &str,
        stop_timeout: Duration,
    ) -> impl Future<Output = Result<ServiceRolled, RuntimeError>> + Send;

    /// Container events from now on. The stream ends or errs when the connection drops; the
    /// caller resubscribes.
    fn events(&self) -> BoxStream<'static, Result<RawEvent, RuntimeError>>;

    /// Follows a container's output (stdout and stderr) from `since_unix_s` on; the stream
    /// ends when the container stops. A runtime that cannot follow logs answers with one
    /// `Refused` error (the JVM monitor then relies on exit codes and heap figures alone).
    fn logs_follow(
        &self,
        id: &str,
        since_unix_s: i64,
    ) -> BoxStream<'static, Result<LogChunk, RuntimeError>> {
        let why = format!("this runtime cannot follow the logs of {id} (since {since_unix_s})");
        Box::pin(futures::stream::once(async move {
            Err(RuntimeError::Refused(why))
        }))
    }
}
