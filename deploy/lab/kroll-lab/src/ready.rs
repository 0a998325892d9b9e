//! Waiting until the lab's parts are really ready — asked through their own protocols, polled
//! with deadlines, failing with what was last seen.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::LabError;
use super::http::Http;
use super::kafka;

/// Polls `check` every 200 ms until it returns `Ok`, or fails after `timeout` with `what`
/// and the last reason.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, LabError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let began = Instant::now();
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(last) if began.elapsed() >= timeout => {
                return Err(LabError::NotReady {
                    what: what.to_owned(),
                    waited: began.elapsed(),
                    last,
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// ZooKeeper answers `ruok` with `imok`.
pub async fn zookeeper(addr: &str, timeout: Duration) -> Result<(), LabError> {
    until(&format!("ZooKeeper at {addr}"), timeout, || async move {
        for server in addr.split(',') {
            if !kafka::zookeeper_ok(server).await {
                return Err(format!(
                    "{server} is not serving (no leader or follower mode in `srvr`)"
                ));
            }
        }
        Ok(())
    })
    .await
}

/// Every broker is registered (Metadata lists `count` brokers).
pub async fn brokers(
    bootstrap: &[String],
    count: usize,
    timeout: Duration,
) -> Result<(), LabError> {
    until("the brokers to register", timeout, || async move {
        let md = kafka::metadata(bootstrap, Duration::from_secs(3)).await?;
        if md.brokers.len() == count {
            Ok(())
        } else {
            Err(format!("registered brokers: {:?}", md.brokers))
        }
    })
    .await
}

/// Every partition of every topic (and at least `topics`) has all replicas in its ISR.
pub async fn full_isr(
    bootstrap: &[String],
    topics: &[String],
    timeout: Duration,
) -> Result<(), LabError> {
    until(
        "every partition to be in full ISR",
        timeout,
        || async move {
            let md = kafka::metadata(bootstrap, Duration::from_secs(3)).await?;
            let missing: Vec<&String> = topics
                .iter()
                .filter(|t| !md.topics.contains_key(*t))
                .collect();
            let urp = md.under_replicated();
            if missing.is_empty() && urp.is_empty() {
                Ok(())
            } else {
                let first: Vec<&String> = urp.iter().take(10).collect();
                Err(format!(
                    "missing topics {missing:?}, {} under-replicated partitions (first {first:?})",
                    urp.len()
                ))
            }
        },
    )
    .await
}

/// `GET url` answers 200.
pub async fn http_ok(
    http: &Http,
    what: &str,
    url: &str,
    timeout: Duration,
) -> Result<(), LabError> {
    until(&format!("{what} at {url}"), timeout, || async move {
        match http.get(url).await? {
            (200, _) => Ok(()),
            (status, body) => Err(format!("{status}: {body}")),
        }
    })
    .await
}

/// Connector `name` and all its tasks are RUNNING.
pub async fn connector_running(
    http: &Http,
    connect: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), LabError> {
    let url = &format!("{connect}/connectors/{name}/status");
    until(
        &format!("connector {name} to run"),
        timeout,
        || async move {
            let (status, body) = http.get(url).await?;
            let state = |v: &Value| v["state"].as_str().unwrap_or("?").to_owned();
            let tasks = body["tasks"].as_array().cloned().unwrap_or_default();
            let running = status == 200
                && state(&body["connector"]) == "RUNNING"
                && !tasks.is_empty()
                && tasks.iter().all(|t| state(t) == "RUNNING");
            if running {
                Ok(())
            } else {
                Err(format!("{status}: {body}"))
            }
        },
    )
    .await
}

/// Schema Registry has every subject in `subjects`.
pub async fn subjects(
    http: &Http,
    registry: &str,
    subjects: &[String],
    timeout: Duration,
) -> Result<(), LabError> {
    let url = &format!("{registry}/subjects");
    until(
        "the connectors to register their schemas",
        timeout,
        || async move {
            let (_, body) = http.get(url).await?;
            let have: BTreeSet<&str> = body
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let missing: Vec<&String> = subjects
                .iter()
                .filter(|s| !have.contains(s.as_str()))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("missing subjects {missing:?}"))
            }
        },
    )
    .await
}

/// Consumer group `group` has committed an offset above 0 on one of `topics`' partitions.
pub async fn group_committed(
    bootstrap: &[String],
    group: &str,
    topics: &[String],
    timeout: Duration,
) -> Result<(), LabError> {
    until(
        &format!("consumer group {group} to commit"),
        timeout,
        || async move {
            let total = kafka::committed_total(bootstrap, group, topics).await?;
            if total > 0 {
                Ok(())
            } else {
                Err(format!("committed offsets sum to {total}"))
            }
        },
    )
    .await
}
