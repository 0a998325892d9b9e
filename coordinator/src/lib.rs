//! `kroll`, the coordinator and CLI.
//!
//! It knows the cluster inventory, talks to every node's `kroll-agent` over mutual TLS, and
//! answers "is my cluster healthy" (`kroll status`); it restarts containers through the right
//! agent (`kroll restart`) and issues the certificates the fleet uses (`kroll certs`).
//!
//! # Layout
//! - [`cli`]: the command line; one function per command; exit codes.
//! - [`agents`]: gRPC clients for the agents, every call bounded in time, errors naming the node.
//! - [`status`]: the fleet health screen (pure assessment + rendering).
//! - [`lab`]: the stand-in cluster kroll is tested and demonstrated on.

pub mod agents;
pub mod cli;
pub mod lab;
pub mod status;
