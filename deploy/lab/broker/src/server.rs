//! Listeners and connections: one task per connection, requests handled in order (Kafka answers
//! a connection's requests in the order they arrived). On an SSL or SASL_SSL listener the TLS
//! handshake comes first ([`crate::tls`]; on SSL the client certificate is the principal); on a
//! SASL_PLAINTEXT or SASL_SSL listener a connection then authenticates ([`crate::sasl`]); until
//! then only ApiVersions and the SASL requests are served.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, ConnCtx, Reply};
use crate::broker::Broker;
use crate::codec;
use crate::config::Config;
use crate::error::BrokerError;
use crate::sasl::{Authenticator, Step};

/// A bound listener: its name, socket and, on SSL / SASL_SSL, its TLS acceptor.
pub type Bound = (String, TcpListener, Option<TlsAcceptor>);

/// How long a client has for the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds every configured listener (before registration, like Kafka's socket server); a TLS
/// listener's keystore and trust store are read first, so a bad one stops the broker here.
pub async fn bind(cfg: &Config) -> Result<Vec<Bound>, BrokerError> {
    let mut out = Vec::new();
    for l in &cfg.listeners {
        let acceptor = cfg
            .tls
            .get(&l.name)
            .map(|settings| crate::tls::acceptor(&l.name, settings))
            .transpose()?;
        let host = if l.host.is_empty() {
            "0.0.0.0"
        } else {
            l.host.as_str()
        };
        let addr = format!("{host}:{}", l.port);
        let socket = TcpListener::bind(&addr)
            .await
            .map_err(|source| BrokerError::Bind {
                name: l.name.clone(),
                addr: addr.clone(),
                source,
            })?;
        tracing::info!(target: "kafka.network.SocketServer", "[SocketServer listenerType=ZK_BROKER, nodeId={}] Created data-plane acceptor and processors for endpoint : ListenerName({})", cfg.broker_id, l.name);
        out.push((l.name.clone(), socket, acceptor));
    }
    Ok(out)
}

/// Accepts connections until `stop` turns true.
pub fn serve(broker: Arc<Broker>, listeners: Vec<Bound>, stop: watch::Receiver<bool>) {
    for (name, socket, acceptor) in listeners {
        let broker = broker.clone();
        let mut stop = stop.clone();
        let conn_stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = socket.accept() => match accepted {
                        Ok((stream, peer)) => {
                            let ctx = ConnCtx { listener: name.clone(), peer: peer.to_string(), host: peer.ip().to_string(), principal: crate::api::ANONYMOUS.into() };
                            tokio::spawn(accept(broker.clone(), stream, acceptor.clone(), ctx, conn_stop.clone()));
                        }
                        Err(e) => tracing::warn!(target: "kafka.network.Acceptor", "Error accepting connection: {e}."),
                    },
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        });
    }
}

/// Runs a new connection: plain, or after its TLS handshake (within
/// [`TLS_HANDSHAKE_TIMEOUT`]); on an SSL listener the client certificate names the principal.
async fn accept(
    broker: Arc<Broker>,
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    mut ctx: ConnCtx,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return connection(broker, stream, ctx, stop).await;
    };
    let failed = |reason: String| {
        tracing::info!(target: "org.apache.kafka.common.network.Selector", "[SocketServer listenerType=ZK_BROKER, nodeId={}] Failed authentication with {} on listener {} (SSL handshake failed: {reason})", broker.id, ctx.peer, ctx.listener);
    };
    let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return failed(e.to_string()),
        Err(_) => return failed("timed out".into()),
    };
    if !broker.cfg.is_sasl(&ctx.listener)
        && let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first())
    {
        match crate::tls::ssl_principal(cert) {
            Ok(principal) => ctx.principal = principal,
            Err(reason) => return failed(reason),
        }
    }
    connection(broker, tls, ctx, stop).await;
}

async fn connection<S: AsyncRead + AsyncWrite + Send + Unpin>(
    broker: Arc<Broker>,
    stream: S,
    mut ctx: ConnCtx,
    mut stop: watch::Receiver<bool>,
) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut auth = broker.cfg.sasl.as_ref().and_then(|s| {
        s.listeners
            .get(&ctx.listener)
            .map(|creds| Authenticator::new(creds.clone(), s.mechanisms.clone()))
    });
    loop {
        let frame = tokio::select! {
            frame = codec::read_frame(&mut reader) => frame,
            _ = stop.wait_for(|s| *s) => break,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(target: "kafka.network.Processor", "Connection from {} closed: {e}.", ctx.peer);
                break;
            }
        };
        let frame = match auth.as_mut().filter(|a| a.principal().is_none()) {
            None => frame,
            Some(a) => match a.on_frame(frame, &broker.zk).await {
                Step::Serve(frame) => frame,
                Step::Reply(body) => {
                    if codec::write_frame(&mut writer, &body).await.is_err() {
                        break;
                    }
                    continue;
                }
                Step::Authenticated(body, user) => {
                    tracing::debug!(target: "org.apache.kafka.common.security.authenticator.SaslServerAuthenticator", "Authenticated user {user} from {} on listener {} with mechanism {}.", ctx.peer, ctx.listener, a.mechanism().unwrap_or("?"));
                    ctx.principal = format!("User:{user}");
                    if codec::write_frame(&mut writer, &body).await.is_err() {
                        break;
                    }
                    continue;
                }
                Step::Fail(body, reason) => {
                    tracing::info!(target: "org.apache.kafka.common.network.Selector", "[SocketServer listenerType=ZK_BROKER, nodeId={}] Failed authentication with {} on listener {} ({reason})", broker.id, ctx.peer, ctx.listener);
                    if let Some(body) = body {
                        let _ = codec::write_frame(&mut writer, &body).await;
                    }
                    // connection.failed.authentication.delay.ms (Kafka's default 100 ms).
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    break;
                }
                Step::Close(reason) => {
                    tracing::info!(target: "org.apache.kafka.common.network.Selector", "[SocketServer listenerType=ZK_BROKER, nodeId={}] Failed authentication with {} on listener {} ({reason})", broker.id, ctx.peer, ctx.listener);
                    break;
                }
            },
        };
        match api::handle(&broker, &ctx, frame).await {
            Reply::Send(body) => {
                if codec::write_frame(&mut writer, &body).await.is_err() {
                    break;
                }
            }
            Reply::Nothing => {}
            Reply::Close(reason) => {
                tracing::info!(target: "kafka.network.Processor", "Closing socket connection to {} due to invalid request: {reason}", ctx.peer);
                break;
            }
        }
    }
    let _ = writer.shutdown().await;
}
