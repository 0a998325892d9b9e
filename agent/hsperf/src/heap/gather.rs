//! The single pass over the entries that collects the counters a
//! [`HeapSample`] needs, and the per-collector rules that turn them into one.

use super::{Collector, GcStats, HeapSample, MaxRule, Space};
use crate::opts::max_heap_from_args;
use crate::parse::{Entry, Value};

const MIB: u64 = 1 << 20;

/// Raw counters of one space, gathered during the pass.
#[derive(Debug, Clone, Copy, Default)]
struct RawSpace {
    used: Option<i64>,
    capacity: Option<i64>,
    max: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct RawCollector<'a> {
    count: Option<i64>,
    time: Option<i64>,
    name: Option<&'a [u8]>,
}

/// Everything the pass collects, borrowed from the buffer.
#[derive(Debug, Default)]
pub(super) struct Gathered<'a> {
    spaces: [[RawSpace; 3]; 2],
    gen_max: [Option<i64>; 2],
    collectors: [RawCollector<'a>; 3],
    metaspace: RawSpace,
    class_space: RawSpace,
    policy: Option<&'a [u8]>,
    last_cause: Option<&'a [u8]>,
    ticks: Option<i64>,
    frequency: Option<i64>,
    command: Option<&'a [u8]>,
    vm_args: Option<&'a [u8]>,
    version: Option<&'a [u8]>,
}

/// A single decimal digit below `limit`.
fn index(s: &str, limit: usize) -> Option<usize> {
    let d = match s.as_bytes() {
        [d @ b'0'..=b'9'] => usize::from(d - b'0'),
        _ => return None,
    };
    (d < limit).then_some(d)
}

fn set_space_field(space: &mut RawSpace, field: &str, v: i64) {
    match field {
        "used" => space.used = Some(v),
        "capacity" => space.capacity = Some(v),
        "maxCapacity" => space.max = Some(v),
        _ => {}
    }
}

impl<'a> Gathered<'a> {
    pub(super) fn take(&mut self, entry: &Entry<'a>) {
        match entry.value {
            Value::Long(v) => self.take_long(entry.name, v),
            Value::String(s) => self.take_string(entry.name, s),
            _ => {}
        }
    }

    fn take_long(&mut self, name: &str, v: i64) {
        match name {
            "sun.os.hrt.ticks" => self.ticks = Some(v),
            "sun.os.hrt.frequency" => self.frequency = Some(v),
            _ => {}
        }
        let Some(rest) = name.strip_prefix("sun.gc.") else {
            return;
        };
        if let Some(field) = rest.strip_prefix("metaspace.") {
            set_space_field(&mut self.metaspace, field, v);
        } else if let Some(field) = rest.strip_prefix("compressedclassspace.") {
            set_space_field(&mut self.class_space, field, v);
        } else if let Some(rest) = rest.strip_prefix("generation.") {
            self.take_generation(rest, v);
        } else if let Some(rest) = rest.strip_prefix("collector.") {
            let mut parts = rest.split('.');
            let (Some(n), Some(field), None) = (parts.next(), parts.next(), parts.next()) else {
                return;
            };
            let Some(c) = index(n, 3).map(|i| &mut self.collectors[i]) else {
                return;
            };
            match field {
                "invocations" => c.count = Some(v),
                "time" => c.time = Some(v),
                _ => {}
            }
        }
    }

    /// `<g>.maxCapacity` or `<g>.space.<s>.<field>`.
    fn take_generation(&mut self, rest: &str, v: i64) {
        let mut parts = rest.split('.');
        let Some(g) = parts.next().and_then(|g| index(g, 2)) else {
            return;
        };
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("maxCapacity"), None, None, None) => self.gen_max[g] = Some(v),
            (Some("space"), Some(s), Some(field), None) => {
                if let Some(s) = index(s, 3) {
                    set_space_field(&mut self.spaces[g][s], field, v);
                }
            }
            _ => {}
        }
    }

    fn take_string(&mut self, name: &str, s: &'a [u8]) {
        match name {
            "sun.gc.policy.name" => self.policy = Some(s),
            "sun.gc.lastCause" => self.last_cause = Some(s),
            "sun.rt.javaCommand" => self.command = Some(s),
            "java.rt.vmArgs" => self.vm_args = Some(s),
            "java.property.java.version" => self.version = Some(s),
            _ => {
                let Some(rest) = name.strip_prefix("sun.gc.collector.") else {
                    return;
                };
                let Some((n, "name")) = rest.split_once('.') else {
                    return;
                };
                if let Some(i) = index(n, 3) {
                    self.collectors[i].name = Some(s);
                }
            }
        }
    }

    fn collector(&self) -> Collector {
        let policy = self.policy.unwrap_or_default();
        let names = || self.collectors.iter().filter_map(|c| c.name);
        let any_name =
            |prefixes: &[&[u8]]| names().any(|n| prefixes.iter().any(|p| n.starts_with(p)));
        if policy == b"GarbageFirst" || any_name(&[b"G1 "]) {
            Collector::G1
        } else if policy.starts_with(b"ParScav") || any_name(&[b"PS", b"Parallel "]) {
            Collector::Parallel
        } else if policy.starts_with(b"Copy") || any_name(&[b"Copy", b"MSC", b"Serial "]) {
            Collector::Serial
        } else if any_name(&[b"Shenandoah"]) {
            Collector::Shenandoah
        } else if any_name(&[b"Z ", b"ZGC "]) {
            Collector::Z
        } else {
            Collector::Unknown
        }
    }

    pub(super) fn finish(self, mod_time_stamp: i64, accessible: bool) -> HeapSample {
        let collector = self.collector();
        let (used, committed) = self.totals(collector);
        let (max, max_rule) = self.max(collector);
        let gc = |i: usize| gc_stats(&self.collectors[i], self.frequency);
        let text = |s: Option<&[u8]>| s.map(|b| String::from_utf8_lossy(b).into_owned());
        let vm_args = text(self.vm_args);
        let configured_max = vm_args
            .as_deref()
            .and_then(|a| max_heap_from_args(a.split_whitespace()));
        HeapSample {
            collector,
            used,
            committed,
            max,
            max_rule,
            eden: space(&self.spaces[0][0]),
            survivor0: space(&self.spaces[0][1]),
            survivor1: space(&self.spaces[0][2]),
            old: space(&self.spaces[1][0]),
            metaspace: space(&self.metaspace),
            class_space: space(&self.class_space),
            young_gc: gc(0),
            full_gc: gc(1),
            concurrent_gc: gc(2),
            last_cause: text(self.last_cause),
            hrt_ticks: self.ticks,
            hrt_frequency: self.frequency,
            mod_time_stamp,
            accessible,
            java_command: text(self.command),
            vm_args,
            java_version: text(self.version),
            configured_max,
        }
    }

    /// Σ used and Σ committed over every space of both generations.
    fn totals(&self, collector: Collector) -> (u64, u64) {
        let unpad = |c: u64| {
            if collector == Collector::G1 {
                c / MIB * MIB
            } else {
                c
            }
        };
        let (mut used, mut committed) = (0u64, 0u64);
        for s in self.spaces.iter().flatten() {
            used = used.saturating_add(non_negative(s.used));
            committed = committed.saturating_add(unpad(non_negative(s.capacity)));
        }
        (used, committed)
    }

    fn max(&self, collector: Collector) -> (Option<u64>, MaxRule) {
        let [young, old] = self.gen_max.map(|m| m.and_then(|v| u64::try_from(v).ok()));
        match collector {
            Collector::G1 => (old.map(|m| m / MIB * MIB), MaxRule::OldGeneration),
            Collector::Z | Collector::Shenandoah => (old, MaxRule::OldGeneration),
            Collector::Parallel | Collector::Serial => {
                let sum = young.zip(old).map(|(y, o)| y.saturating_add(o));
                (sum.or(old), MaxRule::SumOfGenerations)
            }
            Collector::Unknown => (young.max(old), MaxRule::LargestGeneration),
        }
    }
}

fn non_negative(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// A space is reported when at least its `used` or `capacity` counter exists.
fn space(raw: &RawSpace) -> Option<Space> {
    if raw.used.is_none() && raw.capacity.is_none() {
        return None;
    }
    Some(Space {
        used: non_negative(raw.used),
        committed: non_negative(raw.capacity),
        max: non_negative(raw.max),
    })
}

fn gc_stats(raw: &RawCollector<'_>, frequency: Option<i64>) -> Option<GcStats> {
    let count = u64::try_from(raw.count?).ok()?;
    let seconds = match (raw.time, frequency) {
        (Some(t), Some(f)) if f > 0 && t >= 0 => Some(t as f64 / f as f64),
        _ => None,
    };
    Some(GcStats { count, seconds })
}
