//! A run's timeline, folded from its journal alone (pure): one row per container with the
//! segments of each step (gate before, the agent's recreate, catch-up until the gate after
//! passed), failures and rollbacks, the phases, and the moments an operator looks for (halts,
//! the point of no return, resumes). `report.html` draws it; its figures are the journal's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::journal::{Entry, Event, Sample};
use super::plan::PhaseId;

/// What a segment of a row was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// Waiting for the gate before the stop (the container still serves).
    GateBefore,
    /// The agent's recreate: stop, new definition, start.
    Recreate,
    /// Catch-up: waiting until the gate after passed (a broker back in full ISR).
    GateAfter,
    /// A step that failed: from its intent to the failure's record.
    Failed,
    /// From the failure to the rollback's record.
    Rollback,
}

impl SegmentKind {
    /// The words for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::GateBefore => "gate before",
            Self::Recreate => "stop → start",
            Self::GateAfter => "catch-up (gate after)",
            Self::Failed => "failed",
            Self::Rollback => "rolled back",
        }
    }
}

/// One span of a row, in milliseconds since the run's first entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub step: String,
    pub kind: SegmentKind,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Segment {
    pub fn seconds(&self) -> f64 {
        (self.end_ms - self.start_ms) as f64 / 1000.0
    }
}

/// One container's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub container: String,
    pub node: String,
    pub segments: Vec<Segment>,
}

/// A moment marked across every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// A `kroll upgrade` (or `--resume`) began.
    Started,
    /// The IBP bump was confirmed: the point of no return.
    PointOfNoReturn,
    Halted,
    Finished,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub kind: MarkKind,
    pub at_ms: i64,
    pub text: String,
}

/// A phase's span: from its first record to its last.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSpan {
    pub phase: PhaseId,
    pub start_ms: i64,
    pub end_ms: i64,
    /// What a cluster-wide phase said when done (Connect's quiesce or resume, post-checks).
    pub message: Option<String>,
}

/// Per roll: wall time against the time its containers could not avoid (down and catching
/// up), and its gates' waits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollFigures {
    pub phase: PhaseId,
    pub steps: usize,
    pub wall_seconds: f64,
    /// Sum over its steps of recreate + catch-up: what the brokers themselves cost.
    pub unavoidable_seconds: f64,
    /// Wall time over unavoidable time (1.0 = no overhead); absent without unavoidable time.
    pub overhead_ratio: Option<f64>,
    pub gate_before_p50_seconds: f64,
    pub gate_before_max_seconds: f64,
    pub gate_after_p50_seconds: f64,
    pub gate_after_max_seconds: f64,
}

/// The run, drawn from its journal.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Timeline {
    pub run_id: String,
    pub cluster: String,
    pub from: String,
    pub to: String,
    /// The run's first entry (Unix ms); every other time is relative to it.
    pub origin_unix_ms: i64,
    pub span_ms: i64,
    pub rows: Vec<Row>,
    pub marks: Vec<Mark>,
    pub phases: Vec<PhaseSpan>,
    pub rolls: Vec<RollFigures>,
    /// Cluster-wide remarks as journaled (pre-flight, skipped Connect phases, key-schema check).
    pub notes: Vec<(i64, String, String)>,
    /// The gates' Kafka observations within the run's span: (ms, under-replicated, offline).
    pub partitions: Vec<(i64, usize, usize)>,
}

/// The phase a step id (`<phase slug>/<container>`) belongs to.
fn phase_of(step: &str) -> Option<PhaseId> {
    step.split_once('/').and_then(|(p, _)| PhaseId::parse(p))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

impl Timeline {
    /// Folds `entries` (a whole run, every invocation) into its timeline.
    pub fn from_journal(entries: &[Entry]) -> Self {
        let origin = entries.first().map_or(0, |e| e.time_unix_ms);
        let at = |e: &Entry| e.time_unix_ms - origin;
        let mut t = Timeline {
            origin_unix_ms: origin,
            span_ms: entries.last().map_or(0, at),
            ..Self::default()
        };
        // op id → (step, node, container, intent time)
        let mut intents: BTreeMap<String, (String, String, String, i64)> = BTreeMap::new();
        // step → failure time (for a rollback that follows)
        let mut failed_at: BTreeMap<String, i64> = BTreeMap::new();
        let mut rows: Vec<Row> = Vec::new();
        let mut phases: Vec<PhaseSpan> = Vec::new();
        let mut gates: BTreeMap<PhaseId, Vec<(f64, f64, f64)>> = BTreeMap::new();
        let row = |rows: &mut Vec<Row>, container: &str, node: &str| -> usize {
            if let Some(i) = rows.iter().position(|r| r.container == container) {
                if rows[i].node.is_empty() {
                    rows[i].node = node.to_owned();
                }
                return i;
            }
            rows.push(Row {
                container: container.to_owned(),
                node: node.to_owned(),
                segments: Vec::new(),
            });
            rows.len() - 1
        };
        let touch = |phases: &mut Vec<PhaseSpan>, phase: PhaseId, ms: i64| match phases
            .iter_mut()
            .rev()
            .find(|p| p.phase == phase)
        {
            Some(p) => {
                p.start_ms = p.start_ms.min(ms);
                p.end_ms = p.end_ms.max(ms);
            }
            None => phases.push(PhaseSpan {
                phase,
                start_ms: ms,
                end_ms: ms,
                message: None,
            }),
        };
        for e in entries {
            let now = at(e);
            match &e.event {
                Event::RunStarted {
                    run_id,
                    cluster,
                    from,
                    to,
                    resumed,
                    ..
                } => {
                    if t.run_id.is_empty() {
                        t.run_id = run_id.clone();
                        t.cluster = cluster.clone();
                        t.from = from.clone();
                    }
                    t.to = to.clone();
                    t.marks.push(Mark {
                        kind: MarkKind::Started,
                        at_ms: now,
                        text: if *resumed {
                            "resumed".into()
                        } else {
                            format!("started: {from} → {to}")
                        },
                    });
                }
                Event::PhaseStarted { phase } => touch(&mut phases, *phase, now),
                Event::PhaseDone { phase, message } => {
                    touch(&mut phases, *phase, now);
                    if let Some(p) = phases.iter_mut().rev().find(|p| p.phase == *phase) {
                        p.message = Some(message.clone());
                    }
                }
                Event::StepIntent {
                    step,
                    node,
                    container,
                    op_id,
                    ..
                } => {
                    intents.insert(
                        op_id.clone(),
                        (step.clone(), node.clone(), container.clone(), now),
                    );
                    row(&mut rows, container, node);
                    if let Some(p) = phase_of(step) {
                        touch(&mut phases, p, now);
                    }
                }
                Event::StepDone {
                    step,
                    op_id,
                    action_ms,
                    gate_before_ms,
                    gate_after_ms,
                    ..
                } => {
                    let Some((_, node, container, intent)) = intents.get(op_id).cloned() else {
                        continue;
                    };
                    let (action, before, after) = (
                        *action_ms as i64,
                        *gate_before_ms as i64,
                        *gate_after_ms as i64,
                    );
                    let i = row(&mut rows, &container, &node);
                    let seg = |kind, start_ms, end_ms| Segment {
                        step: step.clone(),
                        kind,
                        start_ms,
                        end_ms,
                    };
                    // The intent is journaled after the gate before and just before the agent
                    // is called; the done record after the gate after passed.
                    let acted = intent + action;
                    rows[i].segments.extend([
                        seg(SegmentKind::GateBefore, intent - before, intent),
                        seg(SegmentKind::Recreate, intent, acted),
                        seg(SegmentKind::GateAfter, acted, acted + after),
                    ]);
                    if let Some(p) = phase_of(step) {
                        touch(&mut phases, p, now);
                        touch(&mut phases, p, intent - before);
                        gates.entry(p).or_default().push((
                            before as f64 / 1000.0,
                            (action + after) as f64 / 1000.0,
                            after as f64 / 1000.0,
                        ));
                    }
                }
                Event::StepFailed { step, op_id, .. } => {
                    if let Some((_, node, container, intent)) = intents.get(op_id).cloned() {
                        let i = row(&mut rows, &container, &node);
                        rows[i].segments.push(Segment {
                            step: step.clone(),
                            kind: SegmentKind::Failed,
                            start_ms: intent,
                            end_ms: now,
                        });
                    }
                    failed_at.insert(step.clone(), now);
                }
                Event::RolledBack {
                    step, container, ..
                } => {
                    let i = row(&mut rows, container, "");
                    let start = failed_at.remove(step).unwrap_or(now);
                    rows[i].segments.push(Segment {
                        step: step.clone(),
                        kind: SegmentKind::Rollback,
                        start_ms: start,
                        end_ms: now,
                    });
                }
                Event::BumpConfirmed { how } => t.marks.push(Mark {
                    kind: MarkKind::PointOfNoReturn,
                    at_ms: now,
                    text: format!("point of no return: IBP bump confirmed ({how})"),
                }),
                Event::Halted { reason, .. } => t.marks.push(Mark {
                    kind: MarkKind::Halted,
                    at_ms: now,
                    text: format!("halted: {reason}"),
                }),
                Event::Finished { seconds } => t.marks.push(Mark {
                    kind: MarkKind::Finished,
                    at_ms: now,
                    text: format!("finished ({seconds:.1} s this invocation)"),
                }),
                Event::Note { step, message } => {
                    t.notes.push((now, step.clone(), message.clone()));
                }
                Event::StepSkipped { .. } => {}
            }
        }
        t.rolls = phases
            .iter()
            .filter_map(|p| {
                let g = gates.get(&p.phase)?;
                let unavoidable: f64 = g.iter().map(|x| x.1).sum();
                let wall = (p.end_ms - p.start_ms) as f64 / 1000.0;
                Some(RollFigures {
                    phase: p.phase,
                    steps: g.len(),
                    wall_seconds: wall,
                    unavoidable_seconds: unavoidable,
                    overhead_ratio: (unavoidable > 0.0).then(|| wall / unavoidable),
                    gate_before_p50_seconds: median(g.iter().map(|x| x.0).collect()),
                    gate_before_max_seconds: max(&g.iter().map(|x| x.0).collect::<Vec<_>>()),
                    gate_after_p50_seconds: median(g.iter().map(|x| x.2).collect()),
                    gate_after_max_seconds: max(&g.iter().map(|x| x.2).collect::<Vec<_>>()),
                })
            })
            .collect();
        t.rows = rows;
        t.phases = phases;
        t
    }

    /// Adds the gates' observations (`samples.jsonl`) that fall within the run's span.
    pub fn with_samples(mut self, samples: &[Sample]) -> Self {
        self.partitions = samples
            .iter()
            .map(|s| {
                (
                    s.time_unix_ms - self.origin_unix_ms,
                    s.under_replicated,
                    s.offline,
                )
            })
            .filter(|(ms, ..)| (0..=self.span_ms).contains(ms))
            .collect();
        self
    }

    /// Every step's segments, in the order they happened.
    pub fn segments(&self) -> impl Iterator<Item = (&Row, &Segment)> {
        self.rows
            .iter()
            .flat_map(|r| r.segments.iter().map(move |s| (r, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, ms: i64, event: Event) -> Entry {
        Entry {
            seq,
            time_unix_ms: 1_000_000 + ms,
            event,
        }
    }

    fn intent(step: &str, container: &str, op: &str) -> Event {
        Event::StepIntent {
            step: step.into(),
            node: "node-1".into(),
            container: container.into(),
            op_id: op.into(),
            image: "kafka:7.7.1".into(),
        }
    }

    fn done(step: &str, op: &str, action: u64, before: u64, after: u64) -> Event {
        Event::StepDone {
            step: step.into(),
            op_id: op.into(),
            action_ms: action,
            gate_before_ms: before,
            gate_after_ms: after,
            back_during_action_ms: None,
        }
    }

    fn started(resumed: bool) -> Event {
        Event::RunStarted {
            run_id: "r1".into(),
            cluster: "lab".into(),
            from: "7.1.1".into(),
            to: "7.7.1".into(),
            pin_ibp: true,
            images: vec![],
            resumed,
        }
    }

    #[test]
    fn a_done_step_is_gate_before_then_recreate_then_catch_up_ending_at_its_record() {
        let t = Timeline::from_journal(&[
            entry(1, 0, started(false)),
            entry(
                2,
                1_000,
                Event::PhaseStarted {
                    phase: PhaseId::RollBrokers,
                },
            ),
            entry(3, 3_000, intent("roll-brokers/kafka-1", "kafka-1", "op1")),
            entry(
                4,
                9_000,
                done("roll-brokers/kafka-1", "op1", 4_000, 2_000, 2_000),
            ),
        ]);
        assert_eq!(t.rows.len(), 1);
        let s: Vec<(SegmentKind, i64, i64)> = t.rows[0]
            .segments
            .iter()
            .map(|s| (s.kind, s.start_ms, s.end_ms))
            .collect();
        assert_eq!(
            s,
            vec![
                (SegmentKind::GateBefore, 1_000, 3_000),
                (SegmentKind::Recreate, 3_000, 7_000),
                (SegmentKind::GateAfter, 7_000, 9_000),
            ]
        );
        assert_eq!(t.span_ms, 9_000);
        let roll = &t.rolls[0];
        assert_eq!(roll.phase, PhaseId::RollBrokers);
        assert_eq!(roll.wall_seconds, 8.0);
        assert_eq!(roll.unavoidable_seconds, 6.0);
        assert_eq!(roll.overhead_ratio, Some(8.0 / 6.0));
        assert_eq!(roll.gate_before_max_seconds, 2.0);
    }

    #[test]
    fn failures_rollbacks_halts_the_point_of_no_return_and_resumes_are_marked() {
        let t = Timeline::from_journal(&[
            entry(1, 0, started(false)),
            entry(2, 1_000, intent("roll-brokers/kafka-2", "kafka-2", "op2")),
            entry(
                3,
                5_000,
                Event::StepFailed {
                    step: "roll-brokers/kafka-2".into(),
                    op_id: "op2".into(),
                    error: "gate".into(),
                    left_as_before: false,
                },
            ),
            entry(
                4,
                8_000,
                Event::RolledBack {
                    step: "roll-brokers/kafka-2".into(),
                    container: "kafka-2".into(),
                    image: "kafka:7.1.1".into(),
                    healed: Some(true),
                },
            ),
            entry(
                5,
                9_000,
                Event::Halted {
                    reason: "gate failed".into(),
                    advice: "x".into(),
                },
            ),
            entry(6, 60_000, started(true)),
            entry(
                7,
                61_000,
                Event::BumpConfirmed {
                    how: "--yes".into(),
                },
            ),
            entry(8, 62_000, Event::Finished { seconds: 2.0 }),
        ]);
        let kinds: Vec<SegmentKind> = t.rows[0].segments.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![SegmentKind::Failed, SegmentKind::Rollback]);
        assert_eq!(
            (t.rows[0].segments[1].start_ms, t.rows[0].segments[1].end_ms),
            (5_000, 8_000)
        );
        let marks: Vec<MarkKind> = t.marks.iter().map(|m| m.kind).collect();
        assert_eq!(
            marks,
            vec![
                MarkKind::Started,
                MarkKind::Halted,
                MarkKind::Started,
                MarkKind::PointOfNoReturn,
                MarkKind::Finished
            ]
        );
        assert_eq!(t.marks[2].text, "resumed");
        assert!(t.rolls.is_empty(), "no step of that roll finished");
    }

    #[test]
    fn samples_outside_the_runs_span_are_left_out() {
        let t = Timeline::from_journal(&[
            entry(1, 0, started(false)),
            entry(2, 10_000, Event::Finished { seconds: 10.0 }),
        ])
        .with_samples(&[
            Sample {
                time_unix_ms: 999_000,
                partitions: 3,
                under_replicated: 1,
                offline: 0,
            },
            Sample {
                time_unix_ms: 1_004_000,
                partitions: 3,
                under_replicated: 2,
                offline: 1,
            },
            Sample {
                time_unix_ms: 1_011_000,
                partitions: 3,
                under_replicated: 0,
                offline: 0,
            },
        ]);
        assert_eq!(t.partitions, vec![(4_000, 2, 1)]);
    }

    #[test]
    fn an_empty_journal_is_an_empty_timeline() {
        let t = Timeline::from_journal(&[]);
        assert!(t.rows.is_empty() && t.marks.is_empty() && t.span_ms == 0);
    }
}
