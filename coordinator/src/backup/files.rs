//! Atomic JSON files, and reading a backup back with its digests checked.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backup::{Backup, BackupError, BackupManifest, FORMAT, FileEntry};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `value` as pretty JSON to `dir/name` atomically: a temporary file, fsync, rename,
/// fsync of the directory. A reader sees the old file or the whole new one, never a part.
pub fn write_json_atomic(
    dir: &Path,
    name: &str,
    value: &impl Serialize,
) -> Result<FileEntry, BackupError> {
    let path = dir.join(name);
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| BackupError::Corrupt {
        path: path.clone(),
        reason: format!("cannot serialize: {e}"),
    })?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(&bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io(&path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(FileEntry {
        name: name.to_owned(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
    })
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
    fn atomic_files_leave_no_temporary_and_report_their_digest() {
        let dir = tempfile::tempdir().expect("tmp");
        let entry =
            write_json_atomic(dir.path(), "x.json", &serde_json::json!({"a": 1})).expect("write");
        assert_eq!(
            entry.sha256,
            sha256_hex(&fs::read(dir.path().join("x.json")).expect("read"))
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec!["x.json"]);
    }

    #[test]
    fn a_directory_without_a_manifest_is_not_a_backup() {
        let dir = tempfile::tempdir().expect("tmp");
        let err = load(dir.path()).expect_err("no manifest");
        assert!(err.to_string().contains("manifest.json"), "{err}");
    }
}
