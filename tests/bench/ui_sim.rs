//! `ui-sim`: `kroll ui` (the binary beside this one) over N simulated agents, each serving a
//! real agent's snapshot of 6 real JVM containers with heaps that move on every answer: the
//! page's weight, its first render in Chromium at 1280 px (every container and JVM drawn, no
//! horizontal scroll), and the server's CPU and memory while P pages are open — each fetching
//! `/live` every `--every` and holding an `/events` stream, as the page's script does.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kroll_tests::browser::{Browser, Look};

use kroll_tests::sim::Fleet;

/// utime + stime of `pid`, in clock ticks, and its resident and peak resident memory in KiB.
fn proc_figures(pid: u32) -> (u64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command's closing parenthesis: state is field 3; utime 14, stime 15.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks, kib("VmRSS:"), kib("VmHWM:"))
}

pub async fn run(agents: u64, pages: usize, warm_seconds: u64, seconds: u64) {
    let mut source = Vec::new();
    for j in 0..6 {
        source.push(
            kroll_tests::java::start_java(
                &format!("uisim-{j}"),
                "real-node",
                &["KAFKA_HEAP_OPTS=-Xmx64m"],
                &["-Xmx64m"],
                &["Idle", "4"],
            )
            .await,
        );
    }
    let fleet = Fleet::start(agents, source, 6, true).await;
    let port = kroll_tests::prom::free_port();
    let listen = format!("127.0.0.1:{port}");
    let runs = fleet.dir.path().join("runs");
    let mut ui = Command::new(kroll_tests::bin("kroll"))
        .arg("--inventory")
        .arg(&fleet.inventory)
        .args(["ui", "--listen", &listen, "--every", "2s", "--runs"])
        .arg(&runs)
        .stderr(Stdio::piped())
        .spawn()
        .expect("kroll ui");
    let pid = ui.id();
    let mut lines = BufReader::new(ui.stderr.take().expect("stderr")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("serving"), "{first}");
    std::thread::spawn(move || for _ in lines {});
    let url = format!("http://{listen}/");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    println!(
        "ui-sim: {agents} simulated agents × 6 JVM containers, kroll ui every 2 s; {warm_seconds} s to fill the sparklines"
    );
    tokio::time::sleep(Duration::from_secs(warm_seconds)).await;
    let fetch = async |path: &str| {
        http.get(format!("{url}{path}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /{path}: {e}"))
            .bytes()
            .await
            .expect("body")
    };
    let page = fetch("").await;
    let live = fetch("live").await;
    let script = fetch("app.js").await;
    println!(
        "  page weight: / {:.1} KB + app.js {:.1} KB (nothing else fetched); /live {:.1} KB every 2 s",
        page.len() as f64 / 1000.0,
        script.len() as f64 / 1000.0,
        live.len() as f64 / 1000.0
    );

    for look in [Look::LAPTOP, Look::PHONE_DARK] {
        let browser = Browser::start(look).await;
        let began = Instant::now();
        browser.client.goto(&url).await.expect("open kroll ui");
        let navigated_ms = began.elapsed().as_millis();
        let seen = browser
            .eval(
                r#"
                const nav = performance.getEntriesByType('navigation')[0];
                const names = [...document.querySelectorAll('.c .name')].map(n => n.getBoundingClientRect());
                let clipped = 0;
                for (const r of names) if (r.right > window.innerWidth + 0.5) clipped++;
                return {
                  dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                  containers: document.querySelectorAll('.c[data-container]').length,
                  jvms: document.querySelectorAll('.jvm').length,
                  points: Math.min(...[...document.querySelectorAll('.jvm')].map(j => Number(j.dataset.points))),
                  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
                  clipped,
                };
                "#,
            )
            .await;
        println!(
            "  Chromium {}: DOMContentLoaded {:.0} ms, load {:.0} ms (goto returned after {navigated_ms} ms); {} containers, {} JVM sparklines (≥ {} samples each); scroll width {} of {} px; names past the edge {}",
            look.name(),
            seen["dcl"].as_f64().unwrap_or(-1.0),
            seen["load"].as_f64().unwrap_or(-1.0),
            seen["containers"],
            seen["jvms"],
            seen["points"],
            seen["scrollWidth"],
            seen["innerWidth"],
            seen["clipped"]
        );
        let shot = browser
            .screenshot(&format!("kroll-ui-sim-{agents}x6-{}", look.name()))
            .await;
        println!("  screenshot {}", shot.display());
        browser.close().await;
    }

    // P open pages, as the page's script behaves.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..pages {
        let (http, url, stop) = (http.clone(), url.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut events = http
                .get(format!("{url}events?after=0"))
                .timeout(Duration::from_secs(3600))
                .send()
                .await
                .expect("GET /events");
            let polls = async {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = http.get(format!("{url}live")).send().await;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            };
            let stream = async { while let Ok(Some(_)) = events.chunk().await {} };
            tokio::select! {
                () = polls => {}
                () = stream => {}
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (t0, _, _) = proc_figures(pid);
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (t1, rss, hwm) = proc_figures(pid);
    let elapsed = began.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = (t1 - t0) as f64 / ticks;
    println!(
        "  {pages} open pages for {elapsed:.0} s: kroll ui CPU {cpu:.2} s ({:.1} % of one core, the agents asked every 2 s included), RSS {:.1} MiB, peak {:.1} MiB",
        cpu / elapsed * 100.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    for t in tasks {
        t.abort();
    }
    let _ = ui.kill();
    let _ = ui.wait();
    fleet.stop().await;
}
