//! kroll's Docker Swarm stack file: read it, edit it minimally, compare it with
//! the live services.
//!
//! The stack file stays the source of truth for a Swarm cluster: after kroll
//! updates services, redeploying an old file would revert image and environment
//! (issue 13, item 3). This crate is pure — no Docker, no network, no async —
//! so the Swarm backend can decide with it and tests can pin every decision.
//!
//! - [`StackFile::parse`] reads a file losslessly (yaml-edit's rowan tree) and
//!   computes each service's effective spec: anchors and `<<:` merges resolved,
//!   environment in mapping or list form, and where each variable is defined.
//! - [`StackFile::edit`] applies [`Edit`]s as minimal text splices — comments,
//!   anchors, merge keys, blank lines and quoting stay — editing an anchor when
//!   exactly the services being changed merge it, and checks that the result
//!   parses to the intended specs.
//! - [`unified_diff`] shows what changed.
//! - [`drift`] compares the file with live services ([`LiveService`]) and
//!   returns typed differences, so pre-flight can refuse drift kroll did not make.
//!
//! ```
//! use kroll_stack::{Edit, EnvPatch, StackFile, unified_diff};
//!
//! let text = "\
//! x-kafka-envs: &kafka-envs
//!   KAFKA_JMX_PORT: 9101 # scraped by Prometheus
//! services:
//!   kafka-01:
//!     image: reg/kafka
//!     environment: *kafka-envs
//!   kafka-02:
//!     image: reg/kafka
//!     environment: *kafka-envs
//! ";
//! let file = StackFile::parse(text, "stack.yml")?;
//! let pin = EnvPatch {
//!     set: [("KAFKA_INTER_BROKER_PROTOCOL_VERSION".into(), "3.1".into())].into(),
//!     ..EnvPatch::default()
//! };
//! let brokers = vec!["kafka-01".into(), "kafka-02".into()];
//! let edited = file.edit(&[Edit::Env { services: brokers, patch: pin }])?;
//! // Exactly the services being changed merge the anchor: the pin goes there.
//! assert_eq!(
//!     unified_diff(file.text(), edited.text(), "a", "b"),
//!     "--- a\n+++ b\n@@ -1,5 +1,6 @@\n x-kafka-envs: &kafka-envs\n   KAFKA_JMX_PORT: 9101 # scraped by Prometheus\n\
//!      +  KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.1\"\n services:\n   kafka-01:\n     image: reg/kafka\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! - `tree`: the rowan tree read into an arena of nodes with ranges and anchors.
//! - `spec`: [`StackFile`], merge resolution, [`ServiceSpec`], [`ResolvedService`].
//! - `edit`: [`Edit`], the edit run and its verification; `edit/plan` decides
//!   where each change is written, `edit/write` makes the text splices.
//! - `scalar`: YAML 1.1 typing as Docker's CLI reads it; quoting new values.
//! - `interpolate`: `${VARIABLE}` substitution.
//! - `duration`: Go durations (`stop_grace_period`).
//! - `image`: image references and their comparison.
//! - `drift`: [`LiveService`] and [`drift`].
//! - `diff`: [`unified_diff`].
//! - `error`: [`StackError`], [`EditError`].

mod diff;
mod drift;
mod duration;
mod edit;
mod error;
mod image;
mod interpolate;
mod scalar;
mod spec;
mod tree;

#[cfg(test)]
mod cli_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod journal_tests;
#[cfg(test)]
mod test_support;

pub use diff::{changed_lines_diff, unified_diff};
pub use drift::{Drift, LiveService, drift, drift_by};
pub use duration::{DEFAULT_STOP_GRACE_PERIOD, format_duration, parse_duration};
pub use edit::Edit;
pub use error::{EditError, ErrorKind, InterpolateError, KeyPath, StackError};
pub use image::{ImageMatch, ImageRef, compare_images};
pub use interpolate::{Vars, interpolate};
pub use kroll_migrate::EnvPatch;
pub use scalar::CliYaml;
pub use spec::{Definition, EnvVar, Located, ResolvedService, ServiceSpec, StackFile};
