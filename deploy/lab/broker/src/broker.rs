//! The broker's life: start (config checks, ZooKeeper, log directory, listeners, registration,
//! log recovery after a hard kill, replication) and controlled shutdown on SIGTERM.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use crate::acl::{self, Authorizer, Policy};
use crate::config::Config;
use crate::controller;
use crate::error::BrokerError;
use crate::fetcher::{FetcherContext, FetcherManager, Throttle};
use crate::group::Coordinator;
use crate::logging::event;
use crate::metadata::{self, ClusterView};
use crate::replica::ReplicaManager;
use crate::server;
use crate::storage::Storage;
use crate::version::{Ibp, SoftwareVersion};
use crate::zk::{BrokerRegistration, Zk};

/// Where the broker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Registered, recovering logs after an unclean stop: no fetching, no ISR.
    Recovering,
    /// Serving and replicating.
    Running,
    /// Controlled shutdown under way.
    ShuttingDown,
}

/// Shared state of a running broker.
#[derive(Debug)]
pub struct Broker {
    /// Configuration.
    pub cfg: Config,
    /// `broker.id`.
    pub id: i32,
    /// Software version (from the version file).
    pub version: SoftwareVersion,
    /// Effective IBP.
    pub ibp: Ibp,
    /// Cluster id from ZooKeeper.
    pub cluster_id: String,
    /// ZooKeeper session.
    pub zk: Zk,
    view: watch::Receiver<Arc<ClusterView>>,
    /// Log directory.
    pub storage: Storage,
    /// Partition replicas.
    pub replicas: Arc<ReplicaManager>,
    /// Follower fetchers.
    pub fetchers: FetcherManager,
    /// Group coordinator.
    pub groups: Coordinator,
    /// Producer ids for InitProducerId.
    pub producer_ids: crate::producer_ids::ProducerIds,
    /// Life phase.
    pub phase: watch::Sender<Phase>,
    /// Broker epoch (czxid of the registration).
    pub epoch: i64,
    /// The ACL authorizer, when `authorizer.class.name` is set.
    pub authz: Option<Authorizer>,
}

impl Broker {
    /// Current metadata snapshot.
    pub fn view(&self) -> Arc<ClusterView> {
        self.view.borrow().clone()
    }

    /// A receiver of metadata snapshots.
    pub fn view_rx(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.view.clone()
    }

    fn fetcher_context(&self) -> FetcherContext {
        FetcherContext {
            replicas: self.replicas.clone(),
            view: self.view.clone(),
            listener: self.cfg.inter_broker_listener.clone(),
            fetch_version: self.ibp.fetch_version(),
            epoch_version: self.ibp.offsets_for_leader_epoch_version(),
            broker_epoch: self.epoch,
            throttle: Arc::new(Throttle::new(self.cfg.lab.replica_fetch_bytes_per_sec)),
            login: self
                .cfg
                .sasl
                .as_ref()
                .and_then(|s| s.inter_broker_login.clone()),
        }
    }
}

/// Checks the configuration against the software version: the IBP must be known to it.
pub fn effective_ibp(cfg: &Config, version: SoftwareVersion) -> Result<Ibp, BrokerError> {
    match &cfg.ibp {
        Some(value) => Ibp::parse(value.trim(), version),
        None => Ok(version.latest_ibp()),
    }
}

/// Runs the broker until `shutdown` resolves, then shuts down in a controlled way.
pub async fn run(
    cfg: Config,
    version: SoftwareVersion,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BrokerError> {
    let started = Instant::now();
    let id = cfg.broker_id;
    let ibp = effective_ibp(&cfg, version)?;
    tracing::info!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] starting (Kafka {version}, inter.broker.protocol.version {ibp}, lab broker)");
    for (name, value) in &cfg.launcher_env {
        tracing::info!(target: "kafka.Kafka$", "Launcher setting {name}={value} accepted (not used by the lab broker).");
    }
    let zk = Zk::connect(&cfg).await?;
    let cluster_id = zk.cluster_id().await?;
    tracing::info!(target: "kafka.server.KafkaServer", "Cluster ID = {cluster_id}");
    let (storage, clean) = Storage::open(&cfg.log_dir, id, &cluster_id)?;
    let lag = Duration::from_millis(cfg.replica_lag_time_max_ms());
    let max_batch = cfg.int("message.max.bytes", 1_048_588) as usize + 12;
    let replicas = ReplicaManager::open(id, storage.clone(), zk.clone(), lag, max_batch)?;
    let view = metadata::spawn_cache(
        zk.clone(),
        Duration::from_millis(cfg.lab.metadata_refresh_ms),
    )
    .await?;
    let authz = match Policy::from_config(&cfg)? {
        None => None,
        Some(policy) => {
            let cache = acl::spawn_cache(
                zk.clone(),
                Duration::from_millis(cfg.lab.metadata_refresh_ms),
            )
            .await?;
            tracing::info!(target: "kafka.security.authorizer.AclAuthorizer", "ACL authorizer on (super users {:?}, allow.everyone.if.no.acl.found={}).", policy.super_users, policy.allow_if_no_acl);
            Some(Authorizer::new(policy, cache))
        }
    };
    let listeners = server::bind(&cfg).await?;
    let epoch = register(&zk, &cfg).await?;
    event(
        "registered",
        id,
        json!({"broker_epoch": epoch, "since_start_ms": started.elapsed().as_millis() as u64}),
    );
    let (phase, _) = watch::channel(if clean {
        Phase::Running
    } else {
        Phase::Recovering
    });
    let initial_delay =
        Duration::from_millis(cfg.int("group.initial.rebalance.delay.ms", 3000) as u64);
    let broker = Arc::new(Broker {
        id,
        version,
        ibp,
        cluster_id,
        zk: zk.clone(),
        view: view.clone(),
        storage,
        replicas,
        fetchers: FetcherManager::default(),
        groups: Coordinator::new(initial_delay),
        producer_ids: Default::default(),
        phase,
        epoch,
        authz,
        cfg,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    server::serve(broker.clone(), listeners, stop_rx);
    let rebalance = broker
        .cfg
        .bool("auto.leader.rebalance.enable", true)
        .then(|| {
            Duration::from_secs(
                broker
                    .cfg
                    .int("leader.imbalance.check.interval.seconds", 300)
                    .max(1) as u64,
            )
        });
    let election = tokio::spawn(controller::run(zk.clone(), id, view.clone(), rebalance));
    watch_session(&broker);
    if !clean {
        recover(&broker).await;
    }
    broker.phase.send_replace(Phase::Running);
    event(
        "started",
        id,
        json!({"since_start_ms": started.elapsed().as_millis() as u64, "version": version.to_string(), "ibp": ibp.name()}),
    );
    tracing::info!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] started");
    spawn_background(&broker, started);
    shutdown.await;
    controlled_shutdown(&broker).await;
    let _ = stop_tx.send(true);
    election.abort();
    Ok(())
}

/// Exits the process when the ZooKeeper session ends outside a shutdown (simplification: Kafka
/// would open a new session and register again).
fn watch_session(broker: &Arc<Broker>) {
    let b = broker.clone();
    let mut states = b.zk.client().state_watcher();
    tokio::spawn(async move {
        loop {
            let state = states.changed().await;
            tracing::info!(target: "kafka.zookeeper.ZooKeeperClient", "[ZooKeeperClient Kafka server] Session state changed to {state:?}.");
            if state.is_terminated() {
                if *b.phase.borrow() != Phase::ShuttingDown {
                    tracing::error!(target: "kafka.server.KafkaServer", "[KafkaServer id={}] ZooKeeper session ended ({state:?}); exiting (the lab broker does not re-register).", b.id);
                    event(
                        "zk_session_lost",
                        b.id,
                        json!({"state": format!("{state:?}")}),
                    );
                    std::process::exit(1);
                }
                break;
            }
        }
    });
}

/// Registers `/brokers/ids/<id>`, waiting for a previous session's node to expire.
async fn register(zk: &Zk, cfg: &Config) -> Result<i64, BrokerError> {
    let path = format!("/brokers/ids/{}", cfg.broker_id);
    let deadline = Instant::now() + Duration::from_millis(cfg.zk_session_timeout_ms() * 2 + 5_000);
    loop {
        let body = serde_json::to_vec(&BrokerRegistration::for_config(cfg)).unwrap_or_default();
        if let Some(stat) = zk.create(&path, &body, true).await? {
            tracing::info!(target: "kafka.zk.KafkaZkClient", "Registered broker {} at path {path} with addresses: {:?}, czxid (broker epoch): {}", cfg.broker_id, cfg.advertised, stat.czxid);
            return Ok(stat.czxid);
        }
        if Instant::now() > deadline {
            return Err(BrokerError::Storage(format!(
                "Error while creating ephemeral at {path}, node already exists and owner does not match current session"
            )));
        }
        tracing::warn!(target: "kafka.zk.KafkaZkClient", "Ephemeral node {path} of an earlier session still exists; waiting for it to expire.");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Log recovery after an unclean stop: a real CRC scan of every log, stretched to the lab's
/// recovery time (`LAB_RECOVERY_BASE_MS` + bytes / `LAB_RECOVERY_BYTES_PER_SEC`).
async fn recover(broker: &Arc<Broker>) {
    let id = broker.id;
    let begun = Instant::now();
    let parts = broker.replicas.all();
    let bytes: u64 = parts.iter().map(|p| p.size()).sum();
    let lab = &broker.cfg.lab;
    let planned = Duration::from_millis(
        lab.recovery_base_ms + bytes.saturating_mul(1000) / lab.recovery_bytes_per_sec,
    );
    tracing::info!(target: "kafka.log.LogManager", "Found no clean shutdown file; recovering {} logs ({bytes} bytes) in {}.", parts.len(), broker.cfg.log_dir.display());
    event(
        "recovery_begin",
        id,
        json!({"partitions": parts.len(), "bytes": bytes, "planned_ms": planned.as_millis() as u64}),
    );
    let mut truncated = 0;
    for p in &parts {
        tracing::info!(target: "kafka.log.LogLoader", "[LogLoader partition={}-{}, dir={}] Recovering unflushed segment 0.", p.topic, p.index, broker.cfg.log_dir.display());
        match p.recover() {
            Ok((_, cut)) => truncated += cut,
            Err(e) => {
                tracing::error!(target: "kafka.log.LogLoader", "Recovery of {}-{} failed: {e}.", p.topic, p.index)
            }
        }
    }
    tokio::time::sleep(planned.saturating_sub(begun.elapsed())).await;
    let took = begun.elapsed().as_millis() as u64;
    tracing::info!(target: "kafka.log.LogManager", "Loaded {} logs in {took}ms (unclean log dirs = {}).", parts.len(), broker.cfg.log_dir.display());
    event(
        "recovery_end",
        id,
        json!({"duration_ms": took, "bytes": bytes, "truncated_bytes": truncated}),
    );
}

fn spawn_background(broker: &Arc<Broker>, started: Instant) {
    let b = broker.clone();
    tokio::spawn(async move {
        let mut view = b.view_rx();
        let ctx = b.fetcher_context();
        let mut caught_up = false;
        loop {
            let snapshot = view.borrow_and_update().clone();
            let running = *b.phase.borrow() == Phase::Running;
            if running && let Err(e) = b.replicas.apply_view(&snapshot) {
                tracing::error!(target: "kafka.server.ReplicaManager", "Applying metadata failed: {e}.");
            }
            b.fetchers.apply(&ctx, &snapshot, running);
            if running && !caught_up && in_sync_everywhere(b.id, &snapshot) {
                caught_up = true;
                event(
                    "caught_up",
                    b.id,
                    json!({"since_start_ms": started.elapsed().as_millis() as u64}),
                );
            }
            if view.changed().await.is_err() {
                break;
            }
        }
    });
    let b = broker.clone();
    tokio::spawn(async move {
        let every = Duration::from_millis((b.cfg.replica_lag_time_max_ms() / 4).max(100));
        let mut last_checkpoint = Instant::now();
        loop {
            tokio::time::sleep(every).await;
            b.replicas.shrink_lagging().await;
            b.groups.tick();
            if last_checkpoint.elapsed() > Duration::from_secs(1) {
                last_checkpoint = Instant::now();
                if let Err(e) = b.replicas.checkpoint() {
                    tracing::warn!(target: "kafka.server.ReplicaManager", "High watermark checkpoint failed: {e}.");
                }
            }
        }
    });
}

/// Whether this broker is in the ISR of every partition it hosts that has a leader.
pub fn in_sync_everywhere(me: i32, view: &ClusterView) -> bool {
    view.hosted_by(me).all(|(_, _, pm)| match &pm.state {
        Some(s) if s.leader >= 0 && view.is_live(s.leader) => s.isr.contains(&me),
        _ => true,
    })
}

/// Whether the controller finished moving leadership and ISR membership away from `me`.
fn shutdown_settled(me: i32, view: &ClusterView) -> bool {
    let eligible = |b: &i32| *b != me && view.is_live(*b) && !view.shutting_down.contains(b);
    view.hosted_by(me).all(|(_, _, pm)| match &pm.state {
        Some(s) if s.leader == me => !s.isr.iter().any(eligible),
        Some(s) => !s.isr.contains(&me) || !s.isr.iter().any(eligible),
        None => true,
    })
}

/// Controlled shutdown: ask the controller (through ZooKeeper) to move leadership away, wait,
/// flush, write the clean-shutdown marker, deregister.
async fn controlled_shutdown(broker: &Arc<Broker>) {
    let id = broker.id;
    let begun = Instant::now();
    event("shutdown_begin", id, json!({}));
    tracing::info!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] shutting down");
    broker.phase.send_replace(Phase::ShuttingDown);
    broker.fetchers.stop_all();
    if broker.cfg.bool("controlled.shutdown.enable", true) {
        tracing::info!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] Starting controlled shutdown");
        let path = format!("/lab/controlled_shutdown/{id}");
        let body = json!({"broker_epoch": broker.epoch}).to_string();
        if let Err(e) = broker.zk.create(&path, body.as_bytes(), true).await {
            tracing::warn!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] Controlled shutdown request failed: {e}.");
        }
        let retries = broker.cfg.int("controlled.shutdown.max.retries", 3).max(1) as u64;
        let backoff = broker
            .cfg
            .int("controlled.shutdown.retry.backoff.ms", 5000)
            .max(100) as u64;
        let mut view = broker.view_rx();
        let settled = tokio::time::timeout(
            Duration::from_millis(retries * backoff),
            view.wait_for(|v| shutdown_settled(id, v)),
        )
        .await;
        match settled {
            Ok(Ok(_)) => {
                tracing::info!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] Controlled shutdown request returned successfully after {}ms", begun.elapsed().as_millis())
            }
            _ => {
                tracing::warn!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] Proceeding to do an unclean shutdown as all the controlled shutdown attempts failed")
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(broker.cfg.lab.shutdown_delay_ms)).await;
    match broker
        .replicas
        .flush_all()
        .and_then(|_| broker.storage.mark_clean())
    {
        Ok(()) => {
            tracing::info!(target: "kafka.log.LogManager", "Logs flushed and clean shutdown marker written in {}.", broker.cfg.log_dir.display())
        }
        Err(e) => {
            tracing::error!(target: "kafka.log.LogManager", "Flushing logs failed, no clean shutdown marker: {e}.")
        }
    }
    for path in [
        format!("/lab/controlled_shutdown/{id}"),
        format!("/brokers/ids/{id}"),
    ] {
        let _ = broker.zk.delete(&path).await;
    }
    if broker.view().controller == Some(id) {
        let _ = broker.zk.delete("/controller").await;
    }
    tracing::info!(target: "kafka.server.KafkaServer", "[KafkaServer id={id}] shut down completed");
    event(
        "shutdown_end",
        id,
        json!({"duration_ms": begun.elapsed().as_millis() as u64}),
    );
}
