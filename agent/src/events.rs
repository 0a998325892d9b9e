//! Container events: Docker's event stream, filtered to managed containers, numbered, and
//! fanned out to every `WatchEvents` subscriber.
//!
//! A subscriber that falls behind loses events and is told how many (`EventsLost`), instead of
//! slowing the agent down. The watcher reconnects to Docker with backoff when the stream drops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kroll_shared::model::{Event, EventKind, Health};
use tokio::sync::{broadcast, watch};

use crate::allow::Allowlist;
use crate::runtime::{ContainerRuntime, RawEvent};

/// How many events a slow subscriber may lag behind before it loses some.
const CAPACITY: usize = 1024;

/// Numbers events and hands them to subscribers.
#[derive(Debug)]
pub struct EventHub {
    node: String,
    seq: AtomicU64,
    tx: broadcast::Sender<Event>,
}

impl EventHub {
    /// A hub for the events of `node`.
    pub fn new(node: &str) -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self {
            node: node.to_owned(),
            seq: AtomicU64::new(0),
            tx,
        }
    }

    /// Numbers and publishes an event about a container.
    pub fn publish(
        &self,
        container_id: &str,
        container_name: &str,
        time_unix_ms: i64,
        kind: EventKind,
    ) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Event {
            seq,
            node: self.node.clone(),
            time_unix_ms,
            container_id: container_id.to_owned(),
            container_name: container_name.to_owned(),
            kind,
        };
        // No subscriber is fine: events are not stored.
        let _ = self.tx.send(event);
    }

    /// A new subscription from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// The event that tells a subscriber it lost `count` events.
    pub fn lost(&self, count: u64) -> Event {
        Event {
            seq: self.seq.load(Ordering::Relaxed),
            node: self.node.clone(),
            time_unix_ms: kroll_shared::time::now_unix_ms(),
            container_id: String::new(),
            container_name: String::new(),
            kind: EventKind::EventsLost { count },
        }
    }
}

/// Maps Docker's action to an event kind; `None` for actions kroll does not report.
pub fn kind_of(raw: &RawEvent) -> Option<EventKind> {
    let attr = |k: &str| raw.attributes.get(k).cloned().unwrap_or_default();
    match raw.action.as_str() {
        "start" => Some(EventKind::Started {
            image: attr("image"),
        }),
        "die" => Some(EventKind::Died {
            exit_code: attr("exitCode").parse().unwrap_or(-1),
            oom_killed: false,
        }),
        "oom" => Some(EventKind::OomKilled),
        "kill" => Some(EventKind::Stopped {
            signal: signal_name(&attr("signal")),
        }),
        a if a.starts_with("health_status") => {
            let status = a.split_once(':').map(|(_, s)| s.trim()).unwrap_or("");
            Some(EventKind::HealthChanged {
                health: Health::from_docker(Some(status)),
            })
        }
        _ => None,
    }
}

fn signal_name(n: &str) -> String {
    match n {
        "1" => "SIGHUP".into(),
        "2" => "SIGINT".into(),
        "9" => "SIGKILL".into(),
        "15" => "SIGTERM".into(),
        "" => String::new(),
        other => format!("signal {other}"),
    }
}

/// Follows Docker's events until `stop` turns true, publishing those of managed containers.
/// A `die` is completed with the container's OOM-killed flag from an inspection.
pub async fn watch_docker<R: ContainerRuntime>(
    rt: Arc<R>,
    allow: Allowlist,
    hub: Arc<EventHub>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    while !*stop.borrow() {
        let mut stream = rt.events();
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = stop.changed() => return,
            };
            let raw = match item {
                Some(Ok(raw)) => raw,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Docker event stream failed; reconnecting.");
                    break;
                }
                None => break,
            };
            backoff = Duration::from_millis(200);
            if !allow.allows(&raw.name, &raw.labels) {
                continue;
            }
            if let Some(mut kind) = kind_of(&raw) {
                if let EventKind::Died { oom_killed, .. } = &mut kind
                    && let Ok(i) = rt.inspect(&raw.container_id).await
                {
                    *oom_killed = i.container.oom_killed;
                }
                hub.publish(&raw.container_id, &raw.name, raw.time_unix_ms, kind);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn raw(action: &str, attrs: &[(&str, &str)]) -> RawEvent {
        RawEvent {
            action: action.into(),
            container_id: "id".into(),
            name: "c".into(),
            labels: BTreeMap::new(),
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            time_unix_ms: 1,
        }
    }

    #[test]
    fn docker_actions_map_to_event_kinds() {
        assert_eq!(
            kind_of(&raw("die", &[("exitCode", "3")])),
            Some(EventKind::Died {
                exit_code: 3,
                oom_killed: false
            })
        );
        assert_eq!(
            kind_of(&raw("start", &[("image", "k:1")])),
            Some(EventKind::Started {
                image: "k:1".into()
            })
        );
        assert_eq!(kind_of(&raw("oom", &[])), Some(EventKind::OomKilled));
        assert_eq!(
            kind_of(&raw("kill", &[("signal", "15")])),
            Some(EventKind::Stopped {
                signal: "SIGTERM".into()
            })
        );
        assert_eq!(
            kind_of(&raw("health_status: unhealthy", &[])),
            Some(EventKind::HealthChanged {
                health: Health::Unhealthy
            })
        );
        assert_eq!(kind_of(&raw("exec_start: sh", &[])), None);
    }

    #[tokio::test]
    async fn subscribers_get_numbered_events_and_learn_what_they_lost() {
        let hub = EventHub::new("n1");
        let mut rx = hub.subscribe();
        hub.publish("id", "c", 1, EventKind::OomKilled);
        let e = rx.recv().await.expect("event");
        assert_eq!((e.seq, e.node.as_str()), (1, "n1"));
        for _ in 0..CAPACITY + 5 {
            hub.publish("id", "c", 1, EventKind::OomKilled);
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 5),
            other => panic!("expected a lag, got {other:?}"),
        }
    }
}
