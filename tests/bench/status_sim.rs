//! `status-sim`: the whole `kroll status` command against N simulated agents — real gRPC servers
//! with mutual TLS (one certificate per node from the cluster CA, client certificates required)
//! that answer `GetNodeState` with the snapshot a real agent took of 3 real containers — timed,
//! with the coordinator's peak memory (GNU time's maximum resident set size).

use std::pin::Pin;
use std::process::Command;
use std::time::Duration;

use kroll_proto::agent::v1 as pb;
use kroll_tests::{Pki, Spec, TestContainer, allow_node, on_node};
use tonic::{Request, Response, Status};

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
            kroll_tests::agent_config(&pki, "real-node", allow_node("real-node"), dir.path());
        config.sampling.interval_ms = 250;
        let real = kroll_tests::RunningAgent::from_started(
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
        let snapshot = kroll_tests::eventually(
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

pub async fn run(agents: u64, rounds: u64) {
    // The snapshot every simulated agent serves: a real agent's view of 3 real containers.
    let mut boxes = Vec::new();
    for j in 0..3 {
        boxes.push(
            TestContainer::start(
                &format!("simsrc-{j}"),
                Spec {
                    labels: on_node("real-node"),
                    ..Default::default()
                },
            )
            .await,
        );
    }
    let fleet = Fleet::start(agents, boxes, 0, false).await;
    let inv_path = fleet.inventory.clone();
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..rounds {
        let inv_path = inv_path.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("/usr/bin/time")
                .args(["-f", "kroll-bench-time %e %M"])
                .arg(kroll_tests::bin("kroll"))
                .args(["--output", "json", "--inventory"])
                .arg(&inv_path)
                .arg("status")
                .output()
                .expect("/usr/bin/time (Debian package `time`; deploy/setup.sh installs it)")
        })
        .await
        .expect("join");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let figures = stderr
            .lines()
            .find_map(|l| l.strip_prefix("kroll-bench-time "))
            .unwrap_or_else(|| panic!("no GNU time figures in: {stderr}"));
        let mut it = figures.split_whitespace();
        let secs: f64 = it.next().and_then(|v| v.parse().ok()).expect("elapsed");
        let kib: u64 = it.next().and_then(|v| v.parse().ok()).expect("max RSS");
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("kroll status --output json");
        let reached = json["nodes"]
            .as_array()
            .map_or(0, |n| n.iter().filter(|n| n["reachable"] == true).count());
        assert_eq!(
            reached as u64, agents,
            "every simulated agent answered: {stderr}"
        );
        times.push(secs);
        peaks.push(kib);
    }
    fleet.stop().await;
    times.sort_by(f64::total_cmp);
    peaks.sort_unstable();
    println!(
        "status-sim: agents={agents} (3 containers each, snapshot of a real agent), rounds={rounds}"
    );
    println!(
        "  `kroll status` whole command: median {:.2} s, max {:.2} s",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    println!(
        "  coordinator peak RSS: median {:.1} MiB, max {:.1} MiB",
        peaks[peaks.len() / 2] as f64 / 1024.0,
        peaks[peaks.len() - 1] as f64 / 1024.0
    );
}
