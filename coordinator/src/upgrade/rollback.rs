//! `kroll rollback`: undo an unfinished run before its IBP bump — every container the run
//! recreated goes back to the definition its agent kept, newest first, with the same gates as
//! the upgrade (a broker stops only when it is safe, and must rejoin before the next).

use std::collections::BTreeSet;
use std::time::Instant;

use super::actions::NodeActions;
use super::engine::{ConnectPhases, Engine, Halt, Observe};
use super::gates::{self, Verdict};
use super::journal::Event;
use super::view::ClusterView;
use kroll_shared::inventory::ServiceKind;

/// A container the run recreated: (step id, node, container).
pub type Recreated = (String, String, String);

/// The containers a journal says were recreated, newest first; refuses when the IBP bump began.
pub fn to_undo(entries: &[super::journal::Entry]) -> Result<Vec<Recreated>, Halt> {
    if entries
        .iter()
        .any(|e| matches!(e.event, Event::BumpConfirmed { .. }))
    {
        return Err(Halt::new(
            "this run already began the inter.broker.protocol.version bump: the brokers' on-disk formats may be new, so rolling back would lose data",
            "finish the run with `kroll upgrade --resume --yes`",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for e in entries.iter().rev() {
        match &e.event {
            // Already back on its previous definition (an automatic rollback after a failure).
            Event::RolledBack { container, .. } => {
                seen.insert(container.clone());
            }
            Event::StepIntent {
                step,
                node,
                container,
                ..
            } if seen.insert(container.clone()) => {
                out.push((step.clone(), node.clone(), container.clone()));
            }
            _ => {}
        }
    }
    Ok(out)
}

impl<O: Observe, A: NodeActions, C: ConnectPhases> Engine<'_, O, A, C> {
    /// Rolls back every container of `undo`, gated like an upgrade step.
    pub async fn rollback_all(&mut self, undo: &[Recreated]) -> Result<(), Halt> {
        self.progress.phase(&format!(
            "Rolling back {} container(s), newest first",
            undo.len()
        ));
        let allow = self.settings.allow_min_isr_violation;
        for (step, node, container) in undo {
            let view = self.observe().await;
            let broker = broker_id(&view, container);
            if let Some(id) = broker {
                self.wait_for(
                    &format!("broker {id} safe to stop"),
                    self.settings.gate_timeout,
                    |v| gates::safe_to_stop(v, id, allow),
                )
                .await?;
            }
            let began = Instant::now();
            let op = format!("{}/{step}/rollback", self.run.run_id());
            let kind = if broker.is_some() {
                Some(ServiceKind::Broker)
            } else {
                None
            };
            self.forget_observations();
            let r = self
                .actions
                .rollback(node, &op, container, self.stop_timeout_of(kind))
                .await
                .map_err(|e| {
                    Halt::new(
                        format!("rolling back `{container}` failed: {e}"),
                        "inspect with `kroll status`; run `kroll rollback` again when fixed",
                    )
                })?;
            self.journal(Event::RolledBack {
                step: step.clone(),
                container: container.clone(),
                image: r.restored_image.clone(),
            });
            let limit = match broker {
                Some(id) => self.broker_limit(&view, id),
                None => self.settings.gate_timeout,
            };
            let name = container.clone();
            self.wait_for(
                &format!("{container} back in service"),
                limit,
                |v| match broker_id(v, &name) {
                    Some(id) => gates::rejoined(v, id),
                    None => match v.service(&name) {
                        Some(s) if s.running() => Verdict::Pass,
                        _ => Verdict::Wait(vec![format!("{name} is not running")]),
                    },
                },
            )
            .await?;
            self.progress.line(&format!(
                "  {container} on {node}: back on {} ({:.1}s)",
                r.restored_image,
                began.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    }
}

fn broker_id(view: &ClusterView, container: &str) -> Option<i32> {
    view.service(container)
        .filter(|s| s.kind == ServiceKind::Broker)
        .and_then(|s| s.broker_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upgrade::journal::Entry;

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

    #[test]
    fn undo_is_newest_first_once_per_container_and_refused_after_the_bump() {
        let j = vec![
            e(intent("zk")),
            e(intent("kafka-01")),
            e(intent("kafka-02")),
            e(intent("kafka-01")),
        ];
        let names: Vec<String> = to_undo(&j)
            .expect("undo")
            .into_iter()
            .map(|r| r.2)
            .collect();
        assert_eq!(names, ["kafka-01", "kafka-02", "zk"]);
        let mut healed = j.clone();
        healed.push(e(Event::RolledBack {
            step: "s/kafka-01".into(),
            container: "kafka-01".into(),
            image: "old".into(),
        }));
        let names: Vec<String> = to_undo(&healed)
            .expect("undo")
            .into_iter()
            .map(|r| r.2)
            .collect();
        assert_eq!(
            names,
            ["kafka-02", "zk"],
            "an automatic rollback already undid kafka-01"
        );
        let mut bumped = j.clone();
        bumped.push(e(Event::BumpConfirmed {
            how: "--yes".into(),
        }));
        let err = to_undo(&bumped).expect_err("refused");
        assert!(err.reason.contains("would lose data"), "{err}");
    }
}
