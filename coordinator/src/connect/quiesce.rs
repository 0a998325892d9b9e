//! Quiescing Connect before an upgrade (the journal's "Connect Preparation"): halt the sources,
//! wait until every running sink's consumer group has lag 0 on its topics — measured in Kafka,
//! bounded in time — then halt the sinks.
//!
//! Sources are paused on Kafka < 3.5 workers (Confluent 7.1 knows nothing else) and stopped
//! on 3.5+ (their tasks shut down). Connectors the operator had already paused or stopped are
//! recorded as such and left alone; resume never starts them. The record is checkpointed before
//! the first request and after every step, so an interrupted quiesce can be resumed or re-run:
//! a re-run keeps treating what the earlier run halted as kroll's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::connect::api::{ConnectApi, WorkerProbe, lowest_version, set_target};
use crate::connect::record::{
    HaltMethod, Handling, QuiescePhase, QuiesceRecord, QuiescedConnector,
};
use crate::connect::types::{Connector, ConnectorStatus, ConnectorType, State, TargetState};
use crate::kafka::{GroupLag, KafkaError, KafkaReader, TopicSelector};
use crate::progress::Progress;
use crate::rest::RestError;

/// Bounds of a quiesce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuiesceOptions {
    /// How long the sinks get to reach lag 0.
    pub lag_timeout: Duration,
    /// How long a paused/stopped connector gets to show it.
    pub state_timeout: Duration,
    /// Poll period.
    pub poll: Duration,
    /// Force pause or stop (default: stop where every worker supports it).
    pub method: Option<HaltMethod>,
}

impl Default for QuiesceOptions {
    fn default() -> Self {
        Self {
            lag_timeout: Duration::from_secs(300),
            state_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            method: None,
        }
    }
}

/// A sink that did not catch up in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaggingSink {
    pub connector: String,
    pub lag: GroupLag,
    /// `RUNNING, tasks 0 RUNNING`.
    pub status: String,
}

/// Why a quiesce halted. The record inside says what kroll had halted by then.
#[derive(Debug, thiserror::Error)]
pub enum QuiesceError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// `stop` was asked for but a worker does not support it.
    #[error(
        "cannot stop connectors: worker {worker} runs Kafka {version}, which only knows pause (stop needs Kafka 3.5 / Confluent 7.5); use --method pause"
    )]
    StopUnsupported { worker: String, version: String },
    /// The sinks did not reach lag 0 in time.
    #[error("{}", describe_lagging(.timeout, .sinks))]
    SinksLagging {
        timeout: Duration,
        sinks: Vec<LaggingSink>,
        record: Box<QuiesceRecord>,
    },
    /// Connectors did not show the paused/stopped state in time.
    #[error("connectors still running {:?} after asking them to halt: {}", .timeout, .connectors.join("; "))]
    NotHalted {
        timeout: Duration,
        connectors: Vec<String>,
        record: Box<QuiesceRecord>,
    },
    /// The record could not be saved; kroll stops rather than act without it.
    #[error("cannot save the quiesce record: {0}")]
    Checkpoint(String),
}

fn describe_lagging(timeout: &Duration, sinks: &[LaggingSink]) -> String {
    let mut out = format!(
        "sink(s) did not catch up within {timeout:?}; the sources stay halted and the sinks keep running:"
    );
    for s in sinks {
        let _ = write!(
            out,
            "\n  {} (group {}, {}): lag {} on {}",
            s.connector,
            s.lag.group,
            s.status,
            s.lag.total(),
            s.lag.describe_lagging()
        );
    }
    out.push_str("\nFix the sink(s) and run quiesce again, or run `kroll connectors resume` to restart the sources.");
    out
}

/// The consumer group of a sink: `consumer.override.group.id`, else `connect-<name>`.
pub fn sink_group(connector: &str, config: &kroll_migrate::Config) -> String {
    config
        .get("consumer.override.group.id")
        .cloned()
        .unwrap_or_else(|| format!("connect-{connector}"))
}

/// The topics a sink reads (`topics.regex` or `topics`).
pub fn sink_topics(config: &kroll_migrate::Config) -> TopicSelector {
    match config.get("topics.regex").filter(|r| !r.trim().is_empty()) {
        Some(re) => TopicSelector::Regex(re.trim().to_owned()),
        None => TopicSelector::Topics(
            config
                .get("topics")
                .map(|t| {
                    t.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        ),
    }
}

/// Stop where every worker answered and supports it; pause otherwise.
fn choose_method(
    workers: &[WorkerProbe],
    forced: Option<HaltMethod>,
) -> Result<HaltMethod, QuiesceError> {
    let (lowest, all) = lowest_version(workers);
    let stop_ok = all && lowest.is_some_and(|v| v.supports_stop());
    match forced {
        Some(HaltMethod::Stop) if !stop_ok => {
            let w = workers
                .iter()
                .find(|w| !w.kafka_version().is_some_and(|v| v.supports_stop()))
                .map_or(("?".into(), "?".into()), |w| {
                    (
                        w.worker.clone(),
                        w.info
                            .as_ref()
                            .map_or_else(|e| format!("unknown ({e})"), |i| i.version.clone()),
                    )
                });
            Err(QuiesceError::StopUnsupported {
                worker: w.0,
                version: w.1,
            })
        }
        Some(method) => Ok(method),
        None if stop_ok => Ok(HaltMethod::Stop),
        None => Ok(HaltMethod::Pause),
    }
}

/// The record entry of a connector, keeping an earlier run's claim on it.
fn entry(c: &Connector, method: HaltMethod, previous: Option<&QuiesceRecord>) -> QuiescedConnector {
    let earlier = previous
        .and_then(|r| r.connectors.iter().find(|p| p.name == c.name))
        .filter(|p| p.halted_by_kroll());
    if let Some(p) = earlier {
        return QuiescedConnector {
            handling: Handling::Halted {
                method,
                done: false,
            },
            ..p.clone()
        };
    }
    let handling = match c.status.target() {
        TargetState::Running => Handling::Halted {
            method,
            done: false,
        },
        TargetState::Paused | TargetState::Stopped => Handling::LeftAlone,
    };
    QuiescedConnector {
        name: c.name.clone(),
        kind: c.kind,
        state_before: c.status.connector.state,
        tasks_before: c.status.tasks.len(),
        handling,
    }
}

/// Whether nothing of the connector runs any more.
pub(crate) fn is_halted(status: &ConnectorStatus) -> bool {
    let quiet = |s: State| {
        matches!(
            s,
            State::Paused | State::Stopped | State::Failed | State::Unassigned
        )
    };
    quiet(status.connector.state) && status.tasks.iter().all(|t| quiet(t.state))
}

/// A callback that saves the record; kroll stops when it fails.
pub type Checkpoint<'a> = &'a mut (dyn FnMut(&QuiesceRecord) -> Result<(), String> + Send);

fn save(checkpoint: &mut Checkpoint<'_>, record: &QuiesceRecord) -> Result<(), QuiesceError> {
    checkpoint(record).map_err(QuiesceError::Checkpoint)
}

/// Halts the connectors of one side (sources or sinks) that kroll handles, then waits for it.
async fn halt_side(
    connect: &impl ConnectApi,
    record: &mut QuiesceRecord,
    sources: bool,
    options: &QuiesceOptions,
    checkpoint: &mut Checkpoint<'_>,
) -> Result<(), QuiesceError> {
    let target = match record.method {
        HaltMethod::Pause => TargetState::Paused,
        HaltMethod::Stop => TargetState::Stopped,
    };
    let mut names = Vec::new();
    for i in 0..record.connectors.len() {
        let c = &record.connectors[i];
        if c.is_source_like() != sources || !c.halted_by_kroll() {
            continue;
        }
        let name = c.name.clone();
        set_target(connect, &name, target).await?;
        record.connectors[i].handling = Handling::Halted {
            method: record.method,
            done: true,
        };
        save(checkpoint, record)?;
        names.push(name);
    }
    wait_halted(connect, &names, options, record).await
}

async fn wait_halted(
    connect: &impl ConnectApi,
    names: &[String],
    options: &QuiesceOptions,
    record: &QuiesceRecord,
) -> Result<(), QuiesceError> {
    let deadline = Instant::now() + options.state_timeout;
    loop {
        let mut running = Vec::new();
        for name in names {
            let status = connect.status(name).await?;
            if !is_halted(&status) {
                running.push(format!("{name}: {}", status.summary()));
            }
        }
        if running.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(QuiesceError::NotHalted {
                timeout: options.state_timeout,
                connectors: running,
                record: Box::new(record.clone()),
            });
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// The lag of every sink kroll is about to halt.
async fn sink_lags(
    kafka: &impl KafkaReader,
    sinks: &[(String, kroll_migrate::Config)],
) -> Result<Vec<(String, GroupLag)>, KafkaError> {
    let mut out = Vec::with_capacity(sinks.len());
    for (name, config) in sinks {
        let lag = kafka
            .group_lag(&sink_group(name, config), &sink_topics(config))
            .await?;
        out.push((name.clone(), lag));
    }
    Ok(out)
}

async fn wait_for_sinks(
    connect: &impl ConnectApi,
    kafka: &impl KafkaReader,
    sinks: &[(String, kroll_migrate::Config)],
    options: &QuiesceOptions,
    record: &mut QuiesceRecord,
    progress: Progress<'_>,
) -> Result<(), QuiesceError> {
    let began = Instant::now();
    let mut last_note = began;
    loop {
        let lags = sink_lags(kafka, sinks).await?;
        let lagging: Vec<&(String, GroupLag)> =
            lags.iter().filter(|(_, l)| l.total() > 0).collect();
        if lagging.is_empty() {
            record.sink_lag = lags.into_iter().map(|(_, l)| l).collect();
            return Ok(());
        }
        if began.elapsed() >= options.lag_timeout {
            let mut stuck = Vec::new();
            for (name, lag) in lagging {
                let status = connect
                    .status(name)
                    .await
                    .map_or_else(|e| e.to_string(), |s| s.summary());
                stuck.push(LaggingSink {
                    connector: name.clone(),
                    lag: lag.clone(),
                    status,
                });
            }
            record.sink_lag = lags.into_iter().map(|(_, l)| l).collect();
            return Err(QuiesceError::SinksLagging {
                timeout: options.lag_timeout,
                sinks: stuck,
                record: Box::new(record.clone()),
            });
        }
        if last_note.elapsed() >= Duration::from_secs(2) {
            last_note = Instant::now();
            let parts: Vec<String> = lagging
                .iter()
                .map(|(n, l)| format!("{n} {}", l.total()))
                .collect();
            progress(&format!(
                "Waiting for {} sink(s) to catch up: lag {}.",
                lagging.len(),
                parts.join(", ")
            ));
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// Quiesces Connect: halts sources, waits for every running sink's lag to reach 0 (bounded),
/// halts the sinks. `previous` is an earlier, interrupted run's record (its connectors stay
/// kroll's); `checkpoint` saves the record before the first request and after every step.
pub async fn quiesce(
    connect: &impl ConnectApi,
    kafka: &impl KafkaReader,
    options: &QuiesceOptions,
    previous: Option<&QuiesceRecord>,
    mut checkpoint: Checkpoint<'_>,
    progress: Progress<'_>,
) -> Result<QuiesceRecord, QuiesceError> {
    let workers = connect.workers().await;
    let method = choose_method(&workers, options.method)?;
    let connectors: BTreeMap<String, Connector> = connect.connectors().await?;
    let previous = previous.filter(|p| p.phase != QuiescePhase::Resumed);
    let mut record = QuiesceRecord {
        started_unix_ms: kroll_shared::time::now_unix_ms(),
        method,
        phase: QuiescePhase::HaltingSources,
        workers,
        connectors: connectors
            .values()
            .map(|c| entry(c, method, previous))
            .collect(),
        sink_lag: Vec::new(),
    };
    save(&mut checkpoint, &record)?;
    halt_side(connect, &mut record, true, options, &mut checkpoint).await?;
    progress(&format!("Sources halted ({method})."));
    record.phase = QuiescePhase::WaitingForSinks;
    save(&mut checkpoint, &record)?;
    let sinks: Vec<(String, kroll_migrate::Config)> = record
        .connectors
        .iter()
        .filter(|c| c.kind == ConnectorType::Sink && c.halted_by_kroll())
        .filter_map(|c| Some((c.name.clone(), connectors.get(&c.name)?.config.clone())))
        .collect();
    wait_for_sinks(connect, kafka, &sinks, options, &mut record, progress).await?;
    record.phase = QuiescePhase::HaltingSinks;
    save(&mut checkpoint, &record)?;
    halt_side(connect, &mut record, false, options, &mut checkpoint).await?;
    record.phase = QuiescePhase::Quiesced;
    save(&mut checkpoint, &record)?;
    progress(&format!(
        "Quiesced: {} connector(s) halted by kroll.",
        record.halted_by_kroll().count()
    ));
    Ok(record)
}

#[cfg(test)]
#[path = "quiesce_tests.rs"]
mod tests;
