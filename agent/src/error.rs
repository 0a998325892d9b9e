//! The agent's errors, each carrying what an operator needs to act on it, and their one mapping
//! to gRPC status codes.

use crate::runtime::RuntimeError;

/// Why a call to the agent did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    #[error("{peer} may not {action} (needs the coordinator role)")]
    PermissionDenied { peer: String, action: &'static str },
    #[error("no container `{container}` on node `{node}`")]
    NotFound { container: String, node: String },
    #[error(
        "container `{container}` is not managed by the agent on node `{node}` (allowed: {allowed}); nothing was done"
    )]
    NotManaged {
        container: String,
        node: String,
        allowed: String,
    },
    #[error(
        "no previous definition of `{container}` is kept on node `{node}` (nothing to roll back to)"
    )]
    NothingKept { container: String, node: String },
    #[error("operation id `{id}` was already used to {action} `{container}`; use a new id")]
    OperationConflict {
        id: String,
        action: String,
        container: String,
    },
    #[error(
        "operation `{id}` began at {began} but its outcome was not recorded (the agent stopped mid-way); check the container's state and retry with a new operation id"
    )]
    OutcomeUnknown { id: String, began: String },
    #[error("cannot write the audit log, so no change is made: {0}")]
    Audit(#[source] std::io::Error),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

impl From<AgentError> for tonic::Status {
    fn from(e: AgentError) -> Self {
        use tonic::Code;
        let code = match &e {
            AgentError::InvalidArgument(_) => Code::InvalidArgument,
            AgentError::PermissionDenied { .. } | AgentError::NotManaged { .. } => {
                Code::PermissionDenied
            }
            AgentError::NotFound { .. } | AgentError::Runtime(RuntimeError::NotFound(_)) => {
                Code::NotFound
            }
            AgentError::OperationConflict { .. } => Code::AlreadyExists,
            AgentError::OutcomeUnknown { .. }
            | AgentError::NothingKept { .. }
            | AgentError::Runtime(RuntimeError::Refused(_)) => Code::FailedPrecondition,
            AgentError::Audit(_) | AgentError::Runtime(RuntimeError::Unavailable(_)) => {
                Code::Unavailable
            }
        };
        tonic::Status::new(code, e.to_string())
    }
}
