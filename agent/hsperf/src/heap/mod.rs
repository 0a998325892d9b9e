//! [`HeapSample`]: heap, metaspace and GC figures derived from the counters.
//!
//! The derivation is one pass over the entries, matching names by their
//! structure (`sun.gc.generation.<g>.space.<s>.<field>`), with no allocation
//! except the few strings the sample keeps.
//!
//! # The maximum heap size, per collector
//!
//! * **G1, ZGC, Shenandoah** ("whole-heap" collectors): every generation may
//!   grow to the whole heap, so each generation's `maxCapacity` is about the
//!   whole heap and summing them doubles it (a known bug in some parsers). The
//!   maximum is `sun.gc.generation.1.maxCapacity`. JDK 17's G1 also pads every
//!   space's capacity counter by the object alignment (8 bytes) so jstat never
//!   divides by zero; G1 heaps are made of regions of at least 1 MiB, so the
//!   heap totals round each G1 capacity down to a whole MiB to undo it.
//! * **Parallel, Serial** (partitioned heaps): the young and old generations
//!   split the heap, so the maximum is the sum of both generations'
//!   `maxCapacity` (it equals `-Xmx`).
//! * **Unknown**: the largest generation's `maxCapacity` (may under-state a
//!   partitioned heap, never doubles a whole-heap one).
//!
//! Per-space figures are the raw counters, exactly what `jstat -gc` prints.

use crate::opts::HeapSetting;
use crate::parse::PerfData;

mod gather;

use gather::Gathered;

/// One memory space (or metaspace): bytes used, committed and the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Space {
    /// Bytes in use (`used`).
    pub used: u64,
    /// Bytes committed (`capacity`).
    pub committed: u64,
    /// Largest size the space may reach (`maxCapacity`).
    pub max: u64,
}

/// The garbage collector, as far as the counters tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collector {
    /// Garbage-First (`-XX:+UseG1GC`, the default).
    G1,
    /// Parallel (`-XX:+UseParallelGC`).
    Parallel,
    /// Serial (`-XX:+UseSerialGC`).
    Serial,
    /// Shenandoah.
    Shenandoah,
    /// ZGC.
    Z,
    /// Not recognised.
    Unknown,
}

/// How [`HeapSample::max`] was derived (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxRule {
    /// `sun.gc.generation.1.maxCapacity` (whole-heap collectors).
    OldGeneration,
    /// Σ `sun.gc.generation.{0,1}.maxCapacity` (partitioned heaps).
    SumOfGenerations,
    /// The largest generation's `maxCapacity` (unknown collector).
    LargestGeneration,
}

/// Invocation count and accumulated time of one collector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GcStats {
    /// `sun.gc.collector.<n>.invocations`.
    pub count: u64,
    /// `sun.gc.collector.<n>.time` ÷ `sun.os.hrt.frequency`; `None` when the
    /// frequency is missing.
    pub seconds: Option<f64>,
}

/// Heap, metaspace, GC and identity figures of one JVM at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HeapSample {
    /// The collector.
    pub collector: Collector,
    /// Heap bytes used: Σ `used` of every generation's spaces.
    pub used: u64,
    /// Heap bytes committed: Σ `capacity` of every space (G1 padding removed).
    pub committed: u64,
    /// Maximum heap, by [`HeapSample::max_rule`]; `None` without generation counters.
    pub max: Option<u64>,
    /// How `max` was derived.
    pub max_rule: MaxRule,
    /// `sun.gc.generation.0.space.0` (eden; ZGC's whole young generation).
    pub eden: Option<Space>,
    /// `sun.gc.generation.0.space.1` (jstat S0).
    pub survivor0: Option<Space>,
    /// `sun.gc.generation.0.space.2` (jstat S1).
    pub survivor1: Option<Space>,
    /// `sun.gc.generation.1.space.0` (old generation; the whole heap for Shenandoah and JDK 17 ZGC).
    pub old: Option<Space>,
    /// `sun.gc.metaspace.*`.
    pub metaspace: Option<Space>,
    /// `sun.gc.compressedclassspace.*`.
    pub class_space: Option<Space>,
    /// Collector 0 (young pauses).
    pub young_gc: Option<GcStats>,
    /// Collector 1 (full pauses).
    pub full_gc: Option<GcStats>,
    /// Collector 2 (concurrent cycles).
    pub concurrent_gc: Option<GcStats>,
    /// `sun.gc.lastCause`, e.g. `G1 Evacuation Pause`.
    pub last_cause: Option<String>,
    /// `sun.os.hrt.ticks`: advances while the JVM is alive.
    pub hrt_ticks: Option<i64>,
    /// `sun.os.hrt.frequency` (ticks per second).
    pub hrt_frequency: Option<i64>,
    /// The header's `mod_time_stamp`.
    pub mod_time_stamp: i64,
    /// The header's `accessible` flag.
    pub accessible: bool,
    /// `sun.rt.javaCommand` (main class or jar, and its arguments).
    pub java_command: Option<String>,
    /// `java.rt.vmArgs`.
    pub vm_args: Option<String>,
    /// `java.property.java.version`.
    pub java_version: Option<String>,
    /// The maximum heap the JVM was started with, parsed from `vm_args`.
    pub configured_max: Option<HeapSetting>,
}

impl HeapSample {
    /// Derives a sample from parsed counters.
    pub fn from_perf(perf: &PerfData<'_>) -> HeapSample {
        let mut g = Gathered::default();
        for entry in perf.entries() {
            g.take(entry);
        }
        let header = perf.header();
        g.finish(header.mod_time_stamp, header.accessible)
    }

    /// Parses a buffer and derives a sample.
    pub fn from_bytes(buf: &[u8]) -> Result<HeapSample, crate::ParseError> {
        Ok(HeapSample::from_perf(&PerfData::parse(buf)?))
    }

    /// `used / max`, when the maximum is known and non-zero.
    pub fn used_ratio(&self) -> Option<f64> {
        let max = self.max.filter(|m| *m > 0)?;
        Some(self.used as f64 / max as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ByteOrder;
    use crate::testbuf::Builder;

    fn gen_space(b: Builder, g: u8, s: u8, used: i64, cap: i64, max: i64) -> Builder {
        let p = format!("sun.gc.generation.{g}.space.{s}");
        b.long(&format!("{p}.used"), used)
            .long(&format!("{p}.capacity"), cap)
            .long(&format!("{p}.maxCapacity"), max)
    }

    fn heap(b: Builder, gen0_max: i64, gen1_max: i64) -> Builder {
        let b = gen_space(b, 0, 0, 100, 1000, gen0_max);
        let b = gen_space(b, 0, 1, 10, 200, 300);
        let b = gen_space(b, 0, 2, 20, 200, 300);
        gen_space(b, 1, 0, 5000, 9000, gen1_max)
            .long("sun.gc.generation.0.maxCapacity", gen0_max)
            .long("sun.gc.generation.1.maxCapacity", gen1_max)
            .long("sun.os.hrt.frequency", 1_000_000_000)
    }

    #[test]
    fn g1_max_is_old_generation_max_not_the_sum() {
        let mib = 1 << 20;
        let buf = heap(Builder::new(ByteOrder::Little), 64 * mib + 24, 64 * mib + 8)
            .string("sun.gc.policy.name", "GarbageFirst")
            .build();
        let s = HeapSample::from_bytes(&buf).unwrap();
        assert_eq!(s.collector, Collector::G1);
        assert_eq!(
            s.max,
            Some(64 << 20),
            "G1 padding removed, generations not summed"
        );
        assert_eq!(s.max_rule, MaxRule::OldGeneration);
        assert_eq!(
            (s.used, s.committed),
            (5130, 0),
            "G1 committed is whole MiB"
        );
    }

    #[test]
    fn parallel_and_serial_max_is_the_sum_of_generations() {
        for policy in ["ParScav:MSC", "Copy:MSC"] {
            let buf = heap(Builder::new(ByteOrder::Big), 21 << 20, 43 << 20)
                .string("sun.gc.policy.name", policy)
                .build();
            let s = HeapSample::from_bytes(&buf).unwrap();
            assert_eq!(s.max, Some(64 << 20), "{policy}");
            assert_eq!(s.max_rule, MaxRule::SumOfGenerations);
            assert_eq!((s.used, s.committed), (5130, 10400));
        }
    }

    #[test]
    fn collectors_match_by_index_and_ticks_become_seconds() {
        let buf = heap(Builder::new(ByteOrder::Little), 1, 2)
            .long("sun.gc.collector.0.invocations", 7)
            .long("sun.gc.collector.0.time", 1_500_000_000)
            .long("sun.gc.collector.2.invocations", 3)
            .string("sun.gc.collector.0.name", "PSScavenge")
            .string("sun.gc.lastCause", "Allocation Failure")
            .build();
        let s = HeapSample::from_bytes(&buf).unwrap();
        assert_eq!(s.collector, Collector::Parallel, "JDK 11 collector name");
        assert_eq!(
            s.young_gc,
            Some(GcStats {
                count: 7,
                seconds: Some(1.5)
            })
        );
        assert_eq!(s.full_gc, None);
        assert_eq!(s.concurrent_gc.map(|c| c.count), Some(3));
        assert_eq!(
            s.concurrent_gc.and_then(|c| c.seconds),
            None,
            "no time counter"
        );
        assert_eq!(s.last_cause.as_deref(), Some("Allocation Failure"));
    }

    #[test]
    fn unknown_collector_takes_the_largest_generation() {
        let buf = heap(Builder::new(ByteOrder::Little), 30, 64).build();
        let s = HeapSample::from_bytes(&buf).unwrap();
        assert_eq!(
            (s.collector, s.max, s.max_rule),
            (Collector::Unknown, Some(64), MaxRule::LargestGeneration)
        );
    }

    #[test]
    fn negative_and_missing_counters_never_panic() {
        let buf = Builder::new(ByteOrder::Little)
            .long("sun.gc.generation.1.space.0.used", -5)
            .long("sun.gc.generation.1.maxCapacity", -1)
            .long("sun.gc.collector.1.invocations", -1)
            .long("sun.gc.generation.9.space.0.used", 1)
            .long("sun.gc.generation.0.space.10.used", 1)
            .long("sun.gc.collector.0.time", i64::MAX)
            .build();
        let s = HeapSample::from_bytes(&buf).unwrap();
        assert_eq!((s.used, s.max, s.full_gc), (0, None, None));
        assert_eq!(s.used_ratio(), None);
    }

    #[test]
    fn configured_max_comes_from_vm_args() {
        let buf = Builder::new(ByteOrder::Little)
            .string("java.rt.vmArgs", "-Xms1g -Xmx2g -XX:+UseG1GC")
            .build();
        let s = HeapSample::from_bytes(&buf).unwrap();
        assert_eq!(s.configured_max, Some(HeapSetting::Bytes(2 << 30)));
    }
}
