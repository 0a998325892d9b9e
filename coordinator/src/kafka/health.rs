//! Whether kroll can use Kafka, for `kroll status`: it logs in as the inventory's `[kafka]`
//! says, reads the cluster's metadata, and reads every visible topic's configuration (what
//! the upgrade's gates need before they stop a broker). A refused login or a missing ACL is a
//! problem that names the user, or the principal, operation and resource.

use serde::Serialize;

use super::admin::KafkaAdmin;
use super::{Kafka, KafkaConnection};

/// One look at Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KafkaHealth {
    pub bootstrap: String,
    /// How kroll connected: `SASL_PLAINTEXT, PLAIN as `kroll``.
    pub connects_as: String,
    /// Brokers in the metadata, when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brokers: Option<usize>,
    /// Topics kroll may describe, when the metadata was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<usize>,
    /// Why kroll cannot use Kafka as the upgrade needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl KafkaHealth {
    /// The problem `kroll status` reports, if any.
    pub fn problem(&self) -> Option<String> {
        self.error.clone()
    }

    /// `5 broker(s), 12 topic(s) (SASL_PLAINTEXT, PLAIN as `kroll`)` or `NOT usable (…)`.
    pub fn summary(&self) -> String {
        match (self.brokers, self.topics, &self.error) {
            (Some(b), Some(t), None) => format!(
                "{b} broker(s), {t} topic(s) readable at {} ({})",
                self.bootstrap, self.connects_as
            ),
            _ => format!("NOT usable at {} ({})", self.bootstrap, self.connects_as),
        }
    }
}

/// Looks at the cluster `connection` reaches.
pub async fn look(connection: KafkaConnection) -> KafkaHealth {
    let timeout = std::time::Duration::from_secs(5);
    let mut health = KafkaHealth {
        bootstrap: connection.bootstrap().to_owned(),
        connects_as: connection.security().describe(),
        brokers: None,
        topics: None,
        error: None,
    };
    let kafka = Kafka::new(connection.clone(), timeout);
    let metadata = tokio::task::spawn_blocking(move || {
        kafka.metadata().map(|m| {
            let topics: Vec<String> = m
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| t.name().to_owned())
                .collect();
            (m.brokers().len(), topics)
        })
    })
    .await;
    let (brokers, topics) = match metadata {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            health.error = Some(e.to_string());
            return health;
        }
        Err(e) => {
            health.error = Some(format!("reading Kafka's metadata: {e}"));
            return health;
        }
    };
    health.brokers = Some(brokers);
    health.topics = Some(topics.len());
    health.error = describe_configs(&connection, &topics, timeout).await.err();
    health
}

/// Reads every topic's configuration in one request, as the gates do; the first refusal.
async fn describe_configs(
    connection: &KafkaConnection,
    topics: &[String],
    timeout: std::time::Duration,
) -> Result<(), String> {
    let admin = KafkaAdmin::new(connection.clone())?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let refused: Vec<String> = admin
        .topic_config(&names, "min.insync.replicas", timeout)
        .await?
        .into_iter()
        .filter_map(Result::err)
        .collect();
    match refused.as_slice() {
        [] => Ok(()),
        [one] => Err(one.clone()),
        [first, rest @ ..] => Err(format!("{first} (and {} more topic(s))", rest.len())),
    }
}

/// Looks at the inventory's cluster; `None` when it names no `kafka_bootstrap`. A `[kafka]`
/// password or PEM file that cannot be read is its error.
pub async fn look_inventory(inventory: &kroll_shared::inventory::Inventory) -> Option<KafkaHealth> {
    if inventory.cluster.kafka_bootstrap.is_empty() {
        return None;
    }
    match KafkaConnection::from_inventory(inventory) {
        Ok(connection) => Some(look(connection).await),
        Err(e) => Some(KafkaHealth {
            bootstrap: inventory.cluster.kafka_bootstrap.join(","),
            connects_as: inventory
                .kafka
                .as_ref()
                .map(|k| k.security_protocol.to_string())
                .unwrap_or_else(|| "PLAINTEXT".into()),
            brokers: None,
            topics: None,
            error: Some(e.to_string()),
        }),
    }
}
