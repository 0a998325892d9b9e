//! Restoring the registry half of a backup.
//!
//! Per subject, each backed-up live version is either present (the same version number holds
//! the same id now) or registered again. Registrations run one at a time in the order of the
//! backed-up ids — along each subject's version chain, so a version never precedes an earlier
//! one — which gives a registry that assigns fresh ids the best chance to hand out the old ones.
//! A registration the subject's compatibility refuses (409) is retried once under `NONE`; the
//! backed-up levels are put back at the end either way. Whatever comes back with another version
//! number or id is reported, never hidden.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use futures::{StreamExt as _, TryStreamExt as _, stream};
use serde::{Deserialize, Serialize};

use crate::backup::{RegistryBackup, SubjectBackup};
use crate::progress::Progress;
use crate::registry::{RegistryApi, restore_subject_level};
use crate::rest::RestError;

const CONCURRENCY: usize = 16;

/// What happened (or would happen) to one backed-up version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum VersionOutcome {
    /// The same version number holds the same id now: nothing to do.
    Present,
    /// Dry run: would be registered, expected to become `version`.
    WouldRegister { version: i32 },
    /// Registered; the registry gave it `version` and `id`.
    Registered { version: i32, id: i32 },
    /// Registration failed.
    Failed { error: String },
    /// Not attempted: an earlier version of the subject failed.
    Skipped,
    /// Soft-deleted when backed up; not restored.
    DeletedInBackup,
}

/// One backed-up version's restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRestore {
    pub version: i32,
    pub id: i32,
    #[serde(flatten)]
    pub outcome: VersionOutcome,
}

impl VersionRestore {
    /// Whether the version is (or would be) back under its number and id, or needs nothing.
    pub fn exact(&self) -> bool {
        match &self.outcome {
            VersionOutcome::Present | VersionOutcome::DeletedInBackup => true,
            VersionOutcome::WouldRegister { version } => *version == self.version,
            VersionOutcome::Registered { version, id } => {
                *version == self.version && *id == self.id
            }
            VersionOutcome::Failed { .. } | VersionOutcome::Skipped => false,
        }
    }

    fn problem(&self, subject: &str) -> Option<String> {
        let was = format!("{subject} v{} (id {})", self.version, self.id);
        match &self.outcome {
            _ if self.exact() => None,
            VersionOutcome::WouldRegister { version } => Some(format!(
                "{was} would come back as v{version}: the subject's old version numbers are still taken (soft-deleted versions); Schema Registry numbers new versions itself"
            )),
            VersionOutcome::Registered { version, id } if id != &self.id => Some(format!(
                "{was} came back as v{version} with id {id}: this registry assigned a new id (preserving ids needs IMPORT mode)"
            )),
            VersionOutcome::Registered { version, .. } => Some(format!(
                "{was} came back as v{version}: the old number is still taken by a soft-deleted version"
            )),
            VersionOutcome::Failed { error } => {
                Some(format!("{was} could not be registered: {error}"))
            }
            _ => Some(format!(
                "{was} was not registered: an earlier version of the subject failed"
            )),
        }
    }
}

/// A compatibility level put back: `None` means "follows the global level".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelChange {
    pub from: Option<String>,
    pub to: Option<String>,
    pub error: Option<String>,
}

/// One subject's restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRestore {
    pub subject: String,
    pub versions: Vec<VersionRestore>,
    pub compatibility: Option<LevelChange>,
}

impl SubjectRestore {
    fn untouched(&self) -> bool {
        self.compatibility.is_none()
            && self.versions.iter().all(|v| {
                matches!(
                    v.outcome,
                    VersionOutcome::Present | VersionOutcome::DeletedInBackup
                )
            })
    }
}

/// The registry's restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRestore {
    pub subjects: Vec<SubjectRestore>,
    pub global: Option<LevelChange>,
}

impl RegistryRestore {
    /// Everything not restored exactly.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.subjects {
            out.extend(s.versions.iter().filter_map(|v| v.problem(&s.subject)));
            if let Some(LevelChange { error: Some(e), .. }) = &s.compatibility {
                out.push(format!("{}: compatibility not restored: {e}", s.subject));
            }
        }
        if let Some(LevelChange { error: Some(e), .. }) = &self.global {
            out.push(format!("global compatibility not restored: {e}"));
        }
        out
    }

    /// The registry part of the report.
    pub fn render_text(&self, dry_run: bool) -> String {
        let mut out = String::new();
        let touched: Vec<&SubjectRestore> =
            self.subjects.iter().filter(|s| !s.untouched()).collect();
        let _ = writeln!(
            out,
            "Schema Registry: {} subject(s) in the backup, {} {}.",
            self.subjects.len(),
            touched.len(),
            if dry_run { "to restore" } else { "restored" }
        );
        for s in touched {
            let versions: Vec<String> = s.versions.iter().filter_map(describe_version).collect();
            if !versions.is_empty() {
                let _ = writeln!(out, "  {}: {}", s.subject, versions.join(", "));
            }
            if let Some(c) = &s.compatibility {
                let _ = writeln!(
                    out,
                    "  {}: compatibility {} → {}",
                    s.subject,
                    level(&c.from),
                    level(&c.to)
                );
            }
        }
        if let Some(c) = &self.global {
            let _ = writeln!(
                out,
                "  global compatibility {} → {}",
                level(&c.from),
                level(&c.to)
            );
        }
        out
    }
}

fn level(l: &Option<String>) -> &str {
    l.as_deref().unwrap_or("(global)")
}

fn describe_version(v: &VersionRestore) -> Option<String> {
    let was = format!("v{} (id {})", v.version, v.id);
    match &v.outcome {
        VersionOutcome::WouldRegister { version } => {
            Some(format!("{was} → would register as v{version}"))
        }
        VersionOutcome::Registered { version, id } => {
            Some(format!("{was} → registered as v{version} (id {id})"))
        }
        VersionOutcome::Failed { .. } => Some(format!("{was} → FAILED")),
        VersionOutcome::Skipped => Some(format!("{was} → skipped")),
        VersionOutcome::Present | VersionOutcome::DeletedInBackup => None,
    }
}

/// A subject as it is now.
#[derive(Debug, Default)]
pub(crate) struct Current {
    /// Highest version number ever used (soft-deleted included), 0 if none.
    pub(crate) highest: i32,
    /// Live version number → id, for the numbers the backup has.
    pub(crate) live: BTreeMap<i32, i32>,
    pub(crate) level: Option<String>,
}

async fn current(
    registry: &impl RegistryApi,
    backup: &SubjectBackup,
) -> Result<Current, RestError> {
    let list = |deleted| async move {
        match registry.versions(&backup.subject, deleted).await {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            other => other,
        }
    };
    let highest = list(true).await?.into_iter().max().unwrap_or(0);
    let live_numbers: BTreeSet<i32> = list(false).await?.into_iter().collect();
    let mut live = BTreeMap::new();
    for v in backup
        .versions
        .iter()
        .filter(|v| live_numbers.contains(&v.version))
    {
        live.insert(
            v.version,
            registry
                .version(&backup.subject, v.version, false)
                .await?
                .id,
        );
    }
    let level = registry.subject_compatibility(&backup.subject).await?;
    Ok(Current {
        highest,
        live,
        level,
    })
}

/// What to do for one subject, given what is there now (pure).
pub(crate) fn plan_subject(backup: &SubjectBackup, now: &Current) -> SubjectRestore {
    let mut next = now.highest + 1;
    let versions = backup
        .versions
        .iter()
        .map(|v| {
            let outcome = if v.deleted {
                VersionOutcome::DeletedInBackup
            } else if now.live.get(&v.version) == Some(&v.id) {
                VersionOutcome::Present
            } else if let Some((number, _)) = now.live.iter().find(|(_, id)| **id == v.id) {
                // The registry answers a known live schema with its existing version.
                VersionOutcome::WouldRegister { version: *number }
            } else {
                next += 1;
                VersionOutcome::WouldRegister { version: next - 1 }
            };
            VersionRestore {
                version: v.version,
                id: v.id,
                outcome,
            }
        })
        .collect();
    let compatibility = (now.level != backup.compatibility).then(|| LevelChange {
        from: now.level.clone(),
        to: backup.compatibility.clone(),
        error: None,
    });
    SubjectRestore {
        subject: backup.subject.clone(),
        versions,
        compatibility,
    }
}

/// Registration order: (effective id, subject index, version index), where the effective id is
/// the running maximum of ids along the subject's versions.
pub(crate) fn registration_order(plans: &[SubjectRestore]) -> Vec<(usize, usize)> {
    let mut order = Vec::new();
    for (s, plan) in plans.iter().enumerate() {
        let mut key = i32::MIN;
        for (v, version) in plan.versions.iter().enumerate() {
            if matches!(version.outcome, VersionOutcome::WouldRegister { .. }) {
                key = key.max(version.id);
                order.push((key, s, v));
            }
        }
    }
    order.sort_unstable();
    order.into_iter().map(|(_, s, v)| (s, v)).collect()
}

async fn register_one(
    registry: &impl RegistryApi,
    backup: &SubjectBackup,
    index: usize,
    loosened: &mut BTreeSet<String>,
) -> Result<VersionOutcome, RestError> {
    let schema = backup.versions[index].to_new();
    let id = match registry.register(&backup.subject, &schema).await {
        Err(e) if e.status() == Some(409) && !loosened.contains(&backup.subject) => {
            registry
                .set_subject_compatibility(&backup.subject, "NONE")
                .await?;
            loosened.insert(backup.subject.clone());
            registry.register(&backup.subject, &schema).await?
        }
        other => other?,
    };
    let version = registry
        .lookup(&backup.subject, &schema)
        .await?
        .map_or(-1, |v| v.version);
    Ok(VersionOutcome::Registered { version, id })
}

async fn register_all(
    registry: &impl RegistryApi,
    backup: &RegistryBackup,
    plans: &mut [SubjectRestore],
    progress: Progress<'_>,
) -> BTreeSet<String> {
    let mut loosened = BTreeSet::new();
    let order = registration_order(plans);
    for (n, (s, v)) in order.iter().copied().enumerate() {
        let failed = plans[s].versions[..v].iter().any(|x| {
            matches!(
                x.outcome,
                VersionOutcome::Failed { .. } | VersionOutcome::Skipped
            )
        });
        plans[s].versions[v].outcome = if failed {
            VersionOutcome::Skipped
        } else {
            register_one(registry, &backup.subjects[s], v, &mut loosened)
                .await
                .unwrap_or_else(|e| VersionOutcome::Failed {
                    error: e.to_string(),
                })
        };
        if (n + 1) % 500 == 0 {
            progress(&format!(
                "Registered {} of {} schema versions…",
                n + 1,
                order.len()
            ));
        }
    }
    loosened
}

async fn restore_levels(
    registry: &impl RegistryApi,
    backup: &RegistryBackup,
    plans: &mut [SubjectRestore],
    loosened: &BTreeSet<String>,
) {
    for (plan, b) in plans.iter_mut().zip(&backup.subjects) {
        if loosened.contains(&b.subject) && plan.compatibility.is_none() {
            plan.compatibility = Some(LevelChange {
                from: Some("NONE".into()),
                to: b.compatibility.clone(),
                error: None,
            });
        }
        if let Some(change) = &mut plan.compatibility {
            let result = restore_subject_level(registry, &b.subject, change.to.as_deref()).await;
            change.error = result.err().map(|e| e.to_string());
        }
    }
}

/// Restores (or, in a dry run, plans) the registry half of a backup.
pub(crate) async fn restore_registry(
    registry: &impl RegistryApi,
    backup: &RegistryBackup,
    dry_run: bool,
    progress: Progress<'_>,
) -> Result<RegistryRestore, RestError> {
    let mut plans: Vec<SubjectRestore> = stream::iter(&backup.subjects)
        .map(|b| async move { Ok::<_, RestError>(plan_subject(b, &current(registry, b).await?)) })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let global_now = registry.global_compatibility().await?;
    let mut global = (global_now != backup.global_compatibility).then(|| LevelChange {
        from: Some(global_now),
        to: Some(backup.global_compatibility.clone()),
        error: None,
    });
    if !dry_run {
        let loosened = register_all(registry, backup, &mut plans, progress).await;
        restore_levels(registry, backup, &mut plans, &loosened).await;
        if let Some(change) = &mut global {
            let result = registry
                .set_global_compatibility(&backup.global_compatibility)
                .await;
            change.error = result.err().map(|e| e.to_string());
        }
    }
    Ok(RegistryRestore {
        subjects: plans,
        global,
    })
}
