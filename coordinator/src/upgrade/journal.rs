//! The run directory: the journal of an upgrade (every step's intent before it acts and its
//! outcome after, fsynced), the plan and the final report, and the lock that keeps two
//! coordinators on this machine from running upgrades from the same directory at once.
//!
//! ```text
//! <runs>/<run id>/journal.jsonl   one JSON event per line, fsynced after each
//! <runs>/<run id>/plan.json       the plan as first made
//! <runs>/<run id>/report.json     per step: duration, time waiting on each gate (+ report.txt,
//!                                 report.html)
//! <runs>/<run id>/samples.jsonl   every Kafka observation's partition counts (figures only:
//!                                 appended without fsync, never read to decide anything)
//! <runs>/.lock                    held (flock) while a coordinator runs
//! ```

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::PhaseId;

/// Errors of the run directory.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another kroll upgrade holds {path} (two coordinators must never run one cluster); wait for it or stop it"
    )]
    Locked { path: PathBuf },
    #[error("{path}: line {line} is not a journal event: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("no unfinished run under {0} to resume")]
    NothingToResume(PathBuf),
    #[error("no run under {0} yet")]
    NoRun(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A run began (or was resumed) with these options.
    RunStarted {
        run_id: String,
        cluster: String,
        from: String,
        to: String,
        pin_ibp: bool,
        images: Vec<(String, String)>,
        resumed: bool,
    },
    PhaseStarted {
        phase: PhaseId,
    },
    /// A cluster-wide phase (Connect's quiesce or resume, the post-checks) is done.
    PhaseDone {
        phase: PhaseId,
        message: String,
    },
    /// About to act on a container under an operation id.
    StepIntent {
        step: String,
        node: String,
        container: String,
        op_id: String,
        image: String,
    },
    /// The step's change is in place and its gate passed.
    StepDone {
        step: String,
        op_id: String,
        action_ms: u64,
        gate_before_ms: u64,
        gate_after_ms: u64,
        /// When the gate after passed while the action was still under way (a broker back
        /// before the agent's answer): ms after the intent was journalled. Absent
        /// when it passed after the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_during_action_ms: Option<u64>,
    },
    /// Found already done when observed (e.g. after a resume).
    StepSkipped {
        step: String,
        reason: String,
    },
    StepFailed {
        step: String,
        op_id: String,
        error: String,
        /// The agent changed nothing, or put the previous container back (its answer said
        /// so): the container runs as it did before the step.
        #[serde(default)]
        left_as_before: bool,
    },
    RolledBack {
        step: String,
        container: String,
        image: String,
        /// Back in service after the rollback (absent in journals before issue 10).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        healed: Option<bool>,
    },
    /// Remarks on cluster-wide work (pre-flight, a skipped Connect phase).
    Note {
        step: String,
        message: String,
    },
    BumpConfirmed {
        how: String,
    },
    Halted {
        reason: String,
        advice: String,
    },
    Finished {
        seconds: f64,
    },
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub time_unix_ms: i64,
    #[serde(flatten)]
    pub event: Event,
}

/// An open run directory (holding the lock).
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    journal: File,
    seq: u64,
    _lock: File,
    /// Test hook: appends after this many events go to `/dev/full` (and fail, as on a full or
    /// read-only disk).
    #[cfg(test)]
    fail_after: Option<u64>,
}

impl RunDir {
    /// Creates `<runs>/<run_id>` (which must not exist) and takes the lock.
    pub fn create(runs: &Path, run_id: &str) -> Result<Self, JournalError> {
        let lock = lock(runs)?;
        let path = runs.join(run_id);
        if path.exists() {
            return Err(JournalError::Io {
                path,
                source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            });
        }
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        Self::open_with(path, lock)
    }

    /// Opens an existing run (to resume it) and takes the lock.
    pub fn open(runs: &Path, dir: &Path) -> Result<Self, JournalError> {
        let lock = lock(runs)?;
        Self::open_with(dir.to_owned(), lock)
    }

    fn open_with(path: PathBuf, lock: File) -> Result<Self, JournalError> {
        let file = path.join("journal.jsonl");
        cut_torn_tail(&file)?;
        let seq = read(&file)?.last().map_or(0, |e| e.seq);
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .map_err(io(&file))?;
        Ok(Self {
            path,
            journal,
            seq,
            _lock: lock,
            #[cfg(test)]
            fail_after: None,
        })
    }

    /// Appends a sample to `samples.jsonl`, best effort (figures, not the journal: a failure
    /// is returned for the caller to ignore or say, never to halt on).
    pub fn append_sample(&self, sample: &Sample) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(sample).map_err(std::io::Error::other)?;
        line.push(b'\n');
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join("samples.jsonl"))?
            .write_all(&line)
    }

    /// The run directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run id (the directory's name).
    pub fn run_id(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Appends an event and fsyncs it before returning.
    pub fn append(&mut self, event: Event) -> Result<Entry, JournalError> {
        let entry = Entry {
            seq: self.seq + 1,
            time_unix_ms: kroll_shared::time::now_unix_ms(),
            event,
        };
        let file = self.path.join("journal.jsonl");
        let mut line = serde_json::to_vec(&entry).map_err(|e| JournalError::Io {
            path: file.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        #[cfg(test)]
        if self.fail_after.is_some_and(|n| self.seq >= n) {
            self.journal = OpenOptions::new()
                .append(true)
                .open("/dev/full")
                .map_err(io(&file))?;
        }
        self.journal.write_all(&line).map_err(io(&file))?;
        self.journal.sync_data().map_err(io(&file))?;
        self.seq = entry.seq;
        Ok(entry)
    }

    /// Test hook: every append after `events` events fails.
    #[cfg(test)]
    pub(crate) fn fail_writes_after(&mut self, events: u64) {
        self.fail_after = Some(events);
    }

    /// The events so far.
    pub fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        read(&self.path.join("journal.jsonl"))
    }

    /// Writes `name` in the run directory atomically (temp file, fsync, rename).
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, JournalError> {
        write_atomically(&self.path, name, bytes)
    }

    /// [`Self::write_file`] readable by its owner only (mode 0600): a copy of the operator's
    /// own file, which may hold secrets kroll never shows.
    pub fn write_private_file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, JournalError> {
        write_with_mode(&self.path, name, bytes, 0o600)
    }
}

/// What one Kafka observation of the run saw, for the report's partition chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub time_unix_ms: i64,
    pub partitions: usize,
    pub under_replicated: usize,
    pub offline: usize,
}

/// The run's samples; lines that do not parse (a torn tail) are left out.
pub fn read_samples(dir: &Path) -> Vec<Sample> {
    std::fs::read_to_string(dir.join("samples.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Writes `dir/name` atomically (temp file beside it, fsync, rename): a reader sees the old
/// file or the new one, never half of one.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, JournalError> {
    write_with_mode(dir, name, bytes, 0o644)
}

fn write_with_mode(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<PathBuf, JournalError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    Ok(target)
}

/// Cuts a torn last line (a coordinator killed mid-write) so the next event starts a line.
fn cut_torn_tail(file: &Path) -> Result<(), JournalError> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(JournalError::Io {
                path: file.to_owned(),
                source: e,
            });
        }
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let f = OpenOptions::new()
        .write(true)
        .open(file)
        .map_err(io(file))?;
    f.set_len(keep as u64).map_err(io(file))?;
    f.sync_all().map_err(io(file))
}

fn lock(runs: &Path) -> Result<File, JournalError> {
    std::fs::create_dir_all(runs).map_err(io(runs))?;
    let path = runs.join(".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Locked { path }),
        Err(std::fs::TryLockError::Error(e)) => Err(JournalError::Io { path, source: e }),
    }
}

/// Reads a journal; a torn last line (the coordinator died mid-write) is ignored, any other
/// bad line is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Entry>, JournalError> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(JournalError::Io {
                path: path.to_owned(),
                source: e,
            });
        }
    };
    let lines: Vec<String> = BufReader::new(f)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io(path))?;
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => out.push(e),
            Err(_) if i + 1 == lines.len() => break,
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_owned(),
                    line: i + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// The most recent run under `runs`, finished or not.
pub fn latest(runs: &Path) -> Result<PathBuf, JournalError> {
    if !runs.is_dir() {
        return Err(JournalError::NoRun(runs.to_owned()));
    }
    run_dirs(runs)?
        .pop()
        .ok_or_else(|| JournalError::NoRun(runs.to_owned()))
}

/// The most recent run under `runs` that has not finished.
pub fn latest_unfinished(runs: &Path) -> Result<PathBuf, JournalError> {
    latest_where(runs, |entries| !finished(entries))
}

/// The newest unfinished run under `runs` that may have changed the cluster (one that did
/// not, [`changed_nothing`], does not stand in a fresh run's way).
pub fn latest_unfinished_that_acted(runs: &Path) -> Result<PathBuf, JournalError> {
    latest_where(runs, |entries| {
        !finished(entries) && !changed_nothing(entries)
    })
}

fn finished(entries: &[Entry]) -> bool {
    entries
        .iter()
        .any(|e| matches!(e.event, Event::Finished { .. }))
}

/// Whether a run's journal shows it never acted on the cluster: it did not get past pre-flight
/// (refused there, or killed during it). Pre-flight only reads, and pulls images.
pub fn changed_nothing(entries: &[Entry]) -> bool {
    entries.iter().all(|e| {
        matches!(
            e.event,
            Event::RunStarted { .. }
                | Event::Note { .. }
                | Event::Halted { .. }
                | Event::PhaseStarted {
                    phase: PhaseId::Preflight
                }
        )
    })
}

/// The run directories under `runs` (those holding a journal), oldest first: run ids sort by
/// time.
fn run_dirs(runs: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .map_err(io(runs))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("journal.jsonl").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn latest_where(runs: &Path, wanted: impl Fn(&[Entry]) -> bool) -> Result<PathBuf, JournalError> {
    for d in run_dirs(runs)?.into_iter().rev() {
        if wanted(&read(&d.join("journal.jsonl"))?) {
            return Ok(d);
        }
    }
    Err(JournalError::NothingToResume(runs.to_owned()))
}

/// A new run id: UTC time to the millisecond, sortable, e.g. `20261125T140312.042Z`.
pub fn new_run_id() -> String {
    let now = ::time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_run_is_the_newest_directory_with_a_journal_finished_or_not() {
        let dir = tempfile::tempdir().expect("tmp");
        let runs = dir.path().join("runs");
        assert!(matches!(latest(&runs), Err(JournalError::NoRun(_))));
        std::fs::create_dir_all(runs.join("r9-no-journal")).expect("mkdir");
        assert!(matches!(latest(&runs), Err(JournalError::NoRun(_))));
        for id in ["r1", "r2"] {
            let mut run = RunDir::create(&runs, id).expect("create");
            run.append(Event::Note {
                step: "preflight".into(),
                message: "m".into(),
            })
            .expect("append");
        }
        assert_eq!(latest(&runs).expect("latest"), runs.join("r2"));
    }

    #[test]
    fn a_run_refused_at_pre_flight_does_not_stand_in_a_fresh_runs_way() {
        let dir = tempfile::tempdir().expect("tmp");
        let runs = dir.path().join("runs");
        let mut acted = RunDir::create(&runs, "r1").expect("create");
        acted
            .append(Event::PhaseStarted {
                phase: PhaseId::QuiesceConnect,
            })
            .expect("append");
        drop(acted);
        let mut refused = RunDir::create(&runs, "r2").expect("create");
        refused
            .append(Event::Note {
                step: "preflight".into(),
                message: "m".into(),
            })
            .expect("append");
        refused
            .append(Event::Halted {
                reason: "drift".into(),
                advice: "a".into(),
            })
            .expect("append");
        drop(refused);
        // `--resume` still finds the newest; a fresh run is held back by the one that acted.
        assert_eq!(latest_unfinished(&runs).expect("latest"), runs.join("r2"));
        assert_eq!(
            latest_unfinished_that_acted(&runs).expect("acted"),
            runs.join("r1")
        );
        let mut done = RunDir::open(&runs, &runs.join("r1")).expect("reopen");
        done.append(Event::Finished { seconds: 1.0 })
            .expect("append");
        drop(done);
        assert!(matches!(
            latest_unfinished_that_acted(&runs),
            Err(JournalError::NothingToResume(_))
        ));
    }

    #[test]
    fn the_journal_survives_a_torn_write_and_is_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let runs = dir.path().join("runs");
        let mut run = RunDir::create(&runs, "r1").expect("create");
        run.append(Event::PhaseStarted {
            phase: PhaseId::RollBrokers,
        })
        .expect("append");
        run.append(Event::StepIntent {
            step: "s".into(),
            node: "n".into(),
            container: "c".into(),
            op_id: "r1/s".into(),
            image: "i".into(),
        })
        .expect("append");
        let journal = run.path().join("journal.jsonl");
        drop(run);
        OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("open")
            .write_all(b"{\"seq\":3,\"ti")
            .expect("torn");
        let entries = read(&journal).expect("read");
        assert_eq!(entries.len(), 2);
        assert!(matches!(&entries[1].event, Event::StepIntent { op_id, .. } if op_id == "r1/s"));
        assert_eq!(latest_unfinished(&runs).expect("latest"), runs.join("r1"));
        let mut again = RunDir::open(&runs, &runs.join("r1")).expect("reopen");
        assert_eq!(
            again
                .append(Event::Finished { seconds: 1.0 })
                .expect("append")
                .seq,
            3,
            "numbering continues"
        );
        drop(again);
        assert!(matches!(
            latest_unfinished(&runs),
            Err(JournalError::NothingToResume(_))
        ));
    }

    #[test]
    fn two_coordinators_cannot_hold_the_same_runs_directory() {
        let dir = tempfile::tempdir().expect("tmp");
        let _first = RunDir::create(dir.path(), "a").expect("first");
        let second = RunDir::create(dir.path(), "b").expect_err("second must be refused");
        assert!(
            second.to_string().contains("another kroll upgrade holds"),
            "{second}"
        );
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("journal.jsonl");
        std::fs::write(
            &p,
            "garbage\n{\"seq\":1,\"time_unix_ms\":0,\"event\":\"finished\",\"seconds\":1.0}\n",
        )
        .expect("write");
        let err = read(&p).expect_err("corrupt");
        assert!(
            err.to_string().contains("line 1 is not a journal event"),
            "{err}"
        );
        assert!(new_run_id().ends_with('Z'));
    }

    #[test]
    fn phases_are_journaled_as_ids_and_older_debug_names_still_read() {
        let line = serde_json::to_string(&Entry {
            seq: 1,
            time_unix_ms: 0,
            event: Event::PhaseStarted {
                phase: PhaseId::BumpIbp,
            },
        })
        .expect("json");
        assert!(line.contains("\"phase\":\"bump-ibp\""), "{line}");
        let old: Entry = serde_json::from_str(
            "{\"seq\":2,\"time_unix_ms\":0,\"event\":\"phase_started\",\"phase\":\"RollBrokers\"}",
        )
        .expect("a journal written before issue 10");
        assert_eq!(
            old.event,
            Event::PhaseStarted {
                phase: PhaseId::RollBrokers
            }
        );
    }

    #[test]
    fn a_failed_append_is_an_error_and_numbers_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut run = RunDir::create(dir.path(), "r").expect("create");
        run.fail_writes_after(0);
        let err = run
            .append(Event::Finished { seconds: 0.0 })
            .expect_err("a full disk");
        assert!(err.to_string().contains("journal.jsonl"), "{err}");
        assert_eq!(run.seq, 0);
    }
}
