//! Reads a HotSpot JVM's hsperfdata file — the shared-memory counters that
//! `jstat` reads — to learn its heap, metaspace, GC and liveness without
//! touching the JVM: no attach, no JMX port, no safepoint.
//!
//! The file lives in the JVM's `/tmp/hsperfdata_<user>/<pid>`; for a JVM in
//! a container that is `/proc/<host pid>/root/tmp/hsperfdata_<user>/<nspid>`.
//! Everything under that root belongs to the container, so the crate treats
//! it as hostile: paths are resolved inside the root without following any
//! symlink, only small regular files are read, and the parser checks every
//! offset and never panics.
//!
//! ```no_run
//! use std::time::Instant;
//! use kroll_hsperf::{JvmProbe, ProbeOptions};
//!
//! let mut probe = JvmProbe::new(4242, ProbeOptions::default());
//! match probe.sample(Instant::now()) {
//!     Ok(s) => println!("heap {} / {:?} bytes, {:?} full GCs", s.used, s.max, s.full_gc),
//!     Err(why) => println!("heap unknown: {why}"),
//! }
//! ```
//!
//! # Layout
//!
//! * [`parse`] — the binary format: [`PerfData`], [`Entry`], [`Value`], [`ParseError`]
//!   (`parse/entry.rs` checks one entry, `parse/error.rs` the error kinds,
//!   `parse/types.rs` the header and value types).
//! * [`heap`] — [`HeapSample`] derived from the counters in one pass
//!   (`heap/gather.rs`), with the per-collector rule for the maximum heap.
//! * [`opts`] — JVM options: `-Xmx` and friends from `vmArgs`, a command line or a
//!   container's environment; `-XX:-UsePerfData` detection.
//! * [`safe_open`] — opening a file under a root with `openat2` (or `O_NOFOLLOW`
//!   per component), type, link-count and size checks.
//! * [`locate`] — finding `tmp/hsperfdata_*/<nspid>` under a root; host-`/tmp` check.
//! * [`procfs`] — `/proc/<pid>/status` (`NSpid`), `cmdline`, pid namespaces and the
//!   Java processes of a container.
//! * [`liveness`] — [`Liveness`]: are the JVM's ticks still advancing?
//! * [`probe`] — [`read_pid`], [`JvmProbe`] and [`Unreadable`], the reasons a heap is
//!   unknown.
//!
//! Tests: unit tests in each file; `tests/tests.rs` is one integration binary
//! (`captured`: files captured from live JDK 17/25 JVMs in `tests/data/`;
//! `hostile`: a fake container root full of traps; `live`: real JVMs against
//! `jstat -gc`; `mutation`: a bounded, seeded mutation fuzz that runs under
//! plain `cargo test`). `fuzz/` holds a cargo-fuzz target for long runs (see
//! `fuzz/README.md`); `examples/bench.rs` times a sample against `jstat`.
#![forbid(unsafe_code)]

pub mod heap;
pub mod liveness;
pub mod locate;
pub mod opts;
pub mod parse;
pub mod probe;
pub mod procfs;
pub mod safe_open;
#[cfg(test)]
mod testbuf;

pub use heap::{Collector, GcStats, HeapSample, MaxRule, Space};
pub use liveness::{Liveness, LivenessState};
pub use locate::Location;
pub use opts::{
    EnvHeap, HeapSetting, max_heap_from_args, max_heap_from_env, max_heap_from_opts, parse_size,
};
pub use parse::{ByteOrder, Entry, Header, ParseError, ParseErrorKind, PerfData, Value};
pub use probe::{
    JvmProbe, ProbeOptions, StaleReason, Unreadable, read_file_in_root, read_nspid_in_root,
    read_pid,
};
pub use procfs::Proc;
pub use safe_open::{AccessError, Resolve};
