//! `kroll ui` over TLS: a listener for `axum::serve` that hands over connections once their
//! TLS handshake is done. Handshakes run on their own tasks, bounded in time, so a client that
//! stalls mid-handshake holds up no other.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client gets to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Why the certificate or key could not be used; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{}: {why}", path.display())]
    File {
        path: std::path::PathBuf,
        why: String,
    },
    #[error("--tls-cert / --tls-key: {0}")]
    Pair(String),
}

/// A server configuration from a PEM certificate chain and its PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| TlsSetupError::File {
            path: path.to_owned(),
            why: kroll_shared::config::io_reason(&e),
        })
    };
    let chain: Vec<_> = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::File {
            path: cert.to_owned(),
            why: format!("not a PEM certificate: {e}"),
        })?;
    if chain.is_empty() {
        return Err(TlsSetupError::File {
            path: cert.to_owned(),
            why: "holds no PEM certificate".into(),
        });
    }
    let private = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| TlsSetupError::File {
            path: key.to_owned(),
            why: "holds no PEM private key".into(),
        })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsSetupError::Pair(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, private)
    .map_err(|e| TlsSetupError::Pair(format!("the key does not go with the certificate: {e}")))?;
    Ok(Arc::new(config))
}

/// TLS connections, handshake done, as `axum::serve` takes them.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` and shakes hands with `config`.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            while !tx.is_closed() {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "kroll ui: accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "kroll ui: TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "kroll ui: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
