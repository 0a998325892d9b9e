//! Test fixture: real JVMs running `tests/fixtures/Idle.java`, killed by a
//! Drop guard (and exiting by themselves when their stdin closes), plus the
//! `jstat -gc` oracle.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// The JDK's `bin` directory: `$JAVA_HOME/bin`, the Debian JDK 17, or `PATH`.
/// Panics (the test fails) with a clear message when there is no JDK.
pub fn jdk_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let candidates = std::env::var_os("JAVA_HOME")
            .map(|h| PathBuf::from(h).join("bin"))
            .into_iter()
            .chain([PathBuf::from("/usr/lib/jvm/java-17-openjdk-amd64/bin")])
            .chain(
                std::env::var_os("PATH")
                    .iter()
                    .flat_map(std::env::split_paths)
                    .collect::<Vec<_>>(),
            );
        for dir in candidates {
            if ["java", "javac", "jstat"]
                .iter()
                .all(|t| dir.join(t).is_file())
            {
                return dir;
            }
        }
        panic!(
            "these tests need a JDK (java, javac, jstat): none in $JAVA_HOME/bin, \
             /usr/lib/jvm/java-17-openjdk-amd64/bin or PATH; install openjdk-17-jdk-headless"
        )
    })
}

/// Compiles the fixture once, into the target's temp dir (not `/tmp`, which
/// a namespaced JVM gets a private copy of).
fn classes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hsperf-fixture");
        std::fs::create_dir_all(&out).expect("create fixture dir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/Idle.java");
        let status = Command::new(jdk_bin().join("javac"))
            .arg("-d")
            .arg(&out)
            .arg(&src)
            .status()
            .expect("run javac");
        assert!(status.success(), "javac {} failed", src.display());
        out
    })
}

/// A running JVM that allocated `mb` MiB, ran `System.gc()` and now idles.
#[derive(Debug)]
pub struct Jvm {
    child: Child,
    /// Host pid of the JVM itself.
    pub pid: u32,
    /// What the JVM printed as its own pid (1 in a new pid namespace).
    pub inner_pid: u32,
}

impl Jvm {
    /// Starts `java <jvm_args> -cp <fixture> Idle 8` on the host.
    pub fn start(jvm_args: &[&str]) -> Jvm {
        let mut cmd = Command::new(jdk_bin().join("java"));
        cmd.args(jvm_args)
            .arg("-cp")
            .arg(classes())
            .args(["Idle", "8"]);
        Jvm::spawn(cmd, false)
    }

    /// Starts the JVM as pid 1 of a new pid namespace with a private `/tmp`
    /// (a tmpfs in a new mount namespace): a container in all that matters here.
    pub fn start_namespaced(jvm_args: &[&str]) -> Jvm {
        // The shell's cwd is the fixture dir, still reachable as `.` after the
        // tmpfs hides whatever lay under /tmp: copy the class into the tmpfs.
        let java = jdk_bin().join("java");
        let mut script = format!(
            "mount -t tmpfs tmpfs /tmp && mkdir /tmp/cp && cp Idle.class /tmp/cp/ && exec {}",
            java.display()
        );
        for a in jvm_args
            .iter()
            .copied()
            .chain(["-cp", "/tmp/cp", "Idle", "8"])
        {
            script.push(' ');
            script.push_str(a);
        }
        let mut cmd = Command::new("unshare");
        cmd.current_dir(classes()).args([
            "--pid",
            "--fork",
            "--mount",
            "--kill-child",
            "sh",
            "-c",
            &script,
        ]);
        Jvm::spawn(cmd, true)
    }

    fn spawn(mut cmd: Command, namespaced: bool) -> Jvm {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut guard = Jvm {
            pid: child.id(),
            inner_pid: 0,
            child,
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("JVM did not print READY within 60 s");
        let inner = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok());
        guard.inner_pid = inner.unwrap_or_else(|| panic!("JVM did not start: {line:?}"));
        if namespaced {
            guard.pid = first_child(guard.child.id()).expect("unshare's forked child");
        }
        guard
    }

    /// Sends a signal (by number) to the JVM — only ever a pid this test started.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid.to_string())
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -{sig} {}", self.pid);
    }

    /// SIGKILLs the JVM without reaping it (it stays a zombie until [`Jvm::reap`]).
    pub fn kill9(&self) {
        self.signal("KILL");
        for _ in 0..200 {
            let state =
                std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
            if state.is_empty() || state.contains(") Z ") {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("JVM {} did not die after SIGKILL", self.pid);
    }

    /// Waits for the child (the JVM, or `unshare`).
    pub fn reap(&mut self) {
        let _ = self.child.wait();
    }
}

impl Drop for Jvm {
    /// Closes the JVM's stdin so it exits normally (and deletes its
    /// hsperfdata file); SIGKILLs it after 5 s.
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.pid != self.child.id() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn first_child(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs `jstat -gc <pid>` and returns column → value.
pub fn jstat_gc(pid: u32) -> HashMap<String, String> {
    let out = Command::new(jdk_bin().join("jstat"))
        .args(["-gc", &pid.to_string()])
        .output()
        .expect("run jstat");
    assert!(
        out.status.success(),
        "jstat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_jstat(&String::from_utf8_lossy(&out.stdout))
}

/// Parses `jstat -gc` output (a header line and a value line).
pub fn parse_jstat(text: &str) -> HashMap<String, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let (Some(head), Some(values)) = (lines.next(), lines.next()) else {
        panic!("unexpected jstat output: {text:?}")
    };
    head.split_whitespace()
        .zip(values.split_whitespace())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
