//! What the operator sees while a run works (lines on stderr: phase, step, the gate being
//! waited on and why, elapsed time) and the final report (per step: duration and time spent
//! waiting on each gate), written to the run directory.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::gates::Verdict;
use super::journal::{Entry, Event};

/// Progress lines with elapsed time; gate waits are repeated at most every few seconds.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    last_wait: Option<(String, Instant)>,
    quiet: bool,
}

impl Progress {
    /// Progress on stderr (`quiet` prints nothing).
    pub fn new(quiet: bool) -> Self {
        Self {
            started: Instant::now(),
            last_wait: None,
            quiet,
        }
    }

    fn stamp(&self) -> String {
        let s = self.started.elapsed().as_secs();
        format!("[+{:02}:{:02}]", s / 60, s % 60)
    }

    /// A line as it is.
    pub fn line(&mut self, text: &str) {
        if !self.quiet {
            eprintln!("{} {text}", self.stamp());
        }
        self.last_wait = None;
    }

    /// A warning, printed even when quiet (it concerns the run's own records).
    pub fn warn(&mut self, text: &str) {
        eprintln!("{} WARNING: {text}", self.stamp());
        self.last_wait = None;
    }

    /// A phase begins.
    pub fn phase(&mut self, title: &str) {
        self.line(&format!("== {title}"));
    }

    /// A step begins.
    pub fn step(&mut self, what: &str) {
        self.line(&format!("  {what}"));
    }

    /// A gate is still waiting (printed when the reason changes, or every 5 s).
    pub fn waiting(&mut self, what: &str, v: &Verdict, waited: Duration) {
        if v.passed() {
            // Passing, waiting only for enough consecutive observations: nothing to report.
            return;
        }
        let reason = v.to_string();
        let due = match &self.last_wait {
            Some((r, at)) => *r != reason || at.elapsed() >= Duration::from_secs(5),
            None => waited >= Duration::from_millis(500),
        };
        if due && !self.quiet {
            eprintln!(
                "{}     waiting {:.1}s: {what}: {reason}",
                self.stamp(),
                waited.as_secs_f64()
            );
            self.last_wait = Some((reason, Instant::now()));
        }
    }

    /// A step finished.
    pub fn done(&mut self, container: &str, action: Duration, before: Duration, after: Duration) {
        self.line(&format!(
            "  {container} done: recreate {:.1}s, gate before {:.1}s, gate after {:.1}s",
            action.as_secs_f64(),
            before.as_secs_f64(),
            after.as_secs_f64()
        ));
    }
}

/// Asks on the terminal; `false` when stdin is not a terminal or the answer is not `bump`.
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "bump"
}

/// One step's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    pub step: String,
    pub node: String,
    pub container: String,
    pub image: String,
    /// Stop, recreate, start (the agent's call).
    pub action_seconds: f64,
    /// Waiting for the gate before the stop.
    pub gate_before_seconds: f64,
    /// Waiting for the gate after the start (catch-up).
    pub gate_after_seconds: f64,
}

/// The run's report: every step of the run, across every invocation (`--resume`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Report {
    pub run_id: String,
    pub steps: Vec<StepTiming>,
    /// This invocation's time.
    pub total_seconds: f64,
    /// From the run's first journal entry to its last (halts and pauses between invocations
    /// included).
    pub run_seconds: f64,
    /// How many times the run was started or resumed.
    pub invocations: usize,
    /// Why `report.json` / `report.txt` could not be written, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_written: Option<String>,
}

impl Report {
    /// Fills the steps and the run's span from its journal (every invocation's step ends).
    pub fn fill_from_journal(&mut self, entries: &[Entry]) {
        let mut intents = std::collections::BTreeMap::new();
        let mut steps = Vec::new();
        for e in entries {
            match &e.event {
                Event::StepIntent {
                    op_id,
                    node,
                    container,
                    image,
                    ..
                } => {
                    intents.insert(
                        op_id.clone(),
                        (node.clone(), container.clone(), image.clone()),
                    );
                }
                Event::StepDone {
                    step,
                    op_id,
                    action_ms,
                    gate_before_ms,
                    gate_after_ms,
                    ..
                } => {
                    let (node, container, image) = intents.get(op_id).cloned().unwrap_or_default();
                    let secs = |ms: &u64| *ms as f64 / 1000.0;
                    steps.push(StepTiming {
                        step: step.clone(),
                        node,
                        container,
                        image,
                        action_seconds: secs(action_ms),
                        gate_before_seconds: secs(gate_before_ms),
                        gate_after_seconds: secs(gate_after_ms),
                    });
                }
                _ => {}
            }
        }
        self.steps = steps;
        self.invocations = entries
            .iter()
            .filter(|e| matches!(e.event, Event::RunStarted { .. }))
            .count();
        if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
            self.run_seconds = (last.time_unix_ms - first.time_unix_ms).max(0) as f64 / 1000.0;
        }
    }

    /// The report for people.
    pub fn render(&self) -> String {
        let mut out = if self.invocations > 1 {
            format!(
                "kroll upgrade run {}: {} steps in {} invocations, {:.1}s from start to end (this one {:.1}s)\n\n",
                self.run_id,
                self.steps.len(),
                self.invocations,
                self.run_seconds,
                self.total_seconds
            )
        } else {
            format!(
                "kroll upgrade run {}: {} steps, {:.1}s in all\n\n",
                self.run_id,
                self.steps.len(),
                self.total_seconds
            )
        };
        let step_w = self
            .steps
            .iter()
            .map(|s| s.step.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let node_w = self
            .steps
            .iter()
            .map(|s| s.node.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        out.push_str(&format!(
            "{:<w$} {:<n$} {:>9} {:>12} {:>11}\n",
            "STEP",
            "NODE",
            "RECREATE",
            "GATE BEFORE",
            "GATE AFTER",
            w = step_w,
            n = node_w
        ));
        for s in &self.steps {
            out.push_str(&format!(
                "{:<w$} {:<n$} {:>8.1}s {:>11.1}s {:>10.1}s\n",
                s.step,
                s.node,
                s.action_seconds,
                s.gate_before_seconds,
                s.gate_after_seconds,
                w = step_w,
                n = node_w
            ));
        }
        out
    }
}
