//! What a node looks like (host, disks, containers) and what happens on it (events).
//!
//! These are the types the agent fills in and the coordinator reasons about. They serialise to
//! the JSON that `kroll status --output json` and `kroll watch --output json` print, so field
//! names are part of kroll's scripting interface: add fields, do not rename them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One consistent snapshot of a node, taken by its agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub agent: AgentInfo,
    pub host: Host,
    pub disks: Vec<Disk>,
    pub containers: Vec<Container>,
    /// When the agent took the snapshot (its clock), Unix ms.
    pub observed_at_unix_ms: i64,
}

impl NodeState {
    /// The managed container with this name, if the agent reported it.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// The disk holding `path` on the host: the one with the longest mount point that is a
    /// prefix of the path (path-component-wise).
    pub fn disk_for_path(&self, path: &str) -> Option<&Disk> {
        self.disks
            .iter()
            .filter(|d| path_is_under(path, &d.mount_point))
            .max_by_key(|d| d.mount_point.len())
    }

    /// The disk holding a container's data: the disk of its first volume or bind mount that the
    /// agent could place, else none.
    pub fn data_disk_of(&self, container: &Container) -> Option<&Disk> {
        container
            .mounts
            .iter()
            .filter(|m| !m.host_mount_point.is_empty())
            .find_map(|m| {
                self.disks
                    .iter()
                    .find(|d| d.mount_point == m.host_mount_point)
            })
    }
}

/// `true` when `path` is `mount` or below it, comparing whole path components.
pub fn path_is_under(path: &str, mount: &str) -> bool {
    if mount == "/" {
        return path.starts_with('/');
    }
    let mount = mount.trim_end_matches('/');
    path == mount
        || path
            .strip_prefix(mount)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Who answered and with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Node name from the agent's configuration (matches the inventory).
    pub node: String,
    pub version: String,
    pub docker_version: String,
    pub docker_api_version: String,
    pub started_at_unix_ms: i64,
}

/// Host figures, sampled by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub uptime_seconds: u64,
    pub cpu_count: u32,
    /// Whole-host CPU use over the last sampling interval, 0..=100.
    pub cpu_usage_percent: f32,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub load_average: [f64; 3],
    pub kernel_version: String,
    pub os: String,
}

/// One mounted filesystem on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub mount_point: String,
    pub filesystem: String,
    pub device: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
}

impl Disk {
    /// Free space as a percentage of the total (0 for an empty filesystem).
    pub fn available_percent(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            self.available_bytes as f64 * 100.0 / self.total_bytes as f64
        }
    }
}

/// Docker's container states, plus `Unknown` for a value this build does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerStatus {
    Unknown,
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl ContainerStatus {
    /// Maps Docker's `State.Status` string.
    pub fn from_docker(s: &str) -> Self {
        match s {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "removing" => Self::Removing,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            _ => Self::Unknown,
        }
    }

    /// Docker's own word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
        }
    }
}

/// A container's health-check state. `None` = no health check configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    None,
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// Maps Docker's `State.Health.Status` string (absent = no health check).
    pub fn from_docker(s: Option<&str>) -> Self {
        match s {
            Some("starting") => Self::Starting,
            Some("healthy") => Self::Healthy,
            Some("unhealthy") => Self::Unhealthy,
            _ => Self::None,
        }
    }

    /// Docker's own word for the health, `-` when there is no health check.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::Starting => "starting",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }
}

/// A mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Host path (bind) or the volume's host path (volume).
    pub source: String,
    pub destination: String,
    /// `bind`, `volume`, `tmpfs`, ...
    pub kind: String,
    pub read_only: bool,
    /// Mount point of the host filesystem holding `source`, empty when unknown.
    pub host_mount_point: String,
}

/// A managed container, as Docker describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    /// Without Docker's leading slash.
    pub name: String,
    /// Image reference the container was created from.
    pub image: String,
    /// Image content id (`sha256:…`).
    pub image_id: String,
    pub status: ContainerStatus,
    pub health: Health,
    pub started_at_unix_ms: i64,
    pub finished_at_unix_ms: i64,
    pub exit_code: i32,
    /// Killed by the kernel OOM killer (memory limit) — not a Java heap OOM.
    pub oom_killed: bool,
    pub restart_count: u32,
    /// `kroll.*` labels and Compose / Swarm identity labels.
    pub labels: BTreeMap<String, String>,
    /// Names of all environment variables (values are never reported: they may be secret).
    pub env_keys: Vec<String>,
    /// Values of the few non-secret variables kroll plans with (broker id, IBP, heap options).
    pub env: BTreeMap<String, String>,
    pub mounts: Vec<Mount>,
    pub hostname: String,
    /// Host pid of the main process (0 when not running).
    pub pid: i64,
    /// The JVMs in the container and the heap its environment asks for; `None` when no JVM
    /// was found in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub java: Option<crate::jvm::JavaReport>,
}

impl Container {
    /// The tag of the image reference (`7.1.1` for `registry:5000/kafka:7.1.1`), or the whole
    /// reference when it has no tag; digests are shortened.
    pub fn image_tag(&self) -> &str {
        image_tag(&self.image)
    }

    /// `true` when the container is running (health may still be starting).
    pub fn is_running(&self) -> bool {
        self.status == ContainerStatus::Running
    }

    /// The platform version its image says it is, from the image's labels (a container
    /// carries its image's labels): see [`labelled_version`].
    pub fn labelled_version(&self) -> Option<&str> {
        labelled_version(&self.labels)
    }
}

/// The image labels that say which version an image is (and nothing secret): Confluent's
/// images carry `io.confluent.docker=true` and `release=<platform version>`; OCI images may
/// carry `org.opencontainers.image.version`.
pub const VERSION_LABELS: [&str; 3] = [CONFLUENT_LABEL, CONFLUENT_RELEASE_LABEL, OCI_VERSION_LABEL];
/// Present (`true`) on Confluent's images.
pub const CONFLUENT_LABEL: &str = "io.confluent.docker";
/// The platform version of a Confluent image (`7.1.1`).
pub const CONFLUENT_RELEASE_LABEL: &str = "release";
/// The OCI annotation for an image's version.
pub const OCI_VERSION_LABEL: &str = "org.opencontainers.image.version";

/// The version an image's labels state: Confluent's `release` (only on an image that says it
/// is Confluent's — `release` alone is too common a name), else the OCI version label.
pub fn labelled_version(labels: &BTreeMap<String, String>) -> Option<&str> {
    let confluent = labels
        .get(CONFLUENT_LABEL)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    confluent
        .then(|| labels.get(CONFLUENT_RELEASE_LABEL))
        .flatten()
        .or_else(|| labels.get(OCI_VERSION_LABEL))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The tag of an image reference: the part after the last `:` of the last path component;
/// `name:tag@sha256:…` (what a Swarm task runs: the tag the service named, pinned to a digest)
/// gives the tag; `name@sha256:…` the first 12 hex digits of the digest; no tag gives `latest`.
pub fn image_tag(image: &str) -> &str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match (last.rsplit_once(':'), digest) {
        (Some((_, tag)), _) => tag,
        (None, Some(digest)) => {
            let hex = digest.rsplit(':').next().unwrap_or(digest);
            hex.get(..12).unwrap_or(hex)
        }
        (None, None) => "latest",
    }
}

/// Whether a container running `running` runs the image `wanted` names: the same reference, or
/// `wanted` pinned to a digest (a Swarm task runs `name:tag@sha256:…` for a service that names
/// `name:tag`).
pub fn runs_image(running: &str, wanted: &str) -> bool {
    let digest = |image: &str| image.split_once('@').map(|(_, d)| d.to_owned());
    running == wanted
        || (!wanted.contains('@')
            && running
                .strip_prefix(wanted)
                .is_some_and(|rest| rest.starts_with("@sha256:")))
        // `name@sha256:d` (a target resolved to its digest) is run as `name:tag@sha256:d` too.
        || (digest(wanted).is_some()
            && digest(running) == digest(wanted)
            && image_repository(running) == image_repository(wanted))
}

/// `image` without its tag and digest: the repository (`registry:5000/kafka`).
pub fn image_repository(image: &str) -> &str {
    let name = image.split_once('@').map_or(image, |(name, _)| name);
    let last = name.rfind('/').map_or(0, |i| i + 1);
    match name[last..].rfind(':') {
        Some(i) => &name[..last + i],
        None => name,
    }
}

/// Something that happened to a managed container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Per agent process, increasing by one per event.
    pub seq: u64,
    pub node: String,
    pub time_unix_ms: i64,
    pub container_id: String,
    pub container_name: String,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The container started.
    Started { image: String },
    /// The container's main process exited.
    Died { exit_code: i32, oom_killed: bool },
    /// The kernel OOM killer struck inside the container.
    OomKilled,
    /// The health check changed state.
    HealthChanged { health: Health },
    /// Somebody asked Docker to stop or kill the container (before it dies).
    Stopped { signal: String },
    /// This subscriber fell behind and `count` events were dropped for it.
    EventsLost { count: u64 },
    /// `java.lang.OutOfMemoryError` in the container's log; `repeated` more matching lines were
    /// folded into this event.
    JavaOom { line: String, repeated: u32 },
    /// The container exited as a JVM does on OutOfMemoryError (3: ExitOnOutOfMemoryError,
    /// 134: CrashOnOutOfMemoryError), and why the agent believes it.
    JavaOomExit { exit_code: i32, evidence: String },
    /// Old generation at or above the threshold after a full GC, or full GCs too frequent.
    HeapPressure {
        pid: u32,
        old_used_bytes: u64,
        max_bytes: u64,
        full_gcs_in_window: u32,
        window_seconds: u32,
        reason: String,
    },
    /// The JVM's tick counter stopped advancing.
    JvmHung { pid: u32, stalled_ms: u64 },
    /// A JVM left the state an earlier `heap_pressure` or `jvm_hung` reported.
    JvmRecovered { pid: u32, from: String },
    /// An event kind this build does not know (sent by a newer agent).
    Unknown,
}

impl EventKind {
    /// Every kind's name as `name()` gives it (the `type` tag of the JSON form).
    pub const NAMES: [&'static str; 12] = [
        "started",
        "died",
        "oom_killed",
        "health_changed",
        "stopped",
        "events_lost",
        "java_oom",
        "java_oom_exit",
        "heap_pressure",
        "jvm_hung",
        "jvm_recovered",
        "unknown",
    ];

    /// The kind's name, e.g. `java_oom` (the `type` tag of the JSON form).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Started { .. } => "started",
            Self::Died { .. } => "died",
            Self::OomKilled => "oom_killed",
            Self::HealthChanged { .. } => "health_changed",
            Self::Stopped { .. } => "stopped",
            Self::EventsLost { .. } => "events_lost",
            Self::JavaOom { .. } => "java_oom",
            Self::JavaOomExit { .. } => "java_oom_exit",
            Self::HeapPressure { .. } => "heap_pressure",
            Self::JvmHung { .. } => "jvm_hung",
            Self::JvmRecovered { .. } => "jvm_recovered",
            Self::Unknown => "unknown",
        }
    }

    /// A one-line human description, e.g. `died (exit 137, OOM-killed)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Started { image } => format!("started ({image})"),
            Self::Died {
                exit_code,
                oom_killed: true,
            } => {
                format!("died (exit {exit_code}, OOM-killed by the kernel)")
            }
            Self::Died { exit_code, .. } => format!("died (exit {exit_code})"),
            Self::OomKilled => "kernel OOM killer struck".to_owned(),
            Self::HealthChanged { health } => format!("health is now {}", health.as_str()),
            Self::Stopped { signal } if signal.is_empty() => "stop requested".to_owned(),
            Self::Stopped { signal } => format!("stop requested ({signal})"),
            Self::EventsLost { count } => format!("{count} events lost (subscriber too slow)"),
            Self::JavaOom { line, repeated: 0 } => format!("Java OutOfMemoryError: {line}"),
            Self::JavaOom { line, repeated } => {
                format!("Java OutOfMemoryError: {line} (+{repeated} more lines)")
            }
            Self::JavaOomExit {
                exit_code,
                evidence,
            } => format!("JVM exited on OutOfMemoryError (exit {exit_code}; {evidence})"),
            Self::HeapPressure { pid, reason, .. } => {
                format!("heap pressure in JVM {pid}: {reason}")
            }
            Self::JvmHung { pid, stalled_ms } => format!(
                "JVM {pid} hung: ticks stalled for {:.1}s",
                *stalled_ms as f64 / 1000.0
            ),
            Self::JvmRecovered { pid, from } => format!("JVM {pid} recovered from {from}"),
            Self::Unknown => "unknown event (newer agent?)".to_owned(),
        }
    }
}

/// Changes to a container's environment (the one type, shared with `kroll-migrate` and
/// `kroll-stack`).
pub use kroll_envpatch::EnvPatch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_are_found_behind_registry_ports_and_digests() {
        assert_eq!(image_tag("kafka:7.1.1"), "7.1.1");
        assert_eq!(
            image_tag("registry-git.example.com:5000/bi/rhodry/kafka:7.7.1"),
            "7.7.1"
        );
        assert_eq!(image_tag("registry:5000/kafka"), "latest");
        assert_eq!(
            image_tag("10.199.1.1:5000/rhodry/kafka:7.1.1@sha256:ae37d1d04c378240f458c58e"),
            "7.1.1",
            "a Swarm task's image: the service's tag, pinned to a digest"
        );
        assert_eq!(
            image_tag("kafka@sha256:0123456789abcdef0123"),
            "0123456789ab"
        );
    }

    #[test]
    fn an_image_pinned_to_a_digest_is_the_image_its_tag_names() {
        let table = [
            ("r:5000/kafka:7.7.1", "r:5000/kafka:7.7.1", true),
            ("r:5000/kafka:7.7.1@sha256:ab12", "r:5000/kafka:7.7.1", true),
            (
                "r:5000/kafka:7.7.10@sha256:ab12",
                "r:5000/kafka:7.7.1",
                false,
            ),
            (
                "r:5000/kafka:7.7.1",
                "r:5000/kafka:7.7.1@sha256:ab12",
                false,
            ),
            (
                "r:5000/kafka:7.7.1@sha256:cd34",
                "r:5000/kafka:7.7.1@sha256:ab12",
                false,
            ),
            ("r:5000/kafka:7.1.1", "r:5000/kafka:7.7.1", false),
            // A target resolved to its digest, run under the tag it was pushed as.
            (
                "r:5000/kafka:latest@sha256:ab12",
                "r:5000/kafka@sha256:ab12",
                true,
            ),
            ("r:5000/kafka@sha256:ab12", "r:5000/kafka@sha256:ab12", true),
            (
                "r:5000/zookeeper@sha256:ab12",
                "r:5000/kafka@sha256:ab12",
                false,
            ),
            ("r:5000/kafka:latest", "r:5000/kafka@sha256:ab12", false),
        ];
        for (running, wanted, same) in table {
            assert_eq!(runs_image(running, wanted), same, "{running} runs {wanted}");
        }
        for (image, repository) in [
            ("r:5000/bi/kafka:7.1.1@sha256:ab", "r:5000/bi/kafka"),
            ("r:5000/kafka", "r:5000/kafka"),
            ("kafka:7.1.1", "kafka"),
            ("kafka@sha256:ab", "kafka"),
        ] {
            assert_eq!(image_repository(image), repository);
        }
    }

    #[test]
    fn an_images_version_is_read_from_its_labels() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        for (given, want) in [
            (
                labels(&[("io.confluent.docker", "true"), ("release", "7.1.1")]),
                Some("7.1.1"),
            ),
            // `release` alone is not Confluent's word for the platform version.
            (labels(&[("release", "7.1.1")]), None),
            (
                labels(&[("org.opencontainers.image.version", "7.7.1")]),
                Some("7.7.1"),
            ),
            (
                labels(&[
                    ("io.confluent.docker", "true"),
                    ("release", "7.7.1"),
                    ("org.opencontainers.image.version", "x"),
                ]),
                Some("7.7.1"),
            ),
            (
                labels(&[("io.confluent.docker", "true"), ("release", "")]),
                None,
            ),
            (labels(&[]), None),
        ] {
            assert_eq!(labelled_version(&given), want, "{given:?}");
        }
    }

    #[test]
    fn paths_are_matched_by_whole_components() {
        assert!(path_is_under(
            "/var/lib/docker/volumes/x",
            "/var/lib/docker"
        ));
        assert!(path_is_under("/var/lib/docker", "/var/lib/docker/"));
        assert!(!path_is_under("/var/lib/dockerfoo", "/var/lib/docker"));
        assert!(path_is_under("/anything", "/"));
    }

    #[test]
    fn disk_for_path_picks_the_deepest_mount() {
        let disk = |m: &str| Disk {
            mount_point: m.into(),
            filesystem: "ext4".into(),
            device: "d".into(),
            total_bytes: 100,
            available_bytes: 40,
        };
        let state = NodeState {
            agent: AgentInfo {
                node: "n".into(),
                version: "v".into(),
                docker_version: String::new(),
                docker_api_version: String::new(),
                started_at_unix_ms: 0,
            },
            host: Host {
                hostname: "h".into(),
                uptime_seconds: 0,
                cpu_count: 1,
                cpu_usage_percent: 0.0,
                memory_total_bytes: 0,
                memory_available_bytes: 0,
                load_average: [0.0; 3],
                kernel_version: String::new(),
                os: String::new(),
            },
            disks: vec![disk("/"), disk("/data"), disk("/data/kafka")],
            containers: vec![],
            observed_at_unix_ms: 0,
        };
        let found = |p: &str| state.disk_for_path(p).map(|d| d.mount_point.as_str());
        assert_eq!(found("/data/kafka/x"), Some("/data/kafka"));
        assert_eq!(found("/data/zookeeper"), Some("/data"));
        assert_eq!(found("/etc"), Some("/"));
        assert!((state.disks[0].available_percent() - 40.0).abs() < f64::EPSILON);
    }
}
