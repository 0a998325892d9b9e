//! The audit log and the record of operations.
//!
//! Every mutating call is written to an append-only JSON-lines file, fsynced, *before* it acts
//! (`begin`) and *after* (`end`, with the outcome); a refused call is written as `refused`.
//! Each line says who (certificate name and role), what (action, container, operation id),
//! when, and how it ended.
//!
//! The same file is the agent's memory of operation ids: at start-up [`Operations::load`]
//! reads it back, so a coordinator that repeats a call after a crash (of itself or of the
//! agent) gets the recorded answer instead of a second restart.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// The phase of a call an audit line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// About to act.
    Begin,
    /// Finished (see `outcome`).
    End,
    /// Refused before acting (role, allowlist, bad argument).
    Refused,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    pub time_unix_ms: i64,
    pub node: String,
    /// Certificate common name of the caller.
    pub peer: String,
    /// Role from the caller's certificate.
    pub role: String,
    /// `restart`, ...
    pub action: String,
    pub operation_id: String,
    pub container: String,
    pub phase: Phase,
    /// `ok` or `error` on `end`; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The call's answer on a successful `end`, for replaying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// On `begin` of an action that stops a container: when that stop is over at the latest
    /// (recovery after a crash waits for it until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_deadline_unix_ms: Option<i64>,
}

/// The `end` outcome recovery writes for an action the agent died in the middle of.
pub const INTERRUPTED: &str = "interrupted";

/// The append-only audit file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl AuditLog {
    /// Opens (creating it and its directory if needed) the audit file for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and fsyncs it (on the blocking pool).
    pub async fn write(&self, entry: Entry) -> std::io::Result<()> {
        let file = Arc::clone(&self.file);
        tokio::task::spawn_blocking(move || {
            let mut line = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
            line.push(b'\n');
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            f.write_all(&line)?;
            f.sync_data()
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Reads every well-formed line of an audit file (a torn last line is skipped).
    pub fn read(path: &Path) -> std::io::Result<Vec<Entry>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for line in BufReader::new(file).lines() {
            if let Ok(entry) = serde_json::from_str::<Entry>(&line?) {
                out.push(entry);
            }
        }
        Ok(out)
    }
}

/// At most [`RefusalBudget::PER_MINUTE`] refusals by role are written per minute (a reader
/// looping on a mutation must not fill the disk with fsynced lines); the first line written
/// after a full window says how many were left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalWindow {
    began: std::time::Instant,
    written: u32,
    left_out: u64,
}

impl RefusalWindow {
    /// A window beginning at `now`.
    pub fn new(now: std::time::Instant) -> Self {
        Self {
            began: now,
            written: 0,
            left_out: 0,
        }
    }

    /// Whether a refusal at `now` is written: `Some(n)` with the number left out since the
    /// last one written, `None` when it is left out.
    pub fn admit(&mut self, now: std::time::Instant) -> Option<u64> {
        if now.duration_since(self.began) >= std::time::Duration::from_secs(60) {
            self.began = now;
            self.written = 0;
        }
        if self.written >= RefusalBudget::PER_MINUTE {
            self.left_out += 1;
            return None;
        }
        self.written += 1;
        Some(std::mem::take(&mut self.left_out))
    }
}

/// The shared [`RefusalWindow`].
#[derive(Debug)]
pub struct RefusalBudget(Mutex<RefusalWindow>);

impl RefusalBudget {
    /// Refusal lines written per minute at most.
    pub const PER_MINUTE: u32 = 30;

    pub fn new() -> Self {
        Self(Mutex::new(RefusalWindow::new(std::time::Instant::now())))
    }

    /// See [`RefusalWindow::admit`].
    pub fn admit(&self) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(std::time::Instant::now())
    }
}

impl Default for RefusalBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// What is known about an operation id.
#[derive(Debug, Clone)]
enum Record {
    /// Being carried out by another call right now.
    InFlight {
        action: String,
        container: String,
        done: Arc<Notify>,
    },
    /// Finished successfully with this answer.
    Done {
        action: String,
        container: String,
        result: serde_json::Value,
    },
    /// Began (audit `begin`) but the agent stopped mid-way: the call's own outcome is lost.
    /// `recovered` is what recovery at the next start found and did, once it has.
    Unknown {
        action: String,
        container: String,
        began: String,
        began_unix_ms: i64,
        stop_deadline_unix_ms: i64,
        recovered: Option<String>,
    },
}

impl Record {
    fn target(&self) -> (&str, &str) {
        match self {
            Self::InFlight {
                action, container, ..
            }
            | Self::Done {
                action, container, ..
            }
            | Self::Unknown {
                action, container, ..
            } => (action, container),
        }
    }
}

/// The result of claiming an operation id.
#[derive(Debug)]
pub enum Claim {
    /// New: the caller acts and must call [`Operations::finish`].
    Fresh,
    /// Already done: answer with this recorded result.
    Replay(serde_json::Value),
    /// The id was used for something else.
    Conflict { action: String, container: String },
    /// An earlier attempt began but its outcome is unknown (the agent stopped mid-way);
    /// `recovered` says how recovery ended it.
    OutcomeUnknown {
        began: String,
        recovered: Option<String>,
    },
}

/// Operation ids seen by this agent (loaded from the audit log, kept up to date).
#[derive(Debug, Default)]
pub struct Operations {
    records: Mutex<HashMap<String, Record>>,
}

impl Operations {
    /// Rebuilds the record from audit entries.
    pub fn load(entries: &[Entry]) -> Self {
        let mut records = HashMap::new();
        for e in entries.iter().filter(|e| !e.operation_id.is_empty()) {
            let (action, container) = (e.action.clone(), e.container.clone());
            match (e.phase, e.outcome.as_str()) {
                (Phase::Begin, _) => {
                    records.insert(
                        e.operation_id.clone(),
                        Record::Unknown {
                            action,
                            container,
                            began: e.time.clone(),
                            began_unix_ms: e.time_unix_ms,
                            stop_deadline_unix_ms: e.stop_deadline_unix_ms.unwrap_or(0),
                            recovered: None,
                        },
                    );
                }
                (Phase::End, INTERRUPTED) => {
                    if let Some(Record::Unknown { recovered, .. }) =
                        records.get_mut(&e.operation_id)
                    {
                        *recovered = Some(e.detail.clone());
                    }
                }
                (Phase::End, "ok") => {
                    let result = e.result.clone().unwrap_or(serde_json::Value::Null);
                    records.insert(
                        e.operation_id.clone(),
                        Record::Done {
                            action,
                            container,
                            result,
                        },
                    );
                }
                (Phase::End, _) => {
                    records.remove(&e.operation_id);
                }
                (Phase::Refused, _) => {}
            }
        }
        Self {
            records: Mutex::new(records),
        }
    }

    /// Operations that began but whose outcome was never recorded (the agent stopped mid-way)
    /// and that recovery has not ended yet, oldest first.
    pub fn interrupted(&self) -> Vec<crate::recovery::Interrupted> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<crate::recovery::Interrupted> = records
            .iter()
            .filter_map(|(id, r)| match r {
                Record::Unknown {
                    action,
                    container,
                    began_unix_ms,
                    stop_deadline_unix_ms,
                    recovered: None,
                    ..
                } => Some(crate::recovery::Interrupted {
                    operation_id: id.clone(),
                    action: action.clone(),
                    container: container.clone(),
                    began_unix_ms: *began_unix_ms,
                    stop_deadline_unix_ms: *stop_deadline_unix_ms,
                }),
                _ => None,
            })
            .collect();
        out.sort_by_key(|i| (i.began_unix_ms, i.operation_id.clone()));
        out
    }

    /// Records how recovery ended an interrupted operation. The id stays taken: a retry is
    /// refused with what recovery found, never carried out afresh.
    pub fn recovered(&self, id: &str, detail: &str) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Record::Unknown { recovered, .. }) = records.get_mut(id) {
            *recovered = Some(detail.to_owned());
        }
    }

    /// Claims `id` for `action` on `container`; waits while another call carries it out.
    pub async fn claim(&self, id: &str, action: &str, container: &str) -> Claim {
        loop {
            let waiter = {
                let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
                match records.get(id) {
                    None => {
                        let done = Arc::new(Notify::new());
                        records.insert(
                            id.to_owned(),
                            Record::InFlight {
                                action: action.into(),
                                container: container.into(),
                                done,
                            },
                        );
                        return Claim::Fresh;
                    }
                    Some(r) if r.target() != (action, container) => {
                        let (a, c) = r.target();
                        return Claim::Conflict {
                            action: a.to_owned(),
                            container: c.to_owned(),
                        };
                    }
                    Some(Record::Done { result, .. }) => return Claim::Replay(result.clone()),
                    Some(Record::Unknown {
                        began, recovered, ..
                    }) => {
                        return Claim::OutcomeUnknown {
                            began: began.clone(),
                            recovered: recovered.clone(),
                        };
                    }
                    Some(Record::InFlight { done, .. }) => Arc::clone(done),
                }
            };
            let notified = waiter.notified();
            // Re-check after registering interest so a finish in between is not missed.
            let still_in_flight = matches!(
                self.records
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(id),
                Some(Record::InFlight { .. })
            );
            if still_in_flight {
                notified.await;
            }
        }
    }

    /// Records the outcome of a fresh claim: a success is remembered for replay; a failure
    /// frees the id so the caller may try again.
    pub fn finish(&self, id: &str, result: Result<serde_json::Value, ()>) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let Some(Record::InFlight {
            action,
            container,
            done,
        }) = records.remove(id)
        else {
            return;
        };
        if let Ok(result) = result {
            records.insert(
                id.to_owned(),
                Record::Done {
                    action,
                    container,
                    result,
                },
            );
        }
        done.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: &str, phase: Phase, outcome: &str) -> Entry {
        Entry {
            time: "2026-01-01T00:00:00Z".into(),
            time_unix_ms: 0,
            node: "n".into(),
            peer: "coordinator".into(),
            role: "coordinator".into(),
            action: "restart".into(),
            operation_id: op.into(),
            container: "kafka-01".into(),
            phase,
            outcome: outcome.into(),
            detail: String::new(),
            result: (outcome == "ok").then(|| serde_json::json!({"started_at_unix_ms": 5})),
            stop_deadline_unix_ms: None,
        }
    }

    #[tokio::test]
    async fn the_log_is_durable_and_replays_operations_after_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub/audit.log");
        let log = AuditLog::open(&path).expect("open");
        for e in [
            entry("a", Phase::Begin, ""),
            entry("a", Phase::End, "ok"),
            entry("b", Phase::Begin, ""),
            entry("c", Phase::Begin, ""),
            entry("c", Phase::End, "error"),
        ] {
            log.write(e).await.expect("write");
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("o")
            .write_all(b"{\"torn")
            .expect("w");
        let entries = AuditLog::read(&path).expect("read");
        assert_eq!(entries.len(), 5, "torn line skipped");
        let ops = Operations::load(&entries);
        assert!(
            matches!(ops.claim("a", "restart", "kafka-01").await, Claim::Replay(v) if v["started_at_unix_ms"] == 5)
        );
        assert!(matches!(
            ops.claim("b", "restart", "kafka-01").await,
            Claim::OutcomeUnknown { .. }
        ));
        assert!(
            matches!(ops.claim("c", "restart", "kafka-01").await, Claim::Fresh),
            "failed ops may be retried"
        );
        assert!(matches!(
            ops.claim("a", "restart", "kafka-02").await,
            Claim::Conflict { .. }
        ));
    }

    #[tokio::test]
    async fn an_interrupted_operation_stays_refused_after_recovery_ended_it() {
        let mut recovered = entry("d", Phase::End, INTERRUPTED);
        recovered.detail = "started again".into();
        let ops = Operations::load(&[
            entry("b", Phase::Begin, ""),
            entry("d", Phase::Begin, ""),
            recovered,
        ]);
        let pending: Vec<String> = ops
            .interrupted()
            .into_iter()
            .map(|i| i.operation_id)
            .collect();
        assert_eq!(pending, ["b"], "only what recovery has not ended yet");
        ops.recovered("b", "running as before");
        assert!(ops.interrupted().is_empty());
        for id in ["b", "d"] {
            assert!(
                matches!(
                    ops.claim(id, "restart", "kafka-01").await,
                    Claim::OutcomeUnknown {
                        recovered: Some(_),
                        ..
                    }
                ),
                "a retry of {id} is refused, never carried out afresh"
            );
        }
    }

    #[test]
    fn refusals_are_written_up_to_the_budget_per_minute_and_the_rest_counted() {
        let t0 = std::time::Instant::now();
        let mut w = RefusalWindow::new(t0);
        let per = RefusalBudget::PER_MINUTE;
        for _ in 0..per {
            assert_eq!(w.admit(t0), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(w.admit(t0 + std::time::Duration::from_secs(59)), None);
        }
        assert_eq!(
            w.admit(t0 + std::time::Duration::from_secs(60)),
            Some(5),
            "the next window's first line says how many were left out"
        );
        assert_eq!(w.admit(t0 + std::time::Duration::from_secs(61)), Some(0));
    }

    #[tokio::test]
    async fn a_concurrent_duplicate_waits_for_the_first_and_replays_it() {
        let ops = Arc::new(Operations::default());
        assert!(matches!(ops.claim("x", "restart", "c").await, Claim::Fresh));
        let twin = {
            let ops = Arc::clone(&ops);
            tokio::spawn(async move { ops.claim("x", "restart", "c").await })
        };
        tokio::task::yield_now().await;
        ops.finish("x", Ok(serde_json::json!(7)));
        let got = twin.await.expect("join");
        assert!(matches!(got, Claim::Replay(v) if v == 7));
    }
}
