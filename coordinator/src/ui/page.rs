//! The HTML of `kroll ui`, rendered on the server from what the agents answered: the fleet's
//! nodes and containers, each JVM's heap as a sparkline, disks, problems, the event feed and
//! the latest upgrade run. Pure: a [`View`] in, escaped HTML out (maud escapes every value).

use std::collections::VecDeque;
use std::time::Duration;

use kroll_shared::jvm::{Liveness, heap_drift};
use kroll_shared::model::{Container, ContainerStatus, Health, NodeState, image_tag};
use kroll_shared::time::{human_bytes, human_duration};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;

use super::history::{FeedItem, History, Sample, WINDOW_MS};
use crate::status::Status;
use crate::status::jvm::compact_bytes;

/// The latest upgrade run, as its journal tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub from: String,
    pub to: String,
    /// `running`, `halted` or `finished`.
    pub state: String,
    /// Steps that have begun, and the containers they belong to.
    pub steps: usize,
    pub containers: usize,
    /// The step the journal names last.
    pub last_step: Option<String>,
    /// The newest mark's words (started, point of no return, halted, finished).
    pub last_mark: Option<String>,
    pub span_ms: i64,
}

/// What one render shows.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// `None` until the first observation is in.
    pub status: Option<&'a Status>,
    pub history: &'a History,
    /// The latest run under `--runs`, or why it could not be read.
    pub run: Option<&'a Result<RunSummary, String>>,
    pub now_ms: i64,
    /// How often the page asks for the live part again.
    pub every_ms: u64,
}

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#d5dae0;--card:#f6f8fa;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--heap:#0969da;--old:#8250df;font:14px/1.4 system-ui,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9aa4b1;--line:#30363d;
--card:#161b22;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--heap:#58a6ff;--old:#bc8cff}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg)}
header{padding:.6rem 1rem;border-bottom:1px solid var(--line);display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;align-items:baseline}
header h1{font-size:1.1rem;margin:0}.muted{color:var(--muted)}
main{display:grid;grid-template-columns:minmax(0,1fr) 22rem;gap:1rem;padding:1rem}
@media (max-width:1100px){main{grid-template-columns:minmax(0,1fr)}}
.nodes{display:grid;grid-template-columns:repeat(auto-fill,minmax(21rem,1fr));gap:.8rem}
.node{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.5rem .6rem;min-width:0}
.node h2{font-size:1rem;margin:0 0 .3rem;display:flex;justify-content:space-between;gap:.5rem;flex-wrap:wrap}
.node[data-reachable=false]{border-color:var(--bad)}
.disk{display:flex;gap:.4rem;align-items:center;font-size:.85rem}.bar{flex:1;height:.45rem;background:var(--line);border-radius:3px;overflow:hidden;min-width:3rem}
.bar i{display:block;height:100%;background:var(--ok)}.bar i.low{background:var(--bad)}
.c{border-top:1px solid var(--line);padding:.3rem 0;min-width:0}
.c .top{display:flex;flex-wrap:wrap;gap:.2rem .6rem;align-items:baseline}
.c .name{font-weight:600;overflow-wrap:anywhere}.c .facts{font-size:.85rem;color:var(--muted)}
.badge{font-size:.75rem;padding:0 .35rem;border-radius:3px;border:1px solid currentColor}
.state-running{color:var(--ok)}.state-bad{color:var(--bad)}.health-unhealthy{color:var(--bad)}
.jvm{display:grid;grid-template-columns:minmax(6rem,1fr) auto;gap:.1rem .5rem;align-items:center;font-size:.8rem;margin-top:.2rem}
.jvm svg{width:100%;height:2.2rem;display:block;background:var(--bg);border:1px solid var(--line);border-radius:3px}
.jvm .heap{fill:none;stroke:var(--heap);stroke-width:1.5}.jvm .old{fill:none;stroke:var(--old);stroke-width:1;stroke-dasharray:3 2}
.jvm .max{stroke:var(--muted);stroke-width:.5;stroke-dasharray:2 3}
.jvm .fig{white-space:nowrap;text-align:right}.drift,.hung{color:var(--bad);grid-column:1/-1;overflow-wrap:anywhere}.drift summary{cursor:pointer}
.problems{margin:0 0 1rem;padding:.5rem .8rem .5rem 1.8rem;border:1px solid var(--bad);border-radius:6px}
.problems li{overflow-wrap:anywhere}
aside section{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.5rem .6rem;margin-bottom:1rem}
aside h2{font-size:1rem;margin:0 0 .4rem}
#feed{list-style:none;margin:0;padding:0;max-height:70vh;overflow-y:auto}
#feed li{border-top:1px solid var(--line);padding:.25rem 0;font-size:.85rem;overflow-wrap:anywhere}
#feed li.alarm b{color:var(--bad)}
.progress{height:.5rem;background:var(--line);border-radius:3px;overflow:hidden;margin:.3rem 0}.progress i{display:block;height:100%;background:var(--heap)}
body[data-stale="1"] header::after{content:"connection to kroll ui lost: figures are stale";color:var(--bad)}
a{color:var(--heap)}
"#;

/// The page's own script: the live part is fetched again every few seconds, events arrive as
/// server-sent events. Served as `/app.js` so the page's Content-Security-Policy allows no
/// inline script.
pub const SCRIPT: &str = r#"(() => {
  const body = document.body;
  const every = Number(body.dataset.every) || 2000;
  const feed = document.getElementById('feed');
  async function refresh() {
    try {
      const r = await fetch('live', {cache: 'no-store'});
      if (!r.ok) throw new Error(String(r.status));
      // The refresh keeps what the reader unfolded (an -Xmx drift's explanation) unfolded.
      const unfolded = new Set([...document.querySelectorAll('#live details[open]')].map(d => d.dataset.key));
      document.getElementById('live').innerHTML = await r.text();
      for (const d of document.querySelectorAll('#live details[data-key]')) d.open = unfolded.has(d.dataset.key);
      body.dataset.stale = '';
    } catch (e) { body.dataset.stale = '1'; }
  }
  setInterval(refresh, every);
  const events = new EventSource('events?after=' + (body.dataset.lastSeq || '0'));
  events.addEventListener('feed', (e) => {
    const empty = document.getElementById('feed-empty');
    if (empty) empty.remove();
    feed.insertAdjacentHTML('afterbegin', e.data);
    while (feed.children.length > 200) feed.lastElementChild.remove();
    body.dataset.lastSeq = e.lastEventId;
  });
  events.onerror = () => { body.dataset.stale = '1'; };
  events.onopen = () => { body.dataset.stale = ''; };
})();
"#;

/// The whole page.
pub fn page(view: &View<'_>) -> String {
    let cluster = view.status.map_or("", |s| s.cluster.as_str());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "kroll ui — " (cluster) }
                style { (PreEscaped(STYLE)) }
            }
            body data-every=(view.every_ms) data-last-seq=(view.history.last_seq()) {
                div id="live" { (live(view)) }
                script src="app.js" defer {}
            }
        }
    }
    .into_string()
}

/// The part of the page the script fetches again: header, problems, nodes, run; the feed is
/// rendered once and then grows by events (`aside` keeps its id so a refresh leaves it alone).
pub fn live(view: &View<'_>) -> Markup {
    let Some(status) = view.status else {
        return html! {
            header { h1 { "kroll ui" } span.muted { "asking the agents for the first time…" } }
            main { div {} (aside(view)) }
        };
    };
    let reachable = status.nodes.iter().filter(|n| n.reachable).count();
    let jvms = view.history.jvm_count();
    html! {
        header {
            h1 { "kroll ui — " (status.cluster) }
            span.muted data-observed-at=(status.observed_at_unix_ms) {
                "observed " (clock(status.observed_at_unix_ms))
            }
            span { (reachable) "/" (status.nodes.len()) " agents reachable" }
            span { (status.rows.len()) " containers" }
            span { (jvms) " JVMs" }
            span data-problems=(status.problems.len()) {
                @if status.problems.is_empty() { "no problems" } @else { (status.problems.len()) " problem(s)" }
            }
        }
        main {
            div {
                @if !status.problems.is_empty() {
                    ul.problems { @for p in &status.problems { li { (p) } } }
                }
                div.nodes {
                    @for n in &status.nodes {
                        (node_card(view, n.name.as_str(), n.reachable, n.error.as_deref(), n.state.as_ref()))
                    }
                }
            }
            (aside(view))
        }
    }
}

fn aside(view: &View<'_>) -> Markup {
    html! {
        aside {
            section id="run" { (run(view.run)) }
            section {
                h2 { "Events" }
                ul id="feed" {
                    @if view.history.feed().next().is_none() {
                        li id="feed-empty" .muted { "no event since kroll ui started" }
                    }
                    @for item in view.history.feed() { (feed_item(item)) }
                }
            }
        }
    }
}

fn run(run: Option<&Result<RunSummary, String>>) -> Markup {
    html! {
        h2 { "Upgrade" }
        @match run {
            None => p.muted { "no run directory given (--runs)" },
            Some(Err(why)) => p.muted { (why) },
            Some(Ok(r)) => {
                p data-run=(r.run_id) data-run-state=(r.state) {
                    b { (r.from) " → " (r.to) } " · " (r.state) " · " (human_duration(Duration::from_millis(u64::try_from(r.span_ms).unwrap_or(0))))
                }
                p.muted { "run " (r.run_id) ": " (r.steps) " steps on " (r.containers) " containers" }
                @if let Some(step) = &r.last_step { p { "last step: " (step) } }
                @if let Some(mark) = &r.last_mark { p { (mark) } }
                p { a href="run" { "the run's timeline" } }
            }
        }
    }
}

/// One line of the feed.
pub fn feed_item(item: &FeedItem) -> Markup {
    html! {
        li class=[item.alarming.then_some("alarm")] data-seq=(item.seq) data-kind=(item.kind)
            data-node=(item.node) data-container=(item.container) {
            span.muted { (clock(item.at_unix_ms)) } " " (item.node)
            @if !item.container.is_empty() { " " (item.container) }
            " " b { (item.kind) } " " (item.text)
        }
    }
}

fn node_card(
    view: &View<'_>,
    name: &str,
    reachable: bool,
    error: Option<&str>,
    state: Option<&NodeState>,
) -> Markup {
    let Some(state) = state.filter(|_| reachable) else {
        return html! {
            section.node data-node=(name) data-reachable="false" {
                h2 { span { (name) } span.state-bad { "agent unreachable" } }
                @if let Some(e) = error { p.muted { (e) } }
            }
        };
    };
    html! {
        section.node data-node=(name) data-reachable="true" {
            h2 {
                span { (name) }
                span.muted { "load " (format!("{:.2}", state.host.load_average[0])) " · mem free " (human_bytes(state.host.memory_available_bytes)) }
            }
            @for d in &state.disks {
                @let free = if d.total_bytes == 0 { 0.0 } else { d.available_bytes as f64 * 100.0 / d.total_bytes as f64 };
                div.disk data-mount=(d.mount_point) data-free-bytes=(d.available_bytes) {
                    span { (d.mount_point) }
                    span.bar title=(format!("{free:.1}% free")) {
                        i class=[(free < crate::status::LOW_DISK_PERCENT).then_some("low")] style=(format!("width:{:.1}%", 100.0 - free)) {}
                    }
                    span { (human_bytes(d.available_bytes)) " free" }
                }
            }
            @for c in &state.containers { (container(view, name, c)) }
        }
    }
}

fn container(view: &View<'_>, node: &str, c: &Container) -> Markup {
    let state = c.status.as_str();
    let health = c.health.as_str();
    // What the image says it is; its tag when it says nothing (as `kroll status`).
    let version = c
        .labelled_version()
        .unwrap_or_else(|| image_tag(&c.image))
        .to_owned();
    let uptime = (c.started_at_unix_ms > 0 && c.status == ContainerStatus::Running).then(|| {
        Duration::from_millis(u64::try_from(view.now_ms - c.started_at_unix_ms).unwrap_or(0))
    });
    html! {
        div.c data-container=(c.name) data-state=(state) data-health=(health)
            data-restarts=(c.restart_count) data-version=(version) {
            div.top {
                span.name { (c.name) }
                span class={"badge " (if state == "running" { "state-running" } else { "state-bad" })} { (state) }
                @if c.health != Health::None {
                    span class={"badge health-" (health)} { (health) }
                }
            }
            div.facts {
                (version)
                @if let Some(up) = uptime { " · up " (human_duration(up)) }
                " · " (c.restart_count) " restarts"
            }
            @if let Some(java) = &c.java {
                @for j in &java.jvms {
                    @let series = view.history.jvms(node, &c.name).find(|(pid, _)| *pid == j.pid).map(|(_, s)| s);
                    @let heap = j.heap.as_ref();
                    div.jvm data-pid=(j.pid) data-main=(j.main)
                        data-heap-used=[heap.map(|h| h.used_bytes)] data-heap-max=[heap.and_then(|h| h.max_bytes)]
                        data-old-used=[heap.and_then(|h| h.old.as_ref()).map(|o| o.used_bytes)]
                        data-young-gcs=[heap.and_then(|h| h.young_gc).map(|g| g.count)]
                        data-full-gcs=[heap.and_then(|h| h.full_gc).map(|g| g.count)]
                        data-points=(series.map_or(0, VecDeque::len)) {
                        (sparkline(series, view.now_ms, &format!("{} ({})", j.main, j.pid)))
                        span.fig {
                            @match heap {
                                Some(h) => {
                                    (compact_bytes(h.used_bytes)) "/" (h.max_bytes.map_or("?".to_owned(), compact_bytes))
                                    br;
                                    "GC " (h.young_gc.map_or("-".to_owned(), |g| g.count.to_string())) "y/"
                                    (h.full_gc.map_or("-".to_owned(), |g| g.count.to_string())) "f"
                                }
                                None => { (j.unreadable.as_deref().unwrap_or("heap unknown")) }
                            }
                        }
                        @if let Some(d) = heap_drift(java, j) {
                            // One line per JVM (a fleet of drifting JVMs stays readable); the
                            // explanation and the remedy one click away.
                            details.drift data-drift="true" data-key=(format!("{node}/{}/{}", c.name, j.pid)) {
                                summary { "-Xmx drift: asks " (d.asked.setting) " (`" (d.asked.source) "`), runs " (d.got) }
                                (d.explanation)
                            }
                        }
                        @if let Liveness::Stalled { stalled_ms } = j.liveness {
                            span.hung { "hung: no tick for " (format!("{:.1}", stalled_ms as f64 / 1000.0)) " s" }
                        }
                    }
                }
            }
        }
    }
}

/// The heap (solid) and old generation (dashed) of one JVM over the window, as a share of its
/// maximum heap; the maximum is the top line. An SVG without text, its figures in `title`.
fn sparkline(series: Option<&VecDeque<Sample>>, now_ms: i64, what: &str) -> Markup {
    const W: f64 = 300.0;
    const H: f64 = 40.0;
    let samples: Vec<Sample> = series
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    let top = samples
        .iter()
        .filter_map(|s| s.max_bytes)
        .max()
        .or_else(|| samples.iter().map(|s| s.used_bytes).max())
        .unwrap_or(1)
        .max(1) as f64;
    let x = |at: i64| ((at - (now_ms - WINDOW_MS)) as f64 / WINDOW_MS as f64 * W).clamp(0.0, W);
    let y = |b: u64| H - 1.0 - (b as f64 / top).min(1.0) * (H - 2.0);
    let points = |f: &dyn Fn(&Sample) -> Option<u64>| {
        samples
            .iter()
            .filter_map(|s| f(s).map(|b| format!("{:.1},{:.1}", x(s.at_unix_ms), y(b))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let heap = points(&|s| Some(s.used_bytes));
    let old = points(&|s| s.old_used_bytes);
    let title = match samples.last() {
        Some(s) => format!(
            "{what}: heap {} of {} max, old generation {} — last 15 minutes, {} samples",
            human_bytes(s.used_bytes),
            s.max_bytes.map_or("?".to_owned(), human_bytes),
            s.old_used_bytes.map_or("-".to_owned(), human_bytes),
            samples.len()
        ),
        None => format!("{what}: no heap sample yet"),
    };
    html! {
        svg viewBox="0 0 300 40" preserveAspectRatio="none" role="img" {
            title { (title) }
            line.max x1="0" y1="1" x2="300" y2="1" {}
            @if !old.is_empty() { polyline.old points=(old) {} }
            @if !heap.is_empty() { polyline.heap points=(heap) {} }
        }
    }
}

/// `HH:MM:SS` UTC.
fn clock(ms: i64) -> String {
    crate::watch::clock(ms)
}

#[cfg(test)]
mod tests {
    use kroll_shared::jvm::{HeapLimit, HeapSetting, JavaReport};

    use super::*;
    use crate::status::tests::{container_fixture, state_fixture};
    use crate::ui::history::tests::jvm;

    fn view_of<'a>(status: &'a Status, history: &'a History, now: i64) -> View<'a> {
        View {
            status: Some(status),
            history,
            run: None,
            now_ms: now,
            every_ms: 2000,
        }
    }

    fn status_of(states: Vec<NodeState>) -> Status {
        let nodes = states
            .into_iter()
            .map(|s| crate::status::NodeStatus {
                name: s.agent.node.clone(),
                agent: "127.0.0.1:1".into(),
                reachable: true,
                error: None,
                state: Some(s),
            })
            .collect();
        Status {
            cluster: "prod<1>".into(),
            observed_at_unix_ms: 10_000,
            nodes,
            rows: vec![],
            problems: vec!["disk <low> on n1".into()],
            kafka: None,
            connect: None,
            schema_registry: None,
        }
    }

    #[test]
    fn every_container_and_jvm_is_shown_with_its_figures_escaped() {
        let mut c = container_fixture("connect-<01>");
        c.java = Some(JavaReport {
            configured_heap: Some(HeapLimit {
                setting: HeapSetting::Bytes(2000),
                source: "KAFKA_HEAP_OPTS".into(),
            }),
            jvms: vec![jvm(42, 9_000, 400)],
            ..JavaReport::default()
        });
        let state = state_fixture("n1", vec![c, container_fixture("zookeeper-01")], 5 << 30);
        let mut history = History::default();
        history.record("n1", &state, 9_000);
        let status = status_of(vec![state]);
        let html = page(&view_of(&status, &history, 10_000));
        assert!(html.contains("kroll ui — prod&lt;1&gt;"), "{html}");
        assert!(
            html.contains("data-container=\"connect-&lt;01&gt;\""),
            "{html}"
        );
        assert!(html.contains("data-container=\"zookeeper-01\""), "{html}");
        assert!(html.contains("data-pid=\"42\""), "{html}");
        assert!(html.contains("data-heap-max=\"1000\""), "{html}");
        assert!(html.contains("data-young-gcs=\"3\""), "{html}");
        assert!(html.contains("data-points=\"1\""), "{html}");
        assert!(html.contains("class=\"heap\""), "the sparkline: {html}");
        // Asked for 2000 bytes, the JVM's maximum is 1000: drift is marked, in one line, the
        // explanation folded under it.
        assert!(html.contains("data-drift=\"true\""), "{html}");
        assert!(
            html.contains("data-key=\"n1/connect-&lt;01&gt;/42\"><summary>-Xmx drift: asks "),
            "{html}"
        );
        assert!(html.contains("disk &lt;low&gt; on n1"), "{html}");
        assert!(!html.contains("<low>") && !html.contains("<01>"), "escaped");
        assert!(html.contains("script src=\"app.js\""), "no inline script");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing fetched from elsewhere"
        );
    }

    #[test]
    fn the_sparkline_spans_the_window_against_the_maximum() {
        let mut s = VecDeque::new();
        for (at, used) in [(0, 0), (WINDOW_MS / 2, 500), (WINDOW_MS, 1000)] {
            s.push_back(Sample {
                at_unix_ms: at,
                used_bytes: used,
                old_used_bytes: Some(used / 2),
                max_bytes: Some(1000),
                young_gcs: None,
                full_gcs: None,
            });
        }
        let svg = sparkline(Some(&s), WINDOW_MS, "j").into_string();
        // From the left edge at the bottom to the right edge at the top.
        assert!(
            svg.contains("points=\"0.0,39.0 150.0,20.0 300.0,1.0\""),
            "{svg}"
        );
        assert!(
            svg.contains("points=\"0.0,39.0 150.0,29.5 300.0,20.0\""),
            "{svg}"
        );
        let none = sparkline(None, 0, "j").into_string();
        assert!(
            none.contains("no heap sample yet") && !none.contains("polyline"),
            "{none}"
        );
    }

    #[test]
    fn feed_items_and_runs_render_what_they_hold() {
        let item = FeedItem {
            seq: 7,
            at_unix_ms: 0,
            node: "n1".into(),
            container: "connect-01".into(),
            kind: "java_oom".into(),
            text: "java.lang.OutOfMemoryError: <heap>".into(),
            alarming: true,
        };
        let li = feed_item(&item).into_string();
        assert!(
            li.contains("class=\"alarm\"") && li.contains("data-seq=\"7\""),
            "{li}"
        );
        assert!(li.contains("&lt;heap&gt;"), "{li}");
        let summary = RunSummary {
            run_id: "20261206T010203.004Z".into(),
            from: "7.1.1".into(),
            to: "7.7.1".into(),
            state: "halted".into(),
            steps: 12,
            containers: 7,
            last_step: Some("roll-brokers/kafka-03".into()),
            last_mark: Some("halted: gate failed".into()),
            span_ms: 125_000,
        };
        let ok = Ok(summary);
        let html = run(Some(&ok)).into_string();
        assert!(
            html.contains("data-run-state=\"halted\"") && html.contains("roll-brokers/kafka-03"),
            "{html}"
        );
        assert!(html.contains("href=\"run\""), "{html}");
        let err = Err("no run under runs/".to_owned());
        assert!(run(Some(&err)).into_string().contains("no run under runs/"));
    }
}
