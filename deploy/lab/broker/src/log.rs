//! One partition's log on disk: record batches (magic v2) stored exactly as produced, with
//! offsets and the leader epoch assigned by the leader, in a single segment file
//! `00000000000000000000.log` — Kafka's on-disk batch format, without index files (the index is
//! rebuilt in memory on open) — plus what Kafka derives from it: the leader epoch cache
//! (`leader-epoch-checkpoint`, see [`crate::epoch`]) and the idempotent producers' state
//! ([`crate::producer`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::epoch::{self, EpochEntry};
use crate::error::BrokerError;
use crate::producer::{ProducerBatch, ProducerStates, Verdict};

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
    /// The idempotent producer check refused the batch (Kafka error code).
    #[error("idempotent producer check failed (error code {0})")]
    Producer(i16),
}

/// What a leader append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// First offset.
    pub first: i64,
    /// Last offset.
    pub last: i64,
    /// A retried idempotent batch already in the log: nothing was written.
    pub duplicate: bool,
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
    /// Leader epoch the batch was written in.
    pub epoch: i32,
    /// Idempotent producer fields (producer id ≥ 0).
    pub producer: Option<ProducerBatch>,
}

impl BatchInfo {
    /// Reads the header of the batch at `at` in `data` (at least [`HEADER`] bytes), stored at
    /// file position `pos`.
    fn parse(data: &[u8], at: usize, pos: u64) -> Self {
        let base = i64_at(data, at);
        let last_delta = i32_at(data, at + 23);
        let id = i64_at(data, at + 43);
        let first_seq = i32_at(data, at + 53);
        Self {
            base,
            last: base + i64::from(last_delta),
            pos,
            len: (12 + i32_at(data, at + 8)) as u32,
            max_ts: i64_at(data, at + 35),
            epoch: i32_at(data, at + 12),
            producer: (id >= 0).then(|| ProducerBatch {
                id,
                epoch: i16::from_be_bytes([data[at + 51], data[at + 52]]),
                first_seq,
                last_seq: first_seq.wrapping_add(last_delta),
            }),
        }
    }
}

/// A partition log.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    batches: Vec<BatchInfo>,
    size: u64,
    epochs: Vec<EpochEntry>,
    producers: ProducerStates,
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
            dir: dir.to_path_buf(),
            path,
            file,
            batches: Vec::new(),
            size: 0,
            epochs: Vec::new(),
            producers: ProducerStates::default(),
        };
        log.index(false)?;
        Ok(log)
    }

    /// Rebuilds the epoch cache and producer state from the batches. An epoch the checkpoint
    /// holds beyond the last batch (a leader elected that has not appended yet) is kept.
    fn derive(&mut self) -> Result<(), BrokerError> {
        let checkpoint = epoch::read_checkpoint(&self.dir);
        self.epochs.clear();
        self.producers.clear();
        for b in &self.batches {
            epoch::assign(&mut self.epochs, b.epoch, b.base);
            if let Some(p) = &b.producer {
                self.producers.record(p, b.base, b.last);
            }
        }
        let leo = self.leo();
        if let Some(tail) = checkpoint.last().filter(|t| t.start >= leo) {
            epoch::assign(&mut self.epochs, tail.epoch, leo);
        }
        if checkpoint != self.epochs {
            epoch::write_checkpoint(&self.dir, &self.epochs)?;
        }
        Ok(())
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
            self.batches.push(BatchInfo::parse(&data, at, at as u64));
            at += len;
        }
        let cut = (data.len() - at) as u64;
        if cut > 0 {
            self.file
                .set_len(at as u64)
                .map_err(BrokerError::io("truncating log", &self.path))?;
        }
        self.size = at as u64;
        self.derive()?;
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

    /// The leader epoch cache, oldest first.
    pub fn epochs(&self) -> &[EpochEntry] {
        &self.epochs
    }

    /// The latest leader epoch in the cache.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.last().map(|e| e.epoch)
    }

    /// Start offset of `epoch` in the cache.
    pub fn epoch_start(&self, epoch: i32) -> Option<i64> {
        self.epochs
            .iter()
            .find(|e| e.epoch == epoch)
            .map(|e| e.start)
    }

    /// OffsetsForLeaderEpoch as answered from this log (see [`epoch::end_offset_for`]).
    pub fn end_offset_for(&self, requested: i32) -> (i32, i64) {
        epoch::end_offset_for(&self.epochs, requested, self.leo())
    }

    /// A leader elected at `epoch` starts it at its log end (Kafka's
    /// `maybeAssignEpochStartOffset`), checkpointed.
    pub fn assign_epoch(&mut self, epoch: i32) -> Result<(), BrokerError> {
        let leo = self.leo();
        if epoch::assign(&mut self.epochs, epoch, leo) {
            epoch::write_checkpoint(&self.dir, &self.epochs)?;
        }
        Ok(())
    }

    /// Leader append: checks idempotent producers' sequences, assigns offsets from the log end
    /// and stamps the leader epoch. A retried batch already in the log is answered with its
    /// offsets and not written again.
    pub fn append_as_leader(
        &mut self,
        records: &[u8],
        epoch: i32,
        max_batch: usize,
    ) -> Result<Result<Appended, RecordError>, BrokerError> {
        let spans = match split_batches(records, max_batch) {
            Ok(spans) if !spans.is_empty() => spans,
            Ok(_) => return Ok(Err(RecordError::Corrupt("no record batch"))),
            Err(e) => return Ok(Err(e)),
        };
        for (start, _) in &spans {
            let info = BatchInfo::parse(records, *start, 0);
            let Some(p) = info.producer else { continue };
            match self.producers.check(&p) {
                Verdict::Append => {}
                Verdict::Duplicate { base, last } if spans.len() == 1 => {
                    return Ok(Ok(Appended {
                        first: base,
                        last,
                        duplicate: true,
                    }));
                }
                Verdict::Duplicate { .. } => {
                    return Ok(Err(RecordError::Producer(
                        crate::api::errors::DUPLICATE_SEQUENCE_NUMBER,
                    )));
                }
                Verdict::Refuse(code) => return Ok(Err(RecordError::Producer(code))),
            }
        }
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
        Ok(Ok(Appended {
            first,
            last: next - 1,
            duplicate: false,
        }))
    }

    /// Follower append of batches fetched from the leader (offsets already assigned). Batches
    /// wholly below the log end are already here and skipped; a batch that begins below the
    /// log end and ends past it means this log parted from the leader's inside it: the local
    /// batches from there are cut and the leader's batch is appended whole (when the cut lands
    /// on its base; otherwise the next fetch continues from the cut). A batch beyond the log
    /// end (a gap) is never appended. Returns the number of bytes appended.
    pub fn append_as_follower(&mut self, records: &[u8]) -> Result<u64, BrokerError> {
        let Ok(spans) = split_batches(records, usize::MAX) else {
            // A partial trailing batch (fetch size limit) is normal: keep the complete ones.
            return self.append_complete_prefix(records);
        };
        let mut out = Vec::new();
        let mut leo = self.leo();
        for (start, len) in spans {
            let batch = &records[start..start + len];
            let base = i64_at(batch, 0);
            let last = base + i64::from(i32_at(batch, 23));
            if last < leo && out.is_empty() {
                continue;
            }
            if base < leo && out.is_empty() {
                self.truncate_to(base)?;
                if self.leo() != base {
                    break;
                }
            } else if base != leo {
                break;
            }
            leo = last + 1;
            out.extend_from_slice(batch);
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
        let mut new_epoch = false;
        while at < data.len() {
            let b = BatchInfo::parse(data, at, self.size + at as u64);
            new_epoch |= epoch::assign(&mut self.epochs, b.epoch, b.base);
            if let Some(p) = &b.producer {
                self.producers.record(p, b.base, b.last);
            }
            self.batches.push(b);
            at += b.len as usize;
        }
        self.size += data.len() as u64;
        if new_epoch {
            epoch::write_checkpoint(&self.dir, &self.epochs)?;
        }
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

    /// Removes every batch that ends at or after `offset`, so that the log ends at or below it
    /// (a batch is indivisible: one that straddles `offset` goes too), with the epochs that
    /// began there; the producer state is rebuilt from what remains.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), BrokerError> {
        let keep = self.batches.partition_point(|b| b.last < offset);
        if keep == self.batches.len() {
            return Ok(());
        }
        let size = self.batches.get(keep).map_or(self.size, |b| b.pos);
        self.file
            .set_len(size)
            .map_err(BrokerError::io("truncating log", &self.path))?;
        self.batches.truncate(keep);
        self.size = size;
        let leo = self.leo();
        epoch::truncate_from_end(&mut self.epochs, leo);
        epoch::write_checkpoint(&self.dir, &self.epochs)?;
        self.producers.clear();
        for b in &self.batches {
            if let Some(p) = &b.producer {
                self.producers.record(p, b.base, b.last);
            }
        }
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
        b[43..57].fill(0xff); // no producer id, epoch or sequence
        b[57..61].copy_from_slice(&records.to_be_bytes());
        let crc = crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn appended(first: i64, last: i64) -> Appended {
        Appended {
            first,
            last,
            duplicate: false,
        }
    }

    /// `batch` from an idempotent producer.
    fn idempotent(records: i32, producer: i64, first_seq: i32) -> Vec<u8> {
        let mut b = batch(records, 1);
        b[43..51].copy_from_slice(&producer.to_be_bytes());
        b[51..53].copy_from_slice(&0i16.to_be_bytes());
        b[53..57].copy_from_slice(&first_seq.to_be_bytes());
        b
    }

    /// The leader's log as a follower fetches it: batches at `offsets` with `epoch`.
    fn fetched(batches: &[(i64, i32, i32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (base, records, epoch) in batches {
            let mut b = batch(*records, *base);
            b[0..8].copy_from_slice(&base.to_be_bytes());
            b[12..16].copy_from_slice(&epoch.to_be_bytes());
            out.extend(b);
        }
        out
    }

    fn offsets(log: &Log) -> Vec<(i64, i64, i32)> {
        log.batches()
            .iter()
            .map(|b| (b.base, b.last, b.epoch))
            .collect()
    }

    #[test]
    fn follower_appends_a_batch_that_straddles_its_log_end_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path()).expect("open");
        // The follower holds 0..=4 in one batch and 5..=6 from an old leader (epoch 1).
        log.append_as_follower(&fetched(&[(0, 5, 0), (5, 2, 1)]))
            .expect("append");
        assert_eq!(log.leo(), 7);
        // The leader's log: 0..=4, then 5..=9 in epoch 2. The fetch from 7 returns the batch
        // holding 7, which begins at 5: it is appended whole, replacing the local 5..=6.
        let n = log
            .append_as_follower(&fetched(&[(5, 5, 2)]))
            .expect("append");
        assert_eq!(n, HEADER as u64);
        assert_eq!(offsets(&log), [(0, 4, 0), (5, 9, 2)]);
        assert_eq!(
            log.epochs(),
            [
                EpochEntry { epoch: 0, start: 0 },
                EpochEntry { epoch: 2, start: 5 }
            ]
        );
        // Batches wholly present are skipped; the rest continues from the log end.
        let n = log
            .append_as_follower(&fetched(&[(5, 5, 2), (10, 1, 2)]))
            .expect("append");
        assert_eq!(n, HEADER as u64);
        assert_eq!(log.leo(), 11);
        // A local batch straddling the leader's batch base is cut, nothing appended: the next
        // fetch continues from the new log end. A gap is never appended.
        let mut log2 = Log::open(&dir.path().join("b")).expect("open");
        log2.append_as_follower(&fetched(&[(0, 4, 0)]))
            .expect("append");
        assert_eq!(
            log2.append_as_follower(&fetched(&[(2, 5, 1)]))
                .expect("append"),
            0
        );
        assert_eq!(log2.leo(), 0);
        assert_eq!(
            log2.append_as_follower(&fetched(&[(3, 1, 1)]))
                .expect("append"),
            0
        );
        assert_eq!(log2.leo(), 0);
        // A partial trailing batch (fetch size limit) keeps the complete ones.
        let mut partial = fetched(&[(0, 2, 0), (2, 2, 0)]);
        partial.truncate(HEADER + 20);
        assert_eq!(
            log2.append_as_follower(&partial).expect("append"),
            HEADER as u64
        );
        assert_eq!(log2.leo(), 2);
    }

    #[test]
    fn epochs_are_checkpointed_and_rebuilt_and_truncation_cuts_whole_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path()).expect("open");
        log.assign_epoch(0).expect("epoch");
        log.append_as_leader(&batch(3, 1), 0, 1 << 20)
            .expect("io")
            .expect("valid");
        log.assign_epoch(3).expect("epoch");
        log.append_as_leader(&batch(2, 2), 3, 1 << 20)
            .expect("io")
            .expect("valid");
        log.assign_epoch(5).expect("epoch");
        let want = [(0, 0), (3, 3), (5, 5)].map(|(epoch, start)| EpochEntry { epoch, start });
        assert_eq!(log.epochs(), want);
        assert_eq!(epoch::read_checkpoint(dir.path()), want);
        assert_eq!(log.end_offset_for(3), (3, 5));
        drop(log);
        let mut log = Log::open(dir.path()).expect("reopen");
        assert_eq!(log.epochs(), want, "the elected-but-empty epoch 5 survives");
        log.truncate_to(4).expect("truncate");
        assert_eq!(log.leo(), 3, "the batch 3..=4 straddling 4 goes whole");
        assert_eq!(log.epochs(), &want[..1]);
        assert_eq!(epoch::read_checkpoint(dir.path()), &want[..1]);
    }

    #[test]
    fn a_retried_idempotent_batch_is_answered_with_its_first_offsets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path()).expect("open");
        let first = idempotent(3, 42, 0);
        assert_eq!(
            log.append_as_leader(&first, 0, 1 << 20).expect("io"),
            Ok(appended(0, 2))
        );
        assert_eq!(
            log.append_as_leader(&first, 0, 1 << 20).expect("io"),
            Ok(Appended {
                first: 0,
                last: 2,
                duplicate: true
            })
        );
        assert_eq!(log.leo(), 3, "nothing written twice");
        assert_eq!(
            log.append_as_leader(&idempotent(1, 42, 5), 0, 1 << 20)
                .expect("io"),
            Err(RecordError::Producer(
                crate::api::errors::OUT_OF_ORDER_SEQUENCE_NUMBER
            ))
        );
        // The state is rebuilt from the log (a new leader's, or after a restart).
        drop(log);
        let mut log = Log::open(dir.path()).expect("reopen");
        assert!(
            log.append_as_leader(&first, 0, 1 << 20)
                .expect("io")
                .is_ok_and(|a| a.duplicate)
        );
        assert_eq!(
            log.append_as_leader(&idempotent(2, 42, 3), 0, 1 << 20)
                .expect("io"),
            Ok(appended(3, 4))
        );
    }

    #[test]
    fn leader_append_assigns_offsets_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path()).expect("open");
        let mut two = batch(3, 10);
        two.extend(batch(2, 20));
        assert_eq!(
            log.append_as_leader(&two, 4, 1 << 20).expect("io"),
            Ok(appended(0, 4))
        );
        assert_eq!(
            log.append_as_leader(&batch(1, 30), 4, 1 << 20).expect("io"),
            Ok(appended(5, 5))
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
