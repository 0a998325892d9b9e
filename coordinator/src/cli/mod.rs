//! The `kroll` command line: arguments, and one function per command.
//!
//! Exit codes (stable, for scripts): 0 = done / healthy; 1 = the command failed; 2 = bad
//! usage, configuration or inventory (nothing was touched); 3 = `status` found problems.

mod backup_cmd;
mod certs;
mod connectors;
mod context;
pub mod entry;
mod migrate_cmd;
mod report_cmd;
mod ui_cmd;
mod upgrade;
mod watch;

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
    /// Stream every agent's events (Java OutOfMemoryError, OOM exits, heap pressure, hung
    /// JVMs, container starts and deaths) as they happen; post alerts to a webhook.
    ///
    /// Runs until interrupted and reconnects (and says so) when an agent restarts. Text lines
    /// read `time  node  container  kind  description`; connection changes go to stderr. With
    /// `--output json`: one JSON object per line on stdout — events (`kind.type`,
    /// `received_at_unix_ms`) and connection notices (`{"watch": "reconnected", …}`).
    ///
    /// With `--webhook` (or an `[alerts]` section in the inventory) OOMs, heap pressure and
    /// hung JVMs are also posted — Alertmanager's `/api/v2/alerts` or a Slack-style
    /// `{"text": …}` receiver — with retries, through a bounded queue that never slows the
    /// watch. `--kinds` filters what is printed, not what is posted.
    ///
    /// With a `[remediation]` section in the inventory (off by default), the watch also
    /// restarts containers of the listed kinds (never brokers or ZooKeeper) after a Java
    /// OutOfMemoryError, at most `max_per_hour` times per container, through their agents
    /// (audited there); each decision is printed (`{"remediation": "restarted", …}`).
    Watch(watch::WatchArgs),
    /// Show exactly what `kroll upgrade --to VERSION` would do, per node, in order — from what
    /// the agents and Kafka report now. Nothing is touched. Refuses illegal paths (ZooKeeper
    /// mode to Kafka 4.x / Confluent 8.x, downgrades, unknown versions) with the reason.
    Plan(upgrade::Target),
    /// Roll the cluster to a new Confluent Platform version: pre-flight (images pulled on every
    /// node first), Connect quiesce, ZooKeeper, brokers with inter.broker.protocol.version
    /// pinned (controller last, a health gate between every restart), Schema Registry, Connect
    /// (environment rewrite), REST proxy, Kafdrop, then the IBP bump (asks first), resume,
    /// post-checks. Every step is journaled in the run directory; a failed gate halts and rolls
    /// the node back (before the bump). `--resume` continues an interrupted run without
    /// restarting anything twice. Exit 0 finished, 1 halted, 2 refused before anything started.
    Upgrade(upgrade::UpgradeArgs),
    /// Undo an unfinished run before its IBP bump: every container it recreated goes back to
    /// its previous definition, newest first, with the same gates.
    Rollback(upgrade::RollbackArgs),
    /// Kafka Connect: status, quiesce/resume around an upgrade, the Debezium 1.9 → 3.0
    /// migration with its key-schema guard, verification.
    #[command(subcommand)]
    Connectors(connectors::ConnectorsCommand),
    /// Back up every connector (config, state) and every schema version of every subject
    /// (with compatibility levels) into a new directory.
    Backup(backup_cmd::BackupArgs),
    /// Put a backup back (connectors recreated or configs restored, schemas re-registered);
    /// reports exactly what could not be restored.
    Restore(backup_cmd::RestoreArgs),
    /// Draw a run's `report.html` again from its journal: a timeline of every step per
    /// container (gate before, stop → start, catch-up), halts, rollbacks and the point of no
    /// return marked, per roll the overhead against the containers' unavoidable time, the
    /// Connect phases. One self-contained file; `kroll upgrade`, `--resume` and `kroll rollback`
    /// write it beside `report.txt` themselves. With `--output json`: the timeline as JSON.
    Report(report_cmd::ReportArgs),
    /// Serve a live, read-only web page of the fleet: every node's containers (state, health,
    /// version, uptime, restarts), each JVM's heap and old generation over the last 15 minutes
    /// with `-Xmx` drift marked, GC counts, disk headroom, an event feed (OOMs, heap pressure,
    /// hung JVMs, deaths) as the agents report them, and the newest upgrade run with its
    /// timeline. A `reader` certificate is enough (`--cert`/`--key`). Serves on loopback
    /// unless told otherwise; elsewhere only with TLS and basic auth.
    Ui(ui_cmd::UiArgs),
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
        Command::Watch(args) => watch::run(&cli, args).await,
        Command::Plan(t) => upgrade::cmd_plan(&cli, t).await,
        Command::Upgrade(a) => upgrade::cmd_upgrade(&cli, a).await,
        Command::Rollback(a) => upgrade::cmd_rollback(&cli, a).await,
        Command::Connectors(c) => connectors::run(&cli, c).await,
        Command::Backup(a) => backup_cmd::run_backup(&cli, a).await,
        Command::Restore(a) => backup_cmd::run_restore(&cli, a).await,
        Command::Report(a) => report_cmd::run(&cli, a),
        Command::Ui(a) => ui_cmd::run(&cli, a).await,
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
    let (reports, kafka, connect, registry) = tokio::join!(
        query_all(&inv, &tls),
        kafka_health(&inv),
        crate::connect::health::observe_inventory(&inv),
        crate::registry::health::look_inventory(&inv),
    );
    let mut s = status::assess(&inv, &reports, status::now());
    status::add_services(&mut s, kafka, connect.as_ref(), registry);
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

/// Whether kroll can use Kafka as its upgrade would: logged in, the metadata read, and — with
/// `[cluster] zookeeper` — the gates' own observation (every topic ZooKeeper lists, including
/// those kroll may not see in the metadata, must answer its `min.insync.replicas`).
async fn kafka_health(inv: &Inventory) -> Option<crate::kafka::health::KafkaHealth> {
    let mut health = crate::kafka::health::look_inventory(inv).await?;
    if health.error.is_none() && inv.cluster.zookeeper.is_some() {
        let observed = match upgrade::probe(inv) {
            Ok(probe) => probe.observe().await,
            Err(e) => Err(e.to_string()),
        };
        match observed {
            Ok(view) => {
                let topics: std::collections::BTreeSet<&str> =
                    view.partitions.iter().map(|p| p.topic.as_str()).collect();
                health.topics = Some(topics.len());
            }
            Err(e) => health.error = Some(e),
        }
    }
    Some(health)
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
