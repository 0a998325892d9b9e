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

/// A simulated agent: the same snapshot, under its own node name.
#[derive(Debug, Clone)]
struct SimAgent {
    state: pb::NodeState,
}

type Events = Pin<Box<dyn futures::Stream<Item = Result<pb::Event, Status>> + Send>>;

fn simulated() -> Status {
    Status::unimplemented("a simulated agent only answers GetNodeState")
}

#[tonic::async_trait]
impl pb::agent_server::Agent for SimAgent {
    async fn get_node_state(
        &self,
        _: Request<pb::GetNodeStateRequest>,
    ) -> Result<Response<pb::NodeState>, Status> {
        Ok(Response::new(self.state.clone()))
    }

    async fn restart_container(
        &self,
        _: Request<pb::RestartContainerRequest>,
    ) -> Result<Response<pb::RestartContainerResponse>, Status> {
        Err(simulated())
    }

    type WatchEventsStream = Events;

    async fn watch_events(
        &self,
        _: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Events>, Status> {
        Err(simulated())
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

pub async fn run(agents: u64, rounds: u64) {
    let names: Vec<String> = (1..=agents).map(|i| format!("sim-{i:03}")).collect();
    let mut refs: Vec<&str> = names.iter().map(String::as_str).collect();
    refs.push("real-node");
    let pki = Pki::new(&refs);
    let dir = tempfile::tempdir().expect("tmp");

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
    let real =
        kroll_tests::RunningAgent::start(&pki, "real-node", allow_node("real-node"), dir.path())
            .await;
    let node: kroll_shared::inventory::Node = serde_json::from_value(
        serde_json::json!({"name": "real-node", "agent": real.addr.to_string()}),
    )
    .expect("node");
    let tls = pki.files("coordinator").load().expect("coordinator TLS");
    let snapshot = kroll::agents::AgentClient::connect(&node, &tls, Duration::from_secs(5))
        .await
        .expect("real agent")
        .node_state()
        .await
        .expect("real node state");
    real.stop().await;
    drop(boxes);
    let base = pb::NodeState::from(snapshot);

    let mut inv = format!(
        "[cluster]\nname = \"sim\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[agents]\ntimeout_ms = 10000\n",
        pki.path("ca.pem").display(),
        pki.path("coordinator.pem").display(),
        pki.path("coordinator-key.pem").display()
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for name in &names {
        let mut state = base.clone();
        if let Some(a) = state.agent.as_mut() {
            a.node = name.clone();
        }
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
            .add_service(pb::agent_server::AgentServer::new(SimAgent { state }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            );
        servers.push(tokio::spawn(server));
    }
    let inv_path = dir.path().join("kroll.toml");
    std::fs::write(&inv_path, &inv).expect("inventory");

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
    let _ = stop_tx.send(true);
    for s in servers {
        let _ = s.await;
    }
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
