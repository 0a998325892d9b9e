//! What `kroll ui` remembers between observations: each JVM's heap over the last minutes and
//! the recent events. Pure: fed with what the agents answered, read by the page.

use std::collections::{BTreeMap, VecDeque};

use kroll_shared::model::NodeState;
use serde::Serialize;

/// How far back the sparklines reach.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// How many events the feed keeps.
pub const FEED_LEN: usize = 200;

/// One observation of one JVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub at_unix_ms: i64,
    pub used_bytes: u64,
    /// Old generation in use (`None`: the collector reports none).
    pub old_used_bytes: Option<u64>,
    pub max_bytes: Option<u64>,
    pub young_gcs: Option<u64>,
    pub full_gcs: Option<u64>,
}

/// A JVM: where it runs and its process id on the node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct JvmKey {
    pub node: String,
    pub container: String,
    pub pid: u32,
}

/// One line of the event feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedItem {
    /// Increasing per `kroll ui` process: the page asks for what came after the last it has.
    pub seq: u64,
    pub at_unix_ms: i64,
    pub node: String,
    /// Empty for a note about the agent itself (connected, disconnected).
    pub container: String,
    /// The event kind (`java_oom`, `died`, …) or `agent`.
    pub kind: String,
    pub text: String,
    /// Whether an operator should look now (an OOM, a hung JVM, heap pressure, a death).
    pub alarming: bool,
}

/// Heap series and event feed.
#[derive(Debug, Clone)]
pub struct History {
    window_ms: i64,
    series: BTreeMap<JvmKey, VecDeque<Sample>>,
    feed: VecDeque<FeedItem>,
    next_seq: u64,
}

impl Default for History {
    fn default() -> Self {
        Self::new(WINDOW_MS)
    }
}

impl History {
    /// Keeps samples for `window_ms`.
    pub fn new(window_ms: i64) -> Self {
        Self {
            window_ms,
            series: BTreeMap::new(),
            feed: VecDeque::new(),
            next_seq: 1,
        }
    }

    /// Adds what `node`'s agent reported at `now_ms`: a sample per JVM whose heap it read.
    /// Samples older than the window are dropped, and so are JVMs not seen within it.
    pub fn record(&mut self, node: &str, state: &NodeState, now_ms: i64) {
        for c in &state.containers {
            let Some(java) = &c.java else { continue };
            for jvm in &java.jvms {
                let Some(heap) = &jvm.heap else { continue };
                let at = if jvm.sampled_at_unix_ms > 0 {
                    jvm.sampled_at_unix_ms
                } else {
                    now_ms
                };
                let key = JvmKey {
                    node: node.to_owned(),
                    container: c.name.clone(),
                    pid: jvm.pid,
                };
                let series = self.series.entry(key).or_default();
                // The agent's own sampling time: an unchanged sample is not counted twice.
                if series.back().is_some_and(|s| s.at_unix_ms >= at) {
                    continue;
                }
                series.push_back(Sample {
                    at_unix_ms: at,
                    used_bytes: heap.used_bytes,
                    old_used_bytes: heap.old.as_ref().map(|o| o.used_bytes),
                    max_bytes: heap.max_bytes,
                    young_gcs: heap.young_gc.map(|g| g.count),
                    full_gcs: heap.full_gc.map(|g| g.count),
                });
            }
        }
        self.trim(now_ms);
    }

    fn trim(&mut self, now_ms: i64) {
        let oldest = now_ms - self.window_ms;
        for series in self.series.values_mut() {
            while series.front().is_some_and(|s| s.at_unix_ms < oldest) {
                series.pop_front();
            }
        }
        self.series.retain(|_, s| !s.is_empty());
    }

    /// The series of every JVM of `container` on `node`, by pid.
    pub fn jvms<'a>(
        &'a self,
        node: &'a str,
        container: &'a str,
    ) -> impl Iterator<Item = (u32, &'a VecDeque<Sample>)> + 'a {
        self.series
            .iter()
            .filter(move |(k, _)| k.node == node && k.container == container)
            .map(|(k, s)| (k.pid, s))
    }

    /// The series of one JVM.
    pub fn series(&self, key: &JvmKey) -> Option<&VecDeque<Sample>> {
        self.series.get(key)
    }

    /// How many JVMs have a series.
    pub fn jvm_count(&self) -> usize {
        self.series.len()
    }

    /// Adds an event to the feed (its `seq` is set here) and returns it as stored.
    pub fn push(&mut self, mut item: FeedItem) -> FeedItem {
        item.seq = self.next_seq;
        self.next_seq += 1;
        self.feed.push_back(item.clone());
        while self.feed.len() > FEED_LEN {
            self.feed.pop_front();
        }
        item
    }

    /// The feed, newest first.
    pub fn feed(&self) -> impl Iterator<Item = &FeedItem> {
        self.feed.iter().rev()
    }

    /// The last feed sequence number handed out (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use kroll_shared::jvm::{GcCount, Heap, JavaReport, Jvm, Liveness, Space};
    use kroll_shared::model::NodeState;

    use super::*;
    use crate::status::tests::{container_fixture, state_fixture};

    /// A JVM `pid` sampled by its agent at `at` with `used` bytes of heap.
    pub(crate) fn jvm(pid: u32, at: i64, used: u64) -> Jvm {
        Jvm {
            pid,
            nspid: 1,
            main: "ConnectDistributed".into(),
            java_version: "17".into(),
            collector: "G1".into(),
            max_heap_setting: None,
            heap: Some(Heap {
                used_bytes: used,
                max_bytes: Some(1000),
                old: Some(Space {
                    used_bytes: used / 2,
                    committed_bytes: 0,
                    max_bytes: 1000,
                }),
                young_gc: Some(GcCount {
                    count: 3,
                    seconds: None,
                }),
                ..Heap::default()
            }),
            unreadable: None,
            liveness: Liveness::Advancing,
            sampled_at_unix_ms: at,
        }
    }

    fn state(samples: &[(&str, u32, i64, u64)]) -> NodeState {
        let mut containers: Vec<kroll_shared::model::Container> = Vec::new();
        for (container, pid, at, used) in samples {
            let jvm = jvm(*pid, *at, *used);
            match containers.iter_mut().find(|c| c.name == *container) {
                Some(c) => c.java.as_mut().expect("java").jvms.push(jvm),
                None => {
                    let mut c = container_fixture(container);
                    c.java = Some(JavaReport {
                        jvms: vec![jvm],
                        ..JavaReport::default()
                    });
                    containers.push(c);
                }
            }
        }
        state_fixture("n1", containers, 50 << 30)
    }

    #[test]
    fn samples_are_kept_per_jvm_for_the_window_and_counted_once() {
        let mut h = History::new(10_000);
        h.record("n1", &state(&[("connect-01", 7, 1_000, 100)]), 1_000);
        // The same agent sample seen again adds nothing.
        h.record("n1", &state(&[("connect-01", 7, 1_000, 100)]), 2_000);
        h.record(
            "n1",
            &state(&[("connect-01", 7, 3_000, 300), ("connect-01", 8, 3_000, 50)]),
            3_000,
        );
        let pids: Vec<(u32, Vec<u64>)> = h
            .jvms("n1", "connect-01")
            .map(|(pid, s)| (pid, s.iter().map(|s| s.used_bytes).collect()))
            .collect();
        assert_eq!(pids, [(7, vec![100, 300]), (8, vec![50])]);
        let first = h
            .series(&JvmKey {
                node: "n1".into(),
                container: "connect-01".into(),
                pid: 7,
            })
            .and_then(|s| s.front().copied())
            .expect("a sample");
        assert_eq!(first.old_used_bytes, Some(50));
        assert_eq!(first.young_gcs, Some(3));
        assert_eq!(first.full_gcs, None);
        // Past the window the first sample is gone; pid 8, no longer reported, keeps its
        // sample until that too is older than the window, then goes.
        h.record("n1", &state(&[("connect-01", 7, 12_500, 400)]), 12_500);
        let pids: Vec<(u32, Vec<u64>)> = h
            .jvms("n1", "connect-01")
            .map(|(pid, s)| (pid, s.iter().map(|s| s.used_bytes).collect()))
            .collect();
        assert_eq!(pids, [(7, vec![300, 400]), (8, vec![50])]);
        h.record("n1", &state(&[("connect-01", 7, 13_500, 500)]), 13_500);
        let pids: Vec<(u32, Vec<u64>)> = h
            .jvms("n1", "connect-01")
            .map(|(pid, s)| (pid, s.iter().map(|s| s.used_bytes).collect()))
            .collect();
        assert_eq!(pids, [(7, vec![400, 500])]);
        assert_eq!(h.jvm_count(), 1);
        assert_eq!(h.jvms("n2", "connect-01").count(), 0);
    }

    #[test]
    fn the_feed_numbers_events_keeps_the_newest_and_lists_them_newest_first() {
        let mut h = History::default();
        assert_eq!(h.last_seq(), 0);
        for i in 0..(FEED_LEN + 5) {
            let stored = h.push(FeedItem {
                seq: 0,
                at_unix_ms: i as i64,
                node: "n".into(),
                container: "c".into(),
                kind: "died".into(),
                text: format!("{i}"),
                alarming: true,
            });
            assert_eq!(stored.seq, i as u64 + 1);
        }
        assert_eq!(h.last_seq(), FEED_LEN as u64 + 5);
        let texts: Vec<&str> = h.feed().map(|f| f.text.as_str()).collect();
        assert_eq!(texts.len(), FEED_LEN);
        assert_eq!(texts[0], format!("{}", FEED_LEN + 4));
        assert_eq!(texts[FEED_LEN - 1], "5");
    }
}
