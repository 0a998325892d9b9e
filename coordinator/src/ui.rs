//! `kroll ui`: a read-only web page of the fleet, live — every node's containers (state,
//! health, version, uptime, restarts), each JVM's heap and old generation over the last 15
//! minutes with its `-Xmx` drift marked, GC counts, disk headroom, an event feed that updates
//! as the agents report, and the newest upgrade run with its timeline.
//!
//! `history` keeps what was observed (pure), `page` renders it (pure), `server` gathers from
//! the agents and serves; `tls` is the listener for `--tls-cert`. The agents are asked only
//! what a `reader` certificate may ask: node states and event streams.

pub mod history;
pub mod page;
pub mod server;
pub mod tls;
