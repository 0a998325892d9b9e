//! `kroll ui` (the real binary, with a `reader` certificate) against a real agent and real
//! JVMs, looked at in Debian's Chromium: every container and JVM the agent reports is on the
//! page with the agent's figures, a Java OutOfMemoryError reaches the page's feed within 2 s
//! without a reload, the page fits a laptop and a phone in light and dark; the server refuses
//! foreign `Host` names and anything but reading, and beyond loopback serves only over TLS with
//! basic auth; 18 nodes × 6 JVM containers (simulated agents serving a real agent's snapshot of
//! real JVMs) are drawn with no text over other text and no horizontal scroll, on a laptop in
//! light and a phone in dark.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kroll_tests::browser::{Browser, Look};
use kroll_tests::{Pki, eventually};
use serde_json::Value;

use super::watch::{oom_at, start_agent};
use super::{inventory, start_java};

/// A running `kroll ui`, killed by its PID when dropped.
pub(crate) struct Ui {
    child: Child,
    pub(crate) url: String,
}

impl Ui {
    /// Its `/state.json`, or `None` while it does not answer one.
    pub(crate) async fn state(&self) -> Option<Value> {
        let text = http_client(None)
            .get(format!("{}state.json", self.url))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        serde_json::from_str(&text).ok()
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kroll ui` on a free loopback port; returns once it says it serves.
pub(crate) fn start_ui(inv: &Path, args: &[&str], scheme: &str) -> Ui {
    let port = kroll_tests::prom::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(kroll_tests::bin("kroll"))
        .arg("--inventory")
        .arg(inv)
        .args(["ui", "--listen", &listen])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kroll ui");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(
        first.starts_with(&format!("kroll ui: serving {scheme}://{listen}/")),
        "{first}"
    );
    // The rest of its stderr is drained so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ui {
        child,
        url: format!("{scheme}://{listen}/"),
    }
}

fn http_client(ca: Option<&Path>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).expect("ca");
        b = b.tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("ca pem")]);
    }
    b.build().expect("client")
}

/// What the page shows, read from its DOM.
async fn shown(browser: &Browser) -> Value {
    browser
        .eval(
            r#"
            const cs = [...document.querySelectorAll('.c[data-container]')].map(c => ({
              name: c.dataset.container, state: c.dataset.state, version: c.dataset.version,
              restarts: Number(c.dataset.restarts),
              jvms: [...c.querySelectorAll('.jvm')].map(j => ({
                pid: Number(j.dataset.pid), max: Number(j.dataset.heapMax),
                used: Number(j.dataset.heapUsed), points: Number(j.dataset.points),
                drift: !!j.querySelector('[data-drift]'), lines: j.querySelectorAll('polyline').length })) }));
            return {
              containers: cs,
              feed: [...document.querySelectorAll('#feed li[data-kind]')].map(l => ({
                kind: l.dataset.kind, container: l.dataset.container, text: l.textContent })),
              kept: window.__kept === 1,
              scrollWidth: document.documentElement.scrollWidth,
              innerWidth: window.innerWidth,
              dark: matchMedia('(prefers-color-scheme: dark)').matches,
              run: document.getElementById('run')?.textContent ?? '',
            };
            "#,
        )
        .await
}

/// Where the page (as [`shown`] reads it) differs from the agent's answer: a container missing
/// or extra, its state, restarts or version, its JVMs' pids and maximum heaps.
fn page_vs_agent(state: &kroll_shared::model::NodeState, page: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let containers = page["containers"].as_array().cloned().unwrap_or_default();
    if containers.len() != state.containers.len() {
        out.push(format!(
            "{} containers on the page, {} from the agent",
            containers.len(),
            state.containers.len()
        ));
    }
    for c in &state.containers {
        let Some(on_page) = containers.iter().find(|p| p["name"] == c.name.as_str()) else {
            out.push(format!("{} is not on the page", c.name));
            continue;
        };
        let version = c
            .labelled_version()
            .unwrap_or_else(|| kroll_shared::model::image_tag(&c.image));
        for (what, shown, agent) in [
            (
                "state",
                on_page["state"].clone(),
                Value::from(c.status.as_str()),
            ),
            (
                "restarts",
                on_page["restarts"].clone(),
                Value::from(c.restart_count),
            ),
            ("version", on_page["version"].clone(), Value::from(version)),
        ] {
            if shown != agent {
                out.push(format!("{} {what}: page {shown}, agent {agent}", c.name));
            }
        }
        let jvms: Vec<(u64, u64)> = c
            .java
            .iter()
            .flat_map(|j| &j.jvms)
            .filter_map(|j| Some((u64::from(j.pid), j.heap.as_ref()?.max_bytes?)))
            .collect();
        let shown_jvms: Vec<(u64, u64)> = on_page["jvms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|j| {
                (
                    j["pid"].as_u64().unwrap_or(0),
                    j["max"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        if shown_jvms != jvms {
            out.push(format!(
                "{} JVMs (pid, max heap): page {shown_jvms:?}, agent {jvms:?}",
                c.name
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn kroll_ui_shows_what_the_agent_reports_and_an_oom_within_two_seconds() {
    let node = "heap-ui";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let agent = start_agent(&pki, node, dir.path(), None).await;
    let inv = inventory(dir.path(), &pki, &[&agent], "");
    let steady = start_java(
        "ui-steady",
        node,
        &["HEAP_OPTS=-Xmx96m"],
        &["-Xmx32m"],
        &["Idle", "4"],
    )
    .await;
    let reader = pki.path("reader.pem").display().to_string();
    let reader_key = pki.path("reader-key.pem").display().to_string();
    let runs = dir.path().join("runs").display().to_string();
    let ui = start_ui(
        &inv,
        &[
            "--cert",
            &reader,
            "--key",
            &reader_key,
            "--every",
            "500ms",
            "--runs",
            &runs,
        ],
        "http",
    );

    // The agent's own answer, for comparison.
    let mut client = super::super::agent::client(&pki, "coordinator", &agent).await;
    let state = eventually("steady's heap", Duration::from_secs(60), async || {
        let s = client.node_state().await.ok()?;
        let c = s.containers.iter().find(|c| c.name == steady.name)?;
        c.java.as_ref()?.jvms.first()?.heap.as_ref()?;
        Some(s)
    })
    .await;

    let browser = Browser::start(Look::LAPTOP).await;
    browser.client.goto(&ui.url).await.expect("open kroll ui");
    browser.eval("window.__kept = 1; return 1;").await;
    let page = eventually(
        "the page to show steady's JVM with a few samples",
        Duration::from_secs(30),
        async || {
            let p = shown(&browser).await;
            let c = p["containers"]
                .as_array()?
                .iter()
                .find(|c| c["name"] == steady.name.as_str())?
                .clone();
            (c["jvms"][0]["points"].as_u64()? >= 2).then_some(p)
        },
    )
    .await;
    // Every container the agent reports, with its state, restarts and version; every JVM with
    // its pid and maximum heap; steady's drift (asked 96m, runs with 32m) marked. The page
    // follows the agent by up to one `--every`, so both are read again until they agree (or
    // 20 s pass, and the differences are the failure).
    let (mut state, mut page) = (state, page);
    let began = Instant::now();
    loop {
        let differences = page_vs_agent(&state, &page);
        if differences.is_empty() {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "the page does not show what the agent reports:\n{}\n{page}",
            differences.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        state = client.node_state().await.expect("the agent's state");
        page = shown(&browser).await;
    }
    let containers = page["containers"].as_array().expect("containers");
    let steady_jvm = &containers
        .iter()
        .find(|c| c["name"] == steady.name.as_str())
        .expect("steady")["jvms"][0];
    assert_eq!(steady_jvm["drift"], true, "{steady_jvm}");
    assert_eq!(
        steady_jvm["lines"], 2,
        "heap and old generation: {steady_jvm}"
    );
    assert!(
        page["run"]
            .as_str()
            .is_some_and(|r| r.contains("no run under")),
        "{page}"
    );

    // An OutOfMemoryError: on the page's feed within 2 s of the JVM printing it, no reload.
    let hog = start_java("ui-hog", node, &[], &["-Xmx16m"], &["Hog", "1500"]).await;
    let began = Instant::now();
    let (item, seen_at) = loop {
        let p = shown(&browser).await;
        let found = p["feed"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["kind"] == "java_oom" && f["container"] == hog.name.as_str())
            .cloned();
        if let Some(f) = found {
            assert_eq!(p["kept"], true, "the page was reloaded");
            break (f, kroll_shared::time::now_unix_ms());
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "no java_oom of {} on the page: {p}",
            hog.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = item["text"].as_str().unwrap_or_default();
    assert!(text.contains("OutOfMemoryError"), "{text}");
    let latency = seen_at - oom_at(text, &hog.name);
    eprintln!("OOM → kroll ui's feed: {latency} ms");
    assert!((0..2000).contains(&latency), "OOM → page took {latency} ms");

    // A laptop in light, a phone in dark: nothing wider than the window.
    assert!(
        page["scrollWidth"].as_u64() <= page["innerWidth"].as_u64(),
        "horizontal scroll at 1280 px: {page}"
    );
    browser.screenshot("kroll-ui-1280x800-light").await;
    browser.close().await;
    let phone = Browser::start(Look::PHONE_DARK).await;
    phone.client.goto(&ui.url).await.expect("open kroll ui");
    let small = eventually("the phone's page", Duration::from_secs(10), async || {
        let p = shown(&phone).await;
        (p["containers"].as_array()?.len() == containers.len() + 1).then_some(p)
    })
    .await;
    assert_eq!(small["dark"], true);
    assert!(
        small["scrollWidth"].as_u64() <= small["innerWidth"].as_u64(),
        "horizontal scroll at 390 px: {small}"
    );
    phone.screenshot("kroll-ui-390x844-dark").await;
    phone.close().await;

    // Read-only, to itself: a foreign Host (DNS rebinding) and a write are refused, every answer
    // forbids scripts and frames from elsewhere.
    let http = http_client(None);
    let ok = http.get(&ui.url).send().await.expect("GET /");
    assert_eq!(ok.status(), 200);
    let csp = ok
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let rebound = http
        .get(&ui.url)
        .header("host", "attacker.example")
        .send()
        .await
        .expect("GET with a foreign Host");
    assert_eq!(rebound.status(), 421);
    let post = http.post(&ui.url).send().await.expect("POST /");
    assert_eq!(post.status(), 405);
    let state_json: Value = serde_json::from_str(
        &http
            .get(format!("{}state.json", ui.url))
            .send()
            .await
            .expect("state.json")
            .text()
            .await
            .expect("body"),
    )
    .expect("json");
    assert!(
        state_json["jvms"].as_array().is_some_and(|j| j.len() >= 2),
        "{state_json}"
    );
    drop(ui);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eighteen_nodes_of_six_jvm_containers_fit_a_laptop_and_a_phone_with_no_text_overlapping() {
    const NODES: u64 = 18;
    const JVMS: usize = 6;
    let mut source = Vec::new();
    for j in 0..JVMS {
        source.push(
            start_java(
                &format!("ui-fleet-{j}"),
                "real-node",
                &["KAFKA_HEAP_OPTS=-Xmx64m"],
                &["-Xmx48m"],
                &["Idle", "4"],
            )
            .await,
        );
    }
    let fleet = kroll_tests::sim::Fleet::start(NODES, source, JVMS, true).await;
    let ui = start_ui(&fleet.inventory, &["--every", "300ms"], "http");
    // Every JVM with a few samples, so each sparkline is drawn.
    let state = eventually(
        "kroll ui to hold 3 samples of every JVM",
        Duration::from_secs(60),
        async || {
            let v = ui.state().await?;
            let jvms = v["jvms"].as_array()?;
            (jvms.len() == NODES as usize * JVMS
                && jvms
                    .iter()
                    .all(|j| j["samples"].as_u64().is_some_and(|n| n >= 3)))
            .then_some(v)
        },
    )
    .await;
    assert!(state["feed"].as_array().is_some(), "{state}");

    for look in [Look::LAPTOP, Look::PHONE_DARK] {
        let browser = Browser::start(look).await;
        browser.client.goto(&ui.url).await.expect("open kroll ui");
        let page = shown(&browser).await;
        let containers = page["containers"].as_array().expect("containers");
        assert_eq!(
            containers.len(),
            NODES as usize * JVMS,
            "every simulated container ({})",
            look.name()
        );
        let jvms: usize = containers
            .iter()
            .map(|c| c["jvms"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(jvms, NODES as usize * JVMS, "a sparkline per JVM");
        assert!(
            containers
                .iter()
                .flat_map(|c| c["jvms"].as_array().into_iter().flatten())
                .all(|j| j["points"].as_u64() >= Some(3) && j["lines"] == 2),
            "every sparkline drawn with heap and old generation: {page}"
        );
        assert_eq!(page["dark"], look.dark);
        assert!(
            page["scrollWidth"].as_u64() <= page["innerWidth"].as_u64(),
            "horizontal scroll at {} px: {} wide",
            look.width,
            page["scrollWidth"]
        );
        // Every JVM drifts here (asks 64 MiB, runs 48): each says so in one line, and the
        // explanation a reader unfolds stays unfolded through the page's refreshes.
        let unfolded = browser
            .eval(
                "const d = document.querySelector('#live details.drift'); d.querySelector('summary').click(); \
                 return { key: d.dataset.key, at: Number(document.querySelector('[data-observed-at]').dataset.observedAt) };",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = browser
            .eval(
                r#"return { open: [...document.querySelectorAll('#live details[open]')].map(d => d.dataset.key),
                            drifts: document.querySelectorAll('#live details.drift').length,
                            at: Number(document.querySelector('[data-observed-at]').dataset.observedAt) };"#,
            )
            .await;
        assert!(
            after["at"].as_i64() > unfolded["at"].as_i64(),
            "the page refreshed meanwhile: {unfolded} {after}"
        );
        assert_eq!(
            after["open"],
            serde_json::json!([unfolded["key"]]),
            "{after}"
        );
        assert_eq!(after["drifts"], NODES * JVMS as u64, "{after}");
        let overlaps = browser.overlapping_text().await;
        let shot = browser
            .screenshot(&format!("kroll-ui-{NODES}x{JVMS}-{}", look.name()))
            .await;
        assert!(
            overlaps.is_empty(),
            "text drawn over text at {} (see {}):\n{}",
            look.name(),
            shot.display(),
            overlaps.join("\n")
        );
        browser.close().await;
    }
    drop(ui);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_loopback_kroll_ui_needs_tls_and_basic_auth_and_never_shows_the_password() {
    let node = "heap-ui-tls";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    // No agent runs: the page says so.
    let inv = dir.path().join("kroll.toml");
    std::fs::write(
        &inv,
        format!(
            "[cluster]\nname = \"uitls\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[agents]\ntimeout_ms = 500\n[[nodes]]\nname = \"{node}\"\nagent = \"127.0.0.1:1\"\n",
            pki.path("ca.pem").display(),
            pki.path("coordinator.pem").display(),
            pki.path("coordinator-key.pem").display()
        ),
    )
    .expect("inventory");
    let password = format!("Ui-Pw-{}", kroll_tests::run_id());
    let pw_file = dir.path().join("ui-password");
    std::fs::write(&pw_file, format!("{password}\n")).expect("password file");
    let cert = pki.path(&format!("agent-{node}.pem")).display().to_string();
    let key = pki
        .path(&format!("agent-{node}-key.pem"))
        .display()
        .to_string();
    let pw_arg = pw_file.display().to_string();

    // Refused before serving: an open address without TLS and auth, an empty password file.
    let refused = |args: &[&str]| {
        let out = Command::new(kroll_tests::bin("kroll"))
            .arg("--inventory")
            .arg(&inv)
            .arg("ui")
            .args(args)
            .output()
            .expect("kroll ui");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = refused(&["--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--listen 0.0.0.0:0: serving beyond this machine needs --tls-cert/--tls-key and --username/--password-file"),
        "{err}"
    );
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").expect("empty");
    let (code, err) = refused(&[
        "--username",
        "ops",
        "--password-file",
        &empty.display().to_string(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the file is empty"), "{err}");

    let ui = start_ui(
        &inv,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--username",
            "ops",
            "--password-file",
            &pw_arg,
        ],
        "https",
    );
    let https = http_client(Some(&pki.path("ca.pem")));
    let anonymous = https.get(&ui.url).send().await.expect("GET /");
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("Basic ")),
        "{anonymous:?}"
    );
    let wrong = https
        .get(&ui.url)
        .basic_auth("ops", Some("not-the-password"))
        .send()
        .await
        .expect("GET / wrong password");
    assert_eq!(wrong.status(), 401);
    let page = eventually("the page over TLS", Duration::from_secs(20), async || {
        let r = https
            .get(&ui.url)
            .basic_auth("ops", Some(&password))
            .send()
            .await
            .ok()?;
        let body = r.text().await.ok()?;
        body.contains("agent unreachable").then_some(body)
    })
    .await;
    assert!(page.contains(node), "{page}");
    assert!(!page.contains(&password));
    // Plain HTTP on the TLS port gets no page.
    let plain = http_client(None)
        .get(ui.url.replace("https://", "http://"))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status() != 200),
        "plain HTTP answered"
    );
    drop(ui);
}
