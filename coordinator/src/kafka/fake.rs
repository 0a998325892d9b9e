//! In-memory Kafka for unit tests of the logic built on [`KafkaReader`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use crate::kafka::{
    GroupLag, KafkaError, KafkaReader, KeySample, PartitionLag, TopicEnd, TopicSelector,
};

/// A fake Kafka: scripted lag per group, end offsets and key samples per topic.
#[derive(Debug, Default)]
pub(crate) struct FakeKafka {
    /// group → the lag of successive reads (the last one repeats).
    pub lags: Mutex<BTreeMap<String, VecDeque<i64>>>,
    pub ends: Mutex<BTreeMap<String, TopicEnd>>,
    pub samples: BTreeMap<String, KeySample>,
}

impl FakeKafka {
    pub fn lag(self, group: &str, sequence: &[i64]) -> Self {
        self.lags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(group.to_owned(), sequence.iter().copied().collect());
        self
    }
}

impl KafkaReader for FakeKafka {
    async fn group_lag(&self, group: &str, topics: &TopicSelector) -> Result<GroupLag, KafkaError> {
        let mut lags = self
            .lags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seq = lags.entry(group.to_owned()).or_default();
        let lag = if seq.len() > 1 {
            seq.pop_front().unwrap_or(0)
        } else {
            seq.front().copied().unwrap_or(0)
        };
        let topic = match topics {
            TopicSelector::Topics(t) => t.first().cloned().unwrap_or_default(),
            TopicSelector::Regex(r) => r.clone(),
        };
        Ok(GroupLag {
            group: group.to_owned(),
            partitions: vec![PartitionLag {
                topic,
                partition: 0,
                committed: Some(100),
                end: 100 + lag,
                lag,
            }],
        })
    }

    async fn end_offsets(
        &self,
        topics: &[String],
    ) -> Result<BTreeMap<String, TopicEnd>, KafkaError> {
        let ends = self
            .ends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(topics
            .iter()
            .filter_map(|t| Some((t.clone(), *ends.get(t)?)))
            .collect())
    }

    async fn sample_keys(&self, topic: &str, _max: usize) -> Result<KeySample, KafkaError> {
        Ok(self.samples.get(topic).cloned().unwrap_or_default())
    }

    async fn topics(&self) -> Result<Vec<String>, KafkaError> {
        Ok(self
            .ends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect())
    }
}
