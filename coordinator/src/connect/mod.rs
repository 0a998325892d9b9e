//! Kafka Connect: the REST client, quiesce and resume, the Debezium 1.9 → 3.0 migration per
//! connector (plan, validate, apply), the worker environment patch, idempotence.
//!
//! Everything that talks to Connect goes through [`ConnectApi`] (the real [`ConnectClients`]
//! fail over between workers; unit tests use an in-memory fake), Kafka through
//! [`crate::kafka::KafkaReader`]. It imports neither Schema Registry, backups, the migration as
//! an operation ([`crate::migration`]) nor the upgrade ([`crate::upgrade::connect_phases`]):
//! those are built on it.
//!
//! # Layout
//! - [`api`], [`client`], [`types`]: the trait, the REST client, what Connect answers.
//! - [`mod@quiesce`], [`mod@resume`], [`record`]: halting and resuming around an upgrade, and the
//!   run-directory record that makes resume restore exactly what kroll halted.
//! - [`migrate`]: plan / validate / apply of the Debezium migration (kroll-migrate per
//!   connector); the whole operation is [`crate::migration`].
//! - [`handover`]: migrated connectors get their migrated *task* configurations before they
//!   resume (stop clears the old ones), and count as running only on them.
//! - [`health`]: Connect's health (failed connectors and tasks, silent workers) for the
//!   post-checks and `kroll status`.
//! - [`mod@env`]: the worker environment patch for the target image; [`idempotence`]: the finding.

pub mod api;
pub mod client;
pub mod env;
#[cfg(test)]
pub(crate) mod fake;
pub mod handover;
pub mod health;
pub mod idempotence;
pub mod migrate;
pub mod quiesce;
pub mod record;
pub mod resume;
pub mod types;

pub use api::{ConnectApi, WorkerProbe, set_target};
pub use client::{ConnectClients, connect_transient};
pub use env::{ConnectEnvPlan, connect_env_patch};
pub use idempotence::idempotence_findings;
pub use quiesce::{QuiesceError, QuiesceOptions, quiesce};
pub use record::{HaltMethod, QuiesceRecord};
pub use resume::{ResumeError, ResumeOptions, ResumeReport, resume};
pub use types::*;
