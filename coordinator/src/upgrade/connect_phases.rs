//! Connect as phases of the upgrade: [`UpgradeConnect`] backs up and quiesces before the
//! first restart, and — after the roll — migrates the connectors (when asked), resumes them,
//! closes the value remedy and verifies the key schema ids. Every file goes to
//! `<run dir>/connect/`; each phase can run again after an interruption.
//!
//! The resume phase ends in a [`Resumed`] only when Connect is back — every connector kroll
//! halted runs (a migrated one on its migrated config) and no value subject is left at
//! compatibility `NONE`; anything less is [`Unfinished`], an error, so the upgrade halts saying
//! what is missing instead of reporting success.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::backup::{BackupError, backup};
use crate::connect::ConnectClients;
use crate::connect::api::{ConnectApi, lowest_version};
use crate::connect::handover::load_migrated;
use crate::connect::quiesce::{QuiesceError, QuiesceOptions, quiesce};
use crate::connect::record::{QuiescePhase, QuiesceRecord};
use crate::connect::resume::{ResumeError, ResumeOptions, ResumeReport, resume};
use crate::files::FileError;
use crate::kafka::Kafka;
use crate::migration::{
    MigrateRunError, MigrateSettings, PostCheck, PostCheckError, post_resume_checks, run_migration,
};
use crate::progress::Progress;
use crate::registry::RegistryClient;
use crate::registry::drift::{DriftCheck, DriftCheckOptions};
use crate::rest::{RestOptions, SetupError};
use crate::upgrade::engine::ConnectPhases;

/// Why a Connect phase of the upgrade stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConnectPhaseError {
    #[error("the run directory's Connect files: {0}")]
    Files(#[from] FileError),
    #[error("the run directory's Connect files: {0}")]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Quiesce(#[from] QuiesceError),
    #[error("the Debezium migration: {0}")]
    Migrate(#[from] MigrateRunError),
    #[error(transparent)]
    Resume(#[from] ResumeError),
    #[error(transparent)]
    PostCheck(#[from] PostCheckError),
    #[error(transparent)]
    Unfinished(#[from] Unfinished),
}

/// Connect is not back after the resume phase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct Unfinished {
    /// Value subjects still at compatibility `NONE`: their connector has not registered.
    pub remedy_open: Vec<String>,
    /// Migrated connectors kroll did not halt, so did not resume (halted before the quiesce):
    /// their tasks keep the old config until someone resumes them.
    pub migrated_left_alone: Vec<String>,
}

impl Unfinished {
    fn describe(&self) -> String {
        let mut out = String::from("Connect is not back:");
        if !self.remedy_open.is_empty() {
            out.push_str(&format!(
                "\n  value subjects still at compatibility NONE (no new registration by their connector yet): {}",
                self.remedy_open.join(", ")
            ));
        }
        if !self.migrated_left_alone.is_empty() {
            out.push_str(&format!(
                "\n  migrated connectors kroll did not resume (they were paused or stopped before its quiesce): {}",
                self.migrated_left_alone.join(", ")
            ));
        }
        out.push_str("\nResume those connectors (PUT /connectors/{name}/stop, then /resume, so their tasks start on the migrated config) and run `kroll upgrade --resume`: it puts each subject's level back once its connector registered.");
        out
    }
}

/// Connect is back: every connector kroll halted runs (a migrated one on its migrated
/// config) and every value subject's level is back. Only `Resumed::judge` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    migration: Option<String>,
    report: Option<ResumeReport>,
    drift: Option<DriftCheck>,
}

impl Resumed {
    /// `Ok` only when nothing is [`Unfinished`].
    fn judge(
        migration: Option<String>,
        report: Option<ResumeReport>,
        checks: PostCheck,
        migrated_left_alone: Vec<String>,
    ) -> Result<Self, Unfinished> {
        if checks.remedy_open.is_empty() && migrated_left_alone.is_empty() {
            Ok(Self {
                migration,
                report,
                drift: checks.drift,
            })
        } else {
            Err(Unfinished {
                remedy_open: checks.remedy_open,
                migrated_left_alone,
            })
        }
    }

    /// What resume did, when there was a quiesce record.
    pub fn report(&self) -> Option<&ResumeReport> {
        self.report.as_ref()
    }
}

impl fmt::Display for Resumed {
    /// `migrated 1; resumed 2; key schema ids unchanged on 1 topic(s), 0 not verified yet`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.migration.iter().cloned().collect();
        if let Some(r) = &self.report {
            let mut part = format!("resumed {}", r.resumed.len());
            if !r.stopped_first.is_empty() {
                part.push_str(&format!(
                    " ({} stopped first: {} — their tasks still had the old config)",
                    r.stopped_first.len(),
                    r.stopped_first.join(", ")
                ));
            }
            parts.push(part);
        }
        if let Some(drift) = &self.drift {
            parts.push(format!(
                "key schema ids unchanged on {} topic(s), {} not verified yet",
                drift.verified.len(),
                drift.unverified.len()
            ));
        }
        f.write_str(&parts.join("; "))
    }
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
                crate::kafka::KafkaConnection::from_inventory(inventory)
                    .map_err(crate::rest::AccessError::from)?,
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
    ) -> Result<String, ConnectPhaseError> {
        let dir = Self::dir(run);
        let backup_dir = dir.join("backup");
        if !backup_dir.join("manifest.json").exists() {
            backup(&self.connect, &self.registry, &backup_dir, progress).await?;
        }
        let previous = QuiesceRecord::load(&dir)?;
        let mut checkpoint = |r: &QuiesceRecord| r.save(&dir).map_err(|e| e.to_string());
        let record = quiesce(
            &self.connect,
            &self.kafka,
            &self.quiesce,
            previous.as_ref(),
            &mut checkpoint,
            progress,
        )
        .await?;
        Ok(format!(
            "{} connector(s) halted by kroll ({}); backup in {}",
            record.halted_by_kroll().count(),
            record.method,
            backup_dir.display()
        ))
    }

    /// Migrates (when asked), resumes what quiesce halted (migrated connectors on their
    /// migrated task configs), and runs the post-resume checks; [`Resumed`] only when Connect
    /// is back, [`Unfinished`] otherwise.
    pub async fn resume_phase(
        &self,
        run: &Path,
        progress: Progress<'_>,
    ) -> Result<Resumed, ConnectPhaseError> {
        let dir = Self::dir(run);
        let mut migration = None;
        if let Some(settings) = &self.migrate {
            // Debezium 3.0 runs on Confluent 7.7+ (Kafka 3.7) workers only; before that the
            // 1.9 configs are the right ones and stay.
            let (lowest, _) = lowest_version(&self.connect.workers().await);
            migration = Some(if lowest.is_some_and(|v| (v.major, v.minor) >= (3, 7)) {
                let outcome = run_migration(
                    &self.connect,
                    &self.registry,
                    Some(&self.kafka),
                    &dir,
                    settings,
                    progress,
                )
                .await?;
                format!("migrated {}", outcome.applied.len())
            } else {
                "connector configs left as they are (workers below Kafka 3.7 run Debezium 1.9)"
                    .to_owned()
            });
        }
        // Every connector the run's migration changed (this call or an interrupted earlier one).
        let migrated = load_migrated(&dir)?;
        let mut report = None;
        let mut migrated_left_alone = Vec::new();
        if let Some(mut record) = QuiesceRecord::load(&dir)? {
            let r = resume(&self.connect, &record, &self.resume, &migrated, progress).await?;
            record.phase = QuiescePhase::Resumed;
            record.save(&dir)?;
            migrated_left_alone = migrated
                .iter()
                .filter(|m| r.left_alone.contains(&m.name))
                .map(|m| m.name.clone())
                .collect();
            report = Some(r);
        }
        let checks =
            post_resume_checks(&self.registry, &self.kafka, &dir, &self.drift, progress).await?;
        Ok(Resumed::judge(
            migration,
            report,
            checks,
            migrated_left_alone,
        )?)
    }
}

fn log(line: &str) {
    tracing::info!(target: "kroll::connect", "{line}");
}

impl ConnectPhases for UpgradeConnect {
    async fn quiesce(&self, run: &Path) -> Result<String, String> {
        self.quiesce_phase(run, &log)
            .await
            .map_err(|e| e.to_string())
    }

    /// The engine reports "finished" only after this is `Ok`, which [`Resumed`] guarantees
    /// means Connect is back.
    async fn resume(&self, run: &Path) -> Result<String, String> {
        self.resume_phase(run, &log)
            .await
            .map(|r| r.to_string())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::resume::ResumedConnector;

    fn report(left_alone: &[&str], stopped_first: &[&str]) -> ResumeReport {
        ResumeReport {
            resumed: vec![ResumedConnector {
                name: "cdc".into(),
                status: "RUNNING, tasks 0 RUNNING".into(),
                failed_before: false,
            }],
            stopped_first: stopped_first.iter().map(|s| (*s).to_owned()).collect(),
            left_alone: left_alone.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn checks(open: &[&str]) -> PostCheck {
        PostCheck {
            remedy_open: open.iter().map(|s| (*s).to_owned()).collect(),
            drift: None,
        }
    }

    #[test]
    fn connect_is_back_only_when_everything_kroll_halted_runs_and_no_subject_is_left_at_none() {
        let migrated = Some("migrated 2".to_owned());
        let back = Resumed::judge(
            migrated.clone(),
            Some(report(&[], &["cdc"])),
            checks(&[]),
            vec![],
        )
        .expect("back");
        assert_eq!(
            back.to_string(),
            "migrated 2; resumed 1 (1 stopped first: cdc — their tasks still had the old config)"
        );
        let cases: Vec<(&str, PostCheck, Vec<String>, &[&str])> = vec![
            (
                "a subject still at NONE",
                checks(&["cdc.db.t-value"]),
                vec![],
                &[
                    "value subjects still at compatibility NONE",
                    "cdc.db.t-value",
                    "kroll upgrade --resume",
                ],
            ),
            (
                "a migrated connector kroll did not halt (paused by an earlier run)",
                checks(&["ct.db.t-value"]),
                vec!["ct".into()],
                &[
                    "migrated connectors kroll did not resume",
                    ": ct",
                    "ct.db.t-value",
                ],
            ),
        ];
        for (what, c, left, expected) in cases {
            let e = Resumed::judge(
                migrated.clone(),
                Some(report(
                    &left.iter().map(String::as_str).collect::<Vec<_>>(),
                    &[],
                )),
                c,
                left,
            )
            .expect_err(what);
            let text = e.to_string();
            for x in expected {
                assert!(text.contains(x), "{what}: missing `{x}` in {text}");
            }
        }
    }
}
