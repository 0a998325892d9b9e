//! Finding `tmp/hsperfdata_<user>/<nspid>` under a (container) root.
//!
//! The JVM always writes to `/tmp/hsperfdata_<user>/<pid>`, whatever
//! `java.io.tmpdir` says. The user is not known from outside, so `tmp` is
//! listed and each `hsperfdata_*` directory is tried; the file owned by the
//! process's uid wins, then the first one found. Every open goes through
//! [`crate::safe_open`], so nothing planted under the root is followed.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

use crate::safe_open::{AccessError, Resolve, open_path_in};

/// A located hsperfdata file, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `tmp/hsperfdata_<user>/<nspid>`.
    pub rel: PathBuf,
    /// The file's owner uid.
    pub uid: u32,
}

/// Opens the directory `rel` under `root` for listing (after the same
/// no-symlink resolution as files).
fn open_dir_in(root: BorrowedFd<'_>, rel: &Path, how: Resolve) -> Result<OwnedFd, AccessError> {
    use std::os::fd::AsRawFd;
    let fd = open_path_in(root, rel, how)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| AccessError::from_errno(rel, e))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {}
        FileType::Symlink => {
            return Err(AccessError::Symlink {
                path: rel.to_path_buf(),
            });
        }
        _ => {
            return Err(AccessError::NotRegular {
                path: rel.to_path_buf(),
                kind: "not a directory",
            });
        }
    }
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    rustix::fs::open(proc_path.as_str(), flags, Mode::empty())
        .map_err(|e| AccessError::from_errno(rel, e))
}

/// `(st_dev, st_ino)` of `tmp` under `root`, without following symlinks.
pub fn tmp_identity(root: BorrowedFd<'_>, how: Resolve) -> Result<(u64, u64), AccessError> {
    let rel = Path::new("tmp");
    let fd = open_path_in(root, rel, how)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| AccessError::from_errno(rel, e))?;
    Ok((st.st_dev, st.st_ino))
}

/// `true` when `tmp` under `root` is the same directory as this process's `/tmp`.
pub fn is_host_tmp(root: BorrowedFd<'_>, how: Resolve) -> bool {
    let ours = rustix::fs::stat("/tmp")
        .ok()
        .map(|st| (st.st_dev, st.st_ino));
    ours.is_some() && tmp_identity(root, how).ok() == ours
}

/// Finds the hsperfdata file of `nspid` under `root`, preferring one owned by
/// `uid`. `NotFound` when no `hsperfdata_*` directory has it; when the only
/// candidates were refused (symlink, FIFO, …) that refusal is returned.
pub fn find_in_root(
    root: BorrowedFd<'_>,
    nspid: u32,
    uid: Option<u32>,
    how: Resolve,
) -> Result<Location, AccessError> {
    let tmp = open_dir_in(root, Path::new("tmp"), how)?;
    let dir = rustix::fs::Dir::read_from(&tmp)
        .map_err(|e| AccessError::from_errno(Path::new("tmp"), e))?;
    let file = nspid.to_string();
    let mut best: Option<Location> = None;
    let mut refused: Option<AccessError> = None;
    for entry in dir.take(100_000) {
        let Ok(entry) = entry else { break };
        let name = entry.file_name().to_bytes();
        let Some(user) = name
            .strip_prefix(b"hsperfdata_")
            .and_then(|u| std::str::from_utf8(u).ok())
        else {
            continue;
        };
        let rel = Path::new("tmp")
            .join(format!("hsperfdata_{user}"))
            .join(&file);
        match candidate(root.as_fd(), &rel, how) {
            Ok(found) if Some(found.uid) == uid => return Ok(found),
            Ok(found) => best = best.or(Some(found)),
            Err(AccessError::NotFound { .. }) => {}
            Err(e) => refused = refused.or(Some(e)),
        }
    }
    best.ok_or_else(|| {
        refused.unwrap_or(AccessError::NotFound {
            path: PathBuf::from("tmp/hsperfdata_*").join(file),
        })
    })
}

/// Checks one candidate path: it must open without symlinks and be a
/// regular file.
fn candidate(root: BorrowedFd<'_>, rel: &Path, how: Resolve) -> Result<Location, AccessError> {
    let fd = open_path_in(root, rel, how)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| AccessError::from_errno(rel, e))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Ok(Location {
            rel: rel.to_path_buf(),
            uid: st.st_uid,
        }),
        FileType::Symlink => Err(AccessError::Symlink {
            path: rel.to_path_buf(),
        }),
        _ => Err(AccessError::NotRegular {
            path: rel.to_path_buf(),
            kind: "not a regular file",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safe_open::open_root;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn finds_the_file_and_prefers_the_process_owner() {
        let dir = tempfile::tempdir().unwrap();
        for user in ["a", "b"] {
            let d = dir.path().join(format!("tmp/hsperfdata_{user}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("1"), b"x").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("tmp/unrelated")).unwrap();
        let root = open_root(dir.path()).unwrap();
        let uid = std::fs::metadata(dir.path().join("tmp/hsperfdata_b/1"))
            .unwrap()
            .uid();
        let loc = find_in_root(root.as_fd(), 1, Some(uid), Resolve::Auto).unwrap();
        assert!(loc.rel.starts_with("tmp"), "{loc:?}");
        assert_eq!(loc.uid, uid);
        let err = find_in_root(root.as_fd(), 2, Some(uid), Resolve::Auto).unwrap_err();
        assert!(matches!(err, AccessError::NotFound { .. }), "{err}");
    }

    #[test]
    fn a_refused_candidate_is_reported_instead_of_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("tmp/hsperfdata_x");
        std::fs::create_dir_all(&d).unwrap();
        symlink("/etc/hostname", d.join("1")).unwrap();
        std::fs::set_permissions(
            dir.path().join("tmp"),
            std::fs::Permissions::from_mode(0o1777),
        )
        .unwrap();
        let root = open_root(dir.path()).unwrap();
        for how in [Resolve::Openat2, Resolve::PerComponent] {
            let err = find_in_root(root.as_fd(), 1, None, how).unwrap_err();
            assert!(matches!(err, AccessError::Symlink { .. }), "{how:?}: {err}");
        }
    }

    #[test]
    fn host_tmp_is_recognised() {
        let host = open_root(Path::new("/")).unwrap();
        assert!(is_host_tmp(host.as_fd(), Resolve::Auto));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        let fake = open_root(dir.path()).unwrap();
        assert!(!is_host_tmp(fake.as_fd(), Resolve::Auto));
    }
}
