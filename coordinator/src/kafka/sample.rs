//! A sample of a topic's record keys, read with rdkafka (blocking; see [`crate::kafka`]).

use std::time::Instant;

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::access::Resource;
use crate::kafka::{Kafka, KafkaError, KeySample};

/// Why kroll reads a topic's records, for an ACL refusal.
const WHY: &str = "to sample the topic's record keys (the key-schema guard)";

/// Reads up to `max` keys of `topic`: the last `max / partitions` records of every partition.
pub(crate) fn sample_keys(kafka: &Kafka, topic: &str, max: usize) -> Result<KeySample, KafkaError> {
    let metadata = kafka.metadata()?;
    let Some(meta) = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
    else {
        kafka.absent_or_denied(topic, WHY)?;
        return Ok(KeySample::default());
    };
    let ids: Vec<i32> = meta.partitions().iter().map(|p| p.id()).collect();
    let partitions = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    let per_partition = i64::try_from(max / ids.len().max(1))
        .unwrap_or(i64::MAX)
        .max(1);
    // A throwaway group id: this consumer assigns partitions itself and never commits.
    let group = format!("kroll-sample-{}", uuid::Uuid::new_v4());
    let consumer = kafka.new_consumer(&group)?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining = 0;
    for p in &ids {
        let (low, high) = crate::kafka::lag::watermarks(kafka, &consumer, topic, *p)?;
        let start = (high - per_partition).max(low);
        remaining += high - start;
        assignment
            .add_partition_offset(topic, *p, Offset::Offset(start))
            .map_err(|e| kafka.fail(format!("assigning {topic}[{p}]"), e))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| kafka.fail(format!("assigning {topic}"), e))?;
    let mut keys = Vec::new();
    let deadline = Instant::now() + kafka.timeout;
    while remaining > 0 && keys.len() < max && Instant::now() < deadline {
        match consumer.poll(std::time::Duration::from_millis(200)) {
            Some(Ok(message)) => {
                remaining -= 1;
                if let Some(key) = message.key() {
                    keys.push(key.to_vec());
                }
            }
            Some(Err(e)) => {
                return Err(kafka.fail_on(
                    format!("reading {topic}"),
                    e.rdkafka_error_code(),
                    ("Read", Resource::Topic(topic.to_owned()), WHY),
                    e,
                ));
            }
            None => {}
        }
    }
    Ok(KeySample { partitions, keys })
}
