//! [`Liveness`]: is the JVM behind a file still running?
//!
//! `sun.os.hrt.ticks` is refreshed by the JVM's sampler thread every
//! `PerfDataSamplingInterval` (50 ms by default). While it advances the VM is
//! alive; when it stops, the VM is frozen (SIGSTOP, a frozen cgroup, a hung
//! VM) or gone and the file is stale. An application-level deadlock does not
//! stop it. A value that goes *down* means a new JVM reuses the file name
//! (e.g. a restarted container whose JVM is pid 1 again).

use std::time::{Duration, Instant};

/// Default time without tick progress before a JVM counts as stalled.
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(5);

/// What one observation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivenessState {
    /// First observation (or first after a restart): nothing to compare yet.
    Unknown,
    /// The ticks moved since the last change, or not for less than the limit.
    Advancing,
    /// The ticks have not moved for this long (≥ the limit).
    Stalled {
        /// Time since the ticks last changed.
        since: Duration,
    },
    /// The ticks went backwards: another JVM now writes this file.
    Restarted,
}

/// Tracks `sun.os.hrt.ticks` of one JVM across samples. Pure: the caller
/// passes the clock.
#[derive(Debug, Clone)]
pub struct Liveness {
    stall_after: Duration,
    last: Option<(i64, Instant)>,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness::new(DEFAULT_STALL_AFTER)
    }
}

impl Liveness {
    /// A tracker that reports [`LivenessState::Stalled`] after `stall_after`
    /// without progress.
    pub fn new(stall_after: Duration) -> Liveness {
        Liveness {
            stall_after,
            last: None,
        }
    }

    /// Records the ticks seen at `now` and says what they mean.
    pub fn observe(&mut self, ticks: i64, now: Instant) -> LivenessState {
        let Some((last, changed_at)) = self.last else {
            self.last = Some((ticks, now));
            return LivenessState::Unknown;
        };
        if ticks < last {
            self.last = Some((ticks, now));
            return LivenessState::Restarted;
        }
        if ticks > last {
            self.last = Some((ticks, now));
            return LivenessState::Advancing;
        }
        let since = now.saturating_duration_since(changed_at);
        if since >= self.stall_after {
            LivenessState::Stalled { since }
        } else {
            LivenessState::Advancing
        }
    }

    /// Forgets the history (e.g. after the JVM was replaced).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_advancing_stalling_and_restarting() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut l = Liveness::new(Duration::from_secs(3));
        assert_eq!(l.observe(100, s(0)), LivenessState::Unknown);
        assert_eq!(l.observe(200, s(1)), LivenessState::Advancing);
        assert_eq!(
            l.observe(200, s(2)),
            LivenessState::Advancing,
            "within the limit"
        );
        assert_eq!(
            l.observe(200, s(4)),
            LivenessState::Stalled {
                since: Duration::from_secs(3)
            }
        );
        assert_eq!(l.observe(300, s(5)), LivenessState::Advancing, "recovers");
        assert_eq!(l.observe(5, s(6)), LivenessState::Restarted);
        assert_eq!(l.observe(6, s(7)), LivenessState::Advancing);
        l.reset();
        assert_eq!(l.observe(6, s(8)), LivenessState::Unknown);
    }

    #[test]
    fn a_clock_going_backwards_is_not_a_stall() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut l = Liveness::new(Duration::from_secs(1));
        l.observe(1, t0);
        assert_eq!(
            l.observe(1, t0 - Duration::from_secs(5)),
            LivenessState::Advancing
        );
    }
}
