//! The lab's real services as host processes: Debian's ZooKeeper (a JVM), the lab broker
//! (`kroll-lab-broker`), and the lab's JVM Schema Registry and Connect workers started through
//! their image entrypoints (like `deploy/lab/java/test.sh` does), each on a free loopback port.
//! Every process is killed by its own PID when its guard drops, even when a test fails.
//! (Until `kroll_lab` runs these services in containers for the Connect tests too, this is
//! the fast way to a real Connect + Schema Registry + Kafka: a few seconds.)
//!
//! # Layout
//! - `mod.rs`: the jars, [`LabHome`] (an image's `/opt/lab` on the host), [`Proc`], raw calls.
//! - [`cluster`]: ZooKeeper + brokers, Schema Registry, Connect workers, an inventory.

pub mod cluster;

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use kroll::rest::Method;
use kroll::rest::{Access, Call, RestClient, RestError, RestOptions, no_extra_transient};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn require(path: &str, install: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: these tests need it ({install})"
    );
}

/// A hash of the lab's Java sources and entrypoints (the jar cache key).
fn sources_hash() -> u64 {
    let mut files = Vec::new();
    let mut stack = vec![
        repo().join("deploy/lab/java/src"),
        repo().join("deploy/lab/java/entrypoints"),
    ];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("lab java sources").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    files.sort();
    let mut h = std::hash::DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        std::fs::read(&f).expect("read source").hash(&mut h);
    }
    h.finish()
}

/// A scratch directory under the build's target directory (kept between runs: the jar cache).
fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf);
    target.unwrap_or_else(std::env::temp_dir).join("kroll-tmp")
}

/// The lab's jars, built once (cached by content under the target directory).
pub fn jars() -> &'static Path {
    static JARS: OnceLock<PathBuf> = OnceLock::new();
    JARS.get_or_init(|| {
        require(
            "/usr/lib/jvm/java-17-openjdk-amd64/bin/javac",
            "apt-get install openjdk-17-jdk-headless",
        );
        let dir = target_tmp().join(format!("lab-java-{:016x}", sources_hash()));
        if dir.join("lab-connect.jar").exists() {
            return dir;
        }
        std::fs::create_dir_all(target_tmp()).expect("scratch dir");
        let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
        let out = Command::new(repo().join("deploy/lab/java/build.sh"))
            .arg(&tmp)
            .output()
            .expect("running build.sh");
        assert!(
            out.status.success(),
            "deploy/lab/java/build.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Another test process may have won the race: then its copy is the same.
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dir
    })
}

/// A process of the lab, killed by its PID when dropped.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("log file");
        cmd.stdout(file.try_clone().expect("log"))
            .stderr(file)
            .stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self {
            name: name.to_owned(),
            log,
            child,
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks the process to stop (SIGTERM, by its PID) and waits up to 20 s, then kills it.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let began = Instant::now();
        while self.alive() && began.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `/opt/lab` of one platform version on the host: VERSION files, the entrypoints pointing at
/// this directory and the host JDK, the jars, and busybox applets as the only PATH.
#[derive(Debug)]
pub struct LabHome {
    pub root: tempfile::TempDir,
}

impl LabHome {
    pub fn new(platform: &str) -> Self {
        require("/usr/bin/busybox", "apt-get install busybox-static");
        let root = tempfile::Builder::new()
            .prefix("kroll-connect-test-")
            .tempdir()
            .expect("tmp");
        let home = root.path().join("opt-lab");
        std::fs::create_dir_all(home.join("bin")).expect("bin");
        std::fs::create_dir_all(home.join("lib")).expect("lib");
        let kafka = match platform {
            "7.1.1" => "3.1.1",
            "7.7.1" => "3.7.1",
            "7.8.0" => "3.8.0",
            other => panic!("platform {other}"),
        };
        std::fs::write(home.join("VERSION"), format!("{platform}\n")).expect("VERSION");
        std::fs::write(home.join("KAFKA_VERSION"), format!("{kafka}\n")).expect("KAFKA_VERSION");
        for e in std::fs::read_dir(repo().join("deploy/lab/java/entrypoints"))
            .expect("entrypoints")
            .flatten()
        {
            let text = std::fs::read_to_string(e.path())
                .expect("entrypoint")
                .replace(
                    "\nLAB_HOME=/opt/lab\n",
                    &format!("\nLAB_HOME='{}'\n", home.display()),
                )
                .replace(
                    "\nJAVA_HOME=/opt/java\n",
                    "\nJAVA_HOME='/usr/lib/jvm/java-17-openjdk-amd64'\n",
                );
            std::fs::write(home.join("bin").join(e.file_name()), text).expect("write entrypoint");
        }
        for jar in std::fs::read_dir(jars()).expect("jars").flatten() {
            if jar.path().extension().is_some_and(|x| x == "jar") {
                std::os::unix::fs::symlink(jar.path(), home.join("lib").join(jar.file_name()))
                    .expect("jar link");
            }
        }
        let bb = root.path().join("busybox-bin");
        std::fs::create_dir_all(&bb).expect("busybox dir");
        let list = Command::new("busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|l| !l.is_empty())
        {
            std::os::unix::fs::symlink("/usr/bin/busybox", bb.join(applet)).expect("applet");
        }
        Self { root }
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.path().join(name);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    /// Starts a JVM service through its entrypoint with exactly `env` (plus PATH and TMPDIR).
    pub fn service(&self, name: &str, entrypoint: &str, env: &BTreeMap<String, String>) -> Proc {
        let mut cmd = Command::new("/usr/bin/busybox");
        cmd.arg("sh")
            .arg(self.root.path().join("opt-lab/bin").join(entrypoint));
        cmd.env_clear()
            .env("PATH", self.root.path().join("busybox-bin"))
            .env("TMPDIR", self.dir(&format!("tmp-{name}")));
        cmd.envs(env);
        Proc::spawn(name, cmd, self.root.path().join(format!("{name}.log")))
    }
}

/// Polls until `url` answers HTTP (any status) or panics with the process's log. An
/// `https://` URL is ready when its port accepts connections (the lab binds it after its TLS
/// context is set up).
pub fn await_http(proc: &mut Proc, url: &str, timeout: Duration) {
    let began = Instant::now();
    let https = url.starts_with("https://");
    let addr = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    loop {
        assert!(proc.alive(), "{} exited:\n{}", proc.name, proc.log_tail());
        if https && TcpStream::connect(&addr).is_ok() {
            return;
        }
        if let Ok(mut s) = TcpStream::connect(&addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut buf = [0u8; 12];
            if s.read(&mut buf).is_ok_and(|n| n > 0) {
                return;
            }
        }
        assert!(
            began.elapsed() < timeout,
            "{} did not answer at {url} within {timeout:?}:\n{}",
            proc.name,
            proc.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A REST client for raw calls in tests (assertions and destructive changes).
pub fn raw(url: &str) -> RestClient {
    let options = RestOptions {
        attempts: 1,
        ..RestOptions::default()
    };
    RestClient::new("test", url, options, no_extra_transient).expect("client")
}

/// A raw call: the JSON answer (or `null` for an empty one), or the error.
pub async fn call(
    url: &str,
    method: Method,
    path: &[&str],
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, RestError> {
    call_as(url, &Access::default(), method, path, body).await
}

/// [`call`] logged in with `access` (an inventory section's CA and basic auth, as kroll reads
/// them: `Access::from_inventory`).
pub async fn call_as(
    url: &str,
    access: &Access,
    method: Method,
    path: &[&str],
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, RestError> {
    let mut c = Call::new(method, path);
    if let Some(b) = body {
        c = c.json(&b);
    }
    let options = RestOptions {
        attempts: 1,
        ..RestOptions::default()
    };
    let client = RestClient::with_access("test", url, options, no_extra_transient, access.clone())
        .expect("client");
    let bytes = client.send(&c).await?;
    Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}
