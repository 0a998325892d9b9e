//! Reading a backup back with its digests checked.

use std::fs;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::backup::{Backup, BackupError, BackupManifest, FORMAT};
use crate::files::sha256_hex;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, BackupError> {
    serde_json::from_slice(bytes).map_err(|e| BackupError::Corrupt {
        path: path.to_owned(),
        reason: format!("not a kroll backup file: {e}"),
    })
}

/// Reads a file of the backup and checks it against its manifest entry.
fn read_checked<T: DeserializeOwned>(
    dir: &Path,
    manifest: &BackupManifest,
    name: &str,
) -> Result<T, BackupError> {
    let path = dir.join(name);
    let entry = manifest
        .files
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| BackupError::Corrupt {
            path: path.clone(),
            reason: "not listed in manifest.json".into(),
        })?;
    let bytes = fs::read(&path).map_err(io(&path))?;
    let actual = sha256_hex(&bytes);
    if actual != entry.sha256 {
        return Err(BackupError::Corrupt {
            path,
            reason: format!(
                "SHA-256 {actual} differs from the manifest's {} — the file changed after the backup",
                entry.sha256
            ),
        });
    }
    read_json(&path, &bytes)
}

/// Reads the backup in `dir`, checking the format and every file's digest.
pub fn load(dir: &Path) -> Result<Backup, BackupError> {
    let path = dir.join("manifest.json");
    let bytes = fs::read(&path).map_err(|source| BackupError::Io {
        path: path.clone(),
        source,
    })?;
    let manifest: BackupManifest = read_json(&path, &bytes)?;
    if manifest.format != FORMAT {
        return Err(BackupError::Corrupt {
            path,
            reason: format!(
                "backup format {} is not the format {FORMAT} this kroll reads",
                manifest.format
            ),
        });
    }
    let connectors = read_checked(dir, &manifest, "connectors.json")?;
    let registry = read_checked(dir, &manifest, "registry.json")?;
    Ok(Backup {
        manifest,
        connectors,
        registry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_a_manifest_is_not_a_backup() {
        let dir = tempfile::tempdir().expect("tmp");
        let err = load(dir.path()).expect_err("no manifest");
        assert!(err.to_string().contains("manifest.json"), "{err}");
    }
}
