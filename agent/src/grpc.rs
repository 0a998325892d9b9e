//! The `kroll.agent.v1.Agent` gRPC service: reads the caller's identity from its client
//! certificate, converts wire types at the edge and hands everything else to [`Core`].

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use kroll_proto::agent::v1 as pb;
use kroll_shared::model::Event;
use kroll_shared::tls::{PeerIdentity, Permission, peer_identity};
use tokio::sync::{broadcast, watch};
use tonic::{Request, Response, Status};

use crate::node::Core;
use crate::runtime::ContainerRuntime;

/// The service handed to tonic.
#[derive(Debug)]
pub struct AgentService<R> {
    core: Arc<Core<R>>,
    stop: watch::Receiver<bool>,
}

impl<R> AgentService<R> {
    /// A service over `core`; event streams end when `stop` turns true.
    pub fn new(core: Arc<Core<R>>, stop: watch::Receiver<bool>) -> Self {
        Self { core, stop }
    }
}

/// Who is calling: from the first certificate the client presented (TLS already verified it
/// against the cluster CA).
fn caller<T>(req: &Request<T>) -> Result<PeerIdentity, Status> {
    let certs = req.peer_certs().ok_or_else(|| {
        Status::unauthenticated("a client certificate from the cluster CA is required")
    })?;
    let first = certs
        .first()
        .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
    peer_identity(first.as_ref()).map_err(|e| Status::permission_denied(e.to_string()))
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl<R: ContainerRuntime> pb::agent_server::Agent for AgentService<R> {
    async fn get_node_state(
        &self,
        req: Request<pb::GetNodeStateRequest>,
    ) -> Result<Response<pb::NodeState>, Status> {
        let peer = caller(&req)?;
        self.core
            .authorize(&peer, Permission::Read, "read node state")
            .await?;
        let state = self.core.node_state().await?;
        Ok(Response::new(state.into()))
    }

    async fn restart_container(
        &self,
        req: Request<pb::RestartContainerRequest>,
    ) -> Result<Response<pb::RestartContainerResponse>, Status> {
        let peer = caller(&req)?;
        self.core
            .authorize(&peer, Permission::Mutate, "restart containers")
            .await?;
        let r = req.into_inner();
        let o = self
            .core
            .restart(&peer, &r.operation_id, &r.container, r.stop_timeout_seconds)
            .await?;
        Ok(Response::new(pb::RestartContainerResponse {
            operation_id: r.operation_id,
            container: o.container.map(Into::into),
            started_at_unix_ms: o.started_at_unix_ms,
            killed_after_timeout: o.killed_after_timeout,
            replayed: o.replayed,
            stop_duration_ms: o.stop_duration_ms,
        }))
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let peer = caller(&req)?;
        self.core
            .authorize(&peer, Permission::Read, "watch events")
            .await?;
        let only = req.into_inner().containers;
        let rx = self.core.events.subscribe();
        let hub = Arc::clone(&self.core.events);
        let stop = self.stop.clone();
        let stream = futures::stream::unfold((rx, stop), move |(mut rx, mut stop)| {
            let hub = Arc::clone(&hub);
            let only = only.clone();
            async move {
                loop {
                    let next = tokio::select! {
                        r = rx.recv() => r,
                        _ = stop.changed() => return None,
                    };
                    let event: Event = match next {
                        Ok(e) if only.is_empty() || only.contains(&e.container_name) => e,
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(n)) => hub.lost(n),
                        Err(broadcast::error::RecvError::Closed) => return None,
                    };
                    return Some((Ok(event.into()), (rx, stop)));
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

impl From<crate::error::AgentError> for Box<Status> {
    fn from(e: crate::error::AgentError) -> Self {
        Box::new(e.into())
    }
}
