//! Run-directory files: JSON written atomically (with its size and digest) and read back when
//! present. A leaf: the Connect record, the migration, the upgrade's Connect phases and backups
//! all keep their files through it, and it imports nothing of the crate.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A run-directory file that could not be read or written, or is not what it should be.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file whose content is not what it should be.
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// A file written: its name in the directory, its size and its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The error of an I/O call on `path`.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The SHA-256 digest of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates `dir` and its parents if they are missing.
pub fn create_dir_all(dir: &Path) -> Result<(), FileError> {
    fs::create_dir_all(dir).map_err(io(dir))
}

/// Writes `value` as pretty JSON to `dir/name` atomically: a temporary file, fsync, rename,
/// fsync of the directory. A reader sees the old file or the whole new one, never a part.
pub fn write_json_atomic(
    dir: &Path,
    name: &str,
    value: &impl Serialize,
) -> Result<FileEntry, FileError> {
    let path = dir.join(name);
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| FileError::Corrupt {
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

/// Reads the JSON file at `path`: `None` when there is none; a file that does not parse is
/// [`FileError::Corrupt`] with `reason` made from the parser's error.
pub fn read_json_if_present<T: DeserializeOwned>(
    path: &Path,
    reason: impl FnOnce(serde_json::Error) -> String,
) -> Result<Option<T>, FileError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(FileError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| FileError::Corrupt {
            path: path.to_owned(),
            reason: reason(e),
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
    fn a_missing_file_is_none_and_a_bad_one_names_its_path() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("x.json");
        let none: Option<u32> = read_json_if_present(&path, |e| e.to_string()).expect("absent");
        assert_eq!(none, None);
        fs::write(&path, b"{").expect("write");
        let err = read_json_if_present::<u32>(&path, |e| format!("not a number: {e}"))
            .expect_err("corrupt");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}: not a number: ", path.display())),
            "{shown}"
        );
    }
}
