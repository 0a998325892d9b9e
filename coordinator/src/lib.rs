//! `kroll`, the coordinator and CLI.
//!
//! It knows the cluster inventory, talks to every node's `kroll-agent` over mutual TLS, and
//! answers "is my cluster healthy" (`kroll status`); it restarts containers through the right
//! agent (`kroll restart`) and issues the certificates the fleet uses (`kroll certs`).
//!
//! # Layout
//! - [`cli`]: the command line; one function per command; exit codes.
//! - [`agents`]: gRPC clients for the agents, every call bounded in time, errors naming the node.
//! - [`watch`]: `kroll watch` — every agent's events, reconnecting; [`alerts`]: the webhook sink.
//! - [`status`]: the fleet health screen (pure assessment + rendering).
//! - [`rest`]: bounded, retried REST calls with errors naming service, URL, request and body.
//! - [`connect`]: Kafka Connect — client, quiesce/resume, Debezium migration per connector,
//!   worker env patch.
//! - [`registry`]: Schema Registry — client, key-schema drift guard, value compatibility.
//! - [`backup`]: backups of connectors and schemas before any change, and their restore.
//! - [`migration`]: the Debezium migration as an operation (refusals, backup, key ids, value
//!   remedy, apply) and the post-resume checks; built on `connect`, `registry` and `backup`.
//! - [`kafka`]: what kroll reads from Kafka itself (sink lag, end offsets, key samples).
//! - [`files`], [`progress`], [`secret`]: leaves — run-directory JSON files, progress lines,
//!   passwords read from a file or a variable (never printed).
//!
//! No two modules import each other, directly or around a circle; the test
//! `module_graph` (`coordinator/tests/module_graph.rs`) fails on any circle.

pub mod agents;
pub mod alerts;
pub mod backup;
pub mod cli;
pub mod connect;
pub mod files;
pub mod kafka;
pub mod migration;
pub mod progress;
pub mod registry;
pub mod remediate;
pub mod rest;
pub mod secret;
pub mod status;
pub mod ui;
pub mod upgrade;
pub mod watch;
