//! Carrying out what [`super::decide::next`] says about one container: settle a step found
//! done (wait on its gate, record it), recreate one (gate before → journal intent → recreate
//! under its operation id, a broker's return watched for meanwhile → gate after, unless it
//! passed during the action → journal done; a failure is journaled and decided on next turn),
//! roll a failed node back; plus the image pre-pull and the post-checks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::actions::NodeActions;
use super::decide::{self, Halt, Policy, Recreate, RollBack, StepRef};
use super::engine::{ConnectPhases, Engine, Observe};
use super::gates::{self, Gate};
use super::journal::Event;
use super::plan::{PhaseId, Plan};
use super::view::ClusterView;

impl<O: Observe, A: NodeActions, C: ConnectPhases> Engine<'_, O, A, C> {
    /// A step found on its desired definition: a broker may still be catching up or in log
    /// recovery — it is waited for, never restarted again.
    pub(crate) async fn settle(
        &mut self,
        step: &StepRef,
        gate: &Gate,
        limit: Duration,
        view: ClusterView,
    ) -> Result<(), Halt> {
        let (waited, _) = self.wait_on(gate, limit, view).await?;
        self.journal(Event::StepSkipped {
            step: step.id.clone(),
            reason: format!(
                "already done (waited {:.1}s for it to be in service)",
                waited.as_secs_f64()
            ),
        })?;
        self.progress.line(&format!(
            "  {} already on its new definition — not restarted",
            step.container
        ));
        Ok(())
    }

    /// One recreate. A gate before that does not pass halts (nothing was stopped); a failed
    /// action or gate after is journaled for the next decision (roll back or halt).
    pub(crate) async fn recreate(&mut self, r: &Recreate, view: ClusterView) -> Result<(), Halt> {
        let step = &r.step;
        let gate_began = Instant::now();
        if let Some(before) = &r.before {
            self.wait_on(before, self.settings.gate_timeout, view.clone())
                .await
                .map_err(|h| {
                    Halt::new(
                        h.reason,
                        "nothing was stopped for this step; fix the cause and run `kroll upgrade --resume`",
                    )
                })?;
        }
        let gate_before = gate_began.elapsed();
        let intended = Instant::now();
        self.journal(Event::StepIntent {
            step: step.id.clone(),
            node: step.node.clone(),
            container: step.container.clone(),
            op_id: r.op_id.clone(),
            image: r.change.image.clone(),
        })?;
        self.progress.step(&format!(
            "{} on {}: → {}",
            step.container, step.node, r.change.image
        ));
        let acted = Instant::now();
        self.forget_observations();
        let actions = self.actions;
        let recreate = actions.recreate(
            &step.node,
            &r.op_id,
            &step.container,
            &r.change,
            r.stop_timeout,
        );
        // A broker's return is watched for while the action runs: the gate after may pass
        // before the agent's answer (its settle window), and then nothing is left to wait for.
        let (done, back_during) = match &r.after {
            Gate::Rejoined { broker } => {
                let watch = self.rejoin_during_action(*broker, &view);
                tokio::pin!(recreate, watch);
                let mut back = None;
                loop {
                    tokio::select! {
                        done = &mut recreate => break (done, back),
                        () = &mut watch, if back.is_none() => back = Some(intended.elapsed()),
                    }
                }
            }
            _ => (recreate.await, None),
        };
        if let Err(e) = done {
            let left_as_before = e.left_as_before();
            let error = format!("recreating `{}` failed: {e}", step.container);
            return self.step_failed(r, error, left_as_before);
        }
        let action = acted.elapsed();
        // The partitions a broker hosts did not change with its restart: the limit and the
        // agents' part of the view come from before it; Kafka's is read afresh at every poll.
        let gate_after = if back_during.is_some() {
            Duration::ZERO
        } else {
            match self.wait_on(&r.after, r.limit, view).await {
                Ok((waited, _)) => waited,
                Err(h) => return self.step_failed(r, h.reason, false),
            }
        };
        self.journal(Event::StepDone {
            step: step.id.clone(),
            op_id: r.op_id.clone(),
            action_ms: ms(action),
            gate_before_ms: ms(gate_before),
            gate_after_ms: ms(gate_after),
            back_during_action_ms: back_during.map(ms),
        })?;
        self.progress
            .done(&step.container, action, gate_before, gate_after);
        Ok(())
    }

    /// Resolves once [`gates::RejoinWatch`] sees `broker` back after its restart, polling
    /// Kafka at the confirmation pace; never otherwise (raced against the action).
    async fn rejoin_during_action(&self, broker: i32, view: &ClusterView) {
        let mut watch = gates::RejoinWatch::new(broker, self.settings.stable_observations);
        let mut view = view.clone();
        loop {
            match self.observer.observe_kafka().await {
                Ok(k) => {
                    view.kafka = Some(k);
                    view.kafka_error = None;
                }
                Err(e) => {
                    view.kafka = None;
                    view.kafka_error = Some(e);
                }
            }
            let back = watch.observe(&view);
            tracing::debug!(
                broker,
                back,
                verdict = %gates::rejoined(&view, broker),
                "rejoin watch observed"
            );
            if back {
                return;
            }
            tokio::time::sleep(self.settings.poll / 2).await;
        }
    }

    fn step_failed(
        &mut self,
        r: &Recreate,
        error: String,
        left_as_before: bool,
    ) -> Result<(), Halt> {
        self.journal(Event::StepFailed {
            step: r.step.id.clone(),
            op_id: r.op_id.clone(),
            error,
            left_as_before,
        })
    }

    /// Rolls a failed step's node back and waits for it; the run then halts with `failure`.
    pub(crate) async fn roll_back(&mut self, r: &RollBack, failure: String) -> Halt {
        let step = &r.step;
        self.progress.line(&format!(
            "  rolling {} back to its previous definition",
            step.container
        ));
        self.forget_observations();
        let rolled = self
            .actions
            .rollback(&step.node, &r.op_id, &step.container, r.stop_timeout)
            .await;
        let restored = match rolled {
            Ok(done) => done.restored_image,
            Err(e) => {
                return Halt::new(
                    failure,
                    format!(
                        "the automatic rollback of `{}` failed too ({e}); act by hand: `kroll status`, then `kroll rollback`",
                        step.container
                    ),
                );
            }
        };
        let journaled = self.journal(Event::RolledBack {
            step: step.id.clone(),
            container: step.container.clone(),
            image: restored.clone(),
            healed: None,
        });
        if let Err(h) = journaled {
            return h;
        }
        let view = self.observe().await;
        let healed = self.wait_on(&r.after, r.limit, view).await.is_ok();
        decide::rolled_back(failure, &step.container, &restored, Some(healed))
    }

    /// Every node gets the target images its services need before anything stops; missing ones
    /// are pulled, all nodes in parallel.
    pub(crate) async fn ensure_images(&mut self, plan: &Plan) -> Result<(), String> {
        let mut needed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for step in plan.phases.iter().flat_map(|p| &p.steps) {
            if let Some(c) = &step.change {
                needed
                    .entry(step.node.clone())
                    .or_default()
                    .insert(c.image.clone());
            }
        }
        let run_id = self.run.run_id();
        let actions = self.actions;
        let checks = needed.iter().map(|(node, images)| {
            let images: Vec<String> = images.iter().cloned().collect();
            let run_id = run_id.clone();
            async move {
                let (_, missing) = actions
                    .images_present(node, &images)
                    .await
                    .map_err(|e| e.to_string())?;
                for image in &missing {
                    let op = format!("{run_id}/pull/{node}/{image}");
                    actions.pull(node, &op, image, false).await.map_err(|e| {
                        format!(
                            "image {image} is missing on node `{node}` and could not be pulled: {e}"
                        )
                    })?;
                }
                Ok::<usize, String>(missing.len())
            }
        });
        let pulled: usize = join_all(checks)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .sum();
        self.progress.line(&format!(
            "  target images present on all {} nodes ({pulled} pulled)",
            needed.len()
        ));
        Ok(())
    }

    /// Before a fresh run plans: every target named only by a tag that moves (`reg/kafka`, the
    /// version in the image, not the tag) is pulled on a node running that kind, checked by its
    /// labels to be the target version, and pinned to its digest for the whole run (journaled
    /// with the run's images, so a resume uses the same digest). Changes nothing on a refusal.
    pub(crate) async fn resolve_targets(&mut self, view: &ClusterView) -> Result<(), Halt> {
        let untouched = "nothing was touched";
        for (kind, image, node) in super::plan::mutable_targets(view, &self.opts) {
            let op = format!("{}/resolve/{kind}", self.run.run_id());
            let pulled = self
                .actions
                .pull(&node, &op, &image, true)
                .await
                .map_err(|e| {
                    Halt::new(
                        format!("the {kind} target {image} cannot be pulled on node `{node}`: {e}"),
                        untouched,
                    )
                })?;
            let pinned =
                super::plan::pin_target(&image, &pulled.repo_digests, &pulled.labels, self.opts.to)
                    .map_err(|why| Halt::new(why, untouched))?;
            self.progress.line(&format!(
                "  {kind}: {image} is {} now; every node runs {pinned}",
                self.opts.to
            ));
            self.opts.images.insert(kind, pinned);
        }
        Ok(())
    }

    /// After the last phase: the cluster healthy, every step's definition in place.
    pub(crate) async fn post_checks(&mut self, plan: &Plan, policy: &Policy) -> Result<(), Halt> {
        let (_, view) = self
            .wait_for(
                "post-check: the cluster is healthy",
                policy.gate_timeout,
                gates::cluster_healthy,
            )
            .await
            .map_err(|h| {
                Halt::new(
                    h.reason,
                    "inspect with `kroll status`, then `kroll upgrade --resume`",
                )
            })?;
        let wrong: Vec<String> = plan
            .phases
            .iter()
            .flat_map(|p| &p.steps)
            .filter(|s| s.change.is_some() && !s.done)
            .map(|s| {
                let image = s.change.as_ref().map(|c| c.image.as_str()).unwrap_or("");
                format!("{} is not on its new definition ({image})", s.container)
            })
            .collect();
        let running: Vec<String> = view
            .services
            .iter()
            .filter(|s| !s.running())
            .map(|s| format!("{} is not running", s.name))
            .collect();
        let wrong = [wrong, running].concat();
        if !wrong.is_empty() {
            return Err(Halt::new(
                format!("post-check failed: {}", wrong.join("; ")),
                "inspect with `kroll status`, then `kroll upgrade --resume`",
            ));
        }
        // Connect is back for real: no connector or task FAILED, every worker answers.
        if let Some(connect) = self.observer.observe_connect().await {
            crate::connect::health::post_check(&connect)
                .map_err(|e| Halt::new(e.to_string(), e.advice()))?;
        }
        self.journal(Event::PhaseDone {
            phase: PhaseId::PostChecks,
            message: "passed".into(),
        })
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
