//! Debian's real Prometheus and Alertmanager for the tests and `kroll-bench`: each runs as a
//! child process on a loopback port with its configuration and storage in its own temporary
//! directory; [`Daemon`]'s `Drop` kills it by the PID it was started with, waits for it and
//! removes the directory, even when the test fails. A missing binary fails naming the Debian
//! package to install.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `deploy/prometheus/` of this checkout.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus")
}

/// The path of `tool`, or a panic naming the Debian package that provides it.
pub fn need_tool(tool: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` not found on PATH: install the Debian package `{package}` \
                 (apt-get install {package}, or run deploy/setup.sh)"
            )
        })
}

/// A free loopback port (bound and released; the daemon binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A daemon this process started: killed by its PID, waited for, its directory removed on drop.
#[derive(Debug)]
pub struct Daemon {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    /// Configuration, storage and the daemon's log.
    pub dir: tempfile::TempDir,
}

impl Daemon {
    /// The daemon's own log (stdout and stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    fn spawn(name: &'static str, bin: &Path, args: &[String], dir: tempfile::TempDir) -> Self {
        let log = std::fs::File::create(dir.path().join("daemon.log")).expect("daemon log");
        let child = Command::new(bin)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let port = args
            .iter()
            .find_map(|a| a.strip_prefix("--web.listen-address=127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .expect("a --web.listen-address argument");
        let mut me = Self {
            name,
            addr: ([127, 0, 0, 1], port).into(),
            child,
            dir,
        };
        me.wait_ready();
        me
    }

    fn wait_ready(&mut self) {
        let began = Instant::now();
        loop {
            if let Ok((200, _)) = http(self.addr, "GET", "/-/ready", None) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before ready:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "{} not ready within 60 s:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `GET path` answered 200 with a JSON body; panics with the daemon's answer otherwise.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = http(self.addr, "GET", path, None)
            .unwrap_or_else(|e| panic!("{} GET {path}: {e}", self.name));
        assert_eq!(status, 200, "{} GET {path}: {body}", self.name);
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{} GET {path}: not JSON ({e}): {body}", self.name))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's `prometheus` scraping `targets` (`job_name: kroll-agent`, every second) and
/// evaluating `deploy/prometheus/kroll.rules.yml` every second.
pub fn start_prometheus(targets: &[SocketAddr]) -> Daemon {
    let bin = need_tool("prometheus", "prometheus");
    let dir = tempfile::tempdir().expect("tmp");
    let rules = rules_dir().join("kroll.rules.yml");
    let list = targets
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n  - '{}'\nscrape_configs:\n  - job_name: kroll-agent\n    static_configs:\n      - targets: [{list}]\n",
        rules.display()
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("prometheus.yml");
    let port = free_port();
    let args = [
        "--config.file=prometheus.yml".to_owned(),
        "--storage.tsdb.path=data".to_owned(),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_owned(),
    ];
    Daemon::spawn("prometheus", &bin, &args, dir)
}

/// Debian's `prometheus-alertmanager`, clustering off, routing every alert to `webhook`
/// (resolved notifications included) grouped by alert, node and container, with no waiting.
pub fn start_alertmanager(webhook: &str) -> Daemon {
    let bin = need_tool("prometheus-alertmanager", "prometheus-alertmanager");
    let dir = tempfile::tempdir().expect("tmp");
    let config = format!(
        "route:\n  receiver: hook\n  group_by: [alertname, node, container]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{webhook}'\n        send_resolved: true\n"
    );
    std::fs::write(dir.path().join("alertmanager.yml"), config).expect("alertmanager.yml");
    let port = free_port();
    let args = [
        "--config.file=alertmanager.yml".to_owned(),
        "--storage.path=data".to_owned(),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_owned(),
        "--log.level=warn".to_owned(),
    ];
    Daemon::spawn("alertmanager", &bin, &args, dir)
}

/// One HTTP/1.0 request (no chunked answers): status and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        c,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = Vec::new();
    c.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// `s` percent-encoded for a URL query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Prometheus's instant query: the result vector (panics on an error answer).
pub fn query(prom: &Daemon, expr: &str) -> Vec<serde_json::Value> {
    let v = prom.get_json(&format!("/api/v1/query?query={}", urlencode(expr)));
    assert_eq!(v["status"], "success", "{expr}: {v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// The metric names a PromQL expression reads: identifiers outside quoted strings that are
/// `kroll_*` / `kroll:*` series or `up` (every series kroll's rules read is one of these).
pub fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = expr.chars().peekable();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let flush = |word: &mut String, names: &mut Vec<String>| {
        if (word.starts_with("kroll_") || word.starts_with("kroll:") || word == "up")
            && !names.contains(word)
        {
            names.push(word.clone());
        }
        word.clear();
    };
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            flush(&mut word, &mut names);
            quote = Some(c);
        } else if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            flush(&mut word, &mut names);
        }
    }
    flush(&mut word, &mut names);
    names
}

/// A webhook receiver on a loopback port: records every POSTed JSON body and answers 200.
/// Returns its base URL (`http://127.0.0.1:<port>/`) and the bodies received.
pub async fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let store = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break buf[end + 4..end + 4 + len].to_vec();
                    }
                };
                if let Ok(v) = serde_json::from_slice(&body) {
                    store.lock().expect("lock").push(v);
                }
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (format!("http://{addr}/"), seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_skip_strings_functions_and_labels() {
        assert_eq!(
            metric_names(
                r#"increase(kroll_jvm_oom_errors_total{container="kroll_x"}[10m]) > 0 or up{job="kroll-agent"} unless on (node) kroll:disk_available:ratio"#
            ),
            [
                "kroll_jvm_oom_errors_total",
                "up",
                "kroll:disk_available:ratio"
            ]
        );
        assert_eq!(urlencode("a b{\"c\"}"), "a%20b%7B%22c%22%7D");
    }
}
