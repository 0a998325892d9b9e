//! A real browser for the tests: Debian's `chromium` driven over WebDriver by its
//! `chromedriver` (started on a free loopback port, stopped by its PID when the guard drops).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

/// A running chromedriver and one headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// How the page is looked at.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub width: u32,
    pub height: u32,
    pub dark: bool,
}

impl Look {
    /// A laptop's window in the light scheme.
    pub const LAPTOP: Look = Look {
        width: 1280,
        height: 800,
        dark: false,
    };
    /// A phone's window in the dark scheme (Chromium's headless minimum width is 500 px).
    pub const PHONE_DARK: Look = Look {
        width: 390,
        height: 844,
        dark: true,
    };

    pub fn name(&self) -> String {
        format!(
            "{}x{}-{}",
            self.width,
            self.height,
            if self.dark { "dark" } else { "light" }
        )
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with `look`'s window and colour scheme.
    /// Fails saying what to install when either is missing.
    pub async fn start(look: Look) -> Self {
        for tool in ["chromium", "chromedriver"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()),
                "`{tool}` is not installed: apt-get install chromium chromium-driver (deploy/setup.sh does this)"
            );
        }
        let port = crate::prom::free_port();
        // Its own process group, which Chromium's processes inherit: the guard ends them all.
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={},{}", look.width, look.height),
        ];
        if look.dark {
            args.push("--force-dark-mode".to_owned());
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        });
        let caps = caps.as_object().cloned().expect("object");
        let began = Instant::now();
        let client = loop {
            let http = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(http)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if began.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chromedriver on port {port} gave no session in 30 s: {e}"),
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Opens a local file.
    pub async fn open(&self, file: &Path) {
        let url = format!(
            "file://{}",
            file.canonicalize().expect("page path").display()
        );
        self.client.goto(&url).await.expect("open page");
    }

    /// Runs `script` (a function body that `return`s) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Pairs of text runs drawn over each other (more than 2 px both ways), as
    /// "`a` (tag.class) over `b` (tag.class)", at most 20: every non-blank text node's line
    /// boxes, clipped by its ancestors' `overflow` boxes (an ellipsis-cut label counts only where
    /// it shows), hidden ones (and a closed `<details>`' folded content) skipped. Empty when no
    /// text overlaps.
    pub async fn overlapping_text(&self) -> Vec<String> {
        let found = self.eval(OVERLAPPING_TEXT_JS).await;
        serde_json::from_value(found).expect("a list of overlaps")
    }

    /// A PNG of the viewport, kept under the artefacts directory.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = artefacts();
        std::fs::create_dir_all(&dir).expect("artefacts dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session (and with it Chromium), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The process group this guard started: chromedriver and every Chromium process.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

/// Where tests keep what a person may want to look at afterwards (screenshots):
/// `KROLL_TEST_ARTEFACTS`, else `target/test-artefacts` of the workspace.
pub fn artefacts() -> PathBuf {
    std::env::var_os("KROLL_TEST_ARTEFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("test-artefacts")
        })
}

/// The page-side half of [`Browser::overlapping_text`].
const OVERLAPPING_TEXT_JS: &str = r#"
const clips = new Map();
const clipOf = (el) => {
  if (!el || el === document.documentElement) return { l: -Infinity, t: -Infinity, r: Infinity, b: Infinity };
  if (clips.has(el)) return clips.get(el);
  const cs = getComputedStyle(el);
  let c = null;
  if (cs.display !== 'none' && cs.visibility !== 'hidden' && cs.opacity !== '0') {
    const up = clipOf(el.parentElement);
    if (up && (cs.overflowX !== 'visible' || cs.overflowY !== 'visible')) {
      const b = el.getBoundingClientRect();
      c = { l: Math.max(up.l, b.left), t: Math.max(up.t, b.top), r: Math.min(up.r, b.right), b: Math.min(up.b, b.bottom) };
    } else c = up;
  }
  clips.set(el, c);
  return c;
};
// Inside a closed <details>, all but its own <summary> is not drawn (whatever rects it reports).
const folded = (el) => {
  let node = el;
  for (let d = node.closest('details:not([open])'); d; d = d.parentElement?.closest('details:not([open])')) {
    const s = node.closest('summary');
    if (!s || s.parentElement !== d) return true;
    node = d;
  }
  return false;
};
const boxes = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let id = 0;
for (let n; (n = walker.nextNode()); id++) {
  if (!n.textContent.trim()) continue;
  const el = n.parentElement;
  if (!el || ['SCRIPT', 'STYLE', 'TITLE'].includes(el.tagName)) continue;
  const clip = clipOf(el);
  if (!clip || folded(el)) continue;
  const range = document.createRange();
  range.selectNodeContents(n);
  const cls = String(el.className?.baseVal ?? el.className ?? '').split(' ')[0];
  const what = `\`${n.textContent.trim().slice(0, 40)}\` (${el.tagName.toLowerCase()}${cls ? '.' + cls : ''})`;
  for (const q of range.getClientRects()) {
    const b = { l: Math.max(q.left, clip.l), t: Math.max(q.top, clip.t), r: Math.min(q.right, clip.r), b: Math.min(q.bottom, clip.b) };
    if (b.r - b.l >= 1 && b.b - b.t >= 1) boxes.push({ ...b, id, what });
  }
}
boxes.sort((x, y) => x.t - y.t);
const out = [];
for (let i = 0; i < boxes.length && out.length < 20; i++) {
  const a = boxes[i];
  for (let j = i + 1; j < boxes.length && boxes[j].t < a.b - 2; j++) {
    const b = boxes[j];
    if (b.id === a.id) continue;
    const dx = Math.min(a.r, b.r) - Math.max(a.l, b.l);
    const dy = Math.min(a.b, b.b) - Math.max(a.t, b.t);
    if (dx > 2 && dy > 2) out.push(`${a.what} over ${b.what} at (${Math.round(b.l)}, ${Math.round(b.t)})`);
  }
}
return out;
"#;
