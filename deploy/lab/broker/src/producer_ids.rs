//! Producer ids for InitProducerId, unique across the cluster like Kafka's ZooKeeper-mode
//! `ProducerIdManager`: each broker claims blocks of 1000 ids by a conditional update of
//! `/latest_producer_id_block` (`{"version":1,"broker":N,"block_start":"…","block_end":"…"}`).

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;
use crate::zk::Zk;

/// Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`.
const BLOCK: i64 = 1000;
/// Kafka's znode.
pub const PATH: &str = "/latest_producer_id_block";

#[derive(Debug, Serialize, Deserialize)]
struct BlockNode {
    version: i32,
    broker: i32,
    block_start: String,
    block_end: String,
}

/// This broker's current block: next id and last id.
#[derive(Debug, Default)]
pub struct ProducerIds {
    block: tokio::sync::Mutex<Option<(i64, i64)>>,
}

impl ProducerIds {
    /// The next producer id, claiming a new block from ZooKeeper when this one is used up.
    pub async fn next(&self, zk: &Zk, broker: i32) -> Result<i64, BrokerError> {
        let mut block = self.block.lock().await;
        if let Some((next, end)) = block.as_mut()
            && *next <= *end
        {
            *next += 1;
            return Ok(*next - 1);
        }
        let (start, end) = claim(zk, broker).await?;
        *block = Some((start + 1, end));
        Ok(start)
    }
}

/// First id after the block recorded in `data` (0 when there is none).
fn after(data: Option<&[u8]>) -> i64 {
    data.and_then(|d| serde_json::from_slice::<BlockNode>(d).ok())
        .and_then(|n| n.block_end.parse::<i64>().ok())
        .map_or(0, |end| end + 1)
}

async fn claim(zk: &Zk, broker: i32) -> Result<(i64, i64), BrokerError> {
    loop {
        let current = zk.get_raw(PATH).await?;
        let start = after(current.as_ref().map(|(d, _)| d.as_slice()));
        let node = BlockNode {
            version: 1,
            broker,
            block_start: start.to_string(),
            block_end: (start + BLOCK - 1).to_string(),
        };
        let body = serde_json::to_vec(&node).unwrap_or_default();
        let written = match current {
            None => zk.create(PATH, &body, false).await?.is_some(),
            Some((_, stat)) => zk.set(PATH, &body, Some(stat.version)).await?.is_some(),
        };
        if written {
            tracing::info!(target: "kafka.coordinator.transaction.ProducerIdManager", "[ProducerIdManager {broker}]: Acquired new producerId block ({start}, {}).", start + BLOCK - 1);
            return Ok((start, start + BLOCK - 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_block_follows_the_recorded_one() {
        assert_eq!(after(None), 0);
        let node = br#"{"version":1,"broker":2,"block_start":"1000","block_end":"1999"}"#;
        assert_eq!(after(Some(node)), 2000);
        assert_eq!(after(Some(b"junk")), 0);
    }
}
