//! In-memory Connect for unit tests of the logic built on it (Kafka: [`crate::kafka::fake`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use kroll_migrate::Config;

use crate::connect::api::{ConnectApi, WorkerProbe};
use crate::connect::types::{
    Connector, ConnectorState, ConnectorStatus, ConnectorType, State, TargetState, TaskConfig,
    TaskId, TaskState, ValidatedKey, Validation, WorkerInfo,
};
use crate::rest::RestError;

/// One fake connector.
#[derive(Debug, Clone)]
pub(crate) struct FakeConnector {
    pub config: Config,
    pub kind: ConnectorType,
    pub target: TargetState,
    /// A task trace: the task shows FAILED.
    pub failed: Option<String>,
    pub tasks: usize,
    /// Status calls that still show the previous state after a target change.
    pub lagging_polls: u32,
    shown: State,
    /// The configurations its tasks run with (Connect's task configs): regenerated from
    /// `config` only while the connector runs, emptied by stop.
    pub task_configs: Vec<Config>,
    /// The running connector has yet to regenerate its task configs: the next answer still
    /// shows the old ones (and tasks running them), then they are replaced.
    regenerate: bool,
}

/// A config from `(key, value)` pairs.
pub(crate) fn config(pairs: &[(&str, &str)]) -> Config {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl FakeConnector {
    pub fn new(kind: ConnectorType, target: TargetState, pairs: &[(&str, &str)]) -> Self {
        let mut c = Self {
            config: config(pairs),
            kind,
            target,
            failed: None,
            tasks: 1,
            lagging_polls: 0,
            shown: State::Running,
            task_configs: Vec::new(),
            regenerate: false,
        };
        c.shown = c.state_for_target(true);
        if target != TargetState::Stopped {
            c.task_configs = c.generated();
        }
        c
    }

    /// What the running connector would generate from its config now.
    fn generated(&self) -> Vec<Config> {
        let mut task = self.config.clone();
        if let Some(class) = self.config.get("connector.class") {
            task.insert("task.class".into(), format!("{class}Task"));
        }
        vec![task; self.tasks]
    }

    /// After an answer: a running connector replaces its task configs (tasks restart on them).
    fn settle(&mut self) {
        if std::mem::take(&mut self.regenerate) && self.target == TargetState::Running {
            self.task_configs = self.generated();
        }
    }

    fn state_for_target(&self, stop: bool) -> State {
        match self.target {
            TargetState::Running => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped if stop => State::Stopped,
            TargetState::Stopped => State::Paused,
        }
    }
}

/// What the fake Connect cluster holds and records.
#[derive(Debug, Default)]
pub(crate) struct FakeState {
    pub connectors: BTreeMap<String, FakeConnector>,
    /// Every mutating call, in order (`pause x`, `put_config x`, …).
    pub calls: Vec<String>,
    /// connector name → (key, error) the validation reports for it.
    pub invalid: BTreeMap<String, Vec<(String, String)>>,
    /// Connectors whose `put_config` fails.
    pub put_fails: BTreeSet<String>,
    /// Connectors that fail (task trace) as soon as they are resumed.
    pub fail_on_resume: BTreeMap<String, String>,
    /// The workers' plugin check of a task config: a running task whose config it refuses
    /// shows FAILED with the returned trace (e.g. a Debezium 1.9 config on a 3.0 worker).
    pub task_check: Option<fn(&Config) -> Option<String>>,
}

/// A fake Connect cluster of workers running `versions`.
#[derive(Debug)]
pub(crate) struct FakeConnect {
    pub versions: Vec<Option<String>>,
    pub state: Mutex<FakeState>,
}

impl FakeConnect {
    pub fn new(version: &str, connectors: Vec<(&str, FakeConnector)>) -> Self {
        let state = FakeState {
            connectors: connectors
                .into_iter()
                .map(|(n, c)| (n.to_owned(), c))
                .collect(),
            ..FakeState::default()
        };
        Self {
            versions: vec![Some(version.to_owned())],
            state: Mutex::new(state),
        }
    }

    fn supports_stop(&self) -> bool {
        self.versions.iter().all(|v| {
            v.as_deref()
                .and_then(crate::connect::KafkaVersion::from_worker_version)
                .is_some_and(|k| k.supports_stop())
        })
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn not_found(name: &str) -> RestError {
        RestError::answered(
            "Connect worker fake",
            "GET",
            &format!("/connectors/{name}"),
            404,
            &format!("Connector {name} not found"),
        )
    }

    fn target(&self, name: &str, target: TargetState) -> Result<(), RestError> {
        let stop = self.supports_stop();
        let mut s = self.lock();
        let verb = format!("{target}").to_lowercase();
        s.calls.push(format!("{verb} {name}"));
        let fail = s
            .fail_on_resume
            .get(name)
            .cloned()
            .filter(|_| target == TargetState::Running);
        let c = s
            .connectors
            .get_mut(name)
            .ok_or_else(|| Self::not_found(name))?;
        c.target = target;
        if fail.is_some() {
            c.failed = fail;
        }
        match target {
            TargetState::Running => c.regenerate = true,
            TargetState::Stopped if stop => c.task_configs.clear(),
            _ => {}
        }
        if c.lagging_polls == 0 {
            c.shown = c.state_for_target(stop);
        }
        Ok(())
    }

    fn status_of(
        name: &str,
        c: &mut FakeConnector,
        stop: bool,
        check: Option<fn(&Config) -> Option<String>>,
    ) -> ConnectorStatus {
        if c.lagging_polls > 0 {
            c.lagging_polls -= 1;
        } else {
            c.shown = c.state_for_target(stop);
        }
        let tasks = if c.shown == State::Stopped {
            Vec::new()
        } else {
            c.task_configs.clone()
        };
        let status = ConnectorStatus {
            name: name.to_owned(),
            connector: ConnectorState {
                state: c.shown,
                worker_id: "fake:8083".into(),
                trace: None,
            },
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(i, config)| {
                    let refused = (c.shown == State::Running)
                        .then(|| check.and_then(|f| f(config)))
                        .flatten();
                    let trace = c.failed.clone().or(refused);
                    TaskState {
                        id: i32::try_from(i).unwrap_or(0),
                        state: if trace.is_some() {
                            State::Failed
                        } else {
                            c.shown
                        },
                        worker_id: "fake:8083".into(),
                        trace,
                    }
                })
                .collect(),
            kind: c.kind,
        };
        c.settle();
        status
    }
}

impl ConnectApi for FakeConnect {
    async fn workers(&self) -> Vec<WorkerProbe> {
        self.versions
            .iter()
            .enumerate()
            .map(|(i, v)| WorkerProbe {
                worker: format!("connect-0{}", i + 1),
                url: format!("fake://connect-0{}", i + 1),
                info: v
                    .clone()
                    .map(|version| WorkerInfo {
                        version,
                        commit: None,
                        kafka_cluster_id: None,
                    })
                    .ok_or_else(|| "unreachable".to_owned()),
            })
            .collect()
    }

    async fn connectors(&self) -> Result<BTreeMap<String, Connector>, RestError> {
        let stop = self.supports_stop();
        let mut s = self.lock();
        let check = s.task_check;
        Ok(s.connectors
            .iter_mut()
            .map(|(n, c)| {
                let status = Self::status_of(n, c, stop, check);
                (
                    n.clone(),
                    Connector {
                        name: n.clone(),
                        kind: c.kind,
                        config: c.config.clone(),
                        status,
                    },
                )
            })
            .collect())
    }

    async fn status(&self, name: &str) -> Result<ConnectorStatus, RestError> {
        let stop = self.supports_stop();
        let mut s = self.lock();
        let check = s.task_check;
        let c = s
            .connectors
            .get_mut(name)
            .ok_or_else(|| Self::not_found(name))?;
        Ok(Self::status_of(name, c, stop, check))
    }

    async fn tasks(&self, name: &str) -> Result<Vec<TaskConfig>, RestError> {
        let mut s = self.lock();
        let c = s
            .connectors
            .get_mut(name)
            .ok_or_else(|| Self::not_found(name))?;
        let out = c
            .task_configs
            .iter()
            .enumerate()
            .map(|(i, config)| TaskConfig {
                id: TaskId {
                    connector: name.to_owned(),
                    task: i32::try_from(i).unwrap_or(0),
                },
                config: config.clone(),
            })
            .collect();
        c.settle();
        Ok(out)
    }

    async fn config(&self, name: &str) -> Result<Config, RestError> {
        self.lock()
            .connectors
            .get(name)
            .map(|c| c.config.clone())
            .ok_or_else(|| Self::not_found(name))
    }

    async fn put_config(&self, name: &str, config: &Config) -> Result<(), RestError> {
        let mut s = self.lock();
        s.calls.push(format!("put_config {name}"));
        if s.put_fails.contains(name) {
            return Err(RestError::answered(
                "Connect worker fake",
                "PUT",
                &format!("/connectors/{name}/config"),
                500,
                "boom",
            ));
        }
        let entry = s.connectors.entry(name.to_owned()).or_insert_with(|| {
            FakeConnector::new(ConnectorType::Source, TargetState::Running, &[])
        });
        entry.config = config.clone();
        // A running connector restarts on its new config; a halted one keeps its task configs.
        entry.regenerate = entry.target == TargetState::Running;
        Ok(())
    }

    async fn create(
        &self,
        name: &str,
        config: &Config,
        initial: Option<TargetState>,
    ) -> Result<(), RestError> {
        let mut s = self.lock();
        s.calls.push(format!("create {name}"));
        let mut c = FakeConnector::new(
            ConnectorType::Source,
            initial.unwrap_or(TargetState::Running),
            &[],
        );
        c.config = config.clone();
        if c.target != TargetState::Stopped {
            c.task_configs = c.generated();
        }
        s.connectors.insert(name.to_owned(), c);
        Ok(())
    }

    async fn pause(&self, name: &str) -> Result<(), RestError> {
        self.target(name, TargetState::Paused)
    }

    async fn resume(&self, name: &str) -> Result<(), RestError> {
        self.target(name, TargetState::Running)
    }

    async fn stop(&self, name: &str) -> Result<(), RestError> {
        self.target(name, TargetState::Stopped)
    }

    async fn validate(&self, _class: &str, config: &Config) -> Result<Validation, RestError> {
        let mut s = self.lock();
        let name = config.get("name").cloned().unwrap_or_default();
        s.calls.push(format!("validate {name}"));
        let errors: Vec<ValidatedKey> = s
            .invalid
            .get(&name)
            .map(|list| {
                list.iter()
                    .map(|(k, e)| ValidatedKey {
                        name: k.clone(),
                        errors: vec![e.clone()],
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Validation {
            error_count: u32::try_from(errors.len()).unwrap_or(0),
            errors,
        })
    }
}
