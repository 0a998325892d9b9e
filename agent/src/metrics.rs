//! Prometheus `/metrics`: heap, GC, containers, disks and host of this node, for existing
//! Prometheus / Grafana setups. Optional and off by default (`[metrics] listen = "…"`).
//!
//! The listener is plain HTTP and answers `GET /metrics` only. It exposes **no secrets** (no
//! environment values, no JVM or command-line arguments — less than `GetNodeState` shows a
//! `reader` certificate) and **no actions**. Bind it to an address only your Prometheus
//! reaches. Scrapes are served from a cached snapshot (the one `GetNodeState` answers with),
//! taken again at most every `refresh_seconds` (default 5): however many scrapers there are,
//! Docker is inspected at most once per period, so scraping never slows the gRPC calls down.
//! Concurrent scrapes of an expired snapshot wait for one refresh. `kroll_agent_snapshot_timestamp_seconds`
//! says when the figures were taken. Answers are also paced: at most `max_scrapes_per_second`
//! (default 20; a Prometheus scrapes every 15 s), a scrape beyond waits its turn without using
//! the CPU, and beyond [`MAX_WAITING_SCRAPES`] waiting it is answered 503 at once — scrapers
//! looping flat out cannot take the CPU the gRPC calls need (`BENCHMARKS.md`, "Agent under load").
//!
//! Names follow `kroll_<thing>_<unit>`; counters end in `_total`. The text exposition format
//! is written here (a few dozen lines; the only state kept is the last exposition, so a
//! metrics library's registry would only duplicate the snapshot).

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kroll_shared::config::{ConfigError, Document, KeyPath};
use kroll_shared::jvm::{HeapSetting, Jvm, Liveness, Space};
use kroll_shared::model::{Container, NodeState};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::jvm::OomCounts;
use crate::node::Core;
use crate::runtime::ContainerRuntime;

/// The `[metrics]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the plain-HTTP `/metrics` listener; absent = no listener.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Scrapes are answered from a snapshot at most this old (1..=300).
    #[serde(default = "default_refresh_seconds")]
    pub refresh_seconds: u64,
    /// At most this many answers per second, all scrapers together (1..=10000).
    #[serde(default = "default_max_scrapes_per_second")]
    pub max_scrapes_per_second: u32,
}

fn default_refresh_seconds() -> u64 {
    5
}

fn default_max_scrapes_per_second() -> u32 {
    20
}

/// Scrapes waiting for their turn beyond which one is refused (503) at once.
pub const MAX_WAITING_SCRAPES: usize = 256;

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: None,
            refresh_seconds: default_refresh_seconds(),
            max_scrapes_per_second: default_max_scrapes_per_second(),
        }
    }
}

impl MetricsConfig {
    /// Checks the section (errors name the file, line and key under `at`).
    pub fn validate(
        &self,
        doc: &Document,
        at: &KeyPath,
        agent_listen: SocketAddr,
    ) -> Result<(), ConfigError> {
        if let Some(l) = self.listen
            && l == agent_listen
            && l.port() != 0
        {
            return Err(doc.invalid(
                &at.key("listen"),
                format!("{l} is the agent's own gRPC address; pick another port"),
            ));
        }
        if !(1..=300).contains(&self.refresh_seconds) {
            return Err(doc.invalid(
                &at.key("refresh_seconds"),
                format!(
                    "{} is outside 1..=300 (seconds between two snapshots /metrics serves)",
                    self.refresh_seconds
                ),
            ));
        }
        if !(1..=10_000).contains(&self.max_scrapes_per_second) {
            return Err(doc.invalid(
                &at.key("max_scrapes_per_second"),
                format!(
                    "{} is outside 1..=10000 (answers per second, all /metrics scrapers together)",
                    self.max_scrapes_per_second
                ),
            ));
        }
        Ok(())
    }
}

/// Serves `GET /metrics` on `listener` until `stop` turns true.
pub async fn serve<R: ContainerRuntime>(
    listener: TcpListener,
    core: Arc<Core<R>>,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(core.config.metrics.refresh_seconds);
    let cache = Arc::new(Snapshot::new(every));
    let pacer = Arc::new(Pacer::new(
        core.config.metrics.max_scrapes_per_second,
        MAX_WAITING_SCRAPES,
    ));
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (core, cache, pacer) = (Arc::clone(&core), Arc::clone(&cache), Arc::clone(&pacer));
            async move {
                if pacer.turn().await.is_err() {
                    return busy();
                }
                respond(cache.get(|| exposition(&core)).await)
            }
        }),
    );
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!(error = %e, "The metrics listener stopped.");
    }
}

/// The exposition of a fresh node snapshot, or why there is none.
async fn exposition<R: ContainerRuntime>(core: &Core<R>) -> Result<String, String> {
    core.node_state()
        .await
        .map(|state| render(&state, &core.jvm.oom_counts()))
        .map_err(|e| format!("node state unavailable: {e}"))
}

fn respond(body: Arc<Result<String, String>>) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    match &*body {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text.clone(),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

fn busy() -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        format!("more than {MAX_WAITING_SCRAPES} scrapes are waiting for their turn; try again\n"),
    )
        .into_response()
}

/// Spaces answers at least `1 / per_second` apart, all callers together: a caller beyond the
/// rate sleeps until its slot (no CPU); beyond `max_waiting` sleeping callers, one is refused.
#[derive(Debug)]
pub struct Pacer {
    gap: Duration,
    next: std::sync::Mutex<tokio::time::Instant>,
    waiting: tokio::sync::Semaphore,
}

impl Pacer {
    /// A pacer of `per_second` turns per second (at least 1) with at most `max_waiting` callers
    /// asleep.
    pub fn new(per_second: u32, max_waiting: usize) -> Self {
        Self {
            gap: Duration::from_secs(1) / per_second.max(1),
            next: std::sync::Mutex::new(tokio::time::Instant::now()),
            waiting: tokio::sync::Semaphore::new(max_waiting),
        }
    }

    /// Waits for this caller's slot; `Err` at once when too many are already waiting.
    pub async fn turn(&self) -> Result<(), ()> {
        let _waiting = self.waiting.try_acquire().map_err(|_| ())?;
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + self.gap;
            slot
        };
        tokio::time::sleep_until(slot).await;
        Ok(())
    }
}

/// The last exposition (or failure) and when it was taken; taken again when older than
/// `every`. Scrapers that find it expired wait for one refresh rather than each taking one.
#[derive(Debug)]
pub struct Snapshot<T> {
    every: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Snapshot<T> {
    /// An empty cache refreshed at most every `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached value when it is younger than `every`, else a fresh one from `take`.
    pub async fn get<F: Future<Output = T>>(&self, take: impl FnOnce() -> F) -> Arc<T> {
        let mut last = self.last.lock().await;
        if let Some((at, v)) = &*last
            && at.elapsed() < self.every
        {
            return Arc::clone(v);
        }
        let v = Arc::new(take().await);
        *last = Some((Instant::now(), Arc::clone(&v)));
        v
    }
}

/// One metric family being written.
#[derive(Debug)]
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    lines: String,
}

/// The families of one scrape, in the order they were declared.
#[derive(Debug, Default)]
struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    fn add(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let i = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name,
                    kind,
                    help,
                    lines: String::new(),
                });
                self.families.len() - 1
            }
        };
        let f = &mut self.families[i];
        f.lines.push_str(name);
        if !labels.is_empty() {
            f.lines.push('{');
            for (n, (k, v)) in labels.iter().enumerate() {
                if n > 0 {
                    f.lines.push(',');
                }
                let _ = write!(f.lines, "{k}=\"{}\"", escape(v));
            }
            f.lines.push('}');
        }
        let _ = writeln!(f.lines, " {}", number(value));
    }

    fn finish(self) -> String {
        let mut out = String::new();
        for f in self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
            out.push_str(&f.lines);
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The exposition text of a node snapshot and the OOM counters.
pub fn render(state: &NodeState, oom: &[(String, OomCounts)]) -> String {
    let node = state.agent.node.as_str();
    let mut x = Exposition::default();
    x.add(
        "kroll_agent_info",
        "gauge",
        "The agent answering, by version.",
        &[("node", node), ("version", &state.agent.version)],
        1.0,
    );
    x.add(
        "kroll_agent_snapshot_timestamp_seconds",
        "gauge",
        "When the figures of this exposition were taken (Unix time); /metrics takes them at most every refresh_seconds.",
        &[("node", node)],
        state.observed_at_unix_ms as f64 / 1000.0,
    );
    let h = &state.host;
    x.add(
        "kroll_host_cpu_usage_ratio",
        "gauge",
        "Whole-host CPU use over the last sampling interval (0..1).",
        &[("node", node)],
        f64::from(h.cpu_usage_percent) / 100.0,
    );
    x.add(
        "kroll_host_memory_total_bytes",
        "gauge",
        "Host memory.",
        &[("node", node)],
        h.memory_total_bytes as f64,
    );
    x.add(
        "kroll_host_memory_available_bytes",
        "gauge",
        "Host memory available.",
        &[("node", node)],
        h.memory_available_bytes as f64,
    );
    for d in &state.disks {
        let l = [("node", node), ("mount", d.mount_point.as_str())];
        x.add(
            "kroll_disk_size_bytes",
            "gauge",
            "Size of a filesystem holding container data.",
            &l,
            d.total_bytes as f64,
        );
        x.add(
            "kroll_disk_available_bytes",
            "gauge",
            "Space available on a filesystem holding container data.",
            &l,
            d.available_bytes as f64,
        );
    }
    for c in &state.containers {
        containers(&mut x, node, c);
    }
    for (name, counts) in oom {
        let l = [("node", node), ("container", name.as_str())];
        x.add(
            "kroll_jvm_oom_errors_total",
            "counter",
            "java.lang.OutOfMemoryError lines seen in the container's log since the agent started.",
            &l,
            counts.log_lines as f64,
        );
        x.add(
            "kroll_jvm_oom_exits_total",
            "counter",
            "Exits on OutOfMemoryError (exit 3 / 134 with evidence) since the agent started.",
            &l,
            counts.exits as f64,
        );
    }
    x.finish()
}

fn containers(x: &mut Exposition, node: &str, c: &Container) {
    let l = [("node", node), ("container", c.name.as_str())];
    x.add(
        "kroll_container_up",
        "gauge",
        "1 when the container is running.",
        &l,
        flag(c.is_running()),
    );
    x.add(
        "kroll_container_restarts_total",
        "counter",
        "Restarts by Docker's restart policy.",
        &l,
        f64::from(c.restart_count),
    );
    x.add(
        "kroll_container_oom_killed",
        "gauge",
        "1 when the kernel OOM killer ended the container's last run.",
        &l,
        flag(c.oom_killed),
    );
    let Some(java) = &c.java else { return };
    if let Some(cfg) = &java.configured_heap
        && let HeapSetting::Bytes(b) = cfg.setting
    {
        let l = [
            ("node", node),
            ("container", c.name.as_str()),
            ("variable", cfg.source.as_str()),
        ];
        x.add(
            "kroll_container_configured_heap_bytes",
            "gauge",
            "The maximum heap the container's environment asks for.",
            &l,
            b as f64,
        );
    }
    for j in &java.jvms {
        jvm(x, node, &c.name, j);
    }
}

fn jvm(x: &mut Exposition, node: &str, container: &str, j: &Jvm) {
    let pid = j.pid.to_string();
    let l = [
        ("node", node),
        ("container", container),
        ("pid", pid.as_str()),
    ];
    x.add(
        "kroll_jvm_heap_readable",
        "gauge",
        "1 when the JVM's hsperfdata could be read.",
        &l,
        flag(j.heap.is_some()),
    );
    let stalled = match j.liveness {
        Liveness::Stalled { stalled_ms } => stalled_ms as f64 / 1000.0,
        _ => 0.0,
    };
    x.add(
        "kroll_jvm_stalled_seconds",
        "gauge",
        "How long the JVM's tick counter has not moved (0 = alive).",
        &l,
        stalled,
    );
    if let Some(s) = &j.max_heap_setting
        && let HeapSetting::Bytes(b) = s.setting
    {
        let ls = [
            ("node", node),
            ("container", container),
            ("pid", pid.as_str()),
            ("source", s.source.as_str()),
        ];
        x.add(
            "kroll_jvm_max_heap_setting_bytes",
            "gauge",
            "The JVM's own -Xmx.",
            &ls,
            b as f64,
        );
    }
    let Some(h) = &j.heap else { return };
    x.add(
        "kroll_jvm_heap_used_bytes",
        "gauge",
        "Heap used (eden + survivors + old).",
        &l,
        h.used_bytes as f64,
    );
    x.add(
        "kroll_jvm_heap_committed_bytes",
        "gauge",
        "Heap committed.",
        &l,
        h.committed_bytes as f64,
    );
    if let Some(m) = h.max_bytes {
        x.add(
            "kroll_jvm_heap_max_bytes",
            "gauge",
            "Maximum heap.",
            &l,
            m as f64,
        );
    }
    let spaces: [(&str, Option<Space>); 6] = [
        ("eden", h.eden),
        ("survivor0", h.survivor0),
        ("survivor1", h.survivor1),
        ("old", h.old),
        ("metaspace", h.metaspace),
        ("class_space", h.class_space),
    ];
    for (name, sp) in spaces {
        let Some(sp) = sp else { continue };
        let ls = [
            ("node", node),
            ("container", container),
            ("pid", pid.as_str()),
            ("space", name),
        ];
        x.add(
            "kroll_jvm_memory_used_bytes",
            "gauge",
            "Bytes used per memory space.",
            &ls,
            sp.used_bytes as f64,
        );
        x.add(
            "kroll_jvm_memory_committed_bytes",
            "gauge",
            "Bytes committed per memory space.",
            &ls,
            sp.committed_bytes as f64,
        );
        x.add(
            "kroll_jvm_memory_max_bytes",
            "gauge",
            "Maximum bytes per memory space.",
            &ls,
            sp.max_bytes as f64,
        );
    }
    for (kind, g) in [
        ("young", h.young_gc),
        ("full", h.full_gc),
        ("concurrent", h.concurrent_gc),
    ] {
        let Some(g) = g else { continue };
        let ls = [
            ("node", node),
            ("container", container),
            ("pid", pid.as_str()),
            ("kind", kind),
        ];
        x.add(
            "kroll_jvm_gc_collections_total",
            "counter",
            "Garbage collections by kind.",
            &ls,
            g.count as f64,
        );
        if let Some(s) = g.seconds {
            x.add(
                "kroll_jvm_gc_seconds_total",
                "counter",
                "Time spent in garbage collection by kind.",
                &ls,
                s.0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_turns_and_refuses_beyond_its_waiting_bound_at_once() {
        let pacer = Arc::new(Pacer::new(10, 3));
        let began = tokio::time::Instant::now();
        // The first turn is now; the next five find the next slot 100 ms ahead.
        assert_eq!(pacer.turn().await, Ok(()));
        let turns = (0..5).map(|_| {
            let pacer = Arc::clone(&pacer);
            tokio::spawn(async move { pacer.turn().await.map(|()| began.elapsed()) })
        });
        let turns: Vec<_> = turns.collect();
        let mut got = Vec::new();
        for t in turns {
            got.push(t.await.expect("turn"));
        }
        let waited: Vec<Duration> = got.iter().filter_map(|r| r.ok()).collect();
        assert_eq!(
            waited,
            [100, 200, 300].map(Duration::from_millis),
            "three slots 100 ms apart"
        );
        assert_eq!(got.iter().filter(|r| r.is_err()).count(), 2, "{got:?}");
        // Once the sleepers are through, turns are granted again, spaced from the last slot.
        assert_eq!(pacer.turn().await, Ok(()));
        assert_eq!(began.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test]
    async fn a_snapshot_is_taken_once_per_period_however_many_ask() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let taken = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(Snapshot::new(Duration::from_millis(300)));
        let take = || {
            let taken = Arc::clone(&taken);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                taken.fetch_add(1, Ordering::SeqCst)
            }
        };
        let all = futures::future::join_all((0..64).map(|_| {
            let cache = Arc::clone(&cache);
            async move { *cache.get(take).await }
        }))
        .await;
        assert!(
            all.iter().all(|v| *v == 0),
            "64 concurrent scrapes share one snapshot"
        );
        assert_eq!(*cache.get(take).await, 0, "still fresh");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(*cache.get(take).await, 1, "taken again once expired");
        assert_eq!(taken.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn label_values_are_escaped_and_numbers_plain() {
        assert_eq!(escape("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        let mut x = Exposition::default();
        x.add("kroll_x_bytes", "gauge", "X.", &[("node", "n\"1")], 5.0);
        x.add("kroll_y_total", "counter", "Y.", &[], 1.5);
        x.add("kroll_x_bytes", "gauge", "X.", &[("node", "n2")], 6.0);
        assert_eq!(
            x.finish(),
            "# HELP kroll_x_bytes X.\n# TYPE kroll_x_bytes gauge\nkroll_x_bytes{node=\"n\\\"1\"} 5\nkroll_x_bytes{node=\"n2\"} 6\n# HELP kroll_y_total Y.\n# TYPE kroll_y_total counter\nkroll_y_total 1.5\n"
        );
    }
}
