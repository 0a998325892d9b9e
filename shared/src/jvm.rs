//! The JVMs of a container as the agent reports them (heap, GC, liveness from hsperfdata),
//! the heap the container's environment asks for, and **heap config drift**: the container
//! asked for one maximum heap, its JVM runs with another (the journal's `HEAP_OPTS: -Xmx12G`
//! while the image reads `KAFKA_HEAP_OPTS` and starts with 2 GiB).
//!
//! Nothing here holds an environment value or a JVM argument: only sizes derived from them
//! and the name of the variable a size came from.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::human_bytes;

/// A finite `f64` that is `Eq` (compared by total order), so the types holding it stay `Eq`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Float(pub f64);

impl PartialEq for Float {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}

impl Eq for Float {}

/// A maximum-heap setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeapSetting {
    /// An absolute size in bytes (`-Xmx`, `-XX:MaxHeapSize=`, `ZK_SERVER_HEAP`).
    Bytes(u64),
    /// A share of the container's memory (`-XX:MaxRAMPercentage=`).
    PercentOfRam(Float),
}

impl fmt::Display for HeapSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(b) => f.write_str(&human_bytes(*b)),
            Self::PercentOfRam(p) => write!(f, "{}% of the container's memory", p.0),
        }
    }
}

/// A setting and where it came from: an environment variable's name, `vm_args` (the JVM's
/// `java.rt.vmArgs`) or `command_line`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapLimit {
    pub setting: HeapSetting,
    pub source: String,
}

/// The Java side of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JavaReport {
    /// What the environment asks for (the variable the JVM would see last), if anything.
    pub configured_heap: Option<HeapLimit>,
    /// Every variable that sets a maximum heap (secret-looking names skipped).
    pub env_heap_settings: Vec<HeapLimit>,
    pub jvms: Vec<Jvm>,
}

/// Is the JVM's tick counter advancing?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Liveness {
    Unknown,
    Advancing,
    Stalled { stalled_ms: u64 },
}

/// One JVM process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jvm {
    /// Host pid.
    pub pid: u32,
    /// Pid inside the container.
    pub nspid: u32,
    /// Main class or jar (never its arguments).
    pub main: String,
    pub java_version: String,
    pub collector: String,
    /// The JVM's real maximum-heap option (`-Xmx…`), if it has one.
    pub max_heap_setting: Option<HeapLimit>,
    /// `None` when unknown; `unreadable` says why.
    pub heap: Option<Heap>,
    pub unreadable: Option<String>,
    pub liveness: Liveness,
    pub sampled_at_unix_ms: i64,
}

/// Heap, metaspace and GC figures, as `jstat -gc` computes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heap {
    pub used_bytes: u64,
    pub committed_bytes: u64,
    pub max_bytes: Option<u64>,
    pub eden: Option<Space>,
    pub survivor0: Option<Space>,
    pub survivor1: Option<Space>,
    pub old: Option<Space>,
    pub metaspace: Option<Space>,
    pub class_space: Option<Space>,
    pub young_gc: Option<GcCount>,
    pub full_gc: Option<GcCount>,
    pub concurrent_gc: Option<GcCount>,
    pub last_gc_cause: String,
}

impl Heap {
    /// `used / max` in percent, when the maximum is known.
    pub fn used_percent(&self) -> Option<f64> {
        let max = self.max_bytes.filter(|m| *m > 0)?;
        Some(self.used_bytes as f64 * 100.0 / max as f64)
    }
}

/// One memory space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    pub used_bytes: u64,
    pub committed_bytes: u64,
    pub max_bytes: u64,
}

/// One collector's invocations and accumulated time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcCount {
    pub count: u64,
    pub seconds: Option<Float>,
}

/// Relative difference tolerated between an asked size and a measured maximum (G1 rounds
/// the heap to whole regions).
const MEASURED_TOLERANCE: f64 = 0.03;
/// The JVM's default `MaxRAMPercentage`.
const DEFAULT_RAM_PERCENT: f64 = 25.0;

fn sizes_differ(asked: u64, got: u64, exact: bool) -> bool {
    if exact {
        return asked != got;
    }
    (asked as f64 - got as f64).abs() > asked as f64 * MEASURED_TOLERANCE
}

fn differs(asked: HeapSetting, got: HeapSetting, got_exact: bool) -> bool {
    match (asked, got) {
        (HeapSetting::Bytes(a), HeapSetting::Bytes(g)) => sizes_differ(a, g, got_exact),
        (HeapSetting::PercentOfRam(a), HeapSetting::PercentOfRam(g)) => (a.0 - g.0).abs() > 0.01,
        _ => true,
    }
}

/// A finding: the container asked for one maximum heap, a JVM in it runs with another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapDrift {
    pub pid: u32,
    pub asked: HeapLimit,
    pub got: HeapSetting,
    /// The other variable of the container that asks for what the JVM got, if any.
    pub matching_var: Option<String>,
    /// What happened and what to do, in words.
    pub explanation: String,
}

/// Compares what a container's environment asks for with what one of its JVMs runs with.
/// `None` when they agree, or when either side is unknown.
pub fn heap_drift(java: &JavaReport, jvm: &Jvm) -> Option<HeapDrift> {
    let asked = java.configured_heap.as_ref()?;
    let exact = jvm.max_heap_setting.is_some();
    let (got, how) = match (asked.setting, &jvm.max_heap_setting) {
        (_, Some(own)) => (own.setting, "its own maximum-heap option"),
        (HeapSetting::PercentOfRam(_), None) => (
            HeapSetting::PercentOfRam(Float(DEFAULT_RAM_PERCENT)),
            "the JVM's default: no maximum-heap option",
        ),
        (HeapSetting::Bytes(_), None) => (
            HeapSetting::Bytes(jvm.heap.as_ref()?.max_bytes?),
            "its measured maximum heap",
        ),
    };
    if !differs(asked.setting, got, exact) {
        return None;
    }
    let matching_var = java
        .env_heap_settings
        .iter()
        .find(|l| l.source != asked.source && !differs(l.setting, got, exact))
        .map(|l| l.source.clone());
    let explanation = explain(asked, got, how, matching_var.as_deref());
    Some(HeapDrift {
        pid: jvm.pid,
        asked: asked.clone(),
        got,
        matching_var,
        explanation,
    })
}

fn explain(asked: &HeapLimit, got: HeapSetting, how: &str, matching: Option<&str>) -> String {
    let head = format!(
        "the container asks for a maximum heap of {} (`{}`) but its JVM runs with {got} ({how})",
        asked.setting, asked.source
    );
    match matching {
        Some(var) => format!(
            "{head}, which is what `{var}` says: the container sets conflicting heap variables and the image reads `{var}`. Remove the one the image ignores, or make both agree, and recreate the container."
        ),
        None => format!(
            "{head}, which no variable of the container asks for: the image's start script does not read `{}` and uses its own default. Set the heap in the variable the image reads (Confluent 7.x images read `KAFKA_HEAP_OPTS`, not `HEAP_OPTS`) and recreate the container; until then the JVM may run out of heap.",
            asked.source
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn limit(setting: HeapSetting, source: &str) -> HeapLimit {
        HeapLimit {
            setting,
            source: source.into(),
        }
    }

    fn jvm(setting: Option<HeapSetting>, measured: Option<u64>) -> Jvm {
        Jvm {
            pid: 42,
            nspid: 1,
            main: "Main".into(),
            java_version: "17".into(),
            collector: "G1".into(),
            max_heap_setting: setting.map(|s| limit(s, "vm_args")),
            heap: measured.map(|m| Heap {
                max_bytes: Some(m),
                ..Heap::default()
            }),
            unreadable: None,
            liveness: Liveness::Advancing,
            sampled_at_unix_ms: 0,
        }
    }

    fn report(asked: Option<HeapSetting>, others: &[(&str, HeapSetting)]) -> JavaReport {
        let configured_heap = asked.map(|s| limit(s, "HEAP_OPTS"));
        let mut env: Vec<HeapLimit> = others.iter().map(|(v, s)| limit(*s, v)).collect();
        env.extend(configured_heap.clone());
        JavaReport {
            configured_heap,
            env_heap_settings: env,
            jvms: vec![],
        }
    }

    #[test]
    fn the_journals_drift_is_found_and_explained() {
        let r = report(Some(HeapSetting::Bytes(12 * GIB)), &[]);
        let d =
            heap_drift(&r, &jvm(Some(HeapSetting::Bytes(2 * GIB)), Some(2 * GIB))).expect("drift");
        assert_eq!(d.got, HeapSetting::Bytes(2 * GIB));
        assert_eq!(d.matching_var, None);
        assert!(
            d.explanation.contains("12.0 GiB (`HEAP_OPTS`)")
                && d.explanation.contains("runs with 2.0 GiB")
                && d.explanation.contains("KAFKA_HEAP_OPTS"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn agreeing_settings_and_unknowns_are_not_drift() {
        let r = report(Some(HeapSetting::Bytes(2 * GIB)), &[]);
        assert_eq!(
            heap_drift(&r, &jvm(Some(HeapSetting::Bytes(2 * GIB)), None)),
            None
        );
        // Measured maximum within G1's rounding.
        assert_eq!(heap_drift(&r, &jvm(None, Some(2 * GIB + (8 << 20)))), None);
        assert_eq!(heap_drift(&r, &jvm(None, None)), None, "nothing known");
        let none = report(None, &[]);
        assert_eq!(
            heap_drift(&none, &jvm(Some(HeapSetting::Bytes(GIB)), None)),
            None
        );
    }

    #[test]
    fn conflicting_variables_name_the_one_the_jvm_follows() {
        let r = report(
            Some(HeapSetting::Bytes(12 * GIB)),
            &[("KAFKA_HEAP_OPTS", HeapSetting::Bytes(2 * GIB))],
        );
        let d = heap_drift(&r, &jvm(Some(HeapSetting::Bytes(2 * GIB)), None)).expect("drift");
        assert_eq!(d.matching_var.as_deref(), Some("KAFKA_HEAP_OPTS"));
        assert!(d.explanation.contains("conflicting"), "{}", d.explanation);
    }

    #[test]
    fn percentages_compare_with_the_jvm_default_when_it_has_no_option() {
        let r = report(Some(HeapSetting::PercentOfRam(Float(75.0))), &[]);
        let d = heap_drift(&r, &jvm(None, Some(GIB))).expect("default 25% is not 75%");
        assert_eq!(d.got, HeapSetting::PercentOfRam(Float(25.0)));
        let same = jvm(Some(HeapSetting::PercentOfRam(Float(75.0))), None);
        assert_eq!(heap_drift(&r, &same), None);
        let fixed = jvm(Some(HeapSetting::Bytes(GIB)), None);
        assert!(
            heap_drift(&r, &fixed).is_some(),
            "a fixed -Xmx is not 75% of RAM"
        );
    }

    #[test]
    fn floats_compare_equal_by_value_and_serialise_plainly() {
        assert_eq!(Float(1.5), Float(1.5));
        assert_ne!(Float(1.5), Float(2.0));
        let s = serde_json::to_string(&HeapSetting::PercentOfRam(Float(75.0))).expect("json");
        assert_eq!(s, r#"{"percent_of_ram":75.0}"#);
        let b = serde_json::to_string(&HeapSetting::Bytes(5)).expect("json");
        assert_eq!(b, r#"{"bytes":5}"#);
    }
}
