//! `report.html`: a run's [`Timeline`] as one self-contained page (no script, font or request
//! leaves the file): a Gantt of every step per container with the phases, the halts, the
//! rollbacks and the point of no return marked; per roll the wall time against the time the
//! containers could not avoid and the gates' waits; the Connect phases and cluster-wide notes;
//! every step's exact times in a table. Light and dark follow the reader's setting; the layout
//! is percentages and wraps, so nothing scrolls sideways on a laptop or a phone.
//!
//! Every drawn segment carries `data-step`, `data-kind`, `data-start-ms`, `data-end-ms` (relative
//! to the run's first journal entry), so what the page shows can be checked against the journal.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::plan::PhaseId;
use super::timeline::{MarkKind, PhaseSpan, SegmentKind, Timeline};

const STYLE: &str = r#"
:root { color-scheme: light dark; --bg:#fff; --fg:#1d2330; --muted:#5b6473; --grid:#e3e6ec;
  --before:#8fb3e8; --recreate:#d9534f; --after:#f0ad4e; --failed:#6f1d1b; --rollback:#7b5ea7;
  --halt:#c0392b; --ponr:#111; --start:#2e8b57; --phase:#eef1f6; }
@media (prefers-color-scheme: dark) { :root { --bg:#14171c; --fg:#e6e9ef; --muted:#9aa3b2;
  --grid:#2a2f38; --before:#3f6fb5; --recreate:#e0605b; --after:#d9962c; --failed:#f2a09c;
  --rollback:#a88be0; --halt:#ff6b5e; --ponr:#f5f5f5; --start:#5fcf8e; --phase:#1e232b; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 100%;
  overflow-wrap: anywhere; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; overflow-wrap: anywhere; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
.muted { color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1rem; margin: .5rem 0; }
.legend span { display: inline-flex; align-items: center; gap: .3rem; }
.sw { width: .9rem; height: .9rem; border-radius: 2px; display: inline-block; }
.gantt { position: relative; }
.row { display: flex; align-items: center; min-height: 1.35rem; border-top: 1px solid var(--grid); }
.label { flex: 0 0 13rem; max-width: 13rem; padding-right: .5rem; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; font-size: 12px; }
.label .node { color: var(--muted); }
.track { position: relative; flex: 1 1 auto; height: 1rem; min-width: 0; }
.seg { position: absolute; top: 0; height: 100%; min-width: 2px; border-radius: 2px; }
.gate_before { background: var(--before); } .recreate { background: var(--recreate); }
.gate_after { background: var(--after); } .failed { background: var(--failed); }
.rollback { background: repeating-linear-gradient(45deg, var(--rollback) 0 4px, transparent 4px 7px);
  border: 1px solid var(--rollback); }
.phase { position: absolute; top: 0; height: 100%; background: var(--phase);
  border-left: 1px solid var(--grid); font-size: 11px; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; padding-left: 2px; color: var(--muted); }
.mark { position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px solid; pointer-events: none; }
.mark.halted { border-color: var(--halt); } .mark.point_of_no_return { border-color: var(--ponr); border-left-style: dashed; }
.mark.started { border-color: var(--start); } .mark.finished { border-color: var(--start); border-left-style: dotted; }
.overlay { position: absolute; top: 0; bottom: 0; right: 0; }
.axis { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { text-align: left; padding: .2rem .5rem .2rem 0; border-bottom: 1px solid var(--grid);
  vertical-align: top; overflow-wrap: anywhere; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.tablewrap { max-width: 100%; overflow-x: auto; }
ul.marks { padding-left: 1.1rem; margin: .3rem 0; }
@media (max-width: 700px) {
  .label { flex-basis: 7.5rem; max-width: 7.5rem; }
  .label .node { display: none; }
  .overlay { left: 7.5rem !important; }
  .wide { display: none; }
}
"#;

fn secs(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn clock(t: &Timeline, ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.origin_unix_ms + ms) * 1_000_000)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("+{}", secs(ms)))
}

fn pct(t: &Timeline, ms: i64) -> f64 {
    if t.span_ms <= 0 {
        0.0
    } else {
        (ms.clamp(0, t.span_ms) as f64) * 100.0 / t.span_ms as f64
    }
}

fn place(t: &Timeline, start: i64, end: i64) -> String {
    let left = pct(t, start);
    let width = (pct(t, end) - left).max(0.0);
    format!("left:{left:.3}%;width:{width:.3}%")
}

fn phase_title(p: PhaseId) -> &'static str {
    match p {
        PhaseId::Preflight => "Pre-flight",
        PhaseId::QuiesceConnect => "Quiesce Connect",
        PhaseId::RollZookeeper => "Roll ZooKeeper",
        PhaseId::RollBrokers => "Roll 1: brokers (IBP pinned)",
        PhaseId::RollSchemaRegistry => "Roll Schema Registry",
        PhaseId::RollConnect => "Roll Connect",
        PhaseId::RollRestProxy => "Roll REST proxy",
        PhaseId::RollKafdrop => "Roll Kafdrop",
        PhaseId::BumpIbp => "Roll 2: IBP bump",
        PhaseId::ResumeConnect => "Resume Connect",
        PhaseId::PostChecks => "Post-checks",
    }
}

fn kind_class(k: SegmentKind) -> &'static str {
    match k {
        SegmentKind::GateBefore => "gate_before",
        SegmentKind::Recreate => "recreate",
        SegmentKind::GateAfter => "gate_after",
        SegmentKind::Failed => "failed",
        SegmentKind::Rollback => "rollback",
    }
}

fn mark_class(k: MarkKind) -> &'static str {
    match k {
        MarkKind::Started => "started",
        MarkKind::PointOfNoReturn => "point_of_no_return",
        MarkKind::Halted => "halted",
        MarkKind::Finished => "finished",
    }
}

fn legend() -> Markup {
    let items = [
        ("gate_before", SegmentKind::GateBefore.label()),
        ("recreate", SegmentKind::Recreate.label()),
        ("gate_after", SegmentKind::GateAfter.label()),
        ("failed", SegmentKind::Failed.label()),
        ("rollback", SegmentKind::Rollback.label()),
    ];
    html! {
        div.legend {
            @for (class, label) in items {
                span { span class={"sw " (class)} {} (label) }
            }
            span { span.sw style="border-left:2px solid var(--halt)" {} "halt" }
            span { span.sw style="border-left:2px dashed var(--ponr)" {} "point of no return" }
            span { span.sw style="border-left:2px solid var(--start)" {} "start / resume" }
        }
    }
}

/// The phase strip's lanes: phases whose spans overlap (one taken up again after a resume, say,
/// while the next had begun) go on separate lanes, so no label is drawn over another. Each
/// phase's lane, in `phases`' order: the first lane free at its start, in order of start.
fn phase_lanes(phases: &[PhaseSpan]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..phases.len()).collect();
    order.sort_by_key(|&i| (phases[i].start_ms, i));
    let mut lane_ends: Vec<i64> = Vec::new();
    let mut lanes = vec![0; phases.len()];
    for i in order {
        let (start, end) = (phases[i].start_ms, drawn_end(&phases[i]));
        let lane = match lane_ends.iter().position(|&e| e <= start) {
            Some(l) => l,
            None => {
                lane_ends.push(i64::MIN);
                lane_ends.len() - 1
            }
        };
        lane_ends[lane] = end;
        lanes[i] = lane;
    }
    lanes
}

/// Where a phase's box ends: a phase of no measurable length still gets a millisecond.
fn drawn_end(p: &PhaseSpan) -> i64 {
    p.end_ms.max(p.start_ms + 1)
}

fn gantt(t: &Timeline) -> Markup {
    let lanes = phase_lanes(&t.phases);
    let lane_count = lanes.iter().max().map_or(1, |l| l + 1);
    html! {
        div.gantt {
            @for lane in 0..lane_count {
                div.row data-phase-lane=(lane) {
                    div.label.muted { @if lane == 0 { "phase" } }
                    div.track {
                        @for (p, _) in t.phases.iter().zip(&lanes).filter(|(_, l)| **l == lane) {
                            div.phase style=(place(t, p.start_ms, drawn_end(p)))
                                title=(format!("{}: {} → {} ({})", phase_title(p.phase), clock(t, p.start_ms), clock(t, p.end_ms), secs(p.end_ms - p.start_ms)))
                                data-phase=(p.phase.slug()) { (phase_title(p.phase)) }
                        }
                    }
                }
            }
            @for r in &t.rows {
                div.row data-container=(r.container) {
                    div.label title=(format!("{} on {}", r.container, r.node)) {
                        (r.container) " " span.node { (r.node) }
                    }
                    div.track {
                        @for s in &r.segments {
                            div class={"seg " (kind_class(s.kind))}
                                style=(place(t, s.start_ms, s.end_ms))
                                title=(format!("{} — {}: {} ({} → {})", s.step, s.kind.label(), secs(s.end_ms - s.start_ms), clock(t, s.start_ms), clock(t, s.end_ms)))
                                data-step=(s.step) data-kind=(kind_class(s.kind))
                                data-start-ms=(s.start_ms) data-end-ms=(s.end_ms) {}
                        }
                    }
                }
            }
            div.overlay style="left:13rem" {
                @for m in &t.marks {
                    div class={"mark " (mark_class(m.kind))} style=(format!("left:{:.3}%", pct(t, m.at_ms)))
                        title=(format!("{} — {}", clock(t, m.at_ms), m.text)) data-mark=(mark_class(m.kind)) {}
                }
            }
            div.row {
                div.label {}
                div.track.axis {
                    span { "0 s" } span { (secs(t.span_ms / 2)) } span { (secs(t.span_ms)) }
                }
            }
        }
    }
}

/// Under-replicated and offline partitions over the run, as the gates saw them: step lines on
/// the timeline's scale (the SVG stretches to the track; its text is HTML beside it).
fn partitions_chart(t: &Timeline) -> Markup {
    let top = t
        .partitions
        .iter()
        .map(|(_, u, o)| (*u).max(*o))
        .max()
        .unwrap_or(0)
        .max(1);
    let line = |pick: fn(&(i64, usize, usize)) -> usize| -> String {
        let mut pts = String::new();
        let mut last_y = None;
        for p in &t.partitions {
            let x = pct(t, p.0) * 10.0;
            let y = 100.0 - (pick(p) as f64) * 95.0 / top as f64;
            if let Some(ly) = last_y {
                pts.push_str(&format!("{x:.2},{ly:.2} "));
            }
            pts.push_str(&format!("{x:.2},{y:.2} "));
            last_y = Some(y);
        }
        pts
    };
    let worst_u = t.partitions.iter().map(|p| p.1).max().unwrap_or(0);
    let worst_o = t.partitions.iter().map(|p| p.2).max().unwrap_or(0);
    html! {
        @if t.partitions.is_empty() {
            p.muted { "No gate observations were recorded for this run (samples.jsonl)." }
        } @else {
            div.row {
                div.label.muted { "0 – " (top) " partitions" }
                div.track style="height:5rem" {
                    svg viewBox="0 0 1000 100" preserveAspectRatio="none" width="100%" height="100%"
                        role="img" aria-label="under-replicated and offline partitions over the run" {
                        polyline points=(line(|p| p.1)) fill="none" stroke="var(--after)" stroke-width="2" vector-effect="non-scaling-stroke" {}
                        polyline points=(line(|p| p.2)) fill="none" stroke="var(--halt)" stroke-width="2" vector-effect="non-scaling-stroke" {}
                    }
                }
            }
            p id="partitions" data-samples=(t.partitions.len()) data-worst-under-replicated=(worst_u) data-worst-offline=(worst_o) {
                span.sw style="background:var(--after)" {} " under-replicated (worst " (worst_u) ") · "
                span.sw style="background:var(--halt)" {} " offline (worst " (worst_o) ") — "
                (t.partitions.len()) " observations by the gates"
            }
        }
    }
}

fn rolls(t: &Timeline) -> Markup {
    let f = |x: f64| format!("{x:.1} s");
    html! {
        div.tablewrap {
            table id="rolls" {
                thead { tr {
                    th { "phase" } th.n { "steps" } th.n { "wall" } th.n { "unavoidable" }
                    th.n { "overhead" } th.n.wide { "gate before p50 / max" } th.n.wide { "catch-up p50 / max" }
                } }
                tbody {
                    @for r in &t.rolls {
                        tr data-phase=(r.phase.slug()) {
                            td { (phase_title(r.phase)) } td.n { (r.steps) } td.n { (f(r.wall_seconds)) }
                            td.n { (f(r.unavoidable_seconds)) }
                            td.n { @if let Some(o) = r.overhead_ratio { (format!("{o:.2}×")) } @else { "—" } }
                            td.n.wide { (f(r.gate_before_p50_seconds)) " / " (f(r.gate_before_max_seconds)) }
                            td.n.wide { (f(r.gate_after_p50_seconds)) " / " (f(r.gate_after_max_seconds)) }
                        }
                    }
                }
            }
        }
        p.muted { "Unavoidable: the steps' stop → start and catch-up (what the containers themselves cost). Overhead: wall time over unavoidable time." }
    }
}

fn steps_table(t: &Timeline) -> Markup {
    html! {
        div.tablewrap {
            table id="steps" {
                thead { tr {
                    th { "step" } th.wide { "node" } th { "what" } th.n { "seconds" } th.wide { "from" } th.wide { "to" }
                } }
                tbody {
                    @for (r, s) in t.segments() {
                        tr data-step=(s.step) data-kind=(kind_class(s.kind)) data-ms=(s.end_ms - s.start_ms) {
                            td { (s.step) } td.wide { (r.node) } td { (s.kind.label()) }
                            td.n { (format!("{:.1}", s.seconds())) }
                            td.wide { (clock(t, s.start_ms)) } td.wide { (clock(t, s.end_ms)) }
                        }
                    }
                }
            }
        }
    }
}

/// The page.
pub fn render(t: &Timeline) -> String {
    let connect: Vec<_> = t
        .phases
        .iter()
        .filter(|p| matches!(p.phase, PhaseId::QuiesceConnect | PhaseId::ResumeConnect))
        .collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "kroll run " (t.run_id) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "kroll upgrade " (t.run_id) ": " (t.from) " → " (t.to) }
                p.muted {
                    "cluster " (t.cluster) " · " (t.rows.len()) " containers · "
                    (secs(t.span_ms)) " from the first journal entry (" (clock(t, 0)) ") to the last"
                }
                ul.marks {
                    @for m in &t.marks {
                        li data-mark=(mark_class(m.kind)) { (clock(t, m.at_ms)) " — " (m.text) }
                    }
                }
                h2 { "Timeline" }
                (legend())
                (gantt(t))
                h2 { "Partitions" }
                (partitions_chart(t))
                h2 { "Rolls" }
                (rolls(t))
                h2 { "Connect and cluster-wide checks" }
                @if connect.is_empty() && t.notes.is_empty() {
                    p.muted { "none in this run" }
                } @else {
                    ul id="cluster" {
                        @for p in &connect {
                            li data-phase=(p.phase.slug()) {
                                b { (phase_title(p.phase)) } " (" (secs(p.end_ms - p.start_ms)) "): "
                                (p.message.as_deref().unwrap_or("not finished"))
                            }
                        }
                        @for (at, step, message) in &t.notes {
                            li { (clock(t, *at)) " " b { (step) } ": " (message) }
                        }
                    }
                }
                h2 { "Every step" }
                (steps_table(t))
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upgrade::journal::{Entry, Event};

    #[test]
    fn the_page_is_self_contained_and_escapes_what_the_journal_holds() {
        let entries = vec![
            Entry {
                seq: 1,
                time_unix_ms: 1_700_000_000_000,
                event: Event::RunStarted {
                    run_id: "r<1>".into(),
                    cluster: "c&d".into(),
                    from: "7.1.1".into(),
                    to: "7.7.1".into(),
                    pin_ibp: true,
                    images: vec![],
                    resumed: false,
                },
            },
            Entry {
                seq: 2,
                time_unix_ms: 1_700_000_001_000,
                event: Event::Halted {
                    reason: "<script>alert(1)</script>".into(),
                    advice: "x".into(),
                },
            },
        ];
        let page = render(&Timeline::from_journal(&entries));
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("r&lt;1&gt;") && page.contains("c&amp;d"));
        for external in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(external), "{external} in the page");
        }
    }

    #[test]
    fn overlapping_phases_get_their_own_lanes_and_touching_ones_share_one() {
        let span = |phase, start_ms, end_ms| PhaseSpan {
            phase,
            start_ms,
            end_ms,
            message: None,
        };
        let table: &[(&str, Vec<PhaseSpan>, Vec<usize>)] = &[
            ("none", vec![], vec![]),
            (
                "one after the other, touching",
                vec![
                    span(PhaseId::RollZookeeper, 0, 10),
                    span(PhaseId::RollBrokers, 10, 30),
                    span(PhaseId::BumpIbp, 30, 40),
                ],
                vec![0, 0, 0],
            ),
            (
                "a phase taken up again after the next began",
                vec![
                    span(PhaseId::RollSchemaRegistry, 0, 25),
                    span(PhaseId::RollConnect, 20, 40),
                    span(PhaseId::RollRestProxy, 40, 41),
                ],
                vec![0, 1, 0],
            ),
            (
                "three at once, then a free lane reused",
                vec![
                    span(PhaseId::QuiesceConnect, 0, 100),
                    span(PhaseId::RollZookeeper, 10, 50),
                    span(PhaseId::RollBrokers, 20, 60),
                    span(PhaseId::BumpIbp, 55, 70),
                ],
                vec![0, 1, 2, 1],
            ),
            (
                "zero-length phases at one moment",
                vec![
                    span(PhaseId::RollRestProxy, 5, 5),
                    span(PhaseId::RollKafdrop, 5, 5),
                    span(PhaseId::BumpIbp, 6, 9),
                ],
                vec![0, 1, 0],
            ),
            (
                "listed out of order",
                vec![
                    span(PhaseId::BumpIbp, 50, 60),
                    span(PhaseId::RollBrokers, 0, 55),
                ],
                vec![1, 0],
            ),
        ];
        for (case, phases, want) in table {
            assert_eq!(&phase_lanes(phases), want, "{case}");
        }
    }
}
