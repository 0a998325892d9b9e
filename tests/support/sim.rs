//! Simulated agents for the UI's and `kroll status`'s fleet-sized checks: real gRPC servers
//! with mutual TLS (one certificate per node from the cluster CA, client certificates required)
//! that answer `GetNodeState` with the snapshot a real agent took of real containers, under
//! their own node names, and hold `WatchEvents` open with no event.

use std::pin::Pin;
use std::time::Duration;

use kroll_proto::agent::v1 as pb;
use tonic::{Request, Response, Status};

use crate::{Pki, TestContainer, allow_node};

/// A simulated agent: the same snapshot, under its own node name; with `live`, every answer is
/// a new sample (sampled now, each JVM's heap moving), as a real agent's are.
#[derive(Debug, Clone)]
struct SimAgent {
    state: kroll_shared::model::NodeState,
    live: bool,
}

impl SimAgent {
    fn answer(&self) -> pb::NodeState {
        if !self.live {
            return pb::NodeState::from(self.state.clone());
        }
        let now = kroll_shared::time::now_unix_ms();
        let mut state = self.state.clone();
        state.observed_at_unix_ms = now;
        for (i, c) in state.containers.iter_mut().enumerate() {
            for j in c.java.iter_mut().flat_map(|j| j.jvms.iter_mut()) {
                j.sampled_at_unix_ms = now;
                if let Some(h) = j.heap.as_mut() {
                    let max = h.max_bytes.unwrap_or(h.used_bytes.max(1) * 2);
                    // A saw-tooth between 20 % and 80 % of the maximum, a phase per container.
                    let phase = (now / 1000 + i as i64 * 7).rem_euclid(60) as u64;
                    h.used_bytes = max / 5 + max * 6 / 10 * phase / 60;
                    if let Some(old) = h.old.as_mut() {
                        old.used_bytes = h.used_bytes / 2;
                    }
                }
            }
        }
        pb::NodeState::from(state)
    }
}

type Events = Pin<Box<dyn futures::Stream<Item = Result<pb::Event, Status>> + Send>>;

fn simulated() -> Status {
    Status::unimplemented("a simulated agent only answers GetNodeState and WatchEvents")
}

#[tonic::async_trait]
impl pb::agent_server::Agent for SimAgent {
    async fn get_node_state(
        &self,
        _: Request<pb::GetNodeStateRequest>,
    ) -> Result<Response<pb::NodeState>, Status> {
        Ok(Response::new(self.answer()))
    }

    async fn restart_container(
        &self,
        _: Request<pb::RestartContainerRequest>,
    ) -> Result<Response<pb::RestartContainerResponse>, Status> {
        Err(simulated())
    }

    type WatchEventsStream = Events;

    /// A quiet agent's stream: open, and nothing happens.
    async fn watch_events(
        &self,
        _: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Events>, Status> {
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }

    async fn recreate_container(
        &self,
        _: Request<pb::RecreateContainerRequest>,
    ) -> Result<Response<pb::RecreateContainerResponse>, Status> {
        Err(simulated())
    }

    async fn rollback_container(
        &self,
        _: Request<pb::RollbackContainerRequest>,
    ) -> Result<Response<pb::RollbackContainerResponse>, Status> {
        Err(simulated())
    }

    async fn update_service(
        &self,
        _: Request<pb::UpdateServiceRequest>,
    ) -> Result<Response<pb::UpdateServiceResponse>, Status> {
        Err(simulated())
    }

    async fn restore_service(
        &self,
        _: Request<pb::RestoreServiceRequest>,
    ) -> Result<Response<pb::RestoreServiceResponse>, Status> {
        Err(simulated())
    }

    async fn describe_stack(
        &self,
        _: Request<pb::DescribeStackRequest>,
    ) -> Result<Response<pb::DescribeStackResponse>, Status> {
        Err(simulated())
    }

    async fn pull_image(
        &self,
        _: Request<pb::PullImageRequest>,
    ) -> Result<Response<pb::PullImageResponse>, Status> {
        Err(simulated())
    }

    async fn image_present(
        &self,
        _: Request<pb::ImagePresentRequest>,
    ) -> Result<Response<pb::ImagePresentResponse>, Status> {
        Err(simulated())
    }
}

/// N simulated agents over mutual TLS, and the inventory that lists them.
#[derive(Debug)]
pub struct Fleet {
    /// Kept: its files are the inventory's certificates.
    _pki: Pki,
    pub dir: tempfile::TempDir,
    pub inventory: std::path::PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl Fleet {
    /// `agents` agents serving what a real agent saw of `source` (started on node
    /// `real-node`, then removed) once it read `jvms` JVM heaps; `live`: heaps move and every
    /// answer is a new sample.
    pub async fn start(agents: u64, source: Vec<TestContainer>, jvms: usize, live: bool) -> Fleet {
        let names: Vec<String> = (1..=agents).map(|i| format!("sim-{i:03}")).collect();
        let mut refs: Vec<&str> = names.iter().map(String::as_str).collect();
        refs.push("real-node");
        let pki = Pki::new(&refs);
        let dir = tempfile::tempdir().expect("tmp");
        let mut config =
            crate::agent_config(&pki, "real-node", allow_node("real-node"), dir.path());
        config.sampling.interval_ms = 250;
        let real = crate::RunningAgent::from_started(
            "real-node",
            Box::pin(kroll_agent::Agent::start(config))
                .await
                .expect("agent"),
            dir.path(),
        );
        let node: kroll_shared::inventory::Node = serde_json::from_value(
            serde_json::json!({"name": "real-node", "agent": real.addr.to_string()}),
        )
        .expect("node");
        let tls = pki.files("coordinator").load().expect("coordinator TLS");
        let mut client = kroll::agents::AgentClient::connect(&node, &tls, Duration::from_secs(5))
            .await
            .expect("real agent");
        // Every container of the source, and `jvms` JVMs with their heaps read.
        let snapshot = crate::eventually(
            "the real agent's snapshot of the source",
            Duration::from_secs(90),
            async || {
                let s = client.node_state().await.ok()?;
                let read = s
                    .containers
                    .iter()
                    .flat_map(|c| c.java.iter().flat_map(|j| &j.jvms))
                    .filter(|j| j.heap.is_some())
                    .count();
                (s.containers.len() >= source.len() && read >= jvms).then_some(s)
            },
        )
        .await;
        real.stop().await;
        drop(source);

        let mut inv = format!(
            "[cluster]\nname = \"sim\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[agents]\ntimeout_ms = 10000\n",
            pki.path("ca.pem").display(),
            pki.path("coordinator.pem").display(),
            pki.path("coordinator-key.pem").display()
        );
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut servers = Vec::new();
        for name in &names {
            let mut state = snapshot.clone();
            state.agent.node = name.clone();
            let server_tls = pki
                .files(&format!("agent-{name}"))
                .load()
                .expect("agent TLS")
                .server_config();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            inv.push_str(&format!(
                "[[nodes]]\nname = \"{name}\"\nagent = \"{addr}\"\n"
            ));
            let mut stop = stop_rx.clone();
            let server = tonic::transport::Server::builder()
                .tls_config(server_tls)
                .expect("server TLS")
                .add_service(pb::agent_server::AgentServer::new(SimAgent { state, live }))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async move {
                        let _ = stop.wait_for(|s| *s).await;
                    },
                );
            servers.push(tokio::spawn(server));
        }
        let inventory = dir.path().join("kroll.toml");
        std::fs::write(&inventory, &inv).expect("inventory");
        Fleet {
            _pki: pki,
            dir,
            inventory,
            stop,
            servers,
        }
    }

    /// Stops every simulated agent.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for s in self.servers {
            let _ = s.await;
        }
    }
}
