//! JVM heap monitoring and OutOfMemoryError alerting against real JVMs in real containers
//! (the lab's `java-base` image plus the programs in `heap/java/`, compiled with the
//! machine's javac), real agents over mutual TLS and the real `kroll` binary.

mod agent_image;
mod jstat;
mod proc_root;
mod remediate;
mod state;
pub(crate) mod ui;
mod watch;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use kroll_tests::java::start_java;
use kroll_tests::{Pki, RunningAgent};

/// An inventory for the coordinator certificate of `pki` and these agents (no services).
pub fn inventory(dir: &Path, pki: &Pki, agents: &[&RunningAgent], extra: &str) -> PathBuf {
    let mut text = format!(
        "[cluster]\nname = \"heaptest\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[agents]\ntimeout_ms = 3000\n{extra}\n",
        pki.path("ca.pem").display(),
        pki.path("coordinator.pem").display(),
        pki.path("coordinator-key.pem").display()
    );
    for a in agents {
        text.push_str(&format!(
            "[[nodes]]\nname = \"{}\"\nagent = \"{}\"\n",
            a.node, a.addr
        ));
    }
    let p = dir.join("kroll.toml");
    std::fs::write(&p, text).expect("inventory");
    p
}

/// A running `kroll watch`, its stdout lines on a channel; killed (by its pid) when dropped.
/// `next_matching` takes lines in any order: what one call skips, a later one can take.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Lines received but not matched yet (a later `next_matching` may want them).
    backlog: std::cell::RefCell<Vec<serde_json::Value>>,
}

impl Watch {
    /// `kroll --inventory <inv> --output json watch <args>`.
    pub fn start(inv: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(kroll_tests::bin("kroll"))
            .arg("--inventory")
            .arg(inv)
            .args(["--output", "json", "watch"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kroll watch");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watch {
            child,
            lines,
            backlog: Default::default(),
        }
    }

    /// The next JSON line satisfying `pred`, within `deadline` (other lines are skipped).
    pub fn next_matching(
        &self,
        what: &str,
        deadline: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut backlog = self.backlog.borrow_mut();
        if let Some(i) = backlog.iter().position(&pred) {
            return backlog.remove(i);
        }
        let began = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_sub(began.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                        panic!("kroll watch printed a non-JSON line {line:?}: {e}")
                    });
                    if pred(&v) {
                        return v;
                    }
                    seen.push(line);
                    backlog.push(v);
                }
                Err(_) => panic!(
                    "no {what} from kroll watch within {deadline:?}; saw:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Is this watch line an event of `kind` about `container`?
pub fn is_event(v: &serde_json::Value, kind: &str, container: &str) -> bool {
    v["kind"]["type"] == kind && v["container_name"] == container
}
