//! The connector migration: classify, apply the rules in order, check, predict.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::drift::{DriftReport, predict_drift};
use crate::engine::Edit;
use crate::finding::{Change, Finding, FindingKind, Severity};
use crate::kind::{ConnectorClass, ConnectorKind, KindDecision, classify_connector, detect_kind};
use crate::rules::{
    Action, CDC_RULES, COMMON_RULES, CT_RULES, IDEMPOTENCE_RULE, Rule, SCHEMA_NAME_GUARD,
};
use crate::tables::TableId;
use crate::{Config, checks, custom};

/// What the caller adds to a connector's config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MigrateOptions {
    /// The journal variant to apply, overriding detection.
    pub kind: Option<ConnectorKind>,
    /// `database.server.id` to use when the config has none.
    pub server_id: Option<u32>,
    /// Opt in to `producer.override.enable.idempotence=true` (see [`IDEMPOTENCE_RULE`]).
    pub enable_idempotence: bool,
    /// `db.table` names known to exist (e.g. from topic names), for include-list patterns.
    pub known_tables: Vec<TableId>,
}

/// The outcome of migrating one connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// The connector's `name`, if its config has one.
    pub name: Option<String>,
    /// What `connector.class` says it is.
    pub class: ConnectorClass,
    /// The CDC/CT decision (`None` when not migrated).
    pub kind: Option<KindDecision>,
    /// The migrated config (the input, for a connector that is not migrated).
    pub config: Config,
    /// Changes applied, in order.
    pub changes: Vec<Change>,
    /// Findings, in the order they were raised.
    pub findings: Vec<Finding>,
    /// Schema-name and routing prediction for the migrated config.
    pub drift: Option<DriftReport>,
}

impl Migration {
    /// Whether an error finding forbids applying the migrated config.
    pub fn is_blocked(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The error findings.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// Whether the config changed.
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The per-connector diff for `--dry-run`: one block of `-`/`+` lines per change, secrets masked.
    pub fn render_diff(&self) -> String {
        let name = self.name.as_deref().unwrap_or("<unnamed>");
        let mut out = format!("--- {name} (Debezium 1.9)\n+++ {name} (Debezium 3.0)\n");
        for change in &self.changes {
            for line in change.diff_lines() {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

impl fmt::Display for Migration {
    /// The diff followed by the findings, most severe first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_diff())?;
        let mut findings: Vec<&Finding> = self.findings.iter().collect();
        findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
        for finding in findings {
            writeln!(f, "{finding}")?;
        }
        Ok(())
    }
}

fn pass_through(config: &Config, class: ConnectorClass) -> Migration {
    let (severity, message) = match &class {
        ConnectorClass::DebeziumMySql => (Severity::Info, String::new()),
        ConnectorClass::OtherDebezium(c) => (
            Severity::Warning,
            format!(
                "{c} is a Debezium connector but not MySQL: these rules do not apply; passed through untouched"
            ),
        ),
        ConnectorClass::Other(c) => (
            Severity::Info,
            format!("{c} is not a Debezium connector: passed through untouched"),
        ),
        ConnectorClass::Missing => (
            Severity::Warning,
            "no connector.class: cannot tell what this connector is; passed through untouched"
                .to_owned(),
        ),
    };
    Migration {
        name: config.get("name").cloned(),
        class,
        kind: None,
        config: config.clone(),
        changes: Vec::new(),
        findings: vec![Finding::general(
            severity,
            FindingKind::NotMigrated,
            message,
        )],
        drift: None,
    }
}

fn run_rules(rules: &[Rule], edit: &mut Edit, original: &Config, options: &MigrateOptions) {
    for rule in rules {
        if let Some(which) = edit.apply(rule) {
            custom::run(which, rule, edit, original, options);
        }
    }
}

/// The decided kind, after reporting an undecided or contradicted decision.
fn decided_kind(decision: &KindDecision, edit: &mut Edit) -> Option<ConnectorKind> {
    let Some(kind) = decision.kind else {
        let message = format!(
            "{}; rerun with the kind chosen (cdc or ct)",
            decision.explain()
        );
        edit.finding(Finding::general(
            Severity::Error,
            FindingKind::KindUndecided,
            message,
        ));
        return None;
    };
    if decision.contradicting().next().is_some() {
        let message = format!("kind {}", decision.explain());
        edit.finding(Finding::general(
            Severity::Warning,
            FindingKind::KindUndecided,
            message,
        ));
    }
    Some(kind)
}

/// Applies the journal variant for `decision`'s kind, or reports why it cannot.
///
/// The route-replacement rule is skipped (and reported) when the connector has no
/// `route` transform: a replacement without a router would be an orphan key.
fn run_variant(
    decision: &KindDecision,
    edit: &mut Edit,
    original: &Config,
    options: &MigrateOptions,
) {
    let Some(kind) = decided_kind(decision, edit) else {
        return;
    };
    let rules = match kind {
        ConnectorKind::Cdc => CDC_RULES,
        ConnectorKind::Ct => CT_RULES,
    };
    let has_router = edit.config.contains_key("transforms.route.type");
    for rule in rules {
        let key = "transforms.route.replacement";
        let routes = matches!(rule.action, Action::SetKey { key: k, .. } if k == key);
        if routes && !has_router {
            let message = format!("no transforms.route.type: rule {} not applied", rule.id);
            edit.finding(Finding::about(
                Severity::Warning,
                FindingKind::TopicChange,
                key,
                message,
            ));
            continue;
        }
        run_rules(std::slice::from_ref(rule), edit, original, options);
    }
}

/// Migrates one connector config from Debezium MySQL 1.9 to 3.0.
///
/// Pure: the input is not modified. Migrating the output again changes nothing.
/// Connectors that are not Debezium MySQL are returned untouched with a finding.
pub fn migrate_connector(config: &Config, options: &MigrateOptions) -> Migration {
    let class = classify_connector(config);
    if class != ConnectorClass::DebeziumMySql {
        return pass_through(config, class);
    }
    let mut edit = Edit::new(config.clone());
    run_rules(COMMON_RULES, &mut edit, config, options);
    let decision = detect_kind(config, options.kind);
    run_variant(&decision, &mut edit, config, options);
    if options.enable_idempotence {
        run_rules(&[IDEMPOTENCE_RULE], &mut edit, config, options);
        checks::idempotence_requirements(&mut edit);
    }
    run_rules(&[SCHEMA_NAME_GUARD], &mut edit, config, options);
    checks::required_values(&mut edit);
    checks::default_changes(&mut edit, config);
    let drift = predict_drift(config, &edit.config, &options.known_tables).ok();
    if let Some(report) = &drift {
        checks::drift_outcome(&mut edit, report);
    }
    checks::unknown_keys(&mut edit);
    Migration {
        name: config.get("name").cloned(),
        class,
        kind: Some(decision),
        config: edit.config,
        changes: edit.changes,
        findings: edit.findings,
        drift,
    }
}
