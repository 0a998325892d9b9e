//! Schema Registry: the REST client, the key-schema drift guard, value compatibility.
//!
//! # Layout
//! - [`api`], [`client`], [`types`]: the [`RegistryApi`] trait, the REST client, the wire shapes.
//! - [`drift`]: recording `<topic>-key` schema ids and verifying them after the connectors
//!   produced; partition moves of sampled keys when an id changed.
//! - [`health`]: whether it answers (`kroll status`).
//! - [`values`]: predicting the Debezium 3.0 envelope's compatibility, and the per-subject
//!   `NONE` remedy that puts each level back once the connector registered.

pub mod api;
pub mod client;
pub mod drift;
#[cfg(test)]
pub(crate) mod fake;
pub mod health;
pub mod types;
pub mod values;

pub use api::{RegistryApi, restore_subject_level};
pub use client::RegistryClient;
pub use drift::{
    DriftCheck, DriftCheckOptions, DriftError, KeyIds, KeyTopic, check_key_drift, record_key_ids,
    verify_key_ids,
};
pub use types::*;
pub use values::{
    ValueCheck, ValuePrediction, ValueRemedy, check_value_compatibility, close_value_remedy,
    open_value_remedy,
};

#[cfg(test)]
mod tests;
