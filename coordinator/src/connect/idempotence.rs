//! The post-upgrade idempotence finding. Kafka 3.0+ producers default to idempotence, but
//! Connect forces it off for its own producers; a source connector gets it only through
//! `producer.override.enable.idempotence=true` — which `kroll connectors migrate
//! --enable-idempotence` sets, with the caveats below.

use std::collections::BTreeMap;

use kroll_migrate::rules::IDEMPOTENCE_RULE;
use kroll_migrate::{Finding, FindingKind, Severity};

use crate::connect::types::{Connector, ConnectorType};

const KEY: &str = "producer.override.enable.idempotence";

/// One finding per source connector whose producer runs without idempotence.
pub fn idempotence_findings(connectors: &BTreeMap<String, Connector>) -> Vec<(String, Finding)> {
    connectors
        .values()
        .filter(|c| c.kind == ConnectorType::Source)
        .filter(|c| c.config.get(KEY).map(|v| v.trim().to_ascii_lowercase()) != Some("true".into()))
        .map(|c| {
            let acks = c.config.get("producer.override.acks").filter(|a| a.as_str() != "all" && a.as_str() != "-1");
            let mut message = format!(
                "its producer runs without idempotence (Connect forces enable.idempotence=false); opt in with `kroll connectors migrate --enable-idempotence --only {}` or set {KEY}=true. {}",
                c.name, IDEMPOTENCE_RULE.description
            );
            if let Some(acks) = acks {
                message.push_str(&format!(" This connector sets producer.override.acks={acks}, which idempotence does not allow."));
            }
            (c.name.clone(), Finding::about(Severity::Info, FindingKind::OperatorAction, KEY, message))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::types::{ConnectorState, ConnectorStatus, State};

    fn connector(name: &str, kind: ConnectorType, config: &[(&str, &str)]) -> (String, Connector) {
        let status = ConnectorStatus {
            name: name.into(),
            connector: ConnectorState {
                state: State::Running,
                worker_id: String::new(),
                trace: None,
            },
            tasks: Vec::new(),
            kind,
        };
        let config = config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        (
            name.to_owned(),
            Connector {
                name: name.into(),
                kind,
                config,
                status,
            },
        )
    }

    #[test]
    fn sources_without_the_override_get_a_finding_with_the_caveats() {
        let all: BTreeMap<String, Connector> = [
            connector(
                "plain",
                ConnectorType::Source,
                &[("producer.override.acks", "1")],
            ),
            connector("opted-in", ConnectorType::Source, &[(KEY, "true")]),
            connector("sink", ConnectorType::Sink, &[]),
        ]
        .into_iter()
        .collect();
        let findings = idempotence_findings(&all);
        assert_eq!(findings.len(), 1);
        let (name, finding) = &findings[0];
        assert_eq!(name, "plain");
        assert!(
            finding
                .message
                .contains("--enable-idempotence --only plain"),
            "{}",
            finding.message
        );
        assert!(
            finding.message.contains("not exactly-once"),
            "{}",
            finding.message
        );
        assert!(
            finding.message.contains("producer.override.acks=1"),
            "{}",
            finding.message
        );
    }
}
