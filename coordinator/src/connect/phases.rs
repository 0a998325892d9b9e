//! Connect as phases of the upgrade: [`UpgradeConnect`] backs up and quiesces before the
//! first restart, and — after the roll — migrates the connectors (when asked), resumes them,
//! closes the value remedy and verifies the key schema ids. Every file goes to
//! `<run dir>/connect/`; each phase can run again after an interruption.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::backup::{BackupError, backup, write_json_atomic};
use crate::connect::Progress;
use crate::connect::api::{ConnectApi, lowest_version};
use crate::connect::client::{ConnectClients, SetupError};
use crate::connect::migrate_run::{MigrateSettings, run_migration};
use crate::connect::quiesce::{QuiesceOptions, quiesce};
use crate::connect::record::{QuiescePhase, QuiesceRecord};
use crate::connect::resume::{ResumeOptions, resume};
use crate::kafka::{Kafka, KafkaReader};
use crate::registry::drift::{
    DriftCheck, DriftCheckError, DriftCheckOptions, KEY_IDS_FILE, KeyIds, check_key_drift,
};
use crate::registry::values::{REMEDY_FILE, ValueRemedy, close_value_remedy};
use crate::registry::{RegistryApi, RegistryClient};
use crate::rest::{RestError, RestOptions};

/// What the post-resume checks found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostCheck {
    /// Value subjects still at `NONE` (their connector has not registered yet).
    pub remedy_open: Vec<String>,
    /// The key-schema check, when `migrate` recorded ids.
    pub drift: Option<DriftCheck>,
}

/// Why the post-resume checks failed (drift included).
#[derive(Debug, thiserror::Error)]
pub enum PostCheckError {
    #[error(transparent)]
    Drift(#[from] DriftCheckError),
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Files(#[from] BackupError),
}

fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<Option<T>, BackupError> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| BackupError::Corrupt {
                path,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BackupError::Io { path, source }),
    }
}

/// After the connectors resumed: put back the levels of value subjects the connectors have
/// registered, then (bounded by `options`) verify that no key subject got a new schema id.
pub async fn post_resume_checks(
    registry: &impl RegistryApi,
    kafka: &impl KafkaReader,
    dir: &Path,
    options: &DriftCheckOptions,
    progress: Progress<'_>,
) -> Result<PostCheck, PostCheckError> {
    let mut remedy_open = Vec::new();
    if let Some(mut remedy) =
        read::<ValueRemedy>(dir, REMEDY_FILE)?.filter(|r| !r.open().is_empty())
    {
        close_value_remedy(
            registry,
            &mut remedy,
            options.produce_timeout,
            options.poll,
            progress,
        )
        .await?;
        write_json_atomic(dir, REMEDY_FILE, &remedy)?;
        remedy_open = remedy.open().into_iter().map(str::to_owned).collect();
    }
    let drift = match read::<KeyIds>(dir, KEY_IDS_FILE)? {
        Some(before) => Some(check_key_drift(registry, kafka, &before, options, progress).await?),
        None => None,
    };
    Ok(PostCheck { remedy_open, drift })
}

/// Connect's phases of an upgrade run.
#[derive(Debug)]
pub struct UpgradeConnect {
    pub connect: ConnectClients,
    pub registry: RegistryClient,
    pub kafka: Kafka,
    /// Migrate Debezium 1.9 → 3.0 before resuming (`None`: resume the configs as they are).
    pub migrate: Option<MigrateSettings>,
    pub quiesce: QuiesceOptions,
    pub resume: ResumeOptions,
    pub drift: DriftCheckOptions,
}

impl UpgradeConnect {
    /// The phases for the inventory's Connect workers, Schema Registry and brokers.
    pub fn from_inventory(
        inventory: &kroll_shared::inventory::Inventory,
        migrate: Option<MigrateSettings>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            connect: ConnectClients::from_inventory(inventory, RestOptions::default())?,
            registry: RegistryClient::from_inventory(inventory, RestOptions::default())?,
            kafka: Kafka::new(
                &inventory.cluster.kafka_bootstrap,
                std::time::Duration::from_secs(10),
            ),
            migrate,
            quiesce: QuiesceOptions::default(),
            resume: ResumeOptions::default(),
            drift: DriftCheckOptions::default(),
        })
    }

    fn dir(run: &Path) -> PathBuf {
        run.join("connect")
    }

    /// Backs up every connector and schema (once per run), then quiesces.
    pub async fn quiesce_phase(
        &self,
        run: &Path,
        progress: Progress<'_>,
    ) -> Result<String, String> {
        let dir = Self::dir(run);
        let backup_dir = dir.join("backup");
        if !backup_dir.join("manifest.json").exists() {
            backup(&self.connect, &self.registry, &backup_dir, progress)
                .await
                .map_err(|e| e.to_string())?;
        }
        let previous = QuiesceRecord::load(&dir).map_err(|e| e.to_string())?;
        let mut checkpoint = |r: &QuiesceRecord| r.save(&dir).map_err(|e| e.to_string());
        let record = quiesce(
            &self.connect,
            &self.kafka,
            &self.quiesce,
            previous.as_ref(),
            &mut checkpoint,
            progress,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(format!(
            "{} connector(s) halted by kroll ({}); backup in {}",
            record.halted_by_kroll().count(),
            record.method,
            backup_dir.display()
        ))
    }

    /// Migrates (when asked), resumes what quiesce halted, and runs the post-resume checks.
    pub async fn resume_phase(&self, run: &Path, progress: Progress<'_>) -> Result<String, String> {
        let dir = Self::dir(run);
        let mut summary = Vec::new();
        if let Some(settings) = &self.migrate {
            // Debezium 3.0 runs on Confluent 7.7+ (Kafka 3.7) workers only; before that the
            // 1.9 configs are the right ones and stay.
            let (lowest, _) = lowest_version(&self.connect.workers().await);
            if lowest.is_some_and(|v| (v.major, v.minor) >= (3, 7)) {
                let outcome = run_migration(
                    &self.connect,
                    &self.registry,
                    Some(&self.kafka),
                    &dir,
                    settings,
                    progress,
                )
                .await
                .map_err(|e| e.to_string())?;
                summary.push(format!("migrated {}", outcome.applied.len()));
            } else {
                summary.push(
                    "connector configs left as they are (workers below Kafka 3.7 run Debezium 1.9)"
                        .to_owned(),
                );
            }
        }
        if let Some(mut record) = QuiesceRecord::load(&dir).map_err(|e| e.to_string())? {
            let report = resume(&self.connect, &record, &self.resume, progress)
                .await
                .map_err(|e| e.to_string())?;
            record.phase = QuiescePhase::Resumed;
            record.save(&dir).map_err(|e| e.to_string())?;
            summary.push(format!("resumed {}", report.resumed.len()));
        }
        let checks = post_resume_checks(&self.registry, &self.kafka, &dir, &self.drift, progress)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(drift) = &checks.drift {
            summary.push(format!(
                "key schema ids unchanged on {} topic(s), {} not verified yet",
                drift.verified.len(),
                drift.unverified.len()
            ));
        }
        if !checks.remedy_open.is_empty() {
            summary.push(format!(
                "value subjects still at NONE: {}",
                checks.remedy_open.join(", ")
            ));
        }
        Ok(summary.join("; "))
    }
}

fn log(line: &str) {
    tracing::info!(target: "kroll::connect", "{line}");
}

impl crate::upgrade::engine::ConnectPhases for UpgradeConnect {
    async fn quiesce(&self, run: &Path) -> Result<String, String> {
        self.quiesce_phase(run, &log).await
    }

    async fn resume(&self, run: &Path) -> Result<String, String> {
        self.resume_phase(run, &log).await
    }
}
