//! The inventory: the coordinator's description of the cluster — its nodes, the agent on each,
//! and the services (containers) placed on them.
//!
//! ```toml
//! [cluster]
//! name = "rhodrylab"
//! kafka_bootstrap = ["127.0.0.1:27091", "127.0.0.1:27092"]
//!
//! [tls]                      # the coordinator's own certificate (role `coordinator`)
//! ca = "certs/ca.pem"
//! cert = "certs/coordinator.pem"
//! key = "certs/coordinator-key.pem"
//!
//! [[nodes]]
//! name = "rhodrylab-01"      # also the name in the agent's TLS certificate
//! agent = "10.0.0.11:7443"
//! services = [
//!   { kind = "zookeeper", container = "zookeeper-01", zookeeper_id = 1 },
//!   { kind = "broker", container = "kafka-01", broker_id = 1 },
//!   { kind = "connect", container = "connect-01", url = "http://10.0.0.11:8083" },
//! ]
//! ```
//!
//! A cluster that runs as a Docker Swarm stack says so in `[swarm]`: each node's services are
//! then the stack's services (`container` = the Swarm service's name, `<stack>_<service>`, as
//! the node's agent reports its task container), and the upgrade updates them through the
//! agents of the `managers` (one is enough; the first that answers acts):
//!
//! ```toml
//! [swarm]
//! stack = "rhodry"
//! managers = ["rhodrylab-01"]
//! stack_file = "stack.yml"   # optional: the file `docker stack deploy` uses; kroll keeps it
//!                            # true (pre-flight refuses drift, each phase rewrites it)
//! # `${…}` in the stack file take this process's environment, then these (not for secrets:
//! # they are printed like the file):
//! variables = { CI_REGISTRY_IMAGE = "registry.example/bi/rhodry" }
//! ```
//!
//! Connect workers and Schema Registry served over HTTPS, with a private CA, mutual TLS or HTTP
//! basic auth, are described in `[connect]` and `[schema_registry]`
//! ([`crate::rest_access::RestAccess`]; a password only ever comes from a file or a variable).
//! How kroll's Kafka clients connect (SSL, SASL_PLAINTEXT, SASL_SSL with PLAIN or SCRAM) is
//! `[kafka]` ([`crate::kafka_access::KafkaAccess`], same password rule).
//!
//! Relative paths are resolved against the inventory file's directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Document, KeyPath};
use crate::rest_access::RestAccess;
use crate::tls::TlsFiles;

/// The kinds of services kroll knows how to roll and check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    Zookeeper,
    Broker,
    Connect,
    SchemaRegistry,
    RestProxy,
    Kafdrop,
}

impl ServiceKind {
    /// The name used in the inventory and in `kroll status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zookeeper => "zookeeper",
            Self::Broker => "broker",
            Self::Connect => "connect",
            Self::SchemaRegistry => "schema-registry",
            Self::RestProxy => "rest-proxy",
            Self::Kafdrop => "kafdrop",
        }
    }

    /// Whether its image is one of the Confluent Platform's, versioned with the platform (so
    /// its labels say the platform version); Kafdrop's is not.
    pub fn is_platform(self) -> bool {
        !matches!(self, Self::Kafdrop)
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The whole inventory file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub cluster: Cluster,
    pub tls: TlsFiles,
    #[serde(default)]
    pub agents: AgentDefaults,
    /// Where `kroll watch` posts events (`[alerts]`); absent = nowhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<crate::alerts::Alerts>,
    /// What `kroll watch` may restart on its own (`[remediation]`); absent = nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<crate::remediation::Remediation>,
    /// The cluster is a Docker Swarm stack (`[swarm]`); absent = plain containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
    /// How kroll's Kafka clients connect (`[kafka]`): protocol, SASL login, TLS trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<crate::kafka_access::KafkaAccess>,
    /// How the Connect workers' REST API is reached (`[connect]`): CA, client certificate,
    /// basic auth. Absent = plain defaults (system roots, no auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<RestAccess>,
    /// How Schema Registry is reached (`[schema_registry]`), as `connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_registry: Option<RestAccess>,
    pub nodes: Vec<Node>,
}

/// The Docker Swarm stack the cluster runs as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// The stack's name (`docker stack deploy … <stack>`).
    pub stack: String,
    /// The manager nodes (listed in `[[nodes]]`) whose agents may update the stack's services.
    pub managers: Vec<String>,
    /// The stack file, when kroll should keep it true (resolved against the inventory's
    /// directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_file: Option<std::path::PathBuf>,
    /// Values of the stack file's `${…}` variables, over this process's environment (what
    /// `docker stack deploy` is run with).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
}

impl Swarm {
    /// The stack's service called `name` in the stack file (`kafka-01`), as Swarm names it.
    pub fn service(&self, name: &str) -> String {
        format!("{}_{name}", self.stack)
    }
}

/// Cluster-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    /// Kafka bootstrap servers as the coordinator reaches them.
    #[serde(default)]
    pub kafka_bootstrap: Vec<String>,
    /// Image repository prefix the cluster's images live under (e.g. `registry/bi/rhodry`).
    #[serde(default)]
    pub registry: Option<String>,
    /// ZooKeeper connect string as the coordinator reaches it, with the brokers' chroot
    /// (`host:port[,host:port…]/kafka`): the upgrade reads `/controller` and `/brokers/ids`.
    #[serde(default)]
    pub zookeeper: Option<String>,
}

/// How the coordinator talks to agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDefaults {
    /// Per-agent timeout for a read (connect + answer), in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    2000
}

impl Default for AgentDefaults {
    fn default() -> Self {
        Self {
            timeout_ms: default_timeout_ms(),
        }
    }
}

impl AgentDefaults {
    /// The per-agent timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// One node: a host with an agent and the containers placed on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The node's name; the agent's certificate must carry it as a DNS name.
    pub name: String,
    /// `host:port` of the node's agent.
    pub agent: String,
    #[serde(default)]
    pub services: Vec<Service>,
}

/// A service: one container on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub kind: ServiceKind,
    /// The container's name on the node.
    pub container: String,
    /// Brokers: `broker.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_id: Option<i32>,
    /// ZooKeeper servers: `myid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zookeeper_id: Option<u32>,
    /// REST services (Connect, Schema Registry, REST proxy, Kafdrop): base URL as the
    /// coordinator reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A service together with the node it runs on.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    pub node: &'a Node,
    pub service: &'a Service,
}

impl Inventory {
    /// Reads, parses and validates an inventory file. TLS paths come back resolved against
    /// the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let doc = Document::read(path)?;
        Self::from_document(&doc)
    }

    /// Parses and validates an inventory already read.
    pub fn from_document(doc: &Document) -> Result<Self, ConfigError> {
        let mut inv: Self = doc.parse()?;
        inv.validate(doc)?;
        inv.tls.ca = doc.resolve(&inv.tls.ca);
        inv.tls.cert = doc.resolve(&inv.tls.cert);
        inv.tls.key = doc.resolve(&inv.tls.key);
        if let Some(f) = inv.swarm.as_mut().and_then(|s| s.stack_file.as_mut()) {
            *f = doc.resolve(f);
        }
        for access in [&mut inv.connect, &mut inv.schema_registry]
            .into_iter()
            .flatten()
        {
            access.resolve_paths(doc);
        }
        if let Some(kafka) = inv.kafka.as_mut() {
            kafka.resolve_paths(doc);
        }
        Ok(inv)
    }

    /// Every service with its node, in inventory order.
    pub fn services(&self) -> impl Iterator<Item = Placed<'_>> {
        self.nodes.iter().flat_map(|node| {
            node.services
                .iter()
                .map(move |service| Placed { node, service })
        })
    }

    /// The service running in `container`, with its node.
    pub fn find_container(&self, container: &str) -> Option<Placed<'_>> {
        self.services().find(|p| p.service.container == container)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn validate(&self, doc: &Document) -> Result<(), ConfigError> {
        let root = KeyPath::root();
        if self.cluster.name.trim().is_empty() {
            return Err(doc.invalid(&root.key("cluster").key("name"), "must not be empty"));
        }
        if self.agents.timeout_ms == 0 {
            return Err(doc.invalid(&root.key("agents").key("timeout_ms"), "must be above 0"));
        }
        if self.nodes.is_empty() {
            return Err(doc.invalid(
                &root,
                "no [[nodes]]: the inventory must list at least one node",
            ));
        }
        if let Some(a) = &self.alerts {
            a.validate(doc, &root.key("alerts"))?;
        }
        if let Some(r) = &self.remediation {
            r.validate(doc, &root.key("remediation"))?;
        }
        if let Some(k) = &self.kafka {
            k.validate(doc, &root.key("kafka"))?;
        }
        for (key, access) in [
            ("connect", &self.connect),
            ("schema_registry", &self.schema_registry),
        ] {
            if let Some(a) = access {
                a.validate(doc, &root.key(key))?;
            }
        }
        let mut seen = Seen::default();
        for (i, node) in self.nodes.iter().enumerate() {
            let at = root.key("nodes").index(i);
            validate_node(doc, &at, node, &mut seen)?;
        }
        if let Some(s) = &self.swarm {
            self.validate_swarm(doc, s)?;
        }
        Ok(())
    }

    fn validate_swarm(&self, doc: &Document, s: &Swarm) -> Result<(), ConfigError> {
        let at = KeyPath::root().key("swarm");
        let stack_name_ok = !s.stack.is_empty()
            && s.stack
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !stack_name_ok {
            return Err(doc.invalid(
                &at.key("stack"),
                format!(
                    "`{}` is not a stack name (letters, digits, `-`, `_`, `.`)",
                    s.stack
                ),
            ));
        }
        if s.managers.is_empty() {
            return Err(doc.invalid(
                &at.key("managers"),
                "names no manager: list the nodes whose agents may update the stack's services",
            ));
        }
        for (i, m) in s.managers.iter().enumerate() {
            if self.node(m).is_none() {
                return Err(doc.invalid(
                    &at.key("managers").index(i),
                    format!("`{m}` is not a node of this inventory (list it in [[nodes]])"),
                ));
            }
        }
        let prefix = format!("{}_", s.stack);
        for (i, node) in self.nodes.iter().enumerate() {
            for (j, svc) in node.services.iter().enumerate() {
                if !svc.container.starts_with(&prefix) || svc.container.len() == prefix.len() {
                    return Err(doc.invalid(
                        &KeyPath::root()
                            .key("nodes")
                            .index(i)
                            .key("services")
                            .index(j)
                            .key("container"),
                        format!(
                            "`{}` is not a service of stack `{}` (a Swarm stack's services are named `{prefix}<service>`)",
                            svc.container, s.stack
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Seen {
    nodes: BTreeSet<String>,
    containers: BTreeMap<String, String>,
    brokers: BTreeMap<i32, String>,
    zookeepers: BTreeMap<u32, String>,
}

fn validate_node(
    doc: &Document,
    at: &KeyPath,
    node: &Node,
    seen: &mut Seen,
) -> Result<(), ConfigError> {
    if !is_dns_name(&node.name) {
        return Err(doc.invalid(
            &at.key("name"),
            format!("`{}` is not a valid node name (letters, digits, `-` and `.`; it must match the agent's certificate)", node.name),
        ));
    }
    if !seen.nodes.insert(node.name.clone()) {
        return Err(doc.invalid(
            &at.key("name"),
            format!("node `{}` is listed twice", node.name),
        ));
    }
    if let Err(why) = parse_host_port(&node.agent) {
        return Err(doc.invalid(&at.key("agent"), format!("`{}`: {why}", node.agent)));
    }
    for (j, svc) in node.services.iter().enumerate() {
        validate_service(doc, &at.key("services").index(j), node, svc, seen)?;
    }
    Ok(())
}

fn validate_service(
    doc: &Document,
    at: &KeyPath,
    node: &Node,
    svc: &Service,
    seen: &mut Seen,
) -> Result<(), ConfigError> {
    if svc.container.trim().is_empty() {
        return Err(doc.invalid(&at.key("container"), "must not be empty"));
    }
    if let Some(other) = seen
        .containers
        .insert(svc.container.clone(), node.name.clone())
    {
        return Err(doc.invalid(
            &at.key("container"),
            format!(
                "container `{}` is already listed on node `{other}`",
                svc.container
            ),
        ));
    }
    match (svc.kind, svc.broker_id) {
        (ServiceKind::Broker, None) => {
            return Err(doc.invalid(
                at,
                format!("broker `{}` needs a `broker_id`", svc.container),
            ));
        }
        (ServiceKind::Broker, Some(id)) => {
            if id < 0 {
                return Err(doc.invalid(&at.key("broker_id"), "must be 0 or above"));
            }
            if let Some(other) = seen.brokers.insert(id, svc.container.clone()) {
                return Err(doc.invalid(
                    &at.key("broker_id"),
                    format!("broker id {id} is already used by `{other}`"),
                ));
            }
        }
        (kind, Some(_)) => {
            return Err(doc.invalid(
                &at.key("broker_id"),
                format!("only brokers have a broker_id, this is a {kind}"),
            ));
        }
        _ => {}
    }
    match (svc.kind, svc.zookeeper_id) {
        (ServiceKind::Zookeeper, Some(id)) => {
            if let Some(other) = seen.zookeepers.insert(id, svc.container.clone()) {
                return Err(doc.invalid(
                    &at.key("zookeeper_id"),
                    format!("zookeeper id {id} is already used by `{other}`"),
                ));
            }
        }
        (ServiceKind::Zookeeper, None) => {}
        (kind, Some(_)) => {
            return Err(doc.invalid(
                &at.key("zookeeper_id"),
                format!("only ZooKeeper servers have a zookeeper_id, this is a {kind}"),
            ));
        }
        _ => {}
    }
    if let Some(url) = &svc.url {
        // Checked first: the URL is not echoed when it carries a password.
        if crate::rest_access::url_has_credentials(url) {
            return Err(doc.invalid(
                &at.key("url"),
                "carries credentials (`user:password@`), which kroll would print with the URL: give the user and a `password_file` or `password_env` in the inventory's [connect] or [schema_registry] section",
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(doc.invalid(
                &at.key("url"),
                format!("`{url}` is not an http:// or https:// URL"),
            ));
        }
    }
    Ok(())
}

/// `true` for names usable as a TLS server name: DNS labels of letters, digits and `-`,
/// separated by `.`.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Splits `host:port` (IPv6 as `[addr]:port`), checking the port.
pub fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or("expected `[ipv6]:port`")?;
        (h, p)
    } else {
        s.rsplit_once(':').ok_or("expected `host:port`")?
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port number"))?;
    if port == 0 {
        return Err("port 0 is not an address one can connect to".into());
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[cluster]
name = "rhodrylab"
kafka_bootstrap = ["127.0.0.1:27091"]

[tls]
ca = "certs/ca.pem"
cert = "certs/coordinator.pem"
key = "certs/coordinator-key.pem"

[[nodes]]
name = "rhodrylab-01"
agent = "127.77.0.1:7443"
services = [
  { kind = "zookeeper", container = "zookeeper-01", zookeeper_id = 1 },
  { kind = "broker", container = "kafka-01", broker_id = 1 },
]

[[nodes]]
name = "rhodrylab-02"
agent = "127.77.0.2:7443"
services = [
  { kind = "broker", container = "kafka-02", broker_id = 2 },
  { kind = "connect", container = "connect-02", url = "http://127.0.0.1:18083" },
]
"#;

    fn load(text: &str) -> Result<Inventory, ConfigError> {
        Inventory::from_document(&Document::from_text("/etc/kroll/inventory.toml", text))
    }

    #[test]
    fn a_good_inventory_loads_with_resolved_paths() {
        let inv = load(GOOD).expect("valid");
        assert_eq!(inv.nodes.len(), 2);
        assert_eq!(inv.tls.ca, Path::new("/etc/kroll/certs/ca.pem"));
        let placed = inv.find_container("kafka-02").expect("found");
        assert_eq!(placed.node.name, "rhodrylab-02");
        assert_eq!(placed.service.broker_id, Some(2));
        assert_eq!(inv.agents.timeout(), Duration::from_secs(2));
    }

    fn swarm_inventory(section: &str) -> String {
        let mut text = GOOD
            .replace("\"zookeeper-01\"", "\"st_zookeeper-01\"")
            .replace("\"kafka-01\"", "\"st_kafka-01\"")
            .replace("\"kafka-02\"", "\"st_kafka-02\"")
            .replace("\"connect-02\"", "\"st_connect-02\"");
        text.push_str(section);
        text
    }

    #[test]
    fn a_swarm_section_loads_with_its_stack_file_resolved() {
        let inv = load(&swarm_inventory(
            "\n[swarm]\nstack = \"st\"\nmanagers = [\"rhodrylab-01\"]\nstack_file = \"stack.yml\"\n",
        ))
        .expect("valid");
        let s = inv.swarm.expect("swarm");
        assert_eq!(s.managers, ["rhodrylab-01"]);
        assert_eq!(
            s.stack_file.as_deref(),
            Some(Path::new("/etc/kroll/stack.yml"))
        );
        assert_eq!(s.service("kafka-01"), "st_kafka-01");
        assert!(load(GOOD).expect("valid").swarm.is_none());
    }

    #[test]
    fn swarm_mistakes_are_named_with_line_and_key() {
        let cases = [
            (
                "\n[swarm]\nstack = \"st\"\nmanagers = [\"rhodrylab-09\"]\n",
                "swarm.managers[0]",
                "not a node of this inventory",
            ),
            (
                "\n[swarm]\nstack = \"st\"\nmanagers = []\n",
                "swarm.managers",
                "names no manager",
            ),
            (
                "\n[swarm]\nstack = \"s t\"\nmanagers = [\"rhodrylab-01\"]\n",
                "swarm.stack",
                "is not a stack name",
            ),
            (
                "\n[swarm]\nstack = \"other\"\nmanagers = [\"rhodrylab-01\"]\n",
                "nodes[0].services[0].container",
                "is not a service of stack `other`",
            ),
        ];
        for (section, key, says) in cases {
            let err = err_of(&swarm_inventory(section));
            assert_eq!(err.key(), Some(key), "{err}");
            assert!(err.line().is_some(), "{err}");
            assert!(err.to_string().contains(says), "{err}");
            assert!(err.to_string().contains("inventory.toml"), "{err}");
        }
        let err = err_of(&swarm_inventory(
            "\n[swarm]\nstack = \"st\"\nmanagers = [\"rhodrylab-01\"]\nfile = \"x\"\n",
        ));
        assert!(err.to_string().contains("file"), "{err}");
    }

    fn err_of(text: &str) -> ConfigError {
        load(text).expect_err("should be rejected")
    }

    #[test]
    fn duplicate_broker_ids_are_named_with_line_and_key() {
        let bad = GOOD.replace("broker_id = 2", "broker_id = 1");
        let err = err_of(&bad);
        assert_eq!(err.key(), Some("nodes[1].services[0].broker_id"), "{err}");
        assert_eq!(err.line(), Some(23), "{err}");
        assert!(
            err.to_string().contains("already used by `kafka-01`"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_containers_and_nodes_are_rejected() {
        let err = err_of(&GOOD.replace("container = \"kafka-02\"", "container = \"kafka-01\""));
        assert!(
            err.to_string()
                .contains("already listed on node `rhodrylab-01`"),
            "{err}"
        );
        let err = err_of(&GOOD.replace("rhodrylab-02", "rhodrylab-01"));
        assert_eq!(err.key(), Some("nodes[1].name"), "{err}");
    }

    #[test]
    fn bad_agent_addresses_and_unknown_keys_are_named() {
        let err = err_of(&GOOD.replace("127.77.0.2:7443", "127.77.0.2"));
        assert_eq!(err.key(), Some("nodes[1].agent"), "{err}");
        assert_eq!(err.line(), Some(21), "{err}");
        let err = err_of(&GOOD.replace("kafka_bootstrap", "kafka_bootstraps"));
        assert_eq!(err.line(), Some(4), "{err}");
        assert!(err.to_string().contains("kafka_bootstraps"), "{err}");
    }

    #[test]
    fn brokers_need_ids_and_others_must_not_have_them() {
        let err = err_of(&GOOD.replace(", broker_id = 2", ""));
        assert!(err.to_string().contains("needs a `broker_id`"), "{err}");
        let err = err_of(&GOOD.replace("url = \"http://127.0.0.1:18083\"", "broker_id = 9"));
        assert!(
            err.to_string().contains("only brokers have a broker_id"),
            "{err}"
        );
        let err = err_of(&GOOD.replace("kind = \"connect\"", "kind = \"connector\""));
        assert_eq!(err.line(), Some(24), "{err}");
        assert_eq!(err.key(), Some("nodes[1].services[1].kind"), "{err}");
    }

    #[test]
    fn rest_sections_load_resolved_and_url_credentials_are_refused_unechoed() {
        let text = format!(
            "{GOOD}\n[connect]\nca_file = \"ca.pem\"\nusername = \"kroll\"\npassword_file = \"pw\"\n\n[schema_registry]\nusername = \"sr\"\npassword_env = \"SR_PW\"\n"
        );
        let inv = load(&text).expect("valid");
        let c = inv.connect.expect("[connect]");
        assert_eq!(c.ca_file, Some("/etc/kroll/ca.pem".into()));
        assert_eq!(c.password_file, Some("/etc/kroll/pw".into()));
        assert_eq!(
            inv.schema_registry.and_then(|s| s.password_env).as_deref(),
            Some("SR_PW")
        );
        let err = err_of(&format!(
            "{GOOD}\n[schema_registry]\npassword = \"hunter2\"\n"
        ));
        assert_eq!(err.key(), Some("schema_registry.password"), "{err}");
        let err = err_of(&GOOD.replace("http://127.0.0.1:18083", "https://u:hunter2@h:18083"));
        assert_eq!(err.key(), Some("nodes[1].services[1].url"), "{err}");
        assert!(err.to_string().contains("carries credentials"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn host_ports_are_checked() {
        assert_eq!(parse_host_port("a:1"), Ok(("a".into(), 1)));
        assert_eq!(parse_host_port("[::1]:7443"), Ok(("::1".into(), 7443)));
        assert!(parse_host_port("a:0").is_err());
        assert!(parse_host_port(":1").is_err());
        assert!(parse_host_port("a:http").is_err());
        assert!(is_dns_name("rhodrylab-01"));
        assert!(!is_dns_name("rhodry_lab"));
        assert!(!is_dns_name("-a"));
    }
}
