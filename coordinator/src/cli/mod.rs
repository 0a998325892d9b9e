//! The `kroll` command line: arguments, and one function per command.
//!
//! Exit codes (stable, for scripts): 0 = done / healthy; 1 = the command failed; 2 = bad
//! usage, configuration or inventory (nothing was touched); 3 = `status` found problems.

mod certs;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use kroll_shared::config::ConfigError;
use kroll_shared::inventory::Inventory;
use kroll_shared::tls::{TlsFiles, TlsMaterial};

use crate::agents::{AgentClient, query_all};
use crate::status;

/// kroll — safe, fast, boring rolling upgrades of ZooKeeper-based Kafka / Confluent clusters
/// running in Docker, and a watch over every node's containers, JVM heaps and disks.
///
/// kroll talks to a kroll-agent on every node (mutual TLS; certificates from `kroll certs
/// init`). The inventory file describes the nodes, their agents and the containers on them.
///
/// Exit codes: 0 ok; 1 failed; 2 bad usage, configuration or inventory (nothing touched);
/// 3 `status` found problems.
#[derive(Debug, Parser)]
#[command(name = "kroll", version, propagate_version = true)]
pub struct Cli {
    /// Inventory file (TOML): nodes, agents, containers. See deploy/inventory.production.toml.
    #[arg(
        short,
        long,
        global = true,
        env = "KROLL_INVENTORY",
        default_value = "kroll.toml"
    )]
    pub inventory: PathBuf,
    /// Output format: `text` for people, `json` for scripts.
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Client certificate to use instead of the inventory's (e.g. a `reader` certificate).
    #[arg(long, global = true, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key of `--cert`.
    #[arg(long, global = true, requires = "cert")]
    pub key: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Is my cluster healthy? Asks every agent at once (each within the inventory's agent
    /// timeout) and prints one screen: node, container, role, state, health, uptime, restarts,
    /// image tag, free disk; then the problems found. Exit 3 when there are problems.
    Status,
    /// Gracefully restart one container (SIGTERM, wait, SIGKILL after --stop-timeout, start),
    /// through the agent of the node the inventory places it on.
    Restart {
        /// Container name, as in the inventory.
        container: String,
        /// How long the container gets to stop after SIGTERM before it is killed (e.g. `90s`,
        /// `5m`). Default: the agent's (120 s unless configured).
        #[arg(long, value_parser = parse_duration)]
        stop_timeout: Option<Duration>,
        /// Operation id; repeating a restart with the same id does not restart twice.
        /// Default: a new random id.
        #[arg(long)]
        operation_id: Option<String>,
    },
    /// Certificates for mutual TLS between kroll and its agents.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// The lab: a stand-in cluster on the local Docker engine, built from this machine's
    /// files (nothing is pulled). See deploy/lab/LAB.md.
    #[command(subcommand)]
    Lab(LabCommand),
}

/// `kroll lab …`
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build the lab's images from local binaries (skipped when their content is unchanged).
    Images,
}

/// Parses `90`, `90s`, `5m`, `1h`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 90s, 5m, 1h or 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)")),
    }
}

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match &cli.command {
        Command::Status => cmd_status(&cli).await,
        Command::Restart {
            container,
            stop_timeout,
            operation_id,
        } => cmd_restart(&cli, container, *stop_timeout, operation_id.clone()).await,
        Command::Certs(c) => certs::run(&cli, c),
        Command::Lab(LabCommand::Images) => cmd_lab_images(&cli).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let usage = e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<UsageError>().is_some();
            eprintln!("kroll: {e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// A mistake in what the user asked for; exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn load_inventory(cli: &Cli) -> anyhow::Result<Inventory> {
    Ok(Inventory::load(&cli.inventory)?)
}

fn load_tls(cli: &Cli, inv: &Inventory) -> anyhow::Result<TlsMaterial> {
    let files = match (&cli.cert, &cli.key) {
        (Some(cert), Some(key)) => TlsFiles {
            ca: inv.tls.ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => inv.tls.clone(),
    };
    files
        .load()
        .map_err(|e| anyhow::Error::new(UsageError(e.to_string())))
}

async fn cmd_status(cli: &Cli) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let tls = load_tls(cli, &inv)?;
    let reports = query_all(&inv, &tls).await;
    let s = status::assess(&inv, &reports, status::now());
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        Output::Text => print!("{}", status::render_text(&s)),
    }
    Ok(if s.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

async fn cmd_restart(
    cli: &Cli,
    container: &str,
    stop_timeout: Option<Duration>,
    operation_id: Option<String>,
) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let placed = inv.find_container(container).ok_or_else(|| {
        UsageError(format!(
            "container `{container}` is not in the inventory {} (known: {})",
            cli.inventory.display(),
            inv.services()
                .map(|p| p.service.container.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let tls = load_tls(cli, &inv)?;
    let op =
        operation_id.unwrap_or_else(|| format!("restart-{container}-{}", uuid::Uuid::new_v4()));
    if cli.output == Output::Text {
        eprintln!(
            "Restarting {container} on {} (operation {op})…",
            placed.node.name
        );
    }
    let mut client = AgentClient::connect(placed.node, &tls, inv.agents.timeout()).await?;
    let r = client
        .restart(&op, container, stop_timeout.unwrap_or(Duration::ZERO))
        .await
        .with_context(|| format!("restarting `{container}`"))?;
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        Output::Text => {
            let how = if r.killed_after_timeout {
                "killed after the stop timeout"
            } else {
                "stopped gracefully"
            };
            let replay = if r.replayed {
                " (already done earlier under this operation id; not restarted again)"
            } else {
                ""
            };
            println!(
                "{container} on {}: {how} in {:.1}s, running again{replay}.",
                r.node,
                r.stop_duration_ms as f64 / 1000.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn cmd_lab_images(cli: &Cli) -> anyhow::Result<ExitCode> {
    let docker = bollard::Docker::connect_with_local_defaults()?
        .negotiate_version()
        .await
        .context("reaching the Docker engine (is it running?)")?;
    let labbox = crate::lab::sibling_binary("kroll-labbox")
        .ok_or_else(|| anyhow::anyhow!("kroll-labbox is not beside the kroll binary; build the workspace (cargo build --workspace --bins)"))?;
    let id = crate::lab::ensure_labbox(&docker, &labbox).await?;
    match cli.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({"images": [{"tag": crate::lab::LABBOX_IMAGE, "id": id}]})
        ),
        Output::Text => println!("{} {}", crate::lab::LABBOX_IMAGE, id),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
