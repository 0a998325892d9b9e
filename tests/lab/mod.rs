//! The lab (`kroll-lab up` / `down`) and its images, against the real Docker engine, with
//! clients nobody here wrote (kcat, rdkafka) and the real JVMs.
//!
//! Each test that needs a lab starts its own under a unique name (`<run id><suffix>`), on free
//! ports, labelled `kroll.test.run=<run id>`, and removes it through [`TestLab`]'s `Drop`
//! even when it fails. The full lab is shared by the checks that do not disturb each other
//! (kcat, Connect 7.7.1, OOM); broker stops and IBP changes get their own Kafka-only labs;
//! `upgrade_connect` upgrades two full labs (one pass with Connect, on a Swarm SASL lab;
//! `--skip-connect`); `security` runs a three-broker SASL lab with the REST services
//! (`--security sasl`), `tls` one with TLS listeners and SCRAM besides (`--security sasl-ssl`).

mod brokers;
mod cli;
mod connect;
mod full;
mod ibp;
mod images;
mod noloss;
mod security;
pub(crate) mod swarm;
mod swarm_service;
mod tls;
mod upgrade_connect;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kroll_lab::topology::{Services, Shape};
use kroll_lab::{DownOptions, DownReport, LabHandle, UpOptions};
use kroll_tests::run_id;

/// A lab started by a test; removed (`lab down`) when dropped unless already downed.
#[derive(Debug)]
pub struct TestLab {
    pub handle: LabHandle,
    _dir: tempfile::TempDir,
    downed: bool,
}

impl TestLab {
    /// Starts lab `<run id><suffix>` with `services`, agents when `agents`.
    pub async fn up(suffix: &str, services: Services, agents: bool) -> Self {
        Self::up_with(suffix, services, agents, Shape::LAB).await
    }

    /// Starts lab `<run id><suffix>` in `shape` with `services` and its agents.
    pub async fn up_shaped(suffix: &str, services: Services, shape: Shape) -> Self {
        Self::up_with(suffix, services, true, shape).await
    }

    async fn up_with(suffix: &str, services: Services, agents: bool, shape: Shape) -> Self {
        Self::up_custom(suffix, |opts| {
            opts.services = services;
            opts.shape = shape;
            opts.agents = agents;
        })
        .await
    }

    /// Starts lab `<run id><suffix>` in a temporary directory, labelled with the run, with the
    /// options `configure` sets (on [`UpOptions::new`]'s, progress printed to stderr).
    pub async fn up_custom(suffix: &str, configure: impl FnOnce(&mut UpOptions)) -> Self {
        let name = format!("{}{suffix}", run_id());
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = UpOptions::new(&name);
        opts.dir = Some(dir.path().join("lab"));
        opts.extra_labels = BTreeMap::from([("kroll.test.run".to_owned(), run_id().to_owned())]);
        let progress_name = name.clone();
        opts.progress = kroll_lab::Progress::new(move |l| eprintln!("[{progress_name}] {l}"));
        configure(&mut opts);
        match kroll_lab::up(opts).await {
            Ok(handle) => Self {
                handle,
                _dir: dir,
                downed: false,
            },
            Err(e) => {
                let _ = blocking_down(&name, dir.path().join("lab"));
                panic!("lab up {name}: {e}");
            }
        }
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.handle.name
    }

    /// Schema Registry's URL (a full lab has one).
    pub fn registry_url(&self) -> String {
        self.handle
            .schema_registry
            .clone()
            .expect("a full lab has Schema Registry")
    }

    /// How kroll logs in to the lab's Connect (`"[connect]"`) or Schema Registry
    /// (`"[schema_registry]"`): that section of the inventory the lab wrote, read as kroll
    /// reads it (a SASL lab's basic auth; nothing for a PLAINTEXT lab).
    pub fn rest_access(&self, section: &'static str) -> kroll::rest::Access {
        let inv = kroll_shared::inventory::Inventory::load(&self.handle.inventory)
            .unwrap_or_else(|e| panic!("the lab's inventory: {e}"));
        let settings = match section {
            "[connect]" => inv.connect.as_ref(),
            "[schema_registry]" => inv.schema_registry.as_ref(),
            other => panic!("no REST section {other}"),
        };
        kroll::rest::Access::from_inventory(section, settings)
            .unwrap_or_else(|e| panic!("the lab's {section}: {e}"))
    }

    /// `lab down`, explicitly (so the test can assert on what is left).
    pub async fn down(mut self) -> DownReport {
        self.downed = true;
        let mut opts = DownOptions::new(&self.handle.name);
        opts.dir = Some(self.handle.dir.clone());
        kroll_lab::down(opts).await.expect("lab down")
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if !self.downed {
            let _ = blocking_down(&self.handle.name, self.handle.dir.clone());
        }
        // `self._dir`, the temporary directory, goes after the lab.
    }
}

/// `lab down` from synchronous code (a `Drop`), on a runtime of its own.
fn blocking_down(name: &str, dir: std::path::PathBuf) -> Result<DownReport, String> {
    let name = name.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut opts = DownOptions::new(&name);
        opts.dir = Some(dir);
        rt.block_on(kroll_lab::down(opts))
            .map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "lab down panicked".to_owned())?
}

/// Fails the test unless a second `lab up` found every container of the lab running (and so
/// left it as it was).
pub fn assert_up_again_kept_every_container(again: &LabHandle) {
    assert!(
        again
            .containers
            .iter()
            .all(|(_, o)| *o == kroll_lab::docker::Outcome::Running),
        "{:?}",
        again.containers
    );
}

/// Fails the test when the main engine still has a container, network or volume labelled with
/// lab `name` (what `lab down` must remove).
pub fn assert_nothing_labelled(name: &str) {
    let filter = format!("label=kroll.lab={name}");
    for what in ["container", "network", "volume"] {
        let mut args = vec![what, "ls", "-q", "--filter", &filter];
        if what == "container" {
            args.push("-a");
        }
        let left = kroll_tests::docker_cli(&args);
        assert!(left.trim().is_empty(), "{what}s left by lab {name}: {left}");
    }
}

/// Runs Debian's kcat with `args`, `input` on stdin; returns stdout. Fails the test with what
/// to install when kcat is missing.
pub fn kcat(args: &[&str], input: &str) -> String {
    let out = kcat_output(args, input);
    assert!(
        out.status.success(),
        "kcat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `key:value` lines to `topic` with kcat, acks=all.
pub fn kcat_produce(bootstrap: &str, topic: &str, lines: &[String]) {
    kcat(
        &[
            "-b", bootstrap, "-P", "-t", topic, "-K", ":", "-X", "acks=all",
        ],
        &(lines.join("\n") + "\n"),
    );
}

/// Every record of `topic`, from its beginning to its end, as kcat prints them with `format`.
pub fn kcat_read(bootstrap: &str, topic: &str, format: &str) -> String {
    kcat(
        &[
            "-b",
            bootstrap,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            format,
        ],
        "",
    )
}

/// Runs Debian's kcat with `args`, `input` on stdin, whatever its exit status (a SASL
/// password goes in a `-F` file, never in `args`, which failing tests print). Without cargo's
/// `LD_LIBRARY_PATH`, so kcat loads Debian's librdkafka (with OpenSSL, for SASL_SSL and SSL)
/// rather than the one built for the tests' rdkafka.
pub fn kcat_output(args: &[&str], input: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new("kcat")
        .env_remove("LD_LIBRARY_PATH")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat (apt-get install kcat)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("kcat stdin");
    child.wait_with_output().expect("kcat")
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The virtualenv's python with the pinned independent clients (confluent-kafka,
/// kafka-python; `tests/clients/requirements.txt`), installing them when missing.
pub fn clients_python() -> PathBuf {
    let out = Command::new(repo().join("deploy/clients-venv.sh"))
        .output()
        .expect("running deploy/clients-venv.sh (needs bash)");
    assert!(
        out.status.success(),
        "the independent Kafka clients could not be installed (deploy/clients-venv.sh; needs \
         python3 with venv: apt-get install python3 python3-venv, and PyPI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A container's whole log (stdout and stderr).
pub fn container_logs(name: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", name])
        .output()
        .expect("docker logs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `deadline` with `what`
/// and the last thing seen.
pub async fn poll<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let began = std::time::Instant::now();
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => assert!(
                began.elapsed() < deadline,
                "timed out after {deadline:?} waiting for {what}; last: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
