//! `kroll-lab`: the lab, a stand-in Confluent cluster on the local Docker engine, built from
//! this machine's files (see `deploy/lab/LAB.md`). `kroll-lab up` / `kroll-lab down`, and the
//! same for tests: [`up`] returns a [`LabHandle`] with the inventory path, bootstrap servers and
//! URLs; [`down`] removes everything the lab made.
//!
//! Its own crate and binary, apart from the shipped `kroll`: the lab depends on the coordinator
//! (it asks the lab's agents with [`kroll::agents::query_all`]), never the reverse, so `kroll`
//! carries no lab code (nor the lab's Docker, tar and process-signal dependencies).
//!
//! # Layout
//! - `cli`: the `kroll-lab` command line (`images`, `up`, `down`), exit codes: [`Cli`], [`run`].
//! - [`image`]: build contexts and image builds that never pull.
//! - [`images`]: the lab's images (base layers, ZooKeeper, Kafka, the JVM services).
//! - [`topology`]: the desired containers of a lab at a platform version (pure).
//! - [`docker`]: the lab's network, volumes and containers on the Docker engine.
//! - [`agents`]: certificates, configuration and host processes of the lab's agents.
//! - [`kafka`], [`ready`]: asking Kafka and ZooKeeper, and waiting until things are ready.
//! - [`seed`]: topics and connectors of a new lab.
//! - [`security`]: a SASL lab's users, JAAS file, kroll's password file, ACLs and SCRAM
//!   credentials; [`pki`]: a `sasl-ssl` lab's Kafka CA, broker keystore and client certificates;
//!   [`rest_auth`]: a SASL lab's basic-auth users of Connect, Schema Registry and the REST proxy
//!   and the files those services mount.
//! - [`state`]: the lab's runtime state file.
//! - [`swarm`]: the Swarm lab — five engines in network namespaces, one swarm, a registry,
//!   the lab deployed as a stack (`kroll-lab up --swarm`).
//! - `memory`: what a running lab costs ([`memory`]).
//! - `up`, `down`: the two commands.

pub mod agents;
mod cli;
pub mod docker;
mod down;
pub mod http;
pub mod image;
pub mod images;
pub mod kafka;
mod memory;
pub mod pki;
pub mod ready;
pub mod rest_auth;
pub mod security;
pub mod seed;
pub mod state;
pub mod swarm;
pub mod topology;
mod up;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;

pub use self::cli::{Cli, render_up, run};
pub use self::down::{DownOptions, DownReport, down};
pub use self::memory::{MemoryReport, memory};
pub use self::up::{KAFKA_CHROOT, LabHandle, UpOptions, up};

/// The image of `kroll-labbox`, the tiny program test and placeholder containers run.
pub const LABBOX_IMAGE: &str = "kroll-lab.local/labbox:dev";

/// Where the binary `name` of this build lives: beside the running executable, or one level
/// up (test executables run from `target/<profile>/deps`).
pub fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(name), dir.parent()?.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// Before the lab starts a process that outlives this one (an agent, a node's engine, the
/// registry): marks every descriptor above stderr close-on-exec, so the daemon keeps nothing its
/// caller handed down without that flag — a `flock` held around `kroll-lab up` would otherwise
/// stay locked for as long as the lab's agents run, and `kroll-lab down` under the same lock
/// would wait forever. What this process opens itself is close-on-exec already.
pub(crate) fn inherit_nothing() {
    close_fds::set_fds_cloexec_threadsafe(3, &[]);
}

/// The `deploy/lab` directory of this source tree (entrypoints, the JVM services' sources):
/// `$KROLL_LAB_SRC` when set, else the one this `kroll-lab` was built from (this crate's
/// parent directory).
pub fn source_dir() -> PathBuf {
    std::env::var_os("KROLL_LAB_SRC")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// Builds (if its content changed) the labbox image from the `kroll-labbox` binary.
pub async fn ensure_labbox(docker: &Docker, labbox: &Path) -> Result<String, image::ImageError> {
    let mut ctx = image::Context::new();
    ctx.add_binary("/usr/local/bin/kroll-labbox", labbox)?;
    ctx.dockerfile(
        "FROM scratch\nCOPY rootfs/ /\nLABEL kroll.lab.image=labbox\nENTRYPOINT [\"/usr/local/bin/kroll-labbox\"]\n",
    );
    image::ensure(docker, &ctx, LABBOX_IMAGE).await
}

/// A receiver of progress lines.
type ProgressFn = dyn Fn(&str) + Send + Sync;

/// Where `lab up` reports what it is doing (one line per step).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<ProgressFn>>);

impl Progress {
    /// Progress lines go to `f`.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// Reports one step.
    pub fn step(&self, line: &str) {
        if let Some(f) = &self.0 {
            f(line);
        }
        tracing::info!(step = line, "Lab progress.");
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}

/// Errors of `lab up` / `lab down`.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// What the user asked for is wrong; nothing was changed.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Topology(#[from] topology::TopologyError),
    #[error("lab images: {0}")]
    Image(#[from] image::ImageError),
    #[error("Docker engine: {what}: {source}")]
    Docker {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("agent of node {node}: {detail}")]
    Agent { node: String, detail: String },
    #[error("timed out after {:.0?} waiting for {what}; last seen: {last}", waited)]
    NotReady {
        what: String,
        waited: Duration,
        last: String,
    },
    #[error("seeding the lab: {0}")]
    Seed(String),
    #[error("Swarm lab: {0}")]
    Swarm(String),
    #[error("SASL lab: {0}")]
    Security(String),
}

impl LabError {
    /// Whether this is the user's mistake (exit code 2, nothing touched).
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Usage(_) | Self::Topology(_))
    }

    pub(crate) fn docker(what: impl Into<String>, source: bollard::errors::Error) -> Self {
        Self::Docker {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}
