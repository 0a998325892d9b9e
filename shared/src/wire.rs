//! Conversions between the domain types of [`crate::model`] and the `kroll.agent.v1` wire types.
//!
//! Domain → wire is infallible. Wire → domain fails only where a message lacks something the
//! protocol promises ([`WireError`]); unknown enum values and event kinds from a newer agent map
//! to the `Unknown` variants instead of failing, as the protocol's versioning rules require.

/// Words an agent's refusal of a rollback or restore ends with when it keeps nothing to go
/// back to (the step never took effect there): the coordinator recognises them.
pub const NOTHING_KEPT: &str = "(nothing to roll back to)";
/// See [`NOTHING_KEPT`]: the Swarm restore's words.
pub const NOTHING_SAVED: &str = "(nothing to restore)";
/// Words of an agent's refusal of a service action because its engine is no Swarm manager
/// (demoted, or out of the swarm) — refused before anything was done, so the coordinator
/// goes to the next manager.
pub const NOT_A_MANAGER: &str = "is not a Docker Swarm manager";

use kroll_proto::agent::v1 as pb;

use crate::model::{
    AgentInfo, Container, ContainerStatus, Disk, EnvPatch, Event, EventKind, Health, Host, Mount,
    NodeState,
};

mod jvm;

/// A wire message that lacks a part the protocol promises.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("malformed {message} from agent: field `{field}` is missing")]
    Missing {
        message: &'static str,
        field: &'static str,
    },
}

impl From<ContainerStatus> for pb::ContainerStatus {
    fn from(s: ContainerStatus) -> Self {
        match s {
            ContainerStatus::Unknown => Self::Unspecified,
            ContainerStatus::Created => Self::Created,
            ContainerStatus::Running => Self::Running,
            ContainerStatus::Paused => Self::Paused,
            ContainerStatus::Restarting => Self::Restarting,
            ContainerStatus::Removing => Self::Removing,
            ContainerStatus::Exited => Self::Exited,
            ContainerStatus::Dead => Self::Dead,
        }
    }
}

fn status_from_wire(raw: i32) -> ContainerStatus {
    match pb::ContainerStatus::try_from(raw) {
        Ok(pb::ContainerStatus::Created) => ContainerStatus::Created,
        Ok(pb::ContainerStatus::Running) => ContainerStatus::Running,
        Ok(pb::ContainerStatus::Paused) => ContainerStatus::Paused,
        Ok(pb::ContainerStatus::Restarting) => ContainerStatus::Restarting,
        Ok(pb::ContainerStatus::Removing) => ContainerStatus::Removing,
        Ok(pb::ContainerStatus::Exited) => ContainerStatus::Exited,
        Ok(pb::ContainerStatus::Dead) => ContainerStatus::Dead,
        Ok(pb::ContainerStatus::Unspecified) | Err(_) => ContainerStatus::Unknown,
    }
}

impl From<Health> for pb::HealthStatus {
    fn from(h: Health) -> Self {
        match h {
            Health::None => Self::None,
            Health::Starting => Self::Starting,
            Health::Healthy => Self::Healthy,
            Health::Unhealthy => Self::Unhealthy,
        }
    }
}

fn health_from_wire(raw: i32) -> Health {
    match pb::HealthStatus::try_from(raw) {
        Ok(pb::HealthStatus::Starting) => Health::Starting,
        Ok(pb::HealthStatus::Healthy) => Health::Healthy,
        Ok(pb::HealthStatus::Unhealthy) => Health::Unhealthy,
        Ok(pb::HealthStatus::None) | Err(_) => Health::None,
    }
}

impl From<Mount> for pb::Mount {
    fn from(m: Mount) -> Self {
        Self {
            source: m.source,
            destination: m.destination,
            kind: m.kind,
            read_only: m.read_only,
            host_mount_point: m.host_mount_point,
        }
    }
}

impl From<pb::Mount> for Mount {
    fn from(m: pb::Mount) -> Self {
        Self {
            source: m.source,
            destination: m.destination,
            kind: m.kind,
            read_only: m.read_only,
            host_mount_point: m.host_mount_point,
        }
    }
}

impl From<Container> for pb::Container {
    fn from(c: Container) -> Self {
        Self {
            id: c.id,
            name: c.name,
            image: c.image,
            image_id: c.image_id,
            status: pb::ContainerStatus::from(c.status) as i32,
            health: pb::HealthStatus::from(c.health) as i32,
            started_at_unix_ms: c.started_at_unix_ms,
            finished_at_unix_ms: c.finished_at_unix_ms,
            exit_code: c.exit_code,
            oom_killed: c.oom_killed,
            restart_count: c.restart_count,
            labels: c.labels.into_iter().collect(),
            env_keys: c.env_keys,
            env: c.env.into_iter().collect(),
            mounts: c.mounts.into_iter().map(Into::into).collect(),
            hostname: c.hostname,
            pid: c.pid,
            java: c.java.map(Into::into),
        }
    }
}

impl From<pb::Container> for Container {
    fn from(c: pb::Container) -> Self {
        Self {
            id: c.id,
            name: c.name,
            image: c.image,
            image_id: c.image_id,
            status: status_from_wire(c.status),
            health: health_from_wire(c.health),
            started_at_unix_ms: c.started_at_unix_ms,
            finished_at_unix_ms: c.finished_at_unix_ms,
            exit_code: c.exit_code,
            oom_killed: c.oom_killed,
            restart_count: c.restart_count,
            labels: c.labels.into_iter().collect(),
            env_keys: c.env_keys,
            env: c.env.into_iter().collect(),
            mounts: c.mounts.into_iter().map(Into::into).collect(),
            hostname: c.hostname,
            pid: c.pid,
            java: c.java.map(Into::into),
        }
    }
}

impl From<Disk> for pb::Disk {
    fn from(d: Disk) -> Self {
        Self {
            mount_point: d.mount_point,
            filesystem: d.filesystem,
            device: d.device,
            total_bytes: d.total_bytes,
            available_bytes: d.available_bytes,
        }
    }
}

impl From<pb::Disk> for Disk {
    fn from(d: pb::Disk) -> Self {
        Self {
            mount_point: d.mount_point,
            filesystem: d.filesystem,
            device: d.device,
            total_bytes: d.total_bytes,
            available_bytes: d.available_bytes,
        }
    }
}

impl From<Host> for pb::Host {
    fn from(h: Host) -> Self {
        Self {
            hostname: h.hostname,
            uptime_seconds: h.uptime_seconds,
            cpu_count: h.cpu_count,
            cpu_usage_percent: h.cpu_usage_percent,
            memory_total_bytes: h.memory_total_bytes,
            memory_available_bytes: h.memory_available_bytes,
            load_average_1m: h.load_average[0],
            load_average_5m: h.load_average[1],
            load_average_15m: h.load_average[2],
            kernel_version: h.kernel_version,
            os: h.os,
        }
    }
}

impl From<pb::Host> for Host {
    fn from(h: pb::Host) -> Self {
        Self {
            hostname: h.hostname,
            uptime_seconds: h.uptime_seconds,
            cpu_count: h.cpu_count,
            cpu_usage_percent: h.cpu_usage_percent,
            memory_total_bytes: h.memory_total_bytes,
            memory_available_bytes: h.memory_available_bytes,
            load_average: [h.load_average_1m, h.load_average_5m, h.load_average_15m],
            kernel_version: h.kernel_version,
            os: h.os,
        }
    }
}

impl From<AgentInfo> for pb::AgentInfo {
    fn from(a: AgentInfo) -> Self {
        Self {
            node: a.node,
            version: a.version,
            docker_version: a.docker_version,
            docker_api_version: a.docker_api_version,
            started_at_unix_ms: a.started_at_unix_ms,
        }
    }
}

impl From<pb::AgentInfo> for AgentInfo {
    fn from(a: pb::AgentInfo) -> Self {
        Self {
            node: a.node,
            version: a.version,
            docker_version: a.docker_version,
            docker_api_version: a.docker_api_version,
            started_at_unix_ms: a.started_at_unix_ms,
        }
    }
}

impl From<NodeState> for pb::NodeState {
    fn from(s: NodeState) -> Self {
        Self {
            agent: Some(s.agent.into()),
            host: Some(s.host.into()),
            disks: s.disks.into_iter().map(Into::into).collect(),
            containers: s.containers.into_iter().map(Into::into).collect(),
            observed_at_unix_ms: s.observed_at_unix_ms,
        }
    }
}

impl TryFrom<pb::NodeState> for NodeState {
    type Error = WireError;

    fn try_from(s: pb::NodeState) -> Result<Self, Self::Error> {
        let missing = |field| WireError::Missing {
            message: "NodeState",
            field,
        };
        Ok(Self {
            agent: s.agent.ok_or_else(|| missing("agent"))?.into(),
            host: s.host.ok_or_else(|| missing("host"))?.into(),
            disks: s.disks.into_iter().map(Into::into).collect(),
            containers: s.containers.into_iter().map(Into::into).collect(),
            observed_at_unix_ms: s.observed_at_unix_ms,
        })
    }
}

impl From<EventKind> for Option<pb::event::Kind> {
    fn from(k: EventKind) -> Self {
        use pb::event::Kind;
        Some(match k {
            EventKind::Started { image } => Kind::Started(pb::ContainerStarted { image }),
            EventKind::Died {
                exit_code,
                oom_killed,
            } => Kind::Died(pb::ContainerDied {
                exit_code,
                oom_killed,
            }),
            EventKind::OomKilled => Kind::OomKilled(pb::ContainerOomKilled {}),
            EventKind::HealthChanged { health } => Kind::HealthChanged(pb::HealthChanged {
                health: pb::HealthStatus::from(health) as i32,
            }),
            EventKind::Stopped { signal } => Kind::Stopped(pb::ContainerStopped { signal }),
            EventKind::EventsLost { count } => Kind::EventsLost(pb::EventsLost { count }),
            EventKind::Unknown => return None,
            jvm_kind => return jvm::kind_to_wire(&jvm_kind),
        })
    }
}

fn event_kind_from_wire(k: Option<pb::event::Kind>) -> EventKind {
    use pb::event::Kind;
    match k {
        Some(Kind::Started(s)) => EventKind::Started { image: s.image },
        Some(Kind::Died(d)) => EventKind::Died {
            exit_code: d.exit_code,
            oom_killed: d.oom_killed,
        },
        Some(Kind::OomKilled(_)) => EventKind::OomKilled,
        Some(Kind::HealthChanged(h)) => EventKind::HealthChanged {
            health: health_from_wire(h.health),
        },
        Some(Kind::Stopped(s)) => EventKind::Stopped { signal: s.signal },
        Some(Kind::EventsLost(l)) => EventKind::EventsLost { count: l.count },
        Some(other) => jvm::kind_from_wire(&other).unwrap_or(EventKind::Unknown),
        None => EventKind::Unknown,
    }
}

impl From<Event> for pb::Event {
    fn from(e: Event) -> Self {
        Self {
            seq: e.seq,
            node: e.node,
            time_unix_ms: e.time_unix_ms,
            container_id: e.container_id,
            container_name: e.container_name,
            kind: e.kind.into(),
        }
    }
}

impl From<pb::Event> for Event {
    fn from(e: pb::Event) -> Self {
        Self {
            seq: e.seq,
            node: e.node,
            time_unix_ms: e.time_unix_ms,
            container_id: e.container_id,
            container_name: e.container_name,
            kind: event_kind_from_wire(e.kind),
        }
    }
}

/// An environment patch on the wire (a function, not `From`: [`EnvPatch`] is
/// `kroll-envpatch`'s, shared with the pure crates).
pub fn env_patch_to_wire(p: EnvPatch) -> pb::EnvPatch {
    pb::EnvPatch {
        set: p.set.into_iter().collect(),
        remove: p.remove,
        rename: p.rename.into_iter().collect(),
    }
}

/// An environment patch from the wire.
pub fn env_patch_from_wire(p: pb::EnvPatch) -> EnvPatch {
    EnvPatch {
        set: p.set.into_iter().collect(),
        remove: p.remove,
        rename: p.rename.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn container() -> Container {
        Container {
            id: "abc".into(),
            name: "kafka-01".into(),
            image: "reg/kafka:7.1.1".into(),
            image_id: "sha256:1".into(),
            status: ContainerStatus::Exited,
            health: Health::Unhealthy,
            started_at_unix_ms: 1,
            finished_at_unix_ms: 2,
            exit_code: 137,
            oom_killed: true,
            restart_count: 4,
            labels: BTreeMap::from([("kroll.node".into(), "n1".into())]),
            env_keys: vec!["KAFKA_BROKER_ID".into()],
            env: BTreeMap::from([("KAFKA_BROKER_ID".into(), "1".into())]),
            mounts: vec![Mount {
                source: "/data/kafka".into(),
                destination: "/var/lib/kafka/data".into(),
                kind: "bind".into(),
                read_only: false,
                host_mount_point: "/data".into(),
            }],
            hostname: "kafka-01".into(),
            pid: 0,
            java: None,
        }
    }

    #[test]
    fn containers_round_trip_through_the_wire() {
        let c = container();
        let back = Container::from(pb::Container::from(c.clone()));
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_enum_values_from_a_newer_agent_become_unknown() {
        let mut wire = pb::Container::from(container());
        wire.status = 99;
        wire.health = 42;
        let c = Container::from(wire);
        assert_eq!(c.status, ContainerStatus::Unknown);
        assert_eq!(c.health, Health::None);
        let event = Event::from(pb::Event {
            kind: None,
            ..Default::default()
        });
        assert_eq!(event.kind, EventKind::Unknown);
    }

    #[test]
    fn every_event_kind_round_trips() {
        let kinds = [
            EventKind::Started { image: "i".into() },
            EventKind::Died {
                exit_code: 3,
                oom_killed: false,
            },
            EventKind::OomKilled,
            EventKind::HealthChanged {
                health: Health::Healthy,
            },
            EventKind::Stopped {
                signal: "SIGTERM".into(),
            },
            EventKind::EventsLost { count: 7 },
        ];
        for kind in kinds {
            let e = Event {
                seq: 1,
                node: "n".into(),
                time_unix_ms: 5,
                container_id: "id".into(),
                container_name: "c".into(),
                kind,
            };
            assert_eq!(Event::from(pb::Event::from(e.clone())), e);
        }
    }

    #[test]
    fn node_state_without_host_is_rejected_with_the_field_name() {
        let err = NodeState::try_from(pb::NodeState {
            agent: Some(pb::AgentInfo::default()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed NodeState from agent: field `host` is missing"
        );
    }
}
