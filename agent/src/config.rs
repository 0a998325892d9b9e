//! The agent's configuration file (TOML) and the flags that override it.
//!
//! ```toml
//! node = "rhodrylab-01"            # must match the inventory and the agent's certificate
//! listen = "10.0.0.11:7443"
//!
//! [tls]
//! ca = "/etc/kroll/ca.pem"
//! cert = "/etc/kroll/agent.pem"
//! key = "/etc/kroll/agent-key.pem"
//!
//! [allow]                          # the containers this agent may report and act on
//! names = ["zookeeper-01", "kafka-01"]
//! labels = { "kroll.node" = "rhodrylab-01" }
//! stacks = ["rhodry"]              # Swarm manager only: the stacks whose services it may update
//! services = []                    # ... or single services (`<stack>_<service>`)
//!
//! [audit]
//! path = "/var/lib/kroll/audit.log"
//! ```
//!
//! Unknown keys are errors; every error names the file, the line and the key, and the agent
//! exits before binding any port.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kroll_shared::config::{ConfigError, Document, KeyPath};
use kroll_shared::inventory::is_dns_name;
use kroll_shared::tls::TlsFiles;
use serde::Deserialize;

use crate::allow::Allowlist;

/// The agent's whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The node's name (inventory name, DNS name in the agent's certificate).
    pub node: String,
    /// Address to listen on for the coordinator.
    pub listen: SocketAddr,
    pub tls: TlsFiles,
    pub allow: Allowlist,
    pub audit: AuditConfig,
    #[serde(default)]
    pub docker: DockerConfig,
    #[serde(default)]
    pub sampling: SamplingConfig,
    #[serde(default)]
    pub restart: RestartConfig,
    /// JVM monitoring thresholds (`[jvm]`).
    #[serde(default)]
    pub jvm: crate::jvm::config::JvmConfig,
    /// The optional Prometheus listener (`[metrics]`).
    #[serde(default)]
    pub metrics: crate::metrics::MetricsConfig,
    /// Environment variables whose *values* may be reported (besides kroll's built-in list of
    /// non-secret planning variables). Names that look secret are refused.
    #[serde(default)]
    pub report_env: BTreeSet<String>,
}

/// Where mutations are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Append-only JSON-lines file; every mutating call is written (and fsynced) before it acts
    /// and after it finishes.
    pub path: PathBuf,
}

/// How to reach the Docker engine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    /// `unix:///var/run/docker.sock` (default: `DOCKER_HOST` or the local socket).
    #[serde(default)]
    pub host: Option<String>,
}

/// Background sampling.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// Host (CPU, memory) sampling interval in milliseconds.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
}

fn default_interval_ms() -> u64 {
    1000
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            interval_ms: default_interval_ms(),
        }
    }
}

/// Restart defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartConfig {
    /// Seconds to wait after SIGTERM before SIGKILL when the caller does not say.
    #[serde(default = "default_stop_timeout_s")]
    pub default_stop_timeout_seconds: u32,
    /// Upper bound a caller may ask for.
    #[serde(default = "default_max_stop_timeout_s")]
    pub max_stop_timeout_seconds: u32,
}

fn default_stop_timeout_s() -> u32 {
    120
}

fn default_max_stop_timeout_s() -> u32 {
    1800
}

impl Default for RestartConfig {
    fn default() -> Self {
        Self {
            default_stop_timeout_seconds: default_stop_timeout_s(),
            max_stop_timeout_seconds: default_max_stop_timeout_s(),
        }
    }
}

/// Words that mark an environment variable as possibly secret: its value is never reported.
pub const SECRET_MARKERS: [&str; 8] = [
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "JAAS",
    "CREDENTIAL",
    "PRIVATE",
    "KEY",
];

/// `true` when a variable name looks like it may hold a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

impl AgentConfig {
    /// Reads and validates the configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let doc = Document::read(path)?;
        Self::from_document(&doc)
    }

    /// Parses and validates a document; TLS and audit paths are resolved against its directory.
    pub fn from_document(doc: &Document) -> Result<Self, ConfigError> {
        let mut c: Self = doc.parse()?;
        let root = KeyPath::root();
        if !is_dns_name(&c.node) {
            return Err(doc.invalid(
                &root.key("node"),
                format!(
                    "`{}` is not a valid node name (letters, digits, `-`, `.`)",
                    c.node
                ),
            ));
        }
        if c.allow.is_empty() {
            return Err(doc.invalid(
                &root.key("allow"),
                "allows no container: set `names` and/or `labels`",
            ));
        }
        if let Some(bad) = c.allow.labels.keys().find(|k| k.is_empty()) {
            return Err(doc.invalid(
                &root.key("allow").key("labels"),
                format!("empty label name `{bad}`"),
            ));
        }
        for (key, set) in [("stacks", &c.allow.stacks), ("services", &c.allow.services)] {
            if set.iter().any(|s| s.trim().is_empty()) {
                return Err(doc.invalid(
                    &root.key("allow").key(key),
                    "an empty name allows nothing: remove it",
                ));
            }
        }
        if c.sampling.interval_ms < 100 {
            return Err(doc.invalid(
                &root.key("sampling").key("interval_ms"),
                "must be at least 100",
            ));
        }
        let r = &c.restart;
        if r.default_stop_timeout_seconds == 0
            || r.default_stop_timeout_seconds > r.max_stop_timeout_seconds
        {
            return Err(doc.invalid(
                &root.key("restart").key("default_stop_timeout_seconds"),
                "must be between 1 and max_stop_timeout_seconds",
            ));
        }
        c.jvm.validate(doc, &root.key("jvm"))?;
        c.metrics.validate(doc, &root.key("metrics"), c.listen)?;
        if let Some(secret) = c.report_env.iter().find(|k| looks_secret(k)) {
            return Err(doc.invalid(
                &root.key("report_env"),
                format!("`{secret}` looks like a secret; its value will never be reported"),
            ));
        }
        c.tls.ca = doc.resolve(&c.tls.ca);
        c.tls.cert = doc.resolve(&c.tls.cert);
        c.tls.key = doc.resolve(&c.tls.key);
        c.audit.path = doc.resolve(&c.audit.path);
        Ok(c)
    }

    /// The sampling interval.
    pub fn sampling_interval(&self) -> Duration {
        Duration::from_millis(self.sampling.interval_ms)
    }
}

/// Environment variables whose values the agent reports (non-secret planning inputs).
pub const REPORTED_ENV: [&str; 16] = [
    "KAFKA_BROKER_ID",
    "KAFKA_INTER_BROKER_PROTOCOL_VERSION",
    "KAFKA_LOG_MESSAGE_FORMAT_VERSION",
    "KAFKA_ZOOKEEPER_CONNECT",
    "KAFKA_HEAP_OPTS",
    "HEAP_OPTS",
    "JAVA_OPTS",
    "JVM_OPTS",
    "KAFKA_JMX_PORT",
    "ZOO_MY_ID",
    "CONNECT_REST_ADVERTISED_HOST_NAME",
    "ADVERTISED_HOST_NAME",
    "CONNECT_GROUP_ID",
    "CONFLUENT_VERSION",
    "REST_PORT",
    "CONNECT_REST_PORT",
];

/// Splits `KEY=value` environment entries into key names and the reportable values (only
/// what planning needs of them: [`kroll_shared::secrets`]).
pub fn split_env(
    entries: &[String],
    extra: &BTreeSet<String>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let mut keys = Vec::with_capacity(entries.len());
    let mut values = BTreeMap::new();
    for entry in entries {
        let (k, v) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        keys.push(k.to_owned());
        let wanted = REPORTED_ENV.contains(&k) || extra.contains(k);
        if wanted && !looks_secret(k) {
            values.insert(k.to_owned(), kroll_shared::secrets::reportable_value(k, v));
        }
    }
    keys.sort();
    (keys, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
node = "rhodrylab-01"
listen = "127.0.0.1:7443"
report_env = ["KAFKA_LISTENERS"]

[tls]
ca = "certs/ca.pem"
cert = "certs/agent.pem"
key = "certs/agent-key.pem"

[allow]
names = ["kafka-01"]
labels = { "kroll.node" = "rhodrylab-01" }

[audit]
path = "audit.log"
"#;

    fn load(text: &str) -> Result<AgentConfig, ConfigError> {
        AgentConfig::from_document(&Document::from_text("/etc/kroll/agent.toml", text))
    }

    #[test]
    fn a_good_config_loads_with_resolved_paths() {
        let c = load(GOOD).expect("valid");
        assert_eq!(c.node, "rhodrylab-01");
        assert_eq!(c.audit.path, Path::new("/etc/kroll/audit.log"));
        assert_eq!(c.tls.key, Path::new("/etc/kroll/certs/agent-key.pem"));
        assert_eq!(c.restart.default_stop_timeout_seconds, 120);
        assert_eq!(c.sampling_interval(), Duration::from_secs(1));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err =
            load(&GOOD.replace("listen = \"127.0.0.1:7443\"", "listen = \"nowhere\"")).unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert_eq!(err.key(), Some("listen"), "{err}");
        assert!(
            err.to_string().starts_with("/etc/kroll/agent.toml:3:"),
            "{err}"
        );
        let err = load(&GOOD.replace("[audit]", "[audit]\nrotate = true")).unwrap_err();
        assert_eq!(err.key(), Some("audit.rotate"), "{err}");
    }

    #[test]
    fn the_jvm_and_metrics_sections_are_validated_with_line_and_key() {
        let c = load(&format!(
            "{GOOD}\n[jvm]\nhung_after_ms = 2000\n[metrics]\nlisten = \"127.0.0.1:9464\"\n"
        ))
        .expect("valid");
        assert_eq!(c.jvm.hung_after_ms, 2000);
        assert_eq!(
            c.metrics.listen,
            Some("127.0.0.1:9464".parse().expect("addr"))
        );
        assert_eq!(
            load(GOOD).expect("valid").metrics.listen,
            None,
            "off by default"
        );
        let err = load(&format!("{GOOD}\n[jvm]\npressure_old_percent = 150\n")).unwrap_err();
        assert_eq!(err.key(), Some("jvm.pressure_old_percent"), "{err}");
        assert_eq!(err.line(), Some(19), "{err}");
        let err = load(&format!("{GOOD}\n[jvm]\nhung_after = 5\n")).unwrap_err();
        assert!(err.to_string().contains("hung_after"), "{err}");
        let err = load(&format!("{GOOD}\n[metrics]\nlisten = \"127.0.0.1:7443\"\n")).unwrap_err();
        assert_eq!(err.key(), Some("metrics.listen"), "{err}");
        assert_eq!(load(GOOD).expect("valid").metrics.refresh_seconds, 5);
        let err = load(&format!("{GOOD}\n[metrics]\nrefresh_seconds = 0\n")).unwrap_err();
        assert_eq!(err.key(), Some("metrics.refresh_seconds"), "{err}");
        assert_eq!(
            load(GOOD).expect("valid").metrics.max_scrapes_per_second,
            20
        );
        let err = load(&format!("{GOOD}\n[metrics]\nmax_scrapes_per_second = 0\n")).unwrap_err();
        assert_eq!(err.key(), Some("metrics.max_scrapes_per_second"), "{err}");
    }

    #[test]
    fn an_empty_allowlist_and_secret_report_keys_are_refused() {
        let err = load(&GOOD.replace(
            "names = [\"kafka-01\"]\nlabels = { \"kroll.node\" = \"rhodrylab-01\" }",
            "",
        ))
        .unwrap_err();
        assert_eq!(err.key(), Some("allow"), "{err}");
        let err = load(&GOOD.replace("KAFKA_LISTENERS", "KAFKA_SASL_JAAS_CONFIG")).unwrap_err();
        assert!(err.to_string().contains("looks like a secret"), "{err}");
    }

    #[test]
    fn swarm_stacks_and_services_load_and_empty_names_are_refused() {
        let with = |line: &str| {
            GOOD.replace(
                "labels = { \"kroll.node\" = \"rhodrylab-01\" }",
                &format!("labels = {{ \"kroll.node\" = \"rhodrylab-01\" }}\n{line}"),
            )
        };
        let c = load(&with("stacks = [\"rhodry\"]")).expect("valid");
        assert!(c.allow.stacks.contains("rhodry"));
        let err = load(&with("stacks = [\"\"]")).unwrap_err();
        assert_eq!(err.key(), Some("allow.stacks"), "{err}");
        assert!(err.line().is_some(), "{err}");
        let err = load(&with("services = [\" \"]")).unwrap_err();
        assert_eq!(err.key(), Some("allow.services"), "{err}");
    }

    #[test]
    fn env_values_are_reported_only_for_known_non_secret_keys() {
        let entries = vec![
            "KAFKA_BROKER_ID=3".to_owned(),
            "KAFKA_OPTS=-Djava.security.auth.login.config=/run/secrets/KAFKA_JAAS".to_owned(),
            "SSL_KEY_PASSWORD=hunter2".to_owned(),
            "KAFKA_LISTENERS=PLAINTEXT://0.0.0.0:9092".to_owned(),
        ];
        let extra = BTreeSet::from(["KAFKA_LISTENERS".to_owned(), "SSL_KEY_PASSWORD".to_owned()]);
        let (keys, values) = split_env(&entries, &extra);
        assert_eq!(keys.len(), 4);
        assert_eq!(values.get("KAFKA_BROKER_ID").map(String::as_str), Some("3"));
        assert!(values.contains_key("KAFKA_LISTENERS"));
        assert!(
            !values.contains_key("SSL_KEY_PASSWORD"),
            "secret values never leave the node"
        );
        assert!(!values.contains_key("KAFKA_OPTS"));
    }
}
