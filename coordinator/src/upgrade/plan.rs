//! The upgrade plan: what will happen, per node, in which order — derived (purely) from the
//! inventory's services as the agents report them, Kafka's view, and the target version.
//!
//! Every container change is expressed as a *desired state* (image, environment patch,
//! hostname). A step whose desired state already holds is marked done, so the same function
//! plans a fresh upgrade and the rest of an interrupted one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kroll_shared::inventory::ServiceKind;
use kroll_shared::model::{EnvPatch, image_repository, image_tag, runs_image};
use serde::{Deserialize, Serialize};

use super::version::{KafkaLine, Platform, VersionError};
use super::view::{ClusterView, ServiceView};

/// The environment variable carrying `inter.broker.protocol.version` in Confluent's images.
pub const IBP_ENV: &str = "KAFKA_INTER_BROKER_PROTOCOL_VERSION";

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    pub to: Platform,
    /// Target image per kind, overriding "same repository, tag = target version".
    pub images: BTreeMap<ServiceKind, String>,
    /// Pin IBP to the old version during roll 1. Only a test hook turns this off, to prove that
    /// the gates catch the real danger.
    pub pin_ibp: bool,
    /// Continuing an unfinished run: every container may already be done while its cluster-wide
    /// phases (resuming Connect, post-checks) are not, so that is not "nothing to upgrade".
    pub resuming: bool,
}

/// Why no plan can be made. Nothing has been touched.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("the inventory lists no broker")]
    NoBrokers,
    #[error(
        "node `{node}`'s agent cannot be asked ({why}); every agent must answer before an upgrade is planned"
    )]
    Unreachable { node: String, why: String },
    #[error(
        "container `{container}` ({kind}) on node `{node}` is not there; the inventory and the node disagree"
    )]
    Missing {
        node: String,
        container: String,
        kind: ServiceKind,
    },
    #[error(
        "cannot tell the platform version of `{container}` from its image `{image}`: it has no version label (Confluent's `release`, or `org.opencontainers.image.version`) and its tag `{tag}` is not like 7.1.1"
    )]
    UnknownTag {
        container: String,
        image: String,
        tag: String,
    },
    #[error("brokers run {found}; kroll can only continue an upgrade from one version to `{to}`")]
    Mixed { found: String, to: Platform },
    #[error(
        "broker `{container}` has KAFKA_BROKER_ID={env} but the inventory says broker_id {inventory}"
    )]
    BrokerIdMismatch {
        container: String,
        env: String,
        inventory: i32,
    },
    #[error(
        "the Connect worker environment of `{container}` cannot be rewritten for the target image: {reason}"
    )]
    ConnectEnv { container: String, reason: String },
    #[error(
        "brokers already run inter.broker.protocol.version {ibp}, newer than their software {from}; refusing"
    )]
    IbpAhead { ibp: KafkaLine, from: Platform },
    #[error(
        "the point of no return is behind this cluster ({bumped} already run inter.broker.protocol.version {to_ibp}) but broker `{container}` runs {image}, not the target; kroll will not roll it with an older protocol. Put it back on the target image by hand, then run again"
    )]
    BehindPointOfNoReturn {
        bumped: String,
        to_ibp: KafkaLine,
        container: String,
        image: String,
    },
}

/// The upgrade's phases, in order. Journaled by their kebab-case id; journals written before
/// issue 10 named them by their Rust names (still read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseId {
    #[serde(alias = "Preflight")]
    Preflight,
    #[serde(alias = "QuiesceConnect")]
    QuiesceConnect,
    #[serde(alias = "RollZookeeper")]
    RollZookeeper,
    #[serde(alias = "RollBrokers")]
    RollBrokers,
    #[serde(alias = "RollSchemaRegistry")]
    RollSchemaRegistry,
    #[serde(alias = "RollConnect")]
    RollConnect,
    #[serde(alias = "RollRestProxy")]
    RollRestProxy,
    #[serde(alias = "RollKafdrop")]
    RollKafdrop,
    #[serde(alias = "BumpIbp")]
    BumpIbp,
    #[serde(alias = "ResumeConnect")]
    ResumeConnect,
    #[serde(alias = "PostChecks")]
    PostChecks,
}

impl PhaseId {
    /// The phase named `s` (its id, or its name in older journals).
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// The phase's id, as journaled (`roll-brokers`).
    pub fn slug(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A container change: the desired state after the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub image: String,
    pub env: EnvPatch,
    pub hostname: Option<String>,
}

/// One step on one container (or a cluster-wide step when `container` is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Stable id, e.g. `roll-brokers/lab-kafka-03`.
    pub id: String,
    pub node: String,
    pub container: String,
    pub kind: Option<ServiceKind>,
    pub change: Option<Change>,
    /// What an operator should know about the step.
    pub note: String,
    /// The desired state already holds.
    pub done: bool,
}

/// One phase of the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub id: PhaseId,
    pub title: String,
    /// After this phase, downgrade is no longer possible.
    pub point_of_no_return: bool,
    pub steps: Vec<Step>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub from: Platform,
    pub to: Platform,
    pub from_ibp: KafkaLine,
    pub to_ibp: KafkaLine,
    pub phases: Vec<Phase>,
    pub warnings: Vec<String>,
    /// Brokers observed on the new IBP while others are not (yet): the point of no return is
    /// behind, only the rest of the bump remains and nothing may be rolled back.
    pub bumped: Vec<String>,
}

impl Plan {
    /// The phase with this id.
    pub fn phase(&self, id: PhaseId) -> Option<&Phase> {
        self.phases.iter().find(|p| p.id == id)
    }

    /// The phase holding step `step`.
    pub fn phase_of(&self, step: &str) -> Option<PhaseId> {
        self.phases
            .iter()
            .find(|p| p.steps.iter().any(|s| s.id == step))
            .map(|p| p.id)
    }
}

/// The target image for a container now running `current`: the one `--image` names for its
/// kind, else the same repository at the target version's tag — or, for an image run without a
/// version tag (`…/kafka`, `:latest`, a bare digest: the version is in the image, not the tag),
/// the repository itself, which [`pin_target`] resolves to a digest before a run plans with it.
pub fn target_image(current: &str, kind: ServiceKind, opts: &PlanOptions) -> String {
    if let Some(explicit) = opts.images.get(&kind) {
        return explicit.clone();
    }
    let repository = image_repository(current);
    if untagged(current) {
        repository.to_owned()
    } else {
        format!("{repository}:{}", opts.to)
    }
}

/// Whether `image` carries no tag of its own (`name`, `name:latest`, `name@sha256:…`).
fn untagged(image: &str) -> bool {
    let name = image.split_once('@').map_or(image, |(name, _)| name);
    name.len() == image_repository(image).len() || image_tag(image) == "latest"
}

/// Whether `image` names what it is only through a tag that moves (no tag, or `latest`) and no
/// digest: a target like this must be resolved ([`pin_target`]) before it is planned with.
pub fn is_mutable(image: &str) -> bool {
    !image.contains('@') && untagged(image)
}

/// The targets of `view`'s services that must be resolved before planning, one per kind (the
/// kind, the mutable reference, a node running that kind to pull it on). Only platform kinds:
/// their images' labels say which version they are.
pub fn mutable_targets(
    view: &ClusterView,
    opts: &PlanOptions,
) -> Vec<(ServiceKind, String, String)> {
    let mut out: Vec<(ServiceKind, String, String)> = Vec::new();
    for s in &view.services {
        if !s.kind.is_platform() || out.iter().any(|(k, _, _)| *k == s.kind) {
            continue;
        }
        let Some(current) = s.image() else { continue };
        let target = target_image(current, s.kind, opts);
        if is_mutable(&target) {
            out.push((s.kind, target, s.node.clone()));
        }
    }
    out
}

/// A mutable target (`reg/kafka`) pinned to the digest it names now, once its labels say it is
/// version `to`: the reference every node then runs (`reg/kafka@sha256:…`). `repo_digests` and
/// `labels` are what the pulled image says of itself.
pub fn pin_target(
    image: &str,
    repo_digests: &[String],
    labels: &BTreeMap<String, String>,
    to: Platform,
) -> Result<String, String> {
    let Some(version) = kroll_shared::model::labelled_version(labels) else {
        return Err(format!(
            "cannot tell which version {image} is: the image has no version label (Confluent's `release`, or `org.opencontainers.image.version`); name the target by a version tag or a digest with --image KIND=IMAGE"
        ));
    };
    if labelled_platform(version) != Some(to) {
        return Err(format!(
            "{image} is {version}, not {to}: push the {to} image under that name first, or name it with --image KIND=IMAGE"
        ));
    }
    repo_digests
        .iter()
        .find(|d| image_repository(d) == image_repository(image))
        .cloned()
        .ok_or_else(|| {
            format!(
                "{image} has no registry digest to pin every node to (was it built on the node rather than pulled?); name it by a version tag with --image KIND=IMAGE"
            )
        })
}

/// A version label's platform (`7.1.1`, also `7.1.1-ccs`-style suffixes).
fn labelled_platform(label: &str) -> Option<Platform> {
    let core = label.split(['-', '+']).next().unwrap_or(label);
    core.parse().ok()
}

/// The platform a service runs: what its image's labels say, else its tag.
fn platform_of(s: &ServiceView) -> Result<Platform, PlanError> {
    let image = s.image().unwrap_or_default();
    if let Some(label) = s.container.as_ref().and_then(|c| c.labelled_version())
        && let Some(p) = labelled_platform(label)
    {
        return Ok(p);
    }
    let tag = image_tag(image);
    tag.parse().map_err(|_| PlanError::UnknownTag {
        container: s.name.clone(),
        image: image.into(),
        tag: tag.into(),
    })
}

fn check_present(view: &ClusterView) -> Result<(), PlanError> {
    if let Some((node, why)) = view.unreachable.iter().next() {
        return Err(PlanError::Unreachable {
            node: node.clone(),
            why: why.clone(),
        });
    }
    match view.services.iter().find(|s| s.container.is_none()) {
        Some(s) => Err(PlanError::Missing {
            node: s.node.clone(),
            container: s.name.clone(),
            kind: s.kind,
        }),
        None => Ok(()),
    }
}

/// The version the brokers run now (the lowest one; the rest must already be on the target).
fn current_platform(view: &ClusterView, opts: &PlanOptions) -> Result<Platform, PlanError> {
    let brokers = view.brokers();
    if brokers.is_empty() {
        return Err(PlanError::NoBrokers);
    }
    let mut versions = std::collections::BTreeSet::new();
    for b in &brokers {
        let on_target = opts
            .images
            .get(&ServiceKind::Broker)
            .is_some_and(|t| b.image().is_some_and(|i| runs_image(i, t)));
        versions.insert(if on_target { opts.to } else { platform_of(b)? });
        if let (Some(env), Some(id)) = (b.env("KAFKA_BROKER_ID"), b.broker_id)
            && env.trim() != id.to_string()
        {
            return Err(PlanError::BrokerIdMismatch {
                container: b.name.clone(),
                env: env.into(),
                inventory: id,
            });
        }
    }
    let lowest = *versions.iter().next().ok_or(PlanError::NoBrokers)?;
    if versions.iter().any(|v| *v != lowest && *v != opts.to) {
        let found = versions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(PlanError::Mixed { found, to: opts.to });
    }
    Ok(lowest)
}

/// Builds the plan from what the cluster looks like now.
pub fn plan(view: &ClusterView, opts: &PlanOptions) -> Result<Plan, PlanError> {
    check_present(view)?;
    let from = current_platform(view, opts)?;
    let ibp_now = view
        .brokers()
        .iter()
        .filter_map(|b| b.env(IBP_ENV))
        .filter_map(|v| KafkaLine::parse_ibp(v).ok())
        .min();
    let to_k = opts.to.kafka().ok_or(VersionError::Unknown(opts.to))?;
    // Every broker already on the target (an interrupted run): what is left is measured from
    // the IBP they run with; nothing left at all is "nothing to upgrade".
    let from_k = if from == opts.to {
        // Without an IBP pin nobody rolled these brokers here: they simply run the target.
        ibp_now.ok_or(VersionError::Same(opts.to))?
    } else {
        from.upgrade_path(opts.to)?.0
    };
    if to_k.kraft_only() {
        return Err(VersionError::KraftOnly {
            to: opts.to,
            kafka: to_k,
        }
        .into());
    }
    let from_ibp = ibp_now.unwrap_or(from_k);
    if from_ibp > to_k {
        return Err(PlanError::IbpAhead {
            ibp: from_ibp,
            from,
        });
    }
    let bumped = bumped_brokers(view, from_ibp, to_k, opts)?;
    let mut phases = vec![preflight(view, opts)];
    let connect = view.of_kind(ServiceKind::Connect);
    if !connect.is_empty() {
        phases.push(cluster_phase(PhaseId::QuiesceConnect, "Quiesce Connect: stop sources, wait for sinks to reach lag 0, stop sinks", "back up connector configs and every Schema Registry subject to the run directory first"));
    }
    phases.push(roll(
        view,
        opts,
        ServiceKind::Zookeeper,
        PhaseId::RollZookeeper,
        "Roll ZooKeeper (leader last)",
        &EnvPatch::default(),
    ));
    let pin = if opts.pin_ibp {
        EnvPatch::setting(IBP_ENV, &from_ibp.ibp())
    } else {
        EnvPatch::default()
    };
    // Past the point of no return Roll 1 has nothing left to do (every broker runs the target,
    // checked above) and must not offer an older IBP to anyone.
    if bumped.is_empty() {
        let mut brokers = roll(
            view,
            opts,
            ServiceKind::Broker,
            PhaseId::RollBrokers,
            "Roll 1: brokers onto the new image, inter.broker.protocol.version pinned to the old version (controller last)",
            &pin,
        );
        controller_last(view, &mut brokers);
        phases.push(brokers);
    }
    phases.push(roll(
        view,
        opts,
        ServiceKind::SchemaRegistry,
        PhaseId::RollSchemaRegistry,
        "Roll Schema Registry",
        &EnvPatch::default(),
    ));
    phases.push(roll_connect(view, opts)?);
    phases.push(roll(
        view,
        opts,
        ServiceKind::RestProxy,
        PhaseId::RollRestProxy,
        "Roll REST proxy",
        &EnvPatch::default(),
    ));
    phases.push(roll(
        view,
        opts,
        ServiceKind::Kafdrop,
        PhaseId::RollKafdrop,
        "Roll Kafdrop",
        &EnvPatch::default(),
    ));
    phases.push(bump(view, opts, to_k));
    if !connect.is_empty() {
        phases.push(cluster_phase(
            PhaseId::ResumeConnect,
            "Resume Connect: sources first (verified RUNNING), then sinks",
            "migrate connector configs Debezium 1.9 → 3.0 and guard key schemas before resuming",
        ));
    }
    phases.push(cluster_phase(PhaseId::PostChecks, "Post-checks", "every broker on the target with the new IBP, full ISR, no offline partitions; every container running; no key-schema drift"));
    phases.retain(|p| !p.steps.is_empty());
    let container_steps = phases
        .iter()
        .flat_map(|p| &p.steps)
        .filter(|s| s.change.is_some());
    if !opts.resuming
        && from == opts.to
        && from_ibp == to_k
        && container_steps.clone().all(|s| s.done)
    {
        return Err(VersionError::Same(opts.to).into());
    }
    let mut warnings = Vec::new();
    let mut moving: Vec<String> = mutable_targets(view, opts)
        .into_iter()
        .map(|(_, image, _)| image)
        .collect();
    moving.sort_unstable();
    moving.dedup();
    if !moving.is_empty() {
        warnings.push(format!(
            "{} named by a tag that moves: when the run starts each is pulled afresh, must say it is {} in its labels, and every node is pinned to that digest",
            moving.join(", "),
            opts.to
        ));
    }
    if !opts.pin_ibp {
        warnings.push("IBP pin disabled (test hook): new brokers will speak a protocol old brokers refuse; the gates must stop this roll".to_owned());
    }
    Ok(Plan {
        from,
        to: opts.to,
        from_ibp,
        to_ibp: to_k,
        phases,
        warnings,
        bumped,
    })
}

/// The brokers already on the new IBP while the lowest observed IBP is older: the bump has
/// begun (observed, whatever a journal says). Every broker must then run the target image.
fn bumped_brokers(
    view: &ClusterView,
    from_ibp: KafkaLine,
    to_ibp: KafkaLine,
    opts: &PlanOptions,
) -> Result<Vec<String>, PlanError> {
    if from_ibp >= to_ibp {
        return Ok(Vec::new());
    }
    let brokers = view.brokers();
    let bumped: Vec<String> = brokers
        .iter()
        .filter(|b| super::decide::observed_ibp(b).is_some_and(|i| i >= to_ibp))
        .map(|b| b.name.clone())
        .collect();
    if bumped.is_empty() {
        return Ok(bumped);
    }
    for b in brokers {
        let image = b.image().unwrap_or_default();
        if !runs_image(image, &target_image(image, ServiceKind::Broker, opts)) {
            return Err(PlanError::BehindPointOfNoReturn {
                bumped: bumped.join(", "),
                to_ibp,
                container: b.name.clone(),
                image: image.to_owned(),
            });
        }
    }
    Ok(bumped)
}

fn preflight(view: &ClusterView, opts: &PlanOptions) -> Phase {
    let mut images: Vec<String> = view
        .services
        .iter()
        .filter_map(|s| s.image().map(|i| target_image(i, s.kind, opts)))
        .collect();
    images.sort();
    images.dedup();
    let notes = [
        "every agent reachable; every inventory container present and running".to_owned(),
        "no offline or under-replicated partitions; controller elected".to_owned(),
        "disk headroom on every node holding broker data".to_owned(),
        format!(
            "target images present on every node that needs them (pulled in parallel before anything stops): {}",
            images.join(", ")
        ),
    ];
    let steps = notes
        .into_iter()
        .enumerate()
        .map(|(i, note)| Step {
            id: format!("preflight/{i}"),
            node: String::new(),
            container: String::new(),
            kind: None,
            change: None,
            note,
            done: false,
        })
        .collect();
    Phase {
        id: PhaseId::Preflight,
        title: "Pre-flight checks".into(),
        point_of_no_return: false,
        steps,
    }
}

fn cluster_phase(id: PhaseId, title: &str, note: &str) -> Phase {
    let step = Step {
        id: format!("{}/cluster", id.slug()),
        node: String::new(),
        container: String::new(),
        kind: None,
        change: None,
        note: note.into(),
        done: false,
    };
    Phase {
        id,
        title: title.into(),
        point_of_no_return: false,
        steps: vec![step],
    }
}

/// A rolling replacement of every service of `kind` onto its target image with `env`.
fn roll(
    view: &ClusterView,
    opts: &PlanOptions,
    kind: ServiceKind,
    id: PhaseId,
    title: &str,
    env: &EnvPatch,
) -> Phase {
    let steps = view
        .of_kind(kind)
        .into_iter()
        .map(|s| {
            let change = Change {
                image: target_image(s.image().unwrap_or_default(), kind, opts),
                env: env.clone(),
                hostname: None,
            };
            Step {
                id: format!("{}/{}", id.slug(), s.name),
                node: s.node.clone(),
                container: s.name.clone(),
                kind: Some(kind),
                done: super::decide::satisfied(s, &change),
                change: Some(change),
                note: describe(s, env),
            }
        })
        .collect();
    Phase {
        id,
        title: title.into(),
        point_of_no_return: false,
        steps,
    }
}

fn describe(s: &ServiceView, env: &EnvPatch) -> String {
    let mut note = String::new();
    if let Some(id) = s.broker_id {
        let _ = write!(note, "broker {id}");
    }
    for (k, v) in &env.set {
        let _ = write!(note, "{}{k}={v}", if note.is_empty() { "" } else { ", " });
    }
    note
}

/// The controller goes last (the engine re-reads it before every choice).
fn controller_last(view: &ClusterView, phase: &mut Phase) {
    let controller = view.kafka.as_ref().and_then(|k| k.controller);
    let is_controller = |st: &Step| {
        view.service(&st.container).and_then(|s| s.broker_id) == controller && controller.is_some()
    };
    phase.steps.sort_by_key(is_controller);
    if let Some(last) = phase.steps.last_mut().filter(|s| is_controller(s)) {
        last.note
            .push_str(" — the controller now: goes last (re-checked before every stop)");
    }
}

fn roll_connect(view: &ClusterView, opts: &PlanOptions) -> Result<Phase, PlanError> {
    let mut phase = roll(
        view,
        opts,
        ServiceKind::Connect,
        PhaseId::RollConnect,
        "Roll Connect workers (journal's environment rewrite: CONNECT_ prefixes, CONNECT_REST_ADVERTISED_HOST_NAME, CONNECT_LISTENERS, hostname)",
        &EnvPatch::default(),
    );
    for step in &mut phase.steps {
        let Some(s) = view.service(&step.container) else {
            continue;
        };
        let Some(c) = &s.container else { continue };
        let hostname = Some(c.hostname.clone())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| s.name.clone());
        let patch =
            connect_patch(s, c, &hostname, opts.to).map_err(|reason| PlanError::ConnectEnv {
                container: s.name.clone(),
                reason,
            })?;
        if let Some(change) = step.change.as_mut() {
            step.note = if patch.is_empty() {
                "environment already in 7.7 form".into()
            } else {
                summarize(&patch)
            };
            change.env = patch;
            change.hostname = Some(hostname);
            step.done = super::decide::satisfied(s, change);
        }
    }
    Ok(phase)
}

/// The journal's Connect environment rewrite ([`crate::connect::connect_env_patch`]) from what
/// the agent reports: every variable's name, values only of non-secret planning variables —
/// enough, because renames keep values and the ports involved (`REST_PORT`) are reported. A
/// worker without an advertised host name of its own gets its container's hostname.
fn connect_patch(
    s: &ServiceView,
    c: &kroll_shared::model::Container,
    hostname: &str,
    to: Platform,
) -> Result<EnvPatch, String> {
    let env: kroll_migrate::Env = c
        .env_keys
        .iter()
        .map(|k| (k.clone(), c.env.get(k).cloned().unwrap_or_default()))
        .collect();
    connect_env_change(&s.name, &env, hostname, to)
}

/// The Connect worker environment rewrite of `env` (a worker's variables; values matter only
/// for the planning variables) towards `to`: empty once `env` is in the target's form. The
/// plan applies it to what runs; the stack file to what it says ([`super::stack_file`]).
pub fn connect_env_change(
    name: &str,
    env: &kroll_migrate::Env,
    hostname: &str,
    to: Platform,
) -> Result<EnvPatch, String> {
    let patch = match crate::connect::connect_env_patch(name, env, &to.to_string()) {
        Ok(plan) => plan.patch,
        Err(crate::connect::env::ConnectEnvError::Env { error, .. })
            if error.missing == ["CONNECT_REST_ADVERTISED_HOST_NAME"]
                && error.conflicts.is_empty() =>
        {
            let mut patch = *error.patch;
            patch
                .set
                .insert("CONNECT_REST_ADVERTISED_HOST_NAME".into(), hostname.into());
            patch
        }
        Err(e) => return Err(e.to_string()),
    };
    Ok(EnvPatch {
        set: patch.set,
        remove: patch.remove.into_iter().collect(),
        rename: patch.rename,
    })
}

fn summarize(p: &EnvPatch) -> String {
    let mut parts = Vec::new();
    if !p.rename.is_empty() {
        parts.push(format!(
            "rename {}",
            p.rename
                .iter()
                .map(|(a, b)| format!("{a}→{b}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !p.remove.is_empty() {
        parts.push(format!("remove {}", p.remove.join(", ")));
    }
    if !p.set.is_empty() {
        parts.push(format!(
            "set {}",
            p.set
                .iter()
                .map(|(a, b)| format!("{a}={b}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    parts.join("; ")
}

fn bump(view: &ClusterView, opts: &PlanOptions, to: KafkaLine) -> Phase {
    let env = EnvPatch::setting(IBP_ENV, &to.ibp());
    let mut phase = roll(
        view,
        opts,
        ServiceKind::Broker,
        PhaseId::BumpIbp,
        "Roll 2: bump inter.broker.protocol.version to the new version — POINT OF NO RETURN: after this, downgrade is impossible (asks for confirmation unless --yes)",
        &env,
    );
    phase.point_of_no_return = true;
    controller_last(view, &mut phase);
    phase
}

/// The plan for people.
pub fn render(plan: &Plan, cluster: &str) -> String {
    let mut out = format!(
        "Upgrade plan for {cluster}: Confluent {} → {} (Kafka {} → {}; inter.broker.protocol.version {} → {})\n",
        plan.from, plan.to, plan.from_ibp, plan.to_ibp, plan.from_ibp, plan.to_ibp
    );
    for w in &plan.warnings {
        let _ = writeln!(out, "WARNING: {w}");
    }
    if !plan.bumped.is_empty() {
        let _ = writeln!(
            out,
            "The point of no return is behind: {} already run inter.broker.protocol.version {}. Only the rest of the bump remains; nothing can be rolled back.",
            plan.bumped.join(", "),
            plan.to_ibp
        );
    }
    for (i, phase) in plan.phases.iter().enumerate() {
        let _ = writeln!(out, "\n{}. {}", i + 1, phase.title);
        for s in &phase.steps {
            let status = if s.done { "[done] " } else { "" };
            match &s.change {
                Some(c) => {
                    let _ = writeln!(
                        out,
                        "   - {status}{} on {}: → {}{}",
                        s.container,
                        s.node,
                        c.image,
                        if s.note.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", s.note)
                        }
                    );
                }
                None => {
                    let _ = writeln!(out, "   - {status}{}", s.note);
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
