//! `kroll-agent`: the daemon on every node of a Kafka / Confluent cluster.
//!
//! It reports the node's managed containers, disks and host over gRPC (mutual TLS, roles from
//! the client certificate), streams container events, and carries out local actions — a
//! graceful restart today — when the coordinator asks. It restarts nothing on its own.
//!
//! # Layout
//! - [`cli`]: the command line (flags of the binary, read by the man page generator too).
//! - [`config`]: the TOML configuration (errors name file, line and key).
//! - [`allow`]: which containers the agent may see and touch.
//! - [`runtime`]: the container runtime trait; [`docker`]: its bollard implementation.
//! - [`collect`]: one collector per fact (containers, disks, host, JVMs).
//! - [`events`]: Docker's event stream, filtered, numbered and fanned out.
//! - [`jvm`]: the JVM monitor — heap samples from hsperfdata, OutOfMemoryError in logs and
//!   exit codes, heap pressure, hung JVMs (it observes; it never acts).
//! - [`metrics`]: the optional Prometheus `/metrics` listener.
//! - [`audit`]: the audit log and the operation-id record built from it.
//! - [`node`]: the core: node state, role and allowlist checks; [`coalesce`]: concurrent
//!   node-state calls share one fresh snapshot.
//! - [`actions`]: restart, recreate, rollback, pull — one path enforcing operation id,
//!   allowlist, audit and idempotence; [`validate`] checks what callers send; [`docker_spec`]
//!   derives a recreated container's definition, [`docker_recreate`] carries it out on Docker
//!   so that every failure leaves the container as it was or as asked; [`kept`] names and
//!   remembers the containers a recreate leaves beside a service.
//! - [`recovery`]: how an action the agent died in the middle of is ended at the next start
//!   (pure); [`docker_recover`] carries it out.
//! - [`grpc`]: the tonic service (wire types stay here); [`bounds`]: what its port admits —
//!   TLS handshakes with a deadline, failures logged, calls bounded.
//! - [`error`]: errors and their gRPC codes.
//!
//! [`Agent::start`] does everything that can fail on bad configuration — reading the TLS
//! files, opening the audit log, reaching Docker, binding the port — before anything is served;
//! [`Agent::serve`] then runs until the shutdown future resolves.

pub mod actions;
pub mod allow;
pub mod audit;
pub mod bounds;
pub mod cli;
pub mod coalesce;
pub mod collect;
pub mod config;
pub mod docker;
pub mod docker_recover;
pub mod docker_recreate;
pub mod docker_spec;
pub mod docker_swarm;
pub mod error;
pub mod events;
pub mod grpc;
pub mod jvm;
pub mod kept;
pub mod metrics;
pub mod node;
pub mod recovery;
pub mod runtime;
pub mod service_actions;
pub mod stack_view;
pub mod swarm_saved;
pub mod swarm_service;
pub mod swarm_tasks;
pub mod validate;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kroll_proto::agent::v1::agent_server::AgentServer;
use kroll_shared::model::AgentInfo;
use kroll_shared::time::now_unix_ms;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::collect::host::HostSampler;
use crate::config::AgentConfig;
use crate::docker::DockerRuntime;
use crate::node::Core;
use crate::runtime::ContainerRuntime;

/// How long in-flight calls get to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// An agent that has checked its configuration and bound its port, ready to serve.
#[derive(Debug)]
pub struct Agent<R> {
    core: Arc<Core<R>>,
    listener: TcpListener,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    /// The `/metrics` listener, when configured.
    metrics: Option<TcpListener>,
}

impl Agent<DockerRuntime> {
    /// Prepares an agent on the Docker engine: TLS files, audit log, Docker, port — in that
    /// order, so a bad configuration fails before any port is bound.
    pub async fn start(config: AgentConfig) -> anyhow::Result<Self> {
        let material = config
            .tls
            .load_as(kroll_shared::tls::Role::Agent, &config.node)
            .context("loading the agent's TLS files")?;
        let tls = bounds::server_config(&material).context("the agent's TLS configuration")?;
        let state_dir = config
            .audit
            .path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let docker = DockerRuntime::connect(config.docker.host.as_deref(), &state_dir).await?;
        Box::pin(Self::with_runtime(config, docker, tls)).await
    }
}

impl<R: ContainerRuntime> Agent<R> {
    /// Prepares an agent on any runtime.
    pub async fn with_runtime(
        config: AgentConfig,
        runtime: R,
        tls: Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> anyhow::Result<Self> {
        let rt_info = runtime
            .info()
            .await
            .context("asking the container runtime for its version")?;
        let host = tokio::task::spawn_blocking(HostSampler::new)
            .await?
            .context("reading host information")?;
        let info = AgentInfo {
            node: config.node.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            docker_version: rt_info.version,
            docker_api_version: rt_info.api_version,
            started_at_unix_ms: now_unix_ms(),
        };
        let audit_path = config.audit.path.clone();
        let listen = config.listen;
        let core = Core::new(config, runtime, host, info)
            .with_context(|| format!("opening the audit log {}", audit_path.display()))?;
        let settled = core.recover_interrupted().await;
        if !settled.is_empty() {
            tracing::warn!(
                count = settled.len(),
                "Operations interrupted by the last agent stop were settled."
            );
        }
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let metrics = match core.config.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding the metrics listener {addr}"))?,
            ),
            None => None,
        };
        Ok(Self {
            core: Arc::new(core),
            listener,
            tls,
            metrics,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The `/metrics` address actually bound, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then stops background tasks and gives in-flight calls
    /// a grace period.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let sampler = tokio::spawn(sample_host(
            self.core.host.clone(),
            self.core.config.sampling_interval(),
            stop_rx.clone(),
        ));
        let watcher = tokio::spawn(events::watch_docker(
            Arc::clone(&self.core.runtime),
            self.core.config.allow.clone(),
            Arc::clone(&self.core.events),
            stop_rx.clone(),
        ));
        let jvms = tokio::spawn(jvm::run::run(
            jvm::run::Ctx {
                monitor: Arc::clone(&self.core.jvm),
                rt: Arc::clone(&self.core.runtime),
                allow: self.core.config.allow.clone(),
                hub: Arc::clone(&self.core.events),
                every: self.core.config.sampling_interval(),
            },
            stop_rx.clone(),
        ));
        let metrics = self
            .metrics
            .map(|l| tokio::spawn(metrics::serve(l, Arc::clone(&self.core), stop_rx.clone())));
        let service = grpc::AgentService::new(Arc::clone(&self.core), stop_rx.clone());
        let handshakes = Arc::new(bounds::HandshakeLog::new(
            self.core.audit.clone(),
            self.core.config.node.clone(),
        ));
        let incoming = bounds::incoming(self.listener, self.tls, handshakes, stop_rx.clone());
        let mut server_stop = stop_rx.clone();
        let server = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .concurrency_limit_per_connection(bounds::MAX_CALLS_PER_CONNECTION)
            .layer(bounds::CallBound::new(bounds::MAX_CALLS_IN_FLIGHT))
            .add_service(AgentServer::new(service))
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = server_stop.wait_for(|s| *s).await;
            });
        let mut server = tokio::spawn(server);
        tracing::info!(node = %self.core.config.node, audit = %self.core.audit.path().display(), "Agent serving.");
        tokio::select! {
            _ = shutdown => tracing::info!("Shutdown requested; finishing in-flight calls."),
            r = &mut server => return r?.context("the gRPC server stopped"),
        }
        let _ = stop_tx.send(true);
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
            Ok(r) => r?.context("the gRPC server failed while stopping")?,
            Err(_) => {
                tracing::warn!(
                    grace_s = SHUTDOWN_GRACE.as_secs(),
                    "In-flight calls did not finish in time; stopping anyway."
                );
                server.abort();
            }
        }
        let _ = tokio::join!(sampler, watcher, jvms);
        if let Some(m) = metrics {
            let _ = m.await;
        }
        Ok(())
    }
}

async fn sample_host(sampler: HostSampler, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let s = sampler.clone();
        let _ = tokio::task::spawn_blocking(move || s.sample()).await;
    }
}

/// Loads the configuration, prepares and runs the agent until `shutdown`.
pub async fn run(
    config: AgentConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Box::pin(Agent::start(config)).await?.serve(shutdown).await
}
