//! What Kafka Connect's REST API answers, as kroll reads it.

use std::collections::BTreeMap;
use std::fmt;

use kroll_migrate::Config;
use serde::{Deserialize, Deserializer, Serialize};

/// `GET /` of a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// `7.7.1-ccs` on Confluent images, `3.7.1` on Apache Kafka.
    pub version: String,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub kafka_cluster_id: Option<String>,
}

/// A Kafka version (`major.minor.patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KafkaVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KafkaVersion {
    /// Parses `3.7.1`, `3.7`, `3.7.1-SNAPSHOT`, and Confluent Platform versions (`7.7.1-ccs`),
    /// which name the platform rather than the Kafka release inside it.
    pub fn from_worker_version(text: &str) -> Option<Self> {
        let core = text.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().flatten().unwrap_or(0);
        let confluent = text.contains("-ccs") || text.contains("-ce") || major >= 5;
        let (major, minor) = match (confluent, major) {
            (false, _) => (major, minor),
            // Confluent Platform 5.m ships Kafka 2.m, 6.m Kafka 2.(6+m), 7.m 3.m, 8.m 4.m.
            (true, 5) => (2, minor),
            (true, 6) => (2, 6 + minor),
            (true, 7) => (3, minor),
            (true, 8) => (4, minor),
            (true, _) => return None,
        };
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    /// Whether `PUT /connectors/{n}/stop` exists (Kafka 3.5, KIP-875).
    pub fn supports_stop(self) -> bool {
        (self.major, self.minor) >= (3, 5)
    }

    /// Whether `POST /connectors` accepts `initial_state` (Kafka 3.7, KIP-980).
    pub fn supports_initial_state(self) -> bool {
        (self.major, self.minor) >= (3, 7)
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl WorkerInfo {
    /// The Kafka version the worker runs, if its version string is readable.
    pub fn kafka_version(&self) -> Option<KafkaVersion> {
        KafkaVersion::from_worker_version(&self.version)
    }
}

/// A connector's or task's state, as Connect reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Running,
    Paused,
    Stopped,
    Failed,
    Unassigned,
    Restarting,
    /// A state this version of kroll does not know.
    #[serde(other)]
    Unknown,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Stopped => "STOPPED",
            Self::Failed => "FAILED",
            Self::Unassigned => "UNASSIGNED",
            Self::Restarting => "RESTARTING",
            Self::Unknown => "UNKNOWN",
        })
    }
}

/// Source, sink, or unknown (the plugin is not installed on the answering worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
    #[serde(other)]
    Unknown,
}

impl fmt::Display for ConnectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Source => "source",
            Self::Sink => "sink",
            Self::Unknown => "unknown",
        })
    }
}

/// The state a connector is asked to be in (Connect's target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetState {
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Stopped => "STOPPED",
        })
    }
}

/// The connector part of a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorState {
    pub state: State,
    #[serde(default)]
    pub worker_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// One task's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    pub id: i32,
    pub state: State,
    #[serde(default)]
    pub worker_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// `GET /connectors/{n}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: ConnectorState,
    #[serde(default)]
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type", default = "unknown_type")]
    pub kind: ConnectorType,
}

fn unknown_type() -> ConnectorType {
    ConnectorType::Unknown
}

impl ConnectorStatus {
    /// The target state this status implies: paused and stopped connectors were asked to be.
    pub fn target(&self) -> TargetState {
        match self.connector.state {
            State::Paused => TargetState::Paused,
            State::Stopped => TargetState::Stopped,
            _ => TargetState::Running,
        }
    }

    /// The failed tasks (and the connector itself as task `-1` when it failed).
    pub fn failures(&self) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        if self.connector.state == State::Failed {
            out.push((-1, self.connector.trace.clone().unwrap_or_default()));
        }
        for task in &self.tasks {
            if task.state == State::Failed {
                out.push((task.id, task.trace.clone().unwrap_or_default()));
            }
        }
        out
    }

    /// `RUNNING, tasks 0 RUNNING, 1 FAILED`.
    pub fn summary(&self) -> String {
        let tasks: Vec<String> = self
            .tasks
            .iter()
            .map(|t| format!("{} {}", t.id, t.state))
            .collect();
        if tasks.is_empty() {
            format!("{}, no tasks", self.connector.state)
        } else {
            format!("{}, tasks {}", self.connector.state, tasks.join(", "))
        }
    }
}

/// A connector with its config, type and status (`GET /connectors?expand=info&expand=status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    pub name: String,
    pub kind: ConnectorType,
    pub config: Config,
    pub status: ConnectorStatus,
}

/// Which task an entry of `GET /connectors/{n}/tasks` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskId {
    pub connector: String,
    pub task: i32,
}

/// One task's configuration as Connect stores it (`GET /connectors/{n}/tasks`): generated from
/// the connector config by the running connector, so it lags a config change made while the
/// connector was paused, and is empty while it is stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskConfig {
    pub id: TaskId,
    #[serde(deserialize_with = "scalar_config")]
    pub config: Config,
}

/// One key's outcome of `PUT /connector-plugins/{class}/config/validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedKey {
    pub name: String,
    pub errors: Vec<String>,
}

/// The outcome of a validation: how many errors, and which keys carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    pub error_count: u32,
    /// Only the keys with errors.
    pub errors: Vec<ValidatedKey>,
}

/// The wire shape of a validation answer.
#[derive(Debug, Deserialize)]
pub(crate) struct ValidationWire {
    pub error_count: u32,
    #[serde(default)]
    pub configs: Vec<ValidationEntry>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ValidationEntry {
    pub value: ValidationValue,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ValidationValue {
    pub name: String,
    #[serde(default)]
    pub errors: Vec<String>,
}

impl From<ValidationWire> for Validation {
    fn from(wire: ValidationWire) -> Self {
        let errors = wire
            .configs
            .into_iter()
            .filter(|c| !c.value.errors.is_empty())
            .map(|c| ValidatedKey {
                name: c.value.name,
                errors: c.value.errors,
            })
            .collect();
        Self {
            error_count: wire.error_count,
            errors,
        }
    }
}

/// A connector config as Connect returns it; numbers and booleans become text, nulls are dropped.
pub(crate) fn scalar_config<'de, D: Deserializer<'de>>(d: D) -> Result<Config, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect())
}

/// `info` of an expanded listing.
#[derive(Debug, Deserialize)]
pub(crate) struct InfoWire {
    #[serde(deserialize_with = "scalar_config")]
    pub config: Config,
    #[serde(rename = "type", default = "unknown_type")]
    pub kind: ConnectorType,
}

/// One entry of an expanded listing.
#[derive(Debug, Deserialize)]
pub(crate) struct ExpandedWire {
    pub info: InfoWire,
    pub status: ConnectorStatus,
}

/// A config wrapper for deserializing `GET /connectors/{n}/config`.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct ConfigWire(#[serde(deserialize_with = "scalar_config")] pub Config);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_versions_map_to_kafka_versions() {
        let v = |s: &str| KafkaVersion::from_worker_version(s).map(|v| v.to_string());
        assert_eq!(v("7.1.1-ccs").as_deref(), Some("3.1.1"));
        assert_eq!(v("7.7.1-ccs").as_deref(), Some("3.7.1"));
        assert_eq!(v("3.6.0").as_deref(), Some("3.6.0"));
        assert_eq!(v("3.7").as_deref(), Some("3.7.0"));
        assert_eq!(v("8.0.0-ccs").as_deref(), Some("4.0.0"));
        assert_eq!(v("6.2.4-ccs").as_deref(), Some("2.8.4"));
        assert_eq!(v("garbage"), None);
        let stop =
            |s: &str| KafkaVersion::from_worker_version(s).is_some_and(KafkaVersion::supports_stop);
        assert!(!stop("7.1.1-ccs"));
        assert!(!stop("3.4.1"));
        assert!(stop("7.5.0-ccs"));
        assert!(stop("7.7.1-ccs"));
    }

    #[test]
    fn status_parses_connects_json_and_summarises() {
        let json = r#"{"name":"s","connector":{"state":"RUNNING","worker_id":"w:8083"},
            "tasks":[{"id":0,"state":"FAILED","worker_id":"w:8083","trace":"boom"},{"id":1,"state":"NEW_STATE"}],
            "type":"source"}"#;
        let s: ConnectorStatus = serde_json::from_str(json).expect("status");
        assert_eq!(s.kind, ConnectorType::Source);
        assert_eq!(s.tasks[1].state, State::Unknown);
        assert_eq!(s.failures(), vec![(0, "boom".to_owned())]);
        assert_eq!(s.summary(), "RUNNING, tasks 0 FAILED, 1 UNKNOWN");
        assert_eq!(s.target(), TargetState::Running);
    }

    #[test]
    fn configs_with_numbers_are_read_as_text() {
        let c: ConfigWire =
            serde_json::from_str(r#"{"tasks.max":1,"a":"b","n":null,"t":true}"#).expect("config");
        assert_eq!(c.0.get("tasks.max").map(String::as_str), Some("1"));
        assert_eq!(c.0.get("t").map(String::as_str), Some("true"));
        assert!(!c.0.contains_key("n"));
    }
}
