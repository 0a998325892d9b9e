//! `report.html` in a real browser (Debian's chromium over WebDriver): what the page draws is
//! what the journal says — every step's segments with the journal's durations —, it fits a
//! laptop and a phone in light and dark with an 18-node × 6-container run, and screenshots are
//! kept. `check_against_journal` is also run on a real run's page by the killed-coordinator
//! upgrade test.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kroll::upgrade::journal::{Entry, Event};
use kroll_tests::bin;
use kroll_tests::browser::{Browser, Look};
use serde_json::Value;

/// Every step segment the journal implies, as (step, kind) → milliseconds: a done step's gate
/// before, its recreate and its catch-up, straight from its `step_done` record.
fn journal_durations(entries: &[Entry]) -> BTreeMap<(String, String), i64> {
    let mut out = BTreeMap::new();
    for e in entries {
        if let Event::StepDone {
            step,
            action_ms,
            gate_before_ms,
            gate_after_ms,
            ..
        } = &e.event
        {
            for (kind, ms) in [
                ("gate_before", gate_before_ms),
                ("recreate", action_ms),
                ("gate_after", gate_after_ms),
            ] {
                // A step done twice (a rollback then a retry) keeps its last figures.
                out.insert((step.clone(), kind.to_owned()), *ms as i64);
            }
        }
    }
    out
}

/// The page's step segments (or table rows) of the three kinds a done step has, keyed by
/// (step, kind), with what `value` reads of each.
fn step_parts<T>(list: &Value, value: impl Fn(&Value) -> T) -> BTreeMap<(String, String), T> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter(|s| {
            ["gate_before", "recreate", "gate_after"].contains(&s["kind"].as_str().unwrap_or(""))
        })
        .map(|s| {
            let key = (
                s["step"].as_str().unwrap_or_default().to_owned(),
                s["kind"].as_str().unwrap_or_default().to_owned(),
            );
            (key, value(s))
        })
        .collect()
}

/// Opens `page` as `look` and checks it against `entries`: every done step's three segments
/// with the journal's durations (drawn and in the table), the halts, rollbacks and the point of
/// no return the journal holds, nothing wider than the window, row labels not overlapping,
/// the colour scheme asked for. Keeps a screenshot named `name`.
pub async fn check_against_journal(page: &Path, entries: &[Entry], look: Look, name: &str) {
    let browser = Browser::start(look).await;
    browser.open(page).await;
    let seen = browser
        .eval(
            r#"
            const segs = [...document.querySelectorAll('.seg')].map(s => ({
              step: s.dataset.step, kind: s.dataset.kind,
              ms: Number(s.dataset.endMs) - Number(s.dataset.startMs),
              w: s.getBoundingClientRect().width }));
            const rows = [...document.querySelectorAll('#steps tbody tr')].map(r => ({
              step: r.dataset.step, kind: r.dataset.kind, ms: Number(r.dataset.ms),
              shown: r.children[3].textContent }));
            const labels = [...document.querySelectorAll('.gantt .row[data-container] .label')]
              .map(l => { const b = l.getBoundingClientRect(); return [b.top, b.bottom]; });
            let overlaps = 0;
            for (let i = 1; i < labels.length; i++) if (labels[i][0] < labels[i-1][1] - 0.5) overlaps++;
            return {
              segs, rows, overlaps,
              marks: [...document.querySelectorAll('.overlay .mark')].map(m => m.dataset.mark),
              containers: document.querySelectorAll('.gantt .row[data-container]').length,
              scrollWidth: document.documentElement.scrollWidth,
              innerWidth: window.innerWidth,
              // What sticks out past the window's right edge (outside any scrolling box).
              wide: (() => {
                const out = [];
                const past = (r) => r.right > window.innerWidth + 0.5;
                for (const e of document.querySelectorAll('body *'))
                  if (past(e.getBoundingClientRect()) && !e.closest('.tablewrap'))
                    out.push(`${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.slice(0, 80)}`);
                const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                for (let n; (n = w.nextNode());) {
                  if (n.parentElement.closest('.tablewrap')) continue;
                  const r = document.createRange();
                  r.selectNodeContents(n);
                  if ([...r.getClientRects()].some(past))
                    out.push(`text in ${n.parentElement.tagName.toLowerCase()}: ${n.textContent.slice(0, 80)}`);
                }
                return out.slice(0, 8);
              })(),
              dark: matchMedia('(prefers-color-scheme: dark)').matches,
              background: getComputedStyle(document.body).backgroundColor,
              samples: Number(document.getElementById('partitions')?.dataset.samples ?? 0),
              worstUnder: Number(document.getElementById('partitions')?.dataset.worstUnderReplicated ?? 0),
              worstOffline: Number(document.getElementById('partitions')?.dataset.worstOffline ?? 0),
              scripts: document.scripts.length,
              external: [...document.querySelectorAll('[src],link[href]')].length,
            };
            "#,
        )
        .await;
    let overlaps = browser.overlapping_text().await;
    let shot = browser.screenshot(name).await;
    // The page itself beside its screenshot, to open when a check fails.
    std::fs::copy(page, shot.with_extension("html")).expect("keep the page");
    browser.close().await;
    assert!(
        overlaps.is_empty(),
        "text drawn over text ({name}, see {}):\n{}",
        shot.display(),
        overlaps.join("\n")
    );

    let want = journal_durations(entries);
    let drawn: BTreeMap<(String, String), i64> =
        step_parts(&seen["segs"], |s| s["ms"].as_i64().unwrap_or(-1));
    assert_eq!(drawn, want, "drawn segments vs the journal ({name})");
    let tabled = step_parts(&seen["rows"], |s| {
        (
            s["ms"].as_i64().unwrap_or(-1),
            s["shown"].as_str().unwrap_or_default().to_owned(),
        )
    });
    for (key, ms) in &want {
        let (row_ms, shown) = tabled
            .get(key)
            .unwrap_or_else(|| panic!("{key:?} missing from the steps table ({name})"));
        assert_eq!(row_ms, ms, "{key:?} in the table");
        assert_eq!(
            shown,
            &format!("{:.1}", *ms as f64 / 1000.0),
            "{key:?} shown in seconds"
        );
    }
    let containers: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::StepIntent { container, .. } => Some(container.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        seen["containers"],
        containers.len(),
        "one row per container"
    );
    let count = |f: &dyn Fn(&Event) -> bool| entries.iter().filter(|e| f(&e.event)).count();
    let marks: Vec<&str> = seen["marks"]
        .as_array()
        .expect("marks")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let n = |m: &str| marks.iter().filter(|x| **x == m).count();
    assert_eq!(n("halted"), count(&|e| matches!(e, Event::Halted { .. })));
    assert_eq!(
        n("point_of_no_return"),
        count(&|e| matches!(e, Event::BumpConfirmed { .. }))
    );
    assert_eq!(
        n("started"),
        count(&|e| matches!(e, Event::RunStarted { .. }))
    );
    let rollbacks = seen["segs"]
        .as_array()
        .expect("segments")
        .iter()
        .filter(|s| s["kind"] == "rollback")
        .count();
    assert_eq!(
        rollbacks,
        count(&|e| matches!(e, Event::RolledBack { .. })),
        "every rollback drawn"
    );
    // The partition chart holds the gates' observations made within the run's span.
    let (first, last) = (
        entries.first().map_or(0, |e| e.time_unix_ms),
        entries.last().map_or(0, |e| e.time_unix_ms),
    );
    let samples: Vec<_> = kroll::upgrade::journal::read_samples(page.parent().expect("run dir"))
        .into_iter()
        .filter(|s| (first..=last).contains(&s.time_unix_ms))
        .collect();
    assert_eq!(seen["samples"], samples.len(), "samples charted ({name})");
    assert_eq!(
        seen["worstUnder"],
        samples
            .iter()
            .map(|s| s.under_replicated)
            .max()
            .unwrap_or(0),
        "worst under-replicated count ({name})"
    );
    assert_eq!(
        seen["worstOffline"],
        samples.iter().map(|s| s.offline).max().unwrap_or(0),
        "worst offline count ({name})"
    );
    assert!(
        seen["scrollWidth"].as_i64() <= seen["innerWidth"].as_i64(),
        "horizontal scroll at {} ({name}, see {}); past the right edge: {:#}",
        look.name(),
        shot.display(),
        seen["wide"]
    );
    assert_eq!(seen["overlaps"], 0, "row labels overlap ({name})");
    assert_eq!(seen["dark"], look.dark, "colour scheme ({name})");
    let bg = seen["background"].as_str().unwrap_or_default();
    let dark_bg = bg == "rgb(20, 23, 28)";
    assert_eq!(dark_bg, look.dark, "background {bg} ({name})");
    assert_eq!(seen["scripts"], 0, "no script in the page");
    assert_eq!(seen["external"], 0, "nothing loaded from elsewhere");
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "screenshot {}",
        shot.display()
    );
    eprintln!(
        "report.html ({name}) checked; screenshot {}",
        shot.display()
    );
}

/// A run of 18 nodes × 6 containers: every container rolled once, brokers twice (Roll 1 and
/// the bump), one failed step rolled back, a halt, a resume, the point of no return.
fn production_shaped_run() -> Vec<Entry> {
    let mut t: i64 = 1_764_000_000_000;
    let mut seq = 0;
    let mut out = Vec::new();
    let mut push = |ms: i64, event: Event, t: &mut i64| {
        *t += ms;
        seq += 1;
        out.push(Entry {
            seq,
            time_unix_ms: *t,
            event,
        });
    };
    let started = |resumed| Event::RunStarted {
        run_id: "20261203-prod".into(),
        cluster: "rhodry-prod".into(),
        from: "7.1.1".into(),
        to: "7.7.1".into(),
        pin_ibp: true,
        images: vec![],
        resumed,
    };
    push(0, started(false), &mut t);
    let kinds = [
        "zookeeper",
        "kafka",
        "schema-registry",
        "connect",
        "rest-proxy",
        "kafdrop",
    ];
    let phase_of = |k: &str| match k {
        "zookeeper" => "roll-zookeeper",
        "kafka" => "roll-brokers",
        "schema-registry" => "roll-schema-registry",
        "connect" => "roll-connect",
        "rest-proxy" => "roll-rest-proxy",
        _ => "roll-kafdrop",
    };
    let mut n = 0u64;
    let mut step = |phase: &str, kind: &str, node: usize, push: &mut dyn FnMut(i64, Event)| {
        n += 1;
        let container = format!("{kind}-{node:02}");
        let step = format!("{phase}/{container}");
        let op = format!("op-{n}");
        let (before, action, after) = (
            300 + (n * 37 % 900),
            4_000 + (n * 53 % 3_000),
            1_500 + (n * 71 % 6_000),
        );
        push(
            before as i64,
            Event::StepIntent {
                step: step.clone(),
                node: format!("rhodrylab-{node:02}"),
                container,
                op_id: op.clone(),
                image: format!("registry/{kind}:7.7.1"),
            },
        );
        push(
            (action + after) as i64 + 7,
            Event::StepDone {
                step,
                op_id: op,
                action_ms: action,
                gate_before_ms: before,
                gate_after_ms: after,
                back_during_action_ms: None,
            },
        );
    };
    let mut p = |ms: i64, e: Event| push(ms, e, &mut t);
    for kind in kinds {
        let phase = phase_of(kind);
        p(
            50,
            Event::PhaseStarted {
                phase: kroll::upgrade::plan::PhaseId::parse(phase).expect("phase"),
            },
        );
        for node in 1..=18 {
            if kind == "kafka" && node == 7 {
                // A failed catch-up, rolled back, then the halt and a resume.
                p(
                    400,
                    Event::StepIntent {
                        step: "roll-brokers/kafka-07".into(),
                        node: "rhodrylab-07".into(),
                        container: "kafka-07".into(),
                        op_id: "op-failed".into(),
                        image: "registry/kafka:7.7.1".into(),
                    },
                );
                p(
                    30_000,
                    Event::StepFailed {
                        step: "roll-brokers/kafka-07".into(),
                        op_id: "op-failed".into(),
                        error: "kafka-07 not back in full ISR within 30 s".into(),
                        left_as_before: false,
                    },
                );
                p(
                    9_000,
                    Event::RolledBack {
                        step: "roll-brokers/kafka-07".into(),
                        container: "kafka-07".into(),
                        image: "registry/kafka:7.1.1".into(),
                        healed: Some(true),
                    },
                );
                p(
                    100,
                    Event::Halted {
                        reason: "kafka-07 not back in full ISR within 30 s".into(),
                        advice: "look at kafka-07's log".into(),
                    },
                );
                p(600_000, started(true));
            }
            step(phase, kind, node, &mut p);
        }
    }
    p(
        100,
        Event::BumpConfirmed {
            how: "--yes".into(),
        },
    );
    for node in 1..=18 {
        step("bump-ibp", "kafka", node, &mut p);
    }
    p(200, Event::Finished { seconds: 1234.5 });
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn report_html_draws_the_journal_and_fits_laptop_and_phone_in_light_and_dark() {
    let dir = tempfile::tempdir().expect("tmp");
    let entries = production_shaped_run();
    let journal: String = entries
        .iter()
        .map(|e| serde_json::to_string(e).expect("entry") + "\n")
        .collect();
    std::fs::write(dir.path().join("journal.jsonl"), journal).expect("journal");
    // A gate observation every 5 s, partitions under-replicated while a broker is away.
    let (first, last) = (
        entries[0].time_unix_ms,
        entries[entries.len() - 1].time_unix_ms,
    );
    let samples: String = (first - 20_000..=last + 20_000)
        .step_by(5_000)
        .enumerate()
        .map(|(i, t)| {
            let sample = kroll::upgrade::journal::Sample {
                time_unix_ms: t,
                partitions: 3_000,
                under_replicated: (i * 37) % 400,
                offline: usize::from(i % 97 == 0),
            };
            serde_json::to_string(&sample).expect("sample") + "\n"
        })
        .collect();
    std::fs::write(dir.path().join("samples.jsonl"), samples).expect("samples");
    let out = Command::new(bin("kroll"))
        .args(["report"])
        .arg(dir.path())
        .output()
        .expect("kroll report");
    assert!(
        out.status.success(),
        "kroll report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = dir.path().join("report.html");
    let bytes = std::fs::metadata(&page).expect("report.html written").len();
    println!("FIGURE report.html of 108 containers, 126 steps: {bytes} bytes");
    for look in [
        Look::LAPTOP,
        Look {
            width: 1280,
            height: 800,
            dark: true,
        },
        Look {
            width: 390,
            height: 844,
            dark: false,
        },
    ] {
        check_against_journal(&page, &entries, look, &format!("report-{}", look.name())).await;
    }
}

#[test]
fn kroll_report_refuses_a_directory_without_a_journal_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(bin("kroll"))
        .arg("report")
        .arg(dir.path())
        .output()
        .expect("kroll report");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("journal.jsonl") && err.contains("no journal here"),
        "{err}"
    );
    assert!(!dir.path().join("report.html").exists(), "nothing written");
}

/// The overlap check the pages are held to sees text drawn over text, and only where it shows:
/// two labels placed on each other are found; a label cut by its box's `overflow: hidden` next
/// to another, hidden text, a closed `<details>`' folded text and lines that merely touch are
/// not.
#[tokio::test(flavor = "multi_thread")]
async fn the_overlap_check_finds_text_over_text_and_ignores_clipped_or_hidden_text() {
    let dir = tempfile::tempdir().expect("tmp");
    let page = dir.path().join("overlap.html");
    std::fs::write(
        &page,
        r#"<!doctype html><html><body style="margin:0;font:16px/20px sans-serif">
<div style="position:relative;height:40px">
  <span style="position:absolute;left:10px;top:0">gate before kafka-01</span>
  <span style="position:absolute;left:60px;top:4px">catch-up kafka-02</span>
</div>
<div style="position:relative;height:40px">
  <div style="position:absolute;left:0;top:0;width:50px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis">a very long container name</div>
  <span style="position:absolute;left:52px;top:0">beside it</span>
  <span style="position:absolute;left:200px;top:0;visibility:hidden">hidden one</span>
  <span style="position:absolute;left:200px;top:0">shown one</span>
  <details style="position:absolute;left:300px;top:0"><summary>folded</summary>under the fold</details>
  <span style="position:absolute;left:300px;top:20px">below the summary</span>
</div>
<p style="margin:0">one line</p><p style="margin:0">the next line</p>
</body></html>"#,
    )
    .expect("page");
    let browser = Browser::start(Look {
        width: 800,
        height: 600,
        dark: false,
    })
    .await;
    browser.open(&page).await;
    let found = browser.overlapping_text().await;
    browser.close().await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("`gate before kafka-01` (span)")
            && found[0].contains("`catch-up kafka-02` (span)"),
        "{found:#?}"
    );
}
