//! Topic configurations read with rdkafka's admin client, as kroll's gates need them and
//! `kroll status` checks them: a refused login or a missing ACL comes back in words.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};

use super::access::{Refusals, Resource, acl_refusal};
use super::{Kafka, KafkaConnection, KafkaError};

/// Why kroll reads topic configurations, for an ACL refusal.
const WHY: &str = "to read min.insync.replicas before stopping a broker";

/// An admin client of one cluster.
pub struct KafkaAdmin {
    connection: KafkaConnection,
    client: AdminClient<Refusals>,
    /// Authentication failures librdkafka reported for this client.
    refusals: Refusals,
}

impl std::fmt::Debug for KafkaAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "admin client of {:?}", self.connection)
    }
}

impl KafkaAdmin {
    pub fn new(connection: KafkaConnection) -> Result<Self, String> {
        let refusals = Refusals::default();
        let client = connection
            .observer_config("kroll-admin")
            .create_with_context(refusals.clone())
            .map_err(|e| {
                format!(
                    "creating a Kafka admin client for {}: {e}",
                    connection.bootstrap()
                )
            })?;
        Ok(Self {
            connection,
            client,
            refusals,
        })
    }

    pub fn connection(&self) -> &KafkaConnection {
        &self.connection
    }

    /// The value of `key` in each topic's configuration, in the order asked. A topic Kafka
    /// would not describe is an error naming why: an ACL refusal names principal, operation
    /// and resource.
    ///
    /// rdkafka 0.39 drops a resource's error code (it never reads
    /// `rd_kafka_ConfigResource_error`): a refused or unknown topic comes back as a
    /// configuration without entries. Kafka describes every topic with all its settings
    /// (defaults included), so an answer without `key` is read as a refusal, never as "unset".
    pub async fn topic_config(
        &self,
        topics: &[&str],
        key: &str,
        timeout: Duration,
    ) -> Result<Vec<Result<String, String>>, String> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let specs: Vec<ResourceSpecifier<'_>> =
            topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
        let options = AdminOptions::new().request_timeout(Some(timeout));
        let results = self.client.describe_configs(&specs, &options).await;
        let results = match results {
            Ok(r) => r,
            Err(e) => return Err(self.failure(&e.to_string()).await),
        };
        let principal = self.connection.security().principal();
        Ok(topics
            .iter()
            .zip(results)
            .map(|(topic, r)| {
                let resource = Resource::Topic((*topic).to_owned());
                match r {
                    Ok(config) => match config.get(key).and_then(|e| e.value.clone()) {
                        Some(value) => Ok(value),
                        None => Err(unanswered(&principal, &resource, key, config.entries.len())),
                    },
                    Err(code) => {
                        Err(
                            acl_refusal(code, &principal, "DescribeConfigs", &resource, WHY)
                                .unwrap_or_else(|| {
                                    format!("describing {resource}: Kafka answered {code}")
                                }),
                        )
                    }
                }
            })
            .collect())
    }
}

impl KafkaAdmin {
    /// A failed admin request in words: a refusal (login, TLS, protocol) when there was one. The admin client's
    /// own event queue is not reachable through rdkafka, so a metadata read through a consumer
    /// (which kroll polls) asks again and hears the refusal.
    async fn failure(&self, reason: &str) -> String {
        if let Some(failure) = self.refusals.failure() {
            return self.connection.security().refused(&failure);
        }
        let reader = Kafka::new(self.connection.clone(), Duration::from_secs(3));
        let again = tokio::task::spawn_blocking(move || reader.metadata()).await;
        match again {
            Ok(Err(e @ KafkaError::Refused { .. })) => e.to_string(),
            _ => format!(
                "Kafka at {}: describing topic configs: {reason}",
                self.connection.bootstrap()
            ),
        }
    }
}

/// Why a topic's configuration came back without `key`: with no entries at all, Kafka refused
/// or did not know the topic (rdkafka does not say which), and a refusal is what kroll's
/// principal can fix; with entries but not `key`, the answer is not Kafka's.
fn unanswered(principal: &str, resource: &Resource, key: &str, entries: usize) -> String {
    if entries == 0 {
        format!(
            "Kafka described no configuration of {resource}: it answers so when {principal} may not DescribeConfigs on it (no ACL allows it; kroll needs it {WHY}: grant it with `kafka-acls --bootstrap-server … --add --allow-principal {principal} --operation DescribeConfigs {}`), or when the topic is being deleted",
            resource.acls_flag()
        )
    } else {
        format!("Kafka described {resource} without `{key}` ({entries} other settings)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_answer_is_read_as_a_refusal_naming_the_grant() {
        let orders = Resource::Topic("orders".into());
        assert_eq!(
            unanswered("User:kroll", &orders, "min.insync.replicas", 0),
            "Kafka described no configuration of topic `orders`: it answers so when User:kroll may not DescribeConfigs on it (no ACL allows it; kroll needs it to read min.insync.replicas before stopping a broker: grant it with `kafka-acls --bootstrap-server … --add --allow-principal User:kroll --operation DescribeConfigs --topic 'orders'`), or when the topic is being deleted"
        );
        assert_eq!(
            unanswered("User:kroll", &orders, "min.insync.replicas", 31),
            "Kafka described topic `orders` without `min.insync.replicas` (31 other settings)"
        );
    }
}
