//! Wire types of the kroll agent protocol, generated from `proto/kroll/agent/v1/agent.proto`.
//!
//! These types stay at the edge: the agent and the coordinator convert them to and from the
//! domain types of `kroll-shared` in one `grpc` module each.
//!
//! # Layout
//! - [`agent::v1`]: messages, the `Agent` service's client (`agent_client`) and server
//!   (`agent_server`).

/// `kroll.agent.*` packages.
pub mod agent {
    /// `kroll.agent.v1`: the first (and current) version of the agent protocol.
    #[allow(missing_docs, clippy::all, missing_debug_implementations)]
    pub mod v1 {
        tonic::include_proto!("kroll.agent.v1");
    }
}
