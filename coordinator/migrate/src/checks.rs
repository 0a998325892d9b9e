//! Checks on a migrated config that raise findings but change nothing.

use std::collections::BTreeSet;

use crate::Config;
use crate::drift::{DriftReport, DriftVerdict};
use crate::engine::Edit;
use crate::finding::{Finding, FindingKind, Severity};
use crate::keys::{is_known_key, unknown_key_hint};

const KAFKA_HISTORY: &str = "io.debezium.storage.kafka.history.KafkaSchemaHistory";

fn uses_kafka_history(config: &Config) -> bool {
    config
        .get("schema.history.internal")
        .is_none_or(|class| class.trim() == KAFKA_HISTORY)
}

/// Values Debezium 3.0 refuses to start without.
pub(crate) fn required_values(edit: &mut Edit) {
    let mut required = vec!["topic.prefix", "database.hostname", "database.user"];
    if uses_kafka_history(&edit.config) {
        required.extend([
            "schema.history.internal.kafka.topic",
            "schema.history.internal.kafka.bootstrap.servers",
        ]);
    }
    for key in required {
        let missing = edit
            .config
            .get(key)
            .is_none_or(|value| value.trim().is_empty());
        if missing {
            edit.finding(Finding::about(
                Severity::Error,
                FindingKind::MissingRequired,
                key,
                "required by Debezium 3.0 and not set",
            ));
        }
    }
}

/// Keys no known option matches (kept; reported once each).
pub(crate) fn unknown_keys(edit: &mut Edit) {
    let reported: BTreeSet<String> = edit.findings.iter().filter_map(|f| f.key.clone()).collect();
    let aliases: Vec<&str> = edit
        .config
        .get("converters")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let unknown: Vec<String> = edit
        .config
        .keys()
        .filter(|key| !reported.contains(*key) && !is_known_key(key, &aliases))
        .cloned()
        .collect();
    let findings: Vec<Finding> = unknown
        .iter()
        .map(|key| match unknown_key_hint(key) {
            Some(hint) => Finding::about(
                Severity::Warning,
                FindingKind::UnknownKey,
                key,
                format!("unknown key, kept: {hint}"),
            ),
            None => Finding::about(
                Severity::Info,
                FindingKind::UnknownKey,
                key,
                "not a known Debezium MySQL 1.9/3.0 or Kafka Connect option: kept as is",
            ),
        })
        .collect();
    edit.findings.extend(findings);
}

/// Defaults that changed between 1.9 and 3.0, and operator actions outside the config.
pub(crate) fn default_changes(edit: &mut Edit, original: &Config) {
    let mut notes = Vec::new();
    if !edit.config.contains_key("skipped.operations") {
        notes.push(Finding::about(
            Severity::Info,
            FindingKind::DefaultChanged,
            "skipped.operations",
            "3.0 defaults to t (truncate events are skipped); set skipped.operations=none to emit them",
        ));
    }
    if !edit.config.contains_key("database.ssl.mode") {
        notes.push(Finding::about(
            Severity::Info,
            FindingKind::DefaultChanged,
            "database.ssl.mode",
            "3.0 defaults to preferred (1.9: disabled): the connector tries TLS first and falls back to plain",
        ));
    }
    if let (Some(prefix), true) = (
        edit.config.get("topic.prefix"),
        uses_kafka_history(&edit.config),
    ) {
        let old = original.get("database.server.name").unwrap_or(prefix);
        let group = [
            "schema.history.internal.consumer.group.id",
            "schema.history.internal.name",
        ]
        .iter()
        .find_map(|key| edit.config.get(*key).cloned())
        .unwrap_or_else(|| format!("{prefix}-schemahistory"));
        notes.push(Finding::general(
            Severity::Info,
            FindingKind::OperatorAction,
            format!(
                "the schema history consumer group is {group} (1.9 default: {old}-dbhistory): on an \
                 ACL-protected cluster grant the connector's principal READ on that group"
            ),
        ));
    }
    edit.findings.extend(notes);
}

/// Findings from the final drift prediction: remaining drift and topic changes.
pub(crate) fn drift_outcome(edit: &mut Edit, report: &DriftReport) {
    if report.verdict == DriftVerdict::Changes {
        let example = report
            .tables
            .iter()
            .find(|t| t.names_change())
            .map(|t| format!(": {} becomes {}", t.before.key, t.after.key))
            .unwrap_or_default();
        edit.finding(Finding::general(
            Severity::Error,
            FindingKind::SchemaNameDrift,
            format!(
                "schema names still change after the migration{example} (a prefix starting with a digit is adjusted \
                 differently by 1.9 and 3.0 in every mode): new key schema ids will move keys to other partitions"
            ),
        ));
    }
    topic_changes(edit, report);
}

/// Tables whose records land in another topic, and routing that could not be evaluated.
fn topic_changes(edit: &mut Edit, report: &DriftReport) {
    let moved: Vec<String> = report
        .tables
        .iter()
        .filter(|t| t.topic_changes() == Some(true))
        .map(|t| {
            let show = |topic: &Option<String>| topic.clone().unwrap_or_else(|| "?".to_owned());
            format!("{} → {}", show(&t.routed_before), show(&t.routed_after))
        })
        .collect();
    if !moved.is_empty() {
        let examples = moved.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        let message = format!(
            "records will land in other topics ({} of {} known tables): {examples}",
            moved.len(),
            report.tables.len()
        );
        edit.finding(Finding::about(
            Severity::Warning,
            FindingKind::TopicChange,
            "transforms.route.replacement",
            message,
        ));
    }
    for note in &report.notes {
        let message = format!("routed topics not computed: {note}");
        edit.finding(Finding::general(
            Severity::Info,
            FindingKind::TopicChange,
            message,
        ));
    }
}

/// What `enable.idempotence=true` needs from the other producer overrides.
pub(crate) fn idempotence_requirements(edit: &mut Edit) {
    let get = |key: &str| edit.config.get(key).map(|v| v.trim().to_ascii_lowercase());
    let mut problems = Vec::new();
    if let Some(acks) = get("producer.override.acks").filter(|a| a != "all" && a != "-1") {
        problems.push((
            "producer.override.acks",
            format!("acks={acks}; idempotence needs acks=all"),
        ));
    }
    let in_flight = get("producer.override.max.in.flight.requests.per.connection");
    if let Some(n) = in_flight.filter(|n| n.parse::<u32>().is_ok_and(|n| n > 5)) {
        problems.push((
            "producer.override.max.in.flight.requests.per.connection",
            format!("{n} in flight; idempotence allows at most 5"),
        ));
    }
    if let Some(retries) = get("producer.override.retries").filter(|r| r == "0") {
        problems.push((
            "producer.override.retries",
            format!("retries={retries}; idempotence needs retries > 0"),
        ));
    }
    for (key, message) in problems {
        edit.finding(Finding::about(
            Severity::Error,
            FindingKind::Conflict,
            key,
            message,
        ));
    }
}
