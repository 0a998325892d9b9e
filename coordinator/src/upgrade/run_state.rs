//! What a run has done so far, as a fold over its journal: the intents, the steps settled in the
//! current invocation, the rollbacks, the failure of the current invocation, whether the IBP bump
//! was confirmed and which cluster-wide phases are done. [`super::decide::next`] reads it beside
//! the plan and a fresh observation; `kroll rollback`'s undo list is a query on it.

use std::collections::{BTreeMap, BTreeSet};

use super::journal::{Entry, Event};
use super::plan::PhaseId;
use super::version::Platform;

/// A container the run meant to recreate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub step: String,
    pub node: String,
    pub container: String,
    /// The image the step was to put in place.
    pub image: String,
}

/// A container the run changed: recreated under an intent, or rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    Recreated(Intent),
    RolledBack { container: String },
}

/// A step that failed in the current invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub step: String,
    pub node: String,
    pub container: String,
    pub error: String,
    /// The container runs as it did before the step (the agent changed nothing or put it
    /// back): nothing to roll back.
    pub left_as_before: bool,
    /// Set once the node was rolled back: (the image it runs again, whether it is back in
    /// service).
    pub rolled_back: Option<(String, Option<bool>)>,
}

/// A run, folded from its journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunState {
    /// The run id (the prefix of every operation id).
    pub run_id: String,
    /// The platform the brokers ran when the run first started.
    pub from: Option<Platform>,
    /// Every intent, oldest first.
    pub intents: Vec<Intent>,
    /// Recreates and rollbacks in journal order (what `kroll rollback` has left to undo).
    pub history: Vec<Touched>,
    /// Rollbacks per step: each ends an attempt (the next one acts under a new operation id).
    pub attempts_ended: BTreeMap<String, u32>,
    /// Steps whose gate passed in the current invocation (done, or found done and waited for).
    pub settled: BTreeSet<String>,
    /// The step that failed in the current invocation.
    pub failed: Option<Failure>,
    /// The IBP bump (the point of no return) was confirmed.
    pub bump_confirmed: bool,
    /// Cluster-wide phases done in the current invocation (Connect's quiesce and resume).
    pub phases_done: BTreeSet<PhaseId>,
    /// The post-checks passed in the current invocation.
    pub post_checked: bool,
    pub finished: bool,
}

impl RunState {
    /// Folds the journal of run `run_id`.
    pub fn fold(run_id: &str, entries: &[Entry]) -> Self {
        let mut s = Self {
            run_id: run_id.to_owned(),
            ..Self::default()
        };
        for e in entries {
            s.apply(&e.event);
        }
        s
    }

    /// One more event.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::RunStarted { from, .. } => {
                if self.from.is_none() {
                    self.from = from.parse().ok();
                }
                self.settled.clear();
                // Connect's phases run again in every invocation (as before issue 10): quiesce
                // is idempotent, and what a killed predecessor's connectors do meanwhile is not
                // known.
                self.phases_done.clear();
                self.failed = None;
                self.post_checked = false;
                self.finished = false;
            }
            Event::StepIntent {
                step,
                node,
                container,
                image,
                ..
            } => {
                self.settled.remove(step);
                let intent = Intent {
                    step: step.clone(),
                    node: node.clone(),
                    container: container.clone(),
                    image: image.clone(),
                };
                self.intents.push(intent.clone());
                self.history.push(Touched::Recreated(intent));
            }
            Event::StepDone { step, .. } | Event::StepSkipped { step, .. } => {
                self.settled.insert(step.clone());
            }
            Event::StepFailed {
                step,
                error,
                left_as_before,
                ..
            } => {
                self.settled.remove(step);
                if *left_as_before {
                    // The agent changed nothing or put the container back: there is nothing of
                    // this recreate to undo (and no definition kept for it).
                    let last = self
                        .history
                        .iter()
                        .rposition(|t| matches!(t, Touched::Recreated(i) if i.step == *step));
                    if let Some(at) = last {
                        self.history.remove(at);
                    }
                }
                let intent = self.intents.iter().rev().find(|i| i.step == *step);
                self.failed = Some(Failure {
                    step: step.clone(),
                    node: intent.map(|i| i.node.clone()).unwrap_or_default(),
                    container: intent.map(|i| i.container.clone()).unwrap_or_default(),
                    error: error.clone(),
                    left_as_before: *left_as_before,
                    rolled_back: None,
                });
            }
            Event::RolledBack {
                step,
                container,
                image,
                healed,
            } => {
                self.settled.remove(step);
                *self.attempts_ended.entry(step.clone()).or_default() += 1;
                self.history.push(Touched::RolledBack {
                    container: container.clone(),
                });
                if let Some(f) = self.failed.as_mut().filter(|f| f.step == *step) {
                    f.rolled_back = Some((image.clone(), *healed));
                }
            }
            Event::BumpConfirmed { .. } => self.bump_confirmed = true,
            Event::PhaseDone { phase, .. } => {
                if *phase == PhaseId::PostChecks {
                    self.post_checked = true;
                } else {
                    self.phases_done.insert(*phase);
                }
            }
            // Journals before issue 10 recorded a Connect phase as a note named by its id.
            Event::Note { step, .. } => {
                if let Some(p) = PhaseId::parse(step)
                    .filter(|p| matches!(p, PhaseId::QuiesceConnect | PhaseId::ResumeConnect))
                {
                    self.phases_done.insert(p);
                }
            }
            Event::Finished { .. } => self.finished = true,
            Event::PhaseStarted { .. } | Event::Halted { .. } => {}
        }
    }

    /// The operation id of `step`'s current attempt: `<run>/<step>` for the first (a killed
    /// coordinator's retry is answered from the agent's record, never repeated), a new one
    /// after each rollback of it (that attempt is over; the next must act).
    pub fn op_id(&self, step: &str) -> String {
        match self.attempts_ended.get(step).copied().unwrap_or(0) {
            0 => format!("{}/{step}", self.run_id),
            n => format!("{}/{step}/attempt-{}", self.run_id, n + 1),
        }
    }

    /// `kroll rollback`'s work: every container the run recreated and that is not back on its
    /// previous definition, newest first, once each.
    pub fn undo(&self) -> Vec<Intent> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for t in self.history.iter().rev() {
            match t {
                // Back on its previous definition: what came before is undone too.
                Touched::RolledBack { container } => {
                    seen.insert(container.clone());
                }
                Touched::Recreated(i) if seen.insert(i.container.clone()) => out.push(i.clone()),
                Touched::Recreated(_) => {}
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn e(event: Event) -> Entry {
        Entry {
            seq: 0,
            time_unix_ms: 0,
            event,
        }
    }

    fn intent(c: &str) -> Event {
        Event::StepIntent {
            step: format!("s/{c}"),
            node: "n".into(),
            container: c.into(),
            op_id: "o".into(),
            image: "i".into(),
        }
    }

    pub(crate) fn started(from: &str) -> Event {
        Event::RunStarted {
            run_id: "r".into(),
            cluster: "c".into(),
            from: from.into(),
            to: "7.7.1".into(),
            pin_ibp: true,
            images: vec![],
            resumed: false,
        }
    }

    #[test]
    fn undo_is_newest_first_once_per_container_without_what_was_rolled_back() {
        let j = vec![
            e(intent("zk")),
            e(intent("kafka-01")),
            e(intent("kafka-02")),
            e(intent("kafka-01")),
        ];
        let names =
            |s: RunState| -> Vec<String> { s.undo().into_iter().map(|i| i.container).collect() };
        assert_eq!(
            names(RunState::fold("r", &j)),
            ["kafka-01", "kafka-02", "zk"]
        );
        let mut healed = j.clone();
        healed.push(e(Event::RolledBack {
            step: "s/kafka-02".into(),
            container: "kafka-02".into(),
            image: "old".into(),
            healed: Some(true),
        }));
        assert_eq!(
            names(RunState::fold("r", &healed)),
            ["kafka-01", "zk"],
            "an automatic rollback already undid kafka-02"
        );
    }

    #[test]
    fn a_recreate_the_agent_left_as_before_has_nothing_to_undo() {
        let j = vec![
            e(started("7.1.1")),
            e(intent("zk")),
            e(intent("kafka-01")),
            e(Event::StepFailed {
                step: "s/kafka-01".into(),
                op_id: "r/s/kafka-01".into(),
                error: "the new container did not stay up; put back".into(),
                left_as_before: true,
            }),
        ];
        let undo: Vec<String> = RunState::fold("r", &j)
            .undo()
            .into_iter()
            .map(|i| i.container)
            .collect();
        assert_eq!(undo, ["zk"]);
    }

    #[test]
    fn a_failure_belongs_to_its_invocation_and_a_rollback_ends_an_attempt() {
        let mut j = vec![
            e(started("7.1.1")),
            e(intent("kafka-01")),
            e(Event::StepFailed {
                step: "s/kafka-01".into(),
                op_id: "r/s/kafka-01".into(),
                error: "gate".into(),
                left_as_before: false,
            }),
        ];
        let s = RunState::fold("r", &j);
        let f = s.failed.clone().expect("failed");
        assert_eq!((f.container.as_str(), f.rolled_back), ("kafka-01", None));
        assert_eq!(s.op_id("s/kafka-01"), "r/s/kafka-01");
        j.push(e(Event::RolledBack {
            step: "s/kafka-01".into(),
            container: "kafka-01".into(),
            image: "old".into(),
            healed: None,
        }));
        let s = RunState::fold("r", &j);
        assert_eq!(
            s.failed.clone().and_then(|f| f.rolled_back),
            Some(("old".into(), None))
        );
        assert_eq!(s.op_id("s/kafka-01"), "r/s/kafka-01/attempt-2");
        j.push(e(started("7.7.1")));
        let s = RunState::fold("r", &j);
        assert!(s.failed.is_none(), "a new invocation starts without it");
        assert_eq!(s.from.map(|p| p.to_string()).as_deref(), Some("7.1.1"));
    }

    #[test]
    fn phases_and_the_bump_are_remembered_from_typed_and_older_journals() {
        let j = vec![
            e(started("7.1.1")),
            e(Event::Note {
                step: "QuiesceConnect".into(),
                message: "quiesced".into(),
            }),
            e(Event::PhaseDone {
                phase: PhaseId::ResumeConnect,
                message: "resumed".into(),
            }),
            e(Event::BumpConfirmed {
                how: "--yes".into(),
            }),
            e(Event::StepSkipped {
                step: "s/zk".into(),
                reason: "already".into(),
            }),
        ];
        let s = RunState::fold("r", &j);
        assert!(s.bump_confirmed);
        assert_eq!(
            s.phases_done,
            BTreeSet::from([PhaseId::QuiesceConnect, PhaseId::ResumeConnect])
        );
        assert!(s.settled.contains("s/zk"));
    }
}
