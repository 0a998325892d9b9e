//! `kroll certs`: the cluster CA and the certificates of the coordinator, readers and agents.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use kroll_shared::inventory::{Inventory, parse_host_port};
use kroll_shared::tls::{self, PemPair, Role, Validity};

use super::{Cli, Output, UsageError};

/// `kroll certs …`
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Create a cluster CA and certificates for the coordinator, a read-only reader, and every
    /// node's agent (named after the node, valid for the agent's address). Nodes come from the
    /// inventory, or from --node flags when there is no inventory yet. Writes `ca.pem`,
    /// `coordinator.pem`, `reader.pem`, `agent-<node>.pem`, each with a `-key.pem` readable by
    /// the owner only. Refuses to overwrite existing files unless --force.
    Init(InitArgs),
    /// Issue one more certificate from an existing CA (e.g. a reader for a dashboard).
    Issue(IssueArgs),
}

/// Arguments of `kroll certs init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write into (created if missing).
    #[arg(long, default_value = "certs")]
    out: PathBuf,
    /// Cluster name for the CA (default: the inventory's).
    #[arg(long)]
    cluster: Option<String>,
    /// A node as `name` or `name=host` (repeatable); replaces the inventory's node list.
    #[arg(long = "node", value_name = "NAME[=HOST]")]
    nodes: Vec<String>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

/// Arguments of `kroll certs issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// `coordinator`, `reader` or `agent`.
    #[arg(long)]
    role: String,
    /// Certificate name (CN); for an agent, the node name.
    #[arg(long)]
    name: String,
    /// Extra DNS names or IP addresses (agents: the address they are reached at).
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// Directory holding `ca.pem` / `ca-key.pem`; the new files are written there too.
    #[arg(long, default_value = "certs")]
    dir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub(super) fn run(cli: &Cli, cmd: &CertsCommand) -> anyhow::Result<ExitCode> {
    let written = match cmd {
        CertsCommand::Init(a) => init(cli, a)?,
        CertsCommand::Issue(a) => issue(a)?,
    };
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&written)?),
        Output::Text => {
            for w in &written {
                println!("wrote {}", w.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A node name and the names / addresses its agent certificate must be valid for.
type NodeHosts = (String, Vec<String>);

fn node_list(cli: &Cli, a: &InitArgs) -> anyhow::Result<(String, Vec<NodeHosts>)> {
    if !a.nodes.is_empty() {
        let nodes = a
            .nodes
            .iter()
            .map(|n| match n.split_once('=') {
                Some((name, host)) => (name.to_owned(), vec![name.to_owned(), host.to_owned()]),
                None => (n.clone(), vec![n.clone()]),
            })
            .collect();
        let cluster = a
            .cluster
            .clone()
            .ok_or_else(|| UsageError("--node needs --cluster".into()))?;
        return Ok((cluster, nodes));
    }
    let inv = Inventory::load(&cli.inventory).with_context(|| {
        "reading the inventory for the node list (or give --cluster and --node flags)".to_owned()
    })?;
    let nodes = inv
        .nodes
        .iter()
        .map(|n| {
            let mut hosts = vec![n.name.clone()];
            if let Ok((host, _)) = parse_host_port(&n.agent)
                && host != n.name
            {
                hosts.push(host);
            }
            (n.name.clone(), hosts)
        })
        .collect();
    Ok((a.cluster.clone().unwrap_or(inv.cluster.name), nodes))
}

fn init(cli: &Cli, a: &InitArgs) -> anyhow::Result<Vec<PathBuf>> {
    let (cluster, nodes) = node_list(cli, a)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let v = Validity::default();
    let ca = tls::generate_ca(&cluster, v)?;
    let mut written = Vec::new();
    let mut put = |stem: &str, pair: &PemPair| -> anyhow::Result<()> {
        tls::write_pair(&a.out, stem, pair, a.force)?;
        written.push(a.out.join(format!("{stem}.pem")));
        Ok(())
    };
    // Check every target first so a refusal changes nothing.
    if !a.force {
        let mut stems = vec![
            "ca".to_owned(),
            "coordinator".to_owned(),
            "reader".to_owned(),
        ];
        stems.extend(nodes.iter().map(|(n, _)| format!("agent-{n}")));
        for stem in stems {
            for f in [format!("{stem}.pem"), format!("{stem}-key.pem")] {
                let p = a.out.join(f);
                if p.exists() {
                    return Err(tls::TlsError::Exists { path: p }.into());
                }
            }
        }
    }
    put("ca", &ca)?;
    put(
        "coordinator",
        &tls::issue(&ca, Role::Coordinator, "coordinator", &[], v)?,
    )?;
    put("reader", &tls::issue(&ca, Role::Reader, "reader", &[], v)?)?;
    for (name, hosts) in &nodes {
        put(
            &format!("agent-{name}"),
            &tls::issue(&ca, Role::Agent, name, hosts, v)?,
        )?;
    }
    Ok(written)
}

fn read_ca(dir: &Path) -> anyhow::Result<PemPair> {
    let read = |f: &str| {
        let p = dir.join(f);
        std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
    };
    Ok(PemPair {
        cert_pem: read("ca.pem")?,
        key_pem: read("ca-key.pem")?,
    })
}

fn issue(a: &IssueArgs) -> anyhow::Result<Vec<PathBuf>> {
    let role = Role::parse(&a.role).ok_or_else(|| {
        UsageError(format!(
            "unknown role `{}` (coordinator, reader or agent)",
            a.role
        ))
    })?;
    let ca = read_ca(&a.dir)?;
    let mut hosts = a.hosts.clone();
    if role == Role::Agent && !hosts.contains(&a.name) {
        hosts.insert(0, a.name.clone());
    }
    let pair = tls::issue(&ca, role, &a.name, &hosts, Validity::default())?;
    let stem = match role {
        Role::Agent => format!("agent-{}", a.name),
        _ => a.name.clone(),
    };
    tls::write_pair(&a.dir, &stem, &pair, a.force)?;
    Ok(vec![a.dir.join(format!("{stem}.pem"))])
}
