//! How every Kafka client kroll makes connects (the inventory's `[kafka]`), and what a refusal
//! by Kafka means, said in words: a login refused names the user and where its password came
//! from; an operation an ACL refuses names the principal, the operation and the resource, with
//! the `kafka-acls` grant that would allow it.
//!
//! [`KafkaConnection`] is the one place a `ClientConfig` is built, so the gates' admin client,
//! the lag and offset readers and the key sampler all log in the same way. The password goes
//! into librdkafka's configuration and nowhere else:
//! [`KafkaConnection`]'s `Debug` shows none, and no `ClientConfig` is ever printed.

use std::fmt;
use std::sync::{Arc, Mutex};

use kroll_shared::kafka_access::{KafkaAccess, SaslMechanism, SecurityProtocol};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::types::RDKafkaErrorCode as Code;

use crate::secret::{self, PasswordSource, Secret, SecretError};

/// The SASL login of kroll's clients.
#[derive(Clone)]
struct Login {
    mechanism: SaslMechanism,
    username: String,
    password: Secret,
    /// Where the password came from, for a refused login's message.
    source: PasswordSource,
}

/// Protocol and login of kroll's Kafka clients, read once from the inventory. (TLS is refused
/// by the inventory's validation until librdkafka is built with it.)
#[derive(Clone, Default)]
pub struct KafkaSecurity {
    protocol: SecurityProtocol,
    login: Option<Login>,
}

impl fmt::Debug for KafkaSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl KafkaSecurity {
    /// PLAINTEXT, no login: Kafka's default.
    pub fn plaintext() -> Self {
        Self::default()
    }

    /// Reads the password `[kafka]` names (absent: PLAINTEXT). A file or variable that cannot
    /// be read is named with its key; no value is ever in the error.
    pub fn from_inventory(access: Option<&KafkaAccess>) -> Result<Self, SecretError> {
        let Some(access) = access else {
            return Ok(Self::plaintext());
        };
        let login = match (
            access.security_protocol.sasl(),
            access.sasl_mechanism,
            &access.username,
            access.password_source(),
        ) {
            (true, Some(mechanism), Some(username), Some(source)) => Some(Login {
                mechanism,
                username: username.clone(),
                password: secret::read("[kafka]", &source)?,
                source,
            }),
            _ => None,
        };
        Ok(Self {
            protocol: access.security_protocol,
            login,
        })
    }

    /// The principal Kafka's authorizer sees for kroll: `User:<username>` with SASL,
    /// `User:ANONYMOUS` on PLAINTEXT.
    pub fn principal(&self) -> String {
        match &self.login {
            Some(l) => format!("User:{}", l.username),
            None => "User:ANONYMOUS".to_owned(),
        }
    }

    /// How kroll connects, for messages: `SASL_PLAINTEXT, PLAIN as `kroll``.
    pub fn describe(&self) -> String {
        match &self.login {
            Some(l) => format!("{}, {} as `{}`", self.protocol, l.mechanism, l.username),
            None => self.protocol.to_string(),
        }
    }

    /// Writes the security settings into a librdkafka configuration.
    fn apply(&self, config: &mut ClientConfig) {
        config.set("security.protocol", self.protocol.name());
        if let Some(l) = &self.login {
            config
                .set("sasl.mechanism", l.mechanism.name())
                .set("sasl.username", &l.username)
                .set("sasl.password", l.password.expose());
        }
    }

    /// What a refused login means: the user, how kroll connected and where the password came
    /// from. `reason` is librdkafka's (it never holds the password).
    pub fn login_refused(&self, reason: &str) -> String {
        match &self.login {
            Some(l) => {
                let from = match &l.source {
                    PasswordSource::File(p) => {
                        format!("the password in {} ([kafka] `password_file`)", p.display())
                    }
                    PasswordSource::Env(v) => {
                        format!("the password in `${v}` ([kafka] `password_env`)")
                    }
                };
                format!(
                    "Kafka refused kroll's login as `{}` ({}): {reason}; check [kafka] `username` and {from}",
                    l.username,
                    self.describe()
                )
            }
            None => format!(
                "Kafka refused kroll's connection ({}): {reason}; if the brokers require a login, set [kafka] `security_protocol`, `sasl_mechanism`, `username` and `password_file`",
                self.describe()
            ),
        }
    }
}

/// A resource an ACL guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Cluster,
    Topic(String),
    Group(String),
}

impl Resource {
    /// The resource as `kafka-acls` names it on its command line.
    pub(crate) fn acls_flag(&self) -> String {
        match self {
            Self::Cluster => "--cluster".to_owned(),
            Self::Topic(t) => format!("--topic '{t}'"),
            Self::Group(g) => format!("--group '{g}'"),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cluster => f.write_str("the cluster"),
            Self::Topic(t) => write!(f, "topic `{t}`"),
            Self::Group(g) => write!(f, "group `{g}`"),
        }
    }
}

/// The words for an operation Kafka refused with an authorization error, or `None` when `code`
/// is not one. `operation` is the ACL operation kroll needed (`Describe`, `DescribeConfigs`,
/// `Read`), `resource` what it was asked on; the resource the code names wins (a
/// GROUP_AUTHORIZATION_FAILED is about the group even when kroll was reading a topic).
pub fn acl_refusal(
    code: Code,
    principal: &str,
    operation: &str,
    resource: &Resource,
    why: &str,
) -> Option<String> {
    let resource = match (code, resource) {
        (Code::TopicAuthorizationFailed, Resource::Topic(_))
        | (Code::GroupAuthorizationFailed, Resource::Group(_))
        | (Code::ClusterAuthorizationFailed, Resource::Cluster) => resource.clone(),
        (Code::ClusterAuthorizationFailed, _) => Resource::Cluster,
        (Code::TopicAuthorizationFailed | Code::GroupAuthorizationFailed, _) => resource.clone(),
        _ => return None,
    };
    Some(format!(
        "Kafka refused {operation} on {resource} to {principal} (no ACL allows it; kroll needs it {why}): grant it with `kafka-acls --bootstrap-server … --add --allow-principal {principal} --operation {operation} {}`",
        resource.acls_flag()
    ))
}

/// A connection to one cluster: its bootstrap servers and how to log in.
#[derive(Clone)]
pub struct KafkaConnection {
    bootstrap: String,
    security: Arc<KafkaSecurity>,
}

impl fmt::Debug for KafkaConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kafka at {} ({:?})", self.bootstrap, self.security)
    }
}

impl KafkaConnection {
    /// `bootstrap` as `[cluster] kafka_bootstrap` lists it.
    pub fn new(bootstrap: &[String], security: KafkaSecurity) -> Self {
        Self {
            bootstrap: bootstrap.join(","),
            security: Arc::new(security),
        }
    }

    /// The inventory's cluster: `[cluster] kafka_bootstrap` and `[kafka]`.
    pub fn from_inventory(
        inventory: &kroll_shared::inventory::Inventory,
    ) -> Result<Self, SecretError> {
        Ok(Self::new(
            &inventory.cluster.kafka_bootstrap,
            KafkaSecurity::from_inventory(inventory.kafka.as_ref())?,
        ))
    }

    /// The bootstrap servers, comma-separated.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn security(&self) -> &KafkaSecurity {
        &self.security
    }

    /// A consumer configuration that never commits, never joins a group and never creates
    /// topics (`group`: the group id whose offsets it reads; also used for admin clients).
    pub fn observer_config(&self, group: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", group)
            .set("client.id", "kroll")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("allow.auto.create.topics", "false")
            .set("enable.partition.eof", "false")
            .set("log_level", "3");
        self.security.apply(&mut config);
        config
    }
}

/// The client context of kroll's Kafka clients: it keeps the last authentication failure
/// librdkafka reported (the call that failed only says it timed out or found no broker). It
/// arrives on the error callback, which runs only when a client is polled, and as an error log
/// line, which librdkafka's own threads deliver at once: both are read.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Option<String>>>);

impl Refusals {
    /// The last authentication failure seen, if any.
    pub fn login_failure(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

impl Refusals {
    fn keep(&self, reason: &str) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(reason.to_owned());
        }
    }
}

/// librdkafka's words for a refused login, from where they start in a log line (which begins
/// with the thread and the broker's address).
fn login_failure_in(line: &str) -> Option<&str> {
    line.find("SASL authentication error").map(|at| &line[at..])
}

impl ClientContext for Refusals {
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, _fac: &str, line: &str) {
        if let Some(reason) = login_failure_in(line) {
            self.keep(reason);
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if let Some(reason) = login_failure_in(reason) {
            self.keep(reason);
        } else if matches!(
            code,
            Some(Code::Authentication | Code::SaslAuthenticationFailed)
        ) {
            self.keep(reason);
        }
    }
}

impl ConsumerContext for Refusals {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sasl(source: PasswordSource) -> KafkaSecurity {
        KafkaSecurity {
            protocol: SecurityProtocol::SaslPlaintext,
            login: Some(Login {
                mechanism: SaslMechanism::Plain,
                username: "kroll".into(),
                password: Secret::new("hunter2".into()),
                source,
            }),
        }
    }

    #[test]
    fn the_configuration_carries_the_login_and_nothing_shows_the_password() {
        let security = sasl(PasswordSource::File("/run/secrets/kafka-pw".into()));
        let connection = KafkaConnection::new(&["b1:9092".into(), "b2:9092".into()], security);
        let config = connection.observer_config("g");
        assert_eq!(config.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
        assert_eq!(config.get("security.protocol"), Some("SASL_PLAINTEXT"));
        assert_eq!(config.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(config.get("sasl.username"), Some("kroll"));
        assert_eq!(config.get("sasl.password"), Some("hunter2"));
        assert_eq!(config.get("group.id"), Some("g"));
        let shown = format!("{connection:?}");
        assert_eq!(
            shown,
            "Kafka at b1:9092,b2:9092 (SASL_PLAINTEXT, PLAIN as `kroll`)"
        );
        let refused = connection
            .security()
            .login_refused("SASL authentication error: Authentication failed");
        assert!(!refused.contains("hunter2"), "{refused}");
        assert!(
            refused.contains("Kafka refused kroll's login as `kroll` (SASL_PLAINTEXT, PLAIN as `kroll`): SASL authentication error: Authentication failed; check [kafka] `username` and the password in /run/secrets/kafka-pw ([kafka] `password_file`)"),
            "{refused}"
        );
        let env = sasl(PasswordSource::Env("KAFKA_PW".into()));
        assert!(
            env.login_refused("x")
                .contains("the password in `$KAFKA_PW` ([kafka] `password_env`)")
        );
        assert_eq!(env.principal(), "User:kroll");
    }

    #[test]
    fn a_refused_login_is_found_in_librdkafkas_log_lines() {
        let line = "[thrd:sasl_plaintext://127.0.0.1:26091/bootstrap]: sasl_plaintext://127.0.0.1:26091/bootstrap: SASL authentication error: Authentication failed: Invalid username or password (after 3ms in state AUTH_REQ)";
        assert_eq!(
            login_failure_in(line),
            Some(
                "SASL authentication error: Authentication failed: Invalid username or password (after 3ms in state AUTH_REQ)"
            )
        );
        assert_eq!(
            login_failure_in("Connect to ipv4#127.0.0.1:1 failed: Connection refused"),
            None
        );
        let refusals = Refusals::default();
        refusals.log(rdkafka::config::RDKafkaLogLevel::Error, "FAIL", line);
        assert!(
            refusals
                .login_failure()
                .is_some_and(|f| f.starts_with("SASL authentication error"))
        );
    }

    #[test]
    fn plaintext_sets_no_login_and_names_anonymous() {
        let plain = KafkaConnection::new(&["b:9092".into()], KafkaSecurity::plaintext());
        let config = plain.observer_config("");
        assert_eq!(config.get("security.protocol"), Some("PLAINTEXT"));
        assert_eq!(config.get("sasl.username"), None);
        assert_eq!(plain.security().principal(), "User:ANONYMOUS");
        assert!(
            plain
                .security()
                .login_refused("r")
                .contains("if the brokers require a login, set [kafka]")
        );
    }

    #[test]
    fn authorization_errors_name_principal_operation_resource_and_the_grant() {
        let topic = Resource::Topic("orders".into());
        let group = Resource::Group("connect-sink".into());
        let cases = [
            (
                Code::TopicAuthorizationFailed,
                "DescribeConfigs",
                &topic,
                Some(
                    "Kafka refused DescribeConfigs on topic `orders` to User:kroll (no ACL allows it; kroll needs it to read min.insync.replicas): grant it with `kafka-acls --bootstrap-server … --add --allow-principal User:kroll --operation DescribeConfigs --topic 'orders'`",
                ),
            ),
            (
                Code::GroupAuthorizationFailed,
                "Describe",
                &group,
                Some(
                    "Kafka refused Describe on group `connect-sink` to User:kroll (no ACL allows it; kroll needs it to read min.insync.replicas): grant it with `kafka-acls --bootstrap-server … --add --allow-principal User:kroll --operation Describe --group 'connect-sink'`",
                ),
            ),
            (
                Code::ClusterAuthorizationFailed,
                "Describe",
                &topic,
                Some(
                    "Kafka refused Describe on the cluster to User:kroll (no ACL allows it; kroll needs it to read min.insync.replicas): grant it with `kafka-acls --bootstrap-server … --add --allow-principal User:kroll --operation Describe --cluster`",
                ),
            ),
            (Code::UnknownTopicOrPartition, "Describe", &topic, None),
            (Code::RequestTimedOut, "Describe", &topic, None),
        ];
        for (code, op, resource, expected) in cases {
            assert_eq!(
                acl_refusal(
                    code,
                    "User:kroll",
                    op,
                    resource,
                    "to read min.insync.replicas"
                )
                .as_deref(),
                expected,
                "{code:?}"
            );
        }
    }
}
