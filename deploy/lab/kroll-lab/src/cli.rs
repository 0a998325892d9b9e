//! The `kroll-lab` command line: the lab's images, `up` and `down`.
//!
//! Exit codes (as `kroll`'s): 0 = done; 1 = the command failed; 2 = bad usage or configuration
//! (nothing was touched).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kroll_shared::config::ConfigError;

use crate::images::{self, BrokerBinary, DEFAULT_REGISTRY};
use crate::topology::{DEFAULT_LAB, PLATFORMS, Platform, Security, Services};
use crate::{self as lab, DownOptions, LabError, LabHandle, Progress, UpOptions};

/// kroll-lab — the lab: a stand-in cluster on the local Docker engine, built from this machine's
/// files (nothing is pulled), that kroll is tested and demonstrated on. See deploy/lab/LAB.md.
///
/// Not part of the shipped `kroll`; point `kroll --inventory <dir>/kroll.toml …` at a lab to
/// run kroll against it.
///
/// Exit codes: 0 ok; 1 failed; 2 bad usage or configuration (nothing touched).
#[derive(Debug, Parser)]
#[command(name = "kroll-lab", version, propagate_version = true)]
pub struct Cli {
    /// Output format: `text` for people, `json` for scripts.
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(subcommand)]
    pub command: LabCommand,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// A mistake in what the user asked for; exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match run_command(&cli, &cli.command).await {
        Ok(code) => code,
        Err(e) => {
            let usage = e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<UsageError>().is_some();
            eprintln!("kroll-lab: {e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// `kroll-lab …`
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build the lab's images from this machine's files (skipped when their content is
    /// unchanged): `<registry>/{zookeeper,kafka,connect,schema-registry,rest,kafdrop}:<version>`
    /// for every platform version (7.1.1, 7.7.1, 7.8.0), and the labbox test image.
    #[command(disable_version_flag = true)]
    Images {
        /// Only these platform versions (repeatable).
        #[arg(long = "version")]
        versions: Vec<String>,
        /// Image registry prefix.
        #[arg(long, default_value = DEFAULT_REGISTRY)]
        registry: String,
        /// Also push the images into the registry of this Swarm lab (as its CI pipeline would
        /// before an upgrade), as `<lab registry>/rhodry/<component>:<version>`.
        #[arg(long, value_name = "NAME")]
        lab: Option<String>,
        /// The Swarm lab's directory (default `$XDG_STATE_HOME/kroll-lab/<NAME>`).
        #[arg(long, requires = "lab")]
        dir: Option<PathBuf>,
        /// Also move the registry's `latest` to this (one) version, as the journal's CI does:
        /// the lab's stack file names its images untagged, so `latest` is what a deploy runs
        /// and what `kroll upgrade --to VERSION` resolves (and checks by the image's labels).
        #[arg(long, requires = "lab")]
        release: bool,
    },
    /// Start (or reconcile) a lab: images, network `<name>-net`, ZooKeeper, 5 brokers, 5 Connect
    /// workers, Schema Registry, REST proxy, Kafdrop, one kroll-agent per node on 127.77.0.N
    /// (mutual TLS), seed topics and Debezium 1.9-style connectors; writes `<dir>/kroll.toml`
    /// and waits until everything is healthy. On a running lab it creates what is missing and
    /// starts what is stopped, and changes nothing else.
    #[command(disable_version_flag = true)]
    Up(UpArgs),
    /// Remove a lab: every container, network and volume labelled `kroll.lab=<name>`, its
    /// agents (by recorded PID) and the files `kroll-lab up` wrote. Safe to run twice.
    Down(DownArgs),
}

/// `kroll-lab up` options.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Lab name; containers are `<name>-<service>`.
    #[arg(long, default_value = DEFAULT_LAB)]
    name: String,
    /// Platform version of the containers (7.1.1, 7.7.1 or 7.8.0).
    #[arg(long, default_value = "7.1.1")]
    version: String,
    /// Directory for the inventory, certificates and agent files (default
    /// `$XDG_STATE_HOME/kroll-lab/<name>`, i.e. `~/.local/state/kroll-lab/<name>`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Publish host ports from N up (ZooKeeper N, Schema Registry N+1, REST proxy N+2, Kafdrop
    /// N+3, Connect N+10…, brokers N+20…, agents N+30). Default: the fixed ports of
    /// deploy/inventory.lab.toml for the lab `lab`, free ports for any other.
    #[arg(long)]
    port_base: Option<u16>,
    /// Image registry prefix.
    #[arg(long, default_value = DEFAULT_REGISTRY)]
    registry: String,
    /// Which services: everything, or ZooKeeper and the brokers only.
    #[arg(long, value_enum, default_value_t = ServicesArg::Full)]
    services: ServicesArg,
    /// Do not create the seed topics and connectors.
    #[arg(long)]
    no_seed: bool,
    /// How big: `lab` is the journal's lab cluster (5 nodes, one ZooKeeper, 5 Connect
    /// workers); `production` is the journal's production size: 18 nodes with a broker each, a
    /// 3-server ZooKeeper ensemble, 5 Connect workers and the topic `load` with 3,000
    /// partitions at RF 3 / min ISR 2 (measured with `--services kafka`: ~20 MiB per broker,
    /// ~150 MiB per ZooKeeper server; see deploy/lab/LAB.md for what it needs at 3,000
    /// partitions).
    #[arg(long, value_enum, default_value_t = ShapeArg::Lab, conflicts_with = "swarm")]
    shape: ShapeArg,
    /// The brokers' security. `plaintext` (the default, for now): listeners PLAINTEXT_INT and
    /// PLAINTEXT_EXT only, no login, no ACLs. `sasl`: the journal's four listeners —
    /// PLAINTEXT_INT, SASL_INT (inter-broker), PLAINTEXT_EXT, and SASL_EXT published on the
    /// host (26091… for the lab `lab`, N+120… with --port-base, free ports otherwise) — with
    /// SASL/PLAIN users `admin` (super user), `kroll` and `nobody` whose random passwords are in
    /// a JAAS file (<dir>/secrets/KAFKA_JAAS, mode 0600) mounted read-only into every broker at
    /// /run/secrets/KAFKA_JAAS, as the journal's Swarm secret is; AclAuthorizer with no access
    /// without an ACL, and the journal's ACLs: User:ANONYMOUS may do everything (PLAINTEXT
    /// clients — Connect, Schema Registry, REST proxy — work unchanged), User:kroll only what
    /// kroll reads. The inventory then points kroll at SASL_EXT as `kroll`, its password in
    /// <dir>/kafka-password (mode 0600). Connect, Schema Registry and the REST proxy then
    /// require HTTP basic auth as Confluent's images configure it (BasicAuthSecurityRestExtension;
    /// AUTHENTICATION_METHOD=BASIC with a realm, roles and a JAAS file): users `admin` (every
    /// service), `kroll` (Connect and Schema Registry; the inventory's [connect] and
    /// [schema_registry], password in <dir>/rest-password) and `connect` (the workers'
    /// converters in Schema Registry, through a FileConfigProvider variable), their random
    /// passwords in files under <dir>/secrets mounted read-only at /run/secrets/<NAME>.
    /// With --swarm every such file is what the journal's JAAS file is: a Swarm secret
    /// (`KAFKA_JAAS_<LAB>`, `CONNECT_JAAS_<LAB>`, …, made before the stack is deployed and named
    /// `external` in the stack file), seen at /run/secrets/<NAME>. `sasl-ssl`:
    /// everything `sasl` has plus SASL_SSL_EXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; 25091…,
    /// N+220…) and SSL_EXT (a client certificate required, principal User:CN=<user>; 24091…,
    /// N+320…) on every broker, the lab's own Kafka CA, broker keystore and client
    /// certificates in <dir>/kafka-tls, and the users' SCRAM credentials in ZooKeeper
    /// (/config/users). Not with --swarm.
    #[arg(long, value_enum, default_value_t = SecurityArg::Plaintext)]
    security: SecurityArg,
    /// Run the lab as the user runs production: a Docker Swarm of five engines on this
    /// machine (each in its own network namespace, hostname rhodrylab-0N, the first
    /// `--managers` of them managers),
    /// the lab's images in a registry of its own, the services deployed as a stack from a
    /// stack file shaped like the journal's (`<dir>/stack.yml`), one agent per node. Needs root
    /// and Debian's iproute2, docker.io, docker-registry and fuse-overlayfs; changes nothing of
    /// this machine's Docker engine. Nodes are reached at 10.199.<k>.11…15.
    #[arg(long, conflicts_with_all = ["port_base", "registry"])]
    swarm: bool,
    /// With --swarm: how many nodes are Swarm managers (rhodrylab-01…), 1, 3 or 5. Each
    /// manager's agent may update the stack's services, and the inventory lists them all:
    /// kroll goes through the first whose agent answers, and Swarm keeps what an update saved
    /// for rollback where every manager finds it.
    #[arg(long, default_value_t = 3, requires = "swarm", value_parser = clap::value_parser!(u8).range(1..=5))]
    managers: u8,
    /// With --swarm: run the agents as host processes, one per node on its node's engine
    /// (`host`, the safer choice during an upgrade), or as one global Swarm service in a stack
    /// of their own (`service`: the host's /proc mounted for `[jvm] proc_root`, SYS_PTRACE, the
    /// config a Swarm template filled per node, certificates as Swarm secrets).
    #[arg(long, value_enum, default_value_t = AgentsAs::Host, requires = "swarm")]
    agents_as: AgentsAs,
}

/// `--agents-as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AgentsAs {
    Host,
    Service,
}

/// `--shape`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShapeArg {
    Lab,
    Production,
}

/// `--security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SecurityArg {
    Plaintext,
    Sasl,
    SaslSsl,
}

/// `--services`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServicesArg {
    Full,
    Kafka,
}

/// `kroll-lab down` options.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Lab name.
    #[arg(long, default_value = DEFAULT_LAB)]
    name: String,
    /// The lab's directory, if `kroll-lab up` was given one (default: found through the lab's
    /// network label).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Runs a `kroll-lab …` command.
async fn run_command(cli: &Cli, cmd: &LabCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LabCommand::Images {
            versions,
            registry,
            lab,
            dir,
            release,
        } => {
            let into = lab
                .as_deref()
                .map(|name| dir.clone().unwrap_or_else(|| lab::state::default_dir(name)));
            cmd_images(cli, versions, registry, into.as_deref(), *release).await
        }
        LabCommand::Up(a) => cmd_up(cli, a).await,
        LabCommand::Down(a) => cmd_down(cli, a).await,
    }
}

/// Usage errors of the lab become exit code 2.
fn classify(e: LabError) -> anyhow::Error {
    if e.is_usage() {
        anyhow::Error::new(UsageError(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

fn progress(cli: &Cli) -> Progress {
    let json = cli.output == Output::Json;
    Progress::new(move |line| {
        if !json {
            eprintln!("… {line}");
        }
    })
}

async fn cmd_images(
    cli: &Cli,
    versions: &[String],
    registry: &str,
    into: Option<&std::path::Path>,
    release: bool,
) -> anyhow::Result<ExitCode> {
    let platforms: Vec<&Platform> = if versions.is_empty() {
        PLATFORMS.iter().collect()
    } else {
        versions
            .iter()
            .map(|v| {
                Platform::find(v).ok_or_else(|| {
                    UsageError(format!(
                        "--version {v}: no lab images for it (7.1.1, 7.7.1, 7.8.0)"
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let docker = lab::docker::connect().await.map_err(classify)?;
    let labbox = lab::sibling_binary("kroll-labbox").ok_or_else(|| {
        anyhow::anyhow!("kroll-labbox is not beside the kroll-lab binary; build the workspace (cargo build --workspace --bins)")
    })?;
    let labbox_id = lab::ensure_labbox(&docker, &labbox).await?;
    let broker = BrokerBinary::beside_this_executable()?;
    let mut sets = Vec::new();
    for p in platforms {
        if cli.output == Output::Text {
            eprintln!("… Images of {}…", p.version);
        }
        sets.push(images::ensure_platform(&docker, registry, p, &broker).await?);
    }
    let pushed = match into {
        Some(dir) => {
            if cli.output == Output::Text {
                eprintln!("… Pushing them into the Swarm lab's registry…");
            }
            Some(lab::swarm::push_to_lab(dir, &sets, release).map_err(classify)?)
        }
        None => None,
    };
    match cli.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({"labbox": {"tag": lab::LABBOX_IMAGE, "id": labbox_id}, "platforms": sets, "pushed_to": pushed})
        ),
        Output::Text => {
            println!("{} {labbox_id}", lab::LABBOX_IMAGE);
            for s in &sets {
                for i in &s.images {
                    println!("{} {}", i.tag, i.id);
                }
            }
            if let Some(repository) = pushed {
                println!("pushed to {repository}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn cmd_up(cli: &Cli, a: &UpArgs) -> anyhow::Result<ExitCode> {
    let mut opts = UpOptions::new(&a.name);
    opts.version = a.version.clone();
    opts.dir = a.dir.clone();
    opts.port_base = a.port_base;
    opts.registry = a.registry.clone();
    opts.services = match a.services {
        ServicesArg::Full => Services::Full,
        ServicesArg::Kafka => Services::Kafka,
    };
    opts.seed = !a.no_seed;
    opts.shape = match a.shape {
        ShapeArg::Lab => lab::topology::Shape::LAB,
        ShapeArg::Production => lab::topology::Shape::PRODUCTION,
    };
    opts.security = match a.security {
        SecurityArg::Plaintext => Security::Plaintext,
        SecurityArg::Sasl => Security::Sasl,
        SecurityArg::SaslSsl => Security::SaslSsl,
    };
    opts.swarm = a.swarm;
    opts.managers = a.managers;
    opts.agents_as_service = a.agents_as == AgentsAs::Service;
    opts.progress = progress(cli);
    let handle = lab::up(opts).await.map_err(classify)?;
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&handle)?),
        Output::Text => print!("{}", render_up(&handle)),
    }
    Ok(ExitCode::SUCCESS)
}

/// How to reach everything in a lab, for people.
pub fn render_up(h: &LabHandle) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Lab `{}` is up: Confluent {} (Kafka {}), {:.1} s.",
        h.name,
        h.spec.platform.version,
        h.spec.platform.kafka,
        h.elapsed_ms as f64 / 1000.0
    );
    let inv = h.inventory.display();
    let mut row = |k: &str, v: String| {
        let _ = writeln!(s, "  {k:<16} {v}");
    };
    row("inventory", inv.to_string());
    row("status", format!("kroll --inventory {inv} status"));
    row("kafka bootstrap", h.bootstrap.join(","));
    row(
        "  try",
        format!(
            "kcat -b {} -L",
            h.bootstrap.first().cloned().unwrap_or_default()
        ),
    );
    if let Some(sasl) = &h.sasl {
        row(
            "kafka SASL_EXT",
            format!(
                "{} ({}, {})",
                sasl.bootstrap.join(","),
                sasl.security_protocol,
                sasl.sasl_mechanism
            ),
        );
        row(
            "  users",
            format!(
                "{} (super user), {} (kroll's ACLs: reads only), {} (no ACL); passwords in {}",
                sasl.admin.username,
                sasl.kroll.username,
                sasl.nobody.username,
                sasl.jaas_file.display()
            ),
        );
        row(
            "  try",
            format!(
                "kcat -b {} -X security.protocol={} -X sasl.mechanisms={} -X sasl.username={} -X sasl.password=\"$(cat {})\" -L",
                sasl.bootstrap.first().cloned().unwrap_or_default(),
                sasl.security_protocol,
                sasl.sasl_mechanism,
                sasl.kroll.username,
                sasl.password_file.display()
            ),
        );
    }
    if let Some(tls) = &h.tls {
        row(
            "kafka SASL_SSL_EXT",
            format!(
                "{} (SASL_SSL: {}; the users above)",
                tls.sasl_ssl_bootstrap.join(","),
                tls.sasl_mechanisms.join(", ")
            ),
        );
        row(
            "kafka SSL_EXT",
            format!(
                "{} (SSL, client certificate required; principal User:CN=<user>)",
                tls.ssl_bootstrap.join(",")
            ),
        );
        row(
            "  certificates",
            format!(
                "CA {}; clients {} and -key.pem beside (admin, kroll, nobody)",
                tls.ca_file.display(),
                tls.kroll.cert_file.display()
            ),
        );
        row(
            "  try",
            format!(
                "kcat -b {} -X security.protocol=SSL -X ssl.ca.location={} -X ssl.certificate.location={} -X ssl.key.location={} -L",
                tls.ssl_bootstrap.first().cloned().unwrap_or_default(),
                tls.ca_file.display(),
                tls.kroll.cert_file.display(),
                tls.kroll.key_file.display()
            ),
        );
    }
    if let Some(rest) = &h.rest_auth {
        row(
            "REST logins",
            format!(
                "HTTP basic auth on Connect, Schema Registry and the REST proxy: {} (every service), {} (Connect, Schema Registry; password in {}), {} (the workers' converters in Schema Registry); the users' files in {}",
                rest.admin.username,
                rest.kroll.username,
                rest.password_file.display(),
                rest.connect.username,
                h.dir.join(lab::topology::SECRETS_DIR).display()
            ),
        );
        if let Some(registry) = &h.schema_registry {
            row(
                "  try",
                format!(
                    "curl -u {}:\"$(cat {})\" {registry}/subjects",
                    rest.kroll.username,
                    rest.password_file.display()
                ),
            );
        }
    }
    row(
        "zookeeper",
        format!("{} (Kafka's chroot: /kafka)", h.zookeeper),
    );
    for (i, url) in h.connect.iter().enumerate() {
        row(&format!("connect-{:02}", i + 1), url.clone());
    }
    for (k, v) in [
        ("schema registry", &h.schema_registry),
        ("rest proxy", &h.rest_proxy),
        ("kafdrop", &h.kafdrop),
    ] {
        if let Some(v) = v {
            row(k, v.clone());
        }
    }
    for a in &h.agents {
        row(
            &format!("agent {}", a.node),
            format!("{} (pid {}, log {})", a.addr, a.pid, a.log.display()),
        );
    }
    let agents_stack = h.dir.join("agents-stack.yml");
    if h.agents.is_empty() && agents_stack.is_file() {
        row(
            "agents",
            format!(
                "global Swarm service `{}` on every node, port {} ({})",
                lab::swarm::agent_service::stack_name(&h.name),
                h.spec.agent_addr(1).port(),
                agents_stack.display()
            ),
        );
    }
    row("certificates", h.dir.join("certs").display().to_string());
    row("remove it", format!("kroll-lab down --name {}", h.name));
    s
}

async fn cmd_down(cli: &Cli, a: &DownArgs) -> anyhow::Result<ExitCode> {
    let mut opts = DownOptions::new(&a.name);
    opts.dir = a.dir.clone();
    opts.progress = progress(cli);
    let r = lab::down(opts)
        .await
        .map_err(classify)
        .with_context(|| format!("removing lab `{}`", a.name))?;
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        Output::Text => println!(
            "Lab `{}` removed: {} containers, {} networks, {} volumes, {} agents{}.",
            r.name,
            r.containers.len(),
            r.networks.len(),
            r.volumes.len(),
            r.agents.len(),
            r.dir
                .as_ref()
                .map(|d| format!(", runtime files in {}", d.display()))
                .unwrap_or_default()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
