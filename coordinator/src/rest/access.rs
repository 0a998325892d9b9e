//! How a REST client reaches its service: the CA it trusts, its client certificate, its
//! basic-auth credentials (from the inventory's `[connect]` / `[schema_registry]`), and what a
//! TLS failure or an authentication refusal means, said in words.
//!
//! Trust: with `ca_file`, only that bundle's CAs are trusted (a private CA is not widened by
//! the public ones); without it, the system's roots.

use std::fmt;
use std::path::{Path, PathBuf};

use kroll_shared::rest_access::RestAccess;
use reqwest::ClientBuilder;

use crate::secret::{self, Secret, SecretError};

/// Why the access settings of a section cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccessError {
    /// A password, CA or certificate file that cannot be read, or an unset variable.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A file that does not hold what it should.
    #[error("{key}: {}: {why}", path.display())]
    Pem {
        key: String,
        path: PathBuf,
        why: String,
    },
}

/// The TLS and authentication settings of one REST service.
#[derive(Clone, Default)]
pub struct Access {
    /// The inventory section they come from (`[connect]`), for messages.
    section: &'static str,
    /// The CA file and its certificates, when only they are trusted.
    ca: Option<(PathBuf, Vec<reqwest::Certificate>)>,
    identity: Option<reqwest::Identity>,
    basic: Option<(String, Secret)>,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("section", &self.section)
            .field("ca_file", &self.ca.as_ref().map(|(p, _)| p))
            .field("client_certificate", &self.identity.is_some())
            .field("user", &self.user())
            .field("password", &self.basic.as_ref().map(|(_, s)| s))
            .finish()
    }
}

impl Access {
    /// Reads the files and the password a section names (`section` as shown: `[connect]`).
    pub fn from_inventory(
        section: &'static str,
        settings: Option<&RestAccess>,
    ) -> Result<Self, AccessError> {
        let mut access = Self {
            section,
            ..Self::default()
        };
        let Some(s) = settings else {
            return Ok(access);
        };
        if let Some(path) = &s.ca_file {
            let pem = secret::read_file(section, "ca_file", path)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| pem_error(section, "ca_file", path, "no PEM certificate in it"))?;
            access.ca = Some((path.clone(), certs));
        }
        if let (Some(cert), Some(key)) = (&s.cert_file, &s.key_file) {
            let mut pem = secret::read_file(section, "cert_file", cert)?;
            pem.push(b'\n');
            pem.extend(secret::read_file(section, "key_file", key)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                pem_error(
                    section,
                    "cert_file/key_file",
                    cert,
                    "not a PEM certificate with its PEM private key",
                )
            })?;
            access.identity = Some(identity);
        }
        if let (Some(user), Some(source)) = (&s.username, s.password_source()) {
            access.basic = Some((user.clone(), secret::read(section, &source)?));
        }
        Ok(access)
    }

    /// The basic-auth user, when there is one.
    pub fn user(&self) -> Option<&str> {
        self.basic.as_ref().map(|(u, _)| u.as_str())
    }

    pub(super) fn apply(&self, mut builder: ClientBuilder) -> ClientBuilder {
        if let Some((_, certs)) = &self.ca {
            builder = builder.tls_certs_only(certs.iter().cloned());
        }
        if let Some(identity) = &self.identity {
            builder = builder.identity(identity.clone());
        }
        builder
    }

    pub(super) fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.basic {
            // reqwest marks the header sensitive (it is not shown by its Debug).
            Some((user, password)) => request.basic_auth(user, Some(password.expose())),
            None => request,
        }
    }

    /// What a 401 or 403 means for these settings.
    pub(super) fn refusal(&self, status: u16) -> String {
        let section = self.section_name();
        match (status, self.user()) {
            (401, Some(user)) => format!(
                "the credentials of user `{user}` were refused; check `username` and the password ({section} `password_file` / `password_env`)"
            ),
            (401, None) => format!(
                "it requires HTTP basic auth: set `username` and `password_file` or `password_env` in the inventory's {section}"
            ),
            (_, Some(user)) => format!("user `{user}` is not allowed to do this"),
            (_, None) => format!(
                "access is forbidden without credentials; set `username` and `password_file` or `password_env` in the inventory's {section}"
            ),
        }
    }

    fn section_name(&self) -> &'static str {
        if self.section.is_empty() {
            "section"
        } else {
            self.section
        }
    }

    /// What a TLS failure means, in words.
    pub(super) fn tls_reason(&self, error: &rustls::Error, host: &str) -> String {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        let section = self.section_name();
        let trusted = match &self.ca {
            Some((path, _)) => format!("the CAs of {} ({section} `ca_file`)", path.display()),
            None => format!("the system's roots (a private CA goes in {section} `ca_file`)"),
        };
        match error {
            // A bad signature: an issuer of the right name that did not sign it.
            E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
                "the server's certificate is not signed by a trusted CA: kroll trusts {trusted}"
            ),
            E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                format!(
                    "the server's certificate is not valid for the host name `{host}` (wrong hostname: use a name or address the certificate lists)"
                )
            }
            E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
                "the server's certificate has expired".to_owned()
            }
            E::InvalidCertificate(other) => {
                format!("the server's certificate is not accepted ({other:?})")
            }
            E::AlertReceived(
                alert @ (A::CertificateRequired
                | A::BadCertificate
                | A::UnknownCA
                | A::HandshakeFailure
                | A::AccessDenied),
            ) => format!(
                "the server refused the handshake ({alert:?}): it may require a client certificate it trusts ({section} `cert_file` / `key_file`)"
            ),
            E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
                "the server does not speak TLS there (is it an http:// address?)".to_owned()
            }
            other => format!("the TLS handshake failed: {other}"),
        }
    }
}

impl Access {
    /// What a TLS connection the server closed without a word may mean: with TLS 1.3 a server
    /// that requires a client certificate refuses it after the handshake, by closing.
    pub(super) fn closed_hint(&self) -> String {
        let section = self.section_name();
        if self.identity.is_some() {
            format!(
                "the server closed the TLS connection unannounced: it may not accept kroll's client certificate ({section} `cert_file`)"
            )
        } else {
            format!(
                "the server closed the TLS connection unannounced: if it requires a client certificate, set {section} `cert_file` and `key_file`"
            )
        }
    }
}

/// Whether `error` is a TLS connection the peer ended without a word: closed without
/// `close_notify`, or reset. A TLS 1.3 server that requires a client certificate refuses it
/// after the handshake; when kroll's request is already in its socket buffer as it closes, the
/// kernel answers with a reset instead of a close, and the alert before it may be lost. When the
/// close comes before hyper has handed the request to the connection, hyper cancels the request
/// ("connection was not ready"), which says no more than that the server closed first.
pub(super) fn closed_unannounced(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut next = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let unannounced = match io.kind() {
                ErrorKind::UnexpectedEof => io.to_string().contains("close_notify"),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => true,
                _ => false,
            };
            if unannounced {
                return true;
            }
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

fn pem_error(section: &str, key: &str, path: &Path, why: &str) -> AccessError {
    AccessError::Pem {
        key: format!("{section} {key}"),
        path: path.to_owned(),
        why: why.to_owned(),
    }
}

/// The rustls error somewhere in `error`'s causes. hyper-rustls reports it inside an
/// `io::Error` inside another (`io::Error::other`), and an `io::Error`'s `source` skips the
/// error it wraps, so wrapped errors are opened with `get_ref`.
pub(super) fn find_tls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::closed_unannounced;

    /// An error as hyper-rustls nests it: an `io::Error` wrapping another.
    fn nested(inner: Error) -> Error {
        Error::other(inner)
    }

    #[test]
    fn a_close_without_notify_or_a_reset_is_unannounced_and_nothing_else_is() {
        let cases = [
            (
                Error::new(
                    ErrorKind::UnexpectedEof,
                    "peer closed connection without sending TLS close_notify",
                ),
                true,
            ),
            (Error::from(ErrorKind::ConnectionReset), true),
            (Error::from(ErrorKind::ConnectionAborted), true),
            (Error::new(ErrorKind::UnexpectedEof, "early eof"), false),
            (Error::from(ErrorKind::ConnectionRefused), false),
            (Error::from(ErrorKind::TimedOut), false),
        ];
        for (error, expected) in cases {
            let shown = error.to_string();
            assert_eq!(closed_unannounced(&error), expected, "{shown}");
            assert_eq!(
                closed_unannounced(&nested(error)),
                expected,
                "nested {shown}"
            );
        }
    }

    /// hyper's own error for a request it never sent because the connection had closed: the
    /// server's end of the connection is gone before the request is handed over.
    #[tokio::test]
    async fn a_request_hyper_cancelled_because_the_server_closed_first_is_unannounced() {
        let (client, server) = tokio::io::duplex(64);
        drop(server);
        let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, String>(
            hyper_util::rt::TokioIo::new(client),
        )
        .await
        .expect("handshake");
        // The connection ends at once: its peer is gone.
        let _ = connection.await;
        let request = hyper::Request::get("/config")
            .body(String::new())
            .expect("request");
        let error = sender
            .send_request(request)
            .await
            .expect_err("nothing to send to");
        assert!(error.is_canceled(), "{error:?}");
        assert!(closed_unannounced(&error), "{error:?}");
        // As reqwest reports it: inside other errors.
        assert!(closed_unannounced(&nested(Error::other(error))));
        // Any other hyper error is not: an answer that is not HTTP.
        let (client, mut server) = tokio::io::duplex(1024);
        let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, String>(
            hyper_util::rt::TokioIo::new(client),
        )
        .await
        .expect("handshake");
        tokio::spawn(connection);
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut request = [0; 512];
            let _ = server.read(&mut request).await;
            let _ = server.write_all(b"this is not HTTP\r\n\r\n").await;
            let _ = server.read(&mut request).await;
        });
        let request = hyper::Request::get("/config")
            .body(String::new())
            .expect("request");
        let error = sender.send_request(request).await.expect_err("not HTTP");
        assert!(error.is_parse(), "{error:?}");
        assert!(!closed_unannounced(&error), "{error:?}");
    }
}
