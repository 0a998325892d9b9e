//! SSL and SASL_SSL listeners: TLS with rustls (ring provider), configured the way Kafka reads
//! it — `ssl.keystore.type=PEM` with `ssl.keystore.location` (the private key and the
//! certificate chain in one PEM file, KIP-651), `ssl.truststore.type=PEM` with
//! `ssl.truststore.location` (the CAs client certificates must chain to), `ssl.client.auth`
//! (`none`, `requested`, `required`), each overridable per listener as
//! `listener.name.<listener>.ssl.*`.
//!
//! On an SSL listener the principal is Kafka's default for a client certificate: `User:` and
//! the certificate's subject DN as Java's `X500Principal.getName()` writes it (RFC 2253: the
//! last RDN first, `CN=kroll,O=kroll`); without a certificate it is `User:ANONYMOUS`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::error::BrokerError;

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate asked for (Kafka's default).
    None,
    /// Asked for; a client without one is `User:ANONYMOUS`.
    Requested,
    /// A client without a certificate chained to the trust store is refused in the handshake.
    Required,
}

impl ClientAuth {
    /// Parses Kafka's value.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "requested" => Some(Self::Requested),
            "required" => Some(Self::Required),
            _ => None,
        }
    }
}

/// The TLS settings of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    /// `ssl.keystore.location` (PEM: key and certificate chain).
    pub keystore: PathBuf,
    /// `ssl.truststore.location` (PEM CA certificates), needed when clients authenticate.
    pub truststore: Option<PathBuf>,
    /// `ssl.client.auth`.
    pub client_auth: ClientAuth,
}

/// Reads a TLS listener's settings from the properties (`listener.name.<name>.ssl.*` over
/// `ssl.*`).
pub fn listener_settings(
    props: &BTreeMap<String, String>,
    listener: &str,
) -> Result<ListenerTls, BrokerError> {
    let prefix = format!("listener.name.{}.", listener.to_lowercase());
    let get = |key: &str| -> Option<(String, &String)> {
        let specific = format!("{prefix}{key}");
        match props.get(&specific) {
            Some(v) => Some((specific, v)),
            None => props.get(key).map(|v| (key.to_owned(), v)),
        }
    };
    let bad = |key: String, reason: String| BrokerError::Config { key, reason };
    for store in ["ssl.keystore.type", "ssl.truststore.type"] {
        if let Some((key, value)) = get(store)
            && !value.trim().eq_ignore_ascii_case("PEM")
        {
            return Err(bad(
                key,
                format!("is `{value}`; the lab reads PEM stores only (KIP-651's ssl.*.type=PEM)"),
            ));
        }
    }
    for inline in [
        "ssl.keystore.key",
        "ssl.keystore.certificate.chain",
        "ssl.truststore.certificates",
    ] {
        if let Some((key, _)) = get(inline) {
            return Err(bad(
                key,
                "the lab reads PEM stores from files only (ssl.*.location)".into(),
            ));
        }
    }
    if let Some((key, _)) = get("ssl.key.password") {
        return Err(bad(key, "the lab reads unencrypted PEM keys only".into()));
    }
    let keystore = get("ssl.keystore.location").ok_or_else(|| {
        bad(
            format!("{prefix}ssl.keystore.location"),
            format!("listener {listener} is TLS and has no keystore (KAFKA_SSL_KEYSTORE_LOCATION)"),
        )
    })?;
    let client_auth = match get("ssl.client.auth") {
        None => ClientAuth::None,
        Some((key, value)) => ClientAuth::parse(value).ok_or_else(|| {
            bad(
                key,
                format!("is `{value}`; one of none, requested, required"),
            )
        })?,
    };
    let truststore = get("ssl.truststore.location").map(|(_, v)| PathBuf::from(v));
    if client_auth != ClientAuth::None && truststore.is_none() {
        return Err(bad(
            format!("{prefix}ssl.truststore.location"),
            format!(
                "listener {listener} authenticates clients (ssl.client.auth) and has no trust store"
            ),
        ));
    }
    Ok(ListenerTls {
        keystore: PathBuf::from(keystore.1),
        truststore,
        client_auth,
    })
}

/// The acceptor of a listener with `settings`: its files read and checked now, so a bad
/// keystore stops the broker before it binds.
pub fn acceptor(listener: &str, settings: &ListenerTls) -> Result<TlsAcceptor, BrokerError> {
    let bad = |what: &Path, reason: String| BrokerError::Config {
        key: format!("listener.name.{}.ssl", listener.to_lowercase()),
        reason: format!("{}: {reason}", what.display()),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&settings.keystore)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(&settings.keystore, format!("reading its certificates: {e}")))?;
    if chain.is_empty() {
        return Err(bad(&settings.keystore, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.keystore)
        .map_err(|e| bad(&settings.keystore, format!("reading its private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&settings.keystore, e.to_string()))?;
    let builder = match (&settings.truststore, settings.client_auth) {
        (_, ClientAuth::None) | (None, _) => builder.with_no_client_auth(),
        (Some(trust), auth) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(trust)
                .map_err(|e| bad(trust, format!("reading it: {e}")))?
            {
                let cert = cert.map_err(|e| bad(trust, format!("reading it: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(trust, format!("a CA certificate is not usable: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match auth {
                ClientAuth::Requested => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| bad(trust, format!("no usable CA: {e}")))?,
            )
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(&settings.keystore, format!("key and certificate: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Kafka's default principal for a client certificate: `User:<subject DN, RFC 2253>`.
pub fn ssl_principal(cert_der: &[u8]) -> Result<String, String> {
    kroll_shared::tls::subject_rfc2253(cert_der)
        .map(|subject| format!("User:{subject}"))
        .map_err(|e| format!("the client certificate does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(dn: &[(rcgen::DnType, &str)]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut name = rcgen::DistinguishedName::new();
        for (t, v) in dn {
            name.push(t.clone(), *v);
        }
        params.distinguished_name = name;
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    #[test]
    fn the_ssl_principal_is_the_subject_dn_as_kafka_writes_it() {
        use rcgen::DnType;
        assert_eq!(
            ssl_principal(&cert_with(&[(DnType::CommonName, "kroll")])).as_deref(),
            Ok("User:CN=kroll")
        );
        assert_eq!(
            ssl_principal(&cert_with(&[
                (DnType::CountryName, "DE"),
                (DnType::OrganizationName, "Rhodry, Inc."),
                (DnType::CommonName, "#kroll "),
            ]))
            .as_deref(),
            Ok("User:CN=\\#kroll\\ ,O=Rhodry\\, Inc.,C=DE")
        );
    }

    #[test]
    fn settings_follow_kafkas_keys_with_listener_overrides() {
        let props: BTreeMap<String, String> = [
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", "/s/broker.pem"),
            ("ssl.truststore.location", "/s/ca.pem"),
            ("listener.name.ssl_ext.ssl.client.auth", "required"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let ssl = listener_settings(&props, "SSL_EXT").expect("SSL_EXT");
        assert_eq!(ssl.client_auth, ClientAuth::Required);
        assert_eq!(ssl.keystore, PathBuf::from("/s/broker.pem"));
        let sasl = listener_settings(&props, "SASL_SSL_EXT").expect("SASL_SSL_EXT");
        assert_eq!(sasl.client_auth, ClientAuth::None);
        let mut jks = props.clone();
        jks.insert("ssl.keystore.type".into(), "JKS".into());
        assert!(listener_settings(&jks, "SSL_EXT").is_err());
        let mut no_trust = props;
        no_trust.remove("ssl.truststore.location");
        assert!(listener_settings(&no_trust, "SSL_EXT").is_err());
    }
}
