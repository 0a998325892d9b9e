//! Resuming Connect after an upgrade: the connectors kroll halted — sources first, checked
//! RUNNING (the connector and every task), then sinks — and nothing else. Connectors the
//! upgrade migrated are first made to drop task configurations from before the migration
//! ([`crate::connect::handover`]), and count as running only once their tasks carry the
//! migrated config.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::connect::api::ConnectApi;
use crate::connect::handover::{
    HandoverError, Migrated, TaskConfigs, clear_stale_tasks, judge, wait_task_configs,
};
use crate::connect::record::{QuiesceRecord, QuiescedConnector};
use crate::connect::types::{ConnectorStatus, State};
use crate::progress::Progress;
use crate::rest::RestError;

/// Bounds of a resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeOptions {
    /// How long resumed connectors get to show RUNNING.
    pub timeout: Duration,
    pub poll: Duration,
}

impl Default for ResumeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            poll: Duration::from_millis(500),
        }
    }
}

/// A connector's state after resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumedConnector {
    pub name: String,
    /// `RUNNING, tasks 0 RUNNING`.
    pub status: String,
    /// Failed before kroll halted it, and failed still (not kroll's doing; reported).
    pub failed_before: bool,
}

/// What resume did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeReport {
    pub resumed: Vec<ResumedConnector>,
    /// Migrated connectors stopped before the resume because their tasks still carried the
    /// config from before the migration.
    #[serde(default)]
    pub stopped_first: Vec<String>,
    /// Connectors the operator had halted before the quiesce: left as they are.
    pub left_alone: Vec<String>,
}

/// A connector that failed after resume, with its traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedConnector {
    pub name: String,
    pub status: String,
    /// `(task, trace)`; task `-1` is the connector itself.
    pub traces: Vec<(i32, String)>,
}

/// Why a resume halted.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The migrated configs could not be handed to the tasks; nothing was resumed, or (after
    /// resume) the tasks never showed the migrated config.
    #[error(transparent)]
    Handover(#[from] HandoverError),
    /// Connectors failed; the sinks were not resumed if a source failed.
    #[error("{}", describe_failed(.failed, .not_resumed))]
    Failed {
        failed: Vec<FailedConnector>,
        not_resumed: Vec<String>,
    },
    /// Connectors did not reach RUNNING in time.
    #[error("connectors not RUNNING after {timeout:?}: {}{}", .connectors.join("; "), not_resumed_text(.not_resumed))]
    NotRunning {
        timeout: Duration,
        connectors: Vec<String>,
        not_resumed: Vec<String>,
    },
}

fn not_resumed_text(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!("; not resumed yet: {}", names.join(", "))
    }
}

fn describe_failed(failed: &[FailedConnector], not_resumed: &[String]) -> String {
    let mut out = format!("{} connector(s) FAILED after resume:", failed.len());
    for f in failed {
        let _ = write!(out, "\n  {} ({})", f.name, f.status);
        for (task, trace) in &f.traces {
            let who = if *task < 0 {
                "connector".to_owned()
            } else {
                format!("task {task}")
            };
            let first = trace.lines().take(3).collect::<Vec<_>>().join("\n      ");
            let _ = write!(out, "\n    {who}: {first}");
            if trace.contains("error code: 409")
                || trace.contains("incompatible with an earlier schema")
            {
                out.push_str("\n    hint: a value schema the registry refused; see `kroll connectors migrate --allow-incompatible-values`");
            }
        }
    }
    out.push_str(&not_resumed_text(not_resumed));
    out.push_str("\nFix the cause (restart with POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true) and run resume again.");
    out
}

/// Whether the connector and every task run (and it has tasks, if it had before).
fn is_running(status: &ConnectorStatus, tasks_before: usize) -> bool {
    status.connector.state == State::Running
        && (tasks_before == 0 || !status.tasks.is_empty())
        && status.tasks.iter().all(|t| t.state == State::Running)
}

/// Where a migrated connector's tasks stand (`None`: not migrated, nothing to check).
async fn task_configs(
    connect: &impl ConnectApi,
    name: &str,
    migrated: &[Migrated],
) -> Result<Option<TaskConfigs>, RestError> {
    match migrated.iter().find(|m| m.name == name) {
        Some(m) => Ok(Some(judge(m, &connect.tasks(name).await?))),
        None => Ok(None),
    }
}

/// Resumes `group` and waits until each runs (a migrated one: on its migrated config); a
/// connector failing on its current config ends the wait.
async fn resume_group(
    connect: &impl ConnectApi,
    group: &[&QuiescedConnector],
    options: &ResumeOptions,
    later: &[String],
    migrated: &[Migrated],
) -> Result<Vec<ResumedConnector>, ResumeError> {
    for c in group {
        connect.resume(&c.name).await?;
    }
    let deadline = Instant::now() + options.timeout;
    loop {
        let (mut done, mut waiting, mut failed) = (Vec::new(), Vec::new(), Vec::new());
        for c in group {
            let status = connect.status(&c.name).await?;
            let failures = status.failures();
            let failed_before = c.state_before == State::Failed;
            let tasks = task_configs(connect, &c.name, migrated).await?;
            if let Some(stale @ (TaskConfigs::Empty | TaskConfigs::Stale { .. })) = &tasks {
                // Not on the migrated config yet: whatever its tasks do now is not the verdict.
                waiting.push(format!(
                    "{}: {} (task configurations: {})",
                    c.name,
                    status.summary(),
                    match stale {
                        TaskConfigs::Stale { task, keys } =>
                            format!("task {task} not migrated on {}", keys.join(", ")),
                        _ => "none yet".to_owned(),
                    }
                ));
            } else if is_running(&status, c.tasks_before) || (failed_before && !failures.is_empty())
            {
                done.push(ResumedConnector {
                    name: c.name.clone(),
                    status: status.summary(),
                    failed_before,
                });
            } else if !failures.is_empty() {
                failed.push(FailedConnector {
                    name: c.name.clone(),
                    status: status.summary(),
                    traces: failures,
                });
            } else {
                waiting.push(format!("{}: {}", c.name, status.summary()));
            }
        }
        if !failed.is_empty() {
            return Err(ResumeError::Failed {
                failed,
                not_resumed: later.to_vec(),
            });
        }
        if waiting.is_empty() {
            return Ok(done);
        }
        if Instant::now() >= deadline {
            return Err(ResumeError::NotRunning {
                timeout: options.timeout,
                connectors: waiting,
                not_resumed: later.to_vec(),
            });
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// Resumes what `record` says kroll halted: sources (and connectors of unknown type) first,
/// verified RUNNING — connector and every task — then sinks. Connectors the operator had
/// halted stay as they are. Of `migrated` (the connectors the upgrade migrated), those kroll
/// halted are first stopped where their tasks still carry the old config (so no task starts on
/// it), and count as running only once their tasks carry the migrated config. Running it again
/// after a failure is safe.
pub async fn resume(
    connect: &impl ConnectApi,
    record: &QuiesceRecord,
    options: &ResumeOptions,
    migrated: &[Migrated],
    progress: Progress<'_>,
) -> Result<ResumeReport, ResumeError> {
    let ours: Vec<&Migrated> = migrated
        .iter()
        .filter(|m| record.halted_by_kroll().any(|c| c.name == m.name))
        .collect();
    let stopped_first =
        clear_stale_tasks(connect, &ours, options.timeout, options.poll, progress).await?;
    let sources: Vec<&QuiescedConnector> = record
        .halted_by_kroll()
        .filter(|c| c.is_source_like())
        .collect();
    let sinks: Vec<&QuiescedConnector> = record
        .halted_by_kroll()
        .filter(|c| !c.is_source_like())
        .collect();
    let sink_names: Vec<String> = sinks.iter().map(|c| c.name.clone()).collect();
    let mut resumed = resume_group(connect, &sources, options, &sink_names, migrated).await?;
    progress(&format!("{} source(s) running.", resumed.len()));
    resumed.extend(resume_group(connect, &sinks, options, &[], migrated).await?);
    // Every task of a migrated connector carries the migrated config (checked once more, all
    // together, now that everything runs).
    wait_task_configs(connect, &ours, true, options.timeout, options.poll).await?;
    progress(&format!("{} sink(s) running.", sinks.len()));
    let left_alone = record
        .connectors
        .iter()
        .filter(|c| !c.halted_by_kroll())
        .map(|c| c.name.clone())
        .collect();
    Ok(ResumeReport {
        resumed,
        stopped_first,
        left_alone,
    })
}
