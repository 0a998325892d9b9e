//! The alert sink of `kroll watch`: posts events to a webhook so operators get paged without
//! running `watch` in a terminal.
//!
//! Formats:
//! * `alertmanager` — the body of Alertmanager's **v2 API `POST /api/v2/alerts`** (what
//!   Prometheus itself sends): a JSON array of `{labels, annotations, startsAt, endsAt}`.
//!   Point the webhook at `http://alertmanager:9093/api/v2/alerts`. OOM alerts
//!   (`java_oom`, `java_oom_exit`, `oom_killed`) end 15 minutes after they start, or earlier
//!   when the container starts again (a fresh JVM: the sink resolves them — same labels,
//!   `endsAt` = the start); heap pressure and hung JVMs stay firing until `jvm_recovered`
//!   resolves them (same labels, severity included, `endsAt` = now).
//! * `slack` — `{"text": "…"}`, one line per event (Slack incoming webhooks, Mattermost,
//!   Rocket.Chat and most chat receivers accept it).
//!
//! Delivery never blocks the watch: events go into a bounded queue (when it is full the event
//! is dropped and counted, and the next delivery says how many were lost); a background task
//! posts them in batches and retries failures with exponential backoff.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kroll_shared::model::{Event, EventKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The kinds posted unless configured otherwise.
pub const DEFAULT_KINDS: [&str; 6] = [
    "java_oom",
    "java_oom_exit",
    "oom_killed",
    "heap_pressure",
    "jvm_hung",
    "jvm_recovered",
];
/// Events posted in one request at most.
const BATCH: usize = 64;

/// The payload shape.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormat {
    /// Alertmanager v2 `POST /api/v2/alerts` body.
    Alertmanager,
    /// `{"text": …}` (Slack-style incoming webhooks).
    Slack,
}

/// Where and how to post.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub url: String,
    pub format: AlertFormat,
    /// Event kinds posted.
    pub kinds: Vec<String>,
    /// Events waiting at most; more are dropped (and counted).
    pub queue: usize,
    /// Attempts per batch before it is given up (logged).
    pub attempts: u32,
    /// First retry delay; doubles up to 30 s.
    pub backoff: Duration,
    pub cluster: String,
}

/// The sending side; cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct AlertSink {
    tx: mpsc::Sender<Event>,
    kinds: Arc<Vec<String>>,
    /// Alertmanager format: `started` events go through too (they resolve OOM alerts).
    resolves_on_start: bool,
    dropped: Arc<AtomicU64>,
}

impl AlertSink {
    /// Starts the delivery task.
    pub fn spawn(cfg: SinkConfig) -> Result<(Self, JoinHandle<()>), reqwest::Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let sink = Self {
            tx,
            kinds: Arc::new(cfg.kinds.clone()),
            resolves_on_start: cfg.format == AlertFormat::Alertmanager,
            dropped: Arc::clone(&dropped),
        };
        let task = tokio::spawn(deliver(rx, http, cfg, dropped));
        Ok((sink, task))
    }

    /// Queues an event if its kind is posted; drops (and counts) it when the queue is full.
    pub fn offer(&self, e: &Event) {
        let resolver = self.resolves_on_start && matches!(e.kind, EventKind::Started { .. });
        if !resolver && !self.kinds.iter().any(|k| k == e.kind.name()) {
            return;
        }
        if self.tx.try_send(e.clone()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn deliver(
    mut rx: mpsc::Receiver<Event>,
    http: reqwest::Client,
    cfg: SinkConfig,
    dropped: Arc<AtomicU64>,
) {
    let mut reported_drops = 0;
    let mut open = OpenOoms::default();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let lost = dropped.load(Ordering::Relaxed) - reported_drops;
        reported_drops += lost;
        let body = match cfg.format {
            AlertFormat::Alertmanager => alertmanager_body(&cfg.cluster, &batch, &mut open),
            AlertFormat::Slack => slack_body(&cfg.cluster, &batch, lost),
        };
        let alerts = body.as_array().map_or(1, Vec::len);
        if alerts > 0 {
            post(&http, &cfg, &body, alerts).await;
        }
    }
}

/// Posts one body with retries; gives up (and says so) after `attempts`.
async fn post(http: &reqwest::Client, cfg: &SinkConfig, body: &Value, events: usize) {
    let mut delay = cfg.backoff;
    for attempt in 1..=cfg.attempts.max(1) {
        let request = http
            .post(&cfg.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let why = match request.send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => crate::agents::source_chain(&e),
        };
        tracing::warn!(url = %cfg.url, attempt, error = %why, "Webhook delivery failed; retrying.");
        if attempt == cfg.attempts.max(1) {
            eprintln!(
                "kroll watch: webhook {}: gave up on {events} event(s) after {attempt} attempts: {why}",
                cfg.url
            );
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The Alertmanager alert name of a kind (for `jvm_recovered`, of the state it ends).
fn alert_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::JavaOom { .. } => "JavaOutOfMemoryError",
        EventKind::JavaOomExit { .. } => "JavaOutOfMemoryExit",
        EventKind::OomKilled => "ContainerOomKilled",
        EventKind::HeapPressure { .. } => "JvmHeapPressure",
        EventKind::JvmHung { .. } => "JvmHung",
        EventKind::JvmRecovered { from, .. } if from == "jvm_hung" => "JvmHung",
        EventKind::JvmRecovered { .. } => "JvmHeapPressure",
        EventKind::Died { .. } => "ContainerDied",
        _ => "KrollEvent",
    }
}

/// The severity label of an alert name (a resolution carries the one of the alert it ends:
/// Alertmanager identifies an alert by its whole label set).
fn severity(alertname: &str) -> &'static str {
    match alertname {
        "JvmHeapPressure" => "warning",
        _ => "critical",
    }
}

/// The OOM alerts posted and not yet resolved, by node and container: the container's next
/// start (a fresh JVM) resolves them.
#[derive(Debug, Default)]
pub struct OpenOoms(BTreeMap<(String, String), BTreeSet<&'static str>>);

fn labels(cluster: &str, alertname: &str, e: &Event) -> Value {
    json!({
        "alertname": alertname,
        "severity": severity(alertname),
        "cluster": cluster,
        "node": e.node,
        "container": e.container_name,
        "source": "kroll",
    })
}

/// The body of Alertmanager's `POST /api/v2/alerts` for these events: one alert per alert
/// event, one resolution per OOM alert in `open` of a container that `started` again (a
/// `started` with nothing open adds nothing). Updates `open`.
pub fn alertmanager_body(cluster: &str, events: &[Event], open: &mut OpenOoms) -> Value {
    let mut alerts = Vec::new();
    for e in events {
        let key = (e.node.clone(), e.container_name.clone());
        if let EventKind::Started { .. } = e.kind {
            for name in open.0.remove(&key).unwrap_or_default() {
                alerts.push(json!({
                    "labels": labels(cluster, name, e),
                    "annotations": {
                        "summary": format!("{} on {}: started again (a fresh JVM)", e.container_name, e.node),
                        "description": format!("{} started again after the OutOfMemoryError", e.container_name),
                    },
                    "startsAt": rfc3339(e.time_unix_ms),
                    "endsAt": rfc3339(e.time_unix_ms),
                }));
            }
            continue;
        }
        let name = alert_name(&e.kind);
        if matches!(
            e.kind,
            EventKind::JavaOom { .. } | EventKind::JavaOomExit { .. } | EventKind::OomKilled
        ) {
            open.0.entry(key).or_default().insert(name);
        }
        let mut labels = labels(cluster, name, e);
        let pid = match &e.kind {
            EventKind::HeapPressure { pid, .. }
            | EventKind::JvmHung { pid, .. }
            | EventKind::JvmRecovered { pid, .. } => Some(*pid),
            _ => None,
        };
        if let (Some(pid), Some(map)) = (pid, labels.as_object_mut()) {
            map.insert("pid".into(), json!(pid.to_string()));
        }
        let ends = match e.kind {
            EventKind::JvmRecovered { .. } => e.time_unix_ms,
            EventKind::HeapPressure { .. } | EventKind::JvmHung { .. } => {
                e.time_unix_ms + 86_400_000
            }
            _ => e.time_unix_ms + 15 * 60_000,
        };
        alerts.push(json!({
            "labels": labels,
            "annotations": {
                "summary": format!("{} on {}: {}", e.container_name, e.node, e.kind.describe()),
                "description": e.kind.describe(),
            },
            "startsAt": rfc3339(e.time_unix_ms),
            "endsAt": rfc3339(ends),
        }));
    }
    Value::Array(alerts)
}

/// A Slack-style `{"text": …}` body: one line per event.
pub fn slack_body(cluster: &str, events: &[Event], lost: u64) -> Value {
    let mut lines: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "[{cluster}] {} {} {}: {}",
                rfc3339(e.time_unix_ms),
                e.node,
                e.container_name,
                e.kind.describe()
            )
        })
        .collect();
    if lost > 0 {
        lines.push(format!(
            "[{cluster}] {lost} event(s) were dropped before this (alert queue full)"
        ));
    }
    json!({ "text": lines.join("\n") })
}

#[cfg(test)]
mod tests;
