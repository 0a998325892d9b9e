//! The agent's core: what the node looks like, and the local actions it carries out — with
//! authorisation, allowlist, audit and operation ids enforced in one place, whatever the
//! transport in front of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kroll_shared::model::{AgentInfo, Container, NodeState};
use kroll_shared::time::now_unix_ms;
use kroll_shared::tls::{PeerIdentity, Permission};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditLog, Claim, Entry, Operations, Phase};
use crate::collect::containers;
use crate::collect::disk::disks_holding;
use crate::collect::host::HostSampler;
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::events::EventHub;
use crate::runtime::{ContainerRuntime, Inspected};

/// What a finished restart reports (also what the audit log records for replay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartOutcome {
    pub started_at_unix_ms: i64,
    pub killed_after_timeout: bool,
    pub stop_duration_ms: u64,
    /// The container after the restart (filled at answer time, not stored).
    #[serde(skip)]
    pub container: Option<Container>,
    /// `true` when this answers a repeated operation id from the record.
    #[serde(skip)]
    pub replayed: bool,
}

/// The agent's state and the runtime it acts through.
#[derive(Debug)]
pub struct Core<R> {
    pub(crate) config: AgentConfig,
    pub(crate) runtime: Arc<R>,
    pub(crate) host: HostSampler,
    pub(crate) audit: AuditLog,
    pub(crate) ops: Operations,
    pub(crate) events: Arc<EventHub>,
    pub(crate) info: AgentInfo,
}

impl<R: ContainerRuntime> Core<R> {
    /// Assembles the core; reads the audit log back to know earlier operation ids.
    pub fn new(
        config: AgentConfig,
        runtime: R,
        host: HostSampler,
        info: AgentInfo,
    ) -> std::io::Result<Self> {
        let audit = AuditLog::open(&config.audit.path)?;
        let ops = Operations::load(&AuditLog::read(&config.audit.path)?);
        let events = Arc::new(EventHub::new(&config.node));
        Ok(Self {
            config,
            runtime: Arc::new(runtime),
            host,
            audit,
            ops,
            events,
            info,
        })
    }

    /// Checks that `peer` may do `p`, recording a refusal of a mutation in the audit log.
    pub async fn authorize(
        &self,
        peer: &PeerIdentity,
        p: Permission,
        action: &'static str,
    ) -> Result<(), AgentError> {
        if peer.role.allows(p) {
            return Ok(());
        }
        if p == Permission::Mutate {
            let entry = self.entry(
                peer,
                action,
                "",
                "",
                Phase::Refused,
                "",
                "role may not mutate",
            );
            self.audit.write(entry).await.map_err(AgentError::Audit)?;
        }
        Err(AgentError::PermissionDenied {
            peer: peer.to_string(),
            action,
        })
    }

    /// A fresh snapshot of the node: managed containers inspected now, disks read now, host
    /// figures from the last sample.
    pub async fn node_state(&self) -> Result<NodeState, AgentError> {
        let mut list =
            containers::managed(&*self.runtime, &self.config.allow, &self.config.report_env)
                .await?;
        let paths = containers::data_paths(&list);
        let disks =
            tokio::task::spawn_blocking(move || disks_holding(paths.iter().map(String::as_str)))
                .await
                .unwrap_or_default();
        containers::place_mounts(&mut list, &disks);
        Ok(NodeState {
            agent: self.info.clone(),
            host: self.host.latest(),
            disks,
            containers: list,
            observed_at_unix_ms: now_unix_ms(),
        })
    }

    /// Graceful restart of a managed container under an operation id.
    pub async fn restart(
        &self,
        peer: &PeerIdentity,
        operation_id: &str,
        container: &str,
        stop_timeout_seconds: u32,
    ) -> Result<RestartOutcome, AgentError> {
        const ACTION: &str = "restart";
        let timeout = self.stop_timeout(stop_timeout_seconds);
        let checked = if operation_id.trim().is_empty() {
            Err(AgentError::InvalidArgument(
                "operation_id is required for a mutating call".into(),
            ))
        } else {
            match timeout {
                Ok(t) => self.managed(container).await.map(|i| (i, t)),
                Err(e) => Err(e),
            }
        };
        let (target, timeout) = match checked {
            Ok(t) => t,
            Err(e) => {
                let entry = self.entry(
                    peer,
                    ACTION,
                    operation_id,
                    container,
                    Phase::Refused,
                    "",
                    &e.to_string(),
                );
                self.audit.write(entry).await.map_err(AgentError::Audit)?;
                return Err(e);
            }
        };
        let name = target.container.name.clone();
        match self.ops.claim(operation_id, ACTION, &name).await {
            Claim::Fresh => {}
            Claim::Replay(v) => return self.replay(v, &name).await,
            Claim::Conflict { action, container } => {
                return Err(AgentError::OperationConflict {
                    id: operation_id.into(),
                    action,
                    container,
                });
            }
            Claim::OutcomeUnknown { began } => {
                return Err(AgentError::OutcomeUnknown {
                    id: operation_id.into(),
                    began,
                });
            }
        }
        let result = self.do_restart(peer, operation_id, &target, timeout).await;
        self.ops.finish(
            operation_id,
            result
                .as_ref()
                .map(|o| serde_json::to_value(o).unwrap_or_default())
                .map_err(|_| ()),
        );
        result
    }

    async fn do_restart(
        &self,
        peer: &PeerIdentity,
        op: &str,
        target: &Inspected,
        timeout: Duration,
    ) -> Result<RestartOutcome, AgentError> {
        let (id, name) = (&target.container.id, &target.container.name);
        let detail = format!("stop timeout {}s", timeout.as_secs());
        self.audit
            .write(self.entry(peer, "restart", op, name, Phase::Begin, "", &detail))
            .await
            .map_err(AgentError::Audit)?;
        tracing::info!(container = %name, operation_id = op, peer = %peer, "Restarting container.");
        let result = self.stop_and_start(id, timeout).await;
        let mut entry = match &result {
            Ok(o) => {
                let mut e = self.entry(peer, "restart", op, name, Phase::End, "ok", "");
                e.result = serde_json::to_value(o).ok();
                e
            }
            Err(err) => self.entry(
                peer,
                "restart",
                op,
                name,
                Phase::End,
                "error",
                &err.to_string(),
            ),
        };
        if let Ok(o) = &result {
            entry.detail = format!(
                "stopped in {} ms{}",
                o.stop_duration_ms,
                if o.killed_after_timeout {
                    ", killed after timeout"
                } else {
                    ""
                }
            );
        }
        self.audit.write(entry).await.map_err(AgentError::Audit)?;
        result
    }

    async fn stop_and_start(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<RestartOutcome, AgentError> {
        let began = Instant::now();
        self.runtime.stop(id, timeout).await?;
        let stop_took = began.elapsed();
        let stopped = self.runtime.inspect(id).await?;
        let killed =
            stopped.container.exit_code == 137 && stop_took + Duration::from_millis(250) >= timeout;
        self.runtime.start(id).await?;
        let after = self.runtime.inspect(id).await?;
        Ok(RestartOutcome {
            started_at_unix_ms: after.container.started_at_unix_ms,
            killed_after_timeout: killed,
            stop_duration_ms: u64::try_from(stop_took.as_millis()).unwrap_or(u64::MAX),
            container: Some(containers::reportable(after, &self.config.report_env)),
            replayed: false,
        })
    }

    async fn replay(
        &self,
        recorded: serde_json::Value,
        name: &str,
    ) -> Result<RestartOutcome, AgentError> {
        let mut o: RestartOutcome = serde_json::from_value(recorded).map_err(|e| {
            AgentError::InvalidArgument(format!("unreadable record of the operation: {e}"))
        })?;
        o.replayed = true;
        o.container = Some(containers::reportable(
            self.runtime.inspect(name).await?,
            &self.config.report_env,
        ));
        Ok(o)
    }

    /// Inspects `name` and checks it is managed; errors say which node refused and why.
    async fn managed(&self, name: &str) -> Result<Inspected, AgentError> {
        let node = self.config.node.clone();
        let inspected = self.runtime.inspect(name).await.map_err(|e| match e {
            crate::runtime::RuntimeError::NotFound(_) => AgentError::NotFound {
                container: name.into(),
                node: node.clone(),
            },
            other => other.into(),
        })?;
        let c = &inspected.container;
        if !self.config.allow.allows(&c.name, &c.labels) {
            return Err(AgentError::NotManaged {
                container: name.into(),
                node,
                allowed: self.config.allow.to_string(),
            });
        }
        Ok(inspected)
    }

    fn stop_timeout(&self, asked: u32) -> Result<Duration, AgentError> {
        let r = &self.config.restart;
        match asked {
            0 => Ok(Duration::from_secs(r.default_stop_timeout_seconds.into())),
            s if s > r.max_stop_timeout_seconds => Err(AgentError::InvalidArgument(format!(
                "stop timeout {s}s is above this agent's maximum of {}s",
                r.max_stop_timeout_seconds
            ))),
            s => Ok(Duration::from_secs(s.into())),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        peer: &PeerIdentity,
        action: &str,
        op: &str,
        container: &str,
        phase: Phase,
        outcome: &str,
        detail: &str,
    ) -> Entry {
        let now = time::OffsetDateTime::now_utc();
        Entry {
            time: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            time_unix_ms: now_unix_ms(),
            node: self.config.node.clone(),
            peer: peer.name.clone(),
            role: peer.role.to_string(),
            action: action.into(),
            operation_id: op.into(),
            container: container.into(),
            phase,
            outcome: outcome.into(),
            detail: detail.into(),
            result: None,
        }
    }
}
