//! The quiesce record: which connectors kroll paused or stopped, so that resume restores
//! exactly that state and never resumes what the operator had halted.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::connect::api::WorkerProbe;
use crate::connect::types::{ConnectorType, State};
use crate::files::{FileError, create_dir_all, read_json_if_present, write_json_atomic};
use crate::kafka::GroupLag;

/// How kroll halts connectors: pause (every version) or stop (Kafka 3.5+: tasks shut down,
/// shown as PAUSED to older workers during a rolling upgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HaltMethod {
    Pause,
    Stop,
}

impl std::fmt::Display for HaltMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pause => "pause",
            Self::Stop => "stop",
        })
    }
}

/// What kroll does with a connector when quiescing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "handling")]
pub enum Handling {
    /// kroll halts it (and resume restarts it); `done` once the request went through.
    Halted { method: HaltMethod, done: bool },
    /// The operator had paused or stopped it: left alone, never resumed by kroll.
    LeftAlone,
}

/// One connector in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuiescedConnector {
    pub name: String,
    pub kind: ConnectorType,
    /// Its state before kroll touched it.
    pub state_before: State,
    /// How many tasks it had then.
    pub tasks_before: usize,
    #[serde(flatten)]
    pub handling: Handling,
}

impl QuiescedConnector {
    /// Whether kroll halts it.
    pub fn halted_by_kroll(&self) -> bool {
        matches!(self.handling, Handling::Halted { .. })
    }

    /// Whether it is handled with the sources (everything that is not known to be a sink:
    /// an unknown type is halted first, like a source).
    pub fn is_source_like(&self) -> bool {
        self.kind != ConnectorType::Sink
    }
}

/// How far a quiesce got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuiescePhase {
    /// Intent recorded; halting sources.
    HaltingSources,
    /// Sources halted; waiting for the sinks' lag to reach 0.
    WaitingForSinks,
    /// Sinks caught up; halting them.
    HaltingSinks,
    /// Everything halted.
    Quiesced,
    /// Resumed afterwards.
    Resumed,
}

/// The record of a quiesce, saved in the run directory after every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuiesceRecord {
    pub started_unix_ms: i64,
    pub method: HaltMethod,
    pub phase: QuiescePhase,
    pub workers: Vec<WorkerProbe>,
    pub connectors: Vec<QuiescedConnector>,
    /// The sinks' lag when they were halted (all 0 after a complete quiesce).
    #[serde(default)]
    pub sink_lag: Vec<GroupLag>,
}

impl QuiesceRecord {
    /// The connectors kroll halted, sources (and unknown types) first, then sinks.
    pub fn halted_by_kroll(&self) -> impl Iterator<Item = &QuiescedConnector> {
        let sources = self
            .connectors
            .iter()
            .filter(|c| c.halted_by_kroll() && c.is_source_like());
        let sinks = self
            .connectors
            .iter()
            .filter(|c| c.halted_by_kroll() && !c.is_source_like());
        sources.chain(sinks)
    }

    /// Writes the record atomically as `dir/quiesce.json`.
    pub fn save(&self, dir: &Path) -> Result<(), FileError> {
        create_dir_all(dir)?;
        write_json_atomic(dir, RECORD_FILE, self).map(drop)
    }

    /// Reads `dir/quiesce.json`, if there is one.
    pub fn load(dir: &Path) -> Result<Option<Self>, FileError> {
        read_json_if_present(&dir.join(RECORD_FILE), |e| {
            format!("not a kroll quiesce record: {e}")
        })
    }
}

/// The record's file name in the run directory.
pub const RECORD_FILE: &str = "quiesce.json";
