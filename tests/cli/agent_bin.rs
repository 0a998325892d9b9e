//! The `kroll-agent` binary: bad configuration exits 2 before binding, naming file, line and
//! key; SIGTERM shuts it down gracefully.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kroll_tests::{Pki, bin};

fn write_config(dir: &std::path::Path, pki: &Pki, port: u16, extra: &str) -> std::path::PathBuf {
    write_config_with(dir, pki, port, extra, ("agent-node-bin", "agent-node-bin"))
}

/// A configuration whose certificate and key are `<cert stem>.pem` and `<key stem>-key.pem`.
fn write_config_with(
    dir: &std::path::Path,
    pki: &Pki,
    port: u16,
    extra: &str,
    (cert_stem, key_stem): (&str, &str),
) -> std::path::PathBuf {
    let text = format!(
        r#"node = "node-bin"
listen = "127.0.0.1:{port}"
{extra}
[tls]
ca = "{ca}"
cert = "{cert}"
key = "{key}"

[allow]
labels = {{ "kroll.node" = "node-bin" }}

[audit]
path = "audit.log"
"#,
        ca = pki.path("ca.pem").display(),
        cert = pki.path(&format!("{cert_stem}.pem")).display(),
        key = pki.path(&format!("{key_stem}-key.pem")).display(),
    );
    let p = dir.join("agent.toml");
    std::fs::write(&p, text).expect("write");
    p
}

/// No audit log was opened and the port was never taken.
fn assert_nothing_started(dir: &std::path::Path, port: u16) {
    assert!(!dir.join("audit.log").exists(), "nothing was started");
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "the port was never taken"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn bad_agent_configuration_exits_2_naming_file_line_and_key_without_binding() {
    let pki = Pki::new(&["node-bin"]);
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        &pki,
        port,
        "sampling = { interval_ms = \"fast\" }",
    );
    let out = Command::new(bin("kroll-agent"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("agent.toml:3:"), "{stderr}");
    assert!(stderr.contains("sampling.interval_ms"), "{stderr}");
    assert_nothing_started(dir.path(), port);

    let cfg = write_config(dir.path(), &pki, port, "");
    std::fs::remove_file(pki.path("agent-node-bin-key.pem")).expect("rm key");
    let out = Command::new(bin("kroll-agent"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("agent-node-bin-key.pem: cannot read private key"),
        "{stderr}"
    );
}

#[test]
fn a_certificate_that_does_not_fit_its_key_role_or_node_exits_2_before_anything_is_touched() {
    let pki = Pki::new(&["node-bin", "node-other"]);
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let cases = [
        (
            ("agent-node-bin", "agent-node-other"),
            "does not belong to the certificate",
        ),
        (
            ("coordinator", "coordinator"),
            "role is `coordinator`, not `agent`",
        ),
        (
            ("agent-node-other", "agent-node-other"),
            "not for node `node-bin`",
        ),
    ];
    for (stems, why) in cases {
        let cfg = write_config_with(dir.path(), &pki, port, "", stems);
        for check in [true, false] {
            let mut cmd = Command::new(bin("kroll-agent"));
            if check {
                cmd.arg("--check");
            }
            let out = cmd.arg("--config").arg(&cfg).output().expect("run");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{stems:?} check={check}: {stderr}"
            );
            assert!(stderr.contains(why), "{stems:?}: {stderr}");
            assert_nothing_started(dir.path(), port);
        }
    }
}

#[test]
fn sigterm_shuts_the_agent_down_gracefully() {
    let pki = Pki::new(&["node-bin"]);
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let cfg = write_config(dir.path(), &pki, port, "");
    let check = Command::new(bin("kroll-agent"))
        .args(["--check", "--config"])
        .arg(&cfg)
        .output()
        .expect("check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut child = ChildGuard(
        Command::new(bin("kroll-agent"))
            .arg("--config")
            .arg(&cfg)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let pid = child.0.id().to_string();
    let mut lines = BufReader::new(child.0.stderr.take().expect("stderr")).lines();
    let serving = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("Agent serving."));
    assert!(serving, "the agent never reported serving");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "listening"
    );
    let began = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.0.wait().expect("wait");
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        began.elapsed()
    );
}

/// Kills the agent this test started if the test fails before it exits (std's `Child::kill`
/// does nothing to a child already reaped, so no other process can be hit).
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
