//! Taking a backup.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{StreamExt as _, TryStreamExt as _, stream};

use crate::backup::{
    BackupError, BackupManifest, ConnectorBackup, FORMAT, RegistryBackup, SubjectBackup,
    WorkerVersion,
};
use crate::connect::ConnectApi;
use crate::files::write_json_atomic;
use crate::progress::Progress;
use crate::registry::RegistryApi;
use crate::rest::RestError;

/// How many subjects are read at once.
const CONCURRENCY: usize = 16;

/// Versions of a subject; a subject without any (deleted meanwhile) has none.
async fn versions_or_none(
    registry: &impl RegistryApi,
    subject: &str,
    deleted: bool,
) -> Result<Vec<i32>, RestError> {
    match registry.versions(subject, deleted).await {
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        other => other,
    }
}

/// Every version of `subject`, soft-deleted ones included and marked, and its own level.
async fn backup_subject(
    registry: &impl RegistryApi,
    subject: String,
) -> Result<SubjectBackup, RestError> {
    let all = versions_or_none(registry, &subject, true).await?;
    let live: BTreeSet<i32> = versions_or_none(registry, &subject, false)
        .await?
        .into_iter()
        .collect();
    let mut versions = Vec::with_capacity(all.len());
    for v in all {
        let deleted = !live.contains(&v);
        let mut version = registry.version(&subject, v, deleted).await?;
        version.deleted = deleted;
        versions.push(version);
    }
    versions.sort_by_key(|v| v.version);
    let compatibility = registry.subject_compatibility(&subject).await?;
    Ok(SubjectBackup {
        subject,
        compatibility,
        versions,
    })
}

/// Reads the whole registry.
pub(crate) async fn read_registry(
    registry: &impl RegistryApi,
    progress: Progress<'_>,
) -> Result<RegistryBackup, RestError> {
    let global_compatibility = registry.global_compatibility().await?;
    let names = registry.subjects(true).await?;
    let total = names.len();
    let done = AtomicUsize::new(0);
    let mut subjects: Vec<SubjectBackup> = stream::iter(names)
        .map(|s| backup_subject(registry, s))
        .buffer_unordered(CONCURRENCY)
        .inspect_ok(|_| {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(250) && n < total {
                progress(&format!("Read {n} of {total} subjects…"));
            }
        })
        .try_collect()
        .await?;
    subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
    progress(&format!("Read {total} subject(s) from Schema Registry."));
    Ok(RegistryBackup {
        global_compatibility,
        subjects,
    })
}

/// Backs up every connector (config, type, status, target state) and every schema version of
/// every subject (with the global and per-subject compatibility) into `dir`, which must not
/// already hold a backup. Returns the manifest, written last.
pub async fn backup(
    connect: &impl ConnectApi,
    registry: &impl RegistryApi,
    dir: &Path,
    progress: Progress<'_>,
) -> Result<BackupManifest, BackupError> {
    if dir.join("manifest.json").exists() {
        return Err(BackupError::Exists(dir.to_owned()));
    }
    fs::create_dir_all(dir).map_err(|source| BackupError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let workers = connect.workers().await;
    let connectors: Vec<ConnectorBackup> = connect
        .connectors()
        .await?
        .into_values()
        .map(|c| ConnectorBackup {
            target: c.status.target(),
            name: c.name,
            kind: c.kind,
            config: c.config,
            status: c.status,
        })
        .collect();
    progress(&format!(
        "Read {} connector(s) from Connect.",
        connectors.len()
    ));
    let registry_backup = read_registry(registry, progress).await?;
    let files = vec![
        write_json_atomic(dir, "connectors.json", &connectors)?,
        write_json_atomic(dir, "registry.json", &registry_backup)?,
    ];
    let manifest = BackupManifest {
        format: FORMAT,
        created_unix_ms: kroll_shared::time::now_unix_ms(),
        kroll_version: env!("CARGO_PKG_VERSION").to_owned(),
        connect_workers: workers
            .into_iter()
            .map(|w| WorkerVersion {
                worker: w.worker,
                url: w.url,
                version: w.info.map(|i| i.version),
            })
            .collect(),
        registry_url: registry.url().to_owned(),
        connectors: connectors.len(),
        subjects: registry_backup.subjects.len(),
        versions: registry_backup
            .subjects
            .iter()
            .map(|s| s.versions.len())
            .sum(),
        files,
    };
    let entry = write_json_atomic(dir, "manifest.json", &manifest)?;
    tracing::info!(dir = %dir.display(), bytes = entry.bytes, "Backup written.");
    Ok(manifest)
}
