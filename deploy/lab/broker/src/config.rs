//! Broker configuration from the environment, the way Confluent's `cp-kafka` image builds
//! `server.properties`: `KAFKA_FOO_BAR` → `foo.bar` (`__` → `_`, `___` → `-`), plus the lab's
//! own `LAB_*` timing knobs. SASL_PLAINTEXT and SASL_SSL listeners read their PLAIN users from
//! the JAAS file named by `-Djava.security.auth.login.config=` in `KAFKA_OPTS` ([`crate::jaas`])
//! and SCRAM credentials from ZooKeeper at login; SSL and SASL_SSL listeners read their PEM
//! stores from `ssl.*` ([`crate::tls`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::BrokerError;
use crate::jaas::{JaasFile, Password, PlainCredentials};
use crate::sasl::Mechanism;
use crate::tls::ListenerTls;

/// Environment variables `cp-kafka` does not turn into properties (JVM / launcher settings).
const NOT_PROPERTIES: &[&str] = &[
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME",
    "KAFKA_JMX_PORT",
    "CONFLUENT_VERSION",
    "CONFLUENT_PLATFORM_LABEL",
    "CONFLUENT_DEB_VERSION",
    "CONFLUENT_MAJOR_VERSION",
    "CONFLUENT_MINOR_VERSION",
    "CONFLUENT_PATCH_VERSION",
];

/// One `NAME://host:port` entry of `listeners` / `advertised.listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Listener name, upper case (`PLAINTEXT_INT`).
    pub name: String,
    /// Host (empty = all interfaces).
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Lab-only timing knobs (`LAB_*`), documented in LAB.md "## Broker".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabKnobs {
    /// `LAB_REPLICA_FETCH_BYTES_PER_SEC`: what one follower broker copies per second, all leaders together.
    pub replica_fetch_bytes_per_sec: u64,
    /// `LAB_RECOVERY_BASE_MS`: fixed part of log recovery after a hard kill.
    pub recovery_base_ms: u64,
    /// `LAB_RECOVERY_BYTES_PER_SEC`: log recovery speed (the part that grows with data).
    pub recovery_bytes_per_sec: u64,
    /// `LAB_SHUTDOWN_DELAY_MS`: extra work of a controlled shutdown once leadership moved.
    pub shutdown_delay_ms: u64,
    /// `LAB_METADATA_REFRESH_MS`: backstop re-read of ZooKeeper besides watches.
    pub metadata_refresh_ms: u64,
}

/// The broker's effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `broker.id`.
    pub broker_id: i32,
    /// `zookeeper.connect` without the chroot.
    pub zk_hosts: String,
    /// The chroot of `zookeeper.connect` (`/kafka`), if any.
    pub zk_chroot: Option<String>,
    /// `listeners`.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`.
    pub advertised: Vec<Listener>,
    /// `listener.security.protocol.map`.
    pub protocol_map: BTreeMap<String, String>,
    /// `inter.broker.listener.name`.
    pub inter_broker_listener: String,
    /// `inter.broker.protocol.version` as configured (None = the software's own).
    pub ibp: Option<String>,
    /// `log.dirs` (the lab uses the first directory).
    pub log_dir: PathBuf,
    /// Every property set through the environment (shown by DescribeConfigs as static config).
    pub props: BTreeMap<String, String>,
    /// Launcher settings that are accepted and reported but have no effect (`KAFKA_HEAP_OPTS`, …).
    pub launcher_env: BTreeMap<String, String>,
    /// Lab knobs.
    pub lab: LabKnobs,
    /// SASL settings, when a listener is SASL_PLAINTEXT or SASL_SSL.
    pub sasl: Option<SaslConfig>,
    /// TLS settings of each SSL / SASL_SSL listener.
    pub tls: BTreeMap<String, ListenerTls>,
}

/// SASL settings of the SASL listeners (passwords never in `Debug`).
#[derive(Debug, Clone)]
pub struct SaslConfig {
    /// The JAAS file they came from.
    pub jaas: PathBuf,
    /// `sasl.enabled.mechanisms`, in its order.
    pub mechanisms: Vec<Mechanism>,
    /// Credentials per SASL listener name.
    pub listeners: BTreeMap<String, PlainCredentials>,
    /// The login the replica fetcher sends when the inter-broker listener is SASL.
    pub inter_broker_login: Option<(String, Password)>,
}

/// Security protocols the lab serves (besides `PLAINTEXT`).
pub const SASL_PLAINTEXT: &str = "SASL_PLAINTEXT";
/// TLS without SASL: the principal comes from the client certificate.
pub const SSL: &str = "SSL";
/// SASL over TLS.
pub const SASL_SSL: &str = "SASL_SSL";

impl Config {
    /// Builds the configuration from environment variables (`std::env::vars()` in `main`).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, BrokerError> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let (props, launcher_env) = env_to_props(&vars);
        let zk = props
            .get("zookeeper.connect")
            .ok_or_else(|| missing("KAFKA_ZOOKEEPER_CONNECT"))?;
        let (zk_hosts, zk_chroot) = split_chroot(zk);
        let advertised_text = props
            .get("advertised.listeners")
            .ok_or_else(|| missing("KAFKA_ADVERTISED_LISTENERS"))?;
        let protocol_map = parse_protocol_map(props.get("listener.security.protocol.map"))?;
        let listeners = parse_listeners(
            "listeners",
            props.get("listeners").map_or("PLAINTEXT://:9092", |s| s),
        )?;
        let advertised = parse_listeners("advertised.listeners", advertised_text)?;
        let inter_broker_listener = props
            .get("inter.broker.listener.name")
            .cloned()
            .unwrap_or_else(|| "PLAINTEXT".to_string())
            .to_uppercase();
        let config = Self {
            broker_id: parse_num(&props, "broker.id", None)?,
            zk_hosts,
            zk_chroot,
            listeners,
            advertised,
            protocol_map,
            inter_broker_listener,
            ibp: props.get("inter.broker.protocol.version").cloned(),
            log_dir: PathBuf::from(
                props
                    .get("log.dirs")
                    .or(props.get("log.dir"))
                    .map_or("/var/lib/kafka/data", |s| s)
                    .split(',')
                    .next()
                    .unwrap_or_default(),
            ),
            lab: LabKnobs::from_env(&vars)?,
            props,
            launcher_env,
            sasl: None,
            tls: BTreeMap::new(),
        };
        config.validate()?;
        let sasl = config.sasl_config()?;
        let mut tls = BTreeMap::new();
        for l in config.listeners.iter().filter(|l| config.is_tls(&l.name)) {
            tls.insert(
                l.name.clone(),
                crate::tls::listener_settings(&config.props, &l.name)?,
            );
        }
        Ok(Self {
            sasl,
            tls,
            ..config
        })
    }

    fn validate(&self) -> Result<(), BrokerError> {
        if self.broker_id < 0 {
            return Err(bad(
                "broker.id",
                "must be set to a non-negative integer (KAFKA_BROKER_ID)",
            ));
        }
        for listener in self.listeners.iter().chain(&self.advertised) {
            match self.protocol_map.get(&listener.name).map(String::as_str) {
                Some("PLAINTEXT" | SASL_PLAINTEXT | SSL | SASL_SSL) => {}
                Some(other) => {
                    return Err(bad(
                        "listener.security.protocol.map",
                        &format!(
                            "listener {} uses {other}; the lab serves PLAINTEXT, SASL_PLAINTEXT, SSL and SASL_SSL listeners only",
                            listener.name
                        ),
                    ));
                }
                None => {
                    return Err(bad(
                        "listener.security.protocol.map",
                        &format!(
                            "no security protocol defined for listener {}",
                            listener.name
                        ),
                    ));
                }
            }
        }
        for adv in &self.advertised {
            if !self.listeners.iter().any(|l| l.name == adv.name) {
                return Err(bad(
                    "advertised.listeners",
                    &format!("listener {} is not in listeners", adv.name),
                ));
            }
        }
        if !self
            .advertised
            .iter()
            .any(|l| l.name == self.inter_broker_listener)
        {
            return Err(bad(
                "inter.broker.listener.name",
                &format!(
                    "{} must be a listener name defined in advertised.listeners",
                    self.inter_broker_listener
                ),
            ));
        }
        if self.is_tls(&self.inter_broker_listener) {
            return Err(bad(
                "inter.broker.listener.name",
                &format!(
                    "{} is {}; the lab's replica fetcher speaks PLAINTEXT and SASL_PLAINTEXT only",
                    self.inter_broker_listener,
                    self.protocol_of(&self.inter_broker_listener)
                ),
            ));
        }
        for key in [
            "min.insync.replicas",
            "default.replication.factor",
            "num.partitions",
        ] {
            if self.int(key, 1) < 1 {
                return Err(bad(key, "must be at least 1"));
            }
        }
        Ok(())
    }

    /// The security protocol of a listener (`PLAINTEXT` when unmapped).
    pub fn protocol_of(&self, listener: &str) -> &str {
        self.protocol_map
            .get(listener)
            .map_or("PLAINTEXT", String::as_str)
    }

    /// Whether `listener` authenticates with SASL.
    pub fn is_sasl(&self, listener: &str) -> bool {
        matches!(self.protocol_of(listener), SASL_PLAINTEXT | SASL_SSL)
    }

    /// Whether `listener` is TLS (SSL or SASL_SSL).
    pub fn is_tls(&self, listener: &str) -> bool {
        matches!(self.protocol_of(listener), SSL | SASL_SSL)
    }

    /// Reads the JAAS file for the SASL listeners and checks the mechanisms (PLAIN,
    /// SCRAM-SHA-256, SCRAM-SHA-512).
    fn sasl_config(&self) -> Result<Option<SaslConfig>, BrokerError> {
        let sasl: Vec<&str> = self
            .listeners
            .iter()
            .map(|l| l.name.as_str())
            .filter(|n| self.is_sasl(n))
            .collect();
        if sasl.is_empty() {
            return Ok(None);
        }
        if let Some(key) = self.props.keys().find(|k| k.ends_with("sasl.jaas.config")) {
            return Err(bad(
                key,
                "the lab reads SASL logins from the JAAS file in KAFKA_OPTS (-Djava.security.auth.login.config=) only",
            ));
        }
        let mechanisms = self
            .props
            .get("sasl.enabled.mechanisms")
            .map_or("GSSAPI", String::as_str);
        let listed: Option<Vec<Mechanism>> = mechanisms
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(Mechanism::parse)
            .collect();
        let Some(listed) = listed.filter(|l| l.contains(&Mechanism::Plain)) else {
            return Err(bad(
                "sasl.enabled.mechanisms",
                &format!(
                    "is `{mechanisms}`; the lab serves PLAIN, and SCRAM-SHA-256 / SCRAM-SHA-512 besides it (KAFKA_SASL_ENABLED_MECHANISMS=PLAIN[,SCRAM-SHA-256,SCRAM-SHA-512])"
                ),
            ));
        };
        let first = sasl[0].to_lowercase();
        let opts = self
            .launcher_env
            .get("KAFKA_OPTS")
            .map_or("", String::as_str);
        let jaas = jaas_path(opts).ok_or_else(|| {
            bad(
                "KAFKA_OPTS",
                &format!("Could not find a '{first}.KafkaServer' or 'KafkaServer' entry in the JAAS configuration. System property 'java.security.auth.login.config' is not set (add -Djava.security.auth.login.config=/path/to/jaas.conf to KAFKA_OPTS)"),
            )
        })?;
        let file = JaasFile::read(&jaas)?;
        let mut listeners = BTreeMap::new();
        for name in &sasl {
            listeners.insert(name.to_string(), file.plain_for_listener(name)?);
        }
        let mut inter_broker_login = None;
        if self.is_sasl(&self.inter_broker_listener) {
            let mech = self
                .props
                .get("sasl.mechanism.inter.broker.protocol")
                .map_or("GSSAPI", String::as_str);
            if mech.trim() != "PLAIN" {
                return Err(bad(
                    "sasl.mechanism.inter.broker.protocol",
                    &format!(
                        "is `{mech}`; the lab's inter-broker SASL is PLAIN only (KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=PLAIN)"
                    ),
                ));
            }
            let creds = &listeners[&self.inter_broker_listener];
            inter_broker_login = Some(creds.client.clone().ok_or_else(|| BrokerError::Jaas {
                path: jaas.clone(),
                line: 1,
                reason: format!(
                    "section {} has no username/password: the broker needs them to log in on the inter-broker listener {}",
                    creds.section, self.inter_broker_listener
                ),
            })?);
        }
        Ok(Some(SaslConfig {
            jaas,
            mechanisms: listed,
            listeners,
            inter_broker_login,
        }))
    }

    /// An integer property with Kafka's default (the lab default for `replica.lag.time.max.ms`).
    pub fn int(&self, key: &str, default: i64) -> i64 {
        self.props
            .get(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// A boolean property.
    pub fn bool(&self, key: &str, default: bool) -> bool {
        self.props
            .get(key)
            .map_or(default, |v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// `min.insync.replicas` (broker-wide default).
    pub fn min_insync_replicas(&self) -> i32 {
        self.int("min.insync.replicas", 1) as i32
    }

    /// `replica.lag.time.max.ms` (lab default 5000; Kafka's is 30000).
    pub fn replica_lag_time_max_ms(&self) -> u64 {
        self.int("replica.lag.time.max.ms", REPLICA_LAG_TIME_MAX_MS_DEFAULT) as u64
    }

    /// `zookeeper.session.timeout.ms`.
    pub fn zk_session_timeout_ms(&self) -> u64 {
        self.int("zookeeper.session.timeout.ms", 18_000) as u64
    }

    /// `auto.create.topics.enable`.
    pub fn auto_create_topics(&self) -> bool {
        self.bool("auto.create.topics.enable", true)
    }

    /// The advertised endpoint of a listener.
    pub fn advertised_for(&self, name: &str) -> Option<&Listener> {
        self.advertised.iter().find(|l| l.name == name)
    }
}

/// The lab's default for `replica.lag.time.max.ms` (Kafka: 30000).
pub const REPLICA_LAG_TIME_MAX_MS_DEFAULT: i64 = 5_000;

impl LabKnobs {
    fn from_env(vars: &BTreeMap<String, String>) -> Result<Self, BrokerError> {
        let knob = |name: &str, default: u64| -> Result<u64, BrokerError> {
            match vars.get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| bad(name, &format!("`{v}` is not a non-negative integer"))),
            }
        };
        Ok(Self {
            replica_fetch_bytes_per_sec: knob("LAB_REPLICA_FETCH_BYTES_PER_SEC", 1_048_576)?.max(1),
            recovery_base_ms: knob("LAB_RECOVERY_BASE_MS", 3_000)?,
            recovery_bytes_per_sec: knob("LAB_RECOVERY_BYTES_PER_SEC", 4_194_304)?.max(1),
            shutdown_delay_ms: knob("LAB_SHUTDOWN_DELAY_MS", 1_500)?,
            metadata_refresh_ms: knob("LAB_METADATA_REFRESH_MS", 1_000)?.max(50),
        })
    }
}

fn env_to_props(
    vars: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut props = BTreeMap::new();
    let mut launcher = BTreeMap::new();
    for (name, value) in vars {
        let (rest, prefix) = if let Some(rest) = name.strip_prefix("KAFKA_") {
            (rest, "")
        } else if let Some(rest) = name.strip_prefix("CONFLUENT_") {
            (rest, "confluent.")
        } else {
            continue;
        };
        if NOT_PROPERTIES.contains(&name.as_str()) {
            launcher.insert(name.clone(), value.clone());
            continue;
        }
        let dotted = rest
            .to_lowercase()
            .replace('_', ".")
            .replace("...", "-")
            .replace("..", "_");
        props.insert(format!("{prefix}{dotted}"), value.clone());
    }
    (props, launcher)
}

/// The value of `-Djava.security.auth.login.config=` in a JVM option string (quotes removed).
fn jaas_path(opts: &str) -> Option<PathBuf> {
    const FLAG: &str = "-Djava.security.auth.login.config=";
    opts.split_whitespace()
        .filter_map(|word| word.strip_prefix(FLAG))
        .next_back()
        .map(|v| PathBuf::from(v.trim_matches(['"', '\''])))
        .filter(|p| !p.as_os_str().is_empty())
}

fn split_chroot(connect: &str) -> (String, Option<String>) {
    match connect.find('/') {
        Some(i) if connect[i..].len() > 1 => (
            connect[..i].to_string(),
            Some(connect[i..].trim_end_matches('/').to_string()),
        ),
        Some(i) => (connect[..i].to_string(), None),
        None => (connect.to_string(), None),
    }
}

fn parse_protocol_map(text: Option<&String>) -> Result<BTreeMap<String, String>, BrokerError> {
    let text = text.map_or(
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        |s| s,
    );
    let mut map = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, proto) = entry.split_once(':').ok_or_else(|| {
            bad(
                "listener.security.protocol.map",
                &format!("`{entry}` is not NAME:PROTOCOL"),
            )
        })?;
        map.insert(name.trim().to_uppercase(), proto.trim().to_uppercase());
    }
    Ok(map)
}

fn parse_listeners(key: &str, text: &str) -> Result<Vec<Listener>, BrokerError> {
    let mut out: Vec<Listener> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, addr) = entry
            .split_once("://")
            .ok_or_else(|| bad(key, &format!("`{entry}` is not NAME://host:port")))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad(key, &format!("`{entry}` has no port")))?;
        let port = port
            .parse()
            .map_err(|_| bad(key, &format!("`{entry}` has an invalid port")))?;
        let name = name.to_uppercase();
        if out.iter().any(|l| l.name == name) {
            return Err(bad(key, &format!("listener name {name} appears twice")));
        }
        out.push(Listener {
            name,
            host: host.trim_matches(['[', ']']).to_string(),
            port,
        });
    }
    if out.is_empty() {
        return Err(bad(key, "no listener given"));
    }
    Ok(out)
}

fn parse_num<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: Option<T>,
) -> Result<T, BrokerError> {
    match props.get(key) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| bad(key, &format!("`{v}` is not a number"))),
        None => default.ok_or_else(|| bad(key, "is required (KAFKA_BROKER_ID)")),
    }
}

fn missing(env: &str) -> BrokerError {
    BrokerError::Config {
        key: env.to_string(),
        reason: format!("{env} is required."),
    }
}

fn bad(key: &str, reason: &str) -> BrokerError {
    BrokerError::Config {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn journal_like() -> Vec<(String, String)> {
        env(&[
            ("KAFKA_BROKER_ID", "2"),
            ("KAFKA_ZOOKEEPER_CONNECT", "zookeeper-01:2181/kafka"),
            (
                "KAFKA_LISTENERS",
                "PLAINTEXT_INT://0.0.0.0:29092,PLAINTEXT_EXT://0.0.0.0:27092",
            ),
            (
                "KAFKA_ADVERTISED_LISTENERS",
                "PLAINTEXT_INT://kafka-02:29092,PLAINTEXT_EXT://127.0.0.1:27092",
            ),
            (
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                "PLAINTEXT_INT:PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT",
            ),
            ("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT_INT"),
            ("KAFKA_CONFLUENT_LICENSE_TOPIC_REPLICATION_FACTOR", "1"),
            ("KAFKA_HEAP_OPTS", "-Xmx1g"),
            ("KAFKA_SOME__ODD___NAME", "x"),
            ("CONFLUENT_SUPPORT_CUSTOMER_ID", "anonymous"),
            ("CONFLUENT_VERSION", "7.1.1"),
            ("PATH", "/bin"),
        ])
    }

    #[test]
    fn cp_kafka_env_names_become_properties() {
        let cfg = Config::from_env(journal_like()).expect("config");
        assert_eq!(cfg.broker_id, 2);
        assert_eq!(cfg.zk_hosts, "zookeeper-01:2181");
        assert_eq!(cfg.zk_chroot.as_deref(), Some("/kafka"));
        assert_eq!(
            cfg.props
                .get("confluent.license.topic.replication.factor")
                .map(String::as_str),
            Some("1")
        );
        assert_eq!(
            cfg.props.get("some_odd-name").map(String::as_str),
            Some("x")
        );
        assert_eq!(
            cfg.props
                .get("confluent.support.customer.id")
                .map(String::as_str),
            Some("anonymous")
        );
        assert!(!cfg.props.contains_key("confluent.version"));
        assert!(cfg.launcher_env.contains_key("KAFKA_HEAP_OPTS"));
        assert_eq!(cfg.log_dir, PathBuf::from("/var/lib/kafka/data"));
        assert_eq!(
            cfg.advertised_for("PLAINTEXT_EXT").map(|l| l.port),
            Some(27092)
        );
        assert_eq!(cfg.replica_lag_time_max_ms(), 5_000);
    }

    #[test]
    fn missing_or_bad_settings_are_named() {
        let without_zk: Vec<_> = journal_like()
            .into_iter()
            .filter(|(k, _)| k != "KAFKA_ZOOKEEPER_CONNECT")
            .collect();
        let err = Config::from_env(without_zk)
            .expect_err("zk required")
            .to_string();
        assert!(err.contains("KAFKA_ZOOKEEPER_CONNECT is required"), "{err}");
        let mut sasl = journal_like();
        sasl.push((
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".into(),
            "PLAINTEXT_INT:SASL_PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT".into(),
        ));
        let err = Config::from_env(sasl)
            .expect_err("sasl without mechanisms refused")
            .to_string();
        assert!(err.contains("the lab serves PLAIN, and SCRAM"), "{err}");
        let mut ssl = journal_like();
        ssl.push((
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".into(),
            "PLAINTEXT_INT:SSL,PLAINTEXT_EXT:PLAINTEXT".into(),
        ));
        let err = Config::from_env(ssl).expect_err("ssl refused").to_string();
        assert!(
            err.contains("replica fetcher speaks PLAINTEXT and SASL_PLAINTEXT only"),
            "{err}"
        );
        let mut ssl_ext = journal_like();
        ssl_ext.push((
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".into(),
            "PLAINTEXT_INT:PLAINTEXT,PLAINTEXT_EXT:SSL".into(),
        ));
        let err = Config::from_env(ssl_ext.clone())
            .expect_err("no keystore")
            .to_string();
        assert!(err.contains("has no keystore"), "{err}");
        ssl_ext.push(("KAFKA_SSL_KEYSTORE_LOCATION".into(), "/s/k.pem".into()));
        let cfg = Config::from_env(ssl_ext).expect("an SSL listener with a keystore");
        assert!(cfg.is_tls("PLAINTEXT_EXT") && !cfg.is_sasl("PLAINTEXT_EXT"));
        assert_eq!(
            cfg.tls.get("PLAINTEXT_EXT").map(|t| t.client_auth),
            Some(crate::tls::ClientAuth::None)
        );
        let mut bad_id = journal_like();
        bad_id.push(("KAFKA_BROKER_ID".into(), "two".into()));
        assert!(
            Config::from_env(bad_id)
                .expect_err("bad id")
                .to_string()
                .contains("broker.id")
        );
        let mut bad_knob = journal_like();
        bad_knob.push(("LAB_SHUTDOWN_DELAY_MS".into(), "-1".into()));
        assert!(
            Config::from_env(bad_knob)
                .expect_err("bad knob")
                .to_string()
                .contains("LAB_SHUTDOWN_DELAY_MS")
        );
    }

    fn journal_sasl(jaas: &std::path::Path) -> Vec<(String, String)> {
        let mut vars = journal_like();
        vars.extend(env(&[
            (
                "KAFKA_LISTENERS",
                "PLAINTEXT_INT://0.0.0.0:29092,SASL_INT://0.0.0.0:29093,PLAINTEXT_EXT://0.0.0.0:27092,SASL_EXT://0.0.0.0:27093",
            ),
            (
                "KAFKA_ADVERTISED_LISTENERS",
                "PLAINTEXT_INT://kafka-02:29092,SASL_INT://kafka-02:29093,PLAINTEXT_EXT://127.0.0.1:27092,SASL_EXT://127.0.0.1:27093",
            ),
            (
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                "PLAINTEXT_INT:PLAINTEXT,SASL_INT:SASL_PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT,SASL_EXT:SASL_PLAINTEXT",
            ),
            ("KAFKA_INTER_BROKER_LISTENER_NAME", "SASL_INT"),
            ("KAFKA_SASL_ENABLED_MECHANISMS", "PLAIN"),
            ("KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL", "PLAIN"),
        ]));
        vars.push((
            "KAFKA_OPTS".into(),
            format!(
                "-Xss1m -Djava.security.auth.login.config={}",
                jaas.display()
            ),
        ));
        vars
    }

    #[test]
    fn the_journal_sasl_listeners_read_the_jaas_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jaas = dir.path().join("KAFKA_JAAS");
        std::fs::write(
            &jaas,
            "KafkaServer {\n org.apache.kafka.common.security.plain.PlainLoginModule required\n username=\"admin\" password=\"s3cret\" user_admin=\"s3cret\" user_kroll=\"k\";\n};\n",
        )
        .expect("jaas");
        let cfg = Config::from_env(journal_sasl(&jaas)).expect("config");
        assert!(cfg.is_sasl("SASL_EXT") && !cfg.is_sasl("PLAINTEXT_EXT"));
        let sasl = cfg.sasl.as_ref().expect("sasl");
        assert_eq!(sasl.listeners.len(), 2);
        let (user, _) = sasl.inter_broker_login.as_ref().expect("login");
        assert_eq!(user, "admin");
        assert!(!format!("{cfg:?}").contains("s3cret"));

        let mut gssapi = journal_sasl(&jaas);
        gssapi.retain(|(k, _)| k != "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL");
        let err = Config::from_env(gssapi).expect_err("gssapi").to_string();
        assert!(
            err.contains("sasl.mechanism.inter.broker.protocol"),
            "{err}"
        );

        let mut no_opts = journal_sasl(&jaas);
        no_opts.retain(|(k, _)| k != "KAFKA_OPTS");
        let err = Config::from_env(no_opts).expect_err("no jaas").to_string();
        assert!(
            err.contains("KAFKA_OPTS") && err.contains("java.security.auth.login.config"),
            "{err}"
        );

        let mut missing = journal_sasl(&jaas);
        missing.push((
            "KAFKA_OPTS".into(),
            "-Djava.security.auth.login.config=/nonexistent/jaas".into(),
        ));
        let err = Config::from_env(missing)
            .expect_err("missing file")
            .to_string();
        assert!(err.contains("/nonexistent/jaas"), "{err}");

        std::fs::write(&jaas, "KafkaServer {\n org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x\";\n};\n").expect("jaas");
        let err = Config::from_env(journal_sasl(&jaas))
            .expect_err("no login")
            .to_string();
        assert!(err.contains("inter-broker listener SASL_INT"), "{err}");
    }
}
