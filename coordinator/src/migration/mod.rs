//! The Debezium 1.9 → 3.0 migration as an operation, as `kroll connectors migrate` and the
//! upgrade's resume phase run it.
//!
//! It sits above [`crate::connect`] (plan, validate and apply per connector:
//! [`crate::connect::migrate`]), [`crate::registry`] (key ids, value compatibility and its
//! remedy) and [`crate::backup`]; none of those imports it.
//!
//! # Layout
//! - [`run`]: the whole migration with its refusals, backup, key ids and value remedy.
//! - [`post_check`]: after the connectors resumed, put the value subjects' levels back and
//!   verify the key schema ids.

pub mod post_check;
pub mod run;

pub use post_check::{PostCheck, PostCheckError, post_resume_checks};
pub use run::{MigrateOutcome, MigrateRunError, MigrateSettings, run_migration};
