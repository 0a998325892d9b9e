//! The rolling upgrade: plan, gates, two IBP rolls, journal + resume, halt + rollback.
//!
//! # Layout
//! - [`version`]: platform ↔ Kafka versions, legal paths.
//! - [`view`]: one observation of the cluster (agents + Kafka).
//! - [`observe`]: observing agents, Kafka (rdkafka) and ZooKeeper.
//! - [`plan`]: the plan, derived purely from a view and the target (desired states).
//! - [`gates`]: the health gates as pure predicates, named ([`gates::Gate`]), and the waiting
//!   on them ([`gates::GatePoll`]: a stability window within a time limit).
//! - [`decide`]: every decision — `next(plan, view, run)` — the "step satisfied" predicate,
//!   the observed point of no return, the per-kind policy.
//! - [`actions`]: the node-action layer (containers through their node's agent, or Swarm
//!   services through a manager's agent).
//! - [`journal`]: the run directory, fsynced journal, lock; [`run_state`]: the journal folded.
//! - [`engine`] + [`steps`] + [`rollback`] + [`wait`]: the loop that observes, decides, acts
//!   and journals, and its waiting on gates; `stack_keep`: its acts on the Swarm stack file,
//!   whose decisions are [`stack_file`]'s (pure: the drift kroll did not make, the edits).
//! - [`progress`]: progress lines and the final report; [`timeline`]: the run folded into
//!   rows and segments (pure), drawn by [`report_html`] as the self-contained `report.html`.
//! - [`connect_phases`]: Connect as phases of the upgrade (back up and quiesce before the
//!   first restart; migrate, resume and check after the roll); Connect itself knows nothing of
//!   the upgrade.

pub mod actions;
pub mod connect_phases;
pub mod decide;
pub mod engine;
pub mod gates;
pub mod journal;
pub mod observe;
pub mod plan;
pub mod progress;
pub mod report_html;
pub mod rollback;
pub mod run_state;
pub mod stack_file;
mod stack_keep;
pub mod steps;
pub mod timeline;
pub mod version;
pub mod view;
pub mod wait;
pub mod zk_state;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod sim_tests;
