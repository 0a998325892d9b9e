//! The key-schema drift guard's verification: record the latest schema id of every
//! `<topic>-key` subject the connectors produce to before they resume, and after they have
//! produced again check that none got a new id. A new key schema id changes the key bytes
//! (Confluent's wire format carries the id) and so, through murmur2, the partition of most
//! keys: per-key ordering and compaction break. When it happened anyway, kroll halts and says
//! which topics, and how many of a sample of their real keys now land on another partition.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use kroll_migrate::partition::{KeyMoves, key_moves};
use serde::{Deserialize, Serialize};

use crate::kafka::{KafkaError, KafkaReader};
use crate::progress::Progress;
use crate::registry::api::RegistryApi;
use crate::rest::RestError;

/// A topic a connector produces to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyTopic {
    pub connector: String,
    pub topic: String,
}

/// One topic's key subject as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyIdEntry {
    pub connector: String,
    pub topic: String,
    pub subject: String,
    /// Latest schema id of the subject (`None`: no such subject yet).
    pub id: Option<i32>,
    /// Σ high watermarks of the topic (`None`: the topic does not exist yet).
    pub end_offset: Option<i64>,
    pub partitions: Option<u32>,
}

/// The key schema ids of every produced-to topic at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyIds {
    pub recorded_unix_ms: i64,
    pub entries: Vec<KeyIdEntry>,
}

/// The run-directory file the ids are kept in.
pub const KEY_IDS_FILE: &str = "key-ids.json";

/// A topic whose key subject got a new schema id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftedTopic {
    pub connector: String,
    pub topic: String,
    pub subject: String,
    pub before: i32,
    pub after: i32,
    pub partitions: Option<u32>,
    /// Of a sample of the topic's keys, how many now map to another partition.
    pub moves: Option<KeyMoves>,
}

/// Key schema ids changed: keys now route to other partitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.topics))]
pub struct DriftError {
    pub topics: Vec<DriftedTopic>,
}

fn describe(topics: &[DriftedTopic]) -> String {
    let mut out = format!(
        "key schema drift: {} topic(s) got a new key schema id, so their keys now route to other partitions (per-key order and compaction break):",
        topics.len()
    );
    for t in topics {
        let _ = write!(
            out,
            "\n  {} (connector {}, subject {}): id {} → {}",
            t.topic, t.connector, t.subject, t.before, t.after
        );
        match (&t.moves, t.partitions) {
            (Some(m), Some(p)) if m.keys > 0 => {
                let _ = write!(
                    out,
                    "; {} of {} sampled keys move to another of {p} partitions",
                    m.moved, m.keys
                );
            }
            _ => out.push_str("; no keys could be sampled to count the moves"),
        }
    }
    out.push_str("\nHalt the producers, set schema.name.adjustment.mode=avro (and field.name.adjustment.mode=avro) on these connectors, and decide how to handle the records written under the new id.");
    out
}

/// Compares two recordings: every key subject that had an id must still have it.
pub fn verify_key_ids(before: &KeyIds, after: &KeyIds) -> Result<(), DriftError> {
    let now: BTreeMap<&str, Option<i32>> = after
        .entries
        .iter()
        .map(|e| (e.subject.as_str(), e.id))
        .collect();
    let topics: Vec<DriftedTopic> = before
        .entries
        .iter()
        .filter_map(|e| {
            let (old, new) = (e.id?, (*now.get(e.subject.as_str())?)?);
            (old != new).then(|| DriftedTopic {
                connector: e.connector.clone(),
                topic: e.topic.clone(),
                subject: e.subject.clone(),
                before: old,
                after: new,
                partitions: e.partitions,
                moves: None,
            })
        })
        .collect();
    if topics.is_empty() {
        Ok(())
    } else {
        Err(DriftError { topics })
    }
}

/// Why a recording or check could not be made (apart from drift itself).
#[derive(Debug, thiserror::Error)]
pub enum DriftCheckError {
    #[error(transparent)]
    Drift(#[from] DriftError),
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// Records the latest key schema id (and end offset) of every topic.
pub async fn record_key_ids(
    registry: &impl RegistryApi,
    kafka: &impl KafkaReader,
    topics: &[KeyTopic],
) -> Result<KeyIds, DriftCheckError> {
    let names: Vec<String> = topics.iter().map(|t| t.topic.clone()).collect();
    let ends = kafka.end_offsets(&names).await?;
    let mut entries = Vec::with_capacity(topics.len());
    for t in topics {
        let subject = format!("{}-key", t.topic);
        let id = registry.latest(&subject).await?.map(|v| v.id);
        let end = ends.get(&t.topic);
        entries.push(KeyIdEntry {
            connector: t.connector.clone(),
            topic: t.topic.clone(),
            subject,
            id,
            end_offset: end.map(|e| e.end_sum),
            partitions: end.map(|e| e.partitions),
        });
    }
    Ok(KeyIds {
        recorded_unix_ms: kroll_shared::time::now_unix_ms(),
        entries,
    })
}

/// How long to wait for the connectors to produce before checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftCheckOptions {
    pub produce_timeout: Duration,
    pub poll: Duration,
    /// Keys sampled per drifted topic to count partition moves.
    pub sample: usize,
}

impl Default for DriftCheckOptions {
    fn default() -> Self {
        Self {
            produce_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            sample: 1000,
        }
    }
}

/// The outcome of a check without drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCheck {
    /// Topics with new records since the recording and an unchanged key id.
    pub verified: Vec<String>,
    /// Topics without new records yet: nothing was registered, nothing to verify yet.
    pub unverified: Vec<String>,
}

/// Whether a topic has produced since the recording (or its key id already changed).
fn settled(before: &KeyIdEntry, now: &KeyIdEntry) -> bool {
    now.id != before.id || now.end_offset.unwrap_or(0) > before.end_offset.unwrap_or(0)
}

/// Waits (bounded) until every recorded topic has new records, then verifies the key ids;
/// on drift, counts partition moves over a sample of each drifted topic's keys.
pub async fn check_key_drift(
    registry: &impl RegistryApi,
    kafka: &impl KafkaReader,
    before: &KeyIds,
    options: &DriftCheckOptions,
    progress: Progress<'_>,
) -> Result<DriftCheck, DriftCheckError> {
    let topics: Vec<KeyTopic> = before
        .entries
        .iter()
        .map(|e| KeyTopic {
            connector: e.connector.clone(),
            topic: e.topic.clone(),
        })
        .collect();
    let deadline = Instant::now() + options.produce_timeout;
    let now = loop {
        let now = record_key_ids(registry, kafka, &topics).await?;
        let waiting = before
            .entries
            .iter()
            .zip(&now.entries)
            .filter(|(b, n)| !settled(b, n))
            .count();
        if waiting == 0 || Instant::now() >= deadline {
            break now;
        }
        progress(&format!(
            "Waiting for {waiting} topic(s) to receive records before checking their key schema ids…"
        ));
        tokio::time::sleep(options.poll).await;
    };
    if let Err(mut drift) = verify_key_ids(before, &now) {
        for t in &mut drift.topics {
            t.moves = count_moves(kafka, t, options.sample).await;
        }
        return Err(drift.into());
    }
    let (verified, unverified) = before
        .entries
        .iter()
        .zip(&now.entries)
        .partition::<Vec<_>, _>(|(b, n)| settled(b, n));
    Ok(DriftCheck {
        verified: verified.into_iter().map(|(b, _)| b.topic.clone()).collect(),
        unverified: unverified
            .into_iter()
            .map(|(b, _)| b.topic.clone())
            .collect(),
    })
}

/// Samples the topic's keys and counts how many change partition between the two ids.
async fn count_moves(
    kafka: &impl KafkaReader,
    topic: &mut DriftedTopic,
    sample: usize,
) -> Option<KeyMoves> {
    let keys = kafka.sample_keys(&topic.topic, sample).await.ok()?;
    topic.partitions = topic.partitions.or(Some(keys.partitions));
    let partitions = NonZeroU32::new(keys.partitions)?;
    // Confluent framing: magic 0, 4-byte id, Avro data; only the Avro data is the key itself.
    let avro: Vec<&[u8]> = keys
        .keys
        .iter()
        .filter(|k| k.len() >= 5 && k[0] == 0)
        .map(|k| &k[5..])
        .collect();
    let (old, new) = (
        u32::try_from(topic.before).ok()?,
        u32::try_from(topic.after).ok()?,
    );
    Some(key_moves(old, new, avro, partitions))
}
