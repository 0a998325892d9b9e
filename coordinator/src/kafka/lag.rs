//! Group lag and end offsets, read with rdkafka (blocking calls; see [`crate::kafka`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode as Code;
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::access::{Refusals, Resource};
use crate::kafka::{GroupLag, Kafka, KafkaError, PartitionLag, TopicEnd, TopicSelector};

impl Kafka {
    /// A new observing consumer for `group` (see [`crate::kafka::KafkaConnection::observer_config`]).
    pub(crate) fn new_consumer(&self, group: &str) -> Result<BaseConsumer<Refusals>, KafkaError> {
        self.connection
            .observer_config(group)
            .create_with_context(self.refusals.clone())
            .map_err(|e| self.fail(format!("creating a consumer for group {group}"), e))
    }

    /// The observing consumer for `group` (`""`: metadata only), created once.
    pub(crate) fn consumer(&self, group: &str) -> Result<Arc<BaseConsumer<Refusals>>, KafkaError> {
        let mut cache = self
            .consumers
            .lock()
            .map_err(|_| self.fail("creating a consumer", "consumer cache poisoned"))?;
        if let Some(c) = cache.get(group) {
            return Ok(c.clone());
        }
        let id = if group.is_empty() {
            "kroll-metadata"
        } else {
            group
        };
        let consumer = Arc::new(self.new_consumer(id)?);
        cache.insert(group.to_owned(), consumer.clone());
        Ok(consumer)
    }

    pub(crate) fn metadata(&self) -> Result<Metadata, KafkaError> {
        let consumer = self.consumer("")?;
        consumer.fetch_metadata(None, self.timeout).map_err(|e| {
            self.hear_refusals(&consumer);
            self.fail("reading metadata", e)
        })
    }

    /// Polls `consumer` briefly so librdkafka hands over what it queued for the context (a
    /// refused login arrives that way), before a failure is put in words.
    fn hear_refusals(&self, consumer: &BaseConsumer<Refusals>) {
        for _ in 0..10 {
            if self.refusals.failure().is_some() {
                return;
            }
            let _ = consumer.poll(std::time::Duration::from_millis(100));
        }
    }

    /// Why `topic` is not in the cluster's metadata: Kafka lists only the topics a principal
    /// may Describe, so a topic kroll was told about and does not see is asked for by name —
    /// absent (`Ok`), or refused by an ACL (an error naming it). `why` says what kroll needs
    /// the topic for.
    pub(crate) fn absent_or_denied(&self, topic: &str, why: &str) -> Result<(), KafkaError> {
        let metadata = self
            .consumer("")?
            .fetch_metadata(Some(topic), self.timeout)
            .map_err(|e| self.fail(format!("reading the metadata of {topic}"), e))?;
        let refused = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .filter_map(|t| t.error())
            .map(Code::from)
            .find(|c| *c == Code::TopicAuthorizationFailed);
        match refused {
            Some(code) => Err(self.fail_on(
                format!("reading the metadata of {topic}"),
                Some(code),
                ("Describe", Resource::Topic(topic.to_owned()), why),
                code,
            )),
            None => Ok(()),
        }
    }
}

/// Partition ids per topic, for the topics that exist.
fn partitions(metadata: &Metadata) -> BTreeMap<String, Vec<i32>> {
    metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| {
            let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
            ids.sort_unstable();
            (t.name().to_owned(), ids)
        })
        .collect()
}

/// The topics a selector picks among those that exist.
pub(crate) fn select(
    selector: &TopicSelector,
    existing: &BTreeMap<String, Vec<i32>>,
) -> Result<Vec<String>, KafkaError> {
    match selector {
        TopicSelector::Topics(topics) => Ok(topics
            .iter()
            .filter(|t| existing.contains_key(*t))
            .cloned()
            .collect()),
        TopicSelector::Regex(pattern) => {
            // Connect matches the whole name (Java's Pattern.matcher(t).matches()).
            let re =
                regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| KafkaError::Regex {
                    pattern: pattern.clone(),
                    reason: e.to_string(),
                })?;
            Ok(existing
                .keys()
                .filter(|t| re.is_match(t))
                .cloned()
                .collect())
        }
    }
}

/// The lag of `group` on every partition of the selected topics.
pub(crate) fn group_lag(
    kafka: &Kafka,
    group: &str,
    selector: &TopicSelector,
) -> Result<GroupLag, KafkaError> {
    let existing = partitions(&kafka.metadata()?);
    let topics = select(selector, &existing)?;
    if let TopicSelector::Topics(listed) = selector {
        for topic in listed.iter().filter(|t| !existing.contains_key(*t)) {
            kafka.absent_or_denied(topic, "to measure the sink's lag")?;
        }
    }
    let mut list = TopicPartitionList::new();
    for topic in &topics {
        for p in &existing[topic] {
            list.add_partition(topic, *p);
        }
    }
    let consumer = kafka.consumer(group)?;
    let committed = if list.count() == 0 {
        TopicPartitionList::new()
    } else {
        consumer
            .committed_offsets(list.clone(), kafka.timeout)
            .map_err(|e| {
                kafka.fail_on(
                    format!("committed offsets of group {group}"),
                    e.rdkafka_error_code(),
                    (
                        "Describe",
                        Resource::Group(group.to_owned()),
                        "to read the group's committed offsets (the sink's lag)",
                    ),
                    e,
                )
            })?
    };
    let mut out = Vec::new();
    for element in committed.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let (low, high) = watermarks(kafka, &consumer, topic, partition)?;
        let committed = match element.offset() {
            Offset::Offset(n) if n >= 0 => Some(n),
            _ => None,
        };
        let lag = (high - committed.unwrap_or(low)).max(0);
        out.push(PartitionLag {
            topic: topic.to_owned(),
            partition,
            committed,
            end: high,
            lag,
        });
    }
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(GroupLag {
        group: group.to_owned(),
        partitions: out,
    })
}

/// A partition's (low, high) watermarks. Asked while its leadership moves (a broker just
/// restarted), Kafka answers NotLeaderForPartition / LeaderNotAvailable: retried for ~3 s before
/// it is an error.
pub(crate) fn watermarks(
    kafka: &Kafka,
    consumer: &BaseConsumer<Refusals>,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), KafkaError> {
    let mut retries = 0;
    loop {
        match consumer.fetch_watermarks(topic, partition, kafka.timeout) {
            Ok(w) => return Ok(w),
            Err(e)
                if retries < 10
                    && matches!(
                        e.rdkafka_error_code(),
                        Some(Code::NotLeaderForPartition | Code::LeaderNotAvailable)
                    ) =>
            {
                retries += 1;
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            Err(e) => {
                return Err(kafka.fail_on(
                    format!("end offset of {topic}[{partition}]"),
                    e.rdkafka_error_code(),
                    (
                        "Describe",
                        Resource::Topic(topic.to_owned()),
                        "to read end offsets",
                    ),
                    e,
                ));
            }
        }
    }
}

/// End offsets (Σ high watermarks) and partition counts of the topics that exist.
pub(crate) fn end_offsets(
    kafka: &Kafka,
    topics: &[String],
) -> Result<BTreeMap<String, TopicEnd>, KafkaError> {
    let existing = partitions(&kafka.metadata()?);
    let consumer = kafka.consumer("")?;
    let mut out = BTreeMap::new();
    for topic in topics {
        let Some(ids) = existing.get(topic) else {
            kafka.absent_or_denied(topic, "to read end offsets")?;
            continue;
        };
        let mut end_sum = 0;
        for p in ids {
            let (_, high) = watermarks(kafka, &consumer, topic, *p)?;
            end_sum += high;
        }
        let partitions = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        out.insert(
            topic.clone(),
            TopicEnd {
                partitions,
                end_sum,
            },
        );
    }
    Ok(out)
}

/// Every topic name.
pub(crate) fn topic_names(kafka: &Kafka) -> Result<Vec<String>, KafkaError> {
    Ok(partitions(&kafka.metadata()?).into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_pick_existing_topics_and_regexes_match_whole_names() {
        let existing: BTreeMap<String, Vec<i32>> = ["ct.a.b", "ct.a.bc", "x.ct.a.b"]
            .iter()
            .map(|t| ((*t).to_owned(), vec![0]))
            .collect();
        let list = TopicSelector::Topics(vec!["ct.a.b".into(), "missing".into()]);
        assert_eq!(select(&list, &existing).expect("list"), vec!["ct.a.b"]);
        let re = TopicSelector::Regex(r"ct\.a\.b".into());
        assert_eq!(select(&re, &existing).expect("regex"), vec!["ct.a.b"]);
        let alt = TopicSelector::Regex(r"ct\.a\.b|x\..*".into());
        assert_eq!(select(&alt, &existing).expect("alternation").len(), 2);
        assert!(matches!(
            select(&TopicSelector::Regex("(".into()), &existing),
            Err(KafkaError::Regex { .. })
        ));
    }

    #[test]
    fn lagging_partitions_are_described_per_topic() {
        let lag = GroupLag {
            group: "connect-dwh".into(),
            partitions: vec![
                PartitionLag {
                    topic: "t".into(),
                    partition: 0,
                    committed: Some(100),
                    end: 500,
                    lag: 400,
                },
                PartitionLag {
                    topic: "t".into(),
                    partition: 1,
                    committed: Some(7),
                    end: 7,
                    lag: 0,
                },
                PartitionLag {
                    topic: "t".into(),
                    partition: 2,
                    committed: None,
                    end: 3,
                    lag: 3,
                },
            ],
        };
        assert_eq!(lag.total(), 403);
        assert_eq!(
            lag.describe_lagging(),
            "t[0: 400 (committed 100, end 500), 2: 3 (never committed, end 3)]"
        );
    }
}
