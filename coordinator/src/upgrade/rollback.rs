//! `kroll rollback`: undo an unfinished run before its IBP bump — every container the run
//! recreated goes back to the definition its agent kept, newest first, with the same gates as
//! the upgrade (a broker stops only when it is safe, and must rejoin before the next). What to
//! undo is a query on the run ([`RunState::undo`](super::run_state::RunState::undo)); before every container the refusal is
//! re-judged on a fresh observation ([`decide::rollback_refusal`]): once any broker runs a newer
//! IBP than the run started from, nothing is rolled back, whatever the journal says.

use std::time::Instant;

use super::actions::NodeActions;
use super::decide::{self, Halt};
use super::engine::{ConnectPhases, Engine, Observe};
use super::journal::Event;
use super::run_state::Intent;

impl<O: Observe, A: NodeActions, C: ConnectPhases> Engine<'_, O, A, C> {
    /// Rolls back every container `kroll rollback` has left to undo, gated like an upgrade step.
    pub async fn rollback_all(&mut self) -> Result<Vec<Intent>, Halt> {
        let policy = self.settings.policy();
        let mut undone = Vec::new();
        loop {
            let view = self.observe().await;
            let state = self.run_state("kroll rollback")?;
            if let Some(h) = decide::rollback_refusal(&view, &state) {
                return Err(h);
            }
            let Some(i) = state.undo().into_iter().next() else {
                return Ok(undone);
            };
            if undone.is_empty() {
                self.progress.phase(&format!(
                    "Rolling back {} container(s), newest first",
                    state.undo().len()
                ));
            }
            let Some(svc) = view.service(&i.container).cloned() else {
                return Err(Halt::new(
                    format!(
                        "container `{}` is not in the inventory any more",
                        i.container
                    ),
                    "restore the inventory, then `kroll rollback` again",
                ));
            };
            if let Some(before) = policy.gate_before(&svc) {
                self.wait_on(&before, policy.gate_timeout, view.clone())
                    .await?;
            }
            let began = Instant::now();
            let op = format!("{}/rollback", state.op_id(&i.step));
            self.forget_observations();
            let r = match self
                .actions
                .rollback(&i.node, &op, &i.container, policy.stop_timeout(svc.kind))
                .await
            {
                Ok(r) => r,
                // Its agent keeps no previous definition, and the container does not run what
                // the step was to put in place: the step never took effect (a coordinator
                // killed between its intent and its call). Nothing to undo.
                Err(e) if e.nothing_kept() && !runs_intended_image(&svc, &i) => {
                    let image = svc.image().unwrap_or_default().to_owned();
                    self.journal(Event::RolledBack {
                        step: i.step.clone(),
                        container: i.container.clone(),
                        image: image.clone(),
                        healed: Some(true),
                    })?;
                    self.progress.line(&format!(
                        "  {} on {}: its step never took effect (still on {image}); nothing to undo",
                        i.container, i.node
                    ));
                    undone.push(i);
                    continue;
                }
                Err(e) => {
                    return Err(Halt::new(
                        format!("rolling back `{}` failed: {e}", i.container),
                        "inspect with `kroll status`; run `kroll rollback` again when fixed",
                    ));
                }
            };
            self.journal(Event::RolledBack {
                step: i.step.clone(),
                container: i.container.clone(),
                image: r.restored_image.clone(),
                healed: None,
            })?;
            let limit = policy.gate_limit(&svc, &view);
            self.wait_on(&policy.gate_after(&svc), limit, view).await?;
            self.progress.line(&format!(
                "  {} on {}: back on {} ({:.1}s)",
                i.container,
                i.node,
                r.restored_image,
                began.elapsed().as_secs_f64()
            ));
            undone.push(i);
        }
    }
}

/// Whether `svc` runs the image intent `i` was to put in place (then its agent must have kept
/// the previous definition, and "nothing kept" is not believed).
fn runs_intended_image(svc: &super::view::ServiceView, i: &Intent) -> bool {
    svc.image()
        .is_some_and(|img| kroll_shared::model::runs_image(img, &i.image))
}
