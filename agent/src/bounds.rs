//! What the agent's gRPC port admits, and how much of it at once.
//!
//! * **TLS handshakes** are run here, not inside tonic: every accepted TCP connection gets
//!   [`HANDSHAKE_TIMEOUT`] to finish the mutual-TLS handshake or is closed, at most
//!   [`MAX_PENDING_HANDSHAKES`] are under way at once (one more is closed at once), and every
//!   failure — silence, plaintext, no client certificate, another CA, an expired certificate —
//!   is logged and audited with the peer's address and the reason, at most
//!   [`RefusalBudget::PER_MINUTE`] a minute (the same budget type as role refusals; the next
//!   line says how many were left out). Tonic serves the accepted [`TlsStream`]s, so
//!   `Request::peer_certs` reads the client's certificate as before.
//! * **Calls**: at most [`MAX_CALLS_IN_FLIGHT`] handlers run at once over all connections; a
//!   call beyond that is answered `RESOURCE_EXHAUSTED` at once ([`CallBound`]: shedding, not
//!   queueing, so a flood costs the agent nothing but the refusal and the caller learns to back
//!   off). Each connection runs at most [`MAX_CALLS_PER_CONNECTION`] of them (tonic's
//!   per-connection limit, which queues): one client cannot take the whole budget. A streaming
//!   call (`WatchEvents`) counts while its handler sets the stream up, not while it streams.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use kroll_shared::time::now_unix_ms;
use kroll_shared::tls::TlsMaterial;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
use tonic::codegen::http;

use crate::audit::{AuditLog, Entry, Phase, RefusalBudget};

/// How long a connection has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Handshakes under way at once; a connection beyond them is closed at once.
pub const MAX_PENDING_HANDSHAKES: usize = 512;
/// Calls being handled at once over all connections; one more is answered `RESOURCE_EXHAUSTED`.
pub const MAX_CALLS_IN_FLIGHT: usize = 64;
/// Calls being handled at once on one connection; more wait for their turn.
pub const MAX_CALLS_PER_CONNECTION: usize = 16;

/// The rustls server configuration of the agent: its own certificate, client certificates
/// required and verified against the cluster CA, HTTP/2 only.
pub fn server_config(m: &TlsMaterial) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use anyhow::Context as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let parts = m.rustls_parts().map_err(anyhow::Error::msg)?;
    let (roots, chain, key) = (parts.roots, parts.chain, parts.key);
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .context("the client certificate verifier")?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("the agent's certificate and key")?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Why a handshake failed, in words (rustls's error when there is one).
pub fn handshake_reason(e: &io::Error) -> String {
    if let Some(r) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return r.to_string();
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection during the handshake".into()
        }
        io::ErrorKind::ConnectionReset => {
            "the peer reset the connection during the handshake".into()
        }
        _ => e.to_string(),
    }
}

/// Where failed handshakes are written: the log (tracing) and the audit log, within a budget.
#[derive(Debug)]
pub struct HandshakeLog {
    audit: AuditLog,
    node: String,
    budget: RefusalBudget,
}

impl HandshakeLog {
    /// Failures of `node`'s handshakes go to `audit`.
    pub fn new(audit: AuditLog, node: String) -> Self {
        Self {
            audit,
            node,
            budget: RefusalBudget::new(),
        }
    }

    /// Records one failed handshake from `peer`, unless this minute's budget is spent.
    pub async fn failed(&self, peer: SocketAddr, reason: &str) {
        let Some(left_out) = self.budget.admit() else {
            return;
        };
        let detail = match left_out {
            0 => reason.to_owned(),
            n => format!(
                "{reason} ({n} earlier failed handshakes were not written: more than {} a minute)",
                RefusalBudget::PER_MINUTE
            ),
        };
        tracing::warn!(peer = %peer, reason = %detail, "TLS handshake refused.");
        let now = time::OffsetDateTime::now_utc();
        let entry = Entry {
            time: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            time_unix_ms: now_unix_ms(),
            node: self.node.clone(),
            peer: peer.to_string(),
            role: String::new(),
            action: "tls handshake".into(),
            operation_id: String::new(),
            container: String::new(),
            phase: Phase::Refused,
            outcome: String::new(),
            detail,
            result: None,
            stop_deadline_unix_ms: None,
        };
        if let Err(e) = self.audit.write(entry).await {
            tracing::warn!(error = %e, "Cannot audit a refused TLS handshake.");
        }
    }
}

/// Accepts TCP connections on `listener` until `stop` turns true and hands on those that
/// finish the TLS handshake within [`HANDSHAKE_TIMEOUT`] (see the module documentation).
pub fn incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    log: Arc<HandshakeLog>,
    mut stop: watch::Receiver<bool>,
) -> impl tokio_stream::Stream<Item = io::Result<TlsStream<TcpStream>>> + Send + 'static {
    let (tx, rx) = mpsc::channel(MAX_CALLS_IN_FLIGHT);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.wait_for(|s| *s) => return,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: say so, and do not spin.
                    tracing::warn!(error = %e, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
                drop(tcp);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let why = format!(
                        "closed at once: {MAX_PENDING_HANDSHAKES} handshakes already under way"
                    );
                    log.failed(peer, &why).await;
                });
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, log, tx) = (acceptor.clone(), Arc::clone(&log), tx.clone());
            tokio::spawn(async move {
                let shaken =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp).into_fallible())
                        .await;
                match shaken {
                    Ok(Ok(stream)) => {
                        drop(permit);
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err((e, tcp))) => {
                        log.failed(peer, &handshake_reason(&e)).await;
                        linger(tcp).await;
                        drop(permit);
                    }
                    Err(_) => {
                        drop(permit);
                        let why = format!(
                            "no TLS handshake within {} s; connection closed",
                            HANDSHAKE_TIMEOUT.as_secs()
                        );
                        log.failed(peer, &why).await;
                    }
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// After a refused handshake: the alert is sent; half-close and read what the client still
/// sends for up to [`LINGER`] before closing. Closing a socket with unread data resets the
/// connection, and a client that sees the reset first never reads the alert that says why it
/// was refused (with TLS 1.3 a client learns of the refusal of its certificate only then).
async fn linger(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let _ = tcp.shutdown().await;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        let mut left = 64 * 1024usize;
        while left > 0 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// How long a refused connection is drained before it is closed.
pub const LINGER: Duration = Duration::from_secs(1);

/// The global call bound: at most `limit` calls are handled at once; one more is answered
/// `RESOURCE_EXHAUSTED` without reaching the service.
#[derive(Debug, Clone)]
pub struct CallBound {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl CallBound {
    /// A bound of `limit` calls at once.
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

impl<S> tower_layer::Layer<S> for CallBound {
    type Service = Bounded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bounded {
            inner,
            bound: self.clone(),
        }
    }
}

/// A service behind [`CallBound`].
#[derive(Debug, Clone)]
pub struct Bounded<S> {
    inner: S,
    bound: CallBound,
}

type Answer<E> = Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, E>> + Send>>;

impl<S, B> tonic::codegen::Service<http::Request<B>> for Bounded<S>
where
    S: tonic::codegen::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match Arc::clone(&self.bound.permits).try_acquire_owned() {
            Ok(permit) => {
                let call = self.inner.call(req);
                Box::pin(async move {
                    let answer = call.await;
                    drop(permit);
                    answer
                })
            }
            Err(_) => {
                let status = tonic::Status::resource_exhausted(format!(
                    "the agent is handling {} calls, the most it takes at once; retry shortly",
                    self.bound.limit
                ));
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_reasons_name_what_rustls_refused() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(
            handshake_reason(&e),
            "invalid peer certificate: UnknownIssuer"
        );
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::NoCertificatesPresented,
        );
        assert!(
            handshake_reason(&e).contains("no certificates"),
            "{}",
            handshake_reason(&e)
        );
        let e = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            handshake_reason(&e),
            "the peer closed the connection during the handshake"
        );
    }

    #[tokio::test]
    async fn calls_beyond_the_bound_are_refused_at_once_and_the_slot_comes_back() {
        use tonic::codegen::Service as _;
        use tower_layer::Layer as _;
        let (open, gate) = watch::channel(false);
        let inner = tower_fn(move || {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|o| *o).await;
            }
        });
        let mut svc = CallBound::new(2).layer(inner);
        let req = || http::Request::new(());
        let a = svc.call(req());
        let b = svc.call(req());
        let refused = svc.call(req()).await.expect("answer");
        assert_eq!(
            refused.headers().get("grpc-status").map(|v| v.as_bytes()),
            Some(b"8".as_slice()),
            "RESOURCE_EXHAUSTED"
        );
        open.send(true).expect("open");
        let _ = (a.await, b.await);
        let ok = svc.call(req()).await.expect("answer");
        assert!(ok.headers().get("grpc-status").is_none(), "served again");
    }

    /// A service answering an empty response after `f`'s future.
    fn tower_fn<F, Fut>(f: F) -> FnService<F>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        FnService(f)
    }

    #[derive(Clone)]
    struct FnService<F>(F);

    impl<F, Fut> tonic::codegen::Service<http::Request<()>> for FnService<F>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            let fut = (self.0)();
            Box::pin(async move {
                fut.await;
                Ok(http::Response::new(tonic::body::Body::default()))
            })
        }
    }
}
