//! Applies rule actions to a config, recording changes and findings.
//!
//! Every edit goes through [`Edit`], which owns the invariants the whole
//! migration relies on: a rename never overwrites a different value (that is a
//! conflict, reported and left alone), every edit is recorded as a [`Change`]
//! naming its rule, and an edit that would change nothing records nothing — so
//! running the migration on its own output is a no-op.

use crate::Config;
use crate::finding::{Change, ChangeOp, Finding, FindingKind, Severity, shown};
use crate::rules::{Action, Custom, OtherValues, Rule, SetPolicy};

/// A config being migrated, with what has been done to it so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Edit {
    /// The config as migrated so far.
    pub config: Config,
    /// Changes applied, in order.
    pub changes: Vec<Change>,
    /// Findings raised, in order.
    pub findings: Vec<Finding>,
}

impl Edit {
    /// Starts editing `config`.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Applies a data rule; returns the custom logic to run for a [`Action::Custom`] rule.
    pub fn apply(&mut self, rule: &Rule) -> Option<Custom> {
        match rule.action {
            Action::RenameKey {
                from,
                to,
                values,
                other,
            } => {
                let value = self.config.get(from)?.clone();
                let mapped = self.map_value(from, to, &value, values, other);
                self.rename(rule.id, from, to, mapped);
            }
            Action::RenamePrefix { from, to } => {
                let keys: Vec<String> = self
                    .config
                    .range(from.to_owned()..)
                    .map(|(key, _)| key)
                    .take_while(|key| key.starts_with(from))
                    .cloned()
                    .collect();
                for key in keys {
                    let new_key = format!("{to}{}", &key[from.len()..]);
                    let value = self.config[&key].clone();
                    self.rename(rule.id, &key, &new_key, value);
                }
            }
            Action::RemoveKey { key } => self.remove(rule.id, key, rule.description),
            Action::SetKey { key, value, policy } => self.set(rule.id, key, value, policy),
            Action::RewriteValue { key, from, to } => {
                if let Some(old) = self.config.get(key).filter(|v| *v == from).cloned() {
                    self.config.insert(key.to_owned(), to.to_owned());
                    self.changes.push(Change {
                        rule: rule.id.to_owned(),
                        op: ChangeOp::Set,
                        key: key.to_owned(),
                        new_key: None,
                        old: Some(old),
                        new: Some(to.to_owned()),
                    });
                }
            }
            Action::Custom(which) => return Some(which),
        }
        None
    }

    fn map_value(
        &mut self,
        from: &str,
        to: &str,
        value: &str,
        values: &[(&str, &str)],
        other: OtherValues,
    ) -> String {
        if let Some((_, new)) = values
            .iter()
            .find(|(old, _)| old.eq_ignore_ascii_case(value.trim()))
        {
            return (*new).to_owned();
        }
        if other == OtherValues::Warn {
            self.finding(Finding::about(
                Severity::Warning,
                FindingKind::AmbiguousKey,
                from,
                format!(
                    "value {:?} has no known 3.0 equivalent; it is kept as {to}'s value: check it",
                    shown(from, value)
                ),
            ));
        }
        value.to_owned()
    }

    /// Renames `from` to `to` with `value`; a different value already under `to` is a conflict.
    pub fn rename(&mut self, rule: &str, from: &str, to: &str, value: String) {
        let Some(old) = self.config.get(from).cloned() else {
            return;
        };
        match self.config.get(to) {
            Some(existing) if *existing == value => {
                self.config.remove(from);
                self.changes.push(Change {
                    rule: rule.to_owned(),
                    op: ChangeOp::Remove,
                    key: from.to_owned(),
                    new_key: None,
                    old: Some(old),
                    new: None,
                });
            }
            Some(existing) => {
                let message = format!(
                    "both {from}={} and {to}={} are set; kroll picks neither — remove one by hand",
                    shown(from, &old),
                    shown(to, existing)
                );
                self.finding(Finding::about(
                    Severity::Error,
                    FindingKind::Conflict,
                    from,
                    message,
                ));
            }
            None => {
                self.config.remove(from);
                self.config.insert(to.to_owned(), value.clone());
                self.changes.push(Change {
                    rule: rule.to_owned(),
                    op: ChangeOp::Rename,
                    key: from.to_owned(),
                    new_key: Some(to.to_owned()),
                    old: Some(old),
                    new: Some(value),
                });
            }
        }
    }

    /// Removes `key` if present, reporting why.
    pub fn remove(&mut self, rule: &str, key: &str, why: &str) {
        let Some(old) = self.config.remove(key) else {
            return;
        };
        self.changes.push(Change {
            rule: rule.to_owned(),
            op: ChangeOp::Remove,
            key: key.to_owned(),
            new_key: None,
            old: Some(old),
            new: None,
        });
        self.finding(Finding::about(
            Severity::Info,
            FindingKind::RemovedKey,
            key,
            why,
        ));
    }

    /// Sets `key` to `value` under `policy`.
    pub fn set(&mut self, rule: &str, key: &str, value: &str, policy: SetPolicy) {
        let current = self.config.get(key).cloned();
        match (&current, policy) {
            (Some(existing), _) if existing == value => return,
            (Some(existing), SetPolicy::IfAbsent) => {
                let message = format!(
                    "kept the operator's value {}; rule {rule} would set {}",
                    shown(key, existing),
                    shown(key, value)
                );
                self.finding(Finding::about(
                    Severity::Info,
                    FindingKind::ValueReplaced,
                    key,
                    message,
                ));
                return;
            }
            (Some(existing), SetPolicy::Always) => {
                let message = format!(
                    "replaced {} by {} (rule {rule})",
                    shown(key, existing),
                    shown(key, value)
                );
                self.finding(Finding::about(
                    Severity::Warning,
                    FindingKind::ValueReplaced,
                    key,
                    message,
                ));
            }
            (None, _) => {}
        }
        self.config.insert(key.to_owned(), value.to_owned());
        self.changes.push(Change {
            rule: rule.to_owned(),
            op: ChangeOp::Set,
            key: key.to_owned(),
            new_key: None,
            old: current,
            new: Some(value.to_owned()),
        });
    }

    /// Records a finding.
    pub fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

#[cfg(test)]
#[path = "engine_cases.rs"]
mod cases;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{COMMON_RULES, rule};

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn run(rule_id: &str, pairs: &[(&str, &str)]) -> Edit {
        let mut edit = Edit::new(config(pairs));
        let rule = rule(rule_id).expect("rule exists");
        assert_eq!(edit.apply(rule), None, "{rule_id} is a data rule");
        edit
    }

    use super::cases::DATA_RULE_CASES;

    #[test]
    fn each_data_rule_does_what_its_table_entry_says() {
        let cases = DATA_RULE_CASES;
        for (id, input, expected) in cases {
            let edit = run(id, input);
            assert_eq!(edit.config, config(expected), "rule {id}");
            let changed = config(input) != config(expected);
            assert_eq!(!edit.changes.is_empty(), changed, "rule {id} change record");
            assert!(edit.changes.iter().all(|c| c.rule == *id), "rule {id} ids");
        }
    }

    #[test]
    fn every_data_rule_has_a_case() {
        for rule in crate::rules::all_rules() {
            if matches!(rule.action, Action::Custom(_)) {
                continue;
            }
            let covered = DATA_RULE_CASES.iter().any(|(id, _, _)| *id == rule.id);
            assert!(covered, "no case for rule {}", rule.id);
        }
    }

    #[test]
    fn value_rewrites_are_changes_not_warnings() {
        let edit = run(
            "dbz.snapshot-mode.recovery",
            &[("snapshot.mode", "schema_only_recovery")],
        );
        assert_eq!(edit.changes.len(), 1);
        assert_eq!(edit.changes[0].old.as_deref(), Some("schema_only_recovery"));
        assert!(edit.findings.is_empty(), "{:?}", edit.findings);
    }

    #[test]
    fn rename_onto_a_different_value_is_a_conflict_and_changes_nothing() {
        let input = [("database.server.name", "cdc-a"), ("topic.prefix", "cdc-b")];
        let edit = run("dbz.topic-prefix", &input);
        assert_eq!(edit.config, config(&input));
        assert!(edit.changes.is_empty());
        let conflict = edit
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Conflict)
            .expect("conflict reported");
        assert_eq!(conflict.severity, Severity::Error);
        assert!(conflict.message.contains("cdc-a") && conflict.message.contains("cdc-b"));
    }

    #[test]
    fn rename_onto_the_same_value_drops_the_old_spelling() {
        let edit = run(
            "dbz.table-include",
            &[("table.whitelist", "a.b"), ("table.include.list", "a.b")],
        );
        assert_eq!(edit.config, config(&[("table.include.list", "a.b")]));
        assert_eq!(edit.changes.len(), 1);
        assert_eq!(edit.changes[0].op, ChangeOp::Remove);
    }

    #[test]
    fn unknown_history_class_is_kept_with_a_warning() {
        let edit = run(
            "dbz.history-class",
            &[("database.history", "com.acme.History")],
        );
        assert_eq!(
            edit.config,
            config(&[("schema.history.internal", "com.acme.History")])
        );
        assert!(
            edit.findings
                .iter()
                .any(|f| f.kind == FindingKind::AmbiguousKey && f.severity == Severity::Warning)
        );
    }

    #[test]
    fn custom_rules_are_handed_back() {
        let mut edit = Edit::new(Config::new());
        let customs: Vec<_> = COMMON_RULES.iter().filter_map(|r| edit.apply(r)).collect();
        assert_eq!(
            customs,
            vec![
                Custom::TransactionTopic,
                Custom::DriverPassThrough,
                Custom::ServerId
            ]
        );
        assert!(edit.changes.is_empty() && edit.findings.is_empty());
    }
}
