//! The agent under load (issue 11, item 9), the `kroll-agent` binary as users run it:
//!
//! * `agent-streams`: resident memory idle, then with N `WatchEvents` streams open (spread
//!   over connections of 10 streams, as many `kroll watch` would open), and whether every
//!   stream still carries an event (a container restarted with the streams open).
//! * `node-state-flood`: `GetNodeState` latency with C callers (one connection each) calling
//!   back to back for S seconds; refused calls (`RESOURCE_EXHAUSTED`, the call bound) are
//!   counted apart. With `--scrapers N`, N `/metrics` scrapers loop at the same time.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kroll::agents::AgentClient;
use kroll_shared::inventory::Node;
use kroll_tests::{Pki, Spec, TestContainer, on_node};

use super::{Guard, proc_figures};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running agent binary with `containers` labbox containers to watch.
struct Bench {
    agent: Guard,
    node: Node,
    metrics: std::net::SocketAddr,
    pki: Pki,
    boxes: Vec<TestContainer>,
    _dir: tempfile::TempDir,
}

async fn start(agent_bin: &std::path::Path, containers: u64) -> Bench {
    let name = "bench-load";
    let pki = Pki::new(&[name]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut boxes = Vec::new();
    for i in 0..containers {
        boxes.push(
            TestContainer::start(
                &format!("load-{i}"),
                Spec {
                    labels: on_node(name),
                    ..Default::default()
                },
            )
            .await,
        );
    }
    let (port, metrics_port) = (free_port(), free_port());
    let text = format!(
        "node = \"{name}\"\nlisten = \"127.0.0.1:{port}\"\n[tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n[allow]\nlabels = {{ \"kroll.node\" = \"{name}\", \"kroll.test.run\" = \"{run}\" }}\n[audit]\npath = \"{dir}/audit.log\"\n[sampling]\ninterval_ms = 1000\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n",
        ca = pki.path("ca.pem").display(),
        cert = pki.path(&format!("agent-{name}.pem")).display(),
        key = pki.path(&format!("agent-{name}-key.pem")).display(),
        run = kroll_tests::run_id(),
        dir = dir.path().display(),
    );
    let cfg = dir.path().join("agent.toml");
    std::fs::write(&cfg, text).expect("config");
    let child = Command::new(agent_bin)
        .arg("--config")
        .arg(&cfg)
        .stderr(Stdio::null())
        .spawn()
        .expect("agent");
    let agent = Guard(child);
    let node = Node {
        name: name.into(),
        agent: format!("127.0.0.1:{port}"),
        services: vec![],
    };
    let b = Bench {
        agent,
        node,
        metrics: ([127, 0, 0, 1], metrics_port).into(),
        pki,
        boxes,
        _dir: dir,
    };
    // Serving once a call succeeds.
    let began = Instant::now();
    loop {
        if let Ok(mut c) = b.client("reader").await
            && c.node_state().await.is_ok()
        {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the agent did not serve"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b
}

impl Bench {
    async fn client(&self, stem: &str) -> Result<AgentClient, kroll::agents::AgentCallError> {
        let tls = self.pki.files(stem).load().expect("tls");
        AgentClient::connect(&self.node, &tls, Duration::from_secs(10)).await
    }

    fn rss_mib(&self) -> f64 {
        proc_figures(self.agent.0.id()).0 as f64 / 1024.0
    }
}

pub async fn streams(agent_bin: &std::path::Path, streams: u64, containers: u64) {
    let b = start(agent_bin, containers).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = b.rss_mib();
    let got = Arc::new(AtomicUsize::new(0));
    let mut open = Vec::new();
    let mut client = None;
    for i in 0..streams {
        if i % 10 == 0 {
            client = Some(b.client("reader").await.expect("connect"));
        }
        let c = client.as_mut().expect("client");
        let mut s = Box::pin(c.watch(vec![]).await.expect("watch"));
        let got = Arc::clone(&got);
        open.push(tokio::spawn(async move {
            if let Some(Ok(_)) = s.next().await {
                got.fetch_add(1, Ordering::SeqCst);
            }
            // Keep the stream open until the benchmark ends.
            while s.next().await.is_some() {}
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let with_streams = b.rss_mib();
    kroll_tests::docker_cli(&["restart", "-t", "0", &b.boxes[0].name]);
    let began = Instant::now();
    while got.load(Ordering::SeqCst) < streams as usize && began.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after_event = b.rss_mib();
    println!("agent-streams: streams={streams} containers={containers}");
    println!(
        "  rss idle={idle:.1} MiB, with {streams} streams={with_streams:.1} MiB (+{:.1} MiB), after an event through all of them={after_event:.1} MiB (+{:.1} MiB)",
        with_streams - idle,
        after_event - idle
    );
    println!(
        "  streams that carried the restart's event: {}/{streams} within {:.1} s",
        got.load(Ordering::SeqCst),
        began.elapsed().as_secs_f64()
    );
    for t in open {
        t.abort();
    }
}

async fn scrape(addr: std::net::SocketAddr) -> bool {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let Ok(mut c) = std::net::TcpStream::connect(addr) else {
            return false;
        };
        let _ = c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        c.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/1.1 200")
    })
    .await
    .unwrap_or(false)
}

pub async fn flood(
    agent_bin: &std::path::Path,
    callers: u64,
    scrapers: u64,
    seconds: u64,
    containers: u64,
) {
    let b = start(agent_bin, containers).await;
    let until = Instant::now() + Duration::from_secs(seconds);
    let scraped = Arc::new(AtomicUsize::new(0));
    let mut scraping = Vec::new();
    for _ in 0..scrapers {
        let (addr, scraped) = (b.metrics, Arc::clone(&scraped));
        scraping.push(tokio::spawn(async move {
            while Instant::now() < until {
                if scrape(addr).await {
                    scraped.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let mut calls = Vec::new();
    for _ in 0..callers {
        let mut c = b.client("reader").await.expect("connect");
        calls.push(tokio::spawn(async move {
            let (mut ok, mut refused, mut failed) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < until {
                let t = Instant::now();
                match c.node_state().await {
                    Ok(_) => ok.push(t.elapsed()),
                    Err(e)
                        if matches!(&e.kind, kroll::agents::CallErrorKind::Refused(s) if s.code() == tonic::Code::ResourceExhausted) =>
                    {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(_) => failed += 1,
                }
            }
            (ok, refused, failed)
        }));
    }
    let (mut lat, mut refused, mut failed) = (Vec::new(), 0, 0);
    for c in calls {
        let (ok, r, f) = c.await.expect("join");
        lat.extend(ok);
        refused += r;
        failed += f;
    }
    for s in scraping {
        let _ = s.await;
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p) as usize)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "node-state-flood: callers={callers} scrapers={scrapers} seconds={seconds} containers={containers}"
    );
    println!(
        "  GetNodeState answered={} p50={:.1} ms p99={:.1} ms max={:.1} ms; refused (RESOURCE_EXHAUSTED)={refused}; failed otherwise={failed}",
        lat.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "  /metrics scrapes answered={} ; agent rss={:.1} MiB",
        scraped.load(Ordering::SeqCst),
        b.rss_mib()
    );
}
