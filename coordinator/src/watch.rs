//! `kroll watch`: events from every agent at once, as they happen.
//!
//! One task per node subscribes to its agent's `WatchEvents` stream; when the stream breaks
//! (the agent restarted, the network dropped) it reconnects with backoff (200 ms doubling to
//! 5 s) and says so — including whether the agent restarted meanwhile (events that happened
//! while it was unreachable are lost). Everything arrives on one channel as [`Item`]s, in the
//! order received, for the CLI to print and the alert sink to post.

use std::time::Duration;

use kroll_shared::inventory::{Inventory, Node};
use kroll_shared::model::Event;
use kroll_shared::time::now_unix_ms;
use kroll_shared::tls::TlsMaterial;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::agents::AgentClient;

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A change in the connection to one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// `connected`, `disconnected` or `reconnected`.
    pub watch: &'static str,
    pub node: String,
    pub time_unix_ms: i64,
    /// The error (disconnected) or what changed (reconnected).
    pub detail: String,
}

/// What the watch delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Event(Event),
    Notice(Notice),
}

/// What to watch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Container names (empty = all); applied by the agents.
    pub containers: Vec<String>,
    /// Event kind names (empty = all), e.g. `java_oom`; applied here.
    pub kinds: Vec<String>,
}

impl Filter {
    /// Whether an event passes the kind filter.
    pub fn passes(&self, e: &Event) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == e.kind.name())
    }
}

/// Subscribes to every node of the inventory; the tasks run until the receiver is dropped.
pub fn watch_all(
    inv: &Inventory,
    tls: &TlsMaterial,
    filter: &Filter,
) -> (mpsc::Receiver<Item>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel(1024);
    let timeout = inv.agents.timeout();
    let tasks = inv
        .nodes
        .iter()
        .map(|node| {
            let (node, tls, tx) = (node.clone(), tls.clone(), tx.clone());
            let containers = filter.containers.clone();
            tokio::spawn(follow_node(node, tls, timeout, containers, tx))
        })
        .collect();
    (rx, tasks)
}

fn notice(watch: &'static str, node: &str, detail: String) -> Item {
    Item::Notice(Notice {
        watch,
        node: node.to_owned(),
        time_unix_ms: now_unix_ms(),
        detail,
    })
}

/// Follows one node forever (until `tx` is closed).
async fn follow_node(
    node: Node,
    tls: TlsMaterial,
    timeout: Duration,
    containers: Vec<String>,
    tx: mpsc::Sender<Item>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut agent_started: Option<i64> = None;
    let mut down_since: Option<i64> = None;
    loop {
        let subscribed = async {
            let mut client = AgentClient::connect(&node, &tls, timeout).await?;
            let started = client.node_state().await?.agent.started_at_unix_ms;
            let stream = client.watch(containers.clone()).await?;
            Ok::<_, crate::agents::AgentCallError>((started, stream))
        }
        .await;
        match subscribed {
            Ok((started, mut stream)) => {
                backoff = FIRST_BACKOFF;
                let item = match (agent_started, down_since.take()) {
                    (None, _) => {
                        notice("connected", &node.name, format!("agent at {}", node.agent))
                    }
                    (Some(before), since) => {
                        let gap = since.map_or(String::new(), |s| {
                            format!(
                                "; events between {} and now may be lost",
                                crate::watch::clock(s)
                            )
                        });
                        let why = if before == started {
                            "the same agent"
                        } else {
                            "the agent restarted"
                        };
                        notice("reconnected", &node.name, format!("{why}{gap}"))
                    }
                };
                agent_started = Some(started);
                if tx.send(item).await.is_err() {
                    return;
                }
                let why = loop {
                    match futures::StreamExt::next(&mut stream).await {
                        Some(Ok(e)) => {
                            if tx.send(Item::Event(e)).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(e)) => break e.to_string(),
                        None => break "the agent closed the stream".to_owned(),
                    }
                };
                down_since = Some(now_unix_ms());
                if tx
                    .send(notice(
                        "disconnected",
                        &node.name,
                        format!("{why}; reconnecting"),
                    ))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                if down_since.is_none() {
                    down_since = Some(now_unix_ms());
                    let what = if agent_started.is_some() {
                        "disconnected"
                    } else {
                        "unreachable"
                    };
                    if tx
                        .send(notice(what, &node.name, format!("{e}; retrying")))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `HH:MM:SS.mmm` (UTC) of a Unix-ms time.
pub fn clock(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `2026-11-25T10:00:00.123Z` of a Unix-ms time.
pub fn timestamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        clock(ms)
    )
}

/// One readable line: `time  node  container  kind  description`.
pub fn render_event(e: &Event) -> String {
    let container = if e.container_name.is_empty() {
        "-"
    } else {
        &e.container_name
    };
    format!(
        "{}  {}  {}  {}  {}",
        timestamp(e.time_unix_ms),
        e.node,
        container,
        e.kind.name(),
        e.kind.describe()
    )
}

/// One readable line about a connection.
pub fn render_notice(n: &Notice) -> String {
    format!(
        "{}  {}  -  watch  {}: {}",
        timestamp(n.time_unix_ms),
        n.node,
        n.watch,
        n.detail
    )
}

/// The JSON line of an item: the event as `kroll status --output json` would show it, plus
/// `received_at_unix_ms`; or the notice.
pub fn json_line(item: &Item, received_at_unix_ms: i64) -> String {
    let v = match item {
        Item::Event(e) => {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                m.insert("received_at_unix_ms".into(), received_at_unix_ms.into());
            }
            v
        }
        Item::Notice(n) => serde_json::to_value(n).unwrap_or_default(),
    };
    v.to_string()
}

#[cfg(test)]
mod tests {
    use kroll_shared::model::EventKind;

    use super::*;

    fn event(kind: EventKind) -> Event {
        Event {
            seq: 3,
            node: "rhodrylab-01".into(),
            time_unix_ms: 1_764_064_800_123,
            container_id: "id".into(),
            container_name: "connect-01".into(),
            kind,
        }
    }

    #[test]
    fn lines_read_time_node_container_kind_description() {
        let e = event(EventKind::JavaOom {
            line: "java.lang.OutOfMemoryError: Java heap space".into(),
            repeated: 0,
        });
        assert_eq!(
            render_event(&e),
            "2025-11-25T10:00:00.123Z  rhodrylab-01  connect-01  java_oom  Java OutOfMemoryError: java.lang.OutOfMemoryError: Java heap space"
        );
        let v: serde_json::Value =
            serde_json::from_str(&json_line(&Item::Event(e), 5)).expect("json");
        assert_eq!(v["kind"]["type"], "java_oom");
        assert_eq!(v["received_at_unix_ms"], 5);
        assert_eq!(v["container_name"], "connect-01");
    }

    #[test]
    fn the_kind_filter_passes_only_named_kinds() {
        let f = Filter {
            containers: vec![],
            kinds: vec!["java_oom".into(), "died".into()],
        };
        assert!(f.passes(&event(EventKind::Died {
            exit_code: 3,
            oom_killed: false
        })));
        assert!(!f.passes(&event(EventKind::OomKilled)));
        assert!(Filter::default().passes(&event(EventKind::OomKilled)));
    }
}
