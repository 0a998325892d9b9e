//! The local actions the coordinator may ask for — restart, recreate, rollback, pull — each
//! run through one path (`Core::run_op`) that enforces, in order: an operation id, the
//! allowlist (or the action's own check), an audited refusal when a check fails, the
//! operation-id record (a repeated id replays the recorded answer and acts on nothing), an
//! fsynced `begin` before acting and an `end` with the outcome after.

use std::future::Future;
use std::time::Duration;

use kroll_shared::model::{Container, EnvPatch};
use kroll_shared::tls::PeerIdentity;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::audit::{Claim, Phase};
use crate::collect::containers;
use crate::error::AgentError;
use crate::node::Core;
use crate::runtime::{ContainerRuntime, RecreateSpec, RuntimeError};

/// A finished restart (also what the audit log records for replay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartOutcome {
    pub started_at_unix_ms: i64,
    pub killed_after_timeout: bool,
    pub stop_duration_ms: u64,
}

/// A finished recreate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecreateOutcome {
    pub container_id: String,
    pub previous_image: String,
    pub killed_after_timeout: bool,
    pub stop_duration_ms: u64,
}

/// A finished rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackOutcome {
    pub container_id: String,
    pub restored_image: String,
}

/// A finished pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullOutcome {
    pub image_id: String,
    pub already_present: bool,
    /// `repository@sha256:…` of the image (none when built locally).
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Its version labels.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What a recreate changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// New image reference; `None` keeps the current one.
    pub image: Option<String>,
    pub env: EnvPatch,
    /// New hostname; `None` keeps the current one.
    pub hostname: Option<String>,
    /// 0 = the agent's default.
    pub stop_timeout_s: u32,
}

/// An action's answer with how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub outcome: T,
    /// `true` when the answer is the record of an earlier call with the same id.
    pub replayed: bool,
    /// The container afterwards (actions on containers), inspected at answer time.
    pub container: Option<Container>,
}

/// Who asks for what, for the audit log and the operation record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op<'a> {
    pub(crate) peer: &'a PeerIdentity,
    pub(crate) action: &'static str,
    pub(crate) id: &'a str,
    /// The container (or image, or Swarm service) the action is about, as the caller named it.
    pub(crate) target: &'a str,
    /// The stop the action may ask Docker for, if any (recorded so recovery after a crash knows
    /// how long Docker may still be carrying it out).
    pub(crate) stop: Option<Duration>,
}

impl<R: ContainerRuntime> Core<R> {
    /// Runs one mutating action: `check` (refusals audited), claim, audit, `act`, record.
    pub(crate) async fn run_op<T, C, F, Fut>(
        &self,
        op: Op<'_>,
        check: C,
        act: F,
    ) -> Result<(T, bool), AgentError>
    where
        T: Serialize + DeserializeOwned,
        C: Future<Output = Result<(String, String), AgentError>>,
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<(T, String), AgentError>>,
    {
        let checked = match crate::validate::operation_id(op.id) {
            Err(e) => Err(AgentError::from(e)),
            Ok(()) => check.await,
        };
        let (name, key) = match checked {
            Ok(v) => v,
            Err(e) => {
                // What the caller sent is bounded before it is written (an id or a name of
                // megabytes must not cost megabytes of fsynced audit).
                let entry = self.entry(
                    op.peer,
                    op.action,
                    &clip(op.id, 256),
                    &clip(op.target, 256),
                    Phase::Refused,
                    "",
                    &clip(&e.to_string(), 1024),
                );
                self.audit.write(entry).await.map_err(AgentError::Audit)?;
                return Err(e);
            }
        };
        match self.ops.claim(op.id, op.action, &name).await {
            Claim::Fresh => {}
            Claim::Replay(v) => {
                let t = serde_json::from_value(v).map_err(|e| {
                    AgentError::InvalidArgument(format!(
                        "unreadable record of operation `{}`: {e}",
                        op.id
                    ))
                })?;
                return Ok((t, true));
            }
            Claim::Conflict { action, container } => {
                return Err(AgentError::OperationConflict {
                    id: op.id.into(),
                    action,
                    container,
                });
            }
            Claim::OutcomeUnknown { began, recovered } => {
                return Err(AgentError::OutcomeUnknown {
                    id: op.id.into(),
                    began,
                    recovered,
                });
            }
        }
        let mut begin = self.entry(op.peer, op.action, op.id, &name, Phase::Begin, "", &key);
        begin.stop_deadline_unix_ms = op.stop.map(|t| {
            let within = t + crate::docker_recreate::STOP_GRACE;
            begin.time_unix_ms + i64::try_from(within.as_millis()).unwrap_or(i64::MAX / 2)
        });
        if let Err(e) = self.audit.write(begin).await {
            self.ops.finish(op.id, Err(()));
            return Err(AgentError::Audit(e));
        }
        tracing::info!(action = op.action, target = %name, operation_id = op.id, peer = %op.peer, "Carrying out a coordinator request.");
        let result = act(key).await;
        let end = match &result {
            Ok((t, detail)) => {
                let mut e = self.entry(op.peer, op.action, op.id, &name, Phase::End, "ok", detail);
                e.result = serde_json::to_value(t).ok();
                e
            }
            Err(err) => self.entry(
                op.peer,
                op.action,
                op.id,
                &name,
                Phase::End,
                "error",
                &err.to_string(),
            ),
        };
        let recorded = end.result.clone();
        let audited = self.audit.write(end).await;
        self.ops.finish(
            op.id,
            match (&result, recorded) {
                (Ok(_), Some(v)) => Ok(v),
                _ => Err(()),
            },
        );
        audited.map_err(AgentError::Audit)?;
        result.map(|(t, _)| (t, false))
    }

    /// The managed container `name` for a check: (its name, its id).
    async fn managed_target(&self, name: &str) -> Result<(String, String), AgentError> {
        let i = self.managed(name).await?;
        Ok((i.container.name, i.container.id))
    }

    /// Like [`Self::managed_target`], refusing a Swarm task (the service must be updated).
    async fn replaceable_target(&self, name: &str) -> Result<(String, String), AgentError> {
        let i = self.managed(name).await?;
        self.refuse_swarm_task(&i)?;
        Ok((i.container.name, i.container.id))
    }

    /// The container as reported now (after an action), if it exists.
    async fn reported(&self, name: &str) -> Option<Container> {
        let i = self.runtime.inspect(name).await.ok()?;
        Some(containers::reportable(i, &self.config.report_env))
    }

    /// Graceful restart of a managed container.
    pub async fn restart(
        &self,
        peer: &PeerIdentity,
        id: &str,
        container: &str,
        stop_timeout_s: u32,
    ) -> Result<Answer<RestartOutcome>, AgentError> {
        let op = Op {
            peer,
            action: "restart",
            id,
            target: container,
            stop: self.stop_timeout(stop_timeout_s).ok(),
        };
        let check = async {
            self.stop_timeout(stop_timeout_s)?;
            self.managed_target(container).await
        };
        let (outcome, replayed) = self
            .run_op(op, check, |cid| async move {
                let timeout = self.stop_timeout(stop_timeout_s)?;
                let stopped = self.runtime.stop(&cid, timeout).await?;
                self.runtime.start(&cid).await?;
                let after = self.runtime.inspect(&cid).await?;
                let o = RestartOutcome {
                    started_at_unix_ms: after.container.started_at_unix_ms,
                    killed_after_timeout: stopped.killed_after_timeout,
                    stop_duration_ms: millis(stopped.took),
                };
                let detail = stop_detail(stopped.took, stopped.killed_after_timeout);
                Ok((o, detail))
            })
            .await?;
        Ok(Answer {
            outcome,
            replayed,
            container: self.reported(container).await,
        })
    }

    /// Replaces a managed container (new image and/or environment), keeping the previous
    /// definition for rollback.
    pub async fn recreate(
        &self,
        peer: &PeerIdentity,
        id: &str,
        container: &str,
        change: Replacement,
    ) -> Result<Answer<RecreateOutcome>, AgentError> {
        let Replacement {
            image,
            env,
            hostname,
            stop_timeout_s,
        } = change;
        let op = Op {
            peer,
            action: "recreate",
            id,
            target: container,
            stop: self.stop_timeout(stop_timeout_s).ok(),
        };
        let asked = (env.clone(), hostname.clone(), image.clone());
        let check = async move {
            self.stop_timeout(stop_timeout_s)?;
            let (env, hostname, image) = asked;
            crate::validate::env_patch(&env)?;
            if let Some(h) = &hostname {
                crate::validate::hostname(h)?;
            }
            if let Some(i) = &image {
                crate::validate::image(i)?;
            }
            self.replaceable_target(container).await
        };
        let (outcome, replayed) = self
            .run_op(op, check, |cid| async move {
                let spec = RecreateSpec {
                    image,
                    env,
                    hostname,
                    stop_timeout: self.stop_timeout(stop_timeout_s)?,
                };
                let r = self.runtime.recreate(id, &cid, &spec).await?;
                let detail = format!(
                    "{} → {}; {}",
                    r.previous_image,
                    spec.image.as_deref().unwrap_or("same image"),
                    stop_detail(r.stop.took, r.stop.killed_after_timeout)
                );
                let o = RecreateOutcome {
                    container_id: r.id,
                    previous_image: r.previous_image,
                    killed_after_timeout: r.stop.killed_after_timeout,
                    stop_duration_ms: millis(r.stop.took),
                };
                Ok((o, detail))
            })
            .await?;
        Ok(Answer {
            outcome,
            replayed,
            container: self.reported(container).await,
        })
    }

    /// Brings back the previous definition of a managed container.
    pub async fn rollback(
        &self,
        peer: &PeerIdentity,
        id: &str,
        container: &str,
        stop_timeout_s: u32,
    ) -> Result<Answer<RollbackOutcome>, AgentError> {
        let op = Op {
            peer,
            action: "rollback",
            id,
            target: container,
            stop: self.stop_timeout(stop_timeout_s).ok(),
        };
        let check = async {
            self.stop_timeout(stop_timeout_s)?;
            let name = self.rollback_target(container).await?;
            Ok((name.clone(), name))
        };
        let (outcome, replayed) = self
            .run_op(op, check, |name| async move {
                let r = self
                    .runtime
                    .rollback(&name, self.stop_timeout(stop_timeout_s)?)
                    .await?;
                let detail = format!("running {} again", r.restored_image);
                Ok((
                    RollbackOutcome {
                        container_id: r.id,
                        restored_image: r.restored_image,
                    },
                    detail,
                ))
            })
            .await?;
        Ok(Answer {
            outcome,
            replayed,
            container: self.reported(container).await,
        })
    }

    /// Pulls an image onto the node (nothing when it is already there, unless `refresh`: a
    /// mutable tag is pulled again to learn what it names now), and says what it is.
    pub async fn pull(
        &self,
        peer: &PeerIdentity,
        id: &str,
        image: &str,
        refresh: bool,
    ) -> Result<Answer<PullOutcome>, AgentError> {
        let op = Op {
            peer,
            action: "pull",
            id,
            target: image,
            stop: None,
        };
        let check = async {
            crate::validate::image(image)?;
            Ok((image.to_owned(), image.to_owned()))
        };
        let (outcome, replayed) = self
            .run_op(op, check, |image| async move {
                let present = if refresh {
                    None
                } else {
                    self.runtime.image_facts(&image).await?
                };
                let already_present = present.is_some();
                let facts = match present {
                    Some(f) => f,
                    None => {
                        self.runtime.pull(&image).await?;
                        self.runtime.image_facts(&image).await?.ok_or_else(|| {
                            RuntimeError::Refused(format!("{image} is not there after its pull"))
                        })?
                    }
                };
                Ok((
                    PullOutcome {
                        image_id: facts.id,
                        already_present,
                        repo_digests: facts.repo_digests,
                        labels: facts.labels,
                    },
                    if already_present {
                        "already present".into()
                    } else {
                        "pulled".into()
                    },
                ))
            })
            .await?;
        Ok(Answer {
            outcome,
            replayed,
            container: None,
        })
    }
}

impl<R: ContainerRuntime> Core<R> {
    /// The service whose kept definition a rollback of `container` brings back; refuses when
    /// nothing is kept, when the service or its kept container is not managed (the same answer:
    /// a hidden container's existence does not leak), and for Swarm tasks.
    async fn rollback_target(&self, container: &str) -> Result<String, AgentError> {
        let nothing = || AgentError::NothingKept {
            container: container.to_owned(),
            node: self.config.node.clone(),
        };
        if crate::kept::service_of(container).is_some() {
            return Err(nothing());
        }
        if let Ok(current) = self.runtime.inspect(container).await
            && self
                .config
                .allow
                .allows(&current.container.name, &current.container.labels)
        {
            self.refuse_swarm_task(&current)?;
        }
        // The current container may be gone (a failed recreate); the kept one decides.
        let kept = self
            .runtime
            .inspect(&crate::kept::previous_name(container))
            .await
            .map_err(|e| match e {
                crate::runtime::RuntimeError::NotFound(_) => nothing(),
                other => other.into(),
            })?;
        if !self.config.allow.allows(container, &kept.container.labels) {
            return Err(nothing());
        }
        self.refuse_swarm_task(&kept)?;
        Ok(container.to_owned())
    }

    /// Brings every action the audit log says began but never ended (the agent died mid-way)
    /// to a known end ([`crate::recovery`]) and records that end as `interrupted`. The
    /// operation id stays taken: a retry is refused with what recovery found. When recovery
    /// cannot act (Docker unreachable), nothing is recorded and the next start tries again.
    pub async fn recover_interrupted(&self) -> Vec<String> {
        let system = PeerIdentity {
            name: "kroll-agent (recovery at start-up)".into(),
            role: kroll_shared::tls::Role::Agent,
        };
        let mut done = Vec::new();
        for what in self.ops.interrupted() {
            let detail = if crate::service_actions::is_service_action(&what.action) {
                // Swarm carries a sent update on by itself; the agent changes nothing at
                // start-up (the spec saved before the send stays saved for a restore).
                format!(
                    "interrupted by an agent stop; Swarm carries on whatever was sent for service `{}` (check `docker service ps {}`)",
                    what.container, what.container
                )
            } else {
                match self.runtime.recover(&what).await {
                    Ok(found) => format!("interrupted by an agent stop; {found}"),
                    Err(e) if e.is_transient() => {
                        tracing::warn!(operation_id = %what.operation_id, container = %what.container, error = %e, "Could not recover an interrupted operation; will try at the next start.");
                        continue;
                    }
                    Err(e) => format!("interrupted by an agent stop; recovery could not act: {e}"),
                }
            };
            let entry = self.entry(
                &system,
                action_name(&what.action),
                &what.operation_id,
                &what.container,
                Phase::End,
                crate::audit::INTERRUPTED,
                &detail,
            );
            if self.audit.write(entry).await.is_ok() {
                self.ops.recovered(&what.operation_id, &detail);
            }
            tracing::warn!(operation_id = %what.operation_id, container = %what.container, detail = %detail, "Ended an interrupted operation.");
            done.push(detail);
        }
        done
    }
}

fn action_name(a: &str) -> &'static str {
    match a {
        "recreate" => "recreate",
        "rollback" => "rollback",
        crate::service_actions::UPDATE => crate::service_actions::UPDATE,
        crate::service_actions::RESTORE => crate::service_actions::RESTORE,
        _ => "restart",
    }
}

/// At most `max` bytes of `s` (on a character boundary), marked when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn stop_detail(took: Duration, killed: bool) -> String {
    format!(
        "stopped in {} ms{}",
        millis(took),
        if killed {
            ", killed after the stop timeout"
        } else {
            ""
        }
    )
}
