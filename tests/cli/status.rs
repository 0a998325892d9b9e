//! `kroll certs init` → agents with those certificates → `kroll status` (text and JSON) and
//! `kroll restart`, including an unreachable node and a malformed inventory.

use std::time::{Duration, Instant};

use kroll_agent::config::AgentConfig;
use kroll_shared::tls::TlsFiles;
use kroll_tests::{RunningAgent, Spec, TestContainer, allow_node, on_node, run_id};

use super::{kroll, text};

async fn start_agent(dir: &std::path::Path, node: &str) -> RunningAgent {
    let certs = dir.join("certs");
    let tls = TlsFiles {
        ca: certs.join("ca.pem"),
        cert: certs.join(format!("agent-{node}.pem")),
        key: certs.join(format!("agent-{node}-key.pem")),
    };
    let pki_dummy = kroll_tests::Pki::new(&[]);
    let mut config: AgentConfig =
        kroll_tests::agent_config(&pki_dummy, node, allow_node(node), dir);
    config.tls = tls;
    let agent = kroll_agent::Agent::start(config).await.expect("agent");
    RunningAgent::from_started(node, agent, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn certs_init_then_status_and_restart_through_the_cli() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let out = kroll(
        &[
            "certs",
            "init",
            "--out",
            "certs",
            "--cluster",
            "clitest",
            "--node",
            "cli-a=127.0.0.1",
            "--node",
            "cli-b=127.0.0.1",
            "--node",
            "cli-dead=127.0.0.1",
        ],
        d,
    );
    assert!(out.status.success(), "certs init: {:?}", text(&out));
    let again = kroll(
        &[
            "certs",
            "init",
            "--out",
            "certs",
            "--cluster",
            "clitest",
            "--node",
            "cli-a",
        ],
        d,
    );
    assert_eq!(
        again.status.code(),
        Some(1),
        "refuses to overwrite: {:?}",
        text(&again)
    );
    assert!(
        text(&again).1.contains("refusing to overwrite"),
        "{:?}",
        text(&again)
    );

    let a1 = TestContainer::start(
        "cli-a1",
        Spec {
            labels: on_node("cli-a"),
            ..Default::default()
        },
    )
    .await;
    let b1 = TestContainer::start(
        "cli-b1",
        Spec {
            labels: on_node("cli-b"),
            ..Default::default()
        },
    )
    .await;
    let agent_a = start_agent(d, "cli-a").await;
    let agent_b = start_agent(d, "cli-b").await;
    // A port nothing listens on, for the dead node.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let inventory = format!(
        r#"[cluster]
name = "clitest"

[tls]
ca = "certs/ca.pem"
cert = "certs/coordinator.pem"
key = "certs/coordinator-key.pem"

[agents]
timeout_ms = 1500

[[nodes]]
name = "cli-a"
agent = "{a}"
services = [{{ kind = "broker", container = "{a1}", broker_id = 1 }}]

[[nodes]]
name = "cli-b"
agent = "{b}"
services = [{{ kind = "connect", container = "{b1}" }}, {{ kind = "kafdrop", container = "{run}-not-there" }}]

[[nodes]]
name = "cli-dead"
agent = "{dead}"
services = [{{ kind = "broker", container = "{run}-dead-broker", broker_id = 3 }}]
"#,
        a = agent_a.addr,
        b = agent_b.addr,
        a1 = a1.name,
        b1 = b1.name,
        run = run_id(),
    );
    std::fs::write(d.join("kroll.toml"), &inventory).expect("write inventory");

    let began = Instant::now();
    let out = kroll(&["status"], d);
    let took = began.elapsed();
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "problems → exit 3\n{stdout}\n{stderr}"
    );
    assert!(
        took < Duration::from_secs(6),
        "an unreachable agent must not stall status: {took:?}"
    );
    let row = stdout
        .lines()
        .find(|l| l.contains(&a1.name))
        .expect("a1 row");
    for word in ["cli-a", "broker", "running", "dev"] {
        assert!(row.contains(word), "`{word}` in {row}");
    }
    assert!(stdout.contains("agent on node `cli-dead`"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "container `{}-not-there` (kafdrop) is not there",
            run_id()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("2/3 agents reachable"), "{stdout}");

    let out = kroll(&["status", "--output", "json"], d);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["cluster"], "clitest");
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["nodes"][2]["reachable"], false);
    let row = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["container"] == a1.name.as_str())
        .expect("row");
    assert_eq!(row["state"], "running");
    assert_eq!(row["ok"], true);

    // A reader certificate may run status but not restart.
    let reader = [
        "--cert",
        "certs/reader.pem",
        "--key",
        "certs/reader-key.pem",
    ];
    let out = kroll(&[&reader[..], &["status"]].concat(), d);
    assert_eq!(out.status.code(), Some(3), "{:?}", text(&out));
    let out = kroll(&[&reader[..], &["restart", a1.name.as_str()]].concat(), d);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("may not restart containers"),
        "{:?}",
        text(&out)
    );

    let before = a1.started_at();
    let out = kroll(
        &[
            "restart",
            &a1.name,
            "--stop-timeout",
            "5s",
            "--operation-id",
            "cli-op-1",
        ],
        d,
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out).0.contains("stopped gracefully"),
        "{:?}",
        text(&out)
    );
    assert_ne!(a1.started_at(), before);
    let out = kroll(&["restart", "nope"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("container `nope` is not in the inventory"),
        "{:?}",
        text(&out)
    );

    agent_a.stop().await;
    agent_b.stop().await;
}

#[test]
fn a_malformed_inventory_is_named_with_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = "[cluster]\nname = \"x\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n[[nodes]]\nname = \"n1\"\nagent = \"127.0.0.1:notaport\"\n";
    std::fs::write(dir.path().join("inv.toml"), bad).expect("write");
    let out = kroll(&["status", "--inventory", "inv.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("inv.toml:9: key `nodes[0].agent`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`notaport` is not a port number"),
        "{stderr}"
    );
    let out = kroll(&["status", "--inventory", "missing.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert_eq!(
        stderr.trim_end(),
        "kroll: missing.toml: cannot read the file: no such file",
        "one line naming the path, the OS error said once"
    );
}
