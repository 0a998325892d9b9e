//! Produce: append as leader (acks 0/1/all), `min.insync.replicas` for acks=all, waiting for the
//! high watermark up to the request timeout; idempotent producers' ids (InitProducerId).

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;

use super::errors;
use crate::broker::{Broker, Phase};

/// Handles a Produce request.
pub async fn produce(broker: &Arc<Broker>, req: ProduceRequest, _version: i16) -> ProduceResponse {
    let acks = req.acks;
    let timeout = Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
    let mut topics = Vec::new();
    for topic in req.topic_data {
        let name = topic.name.0.to_string();
        let parts = join_all(topic.partition_data.into_iter().map(|pd| {
            let name = name.clone();
            async move {
                let records = pd.records.unwrap_or_default();
                produce_partition(broker, &name, pd.index, &records, acks, timeout)
                    .await
                    .with_index(pd.index)
            }
        }))
        .await;
        topics.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_partition_responses(parts),
        );
    }
    ProduceResponse::default().with_responses(topics)
}

fn result(code: i16, base_offset: i64) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_error_code(code)
        .with_base_offset(base_offset)
        .with_log_start_offset(0)
}

async fn produce_partition(
    broker: &Arc<Broker>,
    topic: &str,
    index: i32,
    records: &[u8],
    acks: i16,
    timeout: Duration,
) -> PartitionProduceResponse {
    if !matches!(acks, -1..=1) {
        return result(errors::INVALID_REQUIRED_ACKS, -1);
    }
    let view = broker.view();
    let Some(meta) = view.topics.get(topic) else {
        if broker.cfg.auto_create_topics() {
            crate::topics::auto_create(broker, topic).await;
        }
        return result(errors::UNKNOWN_TOPIC_OR_PARTITION, -1);
    };
    if !meta.partitions.contains_key(&index) {
        return result(errors::UNKNOWN_TOPIC_OR_PARTITION, -1);
    }
    let p = match broker.replicas.get(topic, index) {
        Some(p) if *broker.phase.borrow() != Phase::Recovering => p,
        _ => return result(errors::NOT_LEADER_OR_FOLLOWER, -1),
    };
    let min_isr = crate::topics::min_insync_replicas(broker, meta);
    let (first, last) = match broker.replicas.append(&p, records, acks == -1, min_isr) {
        Ok(offsets) => offsets,
        Err(e) => {
            if e.code() == errors::NOT_ENOUGH_REPLICAS {
                let isr = p.leader_state().map(|l| l.isr).unwrap_or_default();
                tracing::info!(target: "kafka.server.ReplicaManager", "[ReplicaManager broker={}] Error processing append operation on partition {topic}-{index}: org.apache.kafka.common.errors.NotEnoughReplicasException: The size of the current ISR {isr:?} is insufficient to satisfy the min.isr requirement of {min_isr} for partition {topic}-{index}.", broker.id);
            }
            return result(e.code(), -1);
        }
    };
    if acks == -1 && !broker.replicas.wait_for_hw(&p, last, timeout).await {
        let isr = p.leader_state().map_or(0, |l| l.isr.len());
        let code = if isr < min_isr {
            errors::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        } else {
            errors::REQUEST_TIMED_OUT
        };
        return result(code, -1);
    }
    result(errors::NONE, first)
}

/// InitProducerId for idempotent producers (no transactional id): a new producer id at epoch 0,
/// as Kafka 3.1 answers. Transactions are not served by the lab (`COORDINATOR_NOT_AVAILABLE`).
pub async fn init_producer_id(
    broker: &Arc<Broker>,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let out = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if req.transactional_id.is_some() {
        return out.with_error_code(errors::COORDINATOR_NOT_AVAILABLE);
    }
    match broker.producer_ids.next(&broker.zk, broker.id).await {
        Ok(id) => out.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(e) => {
            tracing::warn!(target: "kafka.coordinator.transaction.ProducerIdManager", "Allocating a producer id failed: {e}.");
            out.with_error_code(errors::COORDINATOR_NOT_AVAILABLE)
        }
    }
}
