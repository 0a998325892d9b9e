//! The whole migration, as `kroll connectors migrate` and the upgrade run it: plan, refuse on
//! blocking findings, validate every migrated config through the workers, predict value-schema
//! compatibility, then — only when all of that passed — back up every connector and schema,
//! record the key schema ids, open the value remedy (if allowed) and apply. Any refusal happens
//! before the first change.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backup::{BackupError, BackupManifest, backup};
use crate::connect::api::{ConnectApi, lowest_version};
use crate::connect::migrate::{
    ApplyError, MIGRATION_FILE, MigrateRequest, MigrationPlan, ValidationFailure, apply_plan,
    known_tables, plan_migration, produced_topics, validate_plan,
};
use crate::files::{FileError, write_json_atomic};
use crate::kafka::{KafkaError, KafkaReader};
use crate::progress::Progress;
use crate::registry::RegistryApi;
use crate::registry::drift::{DriftCheckError, KEY_IDS_FILE, KeyIds, KeyTopic, record_key_ids};
use crate::registry::values::{
    REMEDY_FILE, RemedyError, ValueCheck, ValuePrediction, ValueRemedy, check_value_compatibility,
    open_value_remedy,
};
use crate::rest::RestError;

/// What the migration found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MigrateOutcome {
    pub plan: Option<MigrationPlan>,
    pub validation_failures: Vec<ValidationFailure>,
    pub value_checks: Vec<ValueCheck>,
    pub backup: Option<BackupManifest>,
    pub applied: Vec<String>,
    pub key_ids: Option<KeyIds>,
    pub remedy: Option<ValueRemedy>,
}

/// Why the migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateRunError {
    /// Refused before any change: blocking findings, invalid configs, incompatible values.
    #[error("refused, nothing was changed: {reason}")]
    Refused {
        reason: String,
        outcome: Box<MigrateOutcome>,
    },
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Files(#[from] FileError),
    #[error(transparent)]
    Drift(#[from] DriftCheckError),
    #[error(transparent)]
    Remedy(#[from] RemedyError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Everything the migration needs besides the services.
#[derive(Debug, Clone)]
pub struct MigrateSettings {
    pub request: MigrateRequest,
    /// Open the value remedy for subjects that would refuse the 3.0 envelope (else refuse).
    pub allow_incompatible_values: bool,
    /// Stop after the plan.
    pub dry_run: bool,
}

fn refused(reason: String, outcome: MigrateOutcome) -> MigrateRunError {
    MigrateRunError::Refused {
        reason,
        outcome: Box::new(outcome),
    }
}

/// The text of a validation refusal, with a hint when the workers are too old for 3.0.
pub fn describe_validation(
    failures: &[ValidationFailure],
    lowest: Option<crate::connect::KafkaVersion>,
) -> String {
    let mut lines = vec!["Connect refuses the migrated config(s):".to_owned()];
    for f in failures {
        lines.push(format!(
            "  {} ({}, {} error(s)):",
            f.connector, f.class, f.error_count
        ));
        lines.extend(
            f.errors
                .iter()
                .map(|k| format!("    {}: {}", k.name, k.errors.join("; "))),
        );
    }
    if let Some(v) = lowest.filter(|v| (v.major, v.minor) < (3, 7)) {
        lines.push(format!("  hint: a worker runs Kafka {v} (Debezium 1.9 there); Debezium 3.0 configs need Confluent 7.7+ workers — upgrade Connect first"));
    }
    lines.join("\n")
}

fn incompatible(checks: &[ValueCheck]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| matches!(c.prediction, ValuePrediction::Incompatible { .. }))
        .map(|c| c.subject.clone())
        .collect()
}

/// Plans and checks; returns the outcome so far, or the refusal.
async fn checked(
    connect: &impl ConnectApi,
    registry: &impl RegistryApi,
    kafka: Option<&impl KafkaReader>,
    settings: &MigrateSettings,
) -> Result<MigrateOutcome, MigrateRunError> {
    let connectors = connect.connectors().await?;
    let mut names = registry.subjects(false).await?;
    if let Some(k) = kafka {
        names.extend(k.topics().await?);
    }
    let plan = plan_migration(
        &connectors,
        &known_tables(names.iter().map(String::as_str)),
        &settings.request,
    );
    let mut outcome = MigrateOutcome {
        plan: Some(plan.clone()),
        ..MigrateOutcome::default()
    };
    let blocked: Vec<String> = plan
        .blocked()
        .iter()
        .flat_map(|c| {
            c.migration
                .errors()
                .map(move |f| format!("{}: {f}", c.name))
        })
        .collect();
    if !blocked.is_empty() {
        return Err(refused(
            format!("blocking findings:\n  {}", blocked.join("\n  ")),
            outcome,
        ));
    }
    if settings.dry_run || plan.to_apply().next().is_none() {
        return Ok(outcome);
    }
    outcome.validation_failures = validate_plan(connect, &plan).await?;
    if !outcome.validation_failures.is_empty() {
        let (lowest, _) = lowest_version(&connect.workers().await);
        return Err(refused(
            describe_validation(&outcome.validation_failures, lowest),
            outcome,
        ));
    }
    outcome.value_checks = check_value_compatibility(registry, &produced_topics(&plan)).await?;
    let refusing = incompatible(&outcome.value_checks);
    if !refusing.is_empty() && !settings.allow_incompatible_values {
        return Err(refused(
            format!(
                "the registry would refuse the Debezium 3.0 value schema (HTTP 409, the connector's task would fail) for: {}.\n  Rerun with --allow-incompatible-values: each of these subjects is set to compatibility NONE until its connector registered, then put back (nothing is deleted).",
                refusing.join(", ")
            ),
            outcome,
        ));
    }
    Ok(outcome)
}

/// Runs the migration into `dir` (backup, key ids, remedy record, applied plan). Without
/// `kafka` it can plan and validate but not apply.
pub async fn run_migration<K: KafkaReader>(
    connect: &impl ConnectApi,
    registry: &impl RegistryApi,
    kafka: Option<&K>,
    dir: &Path,
    settings: &MigrateSettings,
    progress: Progress<'_>,
) -> Result<MigrateOutcome, MigrateRunError> {
    let mut outcome = checked(connect, registry, kafka, settings).await?;
    let Some(plan) = outcome
        .plan
        .clone()
        .filter(|p| !settings.dry_run && p.to_apply().next().is_some())
    else {
        return Ok(outcome);
    };
    let Some(kafka) = kafka else {
        return Err(refused("applying needs Kafka (key schema ids are checked against new records); the inventory has no kafka_bootstrap".into(), outcome));
    };
    let backup_dir = dir.join(format!("backup-{}", kroll_shared::time::now_unix_ms()));
    outcome.backup = Some(backup(connect, registry, &backup_dir, progress).await?);
    progress(&format!(
        "Backed up every connector and schema to {}.",
        backup_dir.display()
    ));
    let topics: Vec<KeyTopic> = produced_topics(&plan)
        .into_iter()
        .map(|(connector, topic)| KeyTopic { connector, topic })
        .collect();
    let key_ids = record_key_ids(registry, kafka, &topics).await?;
    write_json_atomic(dir, KEY_IDS_FILE, &key_ids)?;
    outcome.key_ids = Some(key_ids);
    let refusing = incompatible(&outcome.value_checks);
    if !refusing.is_empty() {
        let save = |r: &ValueRemedy| {
            write_json_atomic(dir, REMEDY_FILE, r)
                .map(drop)
                .map_err(|e| e.to_string())
        };
        outcome.remedy = Some(open_value_remedy(registry, &refusing, save).await?);
    }
    write_json_atomic(dir, MIGRATION_FILE, &plan)?;
    outcome.applied = apply_plan(connect, &plan).await?;
    progress(&format!(
        "Applied the migrated config of {}.",
        outcome.applied.join(", ")
    ));
    Ok(outcome)
}
