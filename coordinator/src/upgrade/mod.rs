//! The rolling upgrade: plan, gates, two IBP rolls, journal + resume, halt + rollback.
//!
//! # Layout
//! - [`version`]: platform ↔ Kafka versions, legal paths.
//! - [`view`]: one observation of the cluster (agents + Kafka).
//! - [`observe`]: observing agents, Kafka (rdkafka) and ZooKeeper.
//! - [`plan`]: the plan, derived purely from a view and the target (desired states).
//! - [`gates`]: the health gates as pure predicates.
//! - [`actions`]: the node-action layer (agents today, room for Swarm).
//! - [`journal`]: the run directory, fsynced journal, lock.
//! - [`engine`] + [`steps`]: carrying a plan out, halting and rolling back.
//! - [`progress`]: progress lines and the final report.

pub mod actions;
pub mod engine;
pub mod gates;
pub mod journal;
pub mod observe;
pub mod plan;
pub mod progress;
pub mod rollback;
pub mod steps;
pub mod version;
pub mod view;

#[cfg(test)]
mod sim_tests;
