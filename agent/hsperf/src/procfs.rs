//! What `/proc` says about a process: state, namespace pid, owner, command
//! line, pid namespace, and which processes of a container are JVMs.
//!
//! Every function takes the proc mount as a [`Proc`] so tests can point it at
//! a fake tree. These files are written by the kernel, not the container,
//! except `cmdline` and `comm`, which are only compared, never trusted as paths.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A proc mount (normally `/proc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    root: PathBuf,
}

/// The fields of `/proc/<pid>/status` this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStatus {
    /// `State:` letter (`R`, `S`, `Z`, …).
    pub state: char,
    /// Last `NSpid:` value: the pid inside the process's own pid namespace
    /// (the pid in the hsperfdata file name); the host pid on kernels
    /// without `NSpid`.
    pub nspid: u32,
    /// Real uid (`Uid:` first field), as the host sees it.
    pub uid: u32,
}

impl ProcStatus {
    /// Parses the text of a status file; `pid` stands in for a missing `NSpid`.
    pub fn parse(text: &str, pid: u32) -> Option<ProcStatus> {
        let (mut state, mut nspid, mut uid) = (None, None, None);
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let mut fields = value.split_whitespace();
            match key {
                "State" => state = fields.next().and_then(|s| s.chars().next()),
                "NSpid" => nspid = fields.next_back().and_then(|v| v.parse().ok()),
                "Uid" => uid = fields.next().and_then(|v| v.parse().ok()),
                _ => {}
            }
        }
        Some(ProcStatus {
            state: state?,
            nspid: nspid.unwrap_or(pid),
            uid: uid?,
        })
    }

    /// Neither a zombie (`Z`) nor dead (`X`/`x`).
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

impl Default for Proc {
    fn default() -> Self {
        Proc::host()
    }
}

impl Proc {
    /// The host's `/proc`.
    pub fn host() -> Proc {
        Proc {
            root: PathBuf::from("/proc"),
        }
    }

    /// A proc tree at another path (tests).
    pub fn at(root: impl Into<PathBuf>) -> Proc {
        Proc { root: root.into() }
    }

    /// `<proc>/<pid>`.
    pub fn pid_dir(&self, pid: u32) -> PathBuf {
        self.root.join(pid.to_string())
    }

    /// `<proc>/<pid>/root`: the process's root directory (a magic link).
    pub fn root_dir(&self, pid: u32) -> PathBuf {
        self.pid_dir(pid).join("root")
    }

    /// Reads and parses `<proc>/<pid>/status`.
    pub fn status(&self, pid: u32) -> io::Result<ProcStatus> {
        let text = std::fs::read_to_string(self.pid_dir(pid).join("status"))?;
        ProcStatus::parse(&text, pid).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "status without State or Uid")
        })
    }

    /// The arguments in `<proc>/<pid>/cmdline` (lossy UTF-8).
    pub fn cmdline(&self, pid: u32) -> io::Result<Vec<String>> {
        let raw = std::fs::read(self.pid_dir(pid).join("cmdline"))?;
        Ok(raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect())
    }

    /// The `/proc/<pid>/ns/pid` link target, e.g. `pid:[4026531836]`.
    pub fn pid_namespace(&self, pid: u32) -> io::Result<PathBuf> {
        std::fs::read_link(self.pid_dir(pid).join("ns/pid"))
    }

    /// Every numeric entry of the proc tree.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let name = entry?.file_name();
            if let Some(pid) = name.to_str().and_then(|n| n.parse().ok()) {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        Ok(pids)
    }

    /// The process runs `java`: its `comm` is `java`, or its `exe` is a file
    /// called `java`.
    pub fn is_java(&self, pid: u32) -> bool {
        let dir = self.pid_dir(pid);
        if let Ok(comm) = std::fs::read(dir.join("comm"))
            && comm.strip_suffix(b"\n").unwrap_or(&comm) == b"java"
        {
            return true;
        }
        std::fs::read_link(dir.join("exe"))
            .is_ok_and(|exe| exe.file_name() == Some(OsStr::from_bytes(b"java")))
    }

    /// The Java processes in the same pid namespace as `main_pid` (a
    /// container's main process), `main_pid` included if it is one.
    ///
    /// Cost: one `readlink` of `ns/pid` for every process on the host, plus a
    /// `comm` read (and maybe an `exe` readlink) for each one in the
    /// namespace: measured ≈ 25 µs per host process (1.8 ms for 77 processes,
    /// `examples/bench.rs`), so tens of milliseconds on a busy host. Call it when a container starts or its process set
    /// changes, not every sample. Processes that vanish meanwhile are skipped.
    pub fn java_processes_in_namespace_of(&self, main_pid: u32) -> io::Result<Vec<u32>> {
        let ns = self.pid_namespace(main_pid)?;
        Ok(self
            .pids()?
            .into_iter()
            .filter(|pid| self.pid_namespace(*pid).is_ok_and(|n| n == ns))
            .filter(|pid| self.is_java(*pid))
            .collect())
    }
}

/// `true` when `path` exists without following a final symlink.
pub(crate) fn exists_no_follow(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const STATUS: &str = "Name:\tjava\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\n\
        Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nNSpid:\t4242\t1\nThreads:\t30\n";

    #[test]
    fn status_takes_the_last_nspid() {
        let s = ProcStatus::parse(STATUS, 4242).unwrap();
        assert_eq!(
            s,
            ProcStatus {
                state: 'S',
                nspid: 1,
                uid: 1000
            }
        );
        assert!(s.is_alive());
        let zombie = STATUS.replace("S (sleeping)", "Z (zombie)");
        assert!(!ProcStatus::parse(&zombie, 4242).unwrap().is_alive());
        let old_kernel = STATUS.replace("NSpid:\t4242\t1\n", "");
        assert_eq!(ProcStatus::parse(&old_kernel, 4242).unwrap().nspid, 4242);
        assert_eq!(ProcStatus::parse("garbage", 1), None);
    }

    fn fake_process(proc: &Path, pid: u32, ns: &str, comm: &str) {
        let dir = proc.join(pid.to_string());
        std::fs::create_dir_all(dir.join("ns")).unwrap();
        symlink(ns, dir.join("ns/pid")).unwrap();
        std::fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
    }

    #[test]
    fn java_processes_share_the_main_pid_namespace() {
        let dir = tempfile::tempdir().unwrap();
        fake_process(dir.path(), 10, "pid:[111]", "bash");
        fake_process(dir.path(), 11, "pid:[111]", "java");
        fake_process(dir.path(), 12, "pid:[222]", "java");
        fake_process(dir.path(), 13, "pid:[111]", "java");
        std::fs::create_dir(dir.path().join("self")).unwrap();
        let proc = Proc::at(dir.path());
        assert_eq!(
            proc.java_processes_in_namespace_of(10).unwrap(),
            vec![11, 13]
        );
        assert_eq!(proc.java_processes_in_namespace_of(12).unwrap(), vec![12]);
        assert!(proc.java_processes_in_namespace_of(99).is_err());
    }

    #[test]
    fn cmdline_splits_on_nul() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("5")).unwrap();
        std::fs::write(
            dir.path().join("5/cmdline"),
            b"java\0-XX:-UsePerfData\0Main\0",
        )
        .unwrap();
        let args = Proc::at(dir.path()).cmdline(5).unwrap();
        assert_eq!(args, ["java", "-XX:-UsePerfData", "Main"]);
    }
}
