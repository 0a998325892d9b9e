//! How the coordinator reaches Kafka: the inventory's `[kafka]` section. Every Kafka client
//! kroll makes (the gates' topic configs, Connect sinks' lag, end offsets, key samples) uses it;
//! the brokers' addresses stay in `[cluster] kafka_bootstrap`.
//!
//! ```toml
//! [kafka]
//! security_protocol = "SASL_SSL"         # PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
//! sasl_mechanism = "SCRAM-SHA-512"       # SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//! username = "kroll"
//! password_file = "/run/secrets/kroll-kafka-password"   # or password_env = "KROLL_KAFKA_PASSWORD"
//! ca_file = "certs/kafka-ca.pem"         # SSL / SASL_SSL: trust only this CA bundle (else the system's)
//! cert_file = "certs/kroll-kafka.pem"    # SSL / SASL_SSL: client certificate for mutual TLS …
//! key_file = "certs/kroll-kafka-key.pem" # … and its key (both or neither)
//! ```
//!
//! With TLS, kroll checks the brokers' certificates against `ca_file` (or the system's roots)
//! and that they are valid for the address it dials, as Kafka clients do by default
//! (`ssl.endpoint.identification.algorithm=https`). On SSL without SASL, kroll's principal is
//! its client certificate's subject (`User:CN=…`), or `User:ANONYMOUS` without one.
//!
//! As in `[connect]`, a password is never written in the inventory: an inline `password` is
//! refused unread. Settings that the chosen protocol would ignore are refused too, so an
//! operator who wrote `username` under PLAINTEXT learns that kroll is not logging in.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Document, KeyPath};
use crate::rest_access::{
    PasswordSource, check_key_pair, check_password_keys, password_source, resolve_each,
};

/// Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityProtocol {
    #[default]
    #[serde(rename = "PLAINTEXT")]
    Plaintext,
    #[serde(rename = "SSL")]
    Ssl,
    #[serde(rename = "SASL_PLAINTEXT")]
    SaslPlaintext,
    #[serde(rename = "SASL_SSL")]
    SaslSsl,
}

impl SecurityProtocol {
    /// The name Kafka and librdkafka use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the client logs in with SASL.
    pub fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    /// Whether the connection is TLS.
    pub fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kafka's `sasl.mechanism`, among those kroll logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The name Kafka and librdkafka use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[kafka]`: the protocol, SASL login and TLS trust of kroll's Kafka clients.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaAccess {
    #[serde(default)]
    pub security_protocol: SecurityProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user; kroll's principal is `User:<username>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A file whose content (trailing newline trimmed) is the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An environment variable of the coordinator's process that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// An inline password: accepted by the parser only to be refused by name, never kept.
    #[serde(default, skip_serializing)]
    pub password: Option<serde::de::IgnoredAny>,
    /// A PEM bundle of CA certificates, the only roots trusted (SSL / SASL_SSL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// A PEM client certificate for brokers that require mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of `cert_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

impl KafkaAccess {
    /// Where the password comes from, when one is configured.
    pub fn password_source(&self) -> Option<PasswordSource> {
        password_source(&self.password_file, &self.password_env)
    }

    /// Checks the section's shape; `at` is its key (`kafka`).
    pub fn validate(&self, doc: &Document, at: &KeyPath) -> Result<(), ConfigError> {
        check_password_keys(
            doc,
            at,
            self.password.is_some(),
            &self.password_file,
            &self.password_env,
        )?;
        let protocol = self.security_protocol;
        if protocol.sasl() {
            if self.sasl_mechanism.is_none() {
                return Err(doc.invalid(
                    &at.key("sasl_mechanism"),
                    format!(
                        "{protocol} needs a `sasl_mechanism`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (the brokers' sasl.enabled.mechanisms)"
                    ),
                ));
            }
            match &self.username {
                None => {
                    return Err(doc.invalid(
                        &at.key("username"),
                        format!("{protocol} needs the `username` kroll logs in as"),
                    ));
                }
                Some(u) if u.is_empty() || u.chars().any(char::is_control) => {
                    return Err(doc.invalid(
                        &at.key("username"),
                        "must not be empty nor hold control characters",
                    ));
                }
                Some(_) => {}
            }
            if self.password_source().is_none() {
                return Err(doc.invalid(
                    &at.key("username"),
                    "a username needs a password: add `password_file` or `password_env`",
                ));
            }
        } else {
            let login_keys = [
                ("sasl_mechanism", self.sasl_mechanism.is_some()),
                ("username", self.username.is_some()),
                ("password_file", self.password_file.is_some()),
                ("password_env", self.password_env.is_some()),
            ];
            if let Some((key, _)) = login_keys.iter().find(|(_, set)| *set) {
                return Err(doc.invalid(
                    &at.key(key),
                    format!(
                        "is used only with security_protocol SASL_PLAINTEXT or SASL_SSL; with {protocol} kroll would not log in"
                    ),
                ));
            }
        }
        if !protocol.tls() {
            let tls_keys = [
                ("ca_file", self.ca_file.is_some()),
                ("cert_file", self.cert_file.is_some()),
                ("key_file", self.key_file.is_some()),
            ];
            if let Some((key, _)) = tls_keys.iter().find(|(_, set)| *set) {
                return Err(doc.invalid(
                    &at.key(key),
                    format!(
                        "is used only with security_protocol SSL or SASL_SSL; with {protocol} the connection is not TLS"
                    ),
                ));
            }
        }
        check_key_pair(doc, at, &self.cert_file, &self.key_file)
    }

    /// Resolves the section's paths against the inventory's directory.
    pub fn resolve_paths(&mut self, doc: &Document) {
        resolve_each(
            doc,
            [
                &mut self.ca_file,
                &mut self.cert_file,
                &mut self.key_file,
                &mut self.password_file,
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(section: &str) -> Result<KafkaAccess, ConfigError> {
        crate::rest_access::load_section("kafka", section, |a: &mut KafkaAccess, doc, at| {
            a.validate(doc, at)?;
            a.resolve_paths(doc);
            Ok(())
        })
    }

    #[test]
    fn each_protocol_loads_with_what_it_uses() {
        assert_eq!(check("").expect("empty"), KafkaAccess::default());
        let sasl = check(
            "security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\nusername = \"kroll\"\npassword_file = \"kafka-pw\"\n",
        )
        .expect("SASL_PLAINTEXT");
        assert_eq!(sasl.security_protocol, SecurityProtocol::SaslPlaintext);
        assert_eq!(sasl.sasl_mechanism, Some(SaslMechanism::Plain));
        assert_eq!(
            sasl.password_source(),
            Some(PasswordSource::File("/etc/kroll/kafka-pw".into()))
        );
        let scram = check(
            "security_protocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-512\"\nusername = \"kroll\"\npassword_env = \"KAFKA_PW\"\nca_file = \"certs/ca.pem\"\n",
        )
        .expect("SASL_SSL with SCRAM");
        assert_eq!(scram.security_protocol, SecurityProtocol::SaslSsl);
        assert_eq!(scram.sasl_mechanism, Some(SaslMechanism::ScramSha512));
        assert_eq!(scram.ca_file, Some("/etc/kroll/certs/ca.pem".into()));
        assert_eq!(scram.cert_file, None);
        let mtls = check(
            "security_protocol = \"SSL\"\ncert_file = \"kroll.pem\"\nkey_file = \"kroll-key.pem\"\n",
        )
        .expect("SSL with a client certificate and the system's roots");
        assert_eq!(mtls.security_protocol, SecurityProtocol::Ssl);
        assert_eq!(mtls.ca_file, None);
        assert_eq!(mtls.key_file, Some("/etc/kroll/kroll-key.pem".into()));
    }

    #[test]
    fn mistakes_are_named_by_key_and_an_inline_password_is_never_echoed() {
        let login = "sasl_mechanism = \"PLAIN\"\nusername = \"kroll\"\npassword_env = \"E\"\n";
        let cases = [
            (
                "security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\nusername = \"kroll\"\npassword = \"hunter2\"\n".to_owned(),
                "kafka.password",
                "an inline password is refused",
            ),
            (
                "security_protocol = \"SASL_PLAIN\"\n".to_owned(),
                "kafka.security_protocol",
                "unknown variant",
            ),
            (
                "security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"GSSAPI\"\n".to_owned(),
                "kafka.sasl_mechanism",
                "unknown variant",
            ),
            (
                "security_protocol = \"SASL_PLAINTEXT\"\nusername = \"kroll\"\npassword_env = \"E\"\n".to_owned(),
                "kafka.sasl_mechanism",
                "SASL_PLAINTEXT needs a `sasl_mechanism`",
            ),
            (
                "security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\npassword_env = \"E\"\n".to_owned(),
                "kafka.username",
                "needs the `username`",
            ),
            (
                "security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\nusername = \"kroll\"\n".to_owned(),
                "kafka.username",
                "needs a password",
            ),
            (
                "security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\nusername = \"\"\npassword_env = \"E\"\n".to_owned(),
                "kafka.username",
                "must not be empty",
            ),
            (
                login.to_owned(),
                "kafka.sasl_mechanism",
                "with PLAINTEXT kroll would not log in",
            ),
            (
                format!("security_protocol = \"SSL\"\n{login}"),
                "kafka.sasl_mechanism",
                "with SSL kroll would not log in",
            ),
            (
                "security_protocol = \"SSL\"\ncert_file = \"kroll.pem\"\n".to_owned(),
                "kafka.cert_file",
                "a client certificate needs its `key_file`",
            ),
            (
                "security_protocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-256\"\nusername = \"kroll\"\n".to_owned(),
                "kafka.username",
                "needs a password",
            ),
            (
                format!("security_protocol = \"SASL_PLAINTEXT\"\n{login}ca_file = \"ca.pem\"\n"),
                "kafka.ca_file",
                "with SASL_PLAINTEXT the connection is not TLS",
            ),

        ];
        for (section, key, says) in cases {
            let err = check(&section).expect_err(&section);
            let text = err.to_string();
            assert_eq!(err.key(), Some(key), "{section}: {text}");
            assert!(text.contains(says), "{section}: {text}");
            assert!(text.contains("/etc/kroll/inventory.toml"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
