//! The agent's core: what the node looks like, and the local actions it carries out — with
//! authorisation, allowlist, audit and operation ids enforced in one place, whatever the
//! transport in front of it.

use std::sync::Arc;
use std::time::Duration;

use kroll_shared::model::{AgentInfo, NodeState};
use kroll_shared::time::now_unix_ms;
use kroll_shared::tls::{PeerIdentity, Permission};

use crate::audit::{AuditLog, Entry, Operations, Phase};
use crate::collect::containers;
use crate::collect::disk::disks_holding;
use crate::collect::host::HostSampler;
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::events::EventHub;
use crate::runtime::{ContainerRuntime, Inspected};

/// The agent's state and the runtime it acts through.
#[derive(Debug)]
pub struct Core<R> {
    pub(crate) config: AgentConfig,
    pub(crate) runtime: Arc<R>,
    pub(crate) host: HostSampler,
    pub(crate) audit: AuditLog,
    pub(crate) ops: Operations,
    /// How many role refusals are still written this minute.
    pub(crate) refusals: crate::audit::RefusalBudget,
    pub(crate) events: Arc<EventHub>,
    /// JVMs of the managed containers (heap, GC, OOM events).
    pub(crate) jvm: Arc<crate::jvm::JvmMonitor>,
    pub(crate) info: AgentInfo,
    /// Concurrent `node_state` calls share a snapshot begun after they arrived.
    snapshots: crate::coalesce::Coalesced<NodeState>,
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
        let jvm = Arc::new(crate::jvm::JvmMonitor::new(config.jvm.clone()));
        Ok(Self {
            config,
            runtime: Arc::new(runtime),
            host,
            audit,
            ops,
            refusals: crate::audit::RefusalBudget::new(),
            events,
            jvm,
            info,
            snapshots: crate::coalesce::Coalesced::new(),
        })
    }

    /// Checks that `peer` may do `p` (reads; a refusal is not audited).
    pub fn authorize(
        &self,
        peer: &PeerIdentity,
        p: Permission,
        action: &'static str,
    ) -> Result<(), AgentError> {
        if peer.role.allows(p) {
            Ok(())
        } else {
            Err(AgentError::PermissionDenied {
                peer: peer.to_string(),
                action,
            })
        }
    }

    /// Checks that `peer` may mutate; a refusal is audited with the operation id and the
    /// target the caller named (cut to a bounded size), within the refusal budget.
    pub async fn authorize_mutation(
        &self,
        peer: &PeerIdentity,
        action: &'static str,
        op_id: &str,
        target: &str,
    ) -> Result<(), AgentError> {
        let refused = self.authorize(peer, Permission::Mutate, action);
        if refused.is_err()
            && let Some(left_out) = self.refusals.admit()
        {
            let detail = match left_out {
                0 => "role may not mutate".to_owned(),
                n => format!(
                    "role may not mutate ({n} earlier refusals were not written: more than {} a minute)",
                    crate::audit::RefusalBudget::PER_MINUTE
                ),
            };
            let entry = self.entry(
                peer,
                action,
                &crate::actions::clip(op_id, 256),
                &crate::actions::clip(target, 256),
                Phase::Refused,
                "",
                &detail,
            );
            self.audit.write(entry).await.map_err(AgentError::Audit)?;
        }
        refused
    }

    /// A fresh snapshot of the node: managed containers inspected, disks read, host figures
    /// from the last sample — by a snapshot begun after this call (concurrent calls share it:
    /// [`crate::coalesce`]).
    pub async fn node_state(&self) -> Result<NodeState, AgentError> {
        self.snapshots.get(|| self.take_node_state()).await
    }

    async fn take_node_state(&self) -> Result<NodeState, AgentError> {
        let mut list =
            containers::managed(&*self.runtime, &self.config.allow, &self.config.report_env)
                .await?;
        let paths = containers::data_paths(&list);
        let disks =
            tokio::task::spawn_blocking(move || disks_holding(paths.iter().map(String::as_str)))
                .await
                .unwrap_or_default();
        containers::place_mounts(&mut list, &disks);
        for c in &mut list {
            c.java = self.jvm.report(&c.id);
        }
        Ok(NodeState {
            agent: self.info.clone(),
            host: self.host.latest(),
            disks,
            containers: list,
            observed_at_unix_ms: now_unix_ms(),
        })
    }

    /// Inspects `name` and checks it is a managed service container (never a kept previous
    /// definition); errors say which node refused and why. A missing container and one outside
    /// the allowlist get the same error.
    pub(crate) async fn managed(&self, name: &str) -> Result<Inspected, AgentError> {
        let node = self.config.node.clone();
        let unmanaged = || AgentError::NotManaged {
            container: name.into(),
            node: node.clone(),
            allowed: self.config.allow.to_string(),
        };
        let inspected = self.runtime.inspect(name).await.map_err(|e| match e {
            crate::runtime::RuntimeError::NotFound(_) => unmanaged(),
            other => other.into(),
        })?;
        let c = &inspected.container;
        if !self.config.allow.allows(&c.name, &c.labels) {
            return Err(unmanaged());
        }
        if let Some(service) = crate::kept::service_of(&c.name) {
            return Err(AgentError::KeptContainer {
                container: c.name.clone(),
                service: service.to_owned(),
                node,
            });
        }
        Ok(inspected)
    }

    /// Refuses a container Docker Swarm runs as a service task: replacing it outside Swarm
    /// makes Swarm start another task beside it.
    pub(crate) fn refuse_swarm_task(&self, i: &Inspected) -> Result<(), AgentError> {
        match swarm_service(&i.container.labels) {
            Some(service) => Err(AgentError::SwarmTask {
                container: i.container.name.clone(),
                service,
                node: self.config.node.clone(),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn stop_timeout(&self, asked: u32) -> Result<Duration, AgentError> {
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
    pub(crate) fn entry(
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
            stop_deadline_unix_ms: None,
        }
    }
}

/// The Swarm service a container is a task of, from its labels (`None`: not a Swarm task).
pub fn swarm_service(labels: &std::collections::BTreeMap<String, String>) -> Option<String> {
    labels.get("com.docker.swarm.task.id")?;
    Some(
        labels
            .get("com.docker.swarm.service.name")
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| "(unnamed service)".to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::swarm_service;

    #[test]
    fn only_containers_with_a_task_id_are_swarm_tasks() {
        let l = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            swarm_service(&l(&[
                ("com.docker.swarm.task.id", "x1"),
                ("com.docker.swarm.service.name", "kafka_kafka-1")
            ])),
            Some("kafka_kafka-1".into())
        );
        assert_eq!(
            swarm_service(&l(&[("com.docker.swarm.task.id", "x1")])),
            Some("(unnamed service)".into())
        );
        assert_eq!(
            swarm_service(&l(&[
                ("com.docker.swarm.service.name", "s"),
                ("com.docker.compose.service", "kafka")
            ])),
            None,
            "a Compose container, or a service label alone, is not a task"
        );
    }
}
