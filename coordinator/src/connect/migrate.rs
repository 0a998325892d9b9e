//! The Debezium 1.9 → 3.0 migration as an operation on a Connect cluster: plan (kroll-migrate
//! on every connector's current config), validate every migrated config through the workers
//! before anything is applied, apply. Backups, the key-schema guard and value compatibility are
//! separate steps the caller runs between validation and applying (see `kroll connectors
//! migrate` and the upgrade).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use kroll_migrate::{
    ChangeOp, Config, ConnectorClass, ConnectorKind, MigrateOptions, Migration, TableId,
    migrate_connector,
};
use serde::{Deserialize, Serialize};

use crate::connect::api::ConnectApi;
use crate::connect::types::{Connector, ValidatedKey};
use crate::rest::RestError;

/// The rule id of kroll-migrate's schema-name guard.
pub const GUARD_RULE: &str = "guard.schema-name-adjustment";

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrateRequest {
    /// The journal variant for every connector, overriding detection.
    pub kind: Option<ConnectorKind>,
    /// First `database.server.id` for connectors without one; the next get +1, +2, … (in name
    /// order, skipping ids other connectors use): every binlog client needs its own id.
    pub server_id: Option<u32>,
    /// Opt in to `producer.override.enable.idempotence=true`.
    pub enable_idempotence: bool,
    /// Only these connectors (empty: all).
    pub only: Vec<String>,
    /// The key-schema guard (`schema.name.adjustment.mode=avro` where names would change).
    /// Turning it off is for lab rehearsals of the journal's drift only.
    pub schema_name_guard: bool,
}

impl Default for MigrateRequest {
    fn default() -> Self {
        Self {
            kind: None,
            server_id: None,
            enable_idempotence: false,
            only: Vec::new(),
            schema_name_guard: true,
        }
    }
}

/// One Debezium MySQL connector's migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedConnector {
    pub name: String,
    /// Its config now.
    pub before: Config,
    pub migration: Migration,
}

impl PlannedConnector {
    /// Whether applying it changes the config and no finding forbids it.
    pub fn applies(&self) -> bool {
        self.migration.changed() && !self.migration.is_blocked()
    }
}

/// The applied plan's file name in the run directory (written by [`crate::migration::run`],
/// read by [`crate::connect::handover::load_migrated`]).
pub const MIGRATION_FILE: &str = "migration.json";

/// The migration of a whole cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationPlan {
    pub connectors: Vec<PlannedConnector>,
    /// Connectors these rules do not apply to, with why.
    pub passed_through: Vec<(String, String)>,
}

impl MigrationPlan {
    /// The connectors whose findings forbid applying.
    pub fn blocked(&self) -> Vec<&PlannedConnector> {
        self.connectors
            .iter()
            .filter(|c| c.migration.is_blocked())
            .collect()
    }

    /// The connectors that change.
    pub fn to_apply(&self) -> impl Iterator<Item = &PlannedConnector> {
        self.connectors.iter().filter(|c| c.applies())
    }

    /// Every connector's diff and findings, then the connectors passed through.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.connectors {
            if !c.migration.changed()
                && c.migration
                    .findings
                    .iter()
                    .all(|f| f.severity == kroll_migrate::Severity::Info)
            {
                let _ = writeln!(out, "{}: already migrated (no change).\n", c.name);
                continue;
            }
            let _ = writeln!(out, "{}", c.migration);
        }
        for (name, why) in &self.passed_through {
            let _ = writeln!(out, "{name}: not migrated ({why}).");
        }
        out
    }
}

/// Ids for the selected connectors that need one, avoiding every id any connector uses.
fn assign_server_ids(
    all: &BTreeMap<String, Connector>,
    selected: &[&Connector],
    base: Option<u32>,
) -> BTreeMap<String, u32> {
    let Some(mut next) = base else {
        return BTreeMap::new();
    };
    let used: BTreeSet<u32> = all
        .values()
        .filter_map(|c| c.config.get("database.server.id")?.trim().parse().ok())
        .collect();
    let mut out = BTreeMap::new();
    for c in selected
        .iter()
        .filter(|c| !c.config.contains_key("database.server.id"))
    {
        while used.contains(&next) {
            next = next.saturating_add(1);
        }
        out.insert(c.name.clone(), next);
        next = next.saturating_add(1);
    }
    out
}

/// Undoes the schema-name guard's changes (lab rehearsals of the drift only).
fn without_guard(mut migration: Migration) -> Migration {
    for change in migration
        .changes
        .iter()
        .rev()
        .filter(|c| c.rule == GUARD_RULE)
    {
        match (&change.op, &change.old) {
            (ChangeOp::Set, Some(old)) => {
                migration.config.insert(change.key.clone(), old.clone());
            }
            _ => {
                migration.config.remove(&change.key);
            }
        }
    }
    migration.changes.retain(|c| c.rule != GUARD_RULE);
    migration.findings.retain(|f| {
        !(f.kind == kroll_migrate::FindingKind::SchemaNameDrift && f.message.starts_with("pinned "))
    });
    migration
}

/// Migrates every Debezium MySQL connector's config (pure; nothing is sent anywhere).
/// `known_tables` are `db.table` names seen in topics and subjects (for include-list patterns).
pub fn plan_migration(
    connectors: &BTreeMap<String, Connector>,
    known_tables: &[TableId],
    request: &MigrateRequest,
) -> MigrationPlan {
    let selected: Vec<&Connector> = connectors
        .values()
        .filter(|c| request.only.is_empty() || request.only.contains(&c.name))
        .collect();
    let mysql: Vec<&Connector> = selected
        .iter()
        .copied()
        .filter(|c| {
            kroll_migrate::kind::classify_connector(&c.config) == ConnectorClass::DebeziumMySql
        })
        .collect();
    let ids = assign_server_ids(connectors, &mysql, request.server_id);
    let mut plan = MigrationPlan {
        connectors: Vec::new(),
        passed_through: Vec::new(),
    };
    for c in &selected {
        let class = kroll_migrate::kind::classify_connector(&c.config);
        if class != ConnectorClass::DebeziumMySql {
            let why = c
                .config
                .get("connector.class")
                .map_or("no connector.class".into(), |k| {
                    format!("{k} is not Debezium MySQL")
                });
            plan.passed_through.push((c.name.clone(), why));
            continue;
        }
        let options = MigrateOptions {
            kind: request.kind,
            server_id: ids.get(&c.name).copied(),
            enable_idempotence: request.enable_idempotence,
            known_tables: known_tables.to_vec(),
        };
        let mut migration = migrate_connector(&c.config, &options);
        if !request.schema_name_guard {
            migration = without_guard(migration);
        }
        plan.connectors.push(PlannedConnector {
            name: c.name.clone(),
            before: c.config.clone(),
            migration,
        });
    }
    plan
}

/// `db.table` candidates from topic and subject names: the last two dot-separated parts of
/// every name (after dropping a `-key`/`-value` suffix). Include lists filter them.
pub fn known_tables<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<TableId> {
    let mut out: BTreeSet<TableId> = BTreeSet::new();
    for name in names {
        let topic = name
            .strip_suffix("-key")
            .or_else(|| name.strip_suffix("-value"))
            .unwrap_or(name);
        let parts: Vec<&str> = topic.split('.').collect();
        if let [.., db, table] = parts.as_slice()
            && !db.is_empty()
            && !table.is_empty()
        {
            out.insert(TableId::new(*db, *table));
        }
    }
    out.into_iter().collect()
}

/// A migrated config the worker refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationFailure {
    pub connector: String,
    pub class: String,
    pub error_count: u32,
    pub errors: Vec<ValidatedKey>,
}

/// Validates every config the plan would apply (`PUT /connector-plugins/{class}/config/validate`).
/// Returns the failures; empty means every one is valid.
pub async fn validate_plan(
    connect: &impl ConnectApi,
    plan: &MigrationPlan,
) -> Result<Vec<ValidationFailure>, RestError> {
    let mut failures = Vec::new();
    for c in plan.to_apply() {
        let class = c
            .migration
            .config
            .get("connector.class")
            .cloned()
            .unwrap_or_default();
        let validation = connect.validate(&class, &c.migration.config).await?;
        if validation.error_count > 0 {
            failures.push(ValidationFailure {
                connector: c.name.clone(),
                class,
                error_count: validation.error_count,
                errors: validation.errors,
            });
        }
    }
    Ok(failures)
}

/// Applying stopped at a connector; the ones before it were applied.
#[derive(Debug, thiserror::Error)]
#[error("applying the migrated config of {failed} failed (applied before it: {}; not applied: {}): {error}", list(.applied), list(.not_applied))]
pub struct ApplyError {
    pub applied: Vec<String>,
    pub failed: String,
    pub not_applied: Vec<String>,
    #[source]
    pub error: RestError,
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Applies every migrated config (`PUT /connectors/{n}/config`); stops at the first failure.
/// A halted connector stays halted: Connect keeps the target state across config changes.
pub async fn apply_plan(
    connect: &impl ConnectApi,
    plan: &MigrationPlan,
) -> Result<Vec<String>, ApplyError> {
    let names: Vec<&PlannedConnector> = plan.to_apply().collect();
    let mut applied = Vec::new();
    for (i, c) in names.iter().enumerate() {
        if let Err(error) = connect.put_config(&c.name, &c.migration.config).await {
            return Err(ApplyError {
                applied,
                failed: c.name.clone(),
                not_applied: names[i + 1..].iter().map(|c| c.name.clone()).collect(),
                error,
            });
        }
        applied.push(c.name.clone());
    }
    Ok(applied)
}

/// The topics (after routing) each connector the plan changes produces to, predicted from its
/// migrated config.
pub fn produced_topics(plan: &MigrationPlan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in plan.to_apply() {
        let Some(drift) = &c.migration.drift else {
            continue;
        };
        for table in &drift.tables {
            if let Some(topic) = &table.routed_after {
                out.push((c.name.clone(), topic.clone()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
