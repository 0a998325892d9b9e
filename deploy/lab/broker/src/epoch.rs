//! Leader epochs of one partition log (KIP-101): which leader epoch began at which offset, kept
//! beside the log in Kafka's `leader-epoch-checkpoint` file, and the two decisions built on it —
//! the leader's answer to OffsetsForLeaderEpoch ([`end_offset_for`]) and the follower's
//! truncation point from that answer (KIP-279, [`truncation`]). Both are pure and table-tested.

use std::path::Path;

use crate::error::BrokerError;

/// Kafka's file name for the leader epoch cache.
pub const CHECKPOINT: &str = "leader-epoch-checkpoint";
/// `RecordBatch.NO_PARTITION_LEADER_EPOCH` / `UNDEFINED_EPOCH`.
pub const UNDEFINED_EPOCH: i32 = -1;
/// `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_OFFSET: i64 = -1;

/// One leader epoch and the first offset written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    /// Leader epoch.
    pub epoch: i32,
    /// First offset of that epoch.
    pub start: i64,
}

/// Adds `epoch` starting at `start` when it is newer than the latest entry (what both a leader
/// appending and a follower copying batches do). Returns whether the cache changed.
pub fn assign(epochs: &mut Vec<EpochEntry>, epoch: i32, start: i64) -> bool {
    if epoch < 0 || epochs.last().is_some_and(|e| e.epoch >= epoch) {
        return false;
    }
    // A newer epoch may not start below an older one's start (after a truncation).
    epochs.retain(|e| e.start < start);
    epochs.push(EpochEntry { epoch, start });
    true
}

/// Removes the entries that begin at or after `offset` (the log was truncated there).
pub fn truncate_from_end(epochs: &mut Vec<EpochEntry>, offset: i64) -> bool {
    let before = epochs.len();
    epochs.retain(|e| e.start < offset);
    epochs.len() != before
}

/// The leader's answer to OffsetsForLeaderEpoch for `requested`: the largest epoch it knows that
/// is not above `requested`, and the offset where the next epoch begins (its log end when that
/// is its latest epoch) — Kafka's `LeaderEpochFileCache.endOffsetFor`.
pub fn end_offset_for(epochs: &[EpochEntry], requested: i32, leo: i64) -> (i32, i64) {
    if requested == UNDEFINED_EPOCH {
        return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
    }
    if epochs.last().is_some_and(|e| e.epoch == requested) {
        return (requested, leo);
    }
    let Some(higher) = epochs.iter().find(|e| e.epoch > requested) else {
        return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
    };
    match epochs.iter().rev().find(|e| e.epoch <= requested) {
        Some(floor) => (floor.epoch, higher.start),
        None => (requested, higher.start),
    }
}

/// What a follower does with the leader's answer `(leader_epoch, leader_end)` (KIP-279).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// Truncate to this offset; the follower's log then agrees with the leader's.
    Done(i64),
    /// Truncate to this offset and ask again with the follower's latest epoch after it.
    Again(i64),
    /// The leader has no epoch information to compare: truncate to the high watermark.
    ToHighWatermark,
}

/// The follower's truncation point from the leader's OffsetsForLeaderEpoch answer, given its
/// own epochs and log end offset.
pub fn truncation(
    epochs: &[EpochEntry],
    leo: i64,
    leader_epoch: i32,
    leader_end: i64,
) -> Truncation {
    if leader_end == UNDEFINED_OFFSET {
        return Truncation::ToHighWatermark;
    }
    let (mine, my_end) = end_offset_for(epochs, leader_epoch, leo);
    if mine == leader_epoch {
        Truncation::Done(leader_end.min(my_end).min(leo))
    } else if mine != UNDEFINED_EPOCH {
        // The follower never saw the leader's epoch: cut back to the end of its own largest
        // epoch below it and compare again from there.
        Truncation::Again(leader_end.min(my_end).min(leo))
    } else {
        Truncation::Done(leader_end.min(leo))
    }
}

/// Reads a `leader-epoch-checkpoint` (missing or malformed: empty).
pub fn read_checkpoint(dir: &Path) -> Vec<EpochEntry> {
    let text = std::fs::read_to_string(dir.join(CHECKPOINT)).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some(EpochEntry {
                epoch: it.next()?.parse().ok()?,
                start: it.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// Writes the `leader-epoch-checkpoint` (version 0, count, one `epoch start` line each),
/// atomically through a temporary file.
pub fn write_checkpoint(dir: &Path, epochs: &[EpochEntry]) -> Result<(), BrokerError> {
    let mut text = format!("0\n{}\n", epochs.len());
    for e in epochs {
        text.push_str(&format!("{} {}\n", e.epoch, e.start));
    }
    let tmp = dir.join(format!("{CHECKPOINT}.tmp"));
    std::fs::write(&tmp, text).map_err(BrokerError::io("writing", &tmp))?;
    let path = dir.join(CHECKPOINT);
    std::fs::rename(&tmp, &path).map_err(BrokerError::io("renaming", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> Vec<EpochEntry> {
        entries
            .iter()
            .map(|(epoch, start)| EpochEntry {
                epoch: *epoch,
                start: *start,
            })
            .collect()
    }

    #[test]
    fn assign_keeps_epochs_increasing_and_truncation_drops_the_tail() {
        let mut c = Vec::new();
        assert!(assign(&mut c, 0, 0));
        assert!(!assign(&mut c, 0, 5), "same epoch: no new entry");
        assert!(assign(&mut c, 2, 10));
        assert!(!assign(&mut c, 1, 12), "older epoch: ignored");
        assert_eq!(c, cache(&[(0, 0), (2, 10)]));
        assert!(truncate_from_end(&mut c, 10));
        assert_eq!(c, cache(&[(0, 0)]));
        assert!(!truncate_from_end(&mut c, 10));
        // A newer epoch starting below an older one's start replaces it.
        let mut c = cache(&[(0, 0), (3, 8)]);
        assert!(assign(&mut c, 5, 6));
        assert_eq!(c, cache(&[(0, 0), (5, 6)]));
    }

    #[test]
    fn leader_answers_offsets_for_leader_epoch_like_kafka() {
        let c = cache(&[(1, 0), (3, 10), (6, 25)]);
        let leo = 40;
        for (requested, expected) in [
            (6, (6, 40)), // latest epoch: log end
            (3, (3, 25)), // known epoch: next epoch's start
            (4, (3, 25)), // unknown, between: floor epoch, next start
            (5, (3, 25)),
            (0, (0, 0)), // below the first epoch: first start
            (7, (UNDEFINED_EPOCH, UNDEFINED_OFFSET)), // above every epoch
            (UNDEFINED_EPOCH, (UNDEFINED_EPOCH, UNDEFINED_OFFSET)),
        ] {
            assert_eq!(
                end_offset_for(&c, requested, leo),
                expected,
                "epoch {requested}"
            );
        }
        assert_eq!(
            end_offset_for(&[], 2, 0),
            (UNDEFINED_EPOCH, UNDEFINED_OFFSET)
        );
    }

    /// KIP-279's scenarios: a follower holding a tail the leader never had is cut exactly where
    /// the logs part, never below what they share.
    #[test]
    fn divergent_logs_are_truncated_exactly_per_kip_279() {
        // Scenario 1 (KIP-101): the follower led epoch 1 and wrote offsets 1 and 2 nobody got;
        // the new leader (epoch 2, from offset 1) never saw epoch 1. The follower keeps offset 0.
        let follower = cache(&[(0, 0), (1, 1)]);
        let leader = cache(&[(0, 0), (2, 1)]);
        let (le, lend) = end_offset_for(&leader, 1, 5);
        assert_eq!((le, lend), (0, 1));
        assert_eq!(truncation(&follower, 3, le, lend), Truncation::Done(1));

        // Scenario 2 (KIP-279): the follower's latest epoch (3) is unknown to the leader, which
        // answers with its largest epoch below (2) ending at 20; the follower has epoch 2 ending
        // at 18 (then epoch 3 from 18): it cuts to 18, the end of what both wrote in epoch 2.
        let follower = cache(&[(0, 0), (2, 10), (3, 18)]);
        let leader = cache(&[(0, 0), (2, 10), (4, 20)]);
        let (le, lend) = end_offset_for(&leader, 3, 30);
        assert_eq!((le, lend), (2, 20));
        assert_eq!(truncation(&follower, 24, le, lend), Truncation::Done(18));

        // Scenario 3: the follower never saw the leader's answer epoch (1): cut back to the end
        // of its own largest epoch below (0 → 5) and ask again.
        let follower = cache(&[(0, 0), (2, 5)]);
        let leader = cache(&[(0, 0), (1, 4), (3, 9)]);
        let (le, lend) = end_offset_for(&leader, 2, 12);
        assert_eq!((le, lend), (1, 9));
        assert_eq!(truncation(&follower, 8, le, lend), Truncation::Again(5));
        let follower = cache(&[(0, 0)]);
        let (le, lend) = end_offset_for(&leader, 0, 12);
        assert_eq!((le, lend), (0, 4));
        assert_eq!(truncation(&follower, 5, le, lend), Truncation::Done(4));

        // Identical logs: nothing is cut; a follower behind the leader keeps all it has.
        let same = cache(&[(0, 0), (2, 10)]);
        assert_eq!(truncation(&same, 15, 2, 15), Truncation::Done(15));
        assert_eq!(truncation(&same, 12, 2, 15), Truncation::Done(12));
        // No epoch information at the leader: fall back to the high watermark.
        assert_eq!(
            truncation(&same, 15, UNDEFINED_EPOCH, UNDEFINED_OFFSET),
            Truncation::ToHighWatermark
        );
    }

    #[test]
    fn checkpoint_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_checkpoint(dir.path()).is_empty());
        let c = cache(&[(0, 0), (4, 17)]);
        write_checkpoint(dir.path(), &c).expect("write");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CHECKPOINT)).expect("read"),
            "0\n2\n0 0\n4 17\n"
        );
        assert_eq!(read_checkpoint(dir.path()), c);
    }
}
