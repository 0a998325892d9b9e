//! Conversions of the JVM report and JVM events (`kroll/agent/v1/jvm.proto`).

use kroll_proto::agent::v1 as pb;

use crate::jvm::{Float, GcCount, Heap, HeapLimit, HeapSetting, JavaReport, Jvm, Liveness, Space};
use crate::model::EventKind;

fn limit_to_wire(l: HeapLimit) -> pb::HeapSetting {
    use pb::heap_setting::Value;
    pb::HeapSetting {
        value: Some(match l.setting {
            HeapSetting::Bytes(b) => Value::Bytes(b),
            HeapSetting::PercentOfRam(p) => Value::PercentOfRam(p.0),
        }),
        source: l.source,
    }
}

/// A setting without a value (from a newer agent with another kind) is dropped.
fn limit_from_wire(l: pb::HeapSetting) -> Option<HeapLimit> {
    use pb::heap_setting::Value;
    let setting = match l.value? {
        Value::Bytes(b) => HeapSetting::Bytes(b),
        Value::PercentOfRam(p) => HeapSetting::PercentOfRam(Float(p)),
    };
    Some(HeapLimit {
        setting,
        source: l.source,
    })
}

fn space_to_wire(s: Space) -> pb::MemorySpace {
    pb::MemorySpace {
        used_bytes: s.used_bytes,
        committed_bytes: s.committed_bytes,
        max_bytes: s.max_bytes,
    }
}

fn space_from_wire(s: pb::MemorySpace) -> Space {
    Space {
        used_bytes: s.used_bytes,
        committed_bytes: s.committed_bytes,
        max_bytes: s.max_bytes,
    }
}

fn gc_to_wire(g: GcCount) -> pb::GcCollector {
    pb::GcCollector {
        count: g.count,
        seconds: g.seconds.map(|s| s.0),
    }
}

fn gc_from_wire(g: pb::GcCollector) -> GcCount {
    GcCount {
        count: g.count,
        seconds: g.seconds.map(Float),
    }
}

fn heap_to_wire(h: Heap) -> pb::JvmHeap {
    pb::JvmHeap {
        used_bytes: h.used_bytes,
        committed_bytes: h.committed_bytes,
        max_bytes: h.max_bytes,
        eden: h.eden.map(space_to_wire),
        survivor0: h.survivor0.map(space_to_wire),
        survivor1: h.survivor1.map(space_to_wire),
        old: h.old.map(space_to_wire),
        metaspace: h.metaspace.map(space_to_wire),
        class_space: h.class_space.map(space_to_wire),
        young_gc: h.young_gc.map(gc_to_wire),
        full_gc: h.full_gc.map(gc_to_wire),
        concurrent_gc: h.concurrent_gc.map(gc_to_wire),
        last_gc_cause: h.last_gc_cause,
    }
}

fn heap_from_wire(h: pb::JvmHeap) -> Heap {
    Heap {
        used_bytes: h.used_bytes,
        committed_bytes: h.committed_bytes,
        max_bytes: h.max_bytes,
        eden: h.eden.map(space_from_wire),
        survivor0: h.survivor0.map(space_from_wire),
        survivor1: h.survivor1.map(space_from_wire),
        old: h.old.map(space_from_wire),
        metaspace: h.metaspace.map(space_from_wire),
        class_space: h.class_space.map(space_from_wire),
        young_gc: h.young_gc.map(gc_from_wire),
        full_gc: h.full_gc.map(gc_from_wire),
        concurrent_gc: h.concurrent_gc.map(gc_from_wire),
        last_gc_cause: h.last_gc_cause,
    }
}

fn jvm_to_wire(j: Jvm) -> pb::Jvm {
    let (liveness, stalled_ms) = match j.liveness {
        Liveness::Unknown => (pb::JvmLiveness::Unknown, 0),
        Liveness::Advancing => (pb::JvmLiveness::Advancing, 0),
        Liveness::Stalled { stalled_ms } => (pb::JvmLiveness::Stalled, stalled_ms),
    };
    pb::Jvm {
        pid: j.pid,
        nspid: j.nspid,
        main: j.main,
        java_version: j.java_version,
        collector: j.collector,
        max_heap_setting: j.max_heap_setting.map(limit_to_wire),
        heap: j.heap.map(heap_to_wire),
        unreadable: j.unreadable.unwrap_or_default(),
        liveness: liveness as i32,
        stalled_ms,
        sampled_at_unix_ms: j.sampled_at_unix_ms,
    }
}

fn jvm_from_wire(j: pb::Jvm) -> Jvm {
    let liveness = match pb::JvmLiveness::try_from(j.liveness) {
        Ok(pb::JvmLiveness::Advancing) => Liveness::Advancing,
        Ok(pb::JvmLiveness::Stalled) => Liveness::Stalled {
            stalled_ms: j.stalled_ms,
        },
        Ok(pb::JvmLiveness::Unknown) | Err(_) => Liveness::Unknown,
    };
    Jvm {
        pid: j.pid,
        nspid: j.nspid,
        main: j.main,
        java_version: j.java_version,
        collector: j.collector,
        max_heap_setting: j.max_heap_setting.and_then(limit_from_wire),
        heap: j.heap.map(heap_from_wire),
        unreadable: Some(j.unreadable).filter(|u| !u.is_empty()),
        liveness,
        sampled_at_unix_ms: j.sampled_at_unix_ms,
    }
}

impl From<JavaReport> for pb::JavaReport {
    fn from(r: JavaReport) -> Self {
        Self {
            configured_heap: r.configured_heap.map(limit_to_wire),
            env_heap_settings: r.env_heap_settings.into_iter().map(limit_to_wire).collect(),
            jvms: r.jvms.into_iter().map(jvm_to_wire).collect(),
        }
    }
}

impl From<pb::JavaReport> for JavaReport {
    fn from(r: pb::JavaReport) -> Self {
        Self {
            configured_heap: r.configured_heap.and_then(limit_from_wire),
            env_heap_settings: r
                .env_heap_settings
                .into_iter()
                .filter_map(limit_from_wire)
                .collect(),
            jvms: r.jvms.into_iter().map(jvm_from_wire).collect(),
        }
    }
}

/// The wire form of a JVM event kind; `None` for the container kinds.
pub(super) fn kind_to_wire(k: &EventKind) -> Option<pb::event::Kind> {
    use pb::event::Kind;
    Some(match k.clone() {
        EventKind::JavaOom { line, repeated } => {
            Kind::JavaOom(pb::JavaOutOfMemory { line, repeated })
        }
        EventKind::JavaOomExit {
            exit_code,
            evidence,
        } => Kind::JavaOomExit(pb::JavaOomExit {
            exit_code,
            evidence,
        }),
        EventKind::HeapPressure {
            pid,
            old_used_bytes,
            max_bytes,
            full_gcs_in_window,
            window_seconds,
            reason,
        } => Kind::HeapPressure(pb::HeapPressure {
            pid,
            old_used_bytes,
            max_bytes,
            full_gcs_in_window,
            window_seconds,
            reason,
        }),
        EventKind::JvmHung { pid, stalled_ms } => Kind::JvmHung(pb::JvmHung { pid, stalled_ms }),
        EventKind::JvmRecovered { pid, from } => Kind::JvmRecovered(pb::JvmRecovered { pid, from }),
        _ => return None,
    })
}

/// The domain form of a JVM event kind; `None` for the container kinds.
pub(super) fn kind_from_wire(k: &pb::event::Kind) -> Option<EventKind> {
    use pb::event::Kind;
    Some(match k.clone() {
        Kind::JavaOom(o) => EventKind::JavaOom {
            line: o.line,
            repeated: o.repeated,
        },
        Kind::JavaOomExit(e) => EventKind::JavaOomExit {
            exit_code: e.exit_code,
            evidence: e.evidence,
        },
        Kind::HeapPressure(p) => EventKind::HeapPressure {
            pid: p.pid,
            old_used_bytes: p.old_used_bytes,
            max_bytes: p.max_bytes,
            full_gcs_in_window: p.full_gcs_in_window,
            window_seconds: p.window_seconds,
            reason: p.reason,
        },
        Kind::JvmHung(h) => EventKind::JvmHung {
            pid: h.pid,
            stalled_ms: h.stalled_ms,
        },
        Kind::JvmRecovered(r) => EventKind::JvmRecovered {
            pid: r.pid,
            from: r.from,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> JavaReport {
        let space = |n| Space {
            used_bytes: n,
            committed_bytes: n * 2,
            max_bytes: n * 4,
        };
        JavaReport {
            configured_heap: Some(HeapLimit {
                setting: HeapSetting::Bytes(12 << 30),
                source: "HEAP_OPTS".into(),
            }),
            env_heap_settings: vec![HeapLimit {
                setting: HeapSetting::PercentOfRam(Float(75.0)),
                source: "JAVA_OPTS".into(),
            }],
            jvms: vec![
                Jvm {
                    pid: 4242,
                    nspid: 1,
                    main: "kroll.lab.connect.Main".into(),
                    java_version: "17.0.15".into(),
                    collector: "G1".into(),
                    max_heap_setting: Some(HeapLimit {
                        setting: HeapSetting::Bytes(2 << 30),
                        source: "vm_args".into(),
                    }),
                    heap: Some(Heap {
                        used_bytes: 10,
                        committed_bytes: 20,
                        max_bytes: Some(2 << 30),
                        eden: Some(space(1)),
                        survivor0: None,
                        survivor1: Some(space(2)),
                        old: Some(space(3)),
                        metaspace: Some(space(4)),
                        class_space: Some(space(5)),
                        young_gc: Some(GcCount {
                            count: 7,
                            seconds: Some(Float(0.25)),
                        }),
                        full_gc: Some(GcCount {
                            count: 1,
                            seconds: None,
                        }),
                        concurrent_gc: None,
                        last_gc_cause: "G1 Evacuation Pause".into(),
                    }),
                    unreadable: None,
                    liveness: Liveness::Stalled { stalled_ms: 6000 },
                    sampled_at_unix_ms: 99,
                },
                Jvm {
                    pid: 4243,
                    nspid: 7,
                    main: String::new(),
                    java_version: String::new(),
                    collector: String::new(),
                    max_heap_setting: None,
                    heap: None,
                    unreadable: Some("perf data disabled (-XX:-UsePerfData)".into()),
                    liveness: Liveness::Unknown,
                    sampled_at_unix_ms: 98,
                },
            ],
        }
    }

    #[test]
    fn java_reports_round_trip_through_the_wire() {
        let r = report();
        assert_eq!(JavaReport::from(pb::JavaReport::from(r.clone())), r);
    }

    #[test]
    fn jvm_event_kinds_round_trip_and_container_kinds_are_not_theirs() {
        let kinds = [
            EventKind::JavaOom {
                line: "java.lang.OutOfMemoryError: Java heap space".into(),
                repeated: 3,
            },
            EventKind::JavaOomExit {
                exit_code: 3,
                evidence: "-XX:+ExitOnOutOfMemoryError".into(),
            },
            EventKind::HeapPressure {
                pid: 1,
                old_used_bytes: 2,
                max_bytes: 3,
                full_gcs_in_window: 4,
                window_seconds: 60,
                reason: "r".into(),
            },
            EventKind::JvmHung {
                pid: 1,
                stalled_ms: 5000,
            },
            EventKind::JvmRecovered {
                pid: 1,
                from: "jvm_hung".into(),
            },
        ];
        for k in kinds {
            let wire = kind_to_wire(&k).expect("a JVM kind");
            assert_eq!(kind_from_wire(&wire), Some(k));
        }
        assert_eq!(kind_to_wire(&EventKind::OomKilled), None);
    }
}
