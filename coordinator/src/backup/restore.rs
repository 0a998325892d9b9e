//! Restoring a backup: connectors (never deleting one) and then the registry.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kroll_migrate::Config;
use serde::{Deserialize, Serialize};

use crate::backup::restore_registry::{RegistryRestore, restore_registry};
use crate::backup::{Backup, BackupError, ConnectorBackup};
use crate::connect::api::lowest_version;
use crate::connect::{ConnectApi, Connector, TargetState, set_target};
use crate::progress::Progress;
use crate::registry::RegistryApi;

/// How to restore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Report what would be done; change nothing.
    pub dry_run: bool,
    /// Also put existing connectors back into their backed-up target state (running, paused,
    /// stopped). Off by default: during an upgrade connectors are deliberately quiesced.
    pub restore_states: bool,
}

/// Something done (or to be done) to a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ConnectorAction {
    /// Recreated with its config, then put into `target`.
    Create { target: TargetState },
    /// Its config replaced by the backed-up one; `keys` differed.
    RestoreConfig { keys: Vec<String> },
    /// Its target state changed.
    SetState { from: TargetState, to: TargetState },
}

/// One connector's restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorRestore {
    pub name: String,
    pub actions: Vec<ConnectorAction>,
    /// Why it failed, if it did (the actions before the failing one were done).
    pub error: Option<String>,
}

/// What a restore did, or would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    pub dry_run: bool,
    pub connectors: Vec<ConnectorRestore>,
    /// Connectors present now that the backup does not have: left as they are.
    pub not_in_backup: Vec<String>,
    pub registry: RegistryRestore,
}

impl RestoreReport {
    /// Everything not restored exactly as it was, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .connectors
            .iter()
            .filter_map(|c| Some(format!("connector {}: {}", c.name, c.error.as_ref()?)))
            .collect();
        out.extend(self.registry.problems());
        out
    }

    /// The report for people.
    pub fn render_text(&self) -> String {
        let verb = |done: &str, planned: &str| {
            if self.dry_run {
                planned.to_owned()
            } else {
                done.to_owned()
            }
        };
        let mut out = String::new();
        let changed: Vec<&ConnectorRestore> = self
            .connectors
            .iter()
            .filter(|c| !c.actions.is_empty())
            .collect();
        let _ = writeln!(
            out,
            "Connectors: {} in the backup, {} {}.",
            self.connectors.len(),
            changed.len(),
            verb("restored", "to restore")
        );
        for c in changed {
            let _ = writeln!(out, "  {}: {}", c.name, describe_actions(&c.actions));
            if let Some(e) = &c.error {
                let _ = writeln!(out, "    FAILED: {e}");
            }
        }
        for name in &self.not_in_backup {
            let _ = writeln!(out, "  {name}: not in the backup; left as it is");
        }
        out.push_str(&self.registry.render_text(self.dry_run));
        let problems = self.problems();
        if !problems.is_empty() {
            let _ = writeln!(out, "Not restored exactly ({}):", problems.len());
            for p in problems {
                let _ = writeln!(out, "  - {p}");
            }
        }
        out
    }
}

fn describe_actions(actions: &[ConnectorAction]) -> String {
    actions
        .iter()
        .map(|a| match a {
            ConnectorAction::Create { target } => format!("recreate ({target})"),
            ConnectorAction::RestoreConfig { keys } => {
                format!(
                    "restore config ({} key(s): {})",
                    keys.len(),
                    keys.join(", ")
                )
            }
            ConnectorAction::SetState { from, to } => format!("state {from} → {to}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A config with its `name` key set, as Connect stores it.
fn named(config: &Config, name: &str) -> Config {
    let mut out = config.clone();
    out.insert("name".into(), name.to_owned());
    out
}

/// Keys whose values differ between two configs (added, removed or changed).
pub(crate) fn differing_keys(a: &Config, b: &Config) -> Vec<String> {
    let mut keys: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(b.keys().filter(|k| !a.contains_key(*k)).cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// What to do to each backed-up connector, given what is there now.
pub(crate) fn plan_connectors(
    backup: &[ConnectorBackup],
    current: &BTreeMap<String, Connector>,
    restore_states: bool,
) -> (Vec<ConnectorRestore>, Vec<String>) {
    let plans = backup
        .iter()
        .map(|b| {
            let mut actions = Vec::new();
            match current.get(&b.name) {
                None => actions.push(ConnectorAction::Create { target: b.target }),
                Some(now) => {
                    let keys =
                        differing_keys(&named(&b.config, &b.name), &named(&now.config, &b.name));
                    if !keys.is_empty() {
                        actions.push(ConnectorAction::RestoreConfig { keys });
                    }
                    let from = now.status.target();
                    if restore_states && from != b.target {
                        actions.push(ConnectorAction::SetState { from, to: b.target });
                    }
                }
            }
            ConnectorRestore {
                name: b.name.clone(),
                actions,
                error: None,
            }
        })
        .collect();
    let extra = current
        .keys()
        .filter(|name| !backup.iter().any(|b| &b.name == *name))
        .cloned()
        .collect();
    (plans, extra)
}

async fn apply_connector(
    connect: &impl ConnectApi,
    backup: &ConnectorBackup,
    plan: &ConnectorRestore,
    initial_state: bool,
) -> Result<(), String> {
    let config = named(&backup.config, &backup.name);
    for action in &plan.actions {
        let result = match action {
            ConnectorAction::Create { target }
                if *target != TargetState::Running && initial_state =>
            {
                match connect.create(&backup.name, &config, Some(*target)).await {
                    // Enforced even where `initial_state` was honoured: cheap and certain.
                    Ok(()) => set_target(connect, &backup.name, *target).await,
                    Err(e) => Err(e),
                }
            }
            ConnectorAction::Create { target } => {
                match connect.put_config(&backup.name, &config).await {
                    Ok(()) if *target != TargetState::Running => {
                        set_target(connect, &backup.name, *target).await
                    }
                    other => other,
                }
            }
            ConnectorAction::RestoreConfig { .. } => {
                connect.put_config(&backup.name, &config).await
            }
            ConnectorAction::SetState { to, .. } => set_target(connect, &backup.name, *to).await,
        };
        result.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Restores `backup`: connectors first (recreated, configs restored, never deleted), then the
/// registry (missing versions registered in id order, compatibility levels put back).
pub async fn restore(
    connect: &impl ConnectApi,
    registry: &impl RegistryApi,
    backup: &Backup,
    options: RestoreOptions,
    progress: Progress<'_>,
) -> Result<RestoreReport, BackupError> {
    let current = connect.connectors().await?;
    let (mut connectors, not_in_backup) =
        plan_connectors(&backup.connectors, &current, options.restore_states);
    if !options.dry_run {
        let (lowest, _) = lowest_version(&connect.workers().await);
        let initial_state = lowest.is_some_and(|v| v.supports_initial_state());
        for (plan, b) in connectors.iter_mut().zip(&backup.connectors) {
            if !plan.actions.is_empty() {
                plan.error = apply_connector(connect, b, plan, initial_state).await.err();
            }
        }
        progress(&format!(
            "Restored {} connector(s).",
            connectors.iter().filter(|c| !c.actions.is_empty()).count()
        ));
    }
    let registry = restore_registry(registry, &backup.registry, options.dry_run, progress).await?;
    Ok(RestoreReport {
        dry_run: options.dry_run,
        connectors,
        not_in_backup,
        registry,
    })
}
