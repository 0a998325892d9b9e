//! One partition's log on disk: record batches (magic v2) stored exactly as produced, with
//! offsets assigned by the leader, in a single segment file `00000000000000000000.log` —
//! Kafka's on-disk batch format, without index files (the index is rebuilt in memory on open).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::BrokerError;

/// Size of a v2 record batch header.
pub const HEADER: usize = 61;

/// Why records were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// Truncated or malformed batch.
    #[error("corrupt record batch: {0}")]
    Corrupt(&'static str),
    /// Message format other than v2.
    #[error("unsupported record batch magic {0} (the lab stores magic v2 only)")]
    Magic(i8),
    /// Batch larger than `message.max.bytes`.
    #[error("record batch of {0} bytes is larger than message.max.bytes")]
    TooLarge(usize),
}

/// Where one batch sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// First offset.
    pub base: i64,
    /// Last offset.
    pub last: i64,
    /// File position.
    pub pos: u64,
    /// Total length in bytes.
    pub len: u32,
    /// Max timestamp of its records.
    pub max_ts: i64,
}

/// A partition log.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    file: File,
    batches: Vec<BatchInfo>,
    size: u64,
}

fn i32_at(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn i64_at(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

/// Splits `buf` into v2 batches, returning (start, len) of each.
pub fn split_batches(buf: &[u8], max_batch: usize) -> Result<Vec<(usize, usize)>, RecordError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        if buf.len() - at < 17 {
            return Err(RecordError::Corrupt("truncated batch header"));
        }
        let magic = buf[at + 16] as i8;
        if magic != 2 {
            return Err(RecordError::Magic(magic));
        }
        let len = 12
            + usize::try_from(i32_at(buf, at + 8))
                .map_err(|_| RecordError::Corrupt("negative length"))?;
        if len < HEADER || at + len > buf.len() {
            return Err(RecordError::Corrupt("batch length beyond the data"));
        }
        if len > max_batch {
            return Err(RecordError::TooLarge(len));
        }
        out.push((at, len));
        at += len;
    }
    Ok(out)
}

/// Number of records in a batch (last offset delta + 1).
pub fn record_count(batch: &[u8]) -> i64 {
    i64::from(i32_at(batch, 23)) + 1
}

/// CRC-32C (Castagnoli), as carried by v2 batches.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn batch_crc_ok(batch: &[u8]) -> bool {
    u32::from_be_bytes([batch[17], batch[18], batch[19], batch[20]]) == crc32c(&batch[21..])
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, indexing the batches from their headers.
    pub fn open(dir: &Path) -> Result<Self, BrokerError> {
        std::fs::create_dir_all(dir).map_err(BrokerError::io("creating log directory", dir))?;
        let path = dir.join("00000000000000000000.log");
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(BrokerError::io("opening log", &path))?;
        let mut log = Self {
            path,
            file,
            batches: Vec::new(),
            size: 0,
        };
        log.index(false)?;
        Ok(log)
    }

    /// Rebuilds the index; with `check_crc` every batch's CRC is verified (log recovery).
    /// A torn or corrupt tail is truncated. Returns the bytes scanned and the bytes cut.
    pub fn index(&mut self, check_crc: bool) -> Result<(u64, u64), BrokerError> {
        let mut data = Vec::new();
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))
            .map_err(BrokerError::io("reading log", &self.path))?;
        file.read_to_end(&mut data)
            .map_err(BrokerError::io("reading log", &self.path))?;
        self.batches.clear();
        let mut at = 0usize;
        while data.len() - at >= HEADER {
            let len = 12 + usize::try_from(i32_at(&data, at + 8)).unwrap_or(0);
            if len < HEADER
                || at + len > data.len()
                || (check_crc && !batch_crc_ok(&data[at..at + len]))
            {
                break;
            }
            let base = i64_at(&data, at);
            let last = base + i64::from(i32_at(&data, at + 23));
            self.batches.push(BatchInfo {
                base,
                last,
                pos: at as u64,
                len: len as u32,
                max_ts: i64_at(&data, at + 35),
            });
            at += len;
        }
        let cut = (data.len() - at) as u64;
        if cut > 0 {
            self.file
                .set_len(at as u64)
                .map_err(BrokerError::io("truncating log", &self.path))?;
        }
        self.size = at as u64;
        Ok((data.len() as u64, cut))
    }

    /// Log end offset.
    pub fn leo(&self) -> i64 {
        self.batches.last().map_or(0, |b| b.last + 1)
    }

    /// Bytes on disk.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Batches, oldest first.
    pub fn batches(&self) -> &[BatchInfo] {
        &self.batches
    }

    /// Leader append: assigns offsets from the log end and stamps the leader epoch.
    /// Returns (first offset, last offset).
    pub fn append_as_leader(
        &mut self,
        records: &[u8],
        epoch: i32,
        max_batch: usize,
    ) -> Result<Result<(i64, i64), RecordError>, BrokerError> {
        let spans = match split_batches(records, max_batch) {
            Ok(spans) if !spans.is_empty() => spans,
            Ok(_) => return Ok(Err(RecordError::Corrupt("no record batch"))),
            Err(e) => return Ok(Err(e)),
        };
        let first = self.leo();
        let mut next = first;
        let mut out = Vec::with_capacity(records.len());
        for (start, len) in spans {
            let mut batch = records[start..start + len].to_vec();
            batch[0..8].copy_from_slice(&next.to_be_bytes());
            batch[12..16].copy_from_slice(&epoch.to_be_bytes());
            next += record_count(&batch);
            out.extend_from_slice(&batch);
        }
        self.write(&out)?;
        Ok(Ok((first, next - 1)))
    }

    /// Follower append of batches fetched from the leader (offsets already assigned); batches
    /// entirely below the log end are skipped. Returns the number of bytes appended.
    pub fn append_as_follower(&mut self, records: &[u8]) -> Result<u64, BrokerError> {
        let Ok(spans) = split_batches(records, usize::MAX) else {
            // A partial trailing batch (fetch size limit) is normal: keep the complete ones.
            return self.append_complete_prefix(records);
        };
        let mut leo = self.leo();
        let mut out = Vec::new();
        for (start, len) in spans {
            let batch = &records[start..start + len];
            if i64_at(batch, 0) >= leo {
                leo = i64_at(batch, 0) + record_count(batch);
                out.extend_from_slice(batch);
            }
        }
        self.write(&out)?;
        Ok(out.len() as u64)
    }

    fn append_complete_prefix(&mut self, records: &[u8]) -> Result<u64, BrokerError> {
        let mut at = 0;
        while records.len() - at >= HEADER {
            let len = 12 + usize::try_from(i32_at(records, at + 8)).unwrap_or(0);
            if len < HEADER || at + len > records.len() {
                break;
            }
            at += len;
        }
        if at == 0 {
            return Ok(0);
        }
        self.append_as_follower(&records[..at])
    }

    fn write(&mut self, data: &[u8]) -> Result<(), BrokerError> {
        if data.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(data)
            .map_err(BrokerError::io("appending to log", &self.path))?;
        let mut at = 0;
        while at < data.len() {
            let len = 12 + i32_at(data, at + 8) as usize;
            let base = i64_at(data, at);
            let last = base + i64::from(i32_at(data, at + 23));
            let max_ts = i64_at(data, at + 35);
            self.batches.push(BatchInfo {
                base,
                last,
                pos: self.size + at as u64,
                len: len as u32,
                max_ts,
            });
            at += len;
        }
        self.size += data.len() as u64;
        Ok(())
    }

    /// Reads whole batches starting with the one containing `from`, up to `max_bytes` (at least
    /// one batch) and only batches ending below `upper` (exclusive offset).
    pub fn read(&self, from: i64, max_bytes: usize, upper: i64) -> Result<Bytes, BrokerError> {
        let start = self.batches.partition_point(|b| b.last < from);
        let mut end = start;
        let mut total = 0usize;
        while end < self.batches.len() {
            let b = self.batches[end];
            if b.last >= upper || (total > 0 && total + b.len as usize > max_bytes) {
                break;
            }
            total += b.len as usize;
            end += 1;
        }
        if total == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = vec![0u8; total];
        self.file
            .read_exact_at(&mut buf, self.batches[start].pos)
            .map_err(BrokerError::io("reading log", &self.path))?;
        Ok(Bytes::from(buf))
    }

    /// Removes every batch starting at or after `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), BrokerError> {
        let keep = self.batches.partition_point(|b| b.base < offset);
        if keep == self.batches.len() {
            return Ok(());
        }
        let size = self.batches.get(keep).map_or(self.size, |b| b.pos);
        self.file
            .set_len(size)
            .map_err(BrokerError::io("truncating log", &self.path))?;
        self.batches.truncate(keep);
        self.size = size;
        Ok(())
    }

    /// First offset of the first batch whose max timestamp is at least `ts` (batch precision).
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .find(|b| b.max_ts >= ts)
            .map(|b| (b.base, b.max_ts))
    }

    /// Flushes to disk.
    pub fn flush(&self) -> Result<(), BrokerError> {
        self.file
            .sync_data()
            .map_err(BrokerError::io("flushing log", &self.path))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid v2 batch with `records` records (record bodies are not parsed by the log).
    pub(crate) fn batch(records: i32, ts: i64) -> Vec<u8> {
        let mut b = vec![0u8; HEADER];
        let len = (HEADER - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(records - 1).to_be_bytes());
        b[27..35].copy_from_slice(&ts.to_be_bytes());
        b[35..43].copy_from_slice(&ts.to_be_bytes());
        b[57..61].copy_from_slice(&records.to_be_bytes());
        let crc = crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn leader_append_assigns_offsets_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path()).expect("open");
        let mut two = batch(3, 10);
        two.extend(batch(2, 20));
        assert_eq!(
            log.append_as_leader(&two, 4, 1 << 20).expect("io"),
            Ok((0, 4))
        );
        assert_eq!(
            log.append_as_leader(&batch(1, 30), 4, 1 << 20).expect("io"),
            Ok((5, 5))
        );
        drop(log);
        let mut log = Log::open(dir.path()).expect("reopen");
        assert_eq!(log.leo(), 6);
        assert_eq!(log.index(true).expect("recover"), (3 * HEADER as u64, 0));
        assert_eq!(log.read(3, 1, i64::MAX).expect("read").len(), HEADER);
        assert_eq!(log.read(0, 1 << 20, 5).expect("read").len(), 2 * HEADER);
        assert_eq!(log.offset_for_timestamp(15), Some((3, 20)));
        log.truncate_to(3).expect("truncate");
        assert_eq!(log.leo(), 3);
    }

    #[test]
    fn recovery_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path()).expect("open");
        log.append_as_leader(&batch(1, 1), 0, 1 << 20)
            .expect("io")
            .expect("valid");
        let mut torn = batch(1, 2);
        torn.truncate(30);
        log.file.write_all(&torn).expect("write");
        let mut log = Log::open(dir.path()).expect("reopen");
        assert_eq!(log.index(true).expect("recover").1, 0);
        assert_eq!(log.leo(), 1);
    }

    #[test]
    fn bad_records_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path()).expect("open");
        let mut old = batch(1, 1);
        old[16] = 1;
        assert_eq!(
            log.append_as_leader(&old, 0, 1 << 20).expect("io"),
            Err(RecordError::Magic(1))
        );
        assert_eq!(
            log.append_as_leader(&batch(1, 1), 0, 10).expect("io"),
            Err(RecordError::TooLarge(HEADER))
        );
    }
}
