//! Opening a file inside a container's root without following anything the
//! container planted.
//!
//! The path is resolved relative to a root directory fd with `openat2(2)`
//! (`RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`), or, when
//! the kernel or a seccomp filter lacks it (`ENOSYS` / `EPERM`), one component
//! at a time with `O_PATH | O_NOFOLLOW` and `fstat` (never `..`). The final
//! file is first opened `O_PATH` — which has no side effects, unlike opening a
//! planted FIFO or device (`/dev/watchdog`) — checked to be a regular,
//! single-link file under the size cap, and only then reopened for reading
//! through `/proc/self/fd`, which reopens the very same inode.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Default read cap: hsperfdata is 32 KiB unless `-XX:PerfDataMemorySize` says otherwise.
pub const DEFAULT_SIZE_CAP: u64 = 1 << 20;

/// How to resolve the path under the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolve {
    /// `openat2`, falling back to [`Resolve::PerComponent`] once it is missing.
    #[default]
    Auto,
    /// `openat2` only.
    Openat2,
    /// `O_PATH | O_NOFOLLOW` per component.
    PerComponent,
}

/// Why a file under a root was not read.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No such file or directory.
    #[error("{path}: not found")]
    NotFound {
        /// The path, relative to the root.
        path: PathBuf,
    },
    /// A symlink (or `..`) on the way was refused.
    #[error("{path}: refused a symlink or `..` on the way")]
    Symlink {
        /// The path, relative to the root.
        path: PathBuf,
    },
    /// The file is not a regular file, or a directory on the way is not a directory.
    #[error("{path}: not a regular file ({kind})")]
    NotRegular {
        /// The path, relative to the root.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file has more than one hard link.
    #[error("{path}: refused a file with {links} hard links")]
    HardLinked {
        /// The path, relative to the root.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// The file is larger than the cap.
    #[error("{path}: {size} bytes is over the {cap}-byte cap")]
    TooLarge {
        /// The path, relative to the root.
        path: PathBuf,
        /// Its size (or the bytes read so far).
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// Permission denied.
    #[error("{path}: permission denied")]
    Permission {
        /// The path, relative to the root.
        path: PathBuf,
    },
    /// Any other I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The path, relative to the root.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl AccessError {
    pub(crate) fn from_errno(path: &Path, e: Errno) -> AccessError {
        let path = path.to_path_buf();
        match e {
            Errno::NOENT => AccessError::NotFound { path },
            Errno::LOOP | Errno::XDEV => AccessError::Symlink { path },
            Errno::NOTDIR => AccessError::NotRegular {
                path,
                kind: "not a directory",
            },
            Errno::ACCESS | Errno::PERM => AccessError::Permission { path },
            other => AccessError::Io {
                path,
                source: other.into(),
            },
        }
    }
}

/// Set once `openat2` turned out to be missing, so later calls skip it.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens `root` itself (following it: `/proc/<pid>/root` is a magic link the
/// caller chose) as an `O_PATH` directory fd.
pub fn open_root(root: &Path) -> Result<OwnedFd, AccessError> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open(root, flags, Mode::empty()).map_err(|e| AccessError::from_errno(root, e))
}

/// Opens `rel` under `root` as an `O_PATH` fd, refusing symlinks anywhere.
pub fn open_path_in(
    root: BorrowedFd<'_>,
    rel: &Path,
    how: Resolve,
) -> Result<OwnedFd, AccessError> {
    let try_openat2 = match how {
        Resolve::Auto => !NO_OPENAT2.load(Ordering::Relaxed),
        Resolve::Openat2 => true,
        Resolve::PerComponent => false,
    };
    if try_openat2 {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let resolve =
            ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(root, rel, flags, Mode::empty(), resolve) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOSYS | Errno::PERM) if how == Resolve::Auto => {
                NO_OPENAT2.store(true, Ordering::Relaxed);
            }
            Err(e) => return Err(AccessError::from_errno(rel, e)),
        }
    }
    open_per_component(root, rel)
}

/// The fallback: one `O_PATH | O_NOFOLLOW` open per component, each checked
/// with `fstat`; `..`, absolute paths and symlinks are refused.
fn open_per_component(root: BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd, AccessError> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut current: Option<OwnedFd> = None;
    let mut components = rel
        .components()
        .filter(|c| *c != Component::CurDir)
        .peekable();
    while let Some(component) = components.next() {
        let Component::Normal(name) = component else {
            return Err(AccessError::Symlink {
                path: rel.to_path_buf(),
            });
        };
        let dir = current.as_ref().map_or(root, |fd| fd.as_fd());
        let fd = rustix::fs::openat(dir, name, flags, Mode::empty())
            .map_err(|e| AccessError::from_errno(rel, e))?;
        let kind = file_type(&fd, rel)?;
        if kind == FileType::Symlink {
            return Err(AccessError::Symlink {
                path: rel.to_path_buf(),
            });
        }
        if components.peek().is_some() && kind != FileType::Directory {
            return Err(AccessError::NotRegular {
                path: rel.to_path_buf(),
                kind: "not a directory",
            });
        }
        current = Some(fd);
    }
    current.ok_or_else(|| AccessError::NotFound {
        path: rel.to_path_buf(),
    })
}

fn file_type(fd: &OwnedFd, rel: &Path) -> Result<FileType, AccessError> {
    let st = rustix::fs::fstat(fd).map_err(|e| AccessError::from_errno(rel, e))?;
    Ok(FileType::from_raw_mode(st.st_mode))
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Unknown => "unknown",
    }
}

/// Reads `rel` under the root fd into `buf` (cleared first): a regular file
/// with one link and at most `cap` bytes. Returns the `O_PATH` fd's
/// `(st_dev, st_ino, st_uid)` for callers that compare files.
pub fn read_in_root_fd(
    root: BorrowedFd<'_>,
    rel: &Path,
    how: Resolve,
    cap: u64,
    buf: &mut Vec<u8>,
) -> Result<FileId, AccessError> {
    let fd = open_path_in(root, rel, how)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| AccessError::from_errno(rel, e))?;
    let kind = FileType::from_raw_mode(st.st_mode);
    let path = || rel.to_path_buf();
    if kind == FileType::Symlink {
        return Err(AccessError::Symlink { path: path() });
    }
    if kind != FileType::RegularFile {
        return Err(AccessError::NotRegular {
            path: path(),
            kind: kind_name(kind),
        });
    }
    #[allow(clippy::useless_conversion)] // `nlink_t` is u32 on some targets.
    let links = u64::from(st.st_nlink);
    if links != 1 {
        return Err(AccessError::HardLinked {
            path: path(),
            links,
        });
    }
    let size = u64::try_from(st.st_size).unwrap_or(u64::MAX);
    if size > cap {
        return Err(AccessError::TooLarge {
            path: path(),
            size,
            cap,
        });
    }
    read_reopened(&fd, rel, size, cap, buf)?;
    Ok(FileId {
        dev: st.st_dev,
        ino: st.st_ino,
        uid: st.st_uid,
    })
}

/// Device, inode and owner of a file that was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_uid`.
    pub uid: u32,
}

/// Reopens an `O_PATH` fd for reading via `/proc/self/fd/<n>` and reads at
/// most `cap` bytes (one more byte is an error: the file grew past the cap).
/// `size_hint` (from `fstat`) sizes the buffer so one `read` usually suffices.
fn read_reopened(
    fd: &OwnedFd,
    rel: &Path,
    size_hint: u64,
    cap: u64,
    buf: &mut Vec<u8>,
) -> Result<(), AccessError> {
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let file = rustix::fs::open(proc_path.as_str(), flags, Mode::empty())
        .map_err(|e| AccessError::from_errno(rel, e))?;
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let limit = cap.saturating_add(1);
    let mut filled = 0;
    buf.clear();
    buf.resize(
        usize::try_from(size_hint)
            .unwrap_or(cap)
            .min(cap)
            .saturating_add(1),
        0,
    );
    loop {
        if filled == buf.len() {
            if buf.len() >= limit {
                break;
            }
            buf.resize(buf.len().saturating_mul(2).clamp(4096, limit), 0);
        }
        match rustix::io::read(&file, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::INTR) => {}
            Err(e) => {
                buf.clear();
                return Err(AccessError::from_errno(rel, e));
            }
        }
    }
    buf.truncate(filled);
    if filled > cap {
        let size = filled as u64;
        buf.clear();
        return Err(AccessError::TooLarge {
            path: rel.to_path_buf(),
            size,
            cap: cap as u64,
        });
    }
    Ok(())
}

/// Reads `rel` under the directory `root` (see [`read_in_root_fd`]).
pub fn read_in_root(
    root: &Path,
    rel: &Path,
    how: Resolve,
    cap: u64,
    buf: &mut Vec<u8>,
) -> Result<FileId, AccessError> {
    let root_fd = open_root(root)?;
    read_in_root_fd(root_fd.as_fd(), rel, how, cap, buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_with_file(content: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp/hsperfdata_x")).unwrap();
        std::fs::write(dir.path().join("tmp/hsperfdata_x/1"), content).unwrap();
        dir
    }

    const MODES: [Resolve; 3] = [Resolve::Auto, Resolve::Openat2, Resolve::PerComponent];

    #[test]
    fn reads_a_regular_file_in_every_mode() {
        let dir = root_with_file(b"hello");
        for how in MODES {
            let mut buf = Vec::new();
            read_in_root(
                dir.path(),
                Path::new("tmp/hsperfdata_x/1"),
                how,
                64,
                &mut buf,
            )
            .unwrap();
            assert_eq!(buf, b"hello", "{how:?}");
        }
    }

    #[test]
    fn dotdot_and_absolute_symlinks_stay_inside_or_are_refused() {
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), b"secret").unwrap();
        let dir = root_with_file(b"x");
        let link = dir.path().join("tmp/hsperfdata_x/2");
        symlink(outside.path(), &link).unwrap();
        for how in MODES {
            for rel in [
                "tmp/hsperfdata_x/2",
                "tmp/../../../../etc/hostname",
                "/etc/hostname",
            ] {
                let mut buf = Vec::new();
                let res = read_in_root(dir.path(), Path::new(rel), how, 64, &mut buf);
                assert!(res.is_err(), "{how:?} {rel} read {buf:?}");
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn too_large_is_refused_before_reading() {
        let dir = root_with_file(&[7u8; 100]);
        let mut buf = Vec::new();
        let res = read_in_root(
            dir.path(),
            Path::new("tmp/hsperfdata_x/1"),
            Resolve::Auto,
            99,
            &mut buf,
        );
        assert!(
            matches!(
                res,
                Err(AccessError::TooLarge {
                    size: 100,
                    cap: 99,
                    ..
                })
            ),
            "{res:?}"
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn hard_linked_files_are_refused() {
        let dir = root_with_file(b"x");
        std::fs::hard_link(
            dir.path().join("tmp/hsperfdata_x/1"),
            dir.path().join("tmp/other"),
        )
        .unwrap();
        let mut buf = Vec::new();
        let res = read_in_root(
            dir.path(),
            Path::new("tmp/hsperfdata_x/1"),
            Resolve::Auto,
            99,
            &mut buf,
        );
        assert!(
            matches!(res, Err(AccessError::HardLinked { links: 2, .. })),
            "{res:?}"
        );
    }
}
