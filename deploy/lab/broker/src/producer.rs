//! Idempotent producer state of one partition (Kafka 3.1's `ProducerStateManager`, without
//! transactions): per producer id its epoch and the metadata of its last five batches, rebuilt
//! from the log's batch headers on open and after a truncation, updated on every append (leader
//! and follower alike, so a new leader knows every producer). The leader asks
//! [`ProducerStates::check`] before appending: a retried batch is answered as the duplicate it
//! is, out-of-order sequences and fenced epochs are refused.

use std::collections::{HashMap, VecDeque};

use crate::api::errors;

/// Batches remembered per producer (`max.in.flight.requests.per.connection` ≤ 5 for idempotence).
const REMEMBERED: usize = 5;

/// The producer fields of a v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    /// Producer id (≥ 0: the batch is idempotent).
    pub id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Sequence of the first record.
    pub first_seq: i32,
    /// Sequence of the last record.
    pub last_seq: i32,
}

/// Where an accepted batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Landed {
    first_seq: i32,
    last_seq: i32,
    base: i64,
    last: i64,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    epoch: i16,
    batches: VecDeque<Landed>,
}

/// What the leader does with an idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New and in sequence: append it.
    Append,
    /// Already in the log at these offsets: answer success with them, append nothing.
    Duplicate {
        /// First offset of the earlier append.
        base: i64,
        /// Last offset of the earlier append.
        last: i64,
    },
    /// Refused with this Kafka error code.
    Refuse(i16),
}

/// Producer state of one partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, Entry>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

impl ProducerStates {
    /// The leader's decision for `batch` (pure; table-tested below).
    pub fn check(&self, batch: &ProducerBatch) -> Verdict {
        let Some(entry) = self.producers.get(&batch.id) else {
            // Unknown producer (new, or its state is gone): any sequence starts it.
            return Verdict::Append;
        };
        if batch.epoch < entry.epoch {
            return Verdict::Refuse(errors::INVALID_PRODUCER_EPOCH);
        }
        if batch.epoch > entry.epoch {
            return if batch.first_seq == 0 {
                Verdict::Append
            } else {
                Verdict::Refuse(errors::OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        }
        if let Some(b) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == batch.first_seq && b.last_seq == batch.last_seq)
        {
            return Verdict::Duplicate {
                base: b.base,
                last: b.last,
            };
        }
        match entry.batches.back() {
            Some(last) if batch.first_seq != next_seq(last.last_seq) => {
                Verdict::Refuse(errors::OUT_OF_ORDER_SEQUENCE_NUMBER)
            }
            _ => Verdict::Append,
        }
    }

    /// Records an appended batch at offsets `base..=last`.
    pub fn record(&mut self, batch: &ProducerBatch, base: i64, last: i64) {
        if batch.id < 0 {
            return;
        }
        let entry = self.producers.entry(batch.id).or_default();
        if batch.epoch != entry.epoch {
            entry.epoch = batch.epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(Landed {
            first_seq: batch.first_seq,
            last_seq: batch.last_seq,
            base,
            last,
        });
        while entry.batches.len() > REMEMBERED {
            entry.batches.pop_front();
        }
    }

    /// Forgets everything (before a rebuild from the log).
    pub fn clear(&mut self) {
        self.producers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(epoch: i16, first_seq: i32, last_seq: i32) -> ProducerBatch {
        ProducerBatch {
            id: 7,
            epoch,
            first_seq,
            last_seq,
        }
    }

    #[test]
    fn sequences_duplicates_and_epochs_are_checked_like_kafka() {
        let mut s = ProducerStates::default();
        assert_eq!(s.check(&b(0, 0, 4)), Verdict::Append, "new producer");
        s.record(&b(0, 0, 4), 100, 104);
        s.record(&b(0, 5, 9), 110, 114);
        for (batch, expected) in [
            (b(0, 10, 12), Verdict::Append),
            (
                b(0, 5, 9),
                Verdict::Duplicate {
                    base: 110,
                    last: 114,
                },
            ),
            (
                b(0, 0, 4),
                Verdict::Duplicate {
                    base: 100,
                    last: 104,
                },
            ),
            (
                b(0, 11, 12),
                Verdict::Refuse(errors::OUT_OF_ORDER_SEQUENCE_NUMBER),
            ),
            (
                b(0, 9, 12),
                Verdict::Refuse(errors::OUT_OF_ORDER_SEQUENCE_NUMBER),
            ),
            (b(1, 0, 3), Verdict::Append),
            (
                b(1, 5, 6),
                Verdict::Refuse(errors::OUT_OF_ORDER_SEQUENCE_NUMBER),
            ),
        ] {
            assert_eq!(s.check(&batch), expected, "{batch:?}");
        }
        s.record(&b(1, 0, 3), 120, 123);
        assert_eq!(
            s.check(&b(0, 10, 12)),
            Verdict::Refuse(errors::INVALID_PRODUCER_EPOCH),
            "fenced: an older epoch"
        );
        assert_eq!(s.check(&b(1, 4, 4)), Verdict::Append);
    }

    #[test]
    fn only_the_last_five_batches_are_remembered_and_sequences_wrap() {
        let mut s = ProducerStates::default();
        for i in 0..7 {
            s.record(&b(0, i, i), i64::from(i), i64::from(i));
        }
        assert_eq!(
            s.check(&b(0, 2, 2)),
            Verdict::Duplicate { base: 2, last: 2 }
        );
        assert_eq!(
            s.check(&b(0, 1, 1)),
            Verdict::Refuse(errors::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        let mut s = ProducerStates::default();
        s.record(&b(0, i32::MAX - 1, i32::MAX), 0, 1);
        assert_eq!(s.check(&b(0, 0, 3)), Verdict::Append);
    }
}
