//! Kafka Connect: the REST client, quiesce and resume, the Debezium 1.9 → 3.0 migration as
//! an operation (validate, back up, apply), the worker environment patch, idempotence.
//!
//! Everything that talks to Connect goes through [`ConnectApi`] (the real [`ConnectClients`]
//! fail over between workers; unit tests use an in-memory fake), Kafka through
//! [`crate::kafka::KafkaReader`], Schema Registry through [`crate::registry::RegistryApi`].
//!
//! # Layout
//! - [`api`], [`client`], [`types`]: the trait, the REST client, what Connect answers.
//! - [`mod@quiesce`], [`mod@resume`], [`record`]: halting and resuming around an upgrade, and the
//!   run-directory record that makes resume restore exactly what kroll halted.
//! - [`migrate`]: plan / validate / apply of the Debezium migration (kroll-migrate per
//!   connector); [`migrate_run`]: the whole migration with its refusals, backup, key ids and
//!   value remedy.
//! - [`handover`]: migrated connectors get their migrated *task* configurations before they
//!   resume (stop clears the old ones), and count as running only on them.
//! - [`phases`]: the upgrade's Connect phases ([`UpgradeConnect`]); the resume phase ends in
//!   [`Resumed`] only when Connect is back, else [`Unfinished`].
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
pub mod migrate_run;
pub mod phases;
pub mod quiesce;
pub mod record;
pub mod resume;
pub mod types;

pub use api::{ConnectApi, WorkerProbe, set_target};
pub use client::{ConnectClients, SetupError, connect_transient};
pub use env::{ConnectEnvPlan, connect_env_patch};
pub use idempotence::idempotence_findings;
pub use migrate_run::{MigrateOutcome, MigrateRunError, MigrateSettings, run_migration};
pub use phases::{
    ConnectPhaseError, PostCheck, Resumed, Unfinished, UpgradeConnect, post_resume_checks,
};
pub use quiesce::{QuiesceError, QuiesceOptions, quiesce};
pub use record::{HaltMethod, QuiesceRecord};
pub use resume::{ResumeError, ResumeOptions, ResumeReport, resume};
pub use types::*;

/// Where long operations report progress (one line at a time, for people).
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// A progress sink that drops everything.
pub fn quiet(_: &str) {}
