//! The desired shape of a lab: platform versions, nodes, ports, and every container with its
//! image, environment, ports, volumes and labels — pure data, unit-tested, and reusable by the
//! upgrade to know what a container of another platform version looks like
//! (`LabSpec { platform: …7.7.1…, .. }.containers()`).
//!
//! # Layout
//! - `env`: the environment of each service, modelled on the journal's 7.1.1 stack (with
//!   PLAINTEXT listeners, or the journal's SASL ones under [`Security::Sasl`], plus the TLS
//!   ones under [`Security::SaslSsl`]).
//! - `inventory`: the inventory file `kroll-lab up` writes.
//! - `ports`: the host ports a lab publishes ([`Ports`]).

mod env;
mod inventory;
mod ports;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use kroll_shared::inventory::ServiceKind;
use serde::{Deserialize, Serialize};

pub use self::env::{LAB_SECRET_KEY, LAB_SECRET_VALUE};
pub use self::inventory::inventory_toml;
pub use self::ports::Ports;
use crate::images::{Component, tag};

/// The default lab's name.
pub const DEFAULT_LAB: &str = "lab";
/// Nodes of the standard lab (the journal's lab cluster) and of the Swarm lab.
pub const NODES: u8 = 5;
/// Label every lab object carries: `kroll.lab=<lab>`.
pub const LAB_LABEL: &str = "kroll.lab";
/// Label of a container's node.
pub const NODE_LABEL: &str = "kroll.node";
/// Label of a container's role (`zookeeper`, `broker`, …).
pub const ROLE_LABEL: &str = "kroll.role";
/// Where a SASL lab's brokers find their JAAS file: where the journal's Swarm secret
/// `KAFKA_JAAS` appears (`KAFKA_OPTS=-Djava.security.auth.login.config=` names it).
pub const JAAS_TARGET: &str = "/run/secrets/KAFKA_JAAS";
/// A SASL lab's JAAS file on the host, relative to the lab directory.
pub const JAAS_FILE: &str = "secrets/KAFKA_JAAS";
/// A SASL lab's secrets (the JAAS file, the REST services' files), relative to the lab
/// directory; mode 0700.
pub const SECRETS_DIR: &str = "secrets";
/// kroll's SASL user in a SASL lab (the inventory's `[kafka] username`).
pub const KROLL_USER: &str = "kroll";
/// kroll's password file in a SASL lab, relative to the lab directory (and to the inventory:
/// its `[kafka] password_file`).
pub const PASSWORD_FILE: &str = "kafka-password";
/// A `sasl-ssl` lab's Kafka PKI (CA, broker keystore, client certificates), relative to the
/// lab directory (`crate::pki`).
pub const KAFKA_TLS_DIR: &str = "kafka-tls";
/// Where a `sasl-ssl` lab's brokers find their PEM keystore (key and certificate chain).
pub const KEYSTORE_TARGET: &str = "/etc/kafka/secrets/kafka.keystore.pem";
/// Where a `sasl-ssl` lab's brokers find their PEM trust store (the lab's Kafka CA).
pub const TRUSTSTORE_TARGET: &str = "/etc/kafka/secrets/kafka.truststore.pem";

/// A platform version the lab has images for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    /// Confluent Platform version (`7.1.1`).
    pub version: &'static str,
    /// The Kafka version it carries (`3.1.1`).
    pub kafka: &'static str,
    /// Kafka's `inter.broker.protocol.version` short form for this release (`3.1`).
    pub ibp: &'static str,
    /// The Debezium line its Connect workers run (`1.9`).
    pub debezium: &'static str,
}

/// Every platform version the lab builds.
pub const PLATFORMS: [Platform; 3] = [
    Platform {
        version: "7.1.1",
        kafka: "3.1.1",
        ibp: "3.1",
        debezium: "1.9",
    },
    Platform {
        version: "7.7.1",
        kafka: "3.7.1",
        ibp: "3.7",
        debezium: "3.0",
    },
    Platform {
        version: "7.8.0",
        kafka: "3.8.0",
        ibp: "3.8",
        debezium: "3.0",
    },
];

impl Platform {
    /// The platform named `version`, or `None`.
    pub fn find(version: &str) -> Option<&'static Platform> {
        PLATFORMS.iter().find(|p| p.version == version)
    }

    /// Whether this platform's images are the user's in-house 7.1 images (unprefixed Connect
    /// env accepted, `HEAP_OPTS` honoured).
    pub fn is_in_house_71(&self) -> bool {
        self.version.starts_with("7.1.")
    }
}

/// Errors in what a lab was asked to be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopologyError {
    #[error("lab name `{0}`: use 1-20 lowercase letters, digits or dashes, starting with a letter")]
    BadName(String),
    #[error("platform version `{0}` has no lab images (known: 7.1.1, 7.7.1, 7.8.0)")]
    UnknownVersion(String),
    #[error("--port-base {0}: must be between 1024 and {1}")]
    BadPortBase(u16, u16),
    #[error("the lab's ports are not one per server of its shape")]
    PortsDoNotFit,
    #[error("a lab of {nodes} nodes with {what} {count}: use 1 to {max}")]
    BadShape {
        nodes: u8,
        what: &'static str,
        count: u8,
        max: u8,
    },
}

/// How big a lab is: nodes (one broker each), ZooKeeper servers, Connect workers, and the
/// partitions of its load topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Nodes, `rhodrylab-01…`, one broker each (`kafka-01…`).
    pub nodes: u8,
    /// ZooKeeper servers (an ensemble on nodes 1…N).
    pub zookeepers: u8,
    /// Connect workers (on nodes 1…N) of a full lab.
    pub connect_workers: u8,
    /// Partitions of the topic `load` (RF 3, min ISR 2) that `lab up` creates; 0: none.
    pub load_partitions: u32,
}

impl Shape {
    /// The journal's lab cluster: 5 nodes, one ZooKeeper, 5 Connect workers.
    pub const LAB: Shape = Shape {
        nodes: NODES,
        zookeepers: 1,
        connect_workers: NODES,
        load_partitions: 0,
    };
    /// The journal's production cluster: 18 brokers, a 3-server ZooKeeper ensemble, 5 Connect
    /// workers, and 3,000 partitions at RF 3 / min ISR 2 in the topic `load`.
    pub const PRODUCTION: Shape = Shape {
        nodes: 18,
        zookeepers: 3,
        connect_workers: 5,
        load_partitions: 3000,
    };
}

impl Default for Shape {
    fn default() -> Self {
        Self::LAB
    }
}

/// Which services a lab runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Services {
    /// ZooKeeper, 5 brokers, 5 Connect workers, Schema Registry, REST proxy, Kafdrop.
    #[default]
    Full,
    /// ZooKeeper and 5 brokers only (cheap labs for broker tests).
    Kafka,
}

/// How the lab's brokers are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// `PLAINTEXT_INT` and `PLAINTEXT_EXT` only: no login, no authorizer (every client is
    /// `User:ANONYMOUS`, allowed everything).
    #[default]
    Plaintext,
    /// The journal's four listeners — `PLAINTEXT_INT`, `SASL_INT` (inter-broker),
    /// `PLAINTEXT_EXT`, `SASL_EXT` — with SASL/PLAIN users from a JAAS file mounted where the
    /// journal's Swarm secret appears ([`JAAS_TARGET`]), `AclAuthorizer`, `User:admin` as the
    /// super user and no access without an ACL (`crate::security` writes the lab's ACLs).
    Sasl,
    /// Everything [`Security::Sasl`] has, plus two TLS listeners on each broker published on
    /// the host: `SASL_SSL_EXT` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and `SSL_EXT` (a client
    /// certificate required, the principal its subject DN); the lab's own Kafka CA
    /// (`crate::pki`) and SCRAM credentials in ZooKeeper.
    SaslSsl,
}

impl Security {
    /// The name `--security` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Sasl => "sasl",
            Self::SaslSsl => "sasl-ssl",
        }
    }

    /// Whether the brokers log clients in with SASL (the JAAS file, ACLs, `SASL_EXT`).
    pub fn is_sasl(self) -> bool {
        matches!(self, Self::Sasl | Self::SaslSsl)
    }

    /// Whether the brokers also serve TLS (`SASL_SSL_EXT`, `SSL_EXT`).
    pub fn is_tls(self) -> bool {
        self == Self::SaslSsl
    }
}

/// Where the lab's nodes are, as host clients (kroll, kcat, tests) and agents see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hosts {
    /// Every node on this machine's one Docker engine: services published on `127.0.0.1`,
    /// node `N`'s agent on `127.77.0.<N>`.
    #[default]
    Loopback,
    /// Every node a host of its own (the Swarm lab): node `N` at `<subnet>.<10 + N>`, its
    /// services published there and its agent listening there.
    Nodes {
        /// The first three octets of the lab's /24 (`[10, 199, k]`).
        subnet: [u8; 3],
    },
}

impl Hosts {
    /// The address of node `n` (1-based) on the lab's own network.
    pub fn node_ip(self, n: u8) -> Ipv4Addr {
        match self {
            Self::Loopback => Ipv4Addr::LOCALHOST,
            Self::Nodes { subnet: [a, b, c] } => Ipv4Addr::new(a, b, c, 10 + n),
        }
    }

    /// Where node `n`'s agent listens.
    pub fn agent_ip(self, n: u8) -> Ipv4Addr {
        match self {
            Self::Loopback => agent_ip(n),
            Self::Nodes { .. } => self.node_ip(n),
        }
    }
}

/// A whole lab: its name, platform, registry, ports and services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabSpec {
    pub name: String,
    pub platform: Platform,
    pub registry: String,
    pub ports: Ports,
    pub services: Services,
    pub shape: Shape,
    /// Extra environment of every broker (a benchmark turns on Kafka's request logger).
    pub broker_env: BTreeMap<String, String>,
    /// Extra labels on every object (tests add `kroll.test.run`).
    pub extra_labels: BTreeMap<String, String>,
    /// Where the nodes are.
    pub hosts: Hosts,
    /// PLAINTEXT brokers, or the journal's SASL listeners, JAAS file and authorizer.
    pub security: Security,
    /// A SASL lab's JAAS file on the host (`<dir>/secrets/KAFKA_JAAS`), bind-mounted
    /// read-only into every broker at [`JAAS_TARGET`]; set by [`LabSpec::with_security`].
    pub jaas_file: Option<PathBuf>,
    /// A `sasl-ssl` lab's Kafka PKI on the host (`<dir>/kafka-tls`), whose keystore and CA
    /// every broker mounts read-only at [`KEYSTORE_TARGET`] and [`TRUSTSTORE_TARGET`].
    pub tls_dir: Option<PathBuf>,
    /// A SASL lab's secrets directory on the host (`<dir>/secrets`), whose REST files
    /// (`crate::rest_auth::RestFile`) the Connect workers, Schema Registry and the REST proxy
    /// mount read-only below `/run/secrets/`; set by [`LabSpec::with_security`]. With it those
    /// services require HTTP basic auth.
    pub rest_secrets: Option<PathBuf>,
}

/// A named volume mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub volume: String,
    pub target: String,
}

/// A host file bind-mounted read-only into a container (a SASL lab's JAAS file, the way a
/// Swarm secret appears).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMount {
    pub source: PathBuf,
    pub target: String,
}

/// One desired container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSpec {
    /// `<lab>-<service>`.
    pub name: String,
    /// `kafka-01`: hostname and network alias.
    pub service: String,
    pub kind: ServiceKind,
    pub component: Component,
    pub node: String,
    pub image: String,
    pub env: BTreeMap<String, String>,
    /// `(container port, host port)`, published on its node's address (127.0.0.1 on the
    /// loopback lab).
    pub ports: Vec<(u16, u16)>,
    pub mounts: Vec<Mount>,
    /// Host files mounted read-only.
    pub files: Vec<FileMount>,
    pub labels: BTreeMap<String, String>,
    /// Seconds `docker stop` waits before SIGKILL.
    pub stop_timeout: i64,
    pub broker_id: Option<i32>,
    pub zookeeper_id: Option<u32>,
    /// Base URL from the host (REST services).
    pub url: Option<String>,
}

/// Validates a lab name (Docker object names are built from it).
pub fn check_name(name: &str) -> Result<(), TopologyError> {
    let ok = (1..=20).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(TopologyError::BadName(name.to_owned()))
    }
}

/// `rhodrylab-0N`.
pub fn node_name(n: u8) -> String {
    format!("rhodrylab-{n:02}")
}

/// The agent address of node `n` (1-based): its own loopback address `127.77.0.<n>`.
pub fn agent_ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 77, 0, n)
}

impl LabSpec {
    /// A lab spec, validated.
    pub fn new(
        name: &str,
        version: &str,
        registry: &str,
        ports: Ports,
        services: Services,
    ) -> Result<Self, TopologyError> {
        check_name(name)?;
        let platform = Platform::find(version)
            .ok_or_else(|| TopologyError::UnknownVersion(version.to_owned()))?;
        Ok(Self {
            name: name.to_owned(),
            platform: platform.clone(),
            registry: registry.to_owned(),
            ports,
            services,
            shape: Shape::LAB,
            broker_env: BTreeMap::new(),
            extra_labels: BTreeMap::new(),
            hosts: Hosts::Loopback,
            security: Security::Plaintext,
            jaas_file: None,
            tls_dir: None,
            rest_secrets: None,
        })
    }

    /// This lab (in its final shape) with `security`: a SASL lab needs a `SASL_EXT` port per
    /// broker and keeps its JAAS file in `dir` ([`JAAS_FILE`]).
    pub fn with_security(self, security: Security, dir: &Path) -> Result<Self, TopologyError> {
        let nodes = usize::from(self.shape.nodes);
        if (security.is_sasl() && self.ports.sasl_brokers.len() != nodes)
            || (security.is_tls()
                && (self.ports.sasl_ssl_brokers.len() != nodes
                    || self.ports.ssl_brokers.len() != nodes))
        {
            return Err(TopologyError::PortsDoNotFit);
        }
        let jaas_file = security.is_sasl().then(|| dir.join(JAAS_FILE));
        let tls_dir = security.is_tls().then(|| dir.join(KAFKA_TLS_DIR));
        let rest_secrets = security.is_sasl().then(|| dir.join(SECRETS_DIR));
        Ok(Self {
            security,
            jaas_file,
            tls_dir,
            rest_secrets,
            ..self
        })
    }

    /// This lab in `shape`, whose ports must fit it.
    pub fn with_shape(self, shape: Shape) -> Result<Self, TopologyError> {
        let bad = |what, count, max| TopologyError::BadShape {
            nodes: shape.nodes,
            what,
            count,
            max,
        };
        if !(3..=99).contains(&shape.nodes) {
            return Err(bad("nodes", shape.nodes, 99));
        }
        if shape.zookeepers.is_multiple_of(2) || shape.zookeepers > shape.nodes.min(7) {
            return Err(bad(
                "ZooKeeper servers (an odd count)",
                shape.zookeepers,
                shape.nodes.min(7),
            ));
        }
        if shape.connect_workers == 0 || shape.connect_workers > shape.nodes {
            return Err(bad("Connect workers", shape.connect_workers, shape.nodes));
        }
        if !self.ports.fit(shape) {
            return Err(TopologyError::PortsDoNotFit);
        }
        Ok(Self { shape, ..self })
    }

    /// The same lab at another platform version: what its containers look like there.
    pub fn at_version(&self, platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
            ..self.clone()
        }
    }

    /// The container of `service`: `<lab>-<service>`; on a Swarm lab the stack's service
    /// `<lab>_<service>` (its task containers' names change with every update).
    pub fn container_name(&self, service: &str) -> String {
        match self.hosts {
            Hosts::Loopback => format!("{}-{service}", self.name),
            Hosts::Nodes { .. } => format!("{}_{service}", self.name),
        }
    }

    /// The lab's network, `<lab>-net`.
    pub fn network(&self) -> String {
        format!("{}-net", self.name)
    }

    /// The cluster's name in the inventory and certificates.
    pub fn cluster_name(&self) -> String {
        if self.name == DEFAULT_LAB {
            "rhodrylab".to_owned()
        } else {
            format!("rhodrylab-{}", self.name)
        }
    }

    /// Labels every object of this lab carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut l = self.extra_labels.clone();
        l.insert(LAB_LABEL.to_owned(), self.name.clone());
        l
    }

    /// The image of `component` at this lab's platform.
    pub fn image(&self, component: Component) -> String {
        tag(&self.registry, component, self.platform.version)
    }

    /// The agent address of node `n`.
    pub fn agent_addr(&self, n: u8) -> SocketAddr {
        SocketAddr::from((
            self.hosts.agent_ip(n),
            self.ports.agents[usize::from(n - 1)],
        ))
    }

    /// Where host clients reach what node `n` publishes.
    pub fn host_of(&self, n: u8) -> Ipv4Addr {
        self.hosts.node_ip(n)
    }

    /// ZooKeeper as host clients reach it (`127.0.0.1:<port>` on the loopback lab; every
    /// server of an ensemble, comma-separated).
    pub fn zookeeper_addr(&self) -> String {
        std::iter::once(self.ports.zookeeper)
            .chain(self.ports.more_zookeepers.iter().copied())
            .zip(1..)
            .map(|(p, n)| format!("{}:{p}", self.host_of(n)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kafka's `zookeeper.connect` inside the lab network: every server, then the chroot.
    fn internal_zookeeper(&self) -> String {
        let servers: Vec<String> = (1..=self.shape.zookeepers)
            .map(|n| format!("zookeeper-{n:02}:2181"))
            .collect();
        format!("{}/kafka", servers.join(","))
    }

    /// Brokers as host clients reach them (`127.0.0.1:<port>` on the loopback lab).
    pub fn bootstrap(&self) -> Vec<String> {
        (1..=self.shape.nodes)
            .zip(&self.ports.brokers)
            .map(|(n, p)| format!("{}:{p}", self.host_of(n)))
            .collect()
    }

    /// A SASL lab's brokers as host clients reach their `SASL_EXT` listeners (empty for a
    /// PLAINTEXT lab).
    pub fn sasl_bootstrap(&self) -> Vec<String> {
        (1..=self.shape.nodes)
            .zip(&self.ports.sasl_brokers)
            .map(|(n, p)| format!("{}:{p}", self.host_of(n)))
            .collect()
    }

    /// A `sasl-ssl` lab's brokers as host clients reach their `SASL_SSL_EXT` listeners (empty
    /// otherwise).
    pub fn sasl_ssl_bootstrap(&self) -> Vec<String> {
        (1..=self.shape.nodes)
            .zip(&self.ports.sasl_ssl_brokers)
            .map(|(n, p)| format!("{}:{p}", self.host_of(n)))
            .collect()
    }

    /// A `sasl-ssl` lab's brokers as host clients reach their `SSL_EXT` listeners (empty
    /// otherwise).
    pub fn ssl_bootstrap(&self) -> Vec<String> {
        (1..=self.shape.nodes)
            .zip(&self.ports.ssl_brokers)
            .map(|(n, p)| format!("{}:{p}", self.host_of(n)))
            .collect()
    }

    /// Every name and address a client may reach broker `n` by: the TLS listeners'
    /// certificate lists them all (`crate::pki`).
    pub fn broker_names(&self, n: u8) -> Vec<String> {
        let mut names = vec![
            format!("kafka-{n:02}"),
            "localhost".to_owned(),
            Ipv4Addr::LOCALHOST.to_string(),
        ];
        let host = self.host_of(n).to_string();
        if !names.contains(&host) {
            names.push(host);
        }
        names
    }

    /// Brokers as containers in the lab network reach them (the journal's `BOOTSTRAP_SERVERS`).
    pub fn internal_bootstrap(&self) -> String {
        (1..=self.shape.nodes)
            .map(|n| format!("kafka-{n:02}:{}", env::plaintext_int_port(n)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every named volume of the lab.
    pub fn volumes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .containers()
            .iter()
            .flat_map(|c| c.mounts.iter().map(|m| m.volume.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every desired container, node by node.
    pub fn containers(&self) -> Vec<ContainerSpec> {
        let mut out: Vec<ContainerSpec> = (1..=self.shape.zookeepers)
            .map(|n| self.zookeeper(n))
            .collect();
        for n in 1..=self.shape.nodes {
            out.push(self.broker(n));
        }
        if self.services == Services::Full {
            out.push(self.schema_registry());
            out.push(self.rest_proxy());
            out.push(self.kafdrop());
            for n in 1..=self.shape.connect_workers {
                out.push(self.connect(n));
            }
        }
        out.sort_by_key(|c| (c.node.clone(), kind_order(c.kind)));
        out
    }

    /// The desired container called `<lab>-<service>`, if any.
    pub fn container(&self, service: &str) -> Option<ContainerSpec> {
        self.containers().into_iter().find(|c| c.service == service)
    }

    fn base(
        &self,
        service: &str,
        kind: ServiceKind,
        component: Component,
        node: u8,
    ) -> ContainerSpec {
        let node = node_name(node);
        let mut labels = self.labels();
        labels.insert(NODE_LABEL.to_owned(), node.clone());
        labels.insert(ROLE_LABEL.to_owned(), kind.as_str().to_owned());
        ContainerSpec {
            name: self.container_name(service),
            service: service.to_owned(),
            kind,
            component,
            node,
            image: self.image(component),
            env: BTreeMap::new(),
            ports: Vec::new(),
            mounts: Vec::new(),
            files: Vec::new(),
            labels,
            stop_timeout: 10,
            broker_id: None,
            zookeeper_id: None,
            url: None,
        }
    }

    fn volume(&self, what: &str, target: &str) -> Mount {
        Mount {
            volume: format!("{}-{what}", self.name),
            target: target.to_owned(),
        }
    }

    /// Whether the REST services require HTTP basic auth (a full SASL lab's).
    pub fn rest_auth(&self) -> bool {
        self.security.is_sasl() && self.rest_secrets.is_some() && self.services == Services::Full
    }

    /// The REST secrets the containers of `kind` mount (none without [`LabSpec::rest_auth`]).
    fn rest_files(&self, kind: ServiceKind) -> Vec<FileMount> {
        match (&self.rest_secrets, self.rest_auth()) {
            (Some(dir), true) => crate::rest_auth::RestFile::of(kind)
                .map(|f| FileMount {
                    source: dir.join(f.name()),
                    target: f.target(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn zookeeper(&self, n: u8) -> ContainerSpec {
        let service = format!("zookeeper-{n:02}");
        let mut c = self.base(&service, ServiceKind::Zookeeper, Component::Zookeeper, n);
        c.env = env::zookeeper(n, self.shape.zookeepers);
        let host_port = match n {
            1 => self.ports.zookeeper,
            _ => self.ports.more_zookeepers[usize::from(n - 2)],
        };
        c.ports = vec![(2181, host_port)];
        c.mounts = vec![
            self.volume(&format!("{service}-data"), "/data"),
            self.volume(&format!("{service}-datalog"), "/datalog"),
        ];
        c.zookeeper_id = Some(u32::from(n));
        c
    }

    fn broker(&self, n: u8) -> ContainerSpec {
        let service = format!("kafka-{n:02}");
        let mut c = self.base(&service, ServiceKind::Broker, Component::Kafka, n);
        let i = usize::from(n - 1);
        let host = self.host_of(n);
        let ext = env::HostListener {
            host,
            port: self.ports.brokers[i],
        };
        let at = |ports: &[u16]| ports.get(i).map(|&port| env::HostListener { host, port });
        let sasl = at(&self.ports.sasl_brokers).filter(|_| self.security.is_sasl());
        let tls = match (
            at(&self.ports.sasl_ssl_brokers),
            at(&self.ports.ssl_brokers),
        ) {
            (Some(sasl_ssl), Some(ssl)) if self.security.is_tls() => {
                Some(env::TlsListeners { sasl_ssl, ssl })
            }
            _ => None,
        };
        c.env = env::broker(n, ext, sasl, tls, &self.internal_zookeeper());
        c.env.extend(self.broker_env.clone());
        c.ports = vec![(env::plaintext_ext_port(n), ext.port)];
        if let Some(sasl) = sasl {
            c.ports.push((env::sasl_ext_port(n), sasl.port));
        }
        if let Some(tls) = tls {
            c.ports.push((env::sasl_ssl_ext_port(n), tls.sasl_ssl.port));
            c.ports.push((env::ssl_ext_port(n), tls.ssl.port));
        }
        c.mounts = vec![self.volume(&format!("{service}-data"), "/var/lib/kafka/data")];
        if let (true, Some(jaas)) = (self.security.is_sasl(), &self.jaas_file) {
            c.files.push(FileMount {
                source: jaas.clone(),
                target: JAAS_TARGET.to_owned(),
            });
        }
        if let (true, Some(tls_dir)) = (self.security.is_tls(), &self.tls_dir) {
            c.files.push(FileMount {
                source: tls_dir.join(crate::pki::KEYSTORE_FILE),
                target: KEYSTORE_TARGET.to_owned(),
            });
            c.files.push(FileMount {
                source: tls_dir.join(crate::pki::CA_FILE),
                target: TRUSTSTORE_TARGET.to_owned(),
            });
        }
        c.stop_timeout = 30;
        c.broker_id = Some(i32::from(n));
        c
    }

    fn connect(&self, n: u8) -> ContainerSpec {
        let service = format!("connect-{n:02}");
        let mut c = self.base(&service, ServiceKind::Connect, Component::Connect, n);
        let host_port = self.ports.connect[usize::from(n - 1)];
        c.env = env::connect(
            &self.platform,
            &service,
            &self.internal_bootstrap(),
            self.rest_auth(),
        );
        c.ports = vec![(8083, host_port)];
        c.mounts = vec![self.volume("connect-cluster", "/var/lib/connect-cluster")];
        c.files = self.rest_files(ServiceKind::Connect);
        c.url = Some(format!("http://{}:{host_port}", self.host_of(n)));
        c
    }

    fn schema_registry(&self) -> ContainerSpec {
        let mut c = self.base(
            "schema-registry",
            ServiceKind::SchemaRegistry,
            Component::SchemaRegistry,
            1,
        );
        c.env = env::schema_registry(&self.internal_bootstrap(), self.rest_auth());
        c.ports = vec![(8081, self.ports.schema_registry)];
        c.files = self.rest_files(ServiceKind::SchemaRegistry);
        c.mounts = vec![self.volume("schema-registry-data", "/var/lib/schema-registry")];
        c.url = Some(format!(
            "http://{}:{}",
            self.host_of(1),
            self.ports.schema_registry
        ));
        c
    }

    fn rest_proxy(&self) -> ContainerSpec {
        let mut c = self.base("rest-proxy", ServiceKind::RestProxy, Component::Rest, 1);
        c.env = env::rest_proxy(&self.internal_bootstrap(), self.rest_auth());
        c.ports = vec![(8082, self.ports.rest_proxy)];
        c.files = self.rest_files(ServiceKind::RestProxy);
        c.url = Some(format!(
            "http://{}:{}",
            self.host_of(1),
            self.ports.rest_proxy
        ));
        c
    }

    fn kafdrop(&self) -> ContainerSpec {
        let mut c = self.base("kafdrop", ServiceKind::Kafdrop, Component::Kafdrop, 1);
        c.env = env::kafdrop(&self.internal_bootstrap());
        c.ports = vec![(9000, self.ports.kafdrop)];
        c.url = Some(format!("http://{}:{}", self.host_of(1), self.ports.kafdrop));
        c
    }
}

/// Order of services on a node, as in the journal's stack.
fn kind_order(kind: ServiceKind) -> u8 {
    match kind {
        ServiceKind::Zookeeper => 0,
        ServiceKind::Broker => 1,
        ServiceKind::Connect => 2,
        ServiceKind::SchemaRegistry => 3,
        ServiceKind::RestProxy => 4,
        ServiceKind::Kafdrop => 5,
    }
}

#[cfg(test)]
mod tests;
