//! What a migration reports: the changes it applied and the findings it raised.
//!
//! A [`Change`] is something the migration *did* to a config (it names the rule
//! that did it); a [`Finding`] is something the operator must *know* (an unknown
//! key kept as is, a conflict left untouched, a default that changed). Findings
//! of [`Severity::Error`] block applying the migrated config.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to do.
    Info,
    /// Changes behaviour or needs a look; does not block.
    Warning,
    /// The migrated config must not be applied until this is resolved.
    Error,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The connector is not a Debezium MySQL connector; its config passed through untouched.
    NotMigrated,
    /// A key no known Debezium MySQL 1.9/3.0 or Kafka Connect option matches; kept as is.
    UnknownKey,
    /// A key whose 3.0 meaning cannot be decided (e.g. an unrecognised `database.*` key); kept as is.
    AmbiguousKey,
    /// A key that Debezium 3.0 no longer has; removed.
    RemovedKey,
    /// Old and new spellings of one option carry different values; both left untouched.
    Conflict,
    /// A value Debezium 3.0 requires is missing.
    MissingRequired,
    /// CDC or CT could not be decided; the variant rules were not applied.
    KindUndecided,
    /// An existing value was replaced by a rule, or kept although a rule suggests another.
    ValueReplaced,
    /// A default changed between 1.9 and 3.0 in a way that may bite.
    DefaultChanged,
    /// Avro schema names (and so key schema ids) would change after the upgrade.
    SchemaNameDrift,
    /// The topic records land in (after routing transforms) changes.
    TopicChange,
    /// Something the operator has to do outside the connector config (ACLs, compose file, …).
    OperatorAction,
}

/// One thing the operator must know about a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What it is about.
    pub kind: FindingKind,
    /// The config key (or environment variable) it concerns, if any.
    pub key: Option<String>,
    /// A sentence for the operator: what, why, what to do.
    pub message: String,
}

impl Finding {
    /// A finding about `key`.
    pub fn about(
        severity: Severity,
        kind: FindingKind,
        key: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    /// A finding about the connector as a whole.
    pub fn general(severity: Severity, kind: FindingKind, message: impl Into<String>) -> Self {
        Self {
            severity,
            kind,
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        match &self.key {
            Some(key) => write!(f, "{level}: {key}: {}", self.message),
            None => write!(f, "{level}: {}", self.message),
        }
    }
}

/// What a change did to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    /// The key was renamed (its value possibly rewritten on the way).
    Rename,
    /// The key was set (added, or its value replaced).
    Set,
    /// The key was removed.
    Remove,
}

/// One change a rule applied, in the order it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The id of the rule that made the change (see [`crate::rules::rule`]).
    pub rule: String,
    /// What happened.
    pub op: ChangeOp,
    /// The key before the change.
    pub key: String,
    /// The key after a rename.
    pub new_key: Option<String>,
    /// The value before the change (`None`: the key was absent).
    pub old: Option<String>,
    /// The value after the change (`None`: the key is gone).
    pub new: Option<String>,
}

impl Change {
    /// The key this change leaves in the config, if any.
    pub fn resulting_key(&self) -> Option<&str> {
        match self.op {
            ChangeOp::Rename => self.new_key.as_deref(),
            ChangeOp::Set => Some(&self.key),
            ChangeOp::Remove => None,
        }
    }

    /// Diff lines (`- key=value` / `+ key=value`) with secrets masked, tagged with the rule id.
    pub fn diff_lines(&self) -> Vec<String> {
        let mut lines = Vec::with_capacity(2);
        if let Some(old) = &self.old {
            lines.push(format!("- {}={}", self.key, shown(&self.key, old)));
        }
        if let (Some(key), Some(new)) = (self.resulting_key(), &self.new) {
            lines.push(format!("+ {key}={}", shown(key, new)));
        }
        if let Some(first) = lines.first_mut() {
            first.push_str(&format!("    [{}]", self.rule));
        }
        lines
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diff_lines().join("\n"))
    }
}

/// Whether a key holds a secret whose value must not be printed.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "jaas", "token", "credential"]
        .iter()
        .any(|word| key.contains(word))
}

/// The value as it may be shown for `key`: secrets become `******`.
pub fn shown<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_key(key) { "******" } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_renders_as_two_diff_lines_tagged_with_the_rule() {
        let change = Change {
            rule: "dbz.server-name".into(),
            op: ChangeOp::Rename,
            key: "database.server.name".into(),
            new_key: Some("topic.prefix".into()),
            old: Some("cdc-x".into()),
            new: Some("cdc-x".into()),
        };
        assert_eq!(
            change.diff_lines(),
            vec![
                "- database.server.name=cdc-x    [dbz.server-name]".to_owned(),
                "+ topic.prefix=cdc-x".to_owned()
            ]
        );
    }

    #[test]
    fn secrets_are_masked_in_diffs() {
        let change = Change {
            rule: "r".into(),
            op: ChangeOp::Set,
            key: "database.password".into(),
            new_key: None,
            old: None,
            new: Some("hunter2".into()),
        };
        let text = change.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("database.password=******"), "{text}");
        assert!(!is_secret_key("database.hostname"));
        assert!(is_secret_key(
            "schema.history.internal.producer.sasl.jaas.config"
        ));
    }

    #[test]
    fn removal_has_no_plus_line() {
        let change = Change {
            rule: "r".into(),
            op: ChangeOp::Remove,
            key: "acks".into(),
            new_key: None,
            old: Some("all".into()),
            new: None,
        };
        assert_eq!(change.diff_lines(), vec!["- acks=all    [r]".to_owned()]);
    }
}
