//! Topic creation: name checks, Kafka's rack-unaware replica placement, and the znodes
//! (`/config/topics/<t>` then `/brokers/topics/<t>`); the controller then elects leaders.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::errors;
use crate::broker::Broker;
use crate::metadata::TopicMeta;
use crate::zk::{self, ConfigNode, TopicNode};

/// Kafka's rack-unaware assignment: replicas of partition p start at broker
/// `(p + start) % n` and the others follow with a shift that grows every n partitions.
pub fn assign(
    brokers: &[i32],
    partitions: i32,
    rf: usize,
    start: usize,
    shift: usize,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    let mut out = Vec::new();
    let mut shift = shift;
    for p in 0..partitions as usize {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..rf.saturating_sub(1) {
            let index = (first + 1 + (shift + j) % (n - 1).max(1)) % n;
            replicas.push(brokers[index]);
        }
        out.push(replicas);
    }
    out
}

/// Kafka's topic name rules.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("Topic name \"{name}\" is illegal"));
    }
    if name.len() > 249 {
        return Err(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// A topic to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partition count (-1: `num.partitions`).
    pub partitions: i32,
    /// Replication factor (-1: `default.replication.factor`).
    pub replication_factor: i32,
    /// Explicit assignment, if given.
    pub assignment: Option<Vec<Vec<i32>>>,
    /// Config overrides.
    pub configs: BTreeMap<String, String>,
}

/// Validates and (unless `validate_only`) writes a topic. Errors are Kafka (code, message).
pub async fn create(
    broker: &Broker,
    topic: NewTopic,
    validate_only: bool,
) -> Result<(uuid::Uuid, i32, i32), (i16, String)> {
    validate_name(&topic.name).map_err(|m| (errors::INVALID_TOPIC_EXCEPTION, m))?;
    let view = broker.view();
    if view.topics.contains_key(&topic.name) {
        return Err((
            errors::TOPIC_ALREADY_EXISTS,
            format!("Topic '{}' already exists.", topic.name),
        ));
    }
    let partitions = if topic.partitions < 0 {
        broker.cfg.int("num.partitions", 1) as i32
    } else {
        topic.partitions
    };
    let rf = if topic.replication_factor < 0 {
        broker.cfg.int("default.replication.factor", 1) as i32
    } else {
        topic.replication_factor
    };
    if partitions < 1 {
        return Err((
            errors::INVALID_PARTITIONS,
            "Number of partitions must be larger than 0.".into(),
        ));
    }
    // Fresh from ZooKeeper: the cached view may lag behind a broker that just registered.
    let mut live: Vec<i32> = match broker.zk.children("/brokers/ids").await {
        Ok(ids) => ids.iter().filter_map(|id| id.parse().ok()).collect(),
        Err(_) => view.brokers.keys().copied().collect(),
    };
    live.sort_unstable();
    if rf < 1 || rf as usize > live.len() {
        return Err((
            errors::INVALID_REPLICATION_FACTOR,
            format!(
                "Replication factor: {rf} larger than available brokers: {}.",
                live.len()
            ),
        ));
    }
    let assignment = match topic.assignment {
        Some(a) => a,
        None => {
            let seed = uuid::Uuid::new_v4().as_u128();
            assign(
                &live,
                partitions,
                rf as usize,
                (seed % live.len() as u128) as usize,
                ((seed >> 64) % live.len() as u128) as usize,
            )
        }
    };
    let id = uuid::Uuid::new_v4();
    if validate_only {
        return Ok((id, partitions, rf));
    }
    let config = serde_json::to_vec(&ConfigNode {
        version: 1,
        config: topic.configs,
    })
    .unwrap_or_default();
    let node = TopicNode {
        partitions: assignment
            .into_iter()
            .enumerate()
            .map(|(p, r)| (p.to_string(), r))
            .collect(),
        topic_id: Some(zk::base64_url(id.as_bytes())),
        adding_replicas: BTreeMap::new(),
        removing_replicas: BTreeMap::new(),
        version: 3,
    };
    let body = serde_json::to_vec(&node).unwrap_or_default();
    let storage_error =
        |e: crate::error::BrokerError| (errors::UNKNOWN_SERVER_ERROR, e.to_string());
    let path = format!("/config/topics/{}", topic.name);
    if broker
        .zk
        .create(&path, &config, false)
        .await
        .map_err(storage_error)?
        .is_none()
    {
        broker
            .zk
            .set(&path, &config, None)
            .await
            .map_err(storage_error)?;
    }
    if broker
        .zk
        .create(&zk::topic_path(&topic.name), &body, false)
        .await
        .map_err(storage_error)?
        .is_none()
    {
        return Err((
            errors::TOPIC_ALREADY_EXISTS,
            format!("Topic '{}' already exists.", topic.name),
        ));
    }
    tracing::info!(target: "kafka.zk.AdminZkClient", "Creating topic {} with configuration {{}} and initial partition assignment {:?}.", topic.name, node.partitions);
    Ok((id, partitions, rf))
}

/// Auto-creation on Metadata/Produce; true if the topic was created now.
pub async fn auto_create(broker: &Broker, name: &str) -> bool {
    let topic = NewTopic {
        name: name.into(),
        partitions: -1,
        replication_factor: -1,
        assignment: None,
        configs: BTreeMap::new(),
    };
    match create(broker, topic, false).await {
        Ok(_) => {
            wait_for_leaders(broker, name, Duration::from_secs(2)).await;
            true
        }
        Err((code, message)) => {
            if code != errors::TOPIC_ALREADY_EXISTS {
                tracing::warn!(target: "kafka.server.ZkAutoTopicCreationManager", "Auto creation of topic {name} failed: {message}");
            }
            false
        }
    }
}

/// Waits until every partition of `name` has a leader; false on timeout.
pub async fn wait_for_leaders(broker: &Broker, name: &str, timeout: Duration) -> bool {
    let mut view = broker.view_rx();
    let ready = |v: &std::sync::Arc<crate::metadata::ClusterView>| {
        v.topics.get(name).is_some_and(|t| {
            t.partitions
                .values()
                .all(|p| p.state.as_ref().is_some_and(|s| s.leader >= 0))
        })
    };
    tokio::time::timeout(timeout, view.wait_for(ready))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// The topic's `min.insync.replicas` (override, else the broker's).
pub fn min_insync_replicas(broker: &Broker, meta: &TopicMeta) -> usize {
    meta.config
        .get("min.insync.replicas")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| broker.cfg.min_insync_replicas().max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_spreads_leaders_and_replicas_like_kafka() {
        let a = assign(&[1, 2, 3, 4, 5], 5, 3, 0, 0);
        assert_eq!(a[0], vec![1, 2, 3]);
        assert_eq!(
            a.iter().map(|r| r[0]).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert!(a.iter().all(|r| {
            let mut s = r.clone();
            s.sort();
            s.dedup();
            s.len() == 3
        }));
        let b = assign(&[1, 2, 3], 6, 3, 1, 0);
        assert_eq!(b[3][0], 2);
        assert!(b.iter().all(|r| {
            let mut s = r.clone();
            s.sort();
            s.dedup();
            s.len() == 3
        }));
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_name("orders.v1_x-y").is_ok());
        assert!(validate_name("bad name").is_err());
        assert!(validate_name("..").is_err());
    }
}
