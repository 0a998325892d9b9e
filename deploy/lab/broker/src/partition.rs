//! One partition replica on this broker: its log, high watermark and (while leading) leader state.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use crate::error::BrokerError;
use crate::log::Log;
use crate::replica::LeaderState;

/// Follower side of a replica: the leader epoch it follows and whether its log was already
/// truncated against that leader (KIP-279) — a follower fetches only once it has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Follow {
    /// Leader epoch followed (`None`: not following, e.g. just started or leading).
    pub epoch: Option<i32>,
    /// Truncation against the leader of `epoch` is done.
    pub truncated: bool,
}

/// A partition replica on this broker.
#[derive(Debug)]
pub struct Partition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub index: i32,
    pub(crate) log: Mutex<Log>,
    pub(crate) hw: AtomicI64,
    pub(crate) leader: Mutex<Option<LeaderState>>,
    pub(crate) follow: Mutex<Follow>,
}

impl Partition {
    /// A replica with `log` and a starting high watermark.
    pub fn new(topic: &str, index: i32, log: Log, hw: i64) -> Self {
        Self {
            topic: topic.to_string(),
            index,
            log: Mutex::new(log),
            hw: AtomicI64::new(hw),
            leader: Mutex::new(None),
            follow: Mutex::new(Follow::default()),
        }
    }

    /// The follower state.
    pub fn follow(&self) -> Follow {
        *self.follow.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the leader of `epoch`: a new epoch (or the first one since start-up) needs a
    /// truncation before fetching. `None`: leading (or nothing to follow).
    pub fn set_follow(&self, epoch: Option<i32>) {
        let mut f = self.follow.lock().unwrap_or_else(|p| p.into_inner());
        if f.epoch != epoch {
            *f = Follow {
                epoch,
                truncated: false,
            };
        }
    }

    /// Records a finished truncation for `epoch` (ignored if the epoch moved on meanwhile).
    pub fn truncated_for(&self, epoch: i32) {
        let mut f = self.follow.lock().unwrap_or_else(|p| p.into_inner());
        if f.epoch == Some(epoch) {
            f.truncated = true;
        }
    }

    /// Asks for a new truncation against the current leader (offset out of range).
    pub fn retruncate(&self) {
        self.follow
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .truncated = false;
    }

    /// Follower side: truncates the log to `offset` (whole batches) and the high watermark with it.
    pub fn truncate_to(&self, offset: i64) -> Result<(), BrokerError> {
        let leader = self.lock_leader();
        if leader.is_some() {
            // Became the leader since the truncation was asked for: a leader never truncates.
            return Ok(());
        }
        let mut log = self.lock_log();
        let before = log.leo();
        log.truncate_to(offset)?;
        let leo = log.leo();
        let _ = self.hw.fetch_min(leo, Ordering::SeqCst);
        if leo < before {
            tracing::info!(target: "kafka.log.UnifiedLog", "[UnifiedLog partition={}-{}] Truncating to offset {offset}: log end offset {before} -> {leo}.", self.topic, self.index);
        }
        Ok(())
    }

    pub(crate) fn lock_log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock_leader(&self) -> MutexGuard<'_, Option<LeaderState>> {
        self.leader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// High watermark.
    pub fn hw(&self) -> i64 {
        self.hw.load(Ordering::SeqCst)
    }

    /// Log end offset.
    pub fn leo(&self) -> i64 {
        self.lock_log().leo()
    }

    /// Current leader state, if leading.
    pub fn leader_state(&self) -> Option<LeaderState> {
        self.lock_leader().clone()
    }

    /// Reads batches for a fetch: consumers up to the high watermark, followers up to the end.
    pub fn read(
        &self,
        from: i64,
        max_bytes: usize,
        follower: bool,
    ) -> Result<Result<Bytes, ()>, BrokerError> {
        let log = self.lock_log();
        if from < 0 || from > log.leo() {
            return Ok(Err(()));
        }
        let upper = if follower { i64::MAX } else { self.hw() };
        Ok(Ok(log.read(from, max_bytes, upper)?))
    }

    /// Offset for a timestamp (batch precision) and the timestamp found.
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        self.lock_log().offset_for_timestamp(ts)
    }

    /// Base offset and timestamp of the batch holding the largest timestamp (ListOffsets -3).
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.lock_log()
            .batches()
            .iter()
            .max_by_key(|b| b.max_ts)
            .map(|b| (b.base, b.max_ts))
    }

    /// Bytes in the log.
    pub fn size(&self) -> u64 {
        self.lock_log().size()
    }

    /// Follower side: appends fetched batches and adopts the leader's high watermark — unless
    /// this replica has become the leader meanwhile (a response to a fetch sent before): the
    /// leader lock is held, so the append and the new leader's epoch start cannot interleave.
    pub fn append_fetched(&self, records: &[u8], leader_hw: i64) -> Result<u64, BrokerError> {
        let leader = self.lock_leader();
        if leader.is_some() {
            return Ok(0);
        }
        let mut log = self.lock_log();
        let n = log.append_as_follower(records)?;
        self.hw.store(
            leader_hw.min(log.leo()).max(self.hw().min(log.leo())),
            Ordering::SeqCst,
        );
        Ok(n)
    }

    /// Follower side: truncates to the local high watermark (the leader had no epoch to compare).
    pub fn truncate_to_hw(&self) -> Result<(), BrokerError> {
        self.truncate_to(self.hw())
    }

    /// Full log recovery (CRC scan); returns (bytes scanned, bytes truncated).
    pub fn recover(&self) -> Result<(u64, u64), BrokerError> {
        let mut log = self.lock_log();
        let result = log.index(true)?;
        let leo = log.leo();
        let _ = self.hw.fetch_min(leo, Ordering::SeqCst);
        Ok(result)
    }

    /// Flushes the log.
    pub fn flush(&self) -> Result<(), BrokerError> {
        self.lock_log().flush()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::log::tests::batch;

    /// A fetch or truncation begun as follower must not touch the log once this replica leads.
    #[test]
    fn a_leader_neither_appends_fetched_batches_nor_truncates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Partition::new("t", 0, Log::open(dir.path()).expect("open"), 0);
        p.append_fetched(&batch(2, 1), 0)
            .expect("append as follower");
        assert_eq!(p.leo(), 2);
        *p.lock_leader() = Some(LeaderState {
            epoch: 1,
            isr: vec![1],
            zk_version: 0,
            controller_epoch: 1,
            followers: HashMap::new(),
            isr_in_flight: false,
        });
        assert_eq!(p.append_fetched(&batch(3, 2), 0).expect("io"), 0);
        p.truncate_to(0).expect("io");
        assert_eq!(p.leo(), 2, "the leader's log is untouched");
    }
}
