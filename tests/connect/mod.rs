//! kroll's Connect and Schema Registry work against the lab's real services, run as host
//! processes: the lab's JVM Connect workers (Debezium 1.9 on 7.1, 3.0 on 7.7) and Schema
//! Registry started through their image entrypoints, lab brokers and Debian's ZooKeeper.
//!
//! - `clients`: the REST clients, for real (~4 s each).
//! - `backup`: backup → destructive change → restore gives back identical configs and versions.
//! - `quiesce`: lag measured in Kafka reaches 0 before sinks halt; a stuck sink halts with a
//!   message naming its group and partitions; resume restores exactly what was halted.
//! - `migrate`: Debezium 1.9 → 3.0 on a 7.1 → 7.7 worker swap with a dashed prefix: the guard
//!   keeps every key schema id; without it kroll names the drifted topics; validation failures
//!   change nothing.
//! - `phases`: the upgrade's Connect phases: back up and pause on 7.1, migrate and resume on 7.7.
//! - `secure`: `kroll status` over HTTPS with a private CA, basic auth and mutual TLS; refusals
//!   and TLS failures named, no password in any output.

mod backup;
mod clients;
mod migrate;
mod phases;
mod quiesce;
mod secure;

use std::time::Duration;

/// Polls `check` every 50 ms for up to 40 s; panics naming `what` on timeout.
pub async fn poll<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    kroll_tests::eventually(what, Duration::from_secs(40), check).await
}
