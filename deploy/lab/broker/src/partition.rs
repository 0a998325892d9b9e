//! One partition replica on this broker: its log, high watermark and (while leading) leader state.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use crate::error::BrokerError;
use crate::log::Log;
use crate::replica::LeaderState;

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
        }
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

    /// Follower side: appends fetched batches and adopts the leader's high watermark.
    pub fn append_fetched(&self, records: &[u8], leader_hw: i64) -> Result<u64, BrokerError> {
        let mut log = self.lock_log();
        let n = log.append_as_follower(records)?;
        self.hw.store(
            leader_hw.min(log.leo()).max(self.hw().min(log.leo())),
            Ordering::SeqCst,
        );
        Ok(n)
    }

    /// Follower side: truncates to the local high watermark (offset out of range / new leader).
    pub fn truncate_to_hw(&self) -> Result<(), BrokerError> {
        let mut log = self.lock_log();
        let hw = self.hw().min(log.leo());
        log.truncate_to(hw)?;
        self.hw.store(hw.min(log.leo()), Ordering::SeqCst);
        Ok(())
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
