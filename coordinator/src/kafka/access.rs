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
use std::path::{Path, PathBuf};
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

/// The TLS trust and identity of kroll's clients (SSL / SASL_SSL).
#[derive(Clone, Debug, Default)]
struct Tls {
    /// The only CAs trusted; `None`: the system's roots.
    ca: Option<PathBuf>,
    /// The client certificate and its key, for brokers that require mutual TLS.
    identity: Option<(PathBuf, PathBuf)>,
    /// The principal Kafka's default SSL principal builder makes of the client certificate
    /// (`User:CN=…`), when it could be read.
    subject: Option<String>,
}

/// Protocol, TLS and login of kroll's Kafka clients, read once from the inventory.
#[derive(Clone, Default)]
pub struct KafkaSecurity {
    protocol: SecurityProtocol,
    tls: Option<Tls>,
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
        let tls = access.security_protocol.tls().then(|| {
            let identity = access.cert_file.clone().zip(access.key_file.clone());
            let subject = identity
                .as_ref()
                .and_then(|(cert, _)| certificate_principal(cert));
            Tls {
                ca: access.ca_file.clone(),
                identity,
                subject,
            }
        });
        Ok(Self {
            protocol: access.security_protocol,
            tls,
            login,
        })
    }

    /// The principal Kafka's authorizer sees for kroll: `User:<username>` with SASL; on SSL,
    /// the client certificate's subject as Kafka's default principal builder writes it
    /// (`User:CN=kroll`); `User:ANONYMOUS` otherwise. (Brokers with
    /// `ssl.principal.mapping.rules` map the subject further.)
    pub fn principal(&self) -> String {
        match (
            &self.login,
            self.tls.as_ref().and_then(|t| t.subject.as_ref()),
        ) {
            (Some(l), _) => format!("User:{}", l.username),
            (None, Some(subject)) => format!("User:{subject}"),
            (None, None) => "User:ANONYMOUS".to_owned(),
        }
    }

    /// How kroll connects, for messages: `SASL_SSL, SCRAM-SHA-512 as `kroll``, `SSL as CN=kroll`.
    pub fn describe(&self) -> String {
        match (
            &self.login,
            self.tls.as_ref().and_then(|t| t.subject.as_ref()),
        ) {
            (Some(l), _) => format!("{}, {} as `{}`", self.protocol, l.mechanism, l.username),
            (None, Some(subject)) => format!("{} as {subject}", self.protocol),
            (None, None) => self.protocol.to_string(),
        }
    }

    /// Writes the security settings into a librdkafka configuration.
    fn apply(&self, config: &mut ClientConfig) {
        config.set("security.protocol", self.protocol.name());
        if let Some(tls) = &self.tls {
            // librdkafka's default since 2.0, set so no build or version can weaken it: the
            // brokers' certificates must be valid for the address kroll dials.
            config
                .set("enable.ssl.certificate.verification", "true")
                .set("ssl.endpoint.identification.algorithm", "https");
            if let Some(ca) = &tls.ca {
                config.set("ssl.ca.location", ca.display().to_string());
            }
            if let Some((cert, key)) = &tls.identity {
                config
                    .set("ssl.certificate.location", cert.display().to_string())
                    .set("ssl.key.location", key.display().to_string());
            }
        }
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

impl KafkaSecurity {
    /// What kroll should say about a failure librdkafka explained.
    pub fn refused(&self, failure: &Refused) -> String {
        match failure {
            Refused::Login(reason) => self.login_refused(reason),
            Refused::Tls(reason) => self.tls_refused(reason),
            Refused::Protocol(reason) => format!(
                "the brokers closed the connection at kroll's first request ({}): {reason}; a listener of another protocol does that (TLS read as plaintext, or the reverse): set [kafka] `security_protocol` to the protocol of the listener `kafka_bootstrap` names",
                self.describe()
            ),
        }
    }

    /// What a failed TLS handshake means, in words. `reason` is librdkafka's (OpenSSL's).
    pub fn tls_refused(&self, reason: &str) -> String {
        let lower = reason.to_ascii_lowercase();
        let trusted = match self.tls.as_ref().and_then(|t| t.ca.as_ref()) {
            Some(ca) => format!("the CAs of {} ([kafka] `ca_file`)", ca.display()),
            None => "the system's roots (a private CA goes in [kafka] `ca_file`)".to_owned(),
        };
        let meaning = if lower.contains("hostname mismatch")
            || lower.contains("ip address mismatch")
        {
            "the brokers' certificate is not valid for the address kroll dialled: list the brokers in [cluster] `kafka_bootstrap` by a name or address their certificate holds".to_owned()
        } else if lower.contains("certificate verify failed") {
            format!(
                "the brokers' certificate is not trusted: kroll trusts {trusted}, and checks that the certificate is valid for the address in [cluster] `kafka_bootstrap`"
            )
        } else if [
            "certificate required",
            "bad certificate",
            "unknown ca",
            "certificate unknown",
            "handshake failure",
            "access denied",
        ]
        .iter()
        .any(|alert| lower.contains(alert))
        {
            match self.tls.as_ref().and_then(|t| t.identity.as_ref()) {
                Some((cert, _)) => format!(
                    "the brokers refused kroll's client certificate {} ([kafka] `cert_file`): is it signed by a CA they trust (ssl.truststore)?",
                    cert.display()
                ),
                None => "the brokers require a client certificate: set [kafka] `cert_file` and `key_file`".to_owned(),
            }
        } else if lower.contains("wrong version number")
            || lower.contains("record layer failure")
            || lower.contains("packet length too long")
        {
            "the brokers do not speak TLS there: is [cluster] `kafka_bootstrap` a PLAINTEXT or SASL_PLAINTEXT listener?".to_owned()
        } else {
            "check the brokers' certificates and [kafka] `ca_file`, `cert_file`, `key_file`"
                .to_owned()
        };
        format!(
            "the TLS handshake with Kafka failed ({}): {reason}; {meaning}",
            self.describe()
        )
    }
}

/// The principal Kafka's default SSL principal builder makes of the certificate in `path`:
/// its subject in RFC 2253 form (`CN=kroll,O=ops`), as `X500Principal.getName()` writes it.
/// `None` when the file cannot be read as a certificate (librdkafka then names the file).
fn certificate_principal(path: &Path) -> Option<String> {
    let pem = std::fs::read_to_string(path).ok()?;
    let der = kroll_shared::tls::first_cert_der(&pem)?;
    kroll_shared::tls::subject_rfc2253(&der).ok()
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
            .set("enable.partition.eof", "false");
        // Up to info, whatever kroll's own log level (rdkafka would take that of the `log`
        // crate, and it overrides a `log_level` setting): librdkafka says a listener closed the
        // connection at the first request — the sign of a protocol mismatch — at info. The
        // lines go to `Refusals` and to kroll's debug log only.
        config.set_log_level(rdkafka::config::RDKafkaLogLevel::Info);
        self.security.apply(&mut config);
        config
    }
}

/// A failure librdkafka explained: the call that failed only says it timed out or found no
/// broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A refused SASL login (`SASL authentication error: …`).
    Login(String),
    /// A failed TLS handshake (`SSL handshake failed: …`).
    Tls(String),
    /// The listener speaks another protocol (librdkafka's "incorrect security.protocol").
    Protocol(String),
}

impl Refused {
    /// The failure a librdkafka log line or error reports, from where its words start (a log
    /// line begins with the thread and the broker's address).
    fn in_line(line: &str) -> Option<Self> {
        if let Some(at) = line.find("SASL authentication error") {
            return Some(Self::Login(line[at..].to_owned()));
        }
        if let Some(at) = line.find("SSL handshake failed") {
            return Some(Self::Tls(line[at..].to_owned()));
        }
        // A TLS 1.3 server refuses a client certificate after the handshake: the alert comes
        // with the first read (`Receive failed: … tlsv13 alert certificate required`).
        if line.contains("SSL routines::") || line.contains("SSL alert number") {
            let at = ["Receive failed", "Send failed", "SSL"]
                .iter()
                .find_map(|w| line.find(w))
                .unwrap_or(0);
            return Some(Self::Tls(line[at..].to_owned()));
        }
        // Closed at the very first request: a TLS listener read kroll's plaintext (older
        // librdkafka adds "might be caused by incorrect security.protocol").
        if line.contains("incorrect security.protocol")
            || (line.contains("Disconnected") && line.contains("in state APIVERSION_QUERY"))
        {
            let at = line.find("Disconnected").unwrap_or(0);
            return Some(Self::Protocol(line[at..].to_owned()));
        }
        None
    }
}

/// How long a refusal explains a failure: a broker that closed a connection while it
/// restarted, minutes ago, says nothing about why a read fails now.
const REFUSAL_FRESH: std::time::Duration = std::time::Duration::from_secs(30);

/// The client context of kroll's Kafka clients: it keeps the last refusal librdkafka
/// explained — a login, a TLS handshake, a protocol mismatch — and when. It arrives on the
/// error callback, which runs only when a client is polled, and as a log line, which
/// librdkafka's own threads deliver at once: both are read.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Option<(std::time::Instant, Refused)>>>);

impl Refusals {
    /// The last refusal seen in the last 30 seconds, if any.
    pub fn failure(&self) -> Option<Refused> {
        self.0
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .filter(|(at, _)| at.elapsed() <= REFUSAL_FRESH)
            .map(|(_, refused)| refused)
    }
}

impl Refusals {
    fn keep(&self, refused: Refused) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some((std::time::Instant::now(), refused));
        }
    }
}

impl ClientContext for Refusals {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, line: &str) {
        // librdkafka's own words (`KROLL_LOG=debug`); it never logs a password.
        tracing::debug!(target: "kroll::kafka::librdkafka", ?level, fac, "{line}");
        if let Some(refused) = Refused::in_line(line) {
            self.keep(refused);
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if let Some(refused) = Refused::in_line(reason) {
            self.keep(refused);
        } else if matches!(
            code,
            Some(Code::Authentication | Code::SaslAuthenticationFailed)
        ) {
            self.keep(Refused::Login(reason.to_owned()));
        } else if matches!(code, Some(Code::SSL)) {
            self.keep(Refused::Tls(reason.to_owned()));
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
            tls: None,
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
        assert!(matches!(
            config.log_level,
            rdkafka::config::RDKafkaLogLevel::Info
        ));
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
    fn refusals_are_found_in_librdkafkas_log_lines() {
        let line = "[thrd:sasl_plaintext://127.0.0.1:26091/bootstrap]: sasl_plaintext://127.0.0.1:26091/bootstrap: SASL authentication error: Authentication failed: Invalid username or password (after 3ms in state AUTH_REQ)";
        assert_eq!(
            Refused::in_line(line),
            Some(Refused::Login(
                "SASL authentication error: Authentication failed: Invalid username or password (after 3ms in state AUTH_REQ)".into()
            ))
        );
        let tls = "[thrd:ssl://127.0.0.1:26093/bootstrap]: ssl://127.0.0.1:26093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package) (after 4ms in state SSL_HANDSHAKE)";
        assert!(matches!(
            Refused::in_line(tls),
            Some(Refused::Tls(r)) if r.starts_with("SSL handshake failed: error:0A000086")
        ));
        let protocol = "[thrd:127.0.0.1:26093/bootstrap]: 127.0.0.1:26093/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see api.version.request) (after 2ms in state APIVERSION_QUERY)";
        assert!(matches!(
            Refused::in_line(protocol),
            Some(Refused::Protocol(r)) if r.starts_with("Disconnected while requesting ApiVersion")
        ));
        // librdkafka 2.12's words for the same, and for a certificate refused after a TLS 1.3
        // handshake.
        let closed = "[thrd:127.0.0.1:31324/bootstrap]: 127.0.0.1:31324/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 2ms in state APIVERSION_QUERY)";
        assert!(matches!(
            Refused::in_line(closed),
            Some(Refused::Protocol(r)) if r.starts_with("Disconnected: connection closed by peer")
        ));
        let alert = "[thrd:ssl://127.0.0.1:31323/bootstrap]: ssl://127.0.0.1:31323/bootstrap: Receive failed: ../ssl/record/rec_layer_s3.c:1601:ssl3_read_bytes error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116 (after 0ms in state APIVERSION_QUERY)";
        assert!(matches!(
            Refused::in_line(alert),
            Some(Refused::Tls(r)) if r.starts_with("Receive failed: ") && r.contains("certificate required")
        ));
        // A broker that went away once it was up is none of these.
        assert_eq!(
            Refused::in_line("[thrd:b:9092/1]: b:9092/1: Disconnected (after 5012ms in state UP)"),
            None
        );
        assert_eq!(
            Refused::in_line("Connect to ipv4#127.0.0.1:1 failed: Connection refused"),
            None
        );
        let refusals = Refusals::default();
        refusals.log(rdkafka::config::RDKafkaLogLevel::Error, "FAIL", line);
        assert!(matches!(refusals.failure(), Some(Refused::Login(_))));
        refusals.log(rdkafka::config::RDKafkaLogLevel::Error, "FAIL", tls);
        assert!(matches!(refusals.failure(), Some(Refused::Tls(_))));
        // An old refusal explains nothing.
        if let Ok(mut last) = refusals.0.lock() {
            let old = std::time::Instant::now()
                .checked_sub(REFUSAL_FRESH + std::time::Duration::from_secs(1));
            if let (Some(old), Some((at, _))) = (old, last.as_mut()) {
                *at = old;
            }
        }
        assert_eq!(refusals.failure(), None);
    }

    fn tls(ca: Option<&str>, identity: bool) -> KafkaSecurity {
        KafkaSecurity {
            protocol: SecurityProtocol::Ssl,
            tls: Some(Tls {
                ca: ca.map(PathBuf::from),
                identity: identity.then(|| {
                    (
                        "/etc/kroll/kroll.pem".into(),
                        "/etc/kroll/kroll-key.pem".into(),
                    )
                }),
                subject: identity.then(|| "CN=kroll".to_owned()),
            }),
            login: None,
        }
    }

    #[test]
    fn tls_settings_reach_librdkafka_and_failures_are_put_in_words() {
        let mtls = tls(Some("/etc/kroll/kafka-ca.pem"), true);
        let config = KafkaConnection::new(&["b:9093".into()], mtls.clone()).observer_config("");
        assert_eq!(config.get("security.protocol"), Some("SSL"));
        assert_eq!(
            config.get("ssl.ca.location"),
            Some("/etc/kroll/kafka-ca.pem")
        );
        assert_eq!(
            config.get("ssl.certificate.location"),
            Some("/etc/kroll/kroll.pem")
        );
        assert_eq!(
            config.get("ssl.key.location"),
            Some("/etc/kroll/kroll-key.pem")
        );
        assert_eq!(
            config.get("ssl.endpoint.identification.algorithm"),
            Some("https")
        );
        assert_eq!(
            config.get("enable.ssl.certificate.verification"),
            Some("true")
        );
        assert_eq!(config.get("sasl.username"), None);
        assert_eq!(mtls.principal(), "User:CN=kroll");
        assert_eq!(mtls.describe(), "SSL as CN=kroll");

        let roots = tls(None, false);
        let config = KafkaConnection::new(&["b:9093".into()], roots.clone()).observer_config("");
        assert_eq!(config.get("ssl.ca.location"), None, "the system's roots");
        assert_eq!(roots.principal(), "User:ANONYMOUS");

        let cases = [
            (
                &mtls,
                "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified",
                "the brokers' certificate is not trusted: kroll trusts the CAs of /etc/kroll/kafka-ca.pem ([kafka] `ca_file`)",
            ),
            (
                &roots,
                "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed",
                "kroll trusts the system's roots (a private CA goes in [kafka] `ca_file`)",
            ),
            (
                &roots,
                "SSL handshake failed: certificate verify failed: Hostname mismatch",
                "not valid for the address kroll dialled",
            ),
            (
                &roots,
                "SSL handshake failed: error:0A00045C:SSL routines::tlsv13 alert certificate required",
                "the brokers require a client certificate: set [kafka] `cert_file` and `key_file`",
            ),
            (
                &mtls,
                "SSL handshake failed: error:0A000418:SSL routines::tlsv1 alert unknown ca",
                "the brokers refused kroll's client certificate /etc/kroll/kroll.pem ([kafka] `cert_file`)",
            ),
            (
                &roots,
                "SSL handshake failed: error:0A00010B:SSL routines::wrong version number",
                "the brokers do not speak TLS there",
            ),
        ];
        for (security, reason, says) in cases {
            let text = security.refused(&Refused::Tls(reason.into()));
            assert!(
                text.starts_with("the TLS handshake with Kafka failed (SSL"),
                "{text}"
            );
            assert!(text.contains(reason), "{text}");
            assert!(text.contains(says), "{reason}: {text}");
        }
    }

    #[test]
    fn a_certificates_subject_is_named_as_kafkas_principal_builder_names_it() {
        let ca = kroll_shared::tls::generate_ca("kafka", kroll_shared::tls::Validity::default())
            .expect("CA");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, &ca.cert_pem).expect("write");
        // The subject is written CN then O: RFC 2253 names the last RDN first.
        assert_eq!(
            certificate_principal(&path).as_deref(),
            Some("O=kroll,CN=kroll cluster CA kafka")
        );
        assert_eq!(certificate_principal(&dir.path().join("absent.pem")), None);
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
