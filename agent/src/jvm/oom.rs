//! `java.lang.OutOfMemoryError`, seen two ways: in a Java container's log stream (followed
//! from the moment the container starts, or from now for containers already running), and in
//! its exit code (3 with `-XX:+ExitOnOutOfMemoryError`, 134 with `-XX:+CrashOnOutOfMemoryError`).
//!
//! Logs are hostile input like any container output: lines are cut at [`MAX_LINE`] bytes
//! while scanning, reported lines at [`REPORT_LINE`] bytes with control characters removed,
//! and invalid UTF-8 is replaced — binary garbage never stops the follower.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kroll_shared::model::EventKind;
use tokio::sync::watch;

use super::JvmMonitor;
use crate::collect::jvm::OomFlags;
use crate::events::EventHub;
use crate::runtime::ContainerRuntime;

/// Longest line scanned; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 4096;
/// Longest line reported in an event.
pub const REPORT_LINE: usize = 1024;
/// What an OutOfMemoryError looks like in any log (flag names such as
/// `-XX:+ExitOnOutOfMemoryError` in a logged command line do not match).
const NEEDLE: &[u8] = b"java.lang.OutOfMemoryError";

/// Splits a byte stream into lines, keeping at most [`MAX_LINE`] bytes of each.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Feeds a chunk; calls `on_line` for every line it completes.
    pub fn push(&mut self, chunk: &[u8], mut on_line: impl FnMut(&[u8])) {
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            self.keep(&rest[..i]);
            on_line(&self.buf);
            self.buf.clear();
            rest = &rest[i + 1..];
        }
        self.keep(rest);
    }

    fn keep(&mut self, part: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&part[..part.len().min(room)]);
    }
}

/// The line as it may be reported, when it holds an OutOfMemoryError.
pub fn oom_line(line: &[u8]) -> Option<String> {
    if !line.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
        return None;
    }
    Some(clean(line))
}

/// Lossy UTF-8, tabs as spaces, other control characters removed, trimmed, at most
/// [`REPORT_LINE`] bytes (cut at a character boundary).
pub fn clean(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len().min(REPORT_LINE));
    for c in text.trim().chars() {
        let c = if c == '\t' { ' ' } else { c };
        if c.is_control() {
            continue;
        }
        if out.len() + c.len_utf8() > REPORT_LINE {
            break;
        }
        out.push(c);
    }
    out
}

/// Folds bursts of OOM lines: the first line after a quiet `repeat` is reported at once, with
/// the count of lines folded since the previous report.
#[derive(Debug, Default)]
pub struct OomFolder {
    last_report: Option<Instant>,
    folded: u32,
}

impl OomFolder {
    /// A matching line at `now`: `Some(repeated)` to report it, `None` to fold it.
    pub fn line(&mut self, now: Instant, repeat: Duration) -> Option<u32> {
        match self.last_report {
            Some(t) if now.saturating_duration_since(t) < repeat => {
                self.folded = self.folded.saturating_add(1);
                None
            }
            _ => {
                self.last_report = Some(now);
                Some(std::mem::take(&mut self.folded))
            }
        }
    }
}

/// Whether an exit looks like a JVM's reaction to OutOfMemoryError, and the evidence.
/// An exit code alone is not enough (`System.exit(3)` is legal): the flag the JVM ran with,
/// or an OutOfMemoryError in its log, must back it.
pub fn oom_exit_evidence(exit_code: i32, flags: OomFlags, oom_in_log: bool) -> Option<String> {
    match exit_code {
        3 if flags.exit => Some("the JVM ran with -XX:+ExitOnOutOfMemoryError".into()),
        134 if flags.crash => Some("the JVM ran with -XX:+CrashOnOutOfMemoryError".into()),
        3 | 134 if oom_in_log => Some("java.lang.OutOfMemoryError in its log just before".into()),
        _ => None,
    }
}

/// Follows the log of a Java container from `since_unix_s` until it stops (or the agent
/// does), publishing an event for every OutOfMemoryError line (bursts folded). A stream that
/// fails transiently (the engine restarted) while the container still runs is resumed from now.
pub async fn follow<R: ContainerRuntime>(
    rt: Arc<R>,
    monitor: Arc<JvmMonitor>,
    hub: Arc<EventHub>,
    target: (String, String),
    mut since_unix_s: i64,
    mut stop: watch::Receiver<bool>,
) {
    let (id, name) = target;
    let repeat = monitor.config().oom_repeat();
    let mut folder = OomFolder::default();
    loop {
        let mut stream = rt.logs_follow(&id, since_unix_s);
        let (mut out, mut err) = (LineSplitter::default(), LineSplitter::default());
        let failed = loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = stop.changed() => return,
            };
            let chunk = match item {
                Some(Ok(c)) => c,
                Some(Err(e)) => break Some(e),
                None => break None,
            };
            let splitter = if chunk.stderr { &mut err } else { &mut out };
            splitter.push(&chunk.bytes, |line| {
                let Some(text) = oom_line(line) else { return };
                monitor.oom_line_seen(&id, &name);
                if let Some(repeated) = folder.line(Instant::now(), repeat) {
                    let kind = EventKind::JavaOom {
                        line: text,
                        repeated,
                    };
                    hub.publish(&id, &name, kroll_shared::time::now_unix_ms(), kind);
                }
            });
        };
        let running = matches!(rt.inspect(&id).await, Ok(i) if i.container.is_running());
        match failed {
            Some(e) if running && e.is_transient() => {
                tracing::warn!(container = %name, error = %e, "Log stream failed; following again.");
                since_unix_s = kroll_shared::time::now_unix_ms() / 1000;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l| out.push(l.to_vec()));
        }
        out
    }

    #[test]
    fn lines_are_joined_across_chunks_and_cut_when_too_long() {
        let got = lines(&[
            b"Exception in thread \"main\" java.lang.Out",
            b"OfMemoryError: Java heap space\n\tat X\n",
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!(
            oom_line(&got[0]).as_deref(),
            Some("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space")
        );
        let long = vec![b'a'; MAX_LINE * 3];
        let got = lines(&[&long, b"\nnext\n"]);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], b"next");
    }

    #[test]
    fn flags_in_logged_command_lines_are_not_errors() {
        assert_eq!(
            oom_line(b"jvm.args = -Xmx2G, -XX:+ExitOnOutOfMemoryError"),
            None
        );
        assert_eq!(oom_line(b"-XX:+HeapDumpOnOutOfMemoryError"), None);
        assert!(
            oom_line(b"Terminating due to java.lang.OutOfMemoryError: Java heap space").is_some()
        );
    }

    #[test]
    fn binary_garbage_never_panics_and_reported_lines_are_clean_and_bounded() {
        let mut garbage: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
        garbage
            .extend_from_slice(b"\x1b[31mjava.lang.OutOfMemoryError\xff\xfe: Java heap space\x07");
        let got = lines(&[&garbage, b"\n"]);
        for l in &got {
            if let Some(text) = oom_line(l) {
                assert!(text.len() <= REPORT_LINE);
                assert!(!text.chars().any(char::is_control), "{text:?}");
            }
        }
        let long_oom = [
            b"java.lang.OutOfMemoryError: ".as_slice(),
            "é".repeat(2000).as_bytes(),
        ]
        .concat();
        let text = oom_line(&long_oom).expect("match");
        assert!(text.len() <= REPORT_LINE && text.is_char_boundary(text.len()));
    }

    #[test]
    fn bursts_fold_into_the_next_report() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let r = Duration::from_secs(10);
        let mut f = OomFolder::default();
        assert_eq!(f.line(at(0), r), Some(0));
        assert_eq!(f.line(at(5), r), None);
        assert_eq!(f.line(at(9_000), r), None);
        assert_eq!(f.line(at(10_001), r), Some(2));
        let mut every = OomFolder::default();
        assert_eq!(every.line(at(0), Duration::ZERO), Some(0));
        assert_eq!(
            every.line(at(0), Duration::ZERO),
            Some(0),
            "repeat 0 reports all"
        );
    }

    #[test]
    fn exit_codes_need_evidence() {
        let exit = OomFlags {
            exit: true,
            crash: false,
        };
        let crash = OomFlags {
            exit: false,
            crash: true,
        };
        assert!(oom_exit_evidence(3, exit, false).is_some());
        assert!(oom_exit_evidence(134, crash, false).is_some());
        assert!(oom_exit_evidence(3, OomFlags::default(), true).is_some());
        assert_eq!(oom_exit_evidence(3, OomFlags::default(), false), None);
        assert_eq!(oom_exit_evidence(1, exit, true), None);
        assert_eq!(oom_exit_evidence(134, exit, false), None);
    }
}
