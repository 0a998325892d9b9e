//! The Swarm stack file stays the source of truth (issue 13, item 3). Redeploying the file an
//! upgrade started from would put the old image back, or keep the new image and drop the IBP
//! pin; so for a Swarm cluster whose inventory names its stack file (`[swarm] stack_file`):
//!
//! - **pre-flight** compares the live services (as the manager's agent describes them, values
//!   as MACs) with the file *plus the changes of every step the cluster shows done*, and
//!   refuses any other difference — drift kroll did not make — naming service and variable;
//!   a step in flight (its intent journaled, not settled) may be either way;
//! - **after each phase** the file is rewritten with the changes of the phases done, and at the
//!   end or on a halt with those of every step done (a minimal edit: comments, anchors and merge
//!   keys stay; a change every service that merges an anchor shares goes into the anchor), the
//!   previous text kept in the run directory and the diff printed.
//!
//! Everything here is pure but the file's reading and writing ([`StackKeeper::load`],
//! [`StackKeeper::write`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kroll_shared::inventory::{ServiceKind, Swarm};
use kroll_shared::model::EnvPatch;
use kroll_shared::model::image_repository;
use kroll_shared::secrets;
use kroll_stack::{Drift, Edit, LiveService, StackFile, Vars};

use super::decide::Policy;
use super::plan::{Change, Plan, Step};
use super::run_state::RunState;
use super::version::Platform;

/// The stack file kroll keeps true, as read when the run started.
#[derive(Debug, Clone)]
pub struct StackKeeper {
    /// The stack (`docker stack deploy … <stack>`).
    pub stack: String,
    /// The run's target: a Connect worker's environment rewrite is relative (renames), so the
    /// file's is computed from the file itself towards it.
    pub to: Option<Platform>,
    /// Where the file lives.
    pub path: PathBuf,
    /// The variables its `${…}` take: this process's environment, then `[swarm] variables`.
    pub vars: Vars,
}

/// Why the stack file cannot be kept.
#[derive(Debug, thiserror::Error)]
pub enum StackFileError {
    #[error("the stack file {path}: {why}")]
    Read { path: String, why: String },
    #[error("the stack file {path} cannot be edited to match the cluster: {why}")]
    Edit { path: String, why: String },
    #[error("the stack file {path} cannot be written: {why}")]
    Write { path: String, why: String },
}

impl StackKeeper {
    /// The keeper `swarm` asks for (`None` without `stack_file`).
    pub fn of(swarm: &Swarm) -> Option<Self> {
        let path = swarm.stack_file.clone()?;
        let mut vars: Vars = std::env::vars().collect();
        vars.extend(swarm.variables.clone());
        Some(Self {
            stack: swarm.stack.clone(),
            to: None,
            path,
            vars,
        })
    }

    /// The keeper for a run towards `to`.
    pub fn towards(mut self, to: Platform) -> Self {
        self.to = Some(to);
        self
    }

    /// The Connect environment rewrite the file needs for `service` (its own variables towards
    /// the run's target; empty once written): the plan's change is relative to what runs, which
    /// after the step is already rewritten.
    fn connect_env(&self, file: &StackFile, service: &str, change: &Change) -> EnvPatch {
        let (Some(to), Some(Ok(resolved))) = (self.to, file.resolve(service, &self.vars)) else {
            return change.env.clone();
        };
        let env: kroll_migrate::Env = resolved
            .env
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        let hostname = change
            .hostname
            .clone()
            .or(resolved.hostname)
            .unwrap_or_else(|| service.to_owned());
        super::plan::connect_env_change(service, &env, &hostname, to)
            .unwrap_or_else(|_| change.env.clone())
    }

    /// Reads and parses the file as it is now.
    pub fn load(&self) -> Result<StackFile, StackFileError> {
        let origin = self.path.display().to_string();
        let text = std::fs::read_to_string(&self.path).map_err(|e| StackFileError::Read {
            path: origin.clone(),
            why: e.to_string(),
        })?;
        StackFile::parse(text, origin.clone()).map_err(|e| StackFileError::Read {
            path: origin,
            why: e.to_string(),
        })
    }

    /// Replaces the file's text atomically (a temporary file beside it, renamed over it).
    pub fn write(&self, text: &str) -> Result<(), StackFileError> {
        let failed = |e: std::io::Error| StackFileError::Write {
            path: self.path.display().to_string(),
            why: e.to_string(),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stack.yml".into());
        let tmp = self.path.with_file_name(format!(".{name}.kroll-tmp"));
        std::fs::write(&tmp, text).map_err(failed)?;
        if let Ok(meta) = std::fs::metadata(&self.path) {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        std::fs::rename(&tmp, &self.path).map_err(failed)
    }

    /// The file's name for a stack service (`<stack>_kafka-01` → `kafka-01`).
    pub fn short<'a>(&self, service: &'a str) -> Option<&'a str> {
        service.strip_prefix(&format!("{}_", self.stack))
    }

    /// The edits that write `steps`' changes into `file`, in plan order, grouped so that
    /// services sharing a change share one edit (an anchor all of them merge is edited there).
    pub fn edits<'a>(
        &self,
        file: &StackFile,
        policy: &Policy,
        steps: impl IntoIterator<Item = &'a Step>,
    ) -> Vec<Edit> {
        // One group per (phase, change kind, value), in order of first appearance.
        let mut groups: Vec<(String, Edit)> = Vec::new();
        let mut add = |key: String, services: &str, edit: &dyn Fn(Vec<String>) -> Edit| match groups
            .iter_mut()
            .find(|(k, _)| *k == key)
        {
            Some((_, e)) => push_service(e, services),
            None => groups.push((key, edit(vec![services.to_owned()]))),
        };
        for step in steps {
            let (Some(change), Some(service)) = (&step.change, self.short(&step.container)) else {
                continue;
            };
            let Some(spec) = file.service(service) else {
                continue;
            };
            let phase = step.id.split('/').next().unwrap_or_default().to_owned();
            let Change {
                image,
                env,
                hostname,
            } = change;
            if !image.is_empty() {
                let raw = spec.image.as_ref().map(|i| i.value.as_str()).unwrap_or("");
                let text = image_text(raw, &self.vars, image);
                add(format!("{phase}/image/{text}"), service, &|services| {
                    Edit::Image {
                        services,
                        image: text.clone(),
                    }
                });
            }
            let env = if step.kind == Some(ServiceKind::Connect) {
                self.connect_env(file, service, change)
            } else {
                env.clone()
            };
            // Renames and removals (the same for every worker of a kind: written once where an
            // anchor defines them) apart from the values set (often one per service), applied in
            // the patch's own order.
            let moves = EnvPatch {
                rename: env.rename.clone(),
                remove: env.remove.clone(),
                ..EnvPatch::default()
            };
            let sets = EnvPatch {
                set: env.set.clone(),
                ..EnvPatch::default()
            };
            for part in [moves, sets] {
                if !part.is_empty() {
                    let key = format!("{phase}/env/{part:?}");
                    add(key, service, &|services| Edit::Env {
                        services,
                        patch: part.clone(),
                    });
                }
            }
            if let Some(h) = hostname {
                add(
                    format!("{phase}/hostname/{service}"),
                    service,
                    &|services| Edit::Hostname {
                        services,
                        hostname: h.clone(),
                    },
                );
            }
            if let Some(kind) = step.kind {
                let at_least = policy.stop_timeout(kind);
                add(
                    format!("{phase}/grace/{}", at_least.as_millis()),
                    service,
                    &|services| Edit::RaiseStopGracePeriod { services, at_least },
                );
            }
        }
        groups.into_iter().map(|(_, e)| e).collect()
    }

    /// Edits pinning every service the file names by a mutable image (`${REG}/kafka`,
    /// `…:latest`) to the digest its task runs (`running`: the file's service name → the image
    /// reference it runs): a stack file must name what runs, and a mutable name stops doing so
    /// the moment a newer image is pushed under it — a redeploy would then replace every such
    /// service at once, without the IBP pin.
    pub fn pins(&self, file: &StackFile, running: &BTreeMap<String, String>) -> Vec<Edit> {
        let mut edits = Vec::new();
        for spec in file.specs() {
            let Some(raw) = spec.image.as_ref().map(|i| i.value.as_str()) else {
                continue;
            };
            let Ok(resolved) = kroll_stack::interpolate(raw, &self.vars) else {
                continue;
            };
            let Some(live) = running.get(&spec.name) else {
                continue;
            };
            if !live.contains('@')
                || !super::plan::is_mutable(&resolved)
                || image_repository(live) != image_repository(&resolved)
            {
                continue;
            }
            // Exactly the reference the service holds (`name:latest@sha256:…` as the CLI pinned
            // it): a redeploy sends it unchanged, so Swarm sees no change to roll out.
            edits.push(Edit::Image {
                services: vec![spec.name.clone()],
                image: image_text(raw, &self.vars, live),
            });
        }
        edits
    }

    /// `file` with `steps`' changes written in, then every service still named by a mutable
    /// image pinned to what it runs ([`Self::pins`]).
    pub fn with_steps_pinned<'a>(
        &self,
        file: &StackFile,
        policy: &Policy,
        steps: impl IntoIterator<Item = &'a Step>,
        running: &BTreeMap<String, String>,
    ) -> Result<StackFile, StackFileError> {
        let stepped = self.with_steps(file, policy, steps)?;
        self.pinned(stepped, running)
    }

    /// `file` with [`Self::pins`] written in.
    fn pinned(
        &self,
        file: StackFile,
        running: &BTreeMap<String, String>,
    ) -> Result<StackFile, StackFileError> {
        let pins = self.pins(&file, running);
        if pins.is_empty() {
            return Ok(file);
        }
        file.edit(&pins).map_err(|e| StackFileError::Edit {
            path: self.path.display().to_string(),
            why: e.to_string(),
        })
    }

    /// What `kroll rollback` writes back: `original` (the text the run started from) with the
    /// changes of `done` (the steps the cluster still shows done) and every mutable image pinned
    /// to what runs. The grace periods of the done steps' services are the live services' own
    /// (kroll's updates only ever raise them, by the stop timeouts of the run that made them,
    /// which a later rollback need not know).
    pub fn restored<'a>(
        &self,
        original: &StackFile,
        policy: &Policy,
        done: impl IntoIterator<Item = &'a Step>,
        running: &BTreeMap<String, String>,
        live: &[LiveService],
    ) -> Result<StackFile, StackFileError> {
        let done: Vec<&Step> = done.into_iter().collect();
        let mut edits: Vec<Edit> = self
            .edits(original, policy, done.iter().copied())
            .into_iter()
            .filter(|e| !matches!(e, Edit::RaiseStopGracePeriod { .. }))
            .collect();
        for step in &done {
            let Some(short) = self.short(&step.container) else {
                continue;
            };
            if let Some(at_least) = live
                .iter()
                .find(|l| l.name == step.container)
                .and_then(|l| l.stop_grace_period)
            {
                edits.push(Edit::RaiseStopGracePeriod {
                    services: vec![short.to_owned()],
                    at_least,
                });
            }
        }
        let stepped = if edits.is_empty() {
            original.clone()
        } else {
            original.edit(&edits).map_err(|e| StackFileError::Edit {
                path: self.path.display().to_string(),
                why: e.to_string(),
            })?
        };
        self.pinned(stepped, running)
    }

    /// The differences between `file` and the live services (what is not compared, `env_file`,
    /// is no difference).
    pub fn drift_from(
        &self,
        file: &StackFile,
        live: &[LiveService],
        same: impl Fn(&str, &str) -> bool + Copy,
    ) -> Result<Vec<Drift>, StackFileError> {
        let drift =
            kroll_stack::drift_by(file, &self.stack, &self.vars, live, same).map_err(|e| {
                StackFileError::Read {
                    path: self.path.display().to_string(),
                    why: e.to_string(),
                }
            })?;
        Ok(unexplained(drift, &[], &BTreeSet::new()))
    }

    /// What each of the file's services runs, from an observation (`<stack>_<service>` tasks).
    pub fn running(&self, view: &super::view::ClusterView) -> BTreeMap<String, String> {
        self.images_of(&view.services)
    }

    /// The image each of `services` reports, by the file's service name.
    pub fn images_of<'v>(
        &self,
        services: impl IntoIterator<Item = &'v super::view::ServiceView>,
    ) -> BTreeMap<String, String> {
        services
            .into_iter()
            .filter_map(|s| Some((self.short(&s.name)?.to_owned(), s.image()?.to_owned())))
            .collect()
    }

    /// `file` with `steps`' changes written in.
    pub fn with_steps<'a>(
        &self,
        file: &StackFile,
        policy: &Policy,
        steps: impl IntoIterator<Item = &'a Step>,
    ) -> Result<StackFile, StackFileError> {
        let edits = self.edits(file, policy, steps);
        if edits.is_empty() {
            return Ok(file.clone());
        }
        file.edit(&edits).map_err(|e| StackFileError::Edit {
            path: self.path.display().to_string(),
            why: e.to_string(),
        })
    }
}

fn push_service(edit: &mut Edit, service: &str) {
    let services = match edit {
        Edit::Image { services, .. }
        | Edit::Hostname { services, .. }
        | Edit::Env { services, .. }
        | Edit::RaiseStopGracePeriod { services, .. } => services,
    };
    if !services.iter().any(|s| s == service) {
        services.push(service.to_owned());
    }
}

/// The text to write for `image` where the file says `raw`: the file's own repository text
/// (`${CI_REGISTRY_IMAGE}/kafka`) when it names the same repository, so the variable stays,
/// with the new tag or digest; else the image as it is.
pub fn image_text(raw: &str, vars: &Vars, image: &str) -> String {
    let raw_repository = image_repository(raw);
    let repository = image_repository(image);
    match kroll_stack::interpolate(raw_repository, vars) {
        Ok(resolved) if resolved == repository => {
            format!("{raw_repository}{}", &image[repository.len()..])
        }
        _ => image.to_owned(),
    }
}

/// The SHA-256 of a stack file's text, hex: what kroll wrote, to tell later whether anyone
/// edited the file since.
pub fn digest(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stack-file line as it may be printed or kept beside the run: an entry `key: value` or
/// `- KEY=value` with its value as [`secrets::reportable_value`] shows it (images and the IBP
/// as they are; `-D` values, URL credentials and variables named like secrets redacted); any
/// other line only as `…`. The diffs kroll prints show only the lines it changed, through this.
pub fn shown_line(line: &str) -> String {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let (dash, entry) = match body.strip_prefix('-') {
        Some(rest) if rest.starts_with(char::is_whitespace) => ("- ", rest.trim_start()),
        _ => ("", body),
    };
    let key_end = entry
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(entry.len());
    let (key, rest) = entry.split_at(key_end);
    let shown = |sep: &str, value: &str| {
        let value = value.trim();
        if value.is_empty() {
            return format!("{indent}{dash}{key}{}", sep.trim_end());
        }
        let (open, inner, close) = match value.chars().next() {
            Some(q @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(q) => (
                &value[..1],
                &value[1..value.len() - 1],
                &value[value.len() - 1..],
            ),
            _ => ("", value, ""),
        };
        let inner = if inner.is_empty() {
            String::new()
        } else {
            secrets::reportable_value(key, inner)
        };
        format!("{indent}{dash}{key}{sep}{open}{inner}{close}")
    };
    if key.is_empty() || key.starts_with('-') {
        format!("{indent}{dash}…")
    } else if let Some(value) = rest.strip_prefix('=') {
        shown("=", value)
    } else if let Some(value) = rest.trim_start().strip_prefix(':') {
        if value.is_empty() || value.starts_with(char::is_whitespace) {
            shown(": ", value)
        } else {
            format!("{indent}{dash}…")
        }
    } else {
        format!("{indent}{dash}…")
    }
}

/// The stack's service a drift is about (`None`: about no one service).
fn service_of(d: &Drift) -> Option<&str> {
    match d {
        Drift::NotDeployed { service }
        | Drift::Image { service, .. }
        | Drift::EnvFiles { service, .. }
        | Drift::EnvAdded { service, .. }
        | Drift::EnvRemoved { service, .. }
        | Drift::EnvChanged { service, .. }
        | Drift::Hostname { service, .. }
        | Drift::StopGracePeriod { service, .. } => Some(service),
        Drift::NotInFile { .. } => None,
    }
}

/// Differences kroll did not make: those of `settled` (live vs the file with the done steps'
/// changes), except — for a service in `in_flight` — the ones `with_in_flight` (live vs the file
/// with the in-flight steps' changes too) does not have. `EnvFiles` says what was not compared,
/// not a difference, and never refuses.
pub fn unexplained(
    settled: Vec<Drift>,
    with_in_flight: &[Drift],
    in_flight: &BTreeSet<String>,
) -> Vec<Drift> {
    settled
        .into_iter()
        .filter(|d| !matches!(d, Drift::EnvFiles { .. }))
        .filter(|d| {
            !service_of(d).is_some_and(|s| in_flight.contains(s)) || with_in_flight.contains(d)
        })
        .collect()
}

/// The refusal for drift kroll did not make.
pub fn refusal(path: &Path, drift: &[Drift]) -> String {
    let mut lines: Vec<String> = drift.iter().map(|d| format!("  - {d}")).collect();
    lines.sort();
    lines.dedup();
    format!(
        "the live services differ from the stack file {} in ways kroll did not make:\n{}",
        path.display(),
        lines.join("\n")
    )
}

/// What an operator does about a refusal.
pub const REFUSAL_ADVICE: &str = "make the stack file and the services agree (edit the file, or `docker stack deploy` it if it is right), then run again; nothing was touched";

/// The steps of `plan` with a change to write, in plan order.
fn changing(plan: &Plan) -> impl Iterator<Item = &Step> {
    plan.phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .filter(|s| s.change.is_some())
}

/// The steps of `plan` whose desired state the cluster shows (with a change to write).
pub fn done_steps(plan: &Plan) -> impl Iterator<Item = &Step> {
    changing(plan).filter(|s| s.done)
}

/// The steps of the phases of `plan` the cluster shows wholly done (what a phase boundary
/// writes: a change every service of an anchor shares lands in the anchor, not service by
/// service).
pub fn completed_phase_steps(plan: &Plan) -> impl Iterator<Item = &Step> {
    plan.phases
        .iter()
        .filter(|p| p.steps.iter().all(|s| s.done || s.change.is_none()))
        .flat_map(|p| p.steps.iter())
        .filter(|s| s.change.is_some())
}

/// Whether `step` may be in flight: the run journaled an intent for it and the cluster does not
/// show it done (a killed coordinator's update may have gone through, or not, or have been
/// rolled back).
fn in_flight(step: &Step, state: &RunState) -> bool {
    !step.done && state.intents.iter().any(|i| i.step == step.id)
}

impl StackKeeper {
    /// The services of this stack whose *running task* does not run the image their spec
    /// names — a Swarm update under way, paused, or rolling back that this run did not start
    /// (`flying`: the services with a step of this run in flight, left out). Comparing such a
    /// service's spec with the file says nothing about what runs, and rolling it would race
    /// Swarm, so pre-flight refuses them. `running`: what each service's running task runs
    /// (by the file's service name); a service with no running task is not judged here.
    pub fn tasks_behind_specs(
        &self,
        live: &[LiveService],
        running: &BTreeMap<String, String>,
        flying: &BTreeSet<String>,
    ) -> Vec<String> {
        live.iter()
            .filter_map(|l| {
                let short = self.short(&l.name)?;
                let task = running.get(short)?;
                (!flying.contains(short) && !kroll_shared::model::runs_image(task, &l.image))
                    .then(|| {
                        format!(
                            "{short}: the service's spec names {} but its running task runs {task} — a Swarm update is under way, paused or rolling back (`docker service ps {}`)",
                            l.image, l.name
                        )
                    })
            })
            .collect()
    }

    /// The services of `plan` with a step in flight in this run (journaled intent, not done).
    pub fn in_flight_services(&self, plan: &Plan, state: &RunState) -> BTreeSet<String> {
        changing(plan)
            .filter(|s| in_flight(s, state))
            .filter_map(|s| self.short(&s.container).map(str::to_owned))
            .collect()
    }

    /// Pre-flight's decision: the differences between `live` and `file` that kroll did not
    /// make — `file` plus the changes of every step `plan` shows done, a step in flight (its
    /// intent journaled, not done) being allowed either way ([`unexplained`]). `same(file
    /// value, live value)` compares an environment value of the file with one of a live service.
    pub fn unexplained_drift(
        &self,
        file: &StackFile,
        plan: &Plan,
        state: &RunState,
        policy: &Policy,
        live: &[LiveService],
        same: impl Fn(&str, &str) -> bool + Copy,
    ) -> Result<Vec<Drift>, StackFileError> {
        let drift_with = |steps: Vec<&Step>| {
            let expected = self.with_steps(file, policy, steps)?;
            kroll_stack::drift_by(&expected, &self.stack, &self.vars, live, same).map_err(|e| {
                StackFileError::Read {
                    path: self.path.display().to_string(),
                    why: e.to_string(),
                }
            })
        };
        let settled = drift_with(done_steps(plan).collect())?;
        let flying = self.in_flight_services(plan, state);
        let with_in_flight = if flying.is_empty() {
            Vec::new()
        } else {
            drift_with(
                changing(plan)
                    .filter(|s| s.done || in_flight(s, state))
                    .collect(),
            )?
        };
        Ok(unexplained(settled, &with_in_flight, &flying))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kroll_shared::inventory::ServiceKind;
    use kroll_shared::model::EnvPatch;

    use super::*;

    const REPO: &str = "10.199.3.2:5000/rhodry";

    #[test]
    fn a_shown_line_keeps_what_kroll_changes_and_hides_secrets() {
        for (line, want) in [
            (
                "    image: ${CI_REGISTRY_IMAGE}/kafka:7.7.1",
                "    image: ${CI_REGISTRY_IMAGE}/kafka:7.7.1",
            ),
            (
                "  KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.7\" # pinned",
                "  KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.7\" # pinned",
            ),
            (
                "      - KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1",
                "      - KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1",
            ),
            (
                "      KAFKA_OPTS: \"-Xmx1g -Djavax.net.ssl.keyStorePassword=hunter2\"",
                "      KAFKA_OPTS: \"-Xmx1g -Djavax.net.ssl.keyStorePassword=<redacted>\"",
            ),
            (
                "      - KAFKA_SSL_KEY_PASSWORD=hunter2",
                "      - KAFKA_SSL_KEY_PASSWORD=<redacted>",
            ),
            (
                "      CONNECT_SASL_JAAS_CONFIG: 'PlainLoginModule required password=\"hunter2\";'",
                "      CONNECT_SASL_JAAS_CONFIG: '<redacted>'",
            ),
            (
                "      SCHEMA_REGISTRY_URL: https://u:hunter2@sr:8081",
                "      SCHEMA_REGISTRY_URL: https://<redacted>@sr:8081",
            ),
            (
                "      KAFKA_ZOOKEEPER_CONNECT: user:hunter2@zk:2181/kafka",
                "      KAFKA_ZOOKEEPER_CONNECT: zk:2181/kafka",
            ),
            ("    environment:", "    environment:"),
            ("    hunter2 in a block scalar", "    …"),
            ("      - -Dpassword=hunter2", "      - …"),
            ("  key:hunter2", "  …"),
            ("", "…"),
        ] {
            assert_eq!(shown_line(line), want, "{line}");
        }
    }

    /// A stack shaped like the journal's: brokers merge an anchor, images from a variable.
    const FILE: &str = "\
# the cluster
x-kafka-envs: &kafka-envs
  KAFKA_MIN_INSYNC_REPLICAS: \"2\" # keep
services:
  zookeeper-01:
    image: ${CI_REGISTRY_IMAGE}/zookeeper:7.1.1
  kafka-01:
    image: ${CI_REGISTRY_IMAGE}/kafka:7.1.1
    environment:
      <<: *kafka-envs
      KAFKA_BROKER_ID: \"1\"
    stop_grace_period: 120s
  kafka-02:
    image: ${CI_REGISTRY_IMAGE}/kafka:7.1.1
    environment:
      <<: *kafka-envs
      KAFKA_BROKER_ID: \"2\"
    stop_grace_period: 120s
";

    fn keeper() -> StackKeeper {
        StackKeeper {
            stack: "rhodry".into(),
            to: Some("7.7.1".parse().expect("v")),
            path: "stack.yml".into(),
            vars: [("CI_REGISTRY_IMAGE".to_owned(), REPO.to_owned())].into(),
        }
    }

    fn policy() -> Policy {
        Policy {
            broker_stop_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(30),
            gate_timeout: Duration::from_secs(60),
            gate_timeout_per_partition: Duration::ZERO,
            allow_min_isr_violation: false,
            auto_rollback: true,
            skip_connect: false,
        }
    }

    fn step(phase: &str, service: &str, kind: ServiceKind, image: &str, ibp: Option<&str>) -> Step {
        let mut env = EnvPatch::default();
        if let Some(v) = ibp {
            env.set.insert(super::super::plan::IBP_ENV.into(), v.into());
        }
        Step {
            id: format!("{phase}/rhodry_{service}"),
            node: "n".into(),
            container: format!("rhodry_{service}"),
            kind: Some(kind),
            change: Some(Change {
                image: image.into(),
                env,
                hostname: None,
            }),
            note: String::new(),
            done: true,
        }
    }

    fn roll(phase: &str, ibp: &str) -> Vec<Step> {
        ["kafka-01", "kafka-02"]
            .into_iter()
            .map(|s| {
                step(
                    phase,
                    s,
                    ServiceKind::Broker,
                    &format!("{REPO}/kafka:7.7.1"),
                    Some(ibp),
                )
            })
            .collect()
    }

    /// The journal's shape with untagged images (the version is in the image).
    const UNTAGGED: &str = "\
services:
  zookeeper-01:
    image: ${CI_REGISTRY_IMAGE}/zookeeper
  kafka-01:
    image: ${CI_REGISTRY_IMAGE}/kafka # the version is in the image
    stop_grace_period: 120s
  kafka-02:
    image: ${CI_REGISTRY_IMAGE}/kafka:7.1.1
";

    #[test]
    fn a_service_whose_task_does_not_run_its_spec_is_named_unless_this_run_is_rolling_it() {
        let k = keeper();
        let live = |name: &str, image: &str| LiveService {
            name: format!("rhodry_{name}"),
            image: image.into(),
            env: Vec::new(),
            hostname: None,
            stop_grace_period: None,
            labels: BTreeMap::new(),
        };
        let new = format!("{REPO}/kafka:latest@sha256:77");
        let old = format!("{REPO}/kafka:latest@sha256:11");
        let lives = [
            live("kafka-01", &new),
            live("kafka-02", &new),
            live("kafka-03", &format!("{REPO}/kafka:7.1.1")),
            live("kafka-04", &new),
            live("zookeeper-01", &new),
        ];
        let running: BTreeMap<String, String> = [
            ("kafka-01", new.clone()),
            // A paused update: the spec names the new image, the old task still runs.
            ("kafka-02", old.clone()),
            // The spec names a tag; Swarm runs it pinned.
            ("kafka-03", format!("{REPO}/kafka:7.1.1@sha256:33")),
            // This run's own step in flight.
            ("kafka-04", old.clone()),
            // zookeeper-01 has no running task: not judged here.
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let flying = BTreeSet::from(["kafka-04".to_owned()]);
        let behind = k.tasks_behind_specs(&lives, &running, &flying);
        assert_eq!(behind.len(), 1, "{behind:?}");
        assert!(
            behind[0].starts_with(&format!(
                "kafka-02: the service's spec names {new} but its running task runs {old}"
            )) && behind[0].contains("docker service ps rhodry_kafka-02"),
            "{behind:?}"
        );
        assert!(
            k.tasks_behind_specs(
                &lives,
                &running,
                &BTreeSet::from(["kafka-02".into(), "kafka-04".into()])
            )
            .is_empty()
        );
    }

    #[test]
    fn mutable_images_are_pinned_to_exactly_what_runs_and_nothing_else_is_touched() {
        let k = keeper();
        let file = StackFile::parse(UNTAGGED, "stack.yml").expect("parses");
        let running: BTreeMap<String, String> = [
            ("zookeeper-01", format!("{REPO}/zookeeper:latest@sha256:aa")),
            ("kafka-01", format!("{REPO}/kafka:latest@sha256:bb")),
            // Tagged in the file: stays as written.
            ("kafka-02", format!("{REPO}/kafka:7.1.1@sha256:cc")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let pins = k.pins(&file, &running);
        let pinned = file.edit(&pins).expect("edits");
        let text = pinned.text();
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/zookeeper:latest@sha256:aa\n"),
            "{text}"
        );
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/kafka:latest@sha256:bb # the version"),
            "{text}"
        );
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/kafka:7.1.1\n"),
            "{text}"
        );
        // A second pass has nothing left to pin; a service running another repository, or
        // without a digest, is not pinned.
        assert!(k.pins(&pinned, &running).is_empty());
        let other: BTreeMap<String, String> = [
            (
                "zookeeper-01".to_owned(),
                "elsewhere/zookeeper@sha256:aa".to_owned(),
            ),
            ("kafka-01".to_owned(), format!("{REPO}/kafka:latest")),
        ]
        .into();
        assert!(k.pins(&file, &other).is_empty());
    }

    #[test]
    fn a_rollback_writes_the_original_with_the_done_steps_and_the_services_grace_periods() {
        let k = keeper();
        let original = StackFile::parse(UNTAGGED, "stack.yml").expect("parses");
        let done = vec![step(
            "roll-brokers",
            "kafka-01",
            ServiceKind::Broker,
            &format!("{REPO}/kafka@sha256:77"),
            Some("3.1"),
        )];
        let live = |name: &str, grace: u64| LiveService {
            name: format!("rhodry_{name}"),
            image: String::new(),
            env: Vec::new(),
            hostname: None,
            stop_grace_period: Some(Duration::from_secs(grace)),
            labels: BTreeMap::new(),
        };
        // The run raised kafka-01's grace to 600 s; a policy of 60 s must not lower the file.
        let lives = [live("kafka-01", 600), live("kafka-02", 10)];
        let running = BTreeMap::from([(
            "zookeeper-01".to_owned(),
            format!("{REPO}/zookeeper:latest@sha256:aa"),
        )]);
        let text = k
            .restored(&original, &policy(), &done, &running, &lives)
            .expect("restored")
            .text()
            .to_owned();
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/kafka@sha256:77 # the version"),
            "{text}"
        );
        assert!(text.contains("stop_grace_period: 10m\n"), "{text}");
        assert!(
            text.contains("KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.1\""),
            "{text}"
        );
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/zookeeper:latest@sha256:aa"),
            "{text}"
        );
        // kafka-02 was not a done step: untouched, grace included.
        assert!(
            text.ends_with("    image: ${CI_REGISTRY_IMAGE}/kafka:7.1.1\n"),
            "{text}"
        );
    }

    /// Two Connect workers in the journal's 7.1 form, sharing an anchor.
    const CONNECT: &str = "\
x-connect-envs: &connect-envs
  GROUP_ID: connect
  BOOTSTRAP_SERVERS: kafka-01:29091
  CONFIG_STORAGE_TOPIC: connect-configs
  OFFSET_STORAGE_TOPIC: connect-offsets
  STATUS_STORAGE_TOPIC: connect-statuses
  KEY_CONVERTER: io.confluent.connect.avro.AvroConverter
  VALUE_CONVERTER: io.confluent.connect.avro.AvroConverter
  HEAP_OPTS: -Xmx512M
services:
  connect-01:
    image: ${CI_REGISTRY_IMAGE}/connect
    hostname: connect-01
    environment:
      <<: *connect-envs
      ADVERTISED_HOST_NAME: connect-01
  connect-02:
    image: ${CI_REGISTRY_IMAGE}/connect
    hostname: connect-02
    environment:
      <<: *connect-envs
      ADVERTISED_HOST_NAME: connect-02
";

    #[test]
    fn a_connect_roll_is_written_from_the_files_own_environment_once_it_is_done() {
        // Once done, the plan's change for a worker is empty (what runs is in 7.7 form): the
        // file's rewrite is computed from the file, towards the run's target.
        let k = keeper();
        let file = StackFile::parse(CONNECT, "stack.yml").expect("parses");
        let done: Vec<Step> = ["connect-01", "connect-02"]
            .into_iter()
            .map(|s| {
                let mut st = step(
                    "roll-connect",
                    s,
                    ServiceKind::Connect,
                    &format!("{REPO}/connect@sha256:77"),
                    None,
                );
                if let Some(c) = st.change.as_mut() {
                    c.hostname = Some(s.to_owned());
                }
                st
            })
            .collect();
        let after = k.with_steps(&file, &policy(), &done).expect("edits");
        let text = after.text();
        for renamed in [
            "  CONNECT_GROUP_ID: connect\n",
            "  CONNECT_BOOTSTRAP_SERVERS: kafka-01:29091\n",
            "  KAFKA_HEAP_OPTS: -Xmx512M\n",
        ] {
            assert_eq!(
                text.matches(renamed).count(),
                1,
                "{renamed} once, in the anchor:\n{text}"
            );
        }
        assert!(!text.contains("  GROUP_ID: connect"), "{text}");
        assert!(
            text.contains("      CONNECT_REST_ADVERTISED_HOST_NAME: connect-02\n"),
            "{text}"
        );
        assert!(!text.contains(" ADVERTISED_HOST_NAME: connect-0"), "{text}");
        // Written once, the file is in 7.7 form: a second pass changes nothing.
        let again = k.with_steps(&after, &policy(), &done).expect("edits");
        assert_eq!(again.text(), after.text());
    }

    #[test]
    fn image_text_keeps_the_files_variable_when_it_names_the_same_repository() {
        let vars: Vars = [("CI_REGISTRY_IMAGE".to_owned(), REPO.to_owned())].into();
        let table = [
            (
                "${CI_REGISTRY_IMAGE}/kafka:7.1.1",
                format!("{REPO}/kafka:7.7.1"),
                "${CI_REGISTRY_IMAGE}/kafka:7.7.1".to_owned(),
            ),
            (
                "${CI_REGISTRY_IMAGE}/kafka",
                format!("{REPO}/kafka@sha256:ab"),
                "${CI_REGISTRY_IMAGE}/kafka@sha256:ab".to_owned(),
            ),
            (
                "${CI_REGISTRY_IMAGE}/kafka:7.1.1",
                "other.example/kafka:7.7.1".to_owned(),
                "other.example/kafka:7.7.1".to_owned(),
            ),
            (
                "${UNSET}/kafka:7.1.1",
                format!("{REPO}/kafka:7.7.1"),
                format!("{REPO}/kafka:7.7.1"),
            ),
            (
                "localhost:5000/kafka:7.1.1",
                "localhost:5000/kafka:7.7.1".to_owned(),
                "localhost:5000/kafka:7.7.1".to_owned(),
            ),
        ];
        for (raw, image, want) in table {
            assert_eq!(image_text(raw, &vars, &image), want, "{raw} ← {image}");
        }
    }

    #[test]
    fn each_roll_is_written_where_the_file_defines_it_and_a_second_pass_changes_nothing() {
        let k = keeper();
        let file = StackFile::parse(FILE, "stack.yml").expect("parses");
        let roll1 = roll("roll-brokers", "3.1");
        let after1 = k.with_steps(&file, &policy(), &roll1).expect("edits");
        let text = after1.text();
        assert!(
            text.contains("# the cluster") && text.contains("# keep"),
            "{text}"
        );
        assert_eq!(
            text.matches("image: ${CI_REGISTRY_IMAGE}/kafka:7.7.1")
                .count(),
            2,
            "{text}"
        );
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/zookeeper:7.1.1"),
            "{text}"
        );
        // Both brokers (all that merge the anchor) get the pin: it goes into the anchor, once.
        assert_eq!(
            text.matches("KAFKA_INTER_BROKER_PROTOCOL_VERSION").count(),
            1,
            "{text}"
        );
        let anchor_end = text.find("services:").expect("services");
        assert!(
            text[..anchor_end].contains("KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.1\""),
            "{text}"
        );
        // Idempotent: the same steps again leave the text as it is.
        let again = k.with_steps(&after1, &policy(), &roll1).expect("edits");
        assert_eq!(again.text(), after1.text());
        // Roll 2 on top (the file after roll 1, as a resumed run reads it): only the IBP moves.
        let mut both = roll1.clone();
        both.extend(roll("bump-ibp", "3.7"));
        let after2 = k.with_steps(&after1, &policy(), &both).expect("edits");
        let diff = kroll_stack::unified_diff(after1.text(), after2.text(), "a", "b");
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"))
            .collect();
        assert_eq!(
            changed,
            [
                "-  KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.1\"",
                "+  KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.7\""
            ],
            "{diff}"
        );
        // The same from the original file in one pass.
        let direct = k.with_steps(&file, &policy(), &both).expect("edits");
        assert_eq!(direct.text(), after2.text());
    }

    #[test]
    fn a_stop_grace_period_below_the_steps_stop_timeout_is_raised_in_the_file_too() {
        let k = keeper();
        let file = StackFile::parse(FILE, "stack.yml").expect("parses");
        let zk = step(
            "roll-zookeeper",
            "zookeeper-01",
            ServiceKind::Zookeeper,
            &format!("{REPO}/zookeeper:7.7.1"),
            None,
        );
        let text = k.with_steps(&file, &policy(), [&zk]).expect("edits");
        let text = text.text();
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/zookeeper:7.7.1"),
            "{text}"
        );
        assert!(text.contains("stop_grace_period: 30s"), "{text}");
        // Brokers already at 120 s keep it.
        let brokers = k
            .with_steps(&file, &policy(), &roll("roll-brokers", "3.1"))
            .expect("edits");
        assert_eq!(brokers.text().matches("stop_grace_period: 120s").count(), 2);
    }

    /// What `docker stack deploy` of `file` runs (values as they are: compared with `==`).
    fn deployed(k: &StackKeeper, file: &StackFile) -> Vec<LiveService> {
        file.services()
            .map(|name| {
                let r = file
                    .resolve(name, &k.vars)
                    .expect("service")
                    .expect("resolves");
                LiveService {
                    name: format!("{}_{name}", k.stack),
                    image: r.image.unwrap_or_default(),
                    env: r
                        .env
                        .iter()
                        .map(|(key, v)| {
                            v.as_ref()
                                .map_or_else(|| key.clone(), |v| format!("{key}={v}"))
                        })
                        .collect(),
                    hostname: r.hostname,
                    stop_grace_period: r.stop_grace_period,
                    labels: Default::default(),
                }
            })
            .collect()
    }

    #[test]
    fn pre_flight_excuses_done_steps_and_in_flight_ones_either_way_and_nothing_else() {
        use super::super::plan::{Phase, PhaseId};
        use super::super::run_state::Intent;
        let k = keeper();
        let file = StackFile::parse(FILE, "stack.yml").expect("parses");
        let mut steps = roll("roll-brokers", "3.1");
        steps[1].done = false; // kafka-02: not (yet) running its change
        let plan = Plan {
            from: "7.1.1".parse().expect("v"),
            to: "7.7.1".parse().expect("v"),
            from_ibp: super::super::version::KafkaLine::parse_ibp("3.1").expect("ibp"),
            to_ibp: super::super::version::KafkaLine::parse_ibp("3.7").expect("ibp"),
            phases: vec![Phase {
                id: PhaseId::RollBrokers,
                title: "Roll 1".into(),
                point_of_no_return: false,
                steps: steps.clone(),
            }],
            warnings: Vec::new(),
            bumped: Vec::new(),
        };
        let intent = RunState {
            intents: vec![Intent {
                step: steps[1].id.clone(),
                node: "n".into(),
                container: steps[1].container.clone(),
                image: String::new(),
            }],
            ..RunState::default()
        };
        // Live: the file with kafka-01's step (done) applied; kafka-02 with or without its own.
        let with_01 = k.with_steps(&file, &policy(), [&steps[0]]).expect("edits");
        let with_both = k.with_steps(&file, &policy(), &steps).expect("edits");
        let mut operator_added = deployed(&k, &with_01);
        operator_added[1].env.push("BY_HAND=1".into());
        let cases: [(&str, Vec<LiveService>, &RunState, usize); 5] = [
            (
                "kafka-01 done",
                deployed(&k, &with_01),
                &RunState::default(),
                0,
            ),
            (
                "kafka-02 in flight, not applied",
                deployed(&k, &with_01),
                &intent,
                0,
            ),
            (
                "kafka-02 in flight, applied",
                deployed(&k, &with_both),
                &intent,
                0,
            ),
            (
                "kafka-02 applied without an intent",
                deployed(&k, &with_both),
                &RunState::default(),
                2,
            ),
            (
                "a variable set by hand",
                operator_added,
                &RunState::default(),
                1,
            ),
        ];
        for (what, live, state, refused) in cases {
            let left = k
                .unexplained_drift(&file, &plan, state, &policy(), &live, |f, l| f == l)
                .expect("compares");
            assert_eq!(left.len(), refused, "{what}: {left:?}");
        }
    }

    #[test]
    fn only_an_in_flight_steps_own_change_is_excused() {
        let image = |service: &str| Drift::Image {
            service: service.into(),
            file: "a".into(),
            live: "b".into(),
            verdict: kroll_stack::ImageMatch::Different,
        };
        let added = |service: &str| Drift::EnvAdded {
            service: service.into(),
            name: "X".into(),
        };
        let in_flight: BTreeSet<String> = ["kafka-01".to_owned()].into();
        // kafka-01's image is explained by its in-flight step; the variable nobody planned
        // is not, nor is kafka-02's image (no step of it is in flight).
        let settled = vec![image("kafka-01"), added("kafka-01"), image("kafka-02")];
        let with_in_flight = vec![added("kafka-01"), image("kafka-02")];
        assert_eq!(
            unexplained(settled, &with_in_flight, &in_flight),
            vec![added("kafka-01"), image("kafka-02")]
        );
        let files = Drift::EnvFiles {
            service: "kafka-01".into(),
            files: vec!["x.env".into()],
        };
        assert!(unexplained(vec![files], &[], &BTreeSet::new()).is_empty());
        let message = refusal(Path::new("stack.yml"), &[added("kafka-01")]);
        assert!(
            message.contains("stack.yml") && message.contains("kafka-01: X is set"),
            "{message}"
        );
    }

    #[test]
    fn steps_of_other_stacks_and_without_changes_are_not_written() {
        let k = keeper();
        let file = StackFile::parse(FILE, "stack.yml").expect("parses");
        let mut other = roll("roll-brokers", "3.1");
        for s in &mut other {
            s.container = s.container.replace("rhodry_", "else_");
        }
        let mut bare = roll("roll-brokers", "3.1");
        for s in &mut bare {
            s.change = None;
        }
        assert!(k.edits(&file, &policy(), &other).is_empty());
        assert!(k.edits(&file, &policy(), &bare).is_empty());
    }
}
