//! The Kafka Connect operations kroll uses, behind a trait so the logic built on them
//! (backup, quiesce, resume, migration) is unit-tested with a fake and run for real against
//! [`crate::connect::ConnectClients`].

use std::collections::BTreeMap;
use std::future::Future;

use kroll_migrate::Config;
use serde::{Deserialize, Serialize};

use crate::connect::types::{
    Connector, ConnectorStatus, KafkaVersion, TargetState, TaskConfig, Validation, WorkerInfo,
};
use crate::rest::RestError;

/// One worker's answer to `GET /`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerProbe {
    /// The worker's label (its container name in the inventory).
    pub worker: String,
    /// Its base URL.
    pub url: String,
    /// Its answer, or why there was none.
    pub info: Result<WorkerInfo, String>,
}

impl WorkerProbe {
    /// The Kafka version the worker runs, if it answered readably.
    pub fn kafka_version(&self) -> Option<KafkaVersion> {
        self.info.as_ref().ok().and_then(WorkerInfo::kafka_version)
    }
}

/// The lowest Kafka version among the workers that answered, and whether all did.
pub fn lowest_version(workers: &[WorkerProbe]) -> (Option<KafkaVersion>, bool) {
    let versions: Vec<Option<KafkaVersion>> =
        workers.iter().map(WorkerProbe::kafka_version).collect();
    let all = versions.iter().all(Option::is_some);
    (versions.into_iter().flatten().min(), all)
}

/// A Kafka Connect cluster (any worker answers for any connector).
pub trait ConnectApi: Sync {
    /// `GET /` of every worker.
    fn workers(&self) -> impl Future<Output = Vec<WorkerProbe>> + Send;

    /// Every connector with config, type and status.
    fn connectors(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, Connector>, RestError>> + Send;

    /// One connector's status.
    fn status(&self, name: &str)
    -> impl Future<Output = Result<ConnectorStatus, RestError>> + Send;

    /// One connector's config.
    fn config(&self, name: &str) -> impl Future<Output = Result<Config, RestError>> + Send;

    /// The configurations its tasks run with (`GET /connectors/{n}/tasks`).
    fn tasks(&self, name: &str) -> impl Future<Output = Result<Vec<TaskConfig>, RestError>> + Send;

    /// Creates or replaces a connector's config (`PUT /connectors/{n}/config`).
    fn put_config(
        &self,
        name: &str,
        config: &Config,
    ) -> impl Future<Output = Result<(), RestError>> + Send;

    /// Creates a connector (`POST /connectors`), in `initial` state where the worker supports it.
    fn create(
        &self,
        name: &str,
        config: &Config,
        initial: Option<TargetState>,
    ) -> impl Future<Output = Result<(), RestError>> + Send;

    /// `PUT /connectors/{n}/pause`.
    fn pause(&self, name: &str) -> impl Future<Output = Result<(), RestError>> + Send;

    /// `PUT /connectors/{n}/resume`.
    fn resume(&self, name: &str) -> impl Future<Output = Result<(), RestError>> + Send;

    /// `PUT /connectors/{n}/stop` (Kafka 3.5+).
    fn stop(&self, name: &str) -> impl Future<Output = Result<(), RestError>> + Send;

    /// `PUT /connector-plugins/{class}/config/validate`.
    fn validate(
        &self,
        class: &str,
        config: &Config,
    ) -> impl Future<Output = Result<Validation, RestError>> + Send;
}

/// Puts a connector into `target` state (pause, resume or stop).
pub async fn set_target(
    connect: &impl ConnectApi,
    name: &str,
    target: TargetState,
) -> Result<(), RestError> {
    match target {
        TargetState::Running => connect.resume(name).await,
        TargetState::Paused => connect.pause(name).await,
        TargetState::Stopped => connect.stop(name).await,
    }
}
