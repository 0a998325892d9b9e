//! `kroll-lab up --swarm`: the lab as the user runs it in production — a Docker Swarm stack on
//! five nodes. Five Docker engines on this machine, each in a network namespace of its own
//! with the hostname `rhodrylab-0N`, joined as one swarm (nodes 1…N the managers, N = 1, 3 or
//! 5, three by default); the lab's images
//! in a registry the nodes pull from; the lab's topology deployed with `docker stack deploy`
//! from a stack file shaped like the journal's; one `kroll-agent` per node on that node's
//! engine. Host clients reach every node by its address through a link into the lab's network.
//!
//! # Layout
//! - [`hosts`]: namespaces, engines, registry, swarm — the machines.
//! - [`stack`]: the stack file (pure).

pub mod agent_service;
pub mod hosts;
pub mod stack;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use self::hosts::{Layout, Pids};
use super::agents::{self, AgentRecord};
use super::images::{self, BrokerBinary, DEFAULT_REGISTRY};
use super::rest_auth;
use super::security::{self, SaslAccess};
use super::state::{self, LabState};
use super::topology::{LabSpec, NODES, Ports, Security, node_name};
use super::up::{Clock, LabHandle, UpOptions, handle, write_files};
use super::{LabError, Progress};

/// File in the lab directory recording the Swarm lab's machines (before anything is made, so
/// `lab down` finds them all).
pub const SWARM_FILE: &str = "swarm.json";
/// How many managers a Swarm lab may have: an odd number, so that a majority survives a loss.
pub const MANAGER_COUNTS: [u8; 3] = [1, 3, 5];

/// What `lab up --swarm` made besides containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmState {
    pub layout: Layout,
    pub pids: Pids,
    /// The stack file deployed.
    pub stack_file: PathBuf,
    /// Nodes 1…`managers` are the swarm's managers (their agents may update the stack).
    #[serde(default = "one")]
    pub managers: u8,
}

fn one() -> u8 {
    1
}

impl SwarmState {
    /// The managers' node names, in the order the inventory lists them.
    pub fn manager_nodes(&self) -> Vec<String> {
        (1..=self.managers).map(node_name).collect()
    }

    pub fn load(dir: &Path) -> Result<Option<Self>, LabError> {
        let path = dir.join(SWARM_FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
                LabError::Usage(format!("{}: {e} (remove it by hand)", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io(&path)(e)),
        }
    }

    fn save(&self, dir: &Path) -> Result<(), LabError> {
        let path = dir.join(SWARM_FILE);
        let tmp = dir.join(format!(".{SWARM_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&tmp, text).map_err(LabError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(LabError::io(&path))
    }
}

/// Brings Swarm lab `opts.name` up and waits until it is healthy. A Swarm lab is made whole
/// or not at all: a lab of that name must not exist yet (`kroll-lab down` it first).
pub async fn up(opts: UpOptions) -> Result<LabHandle, LabError> {
    let mut clock = Clock::new();
    let p = opts.progress.clone();
    super::topology::check_name(&opts.name)?;
    if !MANAGER_COUNTS.contains(&opts.managers) {
        return Err(LabError::Usage(format!(
            "--managers {}: a swarm needs an odd number of managers to keep a majority (1, 3 or 5)",
            opts.managers
        )));
    }
    hosts::check_tools()?;
    let dir = opts
        .dir
        .as_deref()
        .map(state::absolute)
        .unwrap_or_else(|| state::default_dir(&opts.name));
    if LabState::load(&dir)?.is_some() || SwarmState::load(&dir)?.is_some() {
        return Err(LabError::Usage(format!(
            "{} already holds a lab; `kroll-lab down --name {} --dir {}` first",
            dir.display(),
            opts.name,
            dir.display()
        )));
    }
    let broker = BrokerBinary::beside_this_executable()?;
    let agent_bin = super::sibling_binary("kroll-agent").ok_or_else(|| {
        LabError::Usage(
            "kroll-agent is not beside kroll-lab; build the workspace: cargo build --workspace --bins"
                .into(),
        )
    })?;
    std::fs::create_dir_all(&dir).map_err(LabError::io(&dir))?;
    let layout = Layout::new(hosts::free_index()?, &dir);
    let mut spec = LabSpec::new(
        &opts.name,
        &opts.version,
        &repository(&layout),
        Ports::default_lab_with(opts.security),
        opts.services,
    )?
    .with_security(opts.security, &dir)?;
    spec.hosts = layout.hosts();
    spec.extra_labels = opts.extra_labels.clone();
    spec.broker_env = opts.broker_env.clone();
    let mut swarm = SwarmState {
        layout: layout.clone(),
        pids: Pids::default(),
        stack_file: dir.join("stack.yml"),
        managers: opts.managers,
    };
    swarm.save(&dir)?;
    p.step(&format!(
        "Swarm lab `{}` ({}) in {}: network 10.199.{}.0/24.",
        spec.name,
        spec.platform.version,
        dir.display(),
        layout.k
    ));
    let docker = super::docker::connect().await?;
    p.step(&format!(
        "Making sure the {} images exist…",
        spec.platform.version
    ));
    let built = images::ensure_platform(&docker, DEFAULT_REGISTRY, &spec.platform, &broker).await?;
    clock.mark("images");
    p.step("Starting five Docker engines and the registry…");
    hosts::make_network(&layout)?;
    for n in 1..=NODES {
        let pid = hosts::start_engine(&layout, n)?;
        swarm.pids.engines.push(pid);
        swarm.save(&dir)?;
    }
    swarm.pids.registry = Some(hosts::start_registry(&layout)?);
    swarm.save(&dir)?;
    hosts::wait_ready(&layout, Duration::from_secs(60)).await?;
    clock.mark("engines");
    p.step(&match swarm.managers {
        1 => format!(
            "Forming the swarm ({} manager, four workers)…",
            node_name(1)
        ),
        m => format!(
            "Forming the swarm ({}…{} managers, {} worker(s))…",
            node_name(1),
            node_name(m),
            NODES - m
        ),
    });
    hosts::form_swarm(&layout, swarm.managers)?;
    clock.mark("swarm");
    p.step(&format!("Pushing the images to {}…", layout.registry()));
    push_images(&layout, &built, true)?;
    clock.mark("registry");
    let shared = layout.shared();
    let connect_dir = shared.join("connect-cluster");
    std::fs::create_dir_all(&connect_dir).map_err(LabError::io(&connect_dir))?;
    // The lab's JVM services run as `appuser` (uid 1000).
    std::os::unix::fs::chown(&connect_dir, Some(1000), Some(1000))
        .map_err(LabError::io(&connect_dir))?;
    let (users, rest_users) = match spec.security {
        Security::Sasl => {
            let users = security::ensure_files(&dir)?;
            let rest_users = spec
                .rest_auth()
                .then(|| rest_auth::ensure_files(&dir))
                .transpose()?;
            let secrets = stack::secret_files(&spec);
            p.step(&format!(
                "Making Swarm secrets {} (the brokers' JAAS file{})…",
                secrets
                    .iter()
                    .map(|(name, _)| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if rest_users.is_some() {
                    "; the REST services' users and JAAS files"
                } else {
                    ""
                }
            ));
            let label = format!("kroll.lab={}", spec.name);
            for (secret, file) in &secrets {
                hosts::docker(
                    &layout,
                    1,
                    &[
                        "secret",
                        "create",
                        "--label",
                        &label,
                        secret,
                        &file.to_string_lossy(),
                    ],
                )?;
            }
            (Some(users), rest_users)
        }
        Security::Plaintext => (None, None),
        Security::SaslSsl => {
            return Err(LabError::Usage(
                "--security sasl-ssl is not on the Swarm lab yet; use --security sasl, or a lab without --swarm".into(),
            ));
        }
    };
    let text = stack::render(&spec, &shared.to_string_lossy());
    std::fs::write(&swarm.stack_file, &text).map_err(LabError::io(&swarm.stack_file))?;
    p.step("Deploying the stack…");
    deploy(&layout, &swarm.stack_file, &spec)?;
    super::ready::zookeeper(&spec.zookeeper_addr(), Duration::from_secs(120)).await?;
    if users.is_some() {
        // The brokers follow the ACL znodes by watch: ACLs written while they start are seen.
        p.step("Writing the ACLs (User:ANONYMOUS: all; User:kroll: what kroll reads)…");
        security::write_acls(&spec.zookeeper_addr(), spec.security).await?;
    }
    clock.mark("stack");
    let agents = if opts.agents_as_service {
        p.step(&format!(
            "Deploying the agents as global service `{}`…",
            agent_service::stack_name(&spec.name)
        ));
        agent_service::deploy(&spec, &layout, &dir, &agent_bin)
            .await
            .map(|()| Vec::new())
    } else {
        start_agents(&spec, &swarm, &dir, &agent_bin, &p).await
    };
    let inventory = dir.join("kroll.toml");
    let recorded = agents.as_ref().map(Vec::clone).unwrap_or_default();
    write_files(&spec, &dir, &recorded, &opts)?;
    append_swarm_section(&inventory, &swarm, &spec.name, &repository(&layout))?;
    let agents = agents?;
    clock.mark("agents");
    let rest_login = rest_users
        .as_ref()
        .map(|u| rest_auth::RestAuth::new(&dir, u).admin);
    super::up::wait::until_healthy(
        &spec,
        &opts,
        &p,
        &mut |phase| clock.mark(phase),
        rest_login.as_ref(),
    )
    .await?;
    if let Some(users) = &users {
        p.step("Waiting for kroll to log in over SASL_EXT…");
        super::up::wait::sasl_login(&SaslAccess::new(&spec, &dir, users), spec.shape.nodes).await?;
        clock.mark("sasl");
    }
    super::up::wait::agents_report(&spec, &inventory).await?;
    clock.mark("agents-report");
    let elapsed_ms = clock.began.elapsed().as_millis() as u64;
    p.step(&format!(
        "Swarm lab `{}` is up ({:.1} s).",
        spec.name,
        elapsed_ms as f64 / 1000.0
    ));
    Ok(handle(
        spec,
        dir,
        inventory,
        agents,
        Vec::new(),
        built,
        clock.phases,
        elapsed_ms,
        users.as_ref(),
        rest_users.as_ref(),
    ))
}

/// The repository prefix a Swarm lab's stack names its images under (`${CI_REGISTRY_IMAGE}`).
pub fn repository(l: &Layout) -> String {
    format!("{}/rhodry", l.registry())
}

/// Loads the built images into node 1's engine, tags them for the lab's registry as
/// `<repository>/<component>:<version>` (and `:latest` when `latest`: the journal's stack names
/// images without a tag) and pushes them; the other nodes pull what their tasks need.
fn push_images(l: &Layout, built: &images::ImageSet, latest: bool) -> Result<(), LabError> {
    let tags: Vec<&str> = built.images.iter().map(|i| i.tag.as_str()).collect();
    load_into_node1(l, &tags)?;
    let repository = repository(l);
    for i in &built.images {
        let name = format!("{repository}/{}", i.component.name());
        let tags: &[&str] = if latest {
            &[built.version.as_str(), "latest"]
        } else {
            &[built.version.as_str()]
        };
        for tag in tags {
            let target = format!("{name}:{tag}");
            hosts::docker(l, 1, &["tag", &i.tag, &target])?;
            hosts::docker(l, 1, &["push", "-q", &target])?;
        }
    }
    Ok(())
}

/// Copies images `tags` from this machine's engine into node 1's.
fn load_into_node1(l: &Layout, tags: &[&str]) -> Result<(), LabError> {
    let mut save = Command::new("docker")
        .arg("save")
        .args(tags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(LabError::io(Path::new("docker save")))?;
    let Some(out) = save.stdout.take() else {
        return Err(LabError::Swarm("docker save gave no output".into()));
    };
    let load = Command::new("docker")
        .arg("-H")
        .arg(l.docker_host(1))
        .args(["load", "-q"])
        .stdin(out)
        .output()
        .map_err(LabError::io(Path::new("docker load")))?;
    let _ = save.wait();
    if !load.status.success() {
        return Err(LabError::Swarm(format!(
            "loading the images into {}: {}",
            node_name(1),
            String::from_utf8_lossy(&load.stderr).trim()
        )));
    }
    Ok(())
}

/// Pushes more platform versions into the registry of the Swarm lab in `dir` (what a CI
/// pipeline does before an upgrade: the new images in the registry the nodes pull from).
/// Returns the repository they were pushed under.
pub fn push_to_lab(
    dir: &Path,
    built: &[images::ImageSet],
    release: bool,
) -> Result<String, LabError> {
    let dir = state::absolute(dir);
    let swarm = SwarmState::load(&dir)?.ok_or_else(|| {
        LabError::Usage(format!(
            "{} holds no Swarm lab (`kroll-lab up --swarm` makes one); only a Swarm lab has a registry of its own",
            dir.display()
        ))
    })?;
    if release && built.len() != 1 {
        return Err(LabError::Usage(format!(
            "--release moves `latest` to one version; {} were given",
            built.len()
        )));
    }
    for set in built {
        push_images(&swarm.layout, set, release)?;
    }
    Ok(repository(&swarm.layout))
}

fn deploy(l: &Layout, file: &Path, spec: &LabSpec) -> Result<(), LabError> {
    stack_deploy(
        l,
        file,
        &spec.name,
        &[(stack::REGISTRY_VAR, spec.registry.as_str())],
    )
}

/// `docker stack deploy` of `file` as stack `name` through node 1, with `vars` in its
/// environment (what the file's `${…}` name).
fn stack_deploy(
    l: &Layout,
    file: &Path,
    name: &str,
    vars: &[(&str, &str)],
) -> Result<(), LabError> {
    let out = Command::new("docker")
        .arg("-H")
        .arg(l.docker_host(1))
        .args(["stack", "deploy", "--resolve-image", "always", "-c"])
        .arg(file)
        .arg(name)
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(LabError::io(Path::new("docker stack deploy")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Swarm(format!(
            "docker stack deploy -c {} {name}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Adds the inventory's `[swarm]` section: the stack, its managers, its stack file.
fn append_swarm_section(
    inventory: &Path,
    swarm: &SwarmState,
    stack: &str,
    repository: &str,
) -> Result<(), LabError> {
    use std::io::Write as _;
    let managers: Vec<String> = swarm
        .manager_nodes()
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect();
    let section = format!(
        "\n# The lab runs as Docker Swarm stack `{stack}`: services are updated through the first manager\n\
         # whose agent answers, and the stack file is kept true (its images name ${{{}}}).\n\
         [swarm]\nstack = \"{stack}\"\nmanagers = [{}]\nstack_file = \"{}\"\nvariables = {{ {} = \"{repository}\" }}\n",
        stack::REGISTRY_VAR,
        managers.join(", "),
        swarm.stack_file.display(),
        stack::REGISTRY_VAR,
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(inventory)
        .and_then(|mut f| f.write_all(section.as_bytes()))
        .map_err(LabError::io(inventory))
}

async fn start_agents(
    spec: &LabSpec,
    swarm: &SwarmState,
    dir: &Path,
    bin: &Path,
    p: &Progress,
) -> Result<Vec<AgentRecord>, LabError> {
    let l = &swarm.layout;
    agents::ensure_certs(dir, spec)?;
    p.step("Starting one agent per node, on its node's engine…");
    let mut running = Vec::new();
    for n in 1..=NODES {
        // A manager's agent may update the stack's services (issue 13).
        let stack = (n <= swarm.managers).then_some(spec.name.as_str());
        let config = agents::write_config_for(dir, spec, n, Some(&l.docker_host(n)), stack)?;
        let ns = Layout::ns_path(&l.node_ns(n));
        running.push(
            agents::spawn_in(bin, &node_name(n), spec.agent_addr(n), &config, Some(&ns)).await?,
        );
    }
    Ok(running)
}

/// What [`down`] did.
#[derive(Debug, Default)]
pub struct SwarmDown {
    /// PIDs of the agents stopped.
    pub agents: Vec<u32>,
    /// What could not be removed.
    pub problems: Vec<String>,
}

/// Removes the Swarm lab recorded in `dir` (nothing when there is none): its agents, engines
/// (and with them every task, volume and network), registry, namespaces, mounts and
/// directories.
pub async fn down(dir: &Path, p: &Progress) -> Result<SwarmDown, LabError> {
    let mut out = SwarmDown::default();
    let Some(swarm) = SwarmState::load(dir)? else {
        return Ok(out);
    };
    let began = Instant::now();
    if let Some(s) = LabState::load(dir).ok().flatten() {
        p.step(&format!("Stopping {} agents…", s.agents.len()));
        for a in &s.agents {
            if agents::stop(a).await {
                out.agents.push(a.pid);
            }
        }
    }
    p.step("Stopping the five engines and the registry…");
    hosts::stop(&swarm.layout, &swarm.pids, Duration::from_secs(20)).await;
    out.problems = hosts::remove(&swarm.layout);
    for f in [SWARM_FILE, "stack.yml"] {
        let path = dir.join(f);
        if path.exists() {
            std::fs::remove_file(&path).map_err(LabError::io(&path))?;
        }
    }
    tracing::info!(
        elapsed_ms = began.elapsed().as_millis() as u64,
        "Swarm lab removed."
    );
    Ok(out)
}
