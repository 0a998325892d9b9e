//! Collectors: one file per kind of fact the agent reports.
//!
//! Blocking calls (sysinfo, `/proc` and file reads) run on tokio's blocking pool, never on the
//! async workers.

pub mod containers;
pub mod disk;
pub mod host;
pub mod jvm;
