//! The sink against a real local HTTP server (axum): payload shapes, retries, a queue that
//! never blocks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::*;

fn oom_event(seq: u64) -> Event {
    Event {
        seq,
        node: "n1".into(),
        time_unix_ms: 1_764_000_000_000,
        container_id: "id".into(),
        container_name: "connect-01".into(),
        kind: EventKind::JavaOom {
            line: "java.lang.OutOfMemoryError: Java heap space".into(),
            repeated: 0,
        },
    }
}

/// A webhook that fails the first `failures` requests with 503, and records every body.
async fn webhook(failures: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let state = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = Arc::clone(&state);
            async move {
                let mut v = state.lock().expect("lock");
                v.push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                if v.len() <= failures {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

fn config(url: String, format: AlertFormat) -> SinkConfig {
    SinkConfig {
        url,
        format,
        kinds: DEFAULT_KINDS.map(String::from).to_vec(),
        queue: 16,
        attempts: 5,
        backoff: Duration::from_millis(20),
        cluster: "lab".into(),
    }
}

async fn wait_for(seen: &Mutex<Vec<Value>>, n: usize) -> Vec<Value> {
    let began = Instant::now();
    loop {
        let v = seen.lock().expect("lock").clone();
        if v.len() >= n {
            return v;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "only {} of {n} posts arrived",
            v.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn failed_posts_are_retried_until_the_receiver_takes_them() {
    let (url, seen) = webhook(2).await;
    let (sink, _task) = AlertSink::spawn(config(url, AlertFormat::Alertmanager)).expect("sink");
    sink.offer(&oom_event(1));
    let posts = wait_for(&seen, 3).await;
    assert_eq!(posts[0], posts[2], "the same batch is retried");
    let alert = &posts[2][0];
    assert_eq!(alert["labels"]["alertname"], "JavaOutOfMemoryError");
    assert_eq!(alert["labels"]["node"], "n1");
    assert_eq!(alert["labels"]["container"], "connect-01");
    assert_eq!(alert["labels"]["cluster"], "lab");
    assert!(
        alert["annotations"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Java heap space"))
    );
    assert_eq!(alert["startsAt"], "2025-11-24T16:00:00Z");
    assert_eq!(alert["endsAt"], "2025-11-24T16:15:00Z");
}

#[tokio::test]
async fn slack_bodies_are_text_and_unposted_kinds_are_skipped() {
    let (url, seen) = webhook(0).await;
    let (sink, _task) = AlertSink::spawn(config(url, AlertFormat::Slack)).expect("sink");
    let mut started = oom_event(1);
    started.kind = EventKind::Started { image: "i".into() };
    sink.offer(&started);
    sink.offer(&oom_event(2));
    let posts = wait_for(&seen, 1).await;
    let text = posts[0]["text"].as_str().expect("text");
    assert!(
        text.contains("[lab]") && text.contains("connect-01") && text.contains("Java heap space"),
        "{text}"
    );
    assert!(
        !text.contains("started"),
        "`started` is not an alert kind: {text}"
    );
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    // Nothing listens on this port: every post fails slowly, the queue fills up.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut cfg = config(format!("http://{dead}/hook"), AlertFormat::Alertmanager);
    cfg.queue = 4;
    cfg.backoff = Duration::from_secs(5);
    let (sink, task) = AlertSink::spawn(cfg).expect("sink");
    let began = Instant::now();
    for i in 0..1000 {
        sink.offer(&oom_event(i));
    }
    assert!(
        began.elapsed() < Duration::from_millis(500),
        "offer never blocks"
    );
    assert!(sink.dropped() >= 1000 - 4 - 1, "dropped {}", sink.dropped());
    task.abort();
}

fn event(seq: u64, container: &str, at_ms: i64, kind: EventKind) -> Event {
    Event {
        seq,
        node: "n1".into(),
        time_unix_ms: at_ms,
        container_id: "id".into(),
        container_name: container.into(),
        kind,
    }
}

#[test]
fn a_recovery_carries_the_labels_of_the_alert_it_ends() {
    // Alertmanager identifies an alert by its whole label set: a recovery whose labels differ
    // in anything (severity included) would be a second alert, and the first would stay firing.
    let t = 1_764_000_000_000;
    for (firing, from) in [
        (
            EventKind::JvmHung {
                pid: 7,
                stalled_ms: 12_000,
            },
            "jvm_hung",
        ),
        (
            EventKind::HeapPressure {
                pid: 7,
                old_used_bytes: 9,
                max_bytes: 10,
                full_gcs_in_window: 5,
                window_seconds: 60,
                reason: "r".into(),
            },
            "heap_pressure",
        ),
    ] {
        let recovered = EventKind::JvmRecovered {
            pid: 7,
            from: from.into(),
        };
        let body = alertmanager_body(
            "lab",
            &[
                event(1, "zk-01", t, firing),
                event(2, "zk-01", t + 5000, recovered),
            ],
            &mut OpenOoms::default(),
        );
        assert_eq!(body[0]["labels"], body[1]["labels"], "{from}: {body}");
        assert_eq!(body[1]["endsAt"], rfc3339(t + 5000), "{from}");
    }
}

#[test]
fn a_restart_resolves_the_containers_oom_alerts_once() {
    let t = 1_764_000_000_000;
    let started = || EventKind::Started { image: "i".into() };
    let mut open = OpenOoms::default();
    let fired = alertmanager_body(
        "lab",
        &[
            oom_event(1),
            event(2, "connect-01", t, EventKind::OomKilled),
        ],
        &mut open,
    );
    assert_eq!(fired.as_array().map(Vec::len), Some(2));

    // Another container starting resolves nothing.
    let other = alertmanager_body("lab", &[event(3, "zk-01", t, started())], &mut open);
    assert_eq!(other, json!([]));

    let resolved = alertmanager_body(
        "lab",
        &[event(4, "connect-01", t + 60_000, started())],
        &mut open,
    );
    let resolved = resolved.as_array().expect("array");
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    for r in resolved {
        let same = fired
            .as_array()
            .expect("array")
            .iter()
            .find(|f| f["labels"] == r["labels"]);
        assert!(same.is_some(), "{r} resolves an alert that was posted");
        assert_eq!(r["endsAt"], rfc3339(t + 60_000));
        assert!(r["startsAt"].as_str() <= r["endsAt"].as_str());
    }

    let again = alertmanager_body(
        "lab",
        &[event(5, "connect-01", t + 120_000, started())],
        &mut open,
    );
    assert_eq!(again, json!([]), "resolved once");
}

#[tokio::test]
async fn the_sink_posts_a_resolution_when_an_oomed_container_starts_again() {
    let (url, seen) = webhook(0).await;
    let (sink, _task) = AlertSink::spawn(config(url, AlertFormat::Alertmanager)).expect("sink");
    sink.offer(&oom_event(1));
    wait_for(&seen, 1).await;
    let mut started = oom_event(2);
    started.kind = EventKind::Started { image: "i".into() };
    started.time_unix_ms += 30_000;
    sink.offer(&started);
    let posts = wait_for(&seen, 2).await;
    assert_eq!(posts[1][0]["labels"], posts[0][0]["labels"]);
    assert_eq!(posts[1][0]["endsAt"], "2025-11-24T16:00:30Z");
}
