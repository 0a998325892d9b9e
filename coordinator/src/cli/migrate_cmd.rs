//! `kroll connectors migrate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kroll_migrate::ConnectorKind;
use serde::Serialize;

use super::context::{connect_clients, kafka, print_json, progress, registry_client};
use super::{Cli, Output, load_inventory, parse_duration};
use crate::connect::migrate::MigrateRequest;
use crate::connect::{ConnectApi, ConnectClients, State};
use crate::kafka::Kafka;
use crate::migration::{
    MigrateOutcome, MigrateRunError, MigrateSettings, PostCheck, post_resume_checks, run_migration,
};
use crate::registry::RegistryClient;
use crate::registry::drift::DriftCheckOptions;
use crate::registry::values::{FLOAT_CAVEAT, ValueCheck, ValuePrediction};

/// `kroll connectors migrate`
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Show every connector's diff and findings; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The journal variant for every selected connector (default: detected from the name, the
    /// topic prefix and transforms.route.replacement; undecidable ones are refused).
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// database.server.id for connectors without one (Debezium 3.0 requires it). With several,
    /// they get N, N+1, … in name order, skipping ids in use: every binlog client needs its own.
    #[arg(long, value_name = "N")]
    pub server_id: Option<u32>,
    /// Also set producer.override.enable.idempotence=true (Connect forces idempotence off for its
    /// producers). Needs acks=all, ≤ 5 in-flight requests, retries > 0, the override policy to
    /// allow it and, on ACL-protected clusters, IDEMPOTENT_WRITE/WRITE. Not exactly-once.
    #[arg(long)]
    pub enable_idempotence: bool,
    /// Only this connector (repeatable; default: every Debezium MySQL connector).
    #[arg(long = "only", value_name = "CONNECTOR")]
    pub only: Vec<String>,
    /// For value subjects that would refuse the 3.0 envelope (409): set that subject's
    /// compatibility to NONE until the connector registered, then put it back. Nothing is deleted.
    #[arg(long)]
    pub allow_incompatible_values: bool,
    /// Run directory: the backup, key-ids.json, value-remedy.json, migration.json.
    #[arg(long, default_value = "kroll-run")]
    pub run_dir: PathBuf,
    /// For connectors that run: how long to wait for new records before checking key schema ids.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub verify_timeout: Duration,
    /// Lab rehearsal only: do not pin schema.name.adjustment.mode (reproduces the journal's
    /// key-schema drift). Only in builds with the `test-switches` feature.
    #[cfg(feature = "test-switches")]
    #[arg(long, hide = true)]
    pub no_schema_name_guard: bool,
}

impl MigrateArgs {
    /// Pin schema.name.adjustment.mode (always, unless a test build was told otherwise).
    fn schema_name_guard(&self) -> bool {
        #[cfg(feature = "test-switches")]
        return !self.no_schema_name_guard;
        #[cfg(not(feature = "test-switches"))]
        true
    }
}

/// `--kind`
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Cdc,
    Ct,
}

fn request(args: &MigrateArgs) -> MigrateRequest {
    MigrateRequest {
        kind: args.kind.map(|k| match k {
            KindArg::Cdc => ConnectorKind::Cdc,
            KindArg::Ct => ConnectorKind::Ct,
        }),
        server_id: args.server_id,
        enable_idempotence: args.enable_idempotence,
        only: args.only.clone(),
        schema_name_guard: args.schema_name_guard(),
    }
}

fn print_value_checks(checks: &[ValueCheck]) {
    for c in checks {
        match &c.prediction {
            ValuePrediction::Incompatible { messages } => {
                println!(
                    "value {}: 3.0 envelope INCOMPATIBLE: {}",
                    c.subject,
                    messages.first().map_or("", String::as_str)
                );
            }
            ValuePrediction::NotPredictable { reason } => {
                println!("value {}: not predictable ({reason})", c.subject)
            }
            ValuePrediction::Compatible | ValuePrediction::NewSubject => {}
        }
    }
    if !checks.is_empty() {
        println!("note: {FLOAT_CAVEAT}");
    }
}

/// Everything `migrate` did, for `--output json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    outcome: &'a MigrateOutcome,
    refused: Option<String>,
    post_check: Option<PostCheck>,
}

fn print_outcome(cli: &Cli, outcome: &MigrateOutcome) {
    if cli.output == Output::Text {
        if let Some(plan) = &outcome.plan {
            print!("{}", plan.render_text());
        }
        print_value_checks(&outcome.value_checks);
    }
}

/// Runs `kroll connectors migrate`.
pub async fn run(cli: &Cli, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let (connect, registry) = (connect_clients(&inv)?, registry_client(&inv)?);
    // Kafka is needed to apply (key ids and end offsets), not to plan or validate.
    let kafka = if inv.cluster.kafka_bootstrap.is_empty() {
        None
    } else {
        Some(kafka(&inv)?)
    };
    let settings = MigrateSettings {
        request: request(args),
        allow_incompatible_values: args.allow_incompatible_values,
        dry_run: args.dry_run,
    };
    let outcome = match run_migration(
        &connect,
        &registry,
        kafka.as_ref(),
        &args.run_dir,
        &settings,
        &progress,
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(MigrateRunError::Refused { reason, outcome }) => {
            print_outcome(cli, &outcome);
            if cli.output == Output::Json {
                print_json(&Report {
                    outcome: &outcome,
                    refused: Some(reason.clone()),
                    post_check: None,
                })?;
            }
            eprintln!("kroll: refused, nothing was changed: {reason}");
            let blocked_dry_run = args.dry_run && outcome.validation_failures.is_empty();
            return Ok(ExitCode::from(if blocked_dry_run { 3 } else { 2 }));
        }
        Err(e) => return Err(e.into()),
    };
    print_outcome(cli, &outcome);
    let post_check = match &kafka {
        Some(kafka) if !outcome.applied.is_empty() => {
            verify_running(cli, args, &connect, &registry, kafka, &outcome).await?
        }
        _ => None,
    };
    if cli.output == Output::Json {
        print_json(&Report {
            outcome: &outcome,
            refused: None,
            post_check,
        })?;
    } else if outcome
        .plan
        .as_ref()
        .is_some_and(|p| p.to_apply().next().is_none())
    {
        println!("Nothing to migrate.");
    }
    Ok(ExitCode::SUCCESS)
}

/// When the migrated connectors run (they were not quiesced): wait for their records, close
/// the value remedy, check the key schema ids. Halted ones are checked by `resume`.
async fn verify_running(
    cli: &Cli,
    args: &MigrateArgs,
    connect: &ConnectClients,
    registry: &RegistryClient,
    kafka: &Kafka,
    outcome: &MigrateOutcome,
) -> anyhow::Result<Option<PostCheck>> {
    let mut halted = false;
    for name in &outcome.applied {
        let status = connect.status(name).await?;
        halted |= matches!(status.connector.state, State::Paused | State::Stopped);
    }
    if halted {
        if cli.output == Output::Text {
            println!(
                "The migrated connectors are halted: `kroll connectors resume --run-dir {}` resumes them and verifies their key schema ids.",
                args.run_dir.display()
            );
        }
        return Ok(None);
    }
    let options = DriftCheckOptions {
        produce_timeout: args.verify_timeout,
        ..DriftCheckOptions::default()
    };
    let check = post_resume_checks(registry, kafka, &args.run_dir, &options, &progress).await?;
    if cli.output == Output::Text {
        print_post_check(&check, &args.run_dir, args.verify_timeout);
    }
    Ok(Some(check))
}

/// The post-resume checks for people.
pub(super) fn print_post_check(check: &PostCheck, dir: &std::path::Path, timeout: Duration) {
    if let Some(drift) = &check.drift {
        println!(
            "key schema ids unchanged on {} topic(s); not verified yet (no new records): {}",
            drift.verified.len(),
            drift.unverified.len()
        );
        if !drift.unverified.is_empty() {
            println!(
                "  not verified yet (no new records within {timeout:?}): {}; run `kroll connectors verify --run-dir {}` later",
                drift.unverified.join(", "),
                dir.display()
            );
        }
    }
    if !check.remedy_open.is_empty() {
        println!(
            "value subjects still at compatibility NONE (no new registration yet): {}; run `kroll connectors verify --run-dir {}` later",
            check.remedy_open.join(", "),
            dir.display()
        );
    }
}
