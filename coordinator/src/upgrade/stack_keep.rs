//! Keeping the Swarm stack file true (see [`super::stack_file`] for the pure decisions):
//! pre-flight's comparison of the live services with the file, the rewrite after each phase
//! and on a halt, and — after `kroll rollback` — the file put back to what the services run.
//! Every printed or kept diff shows only the changed lines, through
//! [`stack_file::shown_line`].

use super::actions::NodeActions;
use super::decide::Halt;
use super::engine::{ConnectPhases, Engine, Observe};
use super::journal::Event;
use super::plan::{Plan, PlanError, PlanOptions, plan};
use super::stack_file::{self, StackKeeper};
use super::view::ClusterView;
use kroll_stack::StackFile;

/// The name prefix of the texts a rewrite replaced, kept in the run directory
/// (`stack-file.<journal length>.yml`).
const KEPT_PREFIX: &str = "stack-file.";
/// The run directory's file with the digest of the text kroll last wrote.
const WRITTEN: &str = "stack-file.written";

/// The first text a run's rewrites replaced (the file as the run found it), by name.
fn first_kept(run: &std::path::Path) -> Option<String> {
    std::fs::read_dir(run)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: u64 = name
                .strip_prefix(KEPT_PREFIX)?
                .strip_suffix(".yml")?
                .parse()
                .ok()?;
            Some((n, name))
        })
        .min()
        .map(|(_, name)| name)
}

impl<O: Observe, A: NodeActions, C: ConnectPhases> Engine<'_, O, A, C> {
    /// Pre-flight's stack-file check (see [`stack_file`]): the live services must be the file
    /// plus what the cluster shows kroll did; a refusal names every difference.
    pub(crate) async fn check_stack_file(&mut self) -> Result<(), Halt> {
        let Some(keeper) = self.stack.clone() else {
            return Ok(());
        };
        let untouched = "fix it and run again; nothing was touched";
        let file = keeper
            .load()
            .map_err(|e| Halt::new(e.to_string(), untouched))?;
        let view = self.observe().await;
        let plan = plan(&view, &self.opts).map_err(|e| Halt::new(e.to_string(), untouched))?;
        let state = self.run_state("kroll upgrade --resume")?;
        let live = self
            .observer
            .describe_stack(&keeper.stack)
            .await
            .map_err(|e| {
                Halt::new(
                    format!(
                        "the services of stack `{}` cannot be compared with {}: {e}",
                        keeper.stack,
                        keeper.path.display()
                    ),
                    "a manager's agent must answer (and allow the stack in [allow] stacks); then run again; nothing was touched",
                )
            })?;
        let running = keeper.images_of(view.services.iter().filter(|s| s.running()));
        let behind = keeper.tasks_behind_specs(
            &live.services,
            &running,
            &keeper.in_flight_services(&plan, &state),
        );
        if !behind.is_empty() {
            return Err(Halt::new(
                format!(
                    "services of stack `{}` do not run what their specs say:\n  - {}",
                    keeper.stack,
                    behind.join("\n  - ")
                ),
                "let Swarm finish the update (or undo it) until each service's task runs its spec, then run again; nothing was touched",
            ));
        }
        let left = keeper
            .unexplained_drift(
                &file,
                &plan,
                &state,
                &self.settings.policy(),
                &live.services,
                |f, l| live.same_value(f, l),
            )
            .map_err(|e| Halt::new(e.to_string(), untouched))?;
        if !left.is_empty() {
            return Err(Halt::new(
                stack_file::refusal(&keeper.path, &left),
                stack_file::REFUSAL_ADVICE,
            ));
        }
        self.stack_checked = true;
        let message = format!(
            "the {} services of stack `{}` match {} ({} step(s) of this upgrade done)",
            live.services.len(),
            keeper.stack,
            keeper.path.display(),
            stack_file::done_steps(&plan).count()
        );
        self.progress.line(&message);
        self.journal(Event::Note {
            step: "stack-file".into(),
            message,
        })
    }

    /// Rewrites the stack file with the changes of every step `plan` shows done — of the phases
    /// wholly done only, at a phase boundary (`whole_phases`) — (nothing when it already says
    /// so), keeping the text it replaces in the run directory and printing the diff. Only once
    /// pre-flight found the file and the services in agreement.
    pub(crate) fn keep_stack_file(
        &mut self,
        plan: &Plan,
        view: &ClusterView,
        whole_phases: bool,
    ) -> Result<(), Halt> {
        let Some(keeper) = self.stack.clone().filter(|_| self.stack_checked) else {
            return Ok(());
        };
        let halt = |why: String| {
            Halt::new(
                why,
                "the services are as the run left them; fix the stack file's problem, then `kroll upgrade --resume` rewrites it (never redeploy the old file: it would undo the upgrade)",
            )
        };
        let file = keeper.load().map_err(|e| halt(e.to_string()))?;
        let policy = self.settings.policy();
        let steps: Vec<&super::plan::Step> = if whole_phases {
            stack_file::completed_phase_steps(plan).collect()
        } else {
            stack_file::done_steps(plan).collect()
        };
        let updated = keeper
            .with_steps_pinned(&file, &policy, steps, &keeper.running(view))
            .map_err(|e| halt(e.to_string()))?;
        self.replace_stack_file(
            &keeper,
            &file,
            &updated,
            "rewritten to match the services",
            &halt,
        )
    }

    /// Writes `updated` over the stack file that reads `file` (nothing when equal): the text it
    /// replaces kept owner-only in the run directory, the changed lines printed and appended
    /// to `stack-file.diff`, the new text's digest kept (`stack-file.written`: how a rollback
    /// knows nobody edited the file since), a journal note.
    fn replace_stack_file(
        &mut self,
        keeper: &StackKeeper,
        file: &StackFile,
        updated: &StackFile,
        what: &str,
        halt: &dyn Fn(String) -> Halt,
    ) -> Result<(), Halt> {
        if updated.text() == file.text() {
            return Ok(());
        }
        let name = keeper.path.display().to_string();
        // Only the changed lines, each through `shown_line`: a secret beside a changed line, or
        // in a renamed variable's value, is never printed or kept in the diff.
        let diff = kroll_stack::changed_lines_diff(
            file.text(),
            updated.text(),
            &name,
            &name,
            &stack_file::shown_line,
        );
        let kept = format!(
            "{KEPT_PREFIX}{}.yml",
            self.run.entries().map_or(0, |e| e.len())
        );
        self.run
            .write_private_file(&kept, file.text().as_bytes())
            .map_err(|e| {
                halt(format!(
                    "the stack file's previous text cannot be kept: {e}"
                ))
            })?;
        let mut diffs =
            std::fs::read_to_string(self.run.path().join("stack-file.diff")).unwrap_or_default();
        diffs.push_str(&diff);
        self.run
            .write_file("stack-file.diff", diffs.as_bytes())
            .map_err(|e| halt(format!("the stack file's diff cannot be kept: {e}")))?;
        keeper
            .write(updated.text())
            .map_err(|e| halt(e.to_string()))?;
        self.run
            .write_file(WRITTEN, stack_file::digest(updated.text()).as_bytes())
            .map_err(|e| halt(format!("the stack file's digest cannot be kept: {e}")))?;
        let changed = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .count();
        self.progress.line(&format!(
            "Stack file {name} {what} ({changed} line(s); the text it replaced is {kept} in the run directory):\n{}",
            diff.trim_end()
        ));
        self.journal(Event::Note {
            step: "stack-file".into(),
            message: format!("{what}: {name} ({changed} line(s) changed; previous text {kept})"),
        })
    }

    /// After `kroll rollback`: the stack file put back to what the services run — the text the
    /// run started from (the first one it kept) with the changes of the steps the cluster still
    /// shows done —, written only when the live services agree with that exactly. Left alone,
    /// saying why, when someone edited the file since kroll last wrote it or the services
    /// disagree; nothing to do when the run never rewrote it.
    pub(crate) async fn restore_stack_file(&mut self) -> Result<(), Halt> {
        let Some(keeper) = self.stack.clone() else {
            return Ok(());
        };
        let Some(first) = first_kept(self.run.path()) else {
            return Ok(());
        };
        let left_alone = |why: String| {
            Halt::new(
                format!("the stack file was not put back: {why}"),
                format!(
                    "make {} say what the services run (the text the run started from is {first} in the run directory); never redeploy a file that names the target images",
                    keeper.path.display()
                ),
            )
        };
        let current = keeper.load().map_err(|e| left_alone(e.to_string()))?;
        let written = std::fs::read_to_string(self.run.path().join(WRITTEN)).unwrap_or_default();
        if written.trim() != stack_file::digest(current.text()) {
            return Err(left_alone(format!(
                "{} was changed since kroll last wrote it",
                keeper.path.display()
            )));
        }
        let text = std::fs::read_to_string(self.run.path().join(&first))
            .map_err(|e| left_alone(format!("{first}: {e}")))?;
        let original = StackFile::parse(text, keeper.path.display().to_string())
            .map_err(|e| left_alone(format!("{first}: {e}")))?;
        let (view, plan) = self.observed_plan().await;
        let plan = plan.map_err(|e| left_alone(e.to_string()))?;
        let policy = self.settings.policy();
        let live = self
            .observer
            .describe_stack(&keeper.stack)
            .await
            .map_err(|e| left_alone(format!("stack `{}`: {e}", keeper.stack)))?;
        // No step is in flight after a rollback: the services must be exactly what is written.
        let target = keeper
            .restored(
                &original,
                &policy,
                stack_file::done_steps(&plan),
                &keeper.running(&view),
                &live.services,
            )
            .map_err(|e| left_alone(e.to_string()))?;
        let drift = keeper
            .drift_from(&target, &live.services, |f, l| live.same_value(f, l))
            .map_err(|e| left_alone(e.to_string()))?;
        if !drift.is_empty() {
            return Err(left_alone(stack_file::refusal(&keeper.path, &drift)));
        }
        self.replace_stack_file(
            &keeper,
            &current,
            &target,
            "put back to what the services run",
            &left_alone,
        )
    }

    /// A fresh observation and the plan a resumed run makes from it (every step the cluster
    /// shows done is marked so).
    async fn observed_plan(&self) -> (ClusterView, Result<Plan, PlanError>) {
        let view = self.observe().await;
        let opts = PlanOptions {
            resuming: true,
            ..self.opts.clone()
        };
        let plan = plan(&view, &opts);
        (view, plan)
    }

    /// [`Self::keep_stack_file`] from a fresh observation (after a halt).
    pub(crate) async fn keep_stack_file_observed(&mut self) -> Result<(), Halt> {
        let (view, plan) = self.observed_plan().await;
        match plan {
            Ok(p) => self.keep_stack_file(&p, &view, false),
            Err(e) => Err(Halt::new(
                format!("the stack file was not rewritten: {e}"),
                "`kroll upgrade --resume` rewrites it",
            )),
        }
    }
}
