//! The host ports a lab publishes: fixed for the default lab, from a `--port-base`, or free
//! ports chosen at the first `up` (`crate::up`) — one per ZooKeeper server, broker (two in a
//! SASL lab), Connect worker and agent.

use serde::{Deserialize, Serialize};

use super::{Security, Shape, TopologyError};

/// Host ports of a lab (all on 127.0.0.1; agents on `127.77.0.<N>`): one per ZooKeeper
/// server, broker (two with [`Security::Sasl`]), Connect worker and agent of its [`Shape`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    /// ZooKeeper server 1's client port (a lab state file written before ensembles).
    pub zookeeper: u16,
    /// The client ports of ZooKeeper servers 2…N.
    #[serde(default)]
    pub more_zookeepers: Vec<u16>,
    /// Each broker's `PLAINTEXT_EXT` listener.
    pub brokers: Vec<u16>,
    /// Each broker's `SASL_EXT` listener (a SASL lab only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sasl_brokers: Vec<u16>,
    /// Each broker's `SASL_SSL_EXT` listener (a `sasl-ssl` lab only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sasl_ssl_brokers: Vec<u16>,
    /// Each broker's `SSL_EXT` listener (a `sasl-ssl` lab only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssl_brokers: Vec<u16>,
    pub connect: Vec<u16>,
    pub schema_registry: u16,
    pub rest_proxy: u16,
    pub kafdrop: u16,
    pub agents: Vec<u16>,
}

/// Ports used above a `--port-base` by the standard lab.
const PORT_SPAN: u16 = 31;
/// Where brokers' ports start above a `--port-base` when a lab has more than 10 nodes (their
/// standard place, +20, would reach the agents' +30).
const MANY_BROKERS_OFFSET: u16 = 40;
/// How far above its `PLAINTEXT_EXT` port a broker's `SASL_EXT` port is, above a `--port-base`
/// (+120… for the standard lab, +140… with more than 10 nodes: clear of every other port).
const SASL_OFFSET: u16 = 100;
/// The default lab's `SASL_EXT` ports: the journal's (`26091`…, its `PLAINTEXT_EXT` − 1000).
const DEFAULT_SASL_BROKERS: [u16; 5] = [26091, 26092, 26093, 26094, 26095];
/// The default lab's `SASL_SSL_EXT` and `SSL_EXT` ports (their container ports, `2509N` and
/// `2409N`).
const DEFAULT_SASL_SSL_BROKERS: [u16; 5] = [25091, 25092, 25093, 25094, 25095];
const DEFAULT_SSL_BROKERS: [u16; 5] = [24091, 24092, 24093, 24094, 24095];

impl Ports {
    /// The default lab's fixed ports (those of `deploy/inventory.lab.toml`).
    pub fn default_lab() -> Self {
        Self {
            zookeeper: 12181,
            more_zookeepers: Vec::new(),
            brokers: vec![27091, 27092, 27093, 27094, 27095],
            sasl_brokers: Vec::new(),
            sasl_ssl_brokers: Vec::new(),
            ssl_brokers: Vec::new(),
            connect: vec![18083, 18084, 18085, 18086, 18087],
            schema_registry: 18081,
            rest_proxy: 18082,
            kafdrop: 19000,
            agents: vec![7443; 5],
        }
    }

    /// The default lab's fixed ports with `security`: a SASL lab's `SASL_EXT` listeners are
    /// the journal's `26091`…`26095`; every other port is [`Ports::default_lab`]'s.
    pub fn default_lab_with(security: Security) -> Self {
        let mut ports = Self::default_lab();
        if security.is_sasl() {
            ports.sasl_brokers = DEFAULT_SASL_BROKERS.to_vec();
        }
        if security.is_tls() {
            ports.sasl_ssl_brokers = DEFAULT_SASL_SSL_BROKERS.to_vec();
            ports.ssl_brokers = DEFAULT_SSL_BROKERS.to_vec();
        }
        ports
    }

    /// Ports from `base` up: ZooKeeper `base` (servers 2… at +4…), Schema Registry +1, REST
    /// proxy +2, Kafdrop +3, Connect +10…, brokers +20… (+40… with more than 10 nodes),
    /// agents +30 (each on its own address); with [`Security::Sasl`] each broker's `SASL_EXT`
    /// 100 above its `PLAINTEXT_EXT` (+120…, or +140…); with [`Security::SaslSsl`] also
    /// `SASL_SSL_EXT` 200 above and `SSL_EXT` 300 above.
    pub fn from_base(base: u16, shape: Shape, security: Security) -> Result<Self, TopologyError> {
        let brokers_at = if shape.nodes > 10 {
            MANY_BROKERS_OFFSET
        } else {
            20
        };
        let sasl = security.is_sasl();
        let tls = security.is_tls();
        let last_run =
            brokers_at + SASL_OFFSET * [sasl, tls, tls].into_iter().filter(|b| *b).count() as u16;
        let span = PORT_SPAN.max(last_run + u16::from(shape.nodes));
        if !(1024..=u16::MAX - span).contains(&base) {
            return Err(TopologyError::BadPortBase(base, u16::MAX - span));
        }
        let run = |off: u16, n: u8| (0..u16::from(n)).map(|i| base + off + i).collect();
        Ok(Self {
            zookeeper: base,
            more_zookeepers: run(4, shape.zookeepers.saturating_sub(1)),
            schema_registry: base + 1,
            rest_proxy: base + 2,
            kafdrop: base + 3,
            connect: run(10, shape.connect_workers),
            brokers: run(brokers_at, shape.nodes),
            sasl_brokers: if sasl {
                run(brokers_at + SASL_OFFSET, shape.nodes)
            } else {
                Vec::new()
            },
            sasl_ssl_brokers: if tls {
                run(brokers_at + 2 * SASL_OFFSET, shape.nodes)
            } else {
                Vec::new()
            },
            ssl_brokers: if tls {
                run(brokers_at + 3 * SASL_OFFSET, shape.nodes)
            } else {
                Vec::new()
            },
            agents: vec![base + 30; usize::from(shape.nodes)],
        })
    }

    /// Whether these ports serve every server of `shape` (a SASL lab's `SASL_EXT` listeners:
    /// [`LabSpec::with_security`](super::LabSpec::with_security)).
    pub fn fit(&self, shape: Shape) -> bool {
        self.more_zookeepers.len() + 1 == usize::from(shape.zookeepers)
            && self.brokers.len() == usize::from(shape.nodes)
            && self.agents.len() == usize::from(shape.nodes)
            && self.connect.len() == usize::from(shape.connect_workers)
    }
}
