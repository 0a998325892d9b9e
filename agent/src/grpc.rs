//! The `kroll.agent.v1.Agent` gRPC service: reads the caller's identity from its client
//! certificate, converts wire types at the edge and hands everything else to [`Core`].

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use kroll_proto::agent::v1 as pb;
use kroll_shared::model::Event;
use kroll_shared::tls::{PeerIdentity, Permission, client_identity};
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

/// What a recreate or a service update asks for, from its request's fields (empty = unchanged).
fn replacement(
    image: &str,
    hostname: &str,
    env: Option<pb::EnvPatch>,
    stop_timeout_s: u32,
) -> crate::actions::Replacement {
    crate::actions::Replacement {
        image: Some(image.to_owned()).filter(|i| !i.is_empty()),
        env: env
            .map(kroll_shared::wire::env_patch_from_wire)
            .unwrap_or_default(),
        hostname: Some(hostname.to_owned()).filter(|h| !h.is_empty()),
        stop_timeout_s,
    }
}

/// Who is calling: from the certificate the client presented (TLS already verified its chain
/// to the cluster CA); it must be a client certificate presented alone.
fn caller<T>(req: &Request<T>) -> Result<PeerIdentity, Status> {
    let certs = req.peer_certs().ok_or_else(|| {
        Status::unauthenticated("a client certificate from the cluster CA is required")
    })?;
    let chain: Vec<&[u8]> = certs.iter().map(|c| c.as_ref()).collect();
    client_identity(&chain).map_err(|e| Status::unauthenticated(e.to_string()))
}

/// Runs a mutating action on its own task: a caller that disconnects (a coordinator killed
/// mid-call) must not cancel a restart half-way; its retry with the same operation id waits
/// for this one and gets its answer.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, crate::error::AgentError>> + Send + 'static,
) -> Result<T, Status> {
    match tokio::spawn(work).await {
        Ok(r) => r.map_err(Status::from),
        Err(e) => Err(Status::internal(format!("the action's task failed: {e}"))),
    }
}

/// The most image references one `ImagePresent` call may ask about (each costs a Docker
/// request; an upgrade asks about a handful).
pub const MAX_IMAGES_PER_CALL: usize = 256;

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl<R: ContainerRuntime> pb::agent_server::Agent for AgentService<R> {
    async fn get_node_state(
        &self,
        req: Request<pb::GetNodeStateRequest>,
    ) -> Result<Response<pb::NodeState>, Status> {
        let peer = caller(&req)?;
        self.core
            .authorize(&peer, Permission::Read, "read node state")?;
        let state = self.core.node_state().await?;
        Ok(Response::new(state.into()))
    }

    async fn restart_container(
        &self,
        req: Request<pb::RestartContainerRequest>,
    ) -> Result<Response<pb::RestartContainerResponse>, Status> {
        let peer = caller(&req)?;
        let asked = req.get_ref();
        self.core
            .authorize_mutation(
                &peer,
                "restart containers",
                &asked.operation_id,
                &asked.container,
            )
            .await?;
        let r = req.into_inner();
        let (core, args) = (Arc::clone(&self.core), r.clone());
        let a = detached(async move {
            core.restart(
                &peer,
                &args.operation_id,
                &args.container,
                args.stop_timeout_seconds,
            )
            .await
        })
        .await?;
        Ok(Response::new(pb::RestartContainerResponse {
            operation_id: r.operation_id,
            container: a.container.map(Into::into),
            started_at_unix_ms: a.outcome.started_at_unix_ms,
            killed_after_timeout: a.outcome.killed_after_timeout,
            replayed: a.replayed,
            stop_duration_ms: a.outcome.stop_duration_ms,
        }))
    }

    async fn recreate_container(
        &self,
        req: Request<pb::RecreateContainerRequest>,
    ) -> Result<Response<pb::RecreateContainerResponse>, Status> {
        let peer = caller(&req)?;
        let asked = req.get_ref();
        self.core
            .authorize_mutation(
                &peer,
                "recreate containers",
                &asked.operation_id,
                &asked.container,
            )
            .await?;
        let r = req.into_inner();
        let change = replacement(&r.image, &r.hostname, r.env.clone(), r.stop_timeout_seconds);
        let (core, args) = (Arc::clone(&self.core), r.clone());
        let a = detached(async move {
            core.recreate(&peer, &args.operation_id, &args.container, change)
                .await
        })
        .await?;
        Ok(Response::new(pb::RecreateContainerResponse {
            operation_id: r.operation_id,
            container: a.container.map(Into::into),
            replayed: a.replayed,
            stop_duration_ms: a.outcome.stop_duration_ms,
            killed_after_timeout: a.outcome.killed_after_timeout,
            previous_image: a.outcome.previous_image,
        }))
    }

    async fn rollback_container(
        &self,
        req: Request<pb::RollbackContainerRequest>,
    ) -> Result<Response<pb::RollbackContainerResponse>, Status> {
        let peer = caller(&req)?;
        let asked = req.get_ref();
        self.core
            .authorize_mutation(
                &peer,
                "roll back containers",
                &asked.operation_id,
                &asked.container,
            )
            .await?;
        let r = req.into_inner();
        let (core, args) = (Arc::clone(&self.core), r.clone());
        let a = detached(async move {
            core.rollback(
                &peer,
                &args.operation_id,
                &args.container,
                args.stop_timeout_seconds,
            )
            .await
        })
        .await?;
        Ok(Response::new(pb::RollbackContainerResponse {
            operation_id: r.operation_id,
            container: a.container.map(Into::into),
            replayed: a.replayed,
            restored_image: a.outcome.restored_image,
        }))
    }

    async fn update_service(
        &self,
        req: Request<pb::UpdateServiceRequest>,
    ) -> Result<Response<pb::UpdateServiceResponse>, Status> {
        let peer = caller(&req)?;
        let asked = req.get_ref();
        self.core
            .authorize_mutation(
                &peer,
                "update services",
                &asked.operation_id,
                &asked.service,
            )
            .await?;
        let r = req.into_inner();
        let change = replacement(&r.image, &r.hostname, r.env.clone(), r.stop_timeout_seconds);
        let (core, args) = (Arc::clone(&self.core), r.clone());
        let a = detached(async move {
            core.update_service(&peer, &args.operation_id, &args.service, change)
                .await
        })
        .await?;
        Ok(Response::new(pb::UpdateServiceResponse {
            operation_id: r.operation_id,
            service: r.service,
            replayed: a.replayed,
            task_id: a.outcome.task_id,
            previous_image: a.outcome.previous_image,
            image: a.outcome.image,
            elapsed_ms: a.outcome.elapsed_ms,
        }))
    }

    async fn restore_service(
        &self,
        req: Request<pb::RestoreServiceRequest>,
    ) -> Result<Response<pb::RestoreServiceResponse>, Status> {
        let peer = caller(&req)?;
        let asked = req.get_ref();
        self.core
            .authorize_mutation(
                &peer,
                "restore services",
                &asked.operation_id,
                &asked.service,
            )
            .await?;
        let r = req.into_inner();
        let (core, args) = (Arc::clone(&self.core), r.clone());
        let a = detached(async move {
            core.restore_service(
                &peer,
                &args.operation_id,
                &args.service,
                args.stop_timeout_seconds,
            )
            .await
        })
        .await?;
        Ok(Response::new(pb::RestoreServiceResponse {
            operation_id: r.operation_id,
            service: r.service,
            replayed: a.replayed,
            task_id: a.outcome.task_id,
            restored_image: a.outcome.image,
            elapsed_ms: a.outcome.elapsed_ms,
        }))
    }

    async fn describe_stack(
        &self,
        req: Request<pb::DescribeStackRequest>,
    ) -> Result<Response<pb::DescribeStackResponse>, Status> {
        let peer = caller(&req)?;
        // Read-only, but MACs under a caller's nonce are for the coordinator only (a reader
        // could test guesses of a value against them).
        self.core
            .authorize(&peer, Permission::Mutate, "describe stacks")?;
        let r = req.into_inner();
        let services = self.core.describe_stack(&r.stack, &r.nonce).await?;
        Ok(Response::new(pb::DescribeStackResponse {
            services: services
                .into_iter()
                .map(|s| pb::StackService {
                    name: s.name,
                    image: s.image,
                    env: s
                        .env
                        .into_iter()
                        .map(|e| pb::StackServiceEnv {
                            name: e.name,
                            has_value: e.mac.is_some(),
                            value_mac: e.mac.unwrap_or_default(),
                        })
                        .collect(),
                    hostname: s.hostname,
                    stop_grace_period_ms: s.stop_grace_period.map_or(0, crate::actions::millis),
                    labels: s.labels.into_iter().collect(),
                })
                .collect(),
        }))
    }

    async fn pull_image(
        &self,
        req: Request<pb::PullImageRequest>,
    ) -> Result<Response<pb::PullImageResponse>, Status> {
        let peer = caller(&req)?;
        let asked = req.get_ref();
        self.core
            .authorize_mutation(&peer, "pull images", &asked.operation_id, &asked.image)
            .await?;
        let r = req.into_inner();
        let (core, args) = (Arc::clone(&self.core), r.clone());
        let a = detached(async move {
            core.pull(&peer, &args.operation_id, &args.image, args.refresh)
                .await
        })
        .await?;
        Ok(Response::new(pb::PullImageResponse {
            image_id: a.outcome.image_id,
            already_present: a.outcome.already_present,
            repo_digests: a.outcome.repo_digests,
            labels: a.outcome.labels.into_iter().collect(),
        }))
    }

    async fn image_present(
        &self,
        req: Request<pb::ImagePresentRequest>,
    ) -> Result<Response<pb::ImagePresentResponse>, Status> {
        let peer = caller(&req)?;
        self.core
            .authorize(&peer, Permission::Read, "read images")?;
        let images = req.into_inner().images;
        if images.len() > MAX_IMAGES_PER_CALL {
            return Err(Status::invalid_argument(format!(
                "{} image references in one call; at most {MAX_IMAGES_PER_CALL} are accepted",
                images.len()
            )));
        }
        let present = self
            .core
            .runtime
            .image_ids(&images)
            .await
            .map_err(crate::error::AgentError::from)?;
        let missing = images
            .into_iter()
            .filter(|i| !present.contains_key(i))
            .collect();
        Ok(Response::new(pb::ImagePresentResponse {
            present: present.into_iter().collect(),
            missing,
        }))
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let peer = caller(&req)?;
        self.core
            .authorize(&peer, Permission::Read, "watch events")?;
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
