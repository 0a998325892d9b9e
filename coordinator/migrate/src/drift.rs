//! Predicts whether a connector's Avro schema names change from Debezium 1.9 to 3.0.
//!
//! Debezium names a table's schemas `<prefix>.<db>.<table>.Key`, `.Value` and
//! `.Envelope`, adjusted by `schema.name.adjustment.mode` (see [`crate::naming`]).
//! A changed key schema name registers a new schema id under the unchanged
//! `<topic>-key` subject, which changes the key bytes and so the partition of
//! nearly every key. [`predict_drift`] compares the names a config produced under
//! 1.9 with those another (or the same) config produces under 3.0, per table,
//! and also computes each table's topic after routing, whose `-key` subject is
//! the one to verify after the connector resumes.
//!
//! Limitations, stated rather than hidden: names with characters that are illegal
//! in topic names are modelled without Debezium's topic-name sanitizing of the
//! envelope name, and a non-default `topic.delimiter` is applied to topics only.

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::error::DriftError;
use crate::naming::NameRules;
use crate::route::route_topic;
use crate::tables::{TableId, captured_tables};

/// The Avro schema names Debezium gives one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaNames {
    /// The key schema (`<prefix>.<db>.<table>.Key`).
    pub key: String,
    /// The row schema (`….Value`).
    pub value: String,
    /// The change-event envelope (`….Envelope`).
    pub envelope: String,
}

impl SchemaNames {
    /// The names `rules` give `table` under `prefix`.
    pub fn under(rules: NameRules, prefix: &str, table: &TableId) -> Self {
        let base = format!("{prefix}.{}.{}", table.database, table.table);
        Self {
            key: rules.schema_name(&format!("{base}.Key")),
            value: rules.schema_name(&format!("{base}.Value")),
            envelope: rules.schema_name(&format!("{base}.Envelope")),
        }
    }
}

/// The prediction for one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDrift {
    /// The table.
    pub table: TableId,
    /// Names under the 1.9 rules of the "before" config.
    pub before: SchemaNames,
    /// Names under the 3.0 rules of the "after" config.
    pub after: SchemaNames,
    /// The topic after routing under the "before" config (`None`: routing not evaluable).
    pub routed_before: Option<String>,
    /// The topic after routing under the "after" config (`None`: routing not evaluable).
    pub routed_after: Option<String>,
}

impl TableDrift {
    /// Whether any schema name changes.
    pub fn names_change(&self) -> bool {
        self.before != self.after
    }

    /// Whether the key schema name changes (the partition-moving case).
    pub fn key_changes(&self) -> bool {
        self.before.key != self.after.key
    }

    /// Whether the routed topic changes (`None`: unknown).
    pub fn topic_changes(&self) -> Option<bool> {
        Some(self.routed_before.as_ref()? != self.routed_after.as_ref()?)
    }

    /// The key subject to verify after the upgrade (`<topic>-key`, TopicNameStrategy).
    pub fn key_subject(&self) -> Option<String> {
        self.routed_after
            .as_ref()
            .map(|topic| format!("{topic}-key"))
    }
}

/// The overall answer: do names change?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftVerdict {
    /// Some names change.
    Changes,
    /// No name changes, for every table the connector can capture.
    Unchanged,
    /// No known table's names change, but not every captured table is known.
    Unknown,
}

/// The prediction for one connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The 1.9 naming rules in effect before.
    pub rules_before: NameRules,
    /// The 3.0 naming rules in effect after.
    pub rules_after: NameRules,
    /// The topic prefix before (`database.server.name`).
    pub prefix_before: String,
    /// The topic prefix after (`topic.prefix`).
    pub prefix_after: String,
    /// Whether the prefix part of every name changes (so every table's names do).
    pub prefix_changes: bool,
    /// Per-table predictions, for the tables known to be captured.
    pub tables: Vec<TableDrift>,
    /// Whether `tables` is every captured table.
    pub complete: bool,
    /// Include-list patterns that could not be enumerated.
    pub patterns: Vec<String>,
    /// Things the prediction could not evaluate (routing errors, …).
    pub notes: Vec<String>,
    /// The answer.
    pub verdict: DriftVerdict,
}

/// Whether two rule sets can only disagree on a name's first character.
fn agree_beyond_first_char(before: NameRules, after: NameRules) -> bool {
    matches!(
        (before, after),
        (NameRules::V19Avro, NameRules::V30Avro) | (NameRules::V19None, NameRules::V30None)
    )
}

fn mode_rules(
    config: &Config,
    version: &'static str,
    parse: fn(Option<&str>) -> Option<NameRules>,
) -> Result<NameRules, DriftError> {
    let key = "schema.name.adjustment.mode";
    let value = config.get(key).map(String::as_str);
    parse(value).ok_or_else(|| DriftError::UnknownMode {
        key: key.to_owned(),
        value: value.unwrap_or_default().to_owned(),
        version,
    })
}

fn prefix<'a>(config: &'a Config, keys: [&str; 2]) -> Result<&'a str, DriftError> {
    keys.iter()
        .find_map(|key| config.get(*key))
        .map(String::as_str)
        .ok_or(DriftError::NoPrefix)
}

/// Replaces characters Kafka does not allow in topic names, per UTF-16 unit, as Debezium does.
fn sanitize_topic(topic: &str) -> String {
    topic
        .chars()
        .flat_map(|c| {
            let ok = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            let (ch, count) = if ok { (c, 1) } else { ('_', c.len_utf16()) };
            std::iter::repeat_n(ch, count)
        })
        .collect()
}

/// One side of the comparison: a config, its naming rules and its prefix.
struct Side<'a> {
    config: &'a Config,
    rules: NameRules,
    prefix: &'a str,
}

/// Routes `topic` under `config`, collecting why when it cannot.
fn routed(config: &Config, topic: &str, notes: &mut Vec<String>) -> Option<String> {
    match route_topic(config, &sanitize_topic(topic)) {
        Ok(routed) => Some(routed),
        Err(e) => {
            let note = e.to_string();
            if !notes.contains(&note) {
                notes.push(note);
            }
            None
        }
    }
}

fn predict_table(
    before: &Side<'_>,
    after: &Side<'_>,
    delimiter: &str,
    table: &TableId,
    notes: &mut Vec<String>,
) -> TableDrift {
    let topic_before = format!("{}.{}.{}", before.prefix, table.database, table.table);
    let topic_after = [after.prefix, &table.database, &table.table].join(delimiter);
    TableDrift {
        table: table.clone(),
        before: SchemaNames::under(before.rules, before.prefix, table),
        after: SchemaNames::under(after.rules, after.prefix, table),
        routed_before: routed(before.config, &topic_before, notes),
        routed_after: routed(after.config, &topic_after, notes),
    }
}

/// Predicts schema names of `before` under 1.9 rules and of `after` under 3.0 rules.
///
/// `known` are `db.table` names the caller knows of (e.g. from the topics that
/// exist); they are filtered by the connector's include/exclude lists. Pass the
/// same config twice to predict what an unchanged config would do after the upgrade.
pub fn predict_drift(
    before: &Config,
    after: &Config,
    known: &[TableId],
) -> Result<DriftReport, DriftError> {
    let old = Side {
        config: before,
        rules: mode_rules(before, "1.9", NameRules::v19_schema)?,
        prefix: prefix(before, ["database.server.name", "topic.prefix"])?,
    };
    let new = Side {
        config: after,
        rules: mode_rules(after, "3.0", NameRules::v30)?,
        prefix: prefix(after, ["topic.prefix", "database.server.name"])?,
    };
    let captured = captured_tables(after, known)?;
    let delimiter = after.get("topic.delimiter").map_or(".", String::as_str);
    let mut notes = Vec::new();
    let tables: Vec<TableDrift> = captured
        .tables
        .iter()
        .map(|table| predict_table(&old, &new, delimiter, table, &mut notes))
        .collect();
    let prefix_changes = old.rules.schema_name(old.prefix) != new.rules.schema_name(new.prefix);
    let verdict = if prefix_changes || tables.iter().any(TableDrift::names_change) {
        DriftVerdict::Changes
    } else if captured.complete || agree_beyond_first_char(old.rules, new.rules) {
        DriftVerdict::Unchanged
    } else {
        DriftVerdict::Unknown
    };
    Ok(DriftReport {
        rules_before: old.rules,
        rules_after: new.rules,
        prefix_before: old.prefix.to_owned(),
        prefix_after: new.prefix.to_owned(),
        prefix_changes,
        tables,
        complete: captured.complete,
        patterns: captured.patterns,
        notes,
        verdict,
    })
}

/// Predicts what one config (1.9 or 3.0 style) does to its names across the upgrade.
pub fn predict(config: &Config, known: &[TableId]) -> Result<DriftReport, DriftError> {
    predict_drift(config, config, known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const ROUTE: [(&str, &str); 4] = [
        ("transforms", "route"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", r"([^.]+)\.([^.]+)\.([^.]+)"),
        ("transforms.route.replacement", "ct.$2.$3"),
    ];

    fn ct_config(extra: &[(&str, &str)]) -> Config {
        let mut cfg = config(&ROUTE);
        cfg.extend(config(&[
            ("database.server.name", "ct-digikala_fulfillment-slave"),
            ("table.include.list", r"digikala_fulfillment\.receipts"),
        ]));
        cfg.extend(config(extra));
        cfg
    }

    #[test]
    fn dashed_prefix_drifts_under_the_30_default() {
        let report = predict(&ct_config(&[]), &[]).expect("predictable");
        assert_eq!(report.verdict, DriftVerdict::Changes);
        assert!(report.prefix_changes);
        let receipts = &report.tables[0];
        assert_eq!(
            receipts.before.key,
            "ct_digikala_fulfillment_slave.digikala_fulfillment.receipts.Key"
        );
        assert_eq!(
            receipts.after.key,
            "ct-digikala_fulfillment-slave.digikala_fulfillment.receipts.Key"
        );
        assert!(receipts.key_changes());
        assert_eq!(
            receipts.key_subject().as_deref(),
            Some("ct.digikala_fulfillment.receipts-key")
        );
        assert_eq!(receipts.topic_changes(), Some(false));
    }

    #[test]
    fn pinning_avro_stops_the_drift() {
        let report = predict(&ct_config(&[("schema.name.adjustment.mode", "avro")]), &[])
            .expect("predictable");
        assert_eq!(report.verdict, DriftVerdict::Unchanged);
        assert!(!report.tables[0].names_change());
    }

    #[test]
    fn clean_prefix_does_not_drift_when_every_table_is_known() {
        let clean = config(&[
            ("database.server.name", "shop"),
            ("table.whitelist", "sales.orders"),
        ]);
        let report = predict(&clean, &[]).expect("predictable");
        assert_eq!(report.verdict, DriftVerdict::Unchanged);
        assert_eq!(report.tables[0].after.key, "shop.sales.orders.Key");
        // With a pattern the tables cannot all be known: a dashed table name could drift.
        let pattern = config(&[
            ("database.server.name", "shop"),
            ("table.whitelist", "sales\\..*"),
        ]);
        assert_eq!(
            predict(&pattern, &[]).expect("predictable").verdict,
            DriftVerdict::Unknown
        );
        let known = [TableId::new("sales", "order-lines")];
        let report = predict(&pattern, &known).expect("predictable");
        assert_eq!(report.verdict, DriftVerdict::Changes);
        assert_eq!(
            report.tables[0].before.value,
            "shop.sales.order_lines.Value"
        );
    }

    #[test]
    fn leading_digit_prefix_drifts_even_with_avro() {
        let cfg = config(&[
            ("topic.prefix", "9shop"),
            ("schema.name.adjustment.mode", "avro"),
            ("table.include.list", "s.t"),
        ]);
        let report = predict(&cfg, &[]).expect("predictable");
        assert_eq!(report.verdict, DriftVerdict::Changes);
        assert_eq!(report.tables[0].before.envelope, "_shop.s.t.Envelope");
        assert_eq!(report.tables[0].after.envelope, "_9shop.s.t.Envelope");
    }

    #[test]
    fn routing_change_between_configs_is_visible() {
        let before = ct_config(&[("transforms.route.replacement", "$2.$3")]);
        let after = ct_config(&[]);
        let report = predict_drift(&before, &after, &[]).expect("predictable");
        assert_eq!(report.tables[0].topic_changes(), Some(true));
        assert_eq!(
            report.tables[0].routed_before.as_deref(),
            Some("digikala_fulfillment.receipts")
        );
    }

    #[test]
    fn unpredictable_configs_say_why() {
        assert_eq!(predict(&Config::new(), &[]), Err(DriftError::NoPrefix));
        let bad = config(&[
            ("topic.prefix", "p"),
            ("schema.name.adjustment.mode", "avro_unicode"),
        ]);
        assert!(matches!(
            predict(&bad, &[]),
            Err(DriftError::UnknownMode { version: "1.9", .. })
        ));
        assert_eq!(sanitize_topic("a b😀"), "a_b__");
    }
}
