//! Connect's health, as the upgrade's post-checks and `kroll status` judge it: every worker
//! answers, and no connector or task is `FAILED`. [`assess`] is pure (observed state →
//! counts and named problems) and table-tested; [`observe`] asks a Connect cluster.
//!
//! A failed Debezium MySQL connector still carrying a 1.9 config (`database.server.name`,
//! `database.history.*`) on workers that run Debezium 3.0 is named as such, with the way out:
//! `kroll connectors migrate`.

use std::collections::BTreeMap;
use std::fmt;

use kroll_migrate::{Config, ConnectorClass};
use kroll_shared::inventory::{Inventory, ServiceKind};
use serde::Serialize;

use crate::connect::api::{ConnectApi, WorkerProbe, lowest_version};
use crate::connect::client::ConnectClients;
use crate::connect::types::{Connector, State};
use crate::rest::RestOptions;

/// What was seen of a Connect cluster at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectObservation {
    /// `GET /` of every worker.
    pub workers: Vec<WorkerProbe>,
    /// Every connector with config and status, or why no worker could list them.
    pub connectors: Result<BTreeMap<String, Connector>, String>,
}

/// One thing wrong with Connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ConnectProblem {
    /// A worker did not answer `GET /`.
    WorkerUnreachable {
        worker: String,
        url: String,
        error: String,
    },
    /// No worker could list the connectors.
    Unreachable { error: String },
    /// A connector (`task: None`) or one of its tasks is FAILED.
    Failed {
        connector: String,
        task: Option<i32>,
        worker: String,
        /// The first line of its trace.
        error: String,
        /// A Debezium 1.9 config on workers running Debezium 3.0.
        legacy_config: bool,
    },
}

impl fmt::Display for ConnectProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WorkerUnreachable { worker, url, error } => {
                write!(
                    f,
                    "Connect worker `{worker}` ({url}) does not answer: {error}"
                )
            }
            Self::Unreachable { error } => {
                write!(f, "Connect cannot list its connectors: {error}")
            }
            Self::Failed {
                connector,
                task,
                worker,
                error,
                legacy_config,
            } => {
                match task {
                    Some(t) => write!(
                        f,
                        "Connect task {connector}-{t} is FAILED on worker {worker}"
                    )?,
                    None => write!(
                        f,
                        "Connect connector {connector} is FAILED on worker {worker}"
                    )?,
                }
                if !error.is_empty() {
                    write!(f, ": {error}")?;
                }
                if *legacy_config {
                    write!(
                        f,
                        " — it still has its Debezium 1.9 config on a Debezium 3.0 worker: migrate it with `kroll connectors migrate` (then restart it)"
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Connect's health in counts and problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectHealth {
    pub workers: usize,
    pub workers_answering: usize,
    pub connectors: usize,
    /// Connectors RUNNING with every task RUNNING.
    pub running: usize,
    /// Connectors PAUSED or STOPPED (someone halted them: not a problem).
    pub halted: Vec<String>,
    pub tasks: usize,
    pub tasks_running: usize,
    pub problems: Vec<ConnectProblem>,
}

impl ConnectHealth {
    /// `5/5 workers answering; 4 connector(s): 4 running, 0 paused/stopped; 4/4 tasks running`.
    pub fn summary(&self) -> String {
        format!(
            "{}/{} workers answering; {} connector(s): {} running, {} paused/stopped; {}/{} tasks running",
            self.workers_answering,
            self.workers,
            self.connectors,
            self.running,
            self.halted.len(),
            self.tasks_running,
            self.tasks
        )
    }
}

/// Whether a Debezium MySQL config is still in its 1.9 shape.
fn legacy_debezium(config: &Config) -> bool {
    kroll_migrate::kind::classify_connector(config) == ConnectorClass::DebeziumMySql
        && ((config.contains_key("database.server.name") && !config.contains_key("topic.prefix"))
            || config.keys().any(|k| k.starts_with("database.history")))
}

/// Whether a failure is Debezium 3.0 refusing a 1.9 config: the config is 1.9-shaped and the
/// trace names a 3.0-only key, or the workers run Kafka 3.7+ (Confluent 7.7+, Debezium 3.0).
fn legacy_failure(config: &Config, trace: &str, debezium3_workers: bool) -> bool {
    legacy_debezium(config)
        && (debezium3_workers
            || ["topic.prefix", "schema.history.internal"]
                .iter()
                .any(|k| trace.contains(k)))
}

fn first_line(trace: &str) -> String {
    trace.lines().next().unwrap_or("").trim().to_owned()
}

/// Judges what was observed (pure).
pub fn assess(obs: &ConnectObservation) -> ConnectHealth {
    let mut problems: Vec<ConnectProblem> = obs
        .workers
        .iter()
        .filter_map(|w| {
            w.info
                .as_ref()
                .err()
                .map(|e| ConnectProblem::WorkerUnreachable {
                    worker: w.worker.clone(),
                    url: w.url.clone(),
                    error: e.clone(),
                })
        })
        .collect();
    let (lowest, _) = lowest_version(&obs.workers);
    let debezium3 = lowest.is_some_and(|v| (v.major, v.minor) >= (3, 7));
    let mut health = ConnectHealth {
        workers: obs.workers.len(),
        workers_answering: obs.workers.iter().filter(|w| w.info.is_ok()).count(),
        connectors: 0,
        running: 0,
        halted: Vec::new(),
        tasks: 0,
        tasks_running: 0,
        problems: Vec::new(),
    };
    let connectors = match &obs.connectors {
        Ok(c) => c,
        Err(error) => {
            problems.push(ConnectProblem::Unreachable {
                error: error.clone(),
            });
            health.problems = problems;
            return health;
        }
    };
    health.connectors = connectors.len();
    for c in connectors.values() {
        let s = &c.status;
        health.tasks += s.tasks.len();
        health.tasks_running += s.tasks.iter().filter(|t| t.state == State::Running).count();
        match s.connector.state {
            State::Paused | State::Stopped => health.halted.push(c.name.clone()),
            State::Running if s.tasks.iter().all(|t| t.state == State::Running) => {
                health.running += 1;
            }
            _ => {}
        }
        let failed = |task: Option<i32>, worker: &str, trace: Option<&String>| {
            let trace = trace.map_or("", String::as_str);
            ConnectProblem::Failed {
                connector: c.name.clone(),
                task,
                worker: worker.to_owned(),
                error: first_line(trace),
                legacy_config: legacy_failure(&c.config, trace, debezium3),
            }
        };
        if s.connector.state == State::Failed {
            problems.push(failed(
                None,
                &s.connector.worker_id,
                s.connector.trace.as_ref(),
            ));
        }
        for t in s.tasks.iter().filter(|t| t.state == State::Failed) {
            problems.push(failed(Some(t.id), &t.worker_id, t.trace.as_ref()));
        }
    }
    health.problems = problems;
    health
}

/// Observes a Connect cluster (the workers concurrently; the connectors only when a worker
/// answered, so that a cluster that is down costs one round of probes, not a failover chain).
pub async fn observe(connect: &impl ConnectApi) -> ConnectObservation {
    let workers = connect.workers().await;
    let connectors = if workers.iter().any(|w| w.info.is_ok()) {
        connect.connectors().await.map_err(|e| e.to_string())
    } else {
        Err("no Connect worker answered".to_owned())
    };
    ConnectObservation {
        workers,
        connectors,
    }
}

/// Observes the inventory's Connect workers; `None` when it lists none with a URL. Settings
/// that cannot be used (an unreadable password file, an unset variable) make every worker a
/// problem that says so, rather than no look at all.
pub async fn observe_inventory(inventory: &Inventory) -> Option<ConnectObservation> {
    let workers: Vec<(String, String)> = inventory
        .services()
        .filter(|p| p.service.kind == ServiceKind::Connect)
        .filter_map(|p| Some((p.service.container.clone(), p.service.url.clone()?)))
        .collect();
    if workers.is_empty() {
        return None;
    }
    match ConnectClients::from_inventory(inventory, RestOptions::look()) {
        Ok(clients) => Some(observe(&clients).await),
        Err(e) => Some(ConnectObservation {
            workers: workers
                .into_iter()
                .map(|(worker, url)| WorkerProbe {
                    worker,
                    url,
                    info: Err(e.to_string()),
                })
                .collect(),
            connectors: Err(e.to_string()),
        }),
    }
}

/// Connect failed the post-checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("post-check: Connect is not healthy ({}):\n  {}", .health.summary(), .health.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
pub struct ConnectUnhealthy {
    pub health: ConnectHealth,
}

impl ConnectUnhealthy {
    /// What the operator should do.
    pub fn advice(&self) -> &'static str {
        if self.health.problems.iter().any(|p| {
            matches!(
                p,
                ConnectProblem::Failed {
                    legacy_config: true,
                    ..
                }
            )
        }) {
            "migrate the named connectors with `kroll connectors migrate` (they still have Debezium 1.9 configs), restart their tasks, then check with `kroll status`"
        } else {
            "fix the named connectors or workers (POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true restarts failed tasks), then check with `kroll status`"
        }
    }
}

/// The post-check: Connect passes when no worker is unreachable and nothing is FAILED.
pub fn post_check(obs: &ConnectObservation) -> Result<ConnectHealth, ConnectUnhealthy> {
    let health = assess(obs);
    if health.problems.is_empty() {
        Ok(health)
    } else {
        Err(ConnectUnhealthy { health })
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
