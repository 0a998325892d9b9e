//! One container step of the upgrade (skip / gate / recreate / gate / journal, with rollback on
//! failure), the image pre-pull, and the post-checks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use kroll_shared::inventory::ServiceKind;

use super::actions::NodeActions;
use super::engine::{ConnectPhases, Engine, Halt, Observe, Scope};
use super::gates::{self, Verdict};
use super::journal::Event;
use super::plan::{Change, Plan, Step};
use super::view::{ClusterView, ServiceView};

/// Does the container already have the step's desired definition (and run)?
pub fn holds(s: &ServiceView, change: &Change) -> bool {
    let Some(c) = &s.container else { return false };
    // Values the agent reports are compared; for the others (never secret-bearing planning
    // values) the variable's presence is what can be checked.
    let env_ok = change
        .env
        .set
        .iter()
        .all(|(k, v)| c.env.get(k).map_or(c.env_keys.contains(k), |x| x == v))
        && change.env.rename.keys().all(|k| !c.env_keys.contains(k))
        && change.env.remove.iter().all(|k| !c.env_keys.contains(k));
    let host_ok = change.hostname.as_ref().is_none_or(|h| *h == c.hostname);
    c.image == change.image && env_ok && host_ok
}

/// Brokers are judged by Kafka alone (registered in ZooKeeper and in ISR implies running);
/// other services by what their agent reports.
fn scope_of(kind: Option<ServiceKind>) -> Scope {
    if kind == Some(ServiceKind::Broker) {
        Scope::Kafka
    } else {
        Scope::Full
    }
}

/// A service's gate after its start.
fn after_gate(s: &ServiceView, view: &ClusterView, kind: Option<ServiceKind>) -> Verdict {
    let Some(now) = view.service(&s.name) else {
        return Verdict::Wait(vec![format!("{} is not in the view", s.name)]);
    };
    match (kind, now.broker_id) {
        // Registered and in ISR: the broker runs (its container state may be from before).
        (Some(ServiceKind::Broker), Some(id)) => gates::rejoined(view, id),
        _ if !now.running() => Verdict::Wait(vec![running_state(now)]),
        (Some(ServiceKind::Zookeeper), _) => gates::cluster_healthy(view),
        _ => match now.container.as_ref().map(|c| c.health) {
            Some(kroll_shared::model::Health::Starting) => {
                Verdict::Wait(vec![format!("{} health check is starting", now.name)])
            }
            Some(kroll_shared::model::Health::Unhealthy) => {
                Verdict::Wait(vec![format!("{} is unhealthy", now.name)])
            }
            _ => Verdict::Pass,
        },
    }
}

fn running_state(s: &ServiceView) -> String {
    match &s.container {
        None => format!("container {} is not there", s.name),
        Some(c) => format!(
            "container {} is {} (exit {}, restarts {})",
            s.name,
            c.status.as_str(),
            c.exit_code,
            c.restart_count
        ),
    }
}

impl<O: Observe, A: NodeActions, C: ConnectPhases> Engine<'_, O, A, C> {
    /// One container step.
    pub(crate) async fn step(&mut self, step: &Step) -> Result<(), Halt> {
        let Some(change) = &step.change else {
            return Ok(());
        };
        let view = self.observe().await;
        let svc = view.service(&step.container).cloned().ok_or_else(|| {
            Halt::new(
                format!(
                    "container `{}` is not in the inventory any more",
                    step.container
                ),
                "restore the inventory",
            )
        })?;
        if !svc.agent_reachable {
            let why = view
                .unreachable
                .get(&step.node)
                .cloned()
                .unwrap_or_default();
            return Err(Halt::new(
                format!(
                    "the agent of node `{}` cannot be reached ({why}); no further action was taken",
                    step.node
                ),
                "bring the agent back, then run `kroll upgrade --resume` (the run re-reads every node's real state)",
            ));
        }
        if holds(&svc, change) {
            return self.settle_done(step, &svc).await;
        }
        let gate_began = Instant::now();
        self.gate_before(step, &svc, &view).await?;
        let gate_before = gate_began.elapsed();
        let op_id = format!("{}/{}", self.run.run_id(), step.id);
        self.journal(Event::StepIntent {
            step: step.id.clone(),
            node: step.node.clone(),
            container: step.container.clone(),
            op_id: op_id.clone(),
            image: change.image.clone(),
        });
        self.progress.step(&format!(
            "{} on {}: → {}",
            step.container, step.node, change.image
        ));
        let acted = Instant::now();
        let stop_timeout = self.stop_timeout_of(step.kind);
        self.forget_observations();
        if let Err(e) = self
            .actions
            .recreate(&step.node, &op_id, &step.container, change, stop_timeout)
            .await
        {
            self.journal(Event::StepFailed {
                step: step.id.clone(),
                op_id: op_id.clone(),
                error: e.to_string(),
            });
            let reason = format!("recreating `{}` failed: {e}", step.container);
            if e.left_as_before() {
                // The agent changed nothing or put the previous container back: a rollback now
                // would bring back what an earlier recreate kept.
                return Err(Halt::new(
                    reason,
                    format!(
                        "`{}` was left running as it was; fix the cause, then `kroll upgrade --resume`",
                        step.container
                    ),
                ));
            }
            return Err(self.fail(step, &svc, reason).await);
        }
        let action = acted.elapsed();
        // The partitions a broker hosts did not change with its restart: the limit and the
        // agents' part of the view come from before it; Kafka's is read afresh at every poll.
        let limit = self.limit(&view, &svc);
        let what = format!("{} back in service", step.container);
        let kind = step.kind;
        let scope = scope_of(kind);
        let start = (scope == Scope::Kafka).then(|| view.clone());
        let gate = self
            .wait_from(&what, limit, scope, start, |v| after_gate(&svc, v, kind))
            .await;
        let gate_after = match gate {
            Ok((waited, _)) => waited,
            Err(h) => {
                self.journal(Event::StepFailed {
                    step: step.id.clone(),
                    op_id,
                    error: h.reason.clone(),
                });
                return Err(self.fail(step, &svc, h.reason).await);
            }
        };
        self.journal(Event::StepDone {
            step: step.id.clone(),
            op_id,
            action_ms: ms(action),
            gate_before_ms: ms(gate_before),
            gate_after_ms: ms(gate_after),
        });
        self.progress
            .done(&step.container, action, gate_before, gate_after);
        Ok(())
    }

    /// A step found already done: a broker is still waited for (it may be catching up or in
    /// log recovery — never restarted again).
    async fn settle_done(&mut self, step: &Step, svc: &ServiceView) -> Result<(), Halt> {
        let view = self.observe().await;
        let limit = self.limit(&view, svc);
        let kind = step.kind;
        let (waited, _) = self
            .wait_for(
                &format!(
                    "{} (already on its new definition) back in service",
                    step.container
                ),
                limit,
                |v| after_gate(svc, v, kind),
            )
            .await?;
        self.journal(Event::StepSkipped {
            step: step.id.clone(),
            reason: format!(
                "already done (waited {:.1}s for it to be in service)",
                waited.as_secs_f64()
            ),
        });
        self.progress.line(&format!(
            "  {} already on its new definition — not restarted",
            step.container
        ));
        Ok(())
    }

    async fn gate_before(
        &mut self,
        step: &Step,
        svc: &ServiceView,
        view: &ClusterView,
    ) -> Result<(), Halt> {
        let allow = self.settings.allow_min_isr_violation;
        let limit = self.settings.gate_timeout;
        match (step.kind, svc.broker_id) {
            (Some(ServiceKind::Broker), Some(id)) => {
                self.wait_from(
                    &format!("broker {id} safe to stop"),
                    limit,
                    Scope::Kafka,
                    Some(view.clone()),
                    |v| gates::safe_to_stop(v, id, allow),
                )
                .await?;
            }
            (Some(ServiceKind::Zookeeper), _) => {
                self.wait_for(
                    "cluster healthy before ZooKeeper restarts",
                    limit,
                    gates::cluster_healthy,
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    fn limit(&self, view: &ClusterView, svc: &ServiceView) -> Duration {
        match svc.broker_id {
            Some(id) => self.broker_limit(view, id),
            None => self.settings.gate_timeout,
        }
    }

    /// A failed step: roll the node back when allowed, then halt with what happened.
    async fn fail(&mut self, step: &Step, svc: &ServiceView, reason: String) -> Halt {
        if self.bumped || !self.settings.auto_rollback {
            let why = if self.bumped {
                "after the IBP bump a rollback would downgrade the protocol"
            } else {
                "automatic rollback is off"
            };
            return Halt::new(
                reason,
                format!(
                    "`{}` was left as it is ({why}); inspect it (`kroll status`), fix the cause, then `kroll upgrade --resume`",
                    step.container
                ),
            );
        }
        let op = format!("{}/{}/rollback", self.run.run_id(), step.id);
        self.progress.line(&format!(
            "  rolling {} back to its previous definition",
            step.container
        ));
        self.forget_observations();
        match self
            .actions
            .rollback(
                &step.node,
                &op,
                &step.container,
                self.stop_timeout_of(step.kind),
            )
            .await
        {
            Ok(r) => {
                self.journal(Event::RolledBack {
                    step: step.id.clone(),
                    container: step.container.clone(),
                    image: r.restored_image.clone(),
                });
                let view = self.observe().await;
                let limit = self.limit(&view, svc);
                let kind = step.kind;
                let healed = self
                    .wait_for(
                        &format!("{} back in service after rollback", step.container),
                        limit,
                        |v| after_gate(svc, v, kind),
                    )
                    .await;
                let state = if healed.is_ok() {
                    "the cluster is healthy again"
                } else {
                    "but it is not healthy yet — check `kroll status`"
                };
                Halt::new(
                    reason,
                    format!(
                        "`{}` was rolled back to {} and {state}; fix the cause, then `kroll upgrade --resume` (or `kroll rollback` to undo the whole run)",
                        step.container, r.restored_image
                    ),
                )
            }
            Err(e) => Halt::new(
                reason,
                format!(
                    "the automatic rollback of `{}` failed too ({e}); act by hand: `kroll status`, then `kroll rollback`",
                    step.container
                ),
            ),
        }
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
                    actions.pull(node, &op, image).await.map_err(|e| {
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

    /// After the last phase: every step's definition in place, the cluster healthy.
    pub(crate) async fn post_checks(&mut self, plan: &Plan) -> Result<(), Halt> {
        let (_, view) = self
            .wait_for(
                "post-check: cluster healthy",
                self.settings.gate_timeout,
                gates::cluster_healthy,
            )
            .await?;
        let mut wrong = Vec::new();
        for step in plan.phases.iter().flat_map(|p| &p.steps) {
            if let (Some(c), Some(s)) = (&step.change, view.service(&step.container))
                // Roll 1's definitions are superseded by the IBP bump's.
                && !step.id.starts_with("roll-brokers/")
                && !holds(s, c)
            {
                wrong.push(format!("{} is not on {}", step.container, c.image));
            }
        }
        if !wrong.is_empty() {
            return Err(Halt::new(
                format!("post-check failed: {}", wrong.join("; ")),
                "inspect with `kroll status`, then `kroll upgrade --resume`",
            ));
        }
        if let Some(connect) = self.observer.observe_connect().await {
            crate::connect::health::post_check(&connect)
                .map_err(|e| Halt::new(e.to_string(), e.advice()))?;
        }
        self.journal(Event::Note {
            step: "post-checks".into(),
            message: "passed".into(),
        });
        Ok(())
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
