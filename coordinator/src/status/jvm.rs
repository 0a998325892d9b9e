//! The JVM part of `kroll status`: a compact heap / GC cell per Java container, and the JVM
//! problems (heap config drift, hung JVMs).

use kroll_shared::jvm::{Liveness, heap_drift};
use kroll_shared::model::Container;
use serde::Serialize;

/// The heap of a container's JVMs, as one row shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeapCell {
    /// How many JVMs the container runs (the figures are the first one's).
    pub jvms: usize,
    pub used_bytes: Option<u64>,
    pub max_bytes: Option<u64>,
    pub used_percent: Option<f64>,
    pub young_gcs: Option<u64>,
    pub full_gcs: Option<u64>,
    /// Why the heap is unknown, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// The cell of a container; `None` when no JVM was found in it.
pub fn heap_cell(c: &Container) -> Option<HeapCell> {
    let java = c.java.as_ref()?;
    let first = java.jvms.first()?;
    let heap = first.heap.as_ref();
    Some(HeapCell {
        jvms: java.jvms.len(),
        used_bytes: heap.map(|h| h.used_bytes),
        max_bytes: heap.and_then(|h| h.max_bytes),
        used_percent: heap
            .and_then(|h| h.used_percent())
            .map(|p| (p * 10.0).round() / 10.0),
        young_gcs: heap.and_then(|h| h.young_gc).map(|g| g.count),
        full_gcs: heap.and_then(|h| h.full_gc).map(|g| g.count),
        unknown: first.unreadable.clone(),
    })
}

/// Bytes the way a narrow column shows them: `512M`, `2.0G`.
pub fn compact_bytes(b: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    const GIB: f64 = (1u64 << 30) as f64;
    if b as f64 >= GIB {
        format!("{:.1}G", b as f64 / GIB)
    } else {
        format!("{:.0}M", b as f64 / MIB)
    }
}

/// The HEAP and GC cells of a row: `512M/2.0G 25%` and `12y/0f`.
pub fn render_cells(cell: Option<&HeapCell>) -> (String, String) {
    let Some(h) = cell else {
        return ("-".into(), "-".into());
    };
    let more = if h.jvms > 1 {
        format!(" (+{} JVM)", h.jvms - 1)
    } else {
        String::new()
    };
    let heap = match (h.used_bytes, h.max_bytes, h.used_percent) {
        (Some(u), Some(m), Some(p)) => {
            format!("{}/{} {p:.0}%{more}", compact_bytes(u), compact_bytes(m))
        }
        (Some(u), _, _) => format!("{}/?{more}", compact_bytes(u)),
        _ => h.unknown.clone().unwrap_or_else(|| "heap unknown".into()),
    };
    let gc = match (h.young_gcs, h.full_gcs) {
        (Some(y), Some(f)) => format!("{y}y/{f}f"),
        (Some(y), None) => format!("{y}y"),
        _ => "-".into(),
    };
    (heap, gc)
}

/// Problems of a container's JVMs: heap config drift (with what to do) and hung JVMs.
pub fn jvm_problems(node: &str, c: &Container) -> Vec<String> {
    let Some(java) = &c.java else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for j in &java.jvms {
        if let Some(d) = heap_drift(java, j) {
            out.push(format!(
                "node `{node}`: container `{}`: heap config drift in JVM {} ({}): {}",
                c.name, j.pid, j.main, d.explanation
            ));
        }
        if let Liveness::Stalled { stalled_ms } = j.liveness {
            out.push(format!(
                "node `{node}`: container `{}`: JVM {} ({}) is hung: its tick counter has not moved for {:.1}s (frozen, paused or hung VM)",
                c.name,
                j.pid,
                j.main,
                stalled_ms as f64 / 1000.0
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use kroll_shared::jvm::{GcCount, Heap, HeapLimit, HeapSetting, JavaReport, Jvm};

    use super::*;

    pub(crate) fn java(asked: Option<u64>, xmx: u64, used: u64, liveness: Liveness) -> JavaReport {
        let limit = |b, s: &str| HeapLimit {
            setting: HeapSetting::Bytes(b),
            source: s.into(),
        };
        JavaReport {
            configured_heap: asked.map(|a| limit(a, "HEAP_OPTS")),
            env_heap_settings: asked.map(|a| limit(a, "HEAP_OPTS")).into_iter().collect(),
            jvms: vec![Jvm {
                pid: 4242,
                nspid: 1,
                main: "ConnectDistributed".into(),
                java_version: "17".into(),
                collector: "G1".into(),
                max_heap_setting: Some(limit(xmx, "vm_args")),
                heap: Some(Heap {
                    used_bytes: used,
                    max_bytes: Some(xmx),
                    young_gc: Some(GcCount {
                        count: 12,
                        seconds: None,
                    }),
                    full_gc: Some(GcCount {
                        count: 0,
                        seconds: None,
                    }),
                    ..Heap::default()
                }),
                unreadable: None,
                liveness,
                sampled_at_unix_ms: 0,
            }],
        }
    }

    #[test]
    fn cells_are_compact() {
        assert_eq!(compact_bytes(512 << 20), "512M");
        assert_eq!(compact_bytes(2 << 30), "2.0G");
        let cell = HeapCell {
            jvms: 1,
            used_bytes: Some(512 << 20),
            max_bytes: Some(2 << 30),
            used_percent: Some(25.0),
            young_gcs: Some(12),
            full_gcs: Some(0),
            unknown: None,
        };
        assert_eq!(
            render_cells(Some(&cell)),
            ("512M/2.0G 25%".into(), "12y/0f".into())
        );
        let unknown = HeapCell {
            used_bytes: None,
            max_bytes: None,
            used_percent: None,
            young_gcs: None,
            full_gcs: None,
            unknown: Some("heap unknown: perf data disabled (-XX:-UsePerfData)".into()),
            ..cell
        };
        assert_eq!(
            render_cells(Some(&unknown)).0,
            "heap unknown: perf data disabled (-XX:-UsePerfData)"
        );
        assert_eq!(render_cells(None), ("-".into(), "-".into()));
    }

    #[test]
    fn drift_and_hung_jvms_are_problems_naming_node_and_container() {
        let mut c = crate::status::tests::container_fixture("connect-01");
        c.java = Some(java(
            Some(12 << 30),
            2 << 30,
            1 << 20,
            Liveness::Stalled { stalled_ms: 12_000 },
        ));
        let p = jvm_problems("n1", &c).join("\n");
        assert!(
            p.contains("node `n1`: container `connect-01`: heap config drift in JVM 4242"),
            "{p}"
        );
        assert!(p.contains("KAFKA_HEAP_OPTS"), "{p}");
        assert!(p.contains("is hung") && p.contains("12.0s"), "{p}");
        c.java = Some(java(Some(2 << 30), 2 << 30, 1 << 20, Liveness::Advancing));
        assert!(jvm_problems("n1", &c).is_empty());
    }
}
