//! The shippable agent image (`deploy/agent-image/build.sh`: FROM scratch, nothing pulled)
//! runs as the README tells operators to run it — host pid namespace, the Docker socket, every
//! capability dropped but the two of `deploy/kroll-agent.service` — answers over mutual TLS
//! and reads a JVM heap of another container's non-root user; with either capability taken
//! away it reads none, so the unit asks for exactly what it needs.

use std::path::Path;
use std::time::{Duration, Instant};

use kroll_shared::jvm::Liveness;
use kroll_tests::{Pki, bin, docker_cli, eventually, run_id};

use super::proc_root::{ContainerAgent, client, free_port};
use super::start_java;

/// The image built by the shipped script from the debug binary, removed when dropped.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

fn build_image() -> Image {
    let tag = format!("kroll-test.local/kroll-agent-image:{}", run_id());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/agent-image/build.sh");
    let out = std::process::Command::new(&script)
        .arg(bin("kroll-agent"))
        .arg(&tag)
        .args(["--label", &format!("kroll.test.run={}", run_id())])
        .output()
        .expect("deploy/agent-image/build.sh");
    assert!(
        out.status.success(),
        "build.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), tag);
    Image(tag)
}

/// The agent from `image` in the host's pid namespace with only `caps`.
fn start(image: &str, pki: &Pki, node: &str, dir: &Path, caps: &[&str]) -> ContainerAgent {
    let port = free_port();
    let config = format!(
        "node = \"{node}\"\nlisten = \"127.0.0.1:{port}\"\n\
         [tls]\nca = \"/etc/kroll/ca.pem\"\ncert = \"/etc/kroll/agent-{node}.pem\"\n\
         key = \"/etc/kroll/agent-{node}-key.pem\"\n\
         [allow]\nlabels = {{ \"kroll.node\" = \"{node}\", \"kroll.test.run\" = \"{run}\" }}\n\
         [audit]\npath = \"/var/lib/kroll/audit.log\"\n[sampling]\ninterval_ms = 200\n",
        run = run_id()
    );
    // At /etc/kroll/agent.toml, beside the certificates: the image's default command reads it.
    std::fs::write(pki.dir.path().join("agent.toml"), config).expect("agent config");
    let name = format!("{}-image-{}", run_id(), caps.join("-").to_lowercase());
    let mut args = vec![
        "run".to_owned(),
        "-d".into(),
        "--name".into(),
        name.clone(),
        "--label".into(),
        format!("kroll.test.run={}", run_id()),
        "--pid".into(),
        "host".into(),
        "--network".into(),
        "host".into(),
        "--cap-drop".into(),
        "ALL".into(),
    ];
    for cap in caps {
        args.extend(["--cap-add".into(), (*cap).to_owned()]);
    }
    args.extend([
        "-v".into(),
        "/var/run/docker.sock:/var/run/docker.sock".into(),
        "-v".into(),
        format!("{}:/etc/kroll:ro", pki.dir.path().display()),
        "-v".into(),
        format!("{}:/var/lib/kroll", dir.display()),
        image.to_owned(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_cli(&refs);
    ContainerAgent {
        name,
        addr: format!("127.0.0.1:{port}").parse().expect("addr"),
    }
}

/// Heaps the agent reports for `container` over `window` (at least one answer).
async fn heaps_seen(
    pki: &Pki,
    node: &str,
    agent: &ContainerAgent,
    container: &str,
    window: Duration,
) -> usize {
    let mut c = client(pki, node, agent.addr).await;
    eventually(
        "the container listed",
        Duration::from_secs(30),
        async || c.node_state().await.ok()?.container(container).map(|_| ()),
    )
    .await;
    let began = Instant::now();
    let mut seen = 0;
    while began.elapsed() < window {
        let s = c.node_state().await.expect("state");
        seen += s
            .container(container)
            .and_then(|c| c.java.as_ref())
            .map_or(0, |j| j.jvms.iter().filter(|j| j.heap.is_some()).count());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_image_answers_and_reads_heaps_with_exactly_the_unit_s_two_capabilities() {
    let image = build_image();
    let version = docker_cli(&["run", "--rm", &image.0, "--version"]);
    let own = std::process::Command::new(bin("kroll-agent"))
        .arg("--version")
        .output()
        .expect("kroll-agent --version");
    assert_eq!(version.trim(), String::from_utf8_lossy(&own.stdout).trim());

    let node = "image";
    let pki = Pki::new(&[node]);
    let java = start_java("image-jvm", node, &[], &["-Xmx40m"], &["Idle", "8"]).await;

    let dir = tempfile::tempdir().expect("tmp");
    let both = start(
        &image.0,
        &pki,
        node,
        dir.path(),
        &["SYS_PTRACE", "DAC_READ_SEARCH"],
    );
    let mut c = client(&pki, node, both.addr).await;
    let jvm = eventually("the JVM's heap", Duration::from_secs(60), async || {
        let s = c.node_state().await.ok()?;
        let j = s
            .container(&java.name)?
            .java
            .as_ref()?
            .jvms
            .first()?
            .clone();
        (j.heap.is_some() && j.liveness == Liveness::Advancing).then_some(j)
    })
    .await;
    assert_eq!(jvm.heap.as_ref().and_then(|h| h.max_bytes), Some(40 << 20));
    drop(c);
    drop(both);

    for (caps, missing) in [
        (&["SYS_PTRACE"][..], "DAC_READ_SEARCH"),
        (&["DAC_READ_SEARCH"][..], "SYS_PTRACE"),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let agent = start(&image.0, &pki, node, dir.path(), caps);
        let seen = heaps_seen(&pki, node, &agent, &java.name, Duration::from_secs(2)).await;
        assert_eq!(
            seen, 0,
            "without {missing} no heap of another user's JVM can be read"
        );
    }
}
