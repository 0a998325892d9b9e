//! `kroll plan`, `kroll upgrade` and `kroll rollback`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use kroll_shared::inventory::{Inventory, ServiceKind};

use super::{Cli, Output, UsageError, load_inventory, load_tls, parse_duration};
use crate::connect::migrate::MigrateRequest;
use crate::migration::MigrateSettings;
use crate::upgrade::actions::AgentActions;
use crate::upgrade::connect_phases::UpgradeConnect;
use crate::upgrade::decide;
use crate::upgrade::engine::{ConnectPhases, Engine, Live, Observe, Outcome, Parts, Settings};
use crate::upgrade::journal::{self, Event, RunDir};
use crate::upgrade::observe::{ClusterLock, KafkaProbe};
use crate::upgrade::plan::{PlanOptions, plan, render};
use crate::upgrade::run_state::RunState;
use crate::upgrade::version::Platform;

/// What to upgrade to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Target Confluent Platform version (e.g. 7.7.1, 7.8.0). ZooKeeper mode ends at 7.9 /
    /// Kafka 3.9; 8.x needs KRaft first and is refused.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Target image for one kind of service, overriding "same repository, tag = version"
    /// (repeatable), e.g. `--image connect=registry/bi/rhodry/connect:7.7.1-3.5.0-dev`.
    #[arg(long = "image", value_name = "KIND=IMAGE")]
    pub images: Vec<String>,
    /// TEST HOOK — do not use: roll brokers without pinning inter.broker.protocol.version.
    /// Only in builds with the `test-switches` feature (the integration tests'), never in the
    /// shipped binary.
    #[cfg(feature = "test-switches")]
    #[arg(long, hide = true)]
    pub unsafe_no_ibp_pin: bool,
}

impl Target {
    /// Pin the IBP during Roll 1 (always, unless a test build was told otherwise).
    fn pin_ibp(&self) -> bool {
        #[cfg(feature = "test-switches")]
        return !self.unsafe_no_ibp_pin;
        #[cfg(not(feature = "test-switches"))]
        true
    }
}

/// `kroll upgrade` options.
#[derive(Debug, Clone, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub target: Target,
    /// Continue the latest unfinished run (or --run DIR) from where it stands.
    #[arg(long)]
    pub resume: bool,
    /// The run directory to resume.
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// Where run directories are kept.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs: PathBuf,
    /// Do not ask before the inter.broker.protocol.version bump (the point of no return).
    #[arg(long)]
    pub yes: bool,
    /// Do not roll a failed node back automatically (leave it for inspection).
    #[arg(long)]
    pub no_auto_rollback: bool,
    /// Do not quiesce/resume Connect (you did it yourself, or there is nothing to protect).
    #[arg(long)]
    pub skip_connect: bool,
    /// SIGTERM → SIGKILL for brokers (controlled shutdown).
    #[arg(long, value_parser = parse_duration, default_value = "300s")]
    pub broker_stop_timeout: Duration,
    /// SIGTERM → SIGKILL for the other services.
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub stop_timeout: Duration,
    /// Base time limit of a gate after a restart (brokers: plus --gate-per-partition each).
    #[arg(long, value_parser = parse_duration, default_value = "300s")]
    pub gate_timeout: Duration,
    /// Extra gate time per partition a broker hosts.
    #[arg(long, value_parser = parse_duration, default_value = "200ms")]
    pub gate_per_partition: Duration,
    /// Let brokers stop although a partition would fall below min.insync.replicas.
    #[arg(long)]
    pub allow_min_isr_violation: bool,
    /// Resume the connectors with their configs as they are, without the Debezium 1.9 → 3.0
    /// migration (for upgrades that keep the connector plugins).
    #[arg(long)]
    pub no_migrate_connectors: bool,
    /// Journal variant for every connector's migration (`cdc` or `ct`), overriding detection.
    #[arg(long, value_name = "cdc|ct")]
    pub kind: Option<kroll_migrate::ConnectorKind>,
    /// First `database.server.id` for migrated connectors that have none (+1 for each next).
    #[arg(long, value_name = "N")]
    pub server_id: Option<u32>,
    /// Opt in to `producer.override.enable.idempotence=true` on migrated connectors.
    #[arg(long)]
    pub enable_idempotence: bool,
    /// Let value subjects that would refuse Debezium 3.0's envelope accept it once (subject
    /// compatibility NONE for that registration, then restored) instead of refusing.
    #[arg(long)]
    pub allow_incompatible_values: bool,
}

/// `kroll rollback` options.
#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// The run to undo (default: the latest unfinished one under --runs).
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs: PathBuf,
}

fn plan_options(t: &Target) -> anyhow::Result<PlanOptions> {
    let to =
        t.to.as_deref()
            .ok_or_else(|| UsageError("--to VERSION is required (e.g. --to 7.7.1)".into()))?;
    let to: Platform = to
        .parse()
        .map_err(|e: crate::upgrade::version::VersionError| UsageError(e.to_string()))?;
    let mut images = BTreeMap::new();
    for spec in &t.images {
        let (kind, image) = spec
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--image `{spec}`: expected KIND=IMAGE")))?;
        let kind: ServiceKind = serde_json::from_value(serde_json::Value::String(kind.into()))
            .map_err(|_| UsageError(format!("--image `{spec}`: unknown kind `{kind}` (zookeeper, broker, connect, schema-registry, rest-proxy, kafdrop)")))?;
        images.insert(kind, image.to_owned());
    }
    Ok(PlanOptions {
        to,
        images,
        pin_ibp: t.pin_ibp(),
        resuming: false,
    })
}

pub(super) fn probe(inv: &Inventory) -> anyhow::Result<KafkaProbe> {
    let zk = inv.cluster.zookeeper.as_deref().ok_or_else(|| {
        UsageError("the inventory's [cluster] needs `zookeeper = \"host:port/chroot\"` (kroll reads /controller and /brokers/ids)".into())
    })?;
    if inv.cluster.kafka_bootstrap.is_empty() {
        return Err(UsageError(
            "the inventory's [cluster] needs `kafka_bootstrap` for the health gates".into(),
        )
        .into());
    }
    let connection = crate::kafka::KafkaConnection::from_inventory(inv)
        .map_err(|e| UsageError(e.to_string()))?;
    KafkaProbe::new(connection, zk, Duration::from_secs(10)).map_err(|e| anyhow::anyhow!(e))
}

/// `kroll plan`.
pub async fn cmd_plan(cli: &Cli, t: &Target) -> anyhow::Result<ExitCode> {
    let opts = plan_options(t)?;
    let inv = load_inventory(cli)?;
    let tls = load_tls(cli, &inv)?;
    let kafka = probe(&inv)?;
    let view = Live::new(&inv, &tls, &kafka).observe().await;
    let p = plan(&view, &opts)
        .map_err(|e| UsageError(format!("no plan: {e} (nothing was touched)")))?;
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&p)?),
        Output::Text => print!("{}", render(&p, &inv.cluster.name)),
    }
    Ok(ExitCode::SUCCESS)
}

fn settings(a: &UpgradeArgs) -> Settings {
    Settings {
        broker_stop_timeout: a.broker_stop_timeout,
        stop_timeout: a.stop_timeout,
        gate_timeout: a.gate_timeout,
        gate_timeout_per_partition: a.gate_per_partition,
        auto_rollback: !a.no_auto_rollback,
        yes: a.yes,
        allow_min_isr_violation: a.allow_min_isr_violation,
        skip_connect: a.skip_connect,
        ..Settings::default()
    }
}

/// Options of the run being resumed, from its journal (a run started without the IBP pin can
/// only be continued by a build that has the switch).
fn resumed_target(dir: &Path) -> anyhow::Result<Target> {
    let entries = journal::read(&dir.join("journal.jsonl"))?;
    let started = entries.iter().find_map(|e| match &e.event {
        Event::RunStarted {
            to,
            pin_ibp,
            images,
            ..
        } => Some((
            Target {
                to: Some(to.clone()),
                images: images.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                #[cfg(feature = "test-switches")]
                unsafe_no_ibp_pin: !pin_ibp,
            },
            *pin_ibp,
        )),
        _ => None,
    });
    let (target, pin_ibp) = started.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the journal has no run_started event; cannot resume it",
            dir.display()
        )
    })?;
    if pin_ibp != target.pin_ibp() {
        return Err(UsageError(format!(
            "{}: this run was started without the IBP pin (a test switch this build does not have)",
            dir.display()
        ))
        .into());
    }
    Ok(target)
}

/// A fresh run while another is unfinished is refused: it would not know what that run did.
/// One that never got past pre-flight did nothing and is left as it is.
fn refuse_if_unfinished(runs: &Path) -> anyhow::Result<()> {
    match journal::latest_unfinished_that_acted(runs) {
        Ok(dir) => Err(UsageError(format!(
            "run {} is unfinished; continue it with `kroll upgrade --resume` or undo it with `kroll rollback` (nothing was touched)",
            dir.display()
        ))
        .into()),
        Err(journal::JournalError::NothingToResume(_)) => Ok(()),
        Err(journal::JournalError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `kroll upgrade`.
pub async fn cmd_upgrade(cli: &Cli, a: &UpgradeArgs) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let tls = load_tls(cli, &inv)?;
    let kafka = probe(&inv)?;
    let resume_dir = if a.resume || a.run.is_some() {
        Some(match &a.run {
            Some(d) => d.clone(),
            None => journal::latest_unfinished(&a.runs)?,
        })
    } else {
        refuse_if_unfinished(&a.runs)?;
        None
    };
    let target = match &resume_dir {
        Some(dir) => resumed_target(dir)?,
        None => a.target.clone(),
    };
    let opts = PlanOptions {
        resuming: resume_dir.is_some(),
        ..plan_options(&target)?
    };
    // Refuse an impossible plan before anything (not even a run directory) is made: exit 2.
    let live = Live::new(&inv, &tls, &kafka);
    let view = live.observe().await;
    if let Err(e) = plan(&view, &opts) {
        return Err(UsageError(format!("no upgrade: {e} (nothing was touched)")).into());
    }
    let run = match &resume_dir {
        Some(dir) => RunDir::open(&a.runs, dir)?,
        None => RunDir::create(&a.runs, &journal::new_run_id())?,
    };
    let lock = ClusterLock::acquire(&kafka, &run.run_id())
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let actions = AgentActions::new(inv.clone(), tls.clone());
    let connect = connect_phases(&inv, a)?;
    let engine = Engine::new(Parts {
        observer: &live,
        actions: &actions,
        connect: connect.as_ref(),
        run,
        opts,
        settings: settings(a),
        cluster: inv.cluster.name.clone(),
        quiet: cli.output == Output::Json,
        stack: inv
            .swarm
            .as_ref()
            .and_then(crate::upgrade::stack_file::StackKeeper::of),
    });
    let dir = engine.run_dir().to_owned();
    let outcome = engine.run().await;
    lock.release().await;
    finish(cli, outcome, &dir)
}

fn finish(cli: &Cli, outcome: Outcome, dir: &Path) -> anyhow::Result<ExitCode> {
    let (code, json) = match &outcome {
        Outcome::Finished(r) => (
            ExitCode::SUCCESS,
            serde_json::json!({"outcome": "finished", "run": dir, "report": r}),
        ),
        Outcome::Halted(h, r) => (
            ExitCode::from(1),
            serde_json::json!({"outcome": "halted", "reason": h.reason, "advice": h.advice, "run": dir, "report": r}),
        ),
    };
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&json)?),
        Output::Text => {
            if let Outcome::Finished(r) = &outcome {
                print!("{}", r.render());
            }
        }
    }
    Ok(code)
}

/// `kroll rollback`.
pub async fn cmd_rollback(cli: &Cli, a: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let inv = load_inventory(cli)?;
    let tls = load_tls(cli, &inv)?;
    let kafka = probe(&inv)?;
    let dir = match &a.run {
        Some(d) => d.clone(),
        None => journal::latest_unfinished(&a.runs)?,
    };
    let run = RunDir::open(&a.runs, &dir)?;
    let state = RunState::fold(&run.run_id(), &run.entries()?);
    let live = Live::new(&inv, &tls, &kafka);
    // Refused before the lock is even taken: by the journal, or by what the brokers run.
    if let Some(h) = decide::rollback_refusal(&live.observe().await, &state) {
        return Err(UsageError(format!("{} — {}", h.reason, h.advice)).into());
    }
    let target = resumed_target(&dir)?;
    let lock = ClusterLock::acquire(&kafka, &run.run_id())
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let actions = AgentActions::new(inv.clone(), tls.clone());
    let mut engine = Engine::new(Parts::<_, _, NoConnect> {
        observer: &live,
        actions: &actions,
        connect: None,
        run,
        opts: plan_options(&target)?,
        settings: Settings::default(),
        cluster: inv.cluster.name.clone(),
        quiet: cli.output == Output::Json,
        stack: inv
            .swarm
            .as_ref()
            .and_then(crate::upgrade::stack_file::StackKeeper::of),
    });
    let result = engine.rollback_all().await;
    // Whatever was undone, the stack file says so: a redeploy must not redo it.
    let restored = engine.restore_stack_file().await;
    let closing = match &result {
        Ok(_) => engine.journal(Event::Finished {
            seconds: engine.started.elapsed().as_secs_f64(),
        }),
        Err(h) => engine.journal(Event::Halted {
            reason: h.reason.clone(),
            advice: h.advice.clone(),
        }),
    };
    engine.write_report();
    lock.release().await;
    match (result, closing, restored) {
        (Ok(undone), Ok(()), Ok(())) => {
            if cli.output == Output::Json {
                println!(
                    "{}",
                    serde_json::json!({"outcome": "rolled_back", "containers": undone.iter().map(|u| &u.container).collect::<Vec<_>>()})
                );
            } else {
                println!(
                    "Rolled back {} container(s); the run is closed.",
                    undone.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        (Ok(undone), Ok(()), Err(h)) => {
            eprintln!(
                "kroll: rolled back {} container(s) and closed the run, but {}\nWhat to do: {}",
                undone.len(),
                h.reason,
                h.advice
            );
            Ok(ExitCode::from(1))
        }
        (Err(h), _, restored) | (Ok(_), Err(h), restored) => {
            if let Err(r) = restored {
                eprintln!("kroll: {}", r.reason);
            }
            eprintln!(
                "kroll: rollback halted: {}\nWhat to do: {}",
                h.reason, h.advice
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// Connect's quiesce/resume for this run: none with --skip-connect or without Connect workers
/// in the inventory; otherwise backup + quiesce, and migrate (unless --no-migrate-connectors) +
/// resume + key-schema drift check.
fn connect_phases(inv: &Inventory, a: &UpgradeArgs) -> anyhow::Result<Option<UpgradeConnect>> {
    let has_connect = inv
        .services()
        .any(|p| p.service.kind == ServiceKind::Connect);
    if a.skip_connect || !has_connect {
        return Ok(None);
    }
    let migrate = (!a.no_migrate_connectors).then(|| MigrateSettings {
        request: MigrateRequest {
            kind: a.kind,
            server_id: a.server_id,
            enable_idempotence: a.enable_idempotence,
            ..MigrateRequest::default()
        },
        allow_incompatible_values: a.allow_incompatible_values,
        dry_run: false,
    });
    UpgradeConnect::from_inventory(inv, migrate)
        .map(Some)
        .map_err(|e| UsageError(e.to_string()).into())
}

/// No Connect phases (`kroll rollback` does not touch connectors).
#[derive(Debug)]
pub struct NoConnect;

impl ConnectPhases for NoConnect {
    async fn quiesce(&self, _run: &Path) -> Result<String, String> {
        Err("Connect quiesce is not available".into())
    }

    async fn resume(&self, _run: &Path) -> Result<String, String> {
        Err("Connect resume is not available".into())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    /// `cargo test -p kroll-coordinator` (default features, as shipped) must refuse them; the
    /// integration tests' build (feature on) must take them.
    #[test]
    fn the_test_switches_exist_only_in_builds_with_their_feature() {
        for args in [
            &["kroll", "upgrade", "--to", "7.7.1", "--unsafe-no-ibp-pin"][..],
            &["kroll", "plan", "--to", "7.7.1", "--unsafe-no-ibp-pin"],
            &["kroll", "connectors", "migrate", "--no-schema-name-guard"],
        ] {
            let parsed = Cli::try_parse_from(args);
            assert_eq!(
                parsed.is_ok(),
                cfg!(feature = "test-switches"),
                "{args:?}: {:?}",
                parsed.err().map(|e| e.to_string())
            );
        }
        assert!(Cli::try_parse_from(["kroll", "upgrade", "--to", "7.7.1"]).is_ok());
    }
}
