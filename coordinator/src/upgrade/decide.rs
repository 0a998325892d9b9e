//! The upgrade's decisions, in one pure function: [`next`] looks at the plan (derived from a
//! fresh observation), that observation, and what the run has done ([`RunState`], folded from
//! the journal), and says what to do next ([`Next`]). The engine only observes, carries the
//! answer out, journals it and asks again — so a coordinator restarted at any point decides
//! from what it sees, and every command (a fresh run, `--resume`, `kroll rollback`) is judged
//! by the same rules.
//!
//! It owns:
//! * the one "is this step satisfied by what is running" predicate ([`satisfied`]) the plan's
//!   `done` marks and the engine share — an IBP counts as satisfied by the same or a newer one,
//!   so no step ever lowers a broker's protocol;
//! * the point of no return, observed: once any broker runs the new IBP, no step sets an older
//!   one and nothing is rolled back ([`rollback_refusal`], the automatic rollback);
//! * controller last, the bump confirmation, and the per-kind policy ([`Policy`]): which gate
//!   comes before a stop and after a start, the stop timeout and the gate time limit.

use std::time::Duration;

use kroll_shared::inventory::ServiceKind;

use super::gates::Gate;
use super::plan::{Change, IBP_ENV, Phase, PhaseId, Plan, Step};
use super::run_state::RunState;
use super::version::{KafkaLine, Platform};
use super::view::{ClusterView, ServiceView};

/// Why a run stopped before the end. Nothing further is done; what is said here is also
/// journaled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Halt {
    pub reason: String,
    /// What the operator should do next.
    pub advice: String,
}

impl Halt {
    pub(crate) fn new(reason: impl Into<String>, advice: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            advice: advice.into(),
        }
    }
}

/// The per-kind policy and the operator's choices that decisions depend on.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// SIGTERM → SIGKILL for brokers (controlled shutdown needs time).
    pub broker_stop_timeout: Duration,
    /// SIGTERM → SIGKILL for other services.
    pub stop_timeout: Duration,
    /// Time limit of a gate: base …
    pub gate_timeout: Duration,
    /// … plus, for a broker, this much per partition it hosts.
    pub gate_timeout_per_partition: Duration,
    pub allow_min_isr_violation: bool,
    /// Roll a failed node back automatically (never past the point of no return).
    pub auto_rollback: bool,
    /// Connect's quiesce and resume are not performed.
    pub skip_connect: bool,
}

impl Policy {
    /// The gate before `svc` stops: a broker must be safe to stop; ZooKeeper waits for a
    /// healthy cluster; the others need nothing.
    pub fn gate_before(&self, svc: &ServiceView) -> Option<Gate> {
        match (svc.kind, svc.broker_id) {
            (ServiceKind::Broker, Some(broker)) => Some(Gate::SafeToStop {
                broker,
                allow_min_isr_violation: self.allow_min_isr_violation,
            }),
            (ServiceKind::Zookeeper, _) => Some(Gate::ClusterHealthy),
            _ => None,
        }
    }

    /// The gate after `svc` starts: a broker back in full ISR; ZooKeeper running with the
    /// cluster healthy; the others running (and healthy by their health check).
    pub fn gate_after(&self, svc: &ServiceView) -> Gate {
        let container = svc.name.clone();
        match (svc.kind, svc.broker_id) {
            (ServiceKind::Broker, Some(broker)) => Gate::Rejoined { broker },
            (ServiceKind::Zookeeper, _) => Gate::ZookeeperBack { container },
            _ => Gate::Running { container },
        }
    }

    /// SIGTERM → SIGKILL for `kind`.
    pub fn stop_timeout(&self, kind: ServiceKind) -> Duration {
        if kind == ServiceKind::Broker {
            self.broker_stop_timeout
        } else {
            self.stop_timeout
        }
    }

    /// A gate's time limit for `svc`: a broker's grows with the partitions it hosts.
    pub fn gate_limit(&self, svc: &ServiceView, view: &ClusterView) -> Duration {
        let Some(id) = svc.broker_id.filter(|_| svc.kind == ServiceKind::Broker) else {
            return self.gate_timeout;
        };
        let hosted = view.kafka.as_ref().map_or(0, |k| {
            k.partitions
                .iter()
                .filter(|p| p.replicas.contains(&id))
                .count()
        });
        self.gate_timeout
            + self.gate_timeout_per_partition * u32::try_from(hosted).unwrap_or(u32::MAX)
    }
}

/// The step a decision is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    pub id: String,
    pub node: String,
    pub container: String,
    pub kind: ServiceKind,
}

/// Replace a container: gate before, journal the intent, recreate, gate after.
#[derive(Debug, Clone, PartialEq)]
pub struct Recreate {
    pub step: StepRef,
    pub change: Change,
    pub op_id: String,
    pub stop_timeout: Duration,
    pub before: Option<Gate>,
    pub after: Gate,
    /// Time limit of each gate.
    pub limit: Duration,
}

/// Bring a failed step's container back to the definition its agent kept.
#[derive(Debug, Clone, PartialEq)]
pub struct RollBack {
    pub step: StepRef,
    pub op_id: String,
    pub stop_timeout: Duration,
    pub after: Gate,
    pub limit: Duration,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// The step's definition already holds: wait on its gate, then record it done.
    Settle {
        step: StepRef,
        gate: Gate,
        limit: Duration,
    },
    Recreate(Recreate),
    RollBack(RollBack),
    /// Connect's quiesce or resume ([`PhaseId::QuiesceConnect`] / [`PhaseId::ResumeConnect`]).
    ConnectPhase(PhaseId),
    /// Ask for (or take `--yes` as) the confirmation of the IBP bump, and journal it.
    ConfirmBump,
    PostChecks,
    Finished,
    Halt(Halt),
}

/// The IBP a broker runs by its container's environment, if set and readable.
pub fn observed_ibp(s: &ServiceView) -> Option<KafkaLine> {
    s.env(IBP_ENV).and_then(|v| KafkaLine::parse_ibp(v).ok())
}

/// Does the running container already have the step's desired definition? Values the agent
/// reports are compared; for the others (never secret-bearing planning values) the variable's
/// presence is what can be checked. An IBP is satisfied by the same or a newer one: no step
/// lowers a broker's protocol.
pub fn satisfied(s: &ServiceView, change: &Change) -> bool {
    let Some(c) = &s.container else { return false };
    let env_ok = change.env.set.iter().all(|(k, v)| match c.env.get(k) {
        Some(running) if k == IBP_ENV => {
            match (KafkaLine::parse_ibp(running), KafkaLine::parse_ibp(v)) {
                (Ok(running), Ok(wanted)) => running >= wanted,
                _ => running == v,
            }
        }
        Some(running) => running == v,
        None => c.env_keys.contains(k),
    }) && change.env.rename.keys().all(|k| !c.env_keys.contains(k))
        && change.env.remove.iter().all(|k| !c.env_keys.contains(k));
    let host_ok = change.hostname.as_ref().is_none_or(|h| *h == c.hostname);
    kroll_shared::model::runs_image(&c.image, &change.image) && env_ok && host_ok
}

/// Brokers on an IBP newer than `old`: the point of no return is behind them.
pub fn beyond(view: &ClusterView, old: KafkaLine) -> Vec<String> {
    view.brokers()
        .into_iter()
        .filter(|b| observed_ibp(b).is_some_and(|i| i > old))
        .map(|b| b.name.clone())
        .collect()
}

/// The IBP the run started from: the older of the run's first platform and the plan's.
fn old_ibp(plan: &Plan, run: &RunState) -> KafkaLine {
    run.from
        .and_then(Platform::kafka)
        .map_or(plan.from_ibp, |k| k.min(plan.from_ibp))
}

/// Why nothing of `run` may be rolled back, if so: the bump was confirmed, or — whatever the
/// journal says — a broker runs an IBP newer than the one the run started from.
pub fn rollback_refusal(view: &ClusterView, run: &RunState) -> Option<Halt> {
    if run.bump_confirmed {
        return Some(Halt::new(
            "this run already began the inter.broker.protocol.version bump: the brokers' on-disk formats may be new, so rolling back would lose data",
            "finish the run with `kroll upgrade --resume --yes`",
        ));
    }
    let old = run.from.and_then(Platform::kafka)?;
    let bumped = beyond(view, old);
    (!bumped.is_empty()).then(|| {
        Halt::new(
            format!(
                "{} already run an inter.broker.protocol.version newer than {old}, the one this run started from: the point of no return is behind, rolling back would downgrade the protocol",
                bumped.join(", ")
            ),
            "finish the run with `kroll upgrade --resume --yes`",
        )
    })
}

/// What to do next, from the plan of a fresh observation, that observation, and the run.
pub fn next(plan: &Plan, view: &ClusterView, run: &RunState, policy: &Policy) -> Next {
    if let Some(f) = &run.failed {
        return after_failure(f, plan, view, run, policy);
    }
    for phase in &plan.phases {
        let decided = match phase.id {
            PhaseId::Preflight => None,
            PhaseId::QuiesceConnect | PhaseId::ResumeConnect => (!policy.skip_connect
                && !run.phases_done.contains(&phase.id))
            .then_some(Next::ConnectPhase(phase.id)),
            PhaseId::PostChecks => (!run.post_checked).then_some(Next::PostChecks),
            _ => roll(phase, plan, view, run, policy),
        };
        if let Some(n) = decided {
            return n;
        }
    }
    Next::Finished
}

/// The halt after `container` was rolled back to `image` because of `failure`.
pub fn rolled_back(failure: String, container: &str, image: &str, healed: Option<bool>) -> Halt {
    let state = match healed {
        Some(true) => "the cluster is healthy again",
        Some(false) => "but it is not healthy yet — check `kroll status`",
        None => "its health is not known — check `kroll status`",
    };
    Halt::new(
        failure,
        format!(
            "`{container}` was rolled back to {image} and {state}; fix the cause, then `kroll upgrade --resume` (or `kroll rollback` to undo the whole run)"
        ),
    )
}

/// A step failed in this invocation: roll its node back while that cannot lower a protocol,
/// otherwise halt leaving it as it is.
fn after_failure(
    f: &super::run_state::Failure,
    plan: &Plan,
    view: &ClusterView,
    run: &RunState,
    policy: &Policy,
) -> Next {
    if let Some((image, healed)) = &f.rolled_back {
        return Next::Halt(rolled_back(f.error.clone(), &f.container, image, *healed));
    }
    let bumped = beyond(view, old_ibp(plan, run));
    let why = if f.left_as_before {
        // A rollback now would bring back what an *earlier* recreate kept.
        Some("the agent changed nothing or put it back as it was")
    } else if run.bump_confirmed || !bumped.is_empty() {
        Some("after the IBP bump a rollback would downgrade the protocol")
    } else if !policy.auto_rollback {
        Some("automatic rollback is off")
    } else {
        None
    };
    let svc = view.service(&f.container);
    match (why, svc) {
        (None, Some(svc)) => Next::RollBack(RollBack {
            step: StepRef {
                id: f.step.clone(),
                node: f.node.clone(),
                container: f.container.clone(),
                kind: svc.kind,
            },
            op_id: format!("{}/rollback", run.op_id(&f.step)),
            stop_timeout: policy.stop_timeout(svc.kind),
            after: policy.gate_after(svc),
            limit: policy.gate_limit(svc, view),
        }),
        (why, _) => Next::Halt(Halt::new(
            f.error.clone(),
            format!(
                "`{}` was left as it is ({}); inspect it (`kroll status`), fix the cause, then `kroll upgrade --resume`",
                f.container,
                why.unwrap_or("it is not in the inventory any more")
            ),
        )),
    }
}

/// The next step of a rolling phase, if any is left: settle one found done, or recreate one
/// (brokers: the controller last; the bump only once confirmed).
fn roll(
    phase: &Phase,
    plan: &Plan,
    view: &ClusterView,
    run: &RunState,
    policy: &Policy,
) -> Option<Next> {
    let left: Vec<&Step> = phase
        .steps
        .iter()
        .filter(|s| s.change.is_some() && !(s.done && run.settled.contains(&s.id)))
        .collect();
    // Recorded done in this invocation, yet not on its definition: an operation answered from
    // the agent's record without acting (or someone changed it since). Never loop on it.
    if let Some(s) = left.iter().find(|s| !s.done && run.settled.contains(&s.id)) {
        return Some(Next::Halt(Halt::new(
            format!(
                "step {} was recorded done but `{}` does not run its new definition",
                s.id, s.container
            ),
            "inspect it (`kroll status`, the agent's audit log); then `kroll upgrade --resume`",
        )));
    }
    if phase.id == PhaseId::BumpIbp && !run.bump_confirmed && left.iter().any(|s| !s.done) {
        return Some(Next::ConfirmBump);
    }
    let controller = view.kafka.as_ref().and_then(|k| k.controller);
    let broker_of = |s: &Step| view.service(&s.container).and_then(|v| v.broker_id);
    let step = left
        .iter()
        .find(|s| controller.is_none() || broker_of(s) != controller)
        .or(left.first())?;
    Some(step_next(step, plan, view, run, policy))
}

fn step_next(
    step: &Step,
    plan: &Plan,
    view: &ClusterView,
    run: &RunState,
    policy: &Policy,
) -> Next {
    let Some(svc) = view.service(&step.container) else {
        return Next::Halt(Halt::new(
            format!(
                "container `{}` is not in the inventory any more",
                step.container
            ),
            "restore the inventory",
        ));
    };
    if !svc.agent_reachable {
        let why = view
            .unreachable
            .get(&step.node)
            .cloned()
            .unwrap_or_default();
        return Next::Halt(Halt::new(
            format!(
                "the agent of node `{}` cannot be reached ({why}); no further action was taken",
                step.node
            ),
            "bring the agent back, then run `kroll upgrade --resume` (the run re-reads every node's real state)",
        ));
    }
    let step_ref = StepRef {
        id: step.id.clone(),
        node: step.node.clone(),
        container: step.container.clone(),
        kind: svc.kind,
    };
    let limit = policy.gate_limit(svc, view);
    if step.done {
        return Next::Settle {
            step: step_ref,
            gate: policy.gate_after(svc),
            limit,
        };
    }
    let Some(change) = step.change.clone() else {
        return Next::Finished;
    };
    if let Some(h) = lowers_ibp(&change, &step.container, plan, view) {
        return Next::Halt(h);
    }
    Next::Recreate(Recreate {
        op_id: run.op_id(&step.id),
        stop_timeout: policy.stop_timeout(svc.kind),
        before: policy.gate_before(svc),
        after: policy.gate_after(svc),
        limit,
        change,
        step: step_ref,
    })
}

/// The last line of defence: a change that would set an IBP older than one a broker runs.
fn lowers_ibp(change: &Change, container: &str, plan: &Plan, view: &ClusterView) -> Option<Halt> {
    let wanted = KafkaLine::parse_ibp(change.env.set.get(IBP_ENV)?).ok()?;
    let newest = view.brokers().into_iter().filter_map(observed_ibp).max()?;
    (wanted < newest).then(|| {
        Halt::new(
            format!(
                "refusing to recreate `{container}` with inter.broker.protocol.version {wanted}: brokers already run {newest} (the point of no return is behind; plan {} → {})",
                plan.from_ibp, plan.to_ibp
            ),
            "nothing was touched; finish the bump with `kroll upgrade --resume --yes`",
        )
    })
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
