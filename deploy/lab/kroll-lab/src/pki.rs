//! A `sasl-ssl` lab's Kafka PKI ([`Security::SaslSsl`](crate::topology::Security::SaslSsl)),
//! made at the first `up` in `<dir>/kafka-tls` (mode 0700) and kept by every later one (the
//! running brokers hold the keystore):
//!
//! | file | what | mode |
//! |---|---|---|
//! | `ca.pem`, `ca-key.pem` | the lab's Kafka CA (apart from the agents' CA in `certs/`) | 0644, 0600 |
//! | `broker-keystore.pem` | the brokers' key and certificate (Kafka's PEM keystore), valid for every broker's container hostname, `localhost`, `127.0.0.1` and the node's address | 0600, uid 1000 |
//! | `<user>.pem`, `<user>-key.pem` | a client certificate (subject `CN=<user>`) for `admin`, `kroll`, `nobody` | 0644, 0600 |
//!
//! On `SSL_EXT` a client certificate's principal is `User:CN=<user>`; [`ClientCert`] names it.
//! Private keys are files only: never in a log line, the report or `--output json`.

use std::path::{Path, PathBuf};

use kroll_shared::tls::{PemPair, write_pair};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde::Serialize;

use super::LabError;
use super::security::{ADMIN_USER, NOBODY_USER};
use super::topology::{KAFKA_TLS_DIR, KROLL_USER, LabSpec};

/// The CA certificate, relative to the PKI directory (also the brokers' trust store).
pub const CA_FILE: &str = "ca.pem";
/// The brokers' PEM keystore, relative to the PKI directory.
pub const KEYSTORE_FILE: &str = "broker-keystore.pem";
/// The uid of the brokers' `appuser`, the keystore's owner and only reader.
const BROKER_UID: u32 = 1000;

/// A client certificate of the lab and the principal it is on `SSL_EXT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientCert {
    /// `User:CN=<user>`.
    pub principal: String,
    /// The certificate (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM, mode 0600).
    pub key_file: PathBuf,
}

/// How a `sasl-ssl` lab is reached over TLS: where the listeners are and what to trust and
/// present. Paths only: no key is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsAccess {
    /// The brokers' `SASL_SSL_EXT` listeners (`security.protocol=SASL_SSL`; PLAIN,
    /// SCRAM-SHA-256, SCRAM-SHA-512 with the users of [`crate::security::SaslAccess`]).
    pub sasl_ssl_bootstrap: Vec<String>,
    /// The brokers' `SSL_EXT` listeners (`security.protocol=SSL`, a client certificate
    /// required).
    pub ssl_bootstrap: Vec<String>,
    /// The lab's Kafka CA: the only root a client needs (`ssl.ca.location`).
    pub ca_file: PathBuf,
    /// The SASL mechanisms `SASL_SSL_EXT` offers.
    pub sasl_mechanisms: Vec<&'static str>,
    /// `CN=admin`: a super user like `User:admin`.
    pub admin: ClientCert,
    /// `CN=kroll`: the ACLs of `User:kroll`.
    pub kroll: ClientCert,
    /// `CN=nobody`: no ACL.
    pub nobody: ClientCert,
}

impl TlsAccess {
    /// The access to `spec`'s TLS listeners with the PKI in `<dir>/kafka-tls`.
    pub fn new(spec: &LabSpec, dir: &Path) -> Self {
        let pki = dir.join(KAFKA_TLS_DIR);
        let cert = |user: &str| ClientCert {
            principal: format!("User:CN={user}"),
            cert_file: pki.join(format!("{user}.pem")),
            key_file: pki.join(format!("{user}-key.pem")),
        };
        Self {
            sasl_ssl_bootstrap: spec.sasl_ssl_bootstrap(),
            ssl_bootstrap: spec.ssl_bootstrap(),
            ca_file: pki.join(CA_FILE),
            sasl_mechanisms: vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
            admin: cert(ADMIN_USER),
            kroll: cert(KROLL_USER),
            nobody: cert(NOBODY_USER),
        }
    }
}

/// Makes the PKI of `spec` in `<dir>/kafka-tls` unless its CA and keystore are there already.
pub fn ensure(dir: &Path, spec: &LabSpec) -> Result<TlsAccess, LabError> {
    let pki = dir.join(KAFKA_TLS_DIR);
    let access = TlsAccess::new(spec, dir);
    let keystore = pki.join(KEYSTORE_FILE);
    if !(access.ca_file.is_file() && keystore.is_file()) {
        make(&pki, spec)?;
    }
    // Kept in place when it exists: the brokers' bind mounts hold its inode.
    std::os::unix::fs::chown(&keystore, Some(BROKER_UID), Some(BROKER_UID)).map_err(|e| {
        LabError::Security(format!(
            "{}: giving it to uid {BROKER_UID} (the brokers' appuser, the only reader of a mode-0600 file) failed: {e}; run kroll-lab as root",
            keystore.display()
        ))
    })?;
    Ok(access)
}

fn make(pki: &Path, spec: &LabSpec) -> Result<(), LabError> {
    super::security::private_dir(pki)?;
    let err =
        |e: rcgen::Error| LabError::Security(format!("issuing the lab's Kafka certificates: {e}"));
    let written = |e: kroll_shared::tls::TlsError| LabError::Security(e.to_string());
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name = dn(&format!("kroll lab Kafka CA {}", spec.name));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let ca_pair = PemPair {
        cert_pem: ca_cert.pem(),
        key_pem: ca_key.serialize_pem(),
    };
    let issuer = Issuer::new(ca, ca_key);

    let mut names: Vec<String> = Vec::new();
    for n in 1..=spec.shape.nodes {
        for name in spec.broker_names(n) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let broker_key = KeyPair::generate().map_err(err)?;
    let mut broker = CertificateParams::new(names).map_err(err)?;
    broker.distinguished_name = dn("kafka");
    broker.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    broker.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    broker.use_authority_key_identifier_extension = true;
    let broker_cert = broker.signed_by(&broker_key, &issuer).map_err(err)?;
    // Kafka's PEM keystore: the private key, then the certificate chain.
    let keystore = format!("{}{}", broker_key.serialize_pem(), broker_cert.pem());
    super::security::write_private(&pki.join(KEYSTORE_FILE), &keystore)?;

    for user in [ADMIN_USER, KROLL_USER, NOBODY_USER] {
        let key = KeyPair::generate().map_err(err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, user);
        params.distinguished_name = name;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer).map_err(err)?;
        let pair = PemPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        write_pair(pki, user, &pair, true).map_err(written)?;
    }
    // The CA last: its presence says the PKI is complete.
    write_pair(pki, "ca", &ca_pair, true).map_err(written)
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "kroll lab");
    name
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    use super::*;
    use crate::topology::{Ports, Security, Services};

    fn spec(dir: &Path) -> LabSpec {
        LabSpec::new(
            "tls-1",
            "7.1.1",
            "reg",
            Ports::from_base(30000, crate::topology::Shape::LAB, Security::SaslSsl).expect("ports"),
            Services::Kafka,
        )
        .expect("spec")
        .with_security(Security::SaslSsl, dir)
        .expect("sasl-ssl")
    }

    #[test]
    fn the_pki_is_private_names_every_broker_and_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = spec(dir.path());
        let access = ensure(dir.path(), &spec).expect("pki");
        let pki = dir.path().join(KAFKA_TLS_DIR);
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&pki), 0o700);
        let keystore = pki.join(KEYSTORE_FILE);
        assert_eq!(mode(&keystore), 0o600);
        assert_eq!(
            std::fs::metadata(&keystore).expect("keystore").uid(),
            BROKER_UID
        );
        assert_eq!(mode(&access.kroll.key_file), 0o600);
        assert_eq!(access.kroll.principal, "User:CN=kroll");
        assert_eq!(access.sasl_ssl_bootstrap[0], "127.0.0.1:30220");
        assert_eq!(access.ssl_bootstrap[4], "127.0.0.1:30324");

        let text = std::fs::read_to_string(&keystore).expect("keystore");
        assert!(
            text.starts_with("-----BEGIN PRIVATE KEY-----"),
            "key first, as Kafka reads it"
        );
        let der = kroll_shared::tls::first_cert_der(&text).expect("certificate");
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
        let sans = cert
            .subject_alternative_name()
            .expect("SAN")
            .expect("SAN")
            .value
            .general_names
            .iter()
            .map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => (*d).to_owned(),
                x509_parser::extensions::GeneralName::IPAddress(ip) => {
                    ip.iter().map(u8::to_string).collect::<Vec<_>>().join(".")
                }
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        for name in ["kafka-01", "kafka-05", "localhost", "127.0.0.1"] {
            assert!(sans.contains(name), "{name} not in {sans}");
        }

        let inode = std::fs::metadata(&keystore).expect("keystore").ino();
        let again = ensure(dir.path(), &spec).expect("again");
        assert_eq!(again, access);
        assert_eq!(std::fs::metadata(&keystore).expect("keystore").ino(), inode);
        assert!(!format!("{access:?}").contains("PRIVATE KEY"));
    }
}
