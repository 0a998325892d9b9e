//! What kroll reads from Kafka itself: a consumer group's lag (committed offsets against high
//! watermarks), topics' end offsets, and a sample of a topic's record keys.
//!
//! [`KafkaReader`] is the trait the Connect logic uses (faked in unit tests); [`Kafka`] is the
//! rdkafka implementation. rdkafka's calls block, so every one runs on the blocking pool. Group
//! offsets are read with a consumer that carries the group's id but never joins the group or
//! commits, so a sink's group is observed, not disturbed.
//!
//! # Layout
//! - `mod.rs`: the trait, its types, errors, and [`Kafka`].
//! - [`access`]: how every client connects (`[kafka]`: protocol, SASL login, TLS) and what a
//!   refused login or a missing ACL means, in words.
//! - [`admin`]: topic configurations (the gates' `min.insync.replicas`) with the admin client.
//! - [`health`]: whether kroll can use Kafka, for `kroll status`.
//! - [`lag`]: group lag and end offsets with rdkafka.
//! - [`sample`]: reading a sample of record keys with rdkafka.
//! - `fake` (tests only): an in-memory [`KafkaReader`].

pub mod access;
pub mod admin;
#[cfg(test)]
pub(crate) mod fake;
pub mod health;
pub mod lag;
pub mod sample;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use serde::{Deserialize, Serialize};

pub use self::access::{KafkaConnection, KafkaSecurity};
use self::access::{Refusals, Resource};

/// Which topics a consumer reads: a list, or a regex (Connect's `topics` / `topics.regex`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicSelector {
    Topics(Vec<String>),
    Regex(String),
}

impl fmt::Display for TopicSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topics(topics) => f.write_str(&topics.join(", ")),
            Self::Regex(re) => write!(f, "topics matching /{re}/"),
        }
    }
}

/// One partition's lag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// The committed offset; `None` when the group never committed on this partition.
    pub committed: Option<i64>,
    /// The high watermark.
    pub end: i64,
    /// Records not yet consumed: `end − committed` (or `end − log start` without a commit).
    pub lag: i64,
}

/// A group's lag on every partition of its topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLag {
    pub group: String,
    pub partitions: Vec<PartitionLag>,
}

impl GroupLag {
    /// Σ lag.
    pub fn total(&self) -> i64 {
        self.partitions.iter().map(|p| p.lag).sum()
    }

    /// `ct.db.t[0: 400 (committed 100, end 500), 2: 3 (never committed, end 3)]`, lagging only.
    pub fn describe_lagging(&self) -> String {
        let mut by_topic: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for p in self.partitions.iter().filter(|p| p.lag > 0) {
            let committed = p
                .committed
                .map_or("never committed".to_owned(), |c| format!("committed {c}"));
            by_topic.entry(&p.topic).or_default().push(format!(
                "{}: {} ({committed}, end {})",
                p.partition, p.lag, p.end
            ));
        }
        by_topic
            .into_iter()
            .map(|(topic, parts)| format!("{topic}[{}]", parts.join(", ")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A topic's partition count and the sum of its high watermarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicEnd {
    pub partitions: u32,
    pub end_sum: i64,
}

/// Record keys read from a topic (as stored: Confluent-framed for Avro keys).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySample {
    pub partitions: u32,
    pub keys: Vec<Vec<u8>>,
}

/// A Kafka read that failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KafkaError {
    /// The client failed; `what` says what it was doing.
    #[error("Kafka at {bootstrap}: {what}: {reason}")]
    Client {
        bootstrap: String,
        what: String,
        reason: String,
    },
    /// Kafka refused kroll's connection: a login (the message names the user and the
    /// password's source), a TLS handshake (the certificate files) or the protocol.
    #[error("Kafka at {bootstrap}: {what}: {message}")]
    Refused {
        bootstrap: String,
        what: String,
        message: String,
    },
    /// An ACL refused an operation; the message names principal, operation and resource.
    #[error("Kafka at {bootstrap}: {what}: {message}")]
    Denied {
        bootstrap: String,
        what: String,
        message: String,
    },
    /// A `topics.regex` that is not a regex kroll can evaluate.
    #[error("cannot evaluate topics.regex /{pattern}/: {reason}")]
    Regex { pattern: String, reason: String },
}

/// The Kafka reads kroll's Connect logic needs.
pub trait KafkaReader: Sync {
    /// The lag of `group` on every partition of the selected topics.
    fn group_lag(
        &self,
        group: &str,
        topics: &TopicSelector,
    ) -> impl Future<Output = Result<GroupLag, KafkaError>> + Send;

    /// End offsets of `topics`; topics that do not exist are absent from the answer.
    fn end_offsets(
        &self,
        topics: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, TopicEnd>, KafkaError>> + Send;

    /// Up to `max` record keys of `topic`, read from the end of each partition backwards.
    fn sample_keys(
        &self,
        topic: &str,
        max: usize,
    ) -> impl Future<Output = Result<KeySample, KafkaError>> + Send;

    /// Every topic name.
    fn topics(&self) -> impl Future<Output = Result<Vec<String>, KafkaError>> + Send;
}

/// The rdkafka reader for one cluster.
#[derive(Clone)]
pub struct Kafka {
    pub(crate) connection: KafkaConnection,
    pub(crate) timeout: Duration,
    /// Authentication failures librdkafka reported for this reader's clients.
    pub(crate) refusals: Refusals,
    /// One observing consumer per group (and `""` for metadata), created on first use.
    pub(crate) consumers: Arc<Mutex<HashMap<String, Arc<BaseConsumer<Refusals>>>>>,
}

impl fmt::Debug for Kafka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kafka")
            .field("connection", &self.connection)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Kafka {
    /// A reader for the cluster `connection` reaches; each read is bounded by `timeout`.
    pub fn new(connection: KafkaConnection, timeout: Duration) -> Self {
        Self {
            connection,
            timeout,
            refusals: Refusals::default(),
            consumers: Arc::default(),
        }
    }

    /// The bootstrap servers, for messages.
    pub(crate) fn bootstrap(&self) -> String {
        self.connection.bootstrap().to_owned()
    }

    /// A failed read: a refusal (login, TLS, protocol) when librdkafka explained one (the call itself only says
    /// it timed out or found no broker), else `reason`.
    pub(crate) fn fail(&self, what: impl Into<String>, reason: impl ToString) -> KafkaError {
        let (bootstrap, what) = (self.bootstrap(), what.into());
        match self.refusals.failure() {
            Some(failure) => KafkaError::Refused {
                bootstrap,
                what,
                message: self.connection.security().refused(&failure),
            },
            None => KafkaError::Client {
                bootstrap,
                what,
                reason: reason.to_string(),
            },
        }
    }

    /// A failed read of `resource` that needed `operation`: an ACL refusal in words when the
    /// code is an authorization error, else as [`Kafka::fail`].
    pub(crate) fn fail_on(
        &self,
        what: impl Into<String>,
        code: Option<rdkafka::types::RDKafkaErrorCode>,
        (operation, resource, why): (&str, Resource, &str),
        reason: impl ToString,
    ) -> KafkaError {
        let principal = self.connection.security().principal();
        match code.and_then(|c| access::acl_refusal(c, &principal, operation, &resource, why)) {
            Some(message) => KafkaError::Denied {
                bootstrap: self.bootstrap(),
                what: what.into(),
                message,
            },
            None => self.fail(what, reason),
        }
    }

    /// Runs a blocking rdkafka read on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        what: String,
        work: impl FnOnce(&Kafka) -> Result<T, KafkaError> + Send + 'static,
    ) -> Result<T, KafkaError> {
        let me = self.clone();
        let bootstrap = self.bootstrap();
        tokio::task::spawn_blocking(move || work(&me))
            .await
            .map_err(|e| KafkaError::Client {
                bootstrap,
                what,
                reason: format!("the blocking read panicked or was cancelled: {e}"),
            })?
    }
}

impl KafkaReader for Kafka {
    async fn group_lag(&self, group: &str, topics: &TopicSelector) -> Result<GroupLag, KafkaError> {
        let (group, topics) = (group.to_owned(), topics.clone());
        self.blocking(format!("lag of group {group}"), move |k| {
            lag::group_lag(k, &group, &topics)
        })
        .await
    }

    async fn end_offsets(
        &self,
        topics: &[String],
    ) -> Result<BTreeMap<String, TopicEnd>, KafkaError> {
        let topics = topics.to_vec();
        self.blocking("end offsets".into(), move |k| lag::end_offsets(k, &topics))
            .await
    }

    async fn sample_keys(&self, topic: &str, max: usize) -> Result<KeySample, KafkaError> {
        let topic = topic.to_owned();
        self.blocking(format!("sampling keys of {topic}"), move |k| {
            sample::sample_keys(k, &topic, max)
        })
        .await
    }

    async fn topics(&self) -> Result<Vec<String>, KafkaError> {
        self.blocking("listing topics".into(), lag::topic_names)
            .await
    }
}
