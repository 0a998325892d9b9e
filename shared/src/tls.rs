//! Mutual TLS between the coordinator and the agents: the cluster CA, certificates that carry a
//! role, and the tonic/rustls configurations that enforce them.
//!
//! Every certificate is issued by the cluster CA (`kroll certs init`). Its role is written in a
//! URI subject-alternative name `urn:kroll:role:<role>`, and its extended key usage says which
//! side of a TLS connection it may be used on:
//!
//! | role          | used by          | EKU          | may read state | may mutate |
//! |---------------|------------------|--------------|----------------|------------|
//! | `coordinator` | `kroll`          | client auth  | yes            | yes        |
//! | `reader`      | dashboards, CI   | client auth  | yes            | no         |
//! | `agent`       | `kroll-agent`    | server auth  | no             | no         |
//!
//! An agent accepts only client certificates chained to the cluster CA, then
//! ([`client_identity`]) requires the client-auth EKU (webpki accepts a certificate with no EKU
//! at all) and a chain of the leaf alone — the cluster CA has path length 0, so a chain through
//! an intermediate is refused — and reads the role from the certificate to authorise each call.
//! An agent checks its own certificate at start-up ([`TlsFiles::load_as`]): the key matches it,
//! its role is `agent`, it names the node.

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

/// The URI prefix of the SAN that carries a certificate's role.
pub const ROLE_URI_PREFIX: &str = "urn:kroll:role:";

/// Errors of certificate generation, loading and inspection.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read {what}: {}", crate::config::io_reason(cause))]
    Read {
        what: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a PEM {what}")]
    NotPem { what: &'static str, path: PathBuf },
    #[error("{path}: refusing to overwrite an existing file (use a new directory, or --force)")]
    Exists { path: PathBuf },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("peer certificate is not valid X.509: {0}")]
    BadCertificate(String),
    #[error("peer certificate `{name}` carries no kroll role (no `{ROLE_URI_PREFIX}…` URI SAN)")]
    NoRole { name: String },
    #[error("peer certificate `{name}` carries an unknown role `{role}`")]
    UnknownRole { name: String, role: String },
    #[error("peer certificate `{name}` carries more than one kroll role")]
    ManyRoles { name: String },
    #[error(
        "client certificate `{name}` is not for client authentication (no client-auth extended key usage); issue it with `kroll certs`"
    )]
    NotClientAuth { name: String },
    #[error(
        "client certificate `{name}` came with {intermediates} intermediate certificate(s): the cluster CA has path length 0 and signs client certificates directly"
    )]
    Intermediate { name: String, intermediates: usize },
    #[error("{path}: {why}")]
    WrongIdentity { path: PathBuf, why: String },
}

/// What a certificate's holder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The coordinator: may read state and ask for changes.
    Coordinator,
    /// Read-only clients (dashboards, `kroll status` run by a viewer).
    Reader,
    /// An agent's server certificate.
    Agent,
}

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read node state and events.
    Read,
    /// Change something on the node (restart, recreate, rollback, pull).
    Mutate,
}

impl Role {
    /// The role's name as written in certificates.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coordinator => "coordinator",
            Self::Reader => "reader",
            Self::Agent => "agent",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "coordinator" => Some(Self::Coordinator),
            "reader" => Some(Self::Reader),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }

    /// Whether a client with this role may do what `p` stands for.
    pub fn allows(self, p: Permission) -> bool {
        match (self, p) {
            (Self::Coordinator, _) => true,
            (Self::Reader, Permission::Read) => true,
            (Self::Reader, Permission::Mutate) | (Self::Agent, _) => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is on the other end of a connection, as its certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The certificate's common name.
    pub name: String,
    pub role: Role,
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (role {})", self.name, self.role)
    }
}

/// Reads the identity from a DER certificate (the first certificate a TLS peer presented).
pub fn peer_identity(der: &[u8]) -> Result<PeerIdentity, TlsError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| TlsError::BadCertificate(e.to_string()))?;
    let name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut roles = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for gn in &san.general_names {
                if let GeneralName::URI(uri) = gn
                    && let Some(role) = uri.strip_prefix(ROLE_URI_PREFIX)
                {
                    roles.push(role.to_owned());
                }
            }
        }
    }
    match roles.as_slice() {
        [] => Err(TlsError::NoRole { name }),
        [one] => match Role::parse(one) {
            Some(role) => Ok(PeerIdentity { name, role }),
            None => Err(TlsError::UnknownRole {
                name,
                role: one.clone(),
            }),
        },
        _ => Err(TlsError::ManyRoles { name }),
    }
}

/// The identity of a TLS client from the chain it presented (leaf first): the leaf must carry
/// the client-auth EKU and come alone (the cluster CA signs leaves directly, path length 0).
pub fn client_identity(chain: &[&[u8]]) -> Result<PeerIdentity, TlsError> {
    let leaf = chain
        .first()
        .ok_or_else(|| TlsError::BadCertificate("no certificate".into()))?;
    let id = peer_identity(leaf)?;
    if chain.len() > 1 {
        return Err(TlsError::Intermediate {
            name: id.name,
            intermediates: chain.len() - 1,
        });
    }
    let (_, cert) =
        X509Certificate::from_der(leaf).map_err(|e| TlsError::BadCertificate(e.to_string()))?;
    let client_auth = cert
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|e| e.value.client_auth);
    if !client_auth {
        return Err(TlsError::NotClientAuth { name: id.name });
    }
    Ok(id)
}

/// Checks a certificate and key before they are used as `role` for `name`: the key belongs to
/// the certificate, the certificate carries the role and (for an agent) names the node in a
/// DNS subject-alternative name.
fn check_identity(pair: &PemPair, role: Role, name: &str) -> Result<(), String> {
    let der = first_cert_der(&pair.cert_pem).ok_or("no certificate in the file")?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| e.to_string())?;
    let key = KeyPair::from_pem(&pair.key_pem).map_err(|e| format!("the private key: {e}"))?;
    if key.public_key_raw() != &*cert.public_key().subject_public_key.data {
        return Err("the private key does not belong to the certificate".into());
    }
    let id = peer_identity(&der).map_err(|e| e.to_string())?;
    if id.role != role {
        return Err(format!(
            "the certificate's role is `{}`, not `{role}`",
            id.role
        ));
    }
    if role == Role::Agent {
        let names: Vec<String> = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|g| match g {
                        GeneralName::DNSName(d) => Some((*d).to_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !names.iter().any(|n| n == name) {
            return Err(format!(
                "the certificate is for {names:?}, not for node `{name}`"
            ));
        }
    }
    Ok(())
}

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct PemPair {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for PemPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemPair")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// How long certificates are valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub ca_days: i64,
    pub leaf_days: i64,
}

impl Default for Validity {
    /// CA: ten years; coordinator, reader and agent certificates: three years.
    fn default() -> Self {
        Self {
            ca_days: 3650,
            leaf_days: 3 * 365,
        }
    }
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = ::time::OffsetDateTime::now_utc();
    params.not_before = now - ::time::Duration::hours(1);
    params.not_after = now + ::time::Duration::days(days);
}

/// Creates a new cluster CA named after the cluster.
pub fn generate_ca(cluster: &str, v: Validity) -> Result<PemPair, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("kroll cluster CA {cluster}"));
    dn.push(DnType::OrganizationName, "kroll");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, v.ca_days);
    let cert = params.self_signed(&key)?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a certificate for `name` with `role`, signed by the CA. `hosts` become DNS or IP
/// SANs (an agent's node name and the addresses it is reached at).
pub fn issue(
    ca: &PemPair,
    role: Role,
    name: &str,
    hosts: &[String],
    v: Validity,
) -> Result<PemPair, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(hosts.to_vec())?;
    let role_uri = format!("{ROLE_URI_PREFIX}{}", role.as_str());
    params
        .subject_alt_names
        .push(SanType::URI(role_uri.try_into()?));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "kroll");
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match role {
        Role::Agent => ExtendedKeyUsagePurpose::ServerAuth,
        Role::Coordinator | Role::Reader => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, v.leaf_days);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Writes `<dir>/<stem>.pem` and `<dir>/<stem>-key.pem` (the key readable by the owner only).
/// Refuses to overwrite unless `force`.
pub fn write_pair(dir: &Path, stem: &str, pair: &PemPair, force: bool) -> Result<(), TlsError> {
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}-key.pem"));
    for p in [&cert, &key] {
        if !force && p.exists() {
            return Err(TlsError::Exists { path: p.clone() });
        }
    }
    write_file(&cert, pair.cert_pem.as_bytes(), 0o644)?;
    write_file(&key, pair.key_pem.as_bytes(), 0o600)
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)
}

/// Paths of a CA certificate, an own certificate and its key, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The cluster CA certificate (PEM).
    pub ca: PathBuf,
    /// This process's certificate (PEM).
    pub cert: PathBuf,
    /// This process's private key (PEM).
    pub key: PathBuf,
}

/// The PEM contents of [`TlsFiles`], read and checked.
#[derive(Clone)]
pub struct TlsMaterial {
    pub ca_pem: String,
    pub own: PemPair,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

impl TlsFiles {
    /// Reads the three files and checks that each holds what it should.
    pub fn load(&self) -> Result<TlsMaterial, TlsError> {
        let ca_pem = read_pem(&self.ca, "CA certificate", "CERTIFICATE")?;
        let cert_pem = read_pem(&self.cert, "certificate", "CERTIFICATE")?;
        let key_pem = read_pem(&self.key, "private key", "PRIVATE KEY")?;
        Ok(TlsMaterial {
            ca_pem,
            own: PemPair { cert_pem, key_pem },
        })
    }
}

impl TlsFiles {
    /// [`TlsFiles::load`], then checks the certificate is usable as `role` for `name`: the key
    /// belongs to it, it carries the role and (for an agent) names the node in a DNS
    /// subject-alternative name. Errors name the certificate file.
    pub fn load_as(&self, role: Role, name: &str) -> Result<TlsMaterial, TlsError> {
        let m = self.load()?;
        check_identity(&m.own, role, name).map_err(|why| TlsError::WrongIdentity {
            path: self.cert.clone(),
            why,
        })?;
        Ok(m)
    }
}

fn read_pem(path: &Path, what: &'static str, tag: &str) -> Result<String, TlsError> {
    let text = std::fs::read_to_string(path).map_err(|cause| TlsError::Read {
        what,
        path: path.to_owned(),
        cause,
    })?;
    let has_block = text
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.contains(tag));
    if has_block {
        Ok(text)
    } else {
        Err(TlsError::NotPem {
            what,
            path: path.to_owned(),
        })
    }
}

impl TlsMaterial {
    /// Server side (agent): own identity; clients must present a certificate from the CA.
    pub fn server_config(&self) -> tonic::transport::ServerTlsConfig {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.own.cert_pem, &self.own.key_pem))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            .client_auth_optional(false)
    }

    /// The PEM texts as rustls takes them, for the configurations built on rustls directly (the
    /// agent's server, the coordinator's refusal probe). An error names the part that does not
    /// decode.
    pub fn rustls_parts(&self) -> Result<RustlsParts, String> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let ca = |e: &dyn fmt::Display| format!("the CA certificate: {e}");
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(c.map_err(|e| ca(&e))?).map_err(|e| ca(&e))?;
        }
        let chain = CertificateDer::pem_slice_iter(self.own.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("the own certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(self.own.key_pem.as_bytes())
            .map_err(|e| format!("the own private key: {e}"))?;
        Ok(RustlsParts { roots, chain, key })
    }

    /// Client side (coordinator, reader): trust only the cluster CA, expect the server
    /// certificate to name `server_name` (an agent's node name), present own certificate.
    pub fn client_config(&self, server_name: &str) -> tonic::transport::ClientTlsConfig {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.own.cert_pem, &self.own.key_pem))
            .domain_name(server_name)
    }
}

/// [`TlsMaterial`] decoded for rustls.
#[derive(Debug)]
pub struct RustlsParts {
    /// The cluster CA, the only trusted root.
    pub roots: rustls::RootCertStore,
    /// The own certificate chain.
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The own private key.
    pub key: rustls::pki_types::PrivateKeyDer<'static>,
}

/// Decodes the first certificate of a PEM text to DER (to inspect one's own certificate).
pub fn first_cert_der(pem: &str) -> Option<Vec<u8>> {
    let mut reader = pem.as_bytes();
    rustls_pemfile::certs(&mut reader)
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

/// The subject of a DER certificate as Java's `X500Principal.getName()` writes it (RFC 2253):
/// Kafka's default principal for a client certificate is `User:` and this. The error is the
/// parser's.
pub fn subject_rfc2253(cert_der: &[u8]) -> Result<String, String> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| e.to_string())?;
    Ok(rfc2253(cert.subject()))
}

/// A name as RFC 2253 (and Java) writes it: RDNs last first, separated by `,`, values of one
/// RDN by `+`, known attribute types by keyword, others as `<oid>=#<DER hex>`.
pub fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    match (rfc2253_keyword(&oid), atv.as_str()) {
                        (Some(k), Ok(value)) => format!("{k}={}", rfc2253_escape(value)),
                        _ => format!("{oid}=#{}", hex_der(atv.attr_value())),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn rfc2253_keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// RFC 2253 §2.4 escaping, as Java applies it.
fn rfc2253_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex_der(value: &x509_parser::der_parser::asn1_rs::Any<'_>) -> String {
    let data = value.data;
    let mut der = vec![u8::try_from(value.tag().0).unwrap_or(0x04)];
    let len = data.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | bytes.len() as u8);
        der.extend(bytes);
    }
    der.extend_from_slice(data);
    der.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_written_as_rfc_2253_and_java_write_it() {
        // rcgen writes the names in the order given: RFC 2253 names the last RDN first.
        let ca = generate_ca("kafka", Validity::default()).expect("CA");
        let der = first_cert_der(&ca.cert_pem).expect("der");
        assert_eq!(
            subject_rfc2253(&der).as_deref(),
            Ok("O=kroll,CN=kroll cluster CA kafka")
        );
        assert!(subject_rfc2253(b"not a certificate").is_err());
        assert_eq!(rfc2253_escape("a,b+c"), "a\\,b\\+c");
        assert_eq!(rfc2253_escape(" lead#"), "\\ lead#");
        assert_eq!(rfc2253_escape("#x "), "\\#x\\ ");
    }

    #[test]
    fn issued_certificates_carry_their_role_and_name() {
        let ca = generate_ca("lab", Validity::default()).expect("ca");
        for role in [Role::Coordinator, Role::Reader, Role::Agent] {
            let pair = issue(
                &ca,
                role,
                "who",
                &["rhodrylab-01".into(), "127.0.0.1".into()],
                Validity::default(),
            )
            .expect("issue");
            let der = first_cert_der(&pair.cert_pem).expect("der");
            let id = peer_identity(&der).expect("identity");
            assert_eq!(
                id,
                PeerIdentity {
                    name: "who".into(),
                    role
                }
            );
        }
    }

    #[test]
    fn a_client_needs_the_client_auth_eku_and_no_intermediate() {
        let ca = generate_ca("lab", Validity::default()).expect("ca");
        let coord = issue(&ca, Role::Coordinator, "c", &[], Validity::default()).expect("c");
        let der = first_cert_der(&coord.cert_pem).expect("der");
        assert_eq!(
            client_identity(&[&der]).expect("ok").role,
            Role::Coordinator
        );
        let agent = issue(&ca, Role::Agent, "n", &["n".into()], Validity::default()).expect("a");
        let agent_der = first_cert_der(&agent.cert_pem).expect("der");
        assert!(matches!(
            client_identity(&[&agent_der]),
            Err(TlsError::NotClientAuth { .. })
        ));
        let ca_der = first_cert_der(&ca.cert_pem).expect("der");
        assert!(matches!(
            client_identity(&[&der, &ca_der]),
            Err(TlsError::Intermediate {
                intermediates: 1,
                ..
            })
        ));
    }

    #[test]
    fn an_own_certificate_is_checked_for_key_role_and_name() {
        let ca = generate_ca("lab", Validity::default()).expect("ca");
        let v = Validity::default();
        let agent = issue(&ca, Role::Agent, "n1", &["n1".into()], v).expect("a");
        let other = issue(&ca, Role::Agent, "n2", &["n2".into()], v).expect("a");
        let coord = issue(&ca, Role::Coordinator, "n1", &["n1".into()], v).expect("c");
        assert_eq!(check_identity(&agent, Role::Agent, "n1"), Ok(()));
        let mixed = PemPair {
            cert_pem: agent.cert_pem.clone(),
            key_pem: other.key_pem.clone(),
        };
        let cases = [
            (mixed, "does not belong"),
            (coord, "role is `coordinator`"),
            (other, "not for node `n1`"),
        ];
        for (pair, why) in cases {
            let err = check_identity(&pair, Role::Agent, "n1").unwrap_err();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn a_ca_certificate_has_no_role() {
        let ca = generate_ca("lab", Validity::default()).expect("ca");
        let der = first_cert_der(&ca.cert_pem).expect("der");
        assert!(matches!(peer_identity(&der), Err(TlsError::NoRole { .. })));
    }

    #[test]
    fn only_the_coordinator_may_mutate() {
        assert!(Role::Coordinator.allows(Permission::Mutate));
        assert!(Role::Reader.allows(Permission::Read));
        assert!(!Role::Reader.allows(Permission::Mutate));
        assert!(!Role::Agent.allows(Permission::Read));
    }

    #[test]
    fn keys_are_written_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let ca = generate_ca("lab", Validity::default()).expect("ca");
        write_pair(dir.path(), "ca", &ca, false).expect("write");
        let mode = std::fs::metadata(dir.path().join("ca-key.pem"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            write_pair(dir.path(), "ca", &ca, false),
            Err(TlsError::Exists { .. })
        ));
        let files = TlsFiles {
            ca: dir.path().join("ca.pem"),
            cert: dir.path().join("ca.pem"),
            key: dir.path().join("ca.pem"),
        };
        let err = files.load().unwrap_err();
        assert!(
            err.to_string().ends_with("ca.pem: not a PEM private key"),
            "{err}"
        );
    }
}
