//! Per-JVM event logic, pure (the caller passes samples and the clock): heap pressure and
//! hung JVMs, each reported once when it starts and once when it ends.
//!
//! * **Heap pressure** starts when a full GC leaves the old generation at or above
//!   `pressure_old_percent` of the maximum heap, or when `pressure_full_gcs` full GCs happen
//!   within `pressure_window_seconds`. It ends when the window holds fewer full GCs than the
//!   limit and the old generation is 5 points below the threshold.
//! * **Hung** starts when the tick counter has not moved for `hung_after_ms` (the probe
//!   reports it) and ends at the next sample that reads normally.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kroll_shared::jvm::Heap;
use kroll_shared::model::EventKind;

use super::config::JvmConfig;

/// Points below the threshold the old generation must fall to end the pressure.
const HYSTERESIS_PERCENT: f64 = 5.0;

/// The state of one JVM.
#[derive(Debug, Clone, Default)]
pub struct JvmWatch {
    /// Full GCs seen, with when they were seen.
    fulls: VecDeque<(Instant, u64)>,
    last_full_count: Option<u64>,
    pressure: bool,
    hung: bool,
}

impl JvmWatch {
    /// Whether the JVM is under heap pressure now.
    pub fn under_pressure(&self) -> bool {
        self.pressure
    }

    /// Whether the JVM is hung now.
    pub fn is_hung(&self) -> bool {
        self.hung
    }

    /// A sample read normally at `now`: what it starts or ends.
    pub fn observe(
        &mut self,
        cfg: &JvmConfig,
        pid: u32,
        heap: &Heap,
        now: Instant,
    ) -> Vec<EventKind> {
        let mut out = Vec::new();
        if std::mem::take(&mut self.hung) {
            out.push(EventKind::JvmRecovered {
                pid,
                from: "jvm_hung".into(),
            });
        }
        let full_now = heap.full_gc.map_or(0, |g| g.count);
        let full_happened = match self.last_full_count {
            Some(prev) if full_now > prev => {
                self.fulls.push_back((now, full_now - prev));
                true
            }
            Some(prev) if full_now < prev => {
                // A new JVM behind the same file: start over.
                self.fulls.clear();
                false
            }
            _ => false,
        };
        self.last_full_count = Some(full_now);
        let window = cfg.window();
        while self
            .fulls
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > window)
        {
            self.fulls.pop_front();
        }
        let in_window: u64 = self.fulls.iter().map(|(_, n)| n).sum();
        let in_window = u32::try_from(in_window).unwrap_or(u32::MAX);
        let (old_used, max) = (
            heap.old.map_or(0, |o| o.used_bytes),
            heap.max_bytes.unwrap_or(0),
        );
        let percent = if max > 0 {
            old_used as f64 * 100.0 / max as f64
        } else {
            0.0
        };
        let limit = cfg.pressure_full_gcs;
        let reason = if full_happened && max > 0 && percent >= cfg.pressure_old_percent {
            Some(format!(
                "old generation at {percent:.0}% of the maximum heap right after a full GC (threshold {:.0}%)",
                cfg.pressure_old_percent
            ))
        } else if in_window >= limit {
            Some(format!(
                "{in_window} full GCs in the last {} s (limit {limit})",
                cfg.pressure_window_seconds
            ))
        } else {
            None
        };
        match (self.pressure, reason) {
            (false, Some(reason)) => {
                self.pressure = true;
                out.push(EventKind::HeapPressure {
                    pid,
                    old_used_bytes: old_used,
                    max_bytes: max,
                    full_gcs_in_window: in_window,
                    window_seconds: cfg.pressure_window_seconds,
                    reason,
                });
            }
            (true, None) if percent < cfg.pressure_old_percent - HYSTERESIS_PERCENT => {
                self.pressure = false;
                out.push(EventKind::JvmRecovered {
                    pid,
                    from: "heap_pressure".into(),
                });
            }
            _ => {}
        }
        out
    }

    /// The probe found the tick counter still for `since`: a hung JVM, reported once.
    pub fn stalled(&mut self, pid: u32, since: Duration) -> Vec<EventKind> {
        if std::mem::replace(&mut self.hung, true) {
            return Vec::new();
        }
        vec![EventKind::JvmHung {
            pid,
            stalled_ms: u64::try_from(since.as_millis()).unwrap_or(u64::MAX),
        }]
    }
}

#[cfg(test)]
mod tests {
    use kroll_shared::jvm::{GcCount, Space};

    use super::*;

    fn heap(old_used: u64, max: u64, fulls: u64) -> Heap {
        Heap {
            max_bytes: Some(max),
            old: Some(Space {
                used_bytes: old_used,
                committed_bytes: max,
                max_bytes: max,
            }),
            full_gc: Some(GcCount {
                count: fulls,
                seconds: None,
            }),
            ..Heap::default()
        }
    }

    fn kinds(v: &[EventKind]) -> Vec<&'static str> {
        v.iter().map(EventKind::name).collect()
    }

    #[test]
    fn a_full_gc_that_leaves_the_old_generation_full_is_pressure_once() {
        let cfg = JvmConfig::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = JvmWatch::default();
        assert!(
            w.observe(&cfg, 7, &heap(95, 100, 0), at(0)).is_empty(),
            "no full GC yet"
        );
        let e = w.observe(&cfg, 7, &heap(95, 100, 1), at(1));
        assert_eq!(kinds(&e), ["heap_pressure"]);
        match &e[0] {
            EventKind::HeapPressure {
                reason,
                old_used_bytes,
                ..
            } => {
                assert!(reason.contains("95%"), "{reason}");
                assert_eq!(*old_used_bytes, 95);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            w.observe(&cfg, 7, &heap(96, 100, 2), at(2)).is_empty(),
            "reported once"
        );
        assert!(
            w.observe(&cfg, 7, &heap(87, 100, 2), at(70)).is_empty(),
            "within hysteresis"
        );
        assert_eq!(
            kinds(&w.observe(&cfg, 7, &heap(40, 100, 2), at(71))),
            ["jvm_recovered"]
        );
        assert!(!w.under_pressure());
    }

    #[test]
    fn frequent_full_gcs_are_pressure_even_with_room_left() {
        let cfg = JvmConfig::default();
        let t0 = Instant::now();
        let mut w = JvmWatch::default();
        w.observe(&cfg, 1, &heap(10, 100, 0), t0);
        w.observe(&cfg, 1, &heap(10, 100, 1), t0 + Duration::from_secs(10));
        assert!(
            w.observe(&cfg, 1, &heap(10, 100, 2), t0 + Duration::from_secs(20))
                .is_empty()
        );
        let e = w.observe(&cfg, 1, &heap(10, 100, 3), t0 + Duration::from_secs(30));
        assert_eq!(kinds(&e), ["heap_pressure"]);
        // The window empties: recovered.
        let e = w.observe(&cfg, 1, &heap(10, 100, 3), t0 + Duration::from_secs(100));
        assert_eq!(kinds(&e), ["jvm_recovered"]);
    }

    #[test]
    fn full_gcs_spread_out_are_not_pressure_and_a_restarted_jvm_starts_over() {
        let cfg = JvmConfig::default();
        let t0 = Instant::now();
        let mut w = JvmWatch::default();
        for i in 0..6u64 {
            let e = w.observe(&cfg, 1, &heap(10, 100, i), t0 + Duration::from_secs(i * 40));
            assert!(e.is_empty(), "sample {i}: {e:?}");
        }
        assert!(
            w.observe(&cfg, 1, &heap(10, 100, 0), t0 + Duration::from_secs(300))
                .is_empty()
        );
    }

    #[test]
    fn a_stall_is_reported_once_and_its_end_too() {
        let cfg = JvmConfig::default();
        let mut w = JvmWatch::default();
        assert_eq!(kinds(&w.stalled(3, Duration::from_secs(11))), ["jvm_hung"]);
        assert!(w.stalled(3, Duration::from_secs(12)).is_empty());
        assert!(w.is_hung());
        let e = w.observe(&cfg, 3, &heap(1, 100, 0), Instant::now());
        assert_eq!(kinds(&e), ["jvm_recovered"]);
        assert!(!w.is_hung());
    }
}
