//! Reading a JVM by host pid, and saying why it could not be read.
//!
//! [`read_pid`] is the one-shot form; [`JvmProbe`] is what the agent keeps
//! per JVM and calls once a second: it remembers where the file is, holds a
//! `/proc/<pid>` directory fd (so a recycled pid can never be mistaken for the
//! JVM: lookups through the fd fail once that process is gone), reuses its
//! read buffer, and tracks [`Liveness`].

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use crate::heap::HeapSample;
use crate::liveness::{Liveness, LivenessState};
use crate::locate::{Location, find_in_root, is_host_tmp};
use crate::opts::perf_data_disabled;
use crate::parse::ParseError;
use crate::procfs::{Proc, ProcStatus, exists_no_follow};
use crate::safe_open::{AccessError, DEFAULT_SIZE_CAP, Resolve, open_root, read_in_root_fd};

/// Why a JVM's heap is unknown; printed as `heap unknown: <reason>`.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// The JVM runs without a perf data file.
    #[error("perf data disabled ({flag})")]
    PerfDataDisabled {
        /// The option that disabled it.
        flag: &'static str,
    },
    /// No file, and nothing on the command line explains it (the JVM could
    /// not create it: no passwd entry for its uid, a full or insecure `/tmp`).
    #[error("no hsperfdata file for pid {pid} (pid {nspid} in its namespace)")]
    NoFile {
        /// Host pid.
        pid: u32,
        /// Pid in the file name.
        nspid: u32,
    },
    /// A file exists but its JVM is gone or frozen.
    #[error("stale file: {0}")]
    Stale(StaleReason),
    /// The file or a directory on the way was refused or could not be opened.
    #[error("not accessible: {0}")]
    NotAccessible(#[source] AccessError),
    /// The file is not valid hsperfdata.
    #[error("garbage: {0}")]
    Garbage(#[from] ParseError),
    /// No process with this pid (and no file left behind).
    #[error("process {pid} is not running")]
    NoProcess {
        /// Host pid.
        pid: u32,
    },
    /// The process's `/tmp` is the host's and [`ProbeOptions::skip_host_tmp`] is set.
    #[error("skipped: process {pid} uses the host's /tmp")]
    HostTmp {
        /// Host pid.
        pid: u32,
    },
    /// `/proc` could not be read for this process.
    #[error("/proc/{pid}: {source}")]
    Proc {
        /// Host pid.
        pid: u32,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Why a file is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StaleReason {
    /// The process is dead (or a zombie) but its file remains (SIGKILL).
    #[error("process {pid} is not alive")]
    PidNotAlive {
        /// Host pid.
        pid: u32,
    },
    /// `sun.os.hrt.ticks` has not advanced for this long.
    #[error("JVM ticks have not advanced for {:.1} s", since.as_secs_f64())]
    TicksStalled {
        /// Time since the ticks last moved.
        since: Duration,
    },
}

/// Options for [`read_pid`] and [`JvmProbe`].
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The proc mount.
    pub proc: Proc,
    /// Path resolution method.
    pub resolve: Resolve,
    /// Largest file read, in bytes.
    pub size_cap: u64,
    /// Refuse a process whose `/tmp` is the host's (when host JVMs are read
    /// another way).
    pub skip_host_tmp: bool,
    /// Ticks not advancing for this long make the file stale.
    pub stall_after: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            proc: Proc::host(),
            resolve: Resolve::Auto,
            size_cap: DEFAULT_SIZE_CAP,
            skip_host_tmp: false,
            stall_after: crate::liveness::DEFAULT_STALL_AFTER,
        }
    }
}

fn access(e: AccessError) -> Unreadable {
    Unreadable::NotAccessible(e)
}

/// Classifies a process that is gone: a file it left in the host's `/tmp`
/// makes it [`StaleReason::PidNotAlive`], otherwise [`Unreadable::NoProcess`].
fn gone(pid: u32) -> Unreadable {
    let leftover = std::fs::read_dir("/tmp")
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.file_name().as_encoded_bytes().starts_with(b"hsperfdata_")
                && exists_no_follow(&e.path().join(pid.to_string()))
        });
    if leftover {
        Unreadable::Stale(StaleReason::PidNotAlive { pid })
    } else {
        Unreadable::NoProcess { pid }
    }
}

/// The live status of `pid`, or why there is none.
fn live_status(proc: &Proc, pid: u32) -> Result<ProcStatus, Unreadable> {
    match proc.status(pid) {
        Ok(st) if st.is_alive() => Ok(st),
        Ok(_) => Err(gone(pid)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(gone(pid)),
        Err(source) => Err(Unreadable::Proc { pid, source }),
    }
}

/// Explains a missing file: perf data disabled on the command line, or no file.
fn explain_missing(proc: &Proc, pid: u32, nspid: u32) -> Unreadable {
    let args = proc.cmdline(pid).unwrap_or_default();
    match perf_data_disabled(args.iter().map(String::as_str)) {
        Some(flag) => Unreadable::PerfDataDisabled { flag },
        None => Unreadable::NoFile { pid, nspid },
    }
}

/// Locates the file of `pid` under its root fd.
fn locate(
    opts: &ProbeOptions,
    root: BorrowedFd<'_>,
    pid: u32,
    st: &ProcStatus,
) -> Result<Location, Unreadable> {
    if opts.skip_host_tmp && is_host_tmp(root, opts.resolve) {
        return Err(Unreadable::HostTmp { pid });
    }
    match find_in_root(root, st.nspid, Some(st.uid), opts.resolve) {
        Ok(loc) => Ok(loc),
        Err(AccessError::NotFound { .. }) => Err(explain_missing(&opts.proc, pid, st.nspid)),
        Err(e) => Err(access(e)),
    }
}

/// Reads one sample of the JVM with host pid `pid` (one-shot; see [`JvmProbe`]).
pub fn read_pid(pid: u32, opts: &ProbeOptions) -> Result<HeapSample, Unreadable> {
    let st = live_status(&opts.proc, pid)?;
    let root = match open_root(&opts.proc.root_dir(pid)) {
        Ok(fd) => fd,
        Err(AccessError::NotFound { .. }) => return Err(gone(pid)),
        Err(e) => return Err(access(e)),
    };
    let loc = locate(opts, root.as_fd(), pid, &st)?;
    let mut buf = Vec::new();
    read_in_root_fd(
        root.as_fd(),
        &loc.rel,
        opts.resolve,
        opts.size_cap,
        &mut buf,
    )
    .map_err(access)?;
    Ok(HeapSample::from_bytes(&buf)?)
}

/// Finds and reads the file of namespace pid `nspid` under a root directory
/// (a container's root; a fake one in tests), preferring files owned by
/// `uid`: the core of [`read_pid`], without `/proc`. A missing file is
/// `NotAccessible(NotFound)` here, since there is no command line to explain it.
pub fn read_nspid_in_root(
    root: &Path,
    nspid: u32,
    uid: Option<u32>,
    opts: &ProbeOptions,
) -> Result<HeapSample, Unreadable> {
    let root = open_root(root).map_err(access)?;
    let loc = find_in_root(root.as_fd(), nspid, uid, opts.resolve).map_err(access)?;
    let mut buf = Vec::new();
    read_in_root_fd(
        root.as_fd(),
        &loc.rel,
        opts.resolve,
        opts.size_cap,
        &mut buf,
    )
    .map_err(access)?;
    Ok(HeapSample::from_bytes(&buf)?)
}

/// Reads the file `rel` under a root directory and derives a sample: no
/// search, no `/proc`, no liveness.
pub fn read_file_in_root(
    root: &Path,
    rel: &Path,
    opts: &ProbeOptions,
) -> Result<HeapSample, Unreadable> {
    let mut buf = Vec::new();
    crate::safe_open::read_in_root(root, rel, opts.resolve, opts.size_cap, &mut buf)
        .map_err(access)?;
    Ok(HeapSample::from_bytes(&buf)?)
}

/// Per-JVM state for repeated sampling.
#[derive(Debug)]
pub struct JvmProbe {
    pid: u32,
    opts: ProbeOptions,
    proc_dir: Option<OwnedFd>,
    location: Option<Location>,
    buf: Vec<u8>,
    liveness: Liveness,
}

impl JvmProbe {
    /// A probe for the JVM with host pid `pid`; nothing is opened until the
    /// first [`JvmProbe::sample`].
    pub fn new(pid: u32, opts: ProbeOptions) -> JvmProbe {
        let liveness = Liveness::new(opts.stall_after);
        JvmProbe {
            pid,
            opts,
            proc_dir: None,
            location: None,
            buf: Vec::new(),
            liveness,
        }
    }

    /// The host pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Where the file was found, once it was.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// Takes one sample at `now`. The first call locates the file (lists the
    /// container's `/tmp`); later calls open it directly: a few syscalls, one
    /// read, a parse.
    pub fn sample(&mut self, now: Instant) -> Result<HeapSample, Unreadable> {
        let root = self.open_root()?;
        if self.location.is_none() {
            let st = live_status(&self.opts.proc, self.pid)?;
            self.location = Some(locate(&self.opts, root.as_fd(), self.pid, &st)?);
        }
        let Some(loc) = &self.location else {
            return Err(Unreadable::NoProcess { pid: self.pid });
        };
        let (cap, how) = (self.opts.size_cap, self.opts.resolve);
        if let Err(e) = read_in_root_fd(root.as_fd(), &loc.rel, how, cap, &mut self.buf) {
            self.location = None;
            return Err(access(e));
        }
        let sample = HeapSample::from_bytes(&self.buf)?;
        if let Some(ticks) = sample.hrt_ticks
            && let LivenessState::Stalled { since } = self.liveness.observe(ticks, now)
        {
            return Err(Unreadable::Stale(StaleReason::TicksStalled { since }));
        }
        Ok(sample)
    }

    /// Opens the process's root through the held `/proc/<pid>` fd.
    fn open_root(&mut self) -> Result<OwnedFd, Unreadable> {
        let pid = self.pid;
        if self.proc_dir.is_none() {
            live_status(&self.opts.proc, pid)?;
            let dir = self.opts.proc.pid_dir(pid);
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::open(&dir, flags, Mode::empty()).map_err(|e| match e {
                rustix::io::Errno::NOENT | rustix::io::Errno::SRCH => gone(pid),
                other => Unreadable::Proc {
                    pid,
                    source: other.into(),
                },
            })?;
            self.proc_dir = Some(fd);
        }
        let dir = self.proc_dir.as_ref().map(|d| d.as_fd());
        let Some(dir) = dir else {
            return Err(Unreadable::NoProcess { pid });
        };
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        rustix::fs::openat(dir, "root", flags, Mode::empty()).map_err(|_| {
            // The process behind the held fd is gone (a new one may reuse
            // the number; the fd never follows it).
            let was_seen = self.location.is_some();
            self.proc_dir = None;
            self.location = None;
            if was_seen {
                Unreadable::Stale(StaleReason::PidNotAlive { pid })
            } else {
                gone(pid)
            }
        })
    }
}
