//! `kroll watch`: prints every agent's events as they happen and posts alerts to a webhook.

use std::process::ExitCode;
use std::time::Duration;

use kroll_shared::alerts::AlertFormatName;
use kroll_shared::model::EventKind;

use super::{Cli, Output, UsageError, load_inventory, load_tls};
use crate::agents::AgentClient;
use crate::alerts::{AlertFormat, AlertSink, DEFAULT_KINDS, SinkConfig};
use crate::remediate::{Decision, Remediator, Report};
use crate::watch::{self, Filter, Item};

/// Options of `kroll watch` (its help text is on `Command::Watch`).
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Only these containers (comma-separated names); default: every managed container.
    #[arg(long, value_delimiter = ',')]
    pub containers: Vec<String>,
    /// Only these event kinds (comma-separated): started, died, oom_killed, health_changed,
    /// stopped, events_lost, java_oom, java_oom_exit, heap_pressure, jvm_hung, jvm_recovered.
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// Post alerts to this URL (overrides the inventory's `[alerts] webhook`).
    #[arg(long)]
    pub webhook: Option<String>,
    /// Payload of `--webhook`.
    #[arg(long, value_enum, default_value_t = AlertFormat::Alertmanager)]
    pub webhook_format: AlertFormat,
}

fn sink_config(
    args: &WatchArgs,
    inv: &kroll_shared::inventory::Inventory,
) -> anyhow::Result<Option<SinkConfig>> {
    let defaults = || DEFAULT_KINDS.map(String::from).to_vec();
    let cfg = match (&args.webhook, &inv.alerts) {
        (Some(url), _) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(UsageError(format!(
                    "--webhook `{url}` is not an http:// or https:// URL"
                ))
                .into());
            }
            SinkConfig {
                url: url.clone(),
                format: args.webhook_format,
                kinds: defaults(),
                queue: 1000,
                attempts: 8,
                backoff: Duration::from_millis(500),
                cluster: inv.cluster.name.clone(),
            }
        }
        (None, Some(a)) => SinkConfig {
            url: a.webhook.clone(),
            format: match a.format {
                AlertFormatName::Alertmanager => AlertFormat::Alertmanager,
                AlertFormatName::Slack => AlertFormat::Slack,
            },
            kinds: if a.kinds.is_empty() {
                defaults()
            } else {
                a.kinds.clone()
            },
            queue: a.queue,
            attempts: a.attempts,
            backoff: Duration::from_millis(500),
            cluster: inv.cluster.name.clone(),
        },
        (None, None) => return Ok(None),
    };
    Ok(Some(cfg))
}

/// Runs the watch until Ctrl-C / SIGTERM.
pub async fn run(cli: &Cli, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    if let Some(bad) = args
        .kinds
        .iter()
        .find(|k| !EventKind::NAMES.contains(&k.as_str()))
    {
        return Err(UsageError(format!(
            "--kinds: unknown event kind `{bad}` (known: {})",
            EventKind::NAMES.join(", ")
        ))
        .into());
    }
    let inv = load_inventory(cli)?;
    let tls = load_tls(cli, &inv)?;
    let sink = match sink_config(args, &inv)? {
        Some(cfg) => Some(
            AlertSink::spawn(cfg)
                .map_err(|e| anyhow::anyhow!("cannot start the alert sink: {e}"))?
                .0,
        ),
        None => None,
    };
    let filter = Filter {
        containers: args.containers.clone(),
        kinds: args.kinds.clone(),
    };
    let mut remediator = Remediator::from_inventory(&inv);
    if let Some(r) = &remediator {
        eprintln!("{}", r.describe());
    }
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(Report, i64)>();
    let (mut rx, _tasks) = watch::watch_all(&inv, &tls, &filter);
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            done = done_rx.recv() => {
                if let (Some((report, started_at)), Some(r)) = (done, remediator.as_mut()) {
                    if report.remediation == "restarted" {
                        r.restarted(&report.container, started_at);
                    } else {
                        r.failed(&report.container);
                    }
                    print_report(cli.output, &report);
                }
                continue;
            }
            _ = &mut stop => break,
        };
        let Some(item) = item else { break };
        let now = kroll_shared::time::now_unix_ms();
        if let Item::Event(e) = &item {
            if let Some(s) = &sink {
                s.offer(e);
            }
            if let Some(r) = remediator.as_mut() {
                remediate(r, e, now, &inv, &tls, cli.output, &done_tx);
            }
            if !filter.passes(e) {
                continue;
            }
        }
        match (cli.output, &item) {
            (Output::Json, _) => println!("{}", watch::json_line(&item, now)),
            (Output::Text, Item::Event(e)) => println!("{}", watch::render_event(e)),
            (Output::Text, Item::Notice(n)) => eprintln!("{}", watch::render_notice(n)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Acts on one event under the remediation policy: a restart runs in the background and
/// reports back on `done`.
fn remediate(
    r: &mut Remediator,
    e: &kroll_shared::model::Event,
    now: i64,
    inv: &kroll_shared::inventory::Inventory,
    tls: &kroll_shared::tls::TlsMaterial,
    output: Output,
    done: &tokio::sync::mpsc::UnboundedSender<(Report, i64)>,
) {
    match r.decide(e, now) {
        Decision::Ignore => {}
        Decision::Skip {
            node,
            container,
            reason,
        } => print_report(
            output,
            &Report {
                remediation: "skipped",
                node,
                container,
                operation_id: String::new(),
                reason,
                time_unix_ms: now,
            },
        ),
        Decision::Restart {
            node,
            container,
            operation_id,
            reason,
        } => {
            let report = Report {
                remediation: "restarting",
                node,
                container,
                operation_id,
                reason,
                time_unix_ms: now,
            };
            print_report(output, &report);
            let (inv, tls, done, stop_timeout) =
                (inv.clone(), tls.clone(), done.clone(), r.stop_timeout());
            tokio::spawn(async move {
                let result = async {
                    let node = inv
                        .node(&report.node)
                        .ok_or_else(|| format!("node `{}` is not in the inventory", report.node))?;
                    let mut client = AgentClient::connect(node, &tls, inv.agents.timeout())
                        .await
                        .map_err(|e| e.to_string())?;
                    client
                        .restart(&report.operation_id, &report.container, stop_timeout)
                        .await
                        .map_err(|e| e.to_string())
                }
                .await;
                let finished = kroll_shared::time::now_unix_ms();
                let (outcome, reason, started_at) = match result {
                    Ok(r) => (
                        "restarted",
                        format!("{}; running again", report.reason),
                        r.started_at_unix_ms,
                    ),
                    Err(e) => (
                        "failed",
                        format!("{}; the restart failed: {e}", report.reason),
                        0,
                    ),
                };
                let _ = done.send((
                    Report {
                        remediation: outcome,
                        reason,
                        time_unix_ms: finished,
                        ..report
                    },
                    started_at,
                ));
            });
        }
    }
}

fn print_report(output: Output, r: &Report) {
    match output {
        Output::Json => println!("{}", serde_json::to_string(r).unwrap_or_default()),
        Output::Text => println!(
            "{}  {}  {}  remediation {}: {}{}",
            watch::timestamp(r.time_unix_ms),
            r.node,
            r.container,
            r.remediation,
            r.reason,
            if r.operation_id.is_empty() {
                String::new()
            } else {
                format!(" (operation {})", r.operation_id)
            }
        ),
    }
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
