//! `kroll-lab up`: images, network, volumes, containers, agents, seed data, inventory — and
//! waiting until all of it really works. Idempotent: on a running lab it creates what is
//! missing, starts what is stopped, and leaves everything else as it is (a container an
//! upgrade moved to another image stays there).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use kroll_shared::inventory::ServiceKind;
use serde::Serialize;

use super::agents::{self, AgentRecord};
use super::docker::{self as lab_docker, DIR_LABEL, Outcome};
use super::images::{self, BrokerBinary, DEFAULT_REGISTRY, ImageSet};
use super::pki::{self, TlsAccess};
use super::rest_auth::{self, RestAuth, RestUsers};
use super::security::{self, LabUsers, SaslAccess};
use super::state::{self, LabState};
use super::topology::{
    DEFAULT_LAB, LabSpec, Ports, Security, Services, Shape, agent_ip, node_name,
};
use super::{LabError, Progress};

pub(super) mod wait;

/// What `lab up` is asked to do.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Lab name (`lab`): containers `<name>-<service>`, network `<name>-net`.
    pub name: String,
    /// Platform version of new containers (`7.1.1`).
    pub version: String,
    /// Lab directory (inventory, certificates, agent files); default under
    /// `$XDG_STATE_HOME/kroll-lab/<name>`.
    pub dir: Option<PathBuf>,
    /// Host ports from this base up; default: the fixed ports for `lab`, free ports otherwise.
    pub port_base: Option<u16>,
    /// Image registry prefix.
    pub registry: String,
    pub services: Services,
    /// How many nodes, ZooKeeper servers and Connect workers (default: the journal's lab).
    pub shape: Shape,
    /// PLAINTEXT brokers (default), or the journal's SASL listeners, JAAS file and ACLs.
    pub security: Security,
    /// Extra environment of every broker (benchmarks: `KAFKA_LOG4J_LOGGERS`).
    pub broker_env: BTreeMap<String, String>,
    /// Start one `kroll-agent` per node (default true).
    pub agents: bool,
    /// Create the seed topics and connectors (default true; only for full labs).
    pub seed: bool,
    /// Extra labels on every object (tests: `kroll.test.run`).
    pub extra_labels: BTreeMap<String, String>,
    /// A Swarm lab: five engines joined as one swarm, the lab deployed as a stack.
    pub swarm: bool,
    /// A Swarm lab's managers: nodes 1…N (1, 3 or 5).
    pub managers: u8,
    /// A Swarm lab's agents run as a global Swarm service (stack `<name>-agents`) instead of
    /// one host process per node.
    pub agents_as_service: bool,
    pub progress: Progress,
}

impl UpOptions {
    /// The defaults for lab `name`: 7.1.1, full, agents, seeded.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: "7.1.1".to_owned(),
            dir: None,
            port_base: None,
            registry: DEFAULT_REGISTRY.to_owned(),
            services: Services::Full,
            shape: Shape::LAB,
            security: Security::Plaintext,
            broker_env: BTreeMap::new(),
            agents: true,
            seed: true,
            extra_labels: BTreeMap::new(),
            swarm: false,
            managers: 3,
            agents_as_service: false,
            progress: Progress::default(),
        }
    }
}

/// A running lab: where everything is and how to reach it.
#[derive(Debug, Clone, Serialize)]
pub struct LabHandle {
    pub name: String,
    pub dir: PathBuf,
    /// `<dir>/kroll.toml`, for `kroll --inventory … status`.
    pub inventory: PathBuf,
    pub spec: LabSpec,
    /// Kafka bootstrap servers from the host (`PLAINTEXT_EXT`: no login, `User:ANONYMOUS`).
    pub bootstrap: Vec<String>,
    /// A SASL lab's `SASL_EXT` listeners and users (passwords never serialized).
    pub sasl: Option<SaslAccess>,
    /// A `sasl-ssl` lab's `SASL_SSL_EXT` / `SSL_EXT` listeners, CA and client certificates
    /// (paths only).
    pub tls: Option<TlsAccess>,
    /// A full SASL lab's logins to Connect, Schema Registry and the REST proxy (HTTP basic
    /// auth; passwords never serialized).
    pub rest_auth: Option<RestAuth>,
    /// ZooKeeper from the host (`127.0.0.1:<port>`; chroot `/kafka` for Kafka).
    pub zookeeper: String,
    /// Connect workers' REST URLs (connect-01 … connect-05).
    pub connect: Vec<String>,
    pub schema_registry: Option<String>,
    pub rest_proxy: Option<String>,
    pub kafdrop: Option<String>,
    pub agents: Vec<AgentRecord>,
    /// What happened to each container.
    pub containers: Vec<(String, Outcome)>,
    pub images: ImageSet,
    /// Milliseconds per phase, in order.
    pub timings: Vec<(String, u64)>,
    pub elapsed_ms: u64,
}

/// The ZooKeeper chroot the lab's brokers keep Kafka's znodes under.
pub const KAFKA_CHROOT: &str = "/kafka";

impl LabHandle {
    /// ZooKeeper as Kafka's znodes are reached from the host: `127.0.0.1:<port>/kafka` (what
    /// the inventory's `zookeeper` says; [`LabHandle::zookeeper`] is the server's root).
    pub fn kafka_zookeeper(&self) -> String {
        format!("{}{KAFKA_CHROOT}", self.zookeeper)
    }
}

/// Phase timings.
#[derive(Debug)]
pub(super) struct Clock {
    pub(super) began: Instant,
    last: Instant,
    pub(super) phases: Vec<(String, u64)>,
}

impl Clock {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            began: now,
            last: now,
            phases: Vec::new(),
        }
    }

    pub(super) fn mark(&mut self, phase: &str) {
        let now = Instant::now();
        self.phases
            .push((phase.to_owned(), (now - self.last).as_millis() as u64));
        self.last = now;
    }
}

/// Brings lab `opts.name` up (or reconciles it) and waits until it is healthy.
pub async fn up(opts: UpOptions) -> Result<LabHandle, LabError> {
    if opts.swarm && opts.security.is_tls() {
        return Err(LabError::Usage(
            "--security sasl-ssl is not on the Swarm lab yet; use --security sasl, or a lab without --swarm".into(),
        ));
    }
    if opts.swarm {
        return Box::pin(super::swarm::up(opts)).await;
    }
    let mut clock = Clock::new();
    let p = opts.progress.clone();
    let docker = lab_docker::connect().await?;
    let (spec, dir, previous) = plan(&docker, &opts).await?;
    let broker = BrokerBinary::beside_this_executable()?;
    let agent_bin = if opts.agents {
        Some(super::sibling_binary("kroll-agent").ok_or_else(|| LabError::Usage(
            "kroll-agent is not beside kroll-lab; build the workspace: cargo build --workspace --bins".into(),
        ))?)
    } else {
        None
    };
    p.step(&format!(
        "Lab `{}` ({}) in {}.",
        spec.name,
        spec.platform.version,
        dir.display()
    ));
    p.step(&format!(
        "Making sure the {} images exist…",
        spec.platform.version
    ));
    let images = images::ensure_platform(&docker, &spec.registry, &spec.platform, &broker).await?;
    clock.mark("images");
    std::fs::create_dir_all(&dir).map_err(LabError::io(&dir))?;
    // Before any container: the brokers bind-mount the JAAS file.
    let users = match spec.security.is_sasl() {
        true => Some(security::ensure_files(&dir)?),
        false => None,
    };
    // The brokers bind-mount the keystore and the CA too.
    if spec.security.is_tls() {
        pki::ensure(&dir, &spec)?;
    }
    // And the REST services their users and JAAS files.
    let rest_users = spec
        .rest_auth()
        .then(|| rest_auth::ensure_files(&dir))
        .transpose()?;
    let rest_login = rest_users.as_ref().map(|u| RestAuth::new(&dir, u).admin);
    let dir_text = dir.to_string_lossy().into_owned();
    lab_docker::ensure_network_and_volumes(&docker, &spec, &dir_text).await?;
    let containers = start_containers(&docker, &spec, users.as_ref(), &p).await?;
    clock.mark("containers");
    let (agents, agent_error) = match &agent_bin {
        Some(bin) => ensure_agents(&spec, &dir, previous.as_ref(), bin, &p).await?,
        None => (Vec::new(), None),
    };
    let inventory = dir.join("kroll.toml");
    // Recorded before anything else can fail, so `lab down` finds every agent started.
    write_files(&spec, &dir, &agents, &opts)?;
    if let Some(e) = agent_error {
        return Err(e);
    }
    clock.mark("agents");
    wait::until_healthy(
        &spec,
        &opts,
        &p,
        &mut |phase| clock.mark(phase),
        rest_login.as_ref(),
    )
    .await?;
    if let Some(users) = &users {
        p.step("Waiting for kroll to log in over SASL_EXT…");
        wait::sasl_login(&SaslAccess::new(&spec, &dir, users), spec.shape.nodes).await?;
        clock.mark("sasl");
        // The TLS listeners are bound before a broker registers: serving once it is.
    }
    if !agents.is_empty() {
        wait::agents_report(&spec, &inventory).await?;
        clock.mark("agents-report");
    }
    let elapsed_ms = clock.began.elapsed().as_millis() as u64;
    p.step(&format!(
        "Lab `{}` is up ({:.1} s).",
        spec.name,
        elapsed_ms as f64 / 1000.0
    ));
    Ok(handle(
        spec,
        dir,
        inventory,
        agents,
        containers,
        images,
        clock.phases,
        elapsed_ms,
        users.as_ref(),
        rest_users.as_ref(),
    ))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn handle(
    spec: LabSpec,
    dir: PathBuf,
    inventory: PathBuf,
    agents: Vec<AgentRecord>,
    containers: Vec<(String, Outcome)>,
    images: ImageSet,
    timings: Vec<(String, u64)>,
    elapsed_ms: u64,
    users: Option<&LabUsers>,
    rest_users: Option<&RestUsers>,
) -> LabHandle {
    let url = |kind: ServiceKind| -> Option<String> {
        spec.containers()
            .into_iter()
            .find(|c| c.kind == kind)
            .and_then(|c| c.url)
    };
    let connect = spec
        .containers()
        .into_iter()
        .filter(|c| c.kind == ServiceKind::Connect)
        .filter_map(|c| c.url)
        .collect();
    LabHandle {
        name: spec.name.clone(),
        bootstrap: spec.bootstrap(),
        sasl: users.map(|u| SaslAccess::new(&spec, &dir, u)),
        tls: spec.security.is_tls().then(|| TlsAccess::new(&spec, &dir)),
        rest_auth: rest_users.map(|u| RestAuth::new(&dir, u)),
        zookeeper: spec.zookeeper_addr(),
        connect,
        schema_registry: url(ServiceKind::SchemaRegistry),
        rest_proxy: url(ServiceKind::RestProxy),
        kafdrop: url(ServiceKind::Kafdrop),
        dir,
        inventory,
        spec,
        agents,
        containers,
        images,
        timings,
        elapsed_ms,
    }
}

/// The lab's spec, directory and previous state — every usage error is found here, before
/// anything is touched.
async fn plan(
    docker: &Docker,
    opts: &UpOptions,
) -> Result<(LabSpec, PathBuf, Option<LabState>), LabError> {
    super::topology::check_name(&opts.name)?;
    let dir = match &opts.dir {
        Some(d) => state::absolute(d),
        None => existing_dir(docker, &opts.name)
            .await?
            .unwrap_or_else(|| state::default_dir(&opts.name)),
    };
    let previous = LabState::load(&dir)?;
    if let Some(prev) = &previous
        && prev.name != opts.name
    {
        return Err(LabError::Usage(format!(
            "{} holds lab `{}`, not `{}`; choose another --dir",
            dir.display(),
            prev.name,
            opts.name
        )));
    }
    if let Some(prev) = &previous
        && prev.shape != opts.shape
    {
        return Err(LabError::Usage(format!(
            "lab `{}` already runs in another shape ({} nodes); `kroll-lab down --name {}` first",
            opts.name, prev.shape.nodes, opts.name
        )));
    }
    if let Some(prev) = &previous
        && prev.security != opts.security
    {
        return Err(LabError::Usage(format!(
            "lab `{}` already runs with --security {}; give that, or `kroll-lab down --name {}` first",
            opts.name,
            prev.security.as_str(),
            opts.name
        )));
    }
    let ports = choose_ports(opts, previous.as_ref())?;
    let mut spec = LabSpec::new(
        &opts.name,
        &opts.version,
        &opts.registry,
        ports,
        opts.services,
    )?
    .with_shape(opts.shape)?
    .with_security(opts.security, &dir)?;
    spec.extra_labels = opts.extra_labels.clone();
    spec.broker_env = opts.broker_env.clone();
    Ok((spec, dir, previous))
}

/// The directory recorded on the lab's network, if the lab exists.
async fn existing_dir(docker: &Docker, lab: &str) -> Result<Option<PathBuf>, LabError> {
    let nets = lab_docker::lab_networks(docker, lab).await?;
    Ok(nets
        .into_iter()
        .find_map(|(_, labels)| labels.get(DIR_LABEL).map(PathBuf::from)))
}

fn choose_ports(opts: &UpOptions, previous: Option<&LabState>) -> Result<Ports, LabError> {
    match (previous, opts.port_base) {
        (Some(prev), Some(base))
            if Ports::from_base(base, opts.shape, opts.security)? != prev.ports =>
        {
            Err(LabError::Usage(format!(
                "lab `{}` already runs with other ports; drop --port-base {base}, or `kroll-lab down --name {}` first",
                opts.name, opts.name
            )))
        }
        (Some(prev), _) => Ok(prev.ports.clone()),
        (None, Some(base)) => Ok(Ports::from_base(base, opts.shape, opts.security)?),
        (None, None) if opts.name == DEFAULT_LAB && opts.shape == Shape::LAB => {
            Ok(Ports::default_lab_with(opts.security))
        }
        (None, None) => free_ports(opts.shape, opts.security),
    }
}

/// Free ports chosen by the kernel (all held until every one is chosen, so none repeats).
fn free_ports(shape: Shape, security: Security) -> Result<Ports, LabError> {
    let mut held = Vec::new();
    let mut take = |ip: Ipv4Addr| -> Result<u16, LabError> {
        let l = TcpListener::bind((ip, 0))
            .map_err(|e| LabError::Usage(format!("no free port on {ip}: {e}")))?;
        let port = l.local_addr().map(|a| a.port()).unwrap_or_default();
        held.push(l);
        Ok(port)
    };
    let local = Ipv4Addr::LOCALHOST;
    let mut some = |n: u8, ip: &dyn Fn(u8) -> Ipv4Addr| -> Result<Vec<u16>, LabError> {
        (1..=n).map(|i| take(ip(i))).collect()
    };
    let brokers = some(shape.nodes, &|_| local)?;
    let mut for_brokers = |wanted: bool| match wanted {
        true => some(shape.nodes, &|_| local),
        false => Ok(Vec::new()),
    };
    let sasl_brokers = for_brokers(security.is_sasl())?;
    let sasl_ssl_brokers = for_brokers(security.is_tls())?;
    let ssl_brokers = for_brokers(security.is_tls())?;
    let connect = some(shape.connect_workers, &|_| local)?;
    let agents = some(shape.nodes, &agent_ip)?;
    let more_zookeepers = some(shape.zookeepers.saturating_sub(1), &|_| local)?;
    Ok(Ports {
        more_zookeepers,
        zookeeper: take(local)?,
        brokers,
        sasl_brokers,
        sasl_ssl_brokers,
        ssl_brokers,
        connect,
        schema_registry: take(local)?,
        rest_proxy: take(local)?,
        kafdrop: take(local)?,
        agents,
    })
}

/// ZooKeeper first (brokers need it), then a SASL lab's ACLs (the brokers enforce them from
/// their first request), then every other container at once.
async fn start_containers(
    docker: &Docker,
    spec: &LabSpec,
    users: Option<&LabUsers>,
    p: &Progress,
) -> Result<Vec<(String, Outcome)>, LabError> {
    let network = spec.network();
    let (zk, others): (Vec<_>, Vec<_>) = spec
        .containers()
        .into_iter()
        .partition(|c| c.kind == ServiceKind::Zookeeper);
    let mut out = Vec::new();
    for c in &zk {
        out.push((
            c.name.clone(),
            lab_docker::ensure_container(docker, c, &network).await?,
        ));
    }
    p.step("Waiting for ZooKeeper…");
    let zk_addr = spec.zookeeper_addr();
    super::ready::zookeeper(&zk_addr, Duration::from_secs(60)).await?;
    if spec.security.is_sasl() {
        p.step("Writing the ACLs (User:ANONYMOUS: all; User:kroll: what kroll reads)…");
        security::write_acls(&zk_addr, spec.security).await?;
    }
    if let (true, Some(users)) = (spec.security.is_tls(), users) {
        p.step("Writing the users' SCRAM-SHA-256/512 credentials (/config/users)…");
        security::write_scram_credentials(&zk_addr, users).await?;
    }
    p.step(&format!("Starting {} containers…", others.len()));
    let started = futures::future::try_join_all(
        others
            .iter()
            .map(|c| lab_docker::ensure_container(docker, c, &network)),
    )
    .await?;
    out.extend(others.iter().map(|c| c.name.clone()).zip(started));
    Ok(out)
}

/// Certificates, configurations and one agent per node (a recorded agent that still runs
/// is kept). Returns the agents running, and the first failure to start one.
async fn ensure_agents(
    spec: &LabSpec,
    dir: &Path,
    previous: Option<&LabState>,
    bin: &Path,
    p: &Progress,
) -> Result<(Vec<AgentRecord>, Option<LabError>), LabError> {
    agents::ensure_certs(dir, spec)?;
    p.step("Starting the agents…");
    let mut starts = Vec::new();
    for n in 1..=spec.shape.nodes {
        let config = agents::write_config(dir, spec, n)?;
        let node = node_name(n);
        let running = previous
            .into_iter()
            .flat_map(|s| s.agents.iter())
            .find(|a| {
                a.node == node
                    && a.addr == spec.agent_addr(n)
                    && agents::is_lab_agent(a.pid, &a.config)
            })
            .cloned();
        let addr = spec.agent_addr(n);
        starts.push(async move {
            match running {
                Some(a) => Ok(a),
                None => agents::spawn(bin, &node, addr, &config).await,
            }
        });
    }
    let mut running = Vec::new();
    let mut first_error = None;
    for r in futures::future::join_all(starts).await {
        match r {
            Ok(a) => running.push(a),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Ok((running, first_error))
}

/// The inventory and the state file (the Swarm lab writes the same two).
pub(super) fn write_files(
    spec: &LabSpec,
    dir: &Path,
    agents: &[AgentRecord],
    opts: &UpOptions,
) -> Result<(), LabError> {
    let inventory = dir.join("kroll.toml");
    std::fs::write(&inventory, super::topology::inventory_toml(spec))
        .map_err(LabError::io(&inventory))?;
    LabState {
        name: spec.name.clone(),
        version: opts.version.clone(),
        registry: spec.registry.clone(),
        services: spec.services,
        ports: spec.ports.clone(),
        shape: spec.shape,
        security: spec.security,
        extra_labels: spec.extra_labels.clone(),
        agents: agents.to_vec(),
    }
    .save(dir)
}
