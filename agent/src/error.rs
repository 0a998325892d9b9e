//! The agent's errors, each carrying what an operator needs to act on it, and their one mapping
//! to gRPC status codes.
//!
//! The codes of a mutating call say what became of the container:
//!
//! | code | meaning |
//! |---|---|
//! | `INVALID_ARGUMENT`, `NOT_FOUND`, `PERMISSION_DENIED`, `FAILED_PRECONDITION`, `ALREADY_EXISTS` | refused; nothing was changed |
//! | `UNAVAILABLE` | Docker or the audit log could not be reached before acting; nothing was changed |
//! | `ABORTED` | failed midway; the previous container was put back under its name and started (a Swarm service: its saved spec was put back and its task runs) |
//! | `INTERNAL` | failed midway and could not be put back; the message says what is where |
//!
//! A missing container and one outside the allowlist get the same answer, so a caller cannot
//! learn which containers exist beside the managed ones.

use crate::runtime::RuntimeError;

/// Why a call to the agent did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    #[error("invalid request: {0}; nothing was done")]
    Invalid(#[from] crate::validate::Invalid),
    #[error("{peer} may not {action} (needs the coordinator role)")]
    PermissionDenied { peer: String, action: &'static str },
    #[error(
        "no managed container `{container}` on node `{node}` (this agent manages {allowed}); nothing was done"
    )]
    NotManaged {
        container: String,
        node: String,
        allowed: String,
    },
    #[error(
        "`{container}` on node `{node}` is the kept previous definition of `{service}`: it is never acted on directly (roll back `{service}` instead); nothing was done"
    )]
    KeptContainer {
        container: String,
        service: String,
        node: String,
    },
    #[error(
        "`{container}` on node `{node}` is a task of the Docker Swarm service `{service}`: recreating it would make Swarm start another task beside it; update the service instead (`docker service update --image … {service}`); nothing was done"
    )]
    SwarmTask {
        container: String,
        service: String,
        node: String,
    },
    #[error(
        "node `{node}` {} (its engine's Swarm state: {state}): services are updated only through a manager's agent; nothing was done",
        kroll_shared::wire::NOT_A_MANAGER
    )]
    NotSwarmManager { node: String, state: String },
    #[error(
        "no managed Swarm service `{service}` on manager `{node}` (this agent may update {allowed}); nothing was done"
    )]
    ServiceNotManaged {
        service: String,
        node: String,
        allowed: String,
    },
    #[error(
        "stack `{stack}` is not managed on manager `{node}` (this agent may describe only whole stacks in [allow] stacks; it may update {allowed}); nothing was done"
    )]
    StackNotManaged {
        stack: String,
        node: String,
        allowed: String,
    },
    #[error(
        "no spec of service `{service}` is saved in the swarm (asked through manager `{node}`) {}; nothing was done",
        kroll_shared::wire::NOTHING_SAVED
    )]
    NothingSaved { service: String, node: String },
    #[error(
        "no previous definition of `{container}` is kept on node `{node}` {}",
        kroll_shared::wire::NOTHING_KEPT
    )]
    NothingKept { container: String, node: String },
    #[error("operation id `{id}` was already used to {action} `{container}`; use a new id")]
    OperationConflict {
        id: String,
        action: String,
        container: String,
    },
    #[error(
        "operation `{id}` began at {began} but the agent stopped before it ended{}; check the container's state (`kroll status`) and retry with a new operation id",
        .recovered.as_deref().map(|r| format!(" (at its next start: {r})")).unwrap_or_default()
    )]
    OutcomeUnknown {
        id: String,
        began: String,
        recovered: Option<String>,
    },
    #[error("cannot write the audit log, so no change is made: {0}")]
    Audit(#[source] std::io::Error),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

impl From<AgentError> for tonic::Status {
    fn from(e: AgentError) -> Self {
        use tonic::Code;
        let code = match &e {
            AgentError::InvalidArgument(_) | AgentError::Invalid(_) => Code::InvalidArgument,
            AgentError::PermissionDenied { .. } => Code::PermissionDenied,
            AgentError::NotManaged { .. }
            | AgentError::ServiceNotManaged { .. }
            | AgentError::StackNotManaged { .. }
            | AgentError::Runtime(RuntimeError::NotFound(_)) => Code::NotFound,
            AgentError::OperationConflict { .. } => Code::AlreadyExists,
            AgentError::OutcomeUnknown { .. }
            | AgentError::NothingKept { .. }
            | AgentError::NothingSaved { .. }
            | AgentError::NotSwarmManager { .. }
            | AgentError::KeptContainer { .. }
            | AgentError::SwarmTask { .. }
            | AgentError::Runtime(RuntimeError::Refused(_))
            | AgentError::Runtime(RuntimeError::NotManager(_)) => Code::FailedPrecondition,
            AgentError::Audit(_) | AgentError::Runtime(RuntimeError::Unavailable(_)) => {
                Code::Unavailable
            }
            AgentError::Runtime(RuntimeError::Restored { .. }) => Code::Aborted,
            AgentError::Runtime(RuntimeError::Broken { .. }) => Code::Internal,
        };
        tonic::Status::new(code, e.to_string())
    }
}
