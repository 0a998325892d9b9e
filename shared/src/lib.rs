//! Types and plumbing shared by `kroll` (the coordinator) and `kroll-agent`.
//!
//! The rest of kroll works with the domain types defined here; the generated gRPC types of
//! `kroll-proto` only appear in [`wire`], which converts between the two.
//!
//! # Layout
//! - [`model`]: what a node looks like (host, disks, containers) and what happens on it (events).
//! - [`wire`]: conversions between [`model`] and the `kroll.agent.v1` wire types.
//! - [`alerts`]: the inventory's `[alerts]` section (where `kroll watch` posts events).
//! - [`config`]: reading TOML files so that every error names the file, the line and the key.
//! - [`jvm`]: the JVMs of a container (heap, GC, liveness) and heap config drift.
//! - [`inventory`]: the coordinator's description of the cluster: nodes, agents, services.
//! - [`rest_access`]: the inventory's `[connect]` / `[schema_registry]` sections (CA, client
//!   certificate, basic auth with the password from a file or a variable).
//! - [`tls`]: the cluster CA, certificates with roles, and rustls/tonic configurations for
//!   mutual TLS between the coordinator and the agents.
//! - [`secrets`]: what of an environment value may be shown off its node (agents' reports,
//!   the coordinator's stack-file diff).
//! - [`time`]: Unix-millisecond timestamps and human-readable durations.

pub mod alerts;
pub mod config;
pub mod env_mac;
pub mod inventory;
pub mod jvm;
pub mod kafka_access;
pub mod model;
pub mod remediation;
pub mod rest_access;
pub mod secrets;
pub mod time;
pub mod tls;
pub mod wire;
