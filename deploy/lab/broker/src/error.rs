//! Errors of the lab broker, with the context needed to act on them.

use std::path::PathBuf;

use crate::version::SoftwareVersion;

/// Everything that can stop the broker from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A required setting is missing or malformed.
    #[error("invalid configuration `{key}`: {reason}")]
    Config {
        /// Property or environment variable name.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The software version file is missing or names an unsupported release.
    #[error("{0}")]
    Version(String),
    /// `inter.broker.protocol.version` is unknown to this release (Kafka's own wording).
    #[error(
        "Invalid value {value} for configuration inter.broker.protocol.version: Version {q}{value}{q} is not a valid version{why}",
        q = if software.minor < 2 { "`" } else { "" },
        why = if *newer_than_software { format!(" (the IBP {value} is above this broker's software version {software}: a broker never runs an IBP newer than its own release)") } else { String::new() }
    )]
    Ibp {
        /// The configured value.
        value: String,
        /// The broker's software version.
        software: SoftwareVersion,
        /// Whether the value names a release newer than the broker's.
        newer_than_software: bool,
    },
    /// A file in the log directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The log directory belongs to another broker or cluster.
    #[error("{0}")]
    Storage(String),
    /// ZooKeeper refused or failed an operation.
    #[error("ZooKeeper {op} {path}: {source}")]
    Zk {
        /// Operation.
        op: &'static str,
        /// Znode path (inside the chroot).
        path: String,
        /// The client's error.
        source: zookeeper_client::Error,
    },
    /// The JAAS login configuration is unreadable or malformed.
    #[error("JAAS configuration {} line {line}: {reason}", path.display())]
    Jaas {
        /// The file (`-Djava.security.auth.login.config=` in `KAFKA_OPTS`).
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A listener could not be bound.
    #[error("binding listener {name} on {addr}: {source}")]
    Bind {
        /// Listener name.
        name: String,
        /// Address.
        addr: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl BrokerError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// Wraps a ZooKeeper error with the operation and path.
    pub fn zk(op: &'static str, path: &str) -> impl FnOnce(zookeeper_client::Error) -> Self {
        let path = path.to_string();
        move |source| Self::Zk { op, path, source }
    }
}
