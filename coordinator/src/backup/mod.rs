//! Backups of every connector and every schema before kroll changes anything, and their restore.
//!
//! A backup is a directory of JSON files, each written atomically (temporary file, fsync,
//! rename, fsync of the directory): `connectors.json` (every connector's config, type, status
//! and target state), `registry.json` (the global compatibility and, per subject, its own
//! compatibility and every version — soft-deleted ones included, marked — with id, schema, type
//! and references), and last `manifest.json`, which lists the other files with their SHA-256:
//! a directory without a manifest is not a backup, and a file whose digest differs is refused.
//!
//! [`restore`] puts back what it can and reports precisely what it could not: connectors are
//! recreated or their configs restored (never deleted); schemas are registered again in id
//! order, and where the registry gives a different version number or id (Schema Registry only
//! preserves them through IMPORT mode, which the lab's registry does not have) the report says so.
//!
//! # Layout
//! - `mod.rs`: the backup's types, errors and file format.
//! - `load.rs`: reading a backup back, every file checked against the manifest's digest (the
//!   files are written through [`crate::files`]).
//! - `take.rs`: [`backup`].
//! - `restore.rs`: [`restore`] and its report; `restore_registry.rs`: the schema half.

mod load;
mod restore;
mod restore_registry;
mod take;

use std::path::PathBuf;

use kroll_migrate::Config;
use serde::{Deserialize, Serialize};

use crate::connect::{ConnectorStatus, ConnectorType, TargetState};
use crate::files::FileError;
use crate::registry::SchemaVersion;
use crate::rest::RestError;

pub use crate::files::FileEntry;
pub use load::load;
pub use restore::{ConnectorAction, ConnectorRestore, RestoreOptions, RestoreReport, restore};
pub use restore_registry::{RegistryRestore, SubjectRestore, VersionOutcome, VersionRestore};
pub use take::backup;

/// The version of the backup format.
pub const FORMAT: u32 = 1;

/// The manifest: what the backup holds, from where, and the digests of its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    pub format: u32,
    pub created_unix_ms: i64,
    pub kroll_version: String,
    /// Every Connect worker and the version it answered with (or why it did not).
    pub connect_workers: Vec<WorkerVersion>,
    pub registry_url: String,
    pub connectors: usize,
    pub subjects: usize,
    /// Schema versions, soft-deleted ones included.
    pub versions: usize,
    pub files: Vec<FileEntry>,
}

/// A worker as the backup saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerVersion {
    pub worker: String,
    pub url: String,
    pub version: Result<String, String>,
}

/// One file of the backup.
/// One connector as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorBackup {
    pub name: String,
    pub kind: ConnectorType,
    pub config: Config,
    /// Running, paused or stopped (what a recreated connector is put back into).
    pub target: TargetState,
    pub status: ConnectorStatus,
}

/// One subject as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectBackup {
    pub subject: String,
    /// Its own compatibility level (`None`: it follows the global one).
    pub compatibility: Option<String>,
    /// Every version in version order, soft-deleted ones marked.
    pub versions: Vec<SchemaVersion>,
}

/// The registry as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryBackup {
    pub global_compatibility: String,
    pub subjects: Vec<SubjectBackup>,
}

/// A backup read back from its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub manifest: BackupManifest,
    pub connectors: Vec<ConnectorBackup>,
    pub registry: RegistryBackup,
}

/// Why a backup could not be taken, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The directory already holds a backup; kroll never overwrites one.
    #[error(
        "{0} already holds a backup (manifest.json); choose another directory — kroll never overwrites a backup"
    )]
    Exists(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that is not what the manifest says it is.
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Connect or Schema Registry failed.
    #[error(transparent)]
    Rest(#[from] RestError),
}

#[cfg(test)]
mod tests;

impl From<FileError> for BackupError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io { path, source } => Self::Io { path, source },
            FileError::Corrupt { path, reason } => Self::Corrupt { path, reason },
        }
    }
}
