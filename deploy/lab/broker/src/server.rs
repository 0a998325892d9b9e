//! Listeners and connections: one task per connection, requests handled in order (Kafka answers
//! a connection's requests in the order they arrived). On a SASL_PLAINTEXT listener a connection
//! authenticates first ([`crate::sasl`]); until then only ApiVersions and the SASL requests are
//! served.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::api::{self, ConnCtx, Reply};
use crate::broker::Broker;
use crate::codec;
use crate::config::Config;
use crate::error::BrokerError;
use crate::sasl::{Authenticator, Step};

/// Binds every configured listener (before registration, like Kafka's socket server).
pub async fn bind(cfg: &Config) -> Result<Vec<(String, TcpListener)>, BrokerError> {
    let mut out = Vec::new();
    for l in &cfg.listeners {
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
        out.push((l.name.clone(), socket));
    }
    Ok(out)
}

/// Accepts connections until `stop` turns true.
pub fn serve(
    broker: Arc<Broker>,
    listeners: Vec<(String, TcpListener)>,
    stop: watch::Receiver<bool>,
) {
    for (name, socket) in listeners {
        let broker = broker.clone();
        let mut stop = stop.clone();
        let conn_stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = socket.accept() => match accepted {
                        Ok((stream, peer)) => {
                            let ctx = ConnCtx { listener: name.clone(), peer: peer.to_string(), host: peer.ip().to_string(), principal: crate::api::ANONYMOUS.into() };
                            tokio::spawn(connection(broker.clone(), stream, ctx, conn_stop.clone()));
                        }
                        Err(e) => tracing::warn!(target: "kafka.network.Acceptor", "Error accepting connection: {e}."),
                    },
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        });
    }
}

async fn connection(
    broker: Arc<Broker>,
    stream: TcpStream,
    mut ctx: ConnCtx,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut auth = broker
        .cfg
        .sasl
        .as_ref()
        .and_then(|s| s.listeners.get(&ctx.listener))
        .map(|creds| Authenticator::new(creds.clone()));
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
            Some(a) => match a.on_frame(frame) {
                Step::Serve(frame) => frame,
                Step::Reply(body) => {
                    if codec::write_frame(&mut writer, &body).await.is_err() {
                        break;
                    }
                    continue;
                }
                Step::Authenticated(body, user) => {
                    tracing::debug!(target: "org.apache.kafka.common.security.authenticator.SaslServerAuthenticator", "Authenticated user {user} from {} on listener {} with mechanism PLAIN.", ctx.peer, ctx.listener);
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
