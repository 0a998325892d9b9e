//! `kroll connectors …`: status, quiesce, resume, migrate, verify.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;

use super::context::{connect_clients, kafka, print_json, progress, registry_client};
use super::migrate_cmd::{self, MigrateArgs, print_post_check};
use super::{Cli, Output, UsageError, load_inventory, parse_duration};
use crate::connect::quiesce::{QuiesceError, QuiesceOptions};
use crate::connect::record::{Handling, QuiescePhase, QuiesceRecord};
use crate::connect::{
    ConnectApi, HaltMethod, ResumeOptions, idempotence_findings, quiesce, resume,
};
use crate::migration::post_resume_checks;
use crate::registry::drift::{DriftCheckOptions, KEY_IDS_FILE};
use crate::registry::values::REMEDY_FILE;

/// `kroll connectors …`
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// Every connector's type, state and tasks (FAILED ones with their trace), the workers'
    /// versions, and recommendations (producer idempotence). Exit 3 when something FAILED.
    Status,
    /// Halt Connect before an upgrade: stop (Kafka 3.5+ workers) or pause (older) the source
    /// connectors, wait — bounded — until every running sink's consumer group has lag 0 on its
    /// topics (measured in Kafka), then halt the sinks. Connectors already paused or stopped are
    /// left alone and never resumed by kroll. The record goes to RUN_DIR/quiesce.json after every
    /// step; running quiesce again continues an interrupted one. Exit 1 when a sink does not
    /// catch up (the message names the group, topics, partitions and lag; sources stay halted).
    Quiesce(QuiesceArgs),
    /// Resume what quiesce halted: sources first, checked RUNNING (connector and every task;
    /// FAILED tasks are reported with their trace), then sinks. Then, when `connectors migrate`
    /// left them in RUN_DIR, verify that no key subject got a new schema id and put back the
    /// compatibility of value subjects opened for the 3.0 envelope. Exit 1 on failure or drift.
    Resume(ResumeArgs),
    /// Migrate Debezium MySQL connectors from 1.9 to 3.0 configs (the journal's CDC and CT
    /// variants and every rename Debezium made). Shows each connector's diff and findings;
    /// `--dry-run` stops there. Otherwise: refuses on blocking findings, validates every
    /// migrated config through the workers (any error: nothing applied), predicts value-schema
    /// compatibility, backs up every connector and schema into RUN_DIR, records the key schema
    /// ids, applies. Exit 2 when refused (nothing changed).
    Migrate(MigrateArgs),
    /// Check (again) that no key subject got a new schema id since `migrate` recorded them,
    /// and close the value-compatibility remedy for subjects the connectors have registered.
    Verify(VerifyArgs),
}

/// `kroll connectors quiesce`
#[derive(Debug, clap::Args)]
pub struct QuiesceArgs {
    /// Where the quiesce record is kept (resume reads it from there).
    #[arg(long, default_value = "kroll-run")]
    pub run_dir: PathBuf,
    /// How long the sinks get to reach lag 0.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub lag_timeout: Duration,
    /// How long a connector gets to show it is paused/stopped.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub state_timeout: Duration,
    /// Halt with `pause` or `stop` (default: stop when every worker runs Kafka 3.5+).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
}

/// `--method`
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MethodArg {
    Pause,
    Stop,
}

/// `kroll connectors resume`
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run directory quiesce wrote its record to.
    #[arg(long, default_value = "kroll-run")]
    pub run_dir: PathBuf,
    /// How long resumed connectors get to run.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    pub timeout: Duration,
    /// How long to wait for records on every migrated topic before checking key schema ids.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub verify_timeout: Duration,
}

/// `kroll connectors verify`
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The run directory `migrate` wrote key-ids.json (and value-remedy.json) to.
    #[arg(long, default_value = "kroll-run")]
    pub run_dir: PathBuf,
    /// How long to wait for records on every migrated topic.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub verify_timeout: Duration,
}

/// Runs a `kroll connectors` command.
pub async fn run(cli: &Cli, command: &ConnectorsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectorsCommand::Status => cmd_status(cli).await,
        ConnectorsCommand::Quiesce(args) => cmd_quiesce(cli, args).await,
        ConnectorsCommand::Resume(args) => cmd_resume(cli, args).await,
        ConnectorsCommand::Migrate(args) => migrate_cmd::run(cli, args).await,
        ConnectorsCommand::Verify(args) => {
            let code = post_checks(cli, &args.run_dir, args.verify_timeout).await?;
            Ok(code)
        }
    }
}

async fn cmd_status(cli: &Cli) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let connect = connect_clients(&inv)?;
    let workers = connect.workers().await;
    let connectors = connect.connectors().await?;
    let problems: Vec<String> = connectors
        .values()
        .flat_map(|c| {
            c.status.failures().into_iter().map(move |(task, trace)| {
                let who = if task < 0 {
                    "connector".to_owned()
                } else {
                    format!("task {task}")
                };
                format!(
                    "{} {who} FAILED: {}",
                    c.name,
                    trace.lines().next().unwrap_or("")
                )
            })
        })
        .collect();
    let findings = idempotence_findings(&connectors);
    if cli.output == Output::Json {
        let findings: Vec<_> = findings
            .iter()
            .map(|(n, f)| serde_json::json!({"connector": n, "finding": f}))
            .collect();
        print_json(&serde_json::json!({
            "workers": workers, "connectors": connectors, "problems": problems, "findings": findings,
        }))?;
    } else {
        print_status(&workers, &connectors, &problems, &findings);
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn print_status(
    workers: &[crate::connect::WorkerProbe],
    connectors: &std::collections::BTreeMap<String, crate::connect::Connector>,
    problems: &[String],
    findings: &[(String, kroll_migrate::Finding)],
) {
    for w in workers {
        let v = w
            .info
            .as_ref()
            .map_or_else(|e| format!("unreachable: {e}"), |i| i.version.clone());
        println!("worker {:<16} {:<32} {v}", w.worker, w.url);
    }
    let width = connectors.keys().map(String::len).max().unwrap_or(0).max(9);
    println!("{:<width$} {:<7} STATE", "CONNECTOR", "TYPE");
    for c in connectors.values() {
        println!(
            "{:<width$} {:<7} {}",
            c.name,
            c.kind.to_string(),
            c.status.summary()
        );
    }
    if !problems.is_empty() {
        println!("\nProblems:");
        problems.iter().for_each(|p| println!("  - {p}"));
    }
    if !findings.is_empty() {
        let names: Vec<&str> = findings.iter().map(|(n, _)| n.as_str()).collect();
        println!(
            "\nRecommendation: {} run without producer idempotence (Connect forces enable.idempotence=false). Opt in with `kroll connectors migrate --enable-idempotence [--only NAME]` or set producer.override.enable.idempotence=true. {}",
            names.join(", "),
            kroll_migrate::rules::IDEMPOTENCE_RULE.description
        );
    }
}

fn save_record(dir: &Path) -> impl FnMut(&QuiesceRecord) -> Result<(), String> + Send + '_ {
    move |record| record.save(dir).map_err(|e| e.to_string())
}

fn describe_record(record: &QuiesceRecord, dir: &Path) -> String {
    let names = |pred: &dyn Fn(&crate::connect::record::QuiescedConnector) -> bool| {
        let v: Vec<&str> = record
            .connectors
            .iter()
            .filter(|c| pred(c))
            .map(|c| c.name.as_str())
            .collect();
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    format!(
        "Quiesced ({}): sources halted: {}; sinks caught up (lag 0) and halted: {}; left alone (halted before): {}.\nRecord: {}",
        record.method,
        names(&|c| c.halted_by_kroll() && c.is_source_like()),
        names(&|c| c.halted_by_kroll() && !c.is_source_like()),
        names(&|c| c.handling == Handling::LeftAlone),
        dir.join(crate::connect::record::RECORD_FILE).display()
    )
}

async fn cmd_quiesce(cli: &Cli, args: &QuiesceArgs) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let (connect, kafka) = (connect_clients(&inv)?, kafka(&inv)?);
    let previous = QuiesceRecord::load(&args.run_dir)?;
    let options = QuiesceOptions {
        lag_timeout: args.lag_timeout,
        state_timeout: args.state_timeout,
        method: args.method.map(|m| match m {
            MethodArg::Pause => HaltMethod::Pause,
            MethodArg::Stop => HaltMethod::Stop,
        }),
        ..QuiesceOptions::default()
    };
    let mut checkpoint = save_record(&args.run_dir);
    match quiesce(
        &connect,
        &kafka,
        &options,
        previous.as_ref(),
        &mut checkpoint,
        &progress,
    )
    .await
    {
        Ok(record) => {
            match cli.output {
                Output::Json => print_json(&record)?,
                Output::Text => println!("{}", describe_record(&record, &args.run_dir)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ QuiesceError::StopUnsupported { .. }) => Err(UsageError(e.to_string()).into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "quiesce halted (record: {})",
            args.run_dir.display()
        ))),
    }
}

async fn cmd_resume(cli: &Cli, args: &ResumeArgs) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let connect = connect_clients(&inv)?;
    let Some(mut record) = QuiesceRecord::load(&args.run_dir)? else {
        return Err(UsageError(format!(
            "{} has no quiesce record ({}); nothing to resume",
            args.run_dir.display(),
            crate::connect::record::RECORD_FILE
        ))
        .into());
    };
    let options = ResumeOptions {
        timeout: args.timeout,
        ..ResumeOptions::default()
    };
    let migrated = crate::connect::handover::load_migrated(&args.run_dir)?;
    let report = resume(&connect, &record, &options, &migrated, &progress)
        .await
        .context("resume halted")?;
    record.phase = QuiescePhase::Resumed;
    record.save(&args.run_dir)?;
    match cli.output {
        Output::Json => print_json(&report)?,
        Output::Text => {
            for c in &report.resumed {
                let note = if c.failed_before {
                    " (FAILED before the quiesce too)"
                } else {
                    ""
                };
                println!("resumed {}: {}{note}", c.name, c.status);
            }
            for name in &report.stopped_first {
                println!(
                    "stopped {name} before resuming it: its tasks still had the config from before the migration"
                );
            }
            for name in &report.left_alone {
                println!("left alone {name}: it was halted before the quiesce");
            }
        }
    }
    post_checks(cli, &args.run_dir, args.verify_timeout).await
}

/// After resume (or alone): value remedy and key-schema drift check, when `migrate` left them.
async fn post_checks(cli: &Cli, dir: &Path, timeout: Duration) -> anyhow::Result<ExitCode> {
    if !dir.join(KEY_IDS_FILE).exists() && !dir.join(REMEDY_FILE).exists() {
        return Ok(ExitCode::SUCCESS);
    }
    let inv = load_inventory(cli)?;
    let (registry, kafka) = (registry_client(&inv)?, kafka(&inv)?);
    let options = DriftCheckOptions {
        produce_timeout: timeout,
        ..DriftCheckOptions::default()
    };
    let check = post_resume_checks(&registry, &kafka, dir, &options, &progress).await?;
    match cli.output {
        Output::Json => print_json(&check)?,
        Output::Text => print_post_check(&check, dir, timeout),
    }
    Ok(ExitCode::SUCCESS)
}
