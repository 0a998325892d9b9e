//! What a connector is: Debezium MySQL or not, and of the journal's CDC or CT kind.
//!
//! The kind selects the journal variant. It is decided from explicit evidence,
//! each piece of which is reported: the existing route replacement's prefix
//! (`supernova.` → CDC, `ct.` → CT), and the tokens of the connector's name and of
//! its topic prefix (split on `-`, `_`, `.`; a token `cdc` or `ct`). The caller can
//! override it. Conflicting or absent evidence leaves the kind undecided — the
//! migration then says so and skips the variant rules rather than guess.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::keys::MYSQL_CONNECTOR_CLASS;

/// The journal's two kinds of Debezium connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Change data capture into `supernova.<db>.<table>` topics.
    Cdc,
    /// The CT connectors, into `ct.<db>.<table>` topics.
    Ct,
}

impl fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cdc => "CDC",
            Self::Ct => "CT",
        })
    }
}

impl FromStr for ConnectorKind {
    type Err = String;

    /// Parses `cdc` or `ct` (any case).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cdc" => Ok(Self::Cdc),
            "ct" => Ok(Self::Ct),
            other => Err(format!(
                "unknown connector kind {other:?} (expected cdc or ct)"
            )),
        }
    }
}

/// What `connector.class` says the connector is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "class")]
pub enum ConnectorClass {
    /// `io.debezium.connector.mysql.MySqlConnector`: migrated.
    #[serde(rename = "debezium_mysql")]
    DebeziumMySql,
    /// Another Debezium connector: these rules are MySQL-specific; passed through.
    OtherDebezium(String),
    /// Not Debezium (a sink, say): passed through.
    Other(String),
    /// No `connector.class`: passed through.
    Missing,
}

/// Classifies a connector by its `connector.class`.
pub fn classify_connector(config: &Config) -> ConnectorClass {
    match config.get("connector.class").map(|c| c.trim()) {
        None | Some("") => ConnectorClass::Missing,
        Some(MYSQL_CONNECTOR_CLASS) => ConnectorClass::DebeziumMySql,
        Some(class) if class.starts_with("io.debezium.") => {
            ConnectorClass::OtherDebezium(class.to_owned())
        }
        Some(class) => ConnectorClass::Other(class.to_owned()),
    }
}

/// One piece of evidence for a kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The kind it points to.
    pub kind: ConnectorKind,
    /// Where it comes from, e.g. `transforms.route.replacement=supernova.$2.$3`.
    pub source: String,
}

/// The decided (or undecided) kind, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindDecision {
    /// The kind, if decided.
    pub kind: Option<ConnectorKind>,
    /// Whether the caller chose it.
    pub overridden: bool,
    /// Everything the config says.
    pub evidence: Vec<Evidence>,
}

impl KindDecision {
    /// Evidence pointing to a kind other than the decided one (only possible when overridden).
    pub fn contradicting(&self) -> impl Iterator<Item = &Evidence> {
        self.evidence.iter().filter(|e| Some(e.kind) != self.kind)
    }

    /// A sentence explaining the decision.
    pub fn explain(&self) -> String {
        let evidence: Vec<String> = self
            .evidence
            .iter()
            .map(|e| format!("{} ({})", e.source, e.kind))
            .collect();
        let listed = if evidence.is_empty() {
            "none".to_owned()
        } else {
            evidence.join("; ")
        };
        match (self.kind, self.overridden) {
            (Some(kind), true) => {
                format!("{kind}, chosen by the caller; evidence in the config: {listed}")
            }
            (Some(kind), false) => format!("{kind}, from {listed}"),
            (None, _) if self.evidence.is_empty() => format!(
                "undecided: neither the name, the topic prefix nor transforms.route.replacement says CDC or CT; \
                 evidence: {listed}"
            ),
            (None, _) => format!("undecided: the evidence conflicts: {listed}"),
        }
    }
}

fn token_evidence(key: &str, value: &str) -> Option<Evidence> {
    let tokens: Vec<String> = value
        .split(['-', '_', '.'])
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |t: &str| tokens.iter().any(|token| token == t);
    let kind = match (has("cdc"), has("ct")) {
        (true, false) => ConnectorKind::Cdc,
        (false, true) => ConnectorKind::Ct,
        _ => return None,
    };
    Some(Evidence {
        kind,
        source: format!("{key}={value}"),
    })
}

fn gather_evidence(config: &Config) -> Vec<Evidence> {
    let mut evidence = Vec::new();
    if let Some(replacement) = config.get("transforms.route.replacement") {
        let kind = if replacement.starts_with("supernova.") {
            Some(ConnectorKind::Cdc)
        } else if replacement.starts_with("ct.") {
            Some(ConnectorKind::Ct)
        } else {
            None
        };
        if let Some(kind) = kind {
            evidence.push(Evidence {
                kind,
                source: format!("transforms.route.replacement={replacement}"),
            });
        }
    }
    for key in ["name", "topic.prefix", "database.server.name"] {
        if let Some(found) = config.get(key).and_then(|value| token_evidence(key, value)) {
            evidence.push(found);
        }
    }
    evidence
}

/// Decides the kind of a Debezium connector; `chosen` is the caller's override.
pub fn detect_kind(config: &Config, chosen: Option<ConnectorKind>) -> KindDecision {
    let evidence = gather_evidence(config);
    let kind = chosen.or_else(|| {
        let first = evidence.first()?.kind;
        evidence.iter().all(|e| e.kind == first).then_some(first)
    });
    KindDecision {
        kind,
        overridden: chosen.is_some(),
        evidence,
    }
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

    #[test]
    fn agreeing_evidence_decides() {
        let cfg = config(&[
            ("name", "cdc-digikala_fulfillment-slave"),
            ("database.server.name", "cdc-digikala_fulfillment-slave"),
            ("transforms.route.replacement", "supernova.$2.$3"),
        ]);
        let decision = detect_kind(&cfg, None);
        assert_eq!(decision.kind, Some(ConnectorKind::Cdc));
        assert_eq!(decision.evidence.len(), 3);
        assert!(
            decision
                .explain()
                .starts_with("CDC, from transforms.route.replacement")
        );
        let ct = config(&[("name", "mock-ct-digikala_fulfillment-slave")]);
        assert_eq!(detect_kind(&ct, None).kind, Some(ConnectorKind::Ct));
    }

    #[test]
    fn conflicting_or_missing_evidence_leaves_it_undecided() {
        let cfg = config(&[
            ("name", "ct-orders"),
            ("transforms.route.replacement", "supernova.$2.$3"),
        ]);
        let decision = detect_kind(&cfg, None);
        assert_eq!(decision.kind, None);
        assert!(
            decision.explain().contains("conflicts"),
            "{}",
            decision.explain()
        );
        let none = detect_kind(&config(&[("name", "orders-connector")]), None);
        assert_eq!(none.kind, None);
        assert!(none.explain().contains("neither"), "{}", none.explain());
        // A token must be exactly "ct": "ctx" or "product" are not evidence.
        assert_eq!(
            detect_kind(&config(&[("name", "ctx-product")]), None).evidence,
            vec![]
        );
    }

    #[test]
    fn the_caller_overrides_and_contradictions_stay_visible() {
        let cfg = config(&[("name", "ct-orders")]);
        let decision = detect_kind(&cfg, Some(ConnectorKind::Cdc));
        assert_eq!(decision.kind, Some(ConnectorKind::Cdc));
        assert_eq!(decision.contradicting().count(), 1);
        assert_eq!("CT".parse::<ConnectorKind>(), Ok(ConnectorKind::Ct));
        assert!("sink".parse::<ConnectorKind>().is_err());
    }

    #[test]
    fn connector_classes_are_told_apart() {
        let class = |c: &str| classify_connector(&config(&[("connector.class", c)]));
        assert_eq!(class(MYSQL_CONNECTOR_CLASS), ConnectorClass::DebeziumMySql);
        assert!(matches!(
            class("io.debezium.connector.postgresql.PostgresConnector"),
            ConnectorClass::OtherDebezium(_)
        ));
        assert!(matches!(
            class("io.confluent.connect.jdbc.JdbcSinkConnector"),
            ConnectorClass::Other(_)
        ));
        assert_eq!(classify_connector(&Config::new()), ConnectorClass::Missing);
    }
}
