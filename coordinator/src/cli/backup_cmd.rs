//! `kroll backup` and `kroll restore`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::context::{connect_clients, print_json, progress, registry_client};
use super::{Cli, Output, load_inventory};
use crate::backup::{RestoreOptions, backup, load, restore};

/// `kroll backup`: every connector and every schema, into a new directory.
///
/// Writes connectors.json (every connector's config, type, status and target state),
/// registry.json (global and per-subject compatibility, every version of every subject —
/// soft-deleted ones included — with id, schema, type and references) and last manifest.json
/// with the files' SHA-256. Each file is written atomically. Refuses a directory that already
/// holds a backup.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Directory to write the backup to (created; must not hold a backup already).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `kroll restore`: put a backup back.
///
/// Connectors missing now are recreated (in their backed-up state), changed configs are
/// restored; no connector is deleted. Schema versions missing now are registered again in id
/// order; subject and global compatibility levels are put back. What cannot be restored exactly
/// — a version number or id the registry assigns differently (preserving them needs IMPORT
/// mode), a failed registration — is listed. Exit 0 when everything is back exactly, 3 when
/// something differs (listed), 1 on errors.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup directory (written by `kroll backup` or by an upgrade run).
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// Show what would be restored; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also put existing connectors back into their backed-up state (running/paused/stopped).
    #[arg(long)]
    pub restore_states: bool,
}

/// Runs `kroll backup`.
pub async fn run_backup(cli: &Cli, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let (connect, registry) = (connect_clients(&inv)?, registry_client(&inv)?);
    let manifest = match backup(&connect, &registry, &args.out, &progress).await {
        Err(e @ crate::backup::BackupError::Exists(_)) => {
            return Err(super::UsageError(e.to_string()).into());
        }
        other => other?,
    };
    match cli.output {
        Output::Json => print_json(&manifest)?,
        Output::Text => println!(
            "Backed up {} connector(s), {} subject(s), {} schema version(s) to {}.",
            manifest.connectors,
            manifest.subjects,
            manifest.versions,
            args.out.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `kroll restore`.
pub async fn run_restore(cli: &Cli, args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let backup = load(&args.from).map_err(|e| super::UsageError(e.to_string()))?;
    let (connect, registry) = (connect_clients(&inv)?, registry_client(&inv)?);
    let options = RestoreOptions {
        dry_run: args.dry_run,
        restore_states: args.restore_states,
    };
    let report = restore(&connect, &registry, &backup, options, &progress).await?;
    match cli.output {
        Output::Json => {
            let mut value = serde_json::to_value(&report)?;
            value["problems"] = serde_json::json!(report.problems());
            print_json(&value)?;
        }
        Output::Text => print!("{}", report.render_text()),
    }
    Ok(if report.problems().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
