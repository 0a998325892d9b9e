//! kroll's integration tests, compiled as one binary. They run against the real Docker engine
//! and real agents over mutual TLS; see `support/lib.rs` for the helpers.

mod agent;
mod cli;
mod connect;
mod heap;
mod lab;
mod prom;
mod report;
mod upgrade;
