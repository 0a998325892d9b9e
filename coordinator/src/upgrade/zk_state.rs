//! Partition state where a ZooKeeper-mode cluster keeps it: the replica assignment in
//! `/brokers/topics/<topic>` and the leader and ISR in
//! `/brokers/topics/<topic>/partitions/<n>/state`, which the controller (or, before IBP 2.7, the
//! partition leader) writes before any broker's metadata cache hears of the change.
//!
//! The gates read this rather than a Metadata response: each broker's metadata cache trails
//! ZooKeeper by its own UpdateMetadata delay, so two clients asking two brokers at one moment
//! could disagree for most of a second about whether a restarted broker is back in the ISR.
//!
//! One observation is one listing of `/brokers/topics`, one read per topic and one per
//! partition, all sent at once on the session (ZooKeeper answers them in order on one connection).

use std::collections::BTreeMap;

use futures::future::try_join_all;
use serde::Deserialize;
use zookeeper_client as zk;

use super::view::PartitionView;

/// Where a read of the partition state failed.
#[derive(Debug, thiserror::Error)]
pub enum ZkStateError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: zk::Error,
    },
    #[error("{path} is not the JSON Kafka writes there: {reason}")]
    Parse { path: String, reason: String },
}

/// `/brokers/topics/<topic>`: partition number → replica list.
#[derive(Debug, Deserialize)]
struct Assignment {
    partitions: BTreeMap<String, Vec<i32>>,
}

/// `/brokers/topics/<topic>/partitions/<n>/state`.
#[derive(Debug, Deserialize)]
struct State {
    leader: i32,
    isr: Vec<i32>,
}

/// Partition number → replicas, in partition order.
type Assigned = Vec<(i32, Vec<i32>)>;

/// The replica assignment of one topic, from its znode's bytes.
fn parse_assignment(path: &str, data: &[u8]) -> Result<Assigned, ZkStateError> {
    let parse = |reason: String| ZkStateError::Parse {
        path: path.to_owned(),
        reason,
    };
    let a: Assignment = serde_json::from_slice(data).map_err(|e| parse(e.to_string()))?;
    let mut out = a
        .partitions
        .into_iter()
        .map(|(p, replicas)| {
            p.parse::<i32>()
                .map(|p| (p, replicas))
                .map_err(|_| parse(format!("partition key {p:?} is not a number")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|(p, _)| *p);
    Ok(out)
}

/// One partition's view from its assignment and its state znode's bytes (`None`: the znode does
/// not exist yet — the controller has not elected a leader for a new partition — which is
/// reported as offline, as Metadata would report it: no leader).
fn partition_view(
    topic: &str,
    partition: i32,
    replicas: Vec<i32>,
    state: Option<(&str, &[u8])>,
) -> Result<PartitionView, ZkStateError> {
    let (leader, isr) = match state {
        None => (-1, Vec::new()),
        Some((path, data)) => {
            let s: State = serde_json::from_slice(data).map_err(|e| ZkStateError::Parse {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            (s.leader, s.isr)
        }
    };
    Ok(PartitionView {
        topic: topic.to_owned(),
        partition,
        leader,
        replicas,
        isr,
    })
}

/// Reads a znode, `None` when it does not exist.
async fn read(
    client: &zk::Client,
    path: String,
) -> Result<Option<(String, Vec<u8>)>, ZkStateError> {
    match client.get_data(&path).await {
        Ok((data, _)) => Ok(Some((path, data))),
        Err(zk::Error::NoNode) => Ok(None),
        Err(source) => Err(ZkStateError::Read { path, source }),
    }
}

/// Every partition of every topic, as ZooKeeper holds it now. A topic deleted between the
/// listing and its read is left out.
pub async fn partitions(client: &zk::Client) -> Result<Vec<PartitionView>, ZkStateError> {
    let topics = client
        .list_children("/brokers/topics")
        .await
        .map_err(|source| ZkStateError::Read {
            path: "/brokers/topics".into(),
            source,
        })?;
    let nodes = try_join_all(
        topics
            .iter()
            .map(|t| read(client, format!("/brokers/topics/{t}"))),
    )
    .await?;
    let mut assigned = Vec::new();
    for (topic, node) in topics.iter().zip(nodes) {
        if let Some((path, data)) = node {
            for (p, replicas) in parse_assignment(&path, &data)? {
                assigned.push((topic.as_str(), p, replicas));
            }
        }
    }
    let states = try_join_all(
        assigned
            .iter()
            .map(|(t, p, _)| read(client, format!("/brokers/topics/{t}/partitions/{p}/state"))),
    )
    .await?;
    assigned
        .into_iter()
        .zip(states)
        .map(|((topic, p, replicas), state)| {
            partition_view(
                topic,
                p,
                replicas,
                state
                    .as_ref()
                    .map(|(path, d)| (path.as_str(), d.as_slice())),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_parse_in_partition_order_and_name_the_znode_when_malformed() {
        let path = "/brokers/topics/orders";
        let cases: &[(&str, Result<Assigned, &str>)] = &[
            (
                r#"{"version":3,"partitions":{"10":[3,1,2],"2":[1,2,3],"0":[2,3,1]},"topic_id":"x","adding_replicas":{},"removing_replicas":{}}"#,
                Ok(vec![
                    (0, vec![2, 3, 1]),
                    (2, vec![1, 2, 3]),
                    (10, vec![3, 1, 2]),
                ]),
            ),
            (r#"{"version":1,"partitions":{}}"#, Ok(vec![])),
            (r#"{"version":1}"#, Err("missing field `partitions`")),
            (
                r#"{"partitions":{"x":[1]}}"#,
                Err("partition key \"x\" is not a number"),
            ),
            ("not json", Err("expected ident")),
        ];
        for (data, want) in cases {
            let got = parse_assignment(path, data.as_bytes());
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(&g, w, "{data}"),
                (Err(e), Err(w)) => {
                    let e = e.to_string();
                    assert!(e.starts_with(path) && e.contains(w), "{data}: {e}");
                }
                (g, w) => panic!("{data}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn a_partition_without_a_state_znode_is_offline_and_a_state_gives_leader_and_isr() {
        let p = partition_view("t", 0, vec![1, 2, 3], None).expect("view");
        assert!(p.offline());
        assert!(p.under_replicated());
        let state =
            br#"{"controller_epoch":4,"leader":2,"version":1,"leader_epoch":7,"isr":[2,3]}"#;
        let p = partition_view("t", 1, vec![1, 2, 3], Some(("/s", state))).expect("view");
        assert_eq!((p.leader, p.isr.clone()), (2, vec![2, 3]));
        assert!(!p.offline());
        assert!(p.under_replicated());
        let offline =
            br#"{"controller_epoch":4,"leader":-1,"version":1,"leader_epoch":8,"isr":[3]}"#;
        assert!(
            partition_view("t", 2, vec![3], Some(("/s", offline)))
                .expect("view")
                .offline()
        );
        let e = partition_view(
            "t",
            3,
            vec![1],
            Some(("/brokers/topics/t/partitions/3/state", b"{}")),
        )
        .expect_err("no leader field");
        assert!(e.to_string().contains("partitions/3/state"), "{e}");
    }
}
