//! The rules whose logic does not fit the data table ([`crate::rules::Custom`]).

use crate::drift::{DriftReport, DriftVerdict, predict_drift};
use crate::engine::Edit;
use crate::finding::{Finding, FindingKind, Severity};
use crate::keys::{DatabaseKey, classify_database_key};
use crate::naming::NameRules;
use crate::rules::{Custom, Rule, SetPolicy};
use crate::{Config, MigrateOptions};

/// Runs one custom rule.
pub(crate) fn run(
    which: Custom,
    rule: &Rule,
    edit: &mut Edit,
    original: &Config,
    options: &MigrateOptions,
) {
    match which {
        Custom::DriverPassThrough => driver_pass_through(rule, edit),
        Custom::TransactionTopic => transaction_topic(rule, edit),
        Custom::ServerId => server_id(rule, edit, options.server_id),
        Custom::SchemaNameGuard => schema_name_guard(rule, edit, original, options),
    }
}

fn driver_pass_through(rule: &Rule, edit: &mut Edit) {
    let keys: Vec<String> = edit
        .config
        .keys()
        .filter(|key| key.starts_with("database."))
        .cloned()
        .collect();
    for key in keys {
        match classify_database_key(&key) {
            Some(DatabaseKey::DriverProperty(property)) => {
                let value = edit.config[&key].clone();
                edit.rename(rule.id, &key, &format!("driver.{property}"), value);
            }
            Some(DatabaseKey::Ambiguous) => edit.finding(Finding::about(
                Severity::Warning,
                FindingKind::AmbiguousKey,
                &key,
                "neither a Debezium option nor a known MySQL Connector/J property: kept as is, but 3.0 passes only \
                 driver.* to the JDBC driver — rename it to driver.<property> if the driver should see it",
            )),
            Some(DatabaseKey::ConnectorOption) | None => {}
        }
    }
}

fn transaction_topic(rule: &Rule, edit: &mut Edit) {
    let Some(value) = edit.config.get("transaction.topic").cloned() else {
        return;
    };
    let prefix = edit
        .config
        .get("topic.prefix")
        .or_else(|| edit.config.get("database.server.name"))
        .cloned();
    let suffix = value
        .strip_prefix("${database.server.name}.")
        .map(str::to_owned)
        .or_else(|| {
            let prefix = prefix.as_deref()?;
            value.strip_prefix(&format!("{prefix}.")).map(str::to_owned)
        });
    match suffix {
        Some(suffix) if !suffix.is_empty() => edit.rename(rule.id, "transaction.topic", "topic.transaction", suffix),
        _ => edit.finding(Finding::about(
            Severity::Warning,
            FindingKind::AmbiguousKey,
            "transaction.topic",
            format!(
                "{value:?} is not <topic prefix>.<name>; 3.0 always writes transaction metadata to \
                 <topic prefix>.<topic.transaction>, so this topic cannot be kept — kept as is for a decision"
            ),
        )),
    }
}

fn server_id(rule: &Rule, edit: &mut Edit, supplied: Option<u32>) {
    const KEY: &str = "database.server.id";
    match (edit.config.get(KEY).cloned(), supplied) {
        (Some(existing), supplied) => {
            if !matches!(existing.trim().parse::<u32>(), Ok(id) if id > 0) {
                let message = format!("{existing:?} is not a server id (1–4294967295)");
                edit.finding(Finding::about(Severity::Error, FindingKind::MissingRequired, KEY, message));
            } else if let Some(id) = supplied.filter(|id| id.to_string() != existing.trim()) {
                let message = format!("kept the connector's {existing}; the supplied {id} was not used");
                edit.finding(Finding::about(Severity::Warning, FindingKind::ValueReplaced, KEY, message));
            }
        }
        (None, Some(id)) => edit.set(rule.id, KEY, &id.to_string(), SetPolicy::Always),
        (None, None) => edit.finding(Finding::about(
            Severity::Error,
            FindingKind::MissingRequired,
            KEY,
            "required in 3.0 (1.9 picked a random one): supply an id unique among the MySQL server's replicas and \
             every other connector reading its binlog",
        )),
    }
}

/// The 3.0 mode that names schemas as the given 1.9 rules did.
fn equivalent_30_mode(before: NameRules) -> Option<&'static str> {
    match before {
        NameRules::V19Avro => Some("avro"),
        NameRules::V19None => Some("none"),
        _ => None,
    }
}

fn drift_reason(report: &DriftReport) -> String {
    let changed: Vec<_> = report.tables.iter().filter(|t| t.names_change()).collect();
    match changed.first() {
        Some(first) => format!(
            "under 3.0's {} the key schema {} would become {} ({} of {} known tables change), so its schema id, key \
             bytes and partitions would change",
            report.rules_after.mode_name(),
            first.before.key,
            first.after.key,
            changed.len(),
            report.tables.len()
        ),
        None if report.prefix_changes => format!(
            "under 3.0's {} the prefix {:?} would no longer be adjusted, renaming every key schema",
            report.rules_after.mode_name(),
            report.prefix_after
        ),
        None => format!(
            "not every captured table is known (patterns: {}), and a table name with a character invalid in Avro \
             would be renamed under 3.0's {}; 1.9 used {}, so pinning it changes nothing that exists",
            if report.patterns.is_empty() {
                "none; no include list".to_owned()
            } else {
                report.patterns.join(", ")
            },
            report.rules_after.mode_name(),
            report.rules_before.mode_name()
        ),
    }
}

fn schema_name_guard(rule: &Rule, edit: &mut Edit, original: &Config, options: &MigrateOptions) {
    let report = match predict_drift(original, &edit.config, &options.known_tables) {
        Ok(report) => report,
        Err(e) => {
            let message = format!(
                "cannot predict schema names ({e}); check schema.name.adjustment.mode by hand"
            );
            edit.finding(Finding::general(
                Severity::Warning,
                FindingKind::SchemaNameDrift,
                message,
            ));
            return;
        }
    };
    let Some(mode) = equivalent_30_mode(report.rules_before) else {
        return;
    };
    if report.verdict == DriftVerdict::Unchanged || report.rules_after.mode_name() == mode {
        return;
    }
    let reason = drift_reason(&report);
    edit.set(
        rule.id,
        "schema.name.adjustment.mode",
        mode,
        SetPolicy::Always,
    );
    if mode == "avro" {
        edit.set(
            rule.id,
            "field.name.adjustment.mode",
            "avro",
            SetPolicy::Always,
        );
    }
    let message = format!("pinned schema.name.adjustment.mode={mode}: {reason}");
    edit.finding(Finding::general(
        Severity::Info,
        FindingKind::SchemaNameDrift,
        message,
    ));
}
