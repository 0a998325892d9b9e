//! The server of `kroll ui`: one task asks every agent for its node state every `--every`
//! (over kept connections, as the upgrade does), one follows every agent's event stream, and
//! an HTTP server renders what they gathered. Read-only: no route changes anything anywhere.
//!
//! Routes: `/` the page, `/live` its live part (the page's script fetches it again), `/events`
//! server-sent events of the feed (`?after=SEQ` or `Last-Event-ID`: what came after), `/run`
//! the latest run's `report.html` drawn from its journal, `/state.json` the same figures for
//! scripts, `/app.js` the page's script.
//!
//! Every response carries a Content-Security-Policy that allows nothing from elsewhere and no
//! inline script. A request whose `Host` is not one the server answers to is refused (421):
//! a page on another site cannot reach the loopback UI by pointing a name of its own at
//! 127.0.0.1 (DNS rebinding). With `--username`/`--password-file` every route asks for HTTP
//! basic auth; with `--tls-cert`/`--tls-key` it is served over TLS.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use kroll_shared::inventory::Inventory;
use kroll_shared::time::now_unix_ms;
use kroll_shared::tls::TlsMaterial;
use tokio::sync::broadcast;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use super::history::{FeedItem, History};
use super::page::{self, RunSummary, View};
use crate::agents::AgentPool;
use crate::status::{self, Status};
use crate::upgrade::journal;
use crate::upgrade::timeline::{MarkKind, Timeline};
use crate::watch::{self, Item};

/// What the page's requests read: the latest observation, the history and the latest run.
#[derive(Debug, Default)]
struct Observed {
    status: Option<Status>,
    history: History,
    run: Option<Result<RunSummary, String>>,
}

/// A password kept only as its SHA-256, compared digest to digest.
#[derive(Clone)]
pub struct BasicAuth {
    pub username: String,
    password_sha256: Vec<u8>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicAuth({}, <redacted>)", self.username)
    }
}

impl BasicAuth {
    /// `password` is read from the operator's file and kept only as its digest.
    pub fn new(username: String, password: &str) -> Self {
        Self {
            username,
            password_sha256: sha256(password.as_bytes()),
        }
    }

    /// Whether `header` (an `Authorization` value) carries this user and password.
    fn admits(&self, header: Option<&HeaderValue>) -> bool {
        use base64::Engine as _;
        let Some(encoded) = header
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        // Both compared, whatever the first says: no early answer to time.
        let user_ok = sha256(user) == sha256(self.username.as_bytes());
        let password_ok = sha256(password) == self.password_sha256;
        user_ok & password_ok
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// How `kroll ui` serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often every agent is asked.
    pub every: Duration,
    /// The upgrade runs' directory whose newest run the page shows.
    pub runs: Option<PathBuf>,
    pub auth: Option<BasicAuth>,
    /// `Host` values answered besides the listening address and `localhost:<port>`.
    pub extra_hosts: Vec<String>,
}

#[derive(Debug)]
struct Shared {
    observed: RwLock<Observed>,
    feed: broadcast::Sender<FeedItem>,
    options: Options,
    hosts: BTreeSet<String>,
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Observed> {
        self.observed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Observed> {
        self.observed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `Host` values a server listening on `addr` answers to.
fn hosts(addr: SocketAddr, extra: &[String]) -> BTreeSet<String> {
    let port = addr.port();
    let mut hosts: BTreeSet<String> = [addr.to_string(), format!("localhost:{port}")]
        .into_iter()
        .chain(extra.iter().map(|h| {
            if h.contains(':') && !h.starts_with('[') {
                h.clone()
            } else {
                format!("{h}:{port}")
            }
        }))
        .collect();
    if addr.ip().is_loopback() && addr.is_ipv4() {
        hosts.insert(format!("127.0.0.1:{port}"));
    }
    hosts
}

/// Gathers, and serves on `listener` until `shutdown` completes.
pub async fn serve<L>(
    inventory: Arc<Inventory>,
    tls: TlsMaterial,
    listener: L,
    local: SocketAddr,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let (feed, _) = broadcast::channel(256);
    let shared = Arc::new(Shared {
        observed: RwLock::default(),
        feed,
        hosts: hosts(local, &options.extra_hosts),
        options,
    });
    let observer = tokio::spawn(observe(inventory.clone(), tls.clone(), shared.clone()));
    let follower = tokio::spawn(follow(inventory, tls, shared.clone()));
    let served = axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await;
    observer.abort();
    follower.abort();
    served
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/live", get(live))
        .route("/events", get(events))
        .route("/run", get(run_page))
        .route("/state.json", get(state_json))
        .route("/app.js", get(script))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// Every request: the `Host` check, then basic auth when configured; every answer gets the
/// headers that keep the page to itself.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut response = if !shared.hosts.contains(&host) {
        (
            StatusCode::MISDIRECTED_REQUEST,
            format!("kroll ui does not answer to host `{host}` (add it with --allow-host)\n"),
        )
            .into_response()
    } else if let Some(auth) = &shared.options.auth
        && !auth.admits(request.headers().get(header::AUTHORIZATION))
    {
        let mut r = (StatusCode::UNAUTHORIZED, "kroll ui: log in\n").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"kroll ui\", charset=\"UTF-8\""),
        );
        r
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn view<'a>(observed: &'a Observed, shared: &Shared) -> View<'a> {
    View {
        status: observed.status.as_ref(),
        history: &observed.history,
        run: observed.run.as_ref(),
        now_ms: now_unix_ms(),
        every_ms: u64::try_from(shared.options.every.as_millis()).unwrap_or(u64::MAX),
    }
}

async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let observed = shared.read();
    html(page::page(&view(&observed, &shared)))
}

async fn live(State(shared): State<Arc<Shared>>) -> Response {
    let observed = shared.read();
    html(page::live(&view(&observed, &shared)).into_string())
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        page::SCRIPT,
    )
        .into_response()
}

async fn state_json(State(shared): State<Arc<Shared>>) -> Response {
    let observed = shared.read();
    let jvms: Vec<serde_json::Value> = observed
        .status
        .iter()
        .flat_map(|s| &s.nodes)
        .flat_map(|n| {
            n.state
                .iter()
                .flat_map(|s| &s.containers)
                .map(move |c| (n.name.as_str(), c))
        })
        .flat_map(|(node, c)| {
            let history = &observed.history;
            history.jvms(node, &c.name).map(move |(pid, s)| {
                serde_json::json!({
                    "node": node, "container": c.name, "pid": pid,
                    "samples": s.len(), "last": s.back(),
                })
            })
        })
        .collect();
    let feed: Vec<&FeedItem> = observed.history.feed().collect();
    let body = serde_json::json!({
        "status": observed.status,
        "jvms": jvms,
        "feed": feed,
        "run": observed.run.as_ref().map(|r| match r {
            Ok(summary) => serde_json::json!(summary),
            Err(why) => serde_json::json!({"error": why}),
        }),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn run_page(State(shared): State<Arc<Shared>>) -> Response {
    let Some(runs) = shared.options.runs.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "kroll ui was started without --runs\n",
        )
            .into_response();
    };
    let drawn = tokio::task::spawn_blocking(move || {
        let (dir, entries) = latest_run(&runs)?;
        let timeline = Timeline::from_journal(&entries).with_samples(&journal::read_samples(&dir));
        Ok::<_, String>(crate::upgrade::report_html::render(&timeline))
    })
    .await;
    match drawn {
        Ok(Ok(page)) => html(page),
        Ok(Err(why)) => (StatusCode::NOT_FOUND, format!("{why}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The feed after `after` (the query's, or the browser's `Last-Event-ID` when it reconnects),
/// then every new item as it comes.
async fn events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    request: Request<Body>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| {
            request.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("after="))
                    .and_then(|v| v.parse().ok())
            })
        })
        .unwrap_or(0);
    // Subscribed before the backlog is read: nothing falls between the two.
    let receiver = shared.feed.subscribe();
    let backlog: Vec<FeedItem> = {
        let observed = shared.read();
        let mut items: Vec<FeedItem> = observed
            .history
            .feed()
            .filter(|f| f.seq > after)
            .cloned()
            .collect();
        items.reverse();
        items
    };
    let last_backlog = backlog.last().map_or(after, |f| f.seq);
    let backlog = tokio_stream::iter(backlog);
    let live = BroadcastStream::new(receiver)
        .filter_map(Result::ok)
        .filter(move |f| f.seq > last_backlog);
    let stream = backlog.chain(live).map(|f| Ok(sse(&f)));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn sse(item: &FeedItem) -> SseEvent {
    // An event's data may not hold a line break; in HTML text one is a space.
    let html = page::feed_item(item)
        .into_string()
        .replace(['\r', '\n'], " ");
    SseEvent::default()
        .event("feed")
        .id(item.seq.to_string())
        .data(html)
}

/// Asks every agent every `every`, and reads the newest run's journal.
async fn observe(inventory: Arc<Inventory>, tls: TlsMaterial, shared: Arc<Shared>) {
    let pool = AgentPool::default();
    let mut tick = tokio::time::interval(shared.options.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let reports = pool.query_all(&inventory, &tls).await;
        let now = now_unix_ms();
        let status = status::assess(&inventory, &reports, now);
        let run = match shared.options.runs.clone() {
            Some(runs) => tokio::task::spawn_blocking(move || run_summary(&runs))
                .await
                .ok(),
            None => None,
        };
        let mut observed = shared.write();
        for r in &reports {
            if let Ok(state) = &r.state {
                observed.history.record(&r.node.name, state, now);
            }
        }
        observed.status = Some(status);
        observed.run = run;
    }
}

/// The newest run under `runs`: its directory and journal.
fn latest_run(runs: &std::path::Path) -> Result<(PathBuf, Vec<journal::Entry>), String> {
    let dir = journal::latest(runs).map_err(|e| e.to_string())?;
    let entries = journal::read(&dir.join("journal.jsonl")).map_err(|e| e.to_string())?;
    Ok((dir, entries))
}

/// The newest run under `runs`, summed up from its journal.
fn run_summary(runs: &std::path::Path) -> Result<RunSummary, String> {
    let (_, entries) = latest_run(runs)?;
    let t = Timeline::from_journal(&entries);
    let steps: BTreeSet<&str> = t.segments().map(|(_, s)| s.step.as_str()).collect();
    let last_step = t
        .segments()
        .max_by_key(|(_, s)| (s.start_ms, s.end_ms))
        .map(|(_, s)| s.step.clone());
    let state = if t.marks.iter().any(|m| m.kind == MarkKind::Finished) {
        "finished"
    } else if t.marks.last().is_some_and(|m| m.kind == MarkKind::Halted) {
        "halted"
    } else {
        "running"
    };
    Ok(RunSummary {
        run_id: t.run_id.clone(),
        from: t.from.clone(),
        to: t.to.clone(),
        state: state.to_owned(),
        steps: steps.len(),
        containers: t.rows.len(),
        last_step,
        last_mark: t.marks.last().map(|m| m.text.clone()),
        span_ms: t.span_ms,
    })
}

/// Follows every agent's events into the feed.
async fn follow(inventory: Arc<Inventory>, tls: TlsMaterial, shared: Arc<Shared>) {
    let (mut items, _tasks) = watch::watch_all(&inventory, &tls, &watch::Filter::default());
    while let Some(item) = items.recv().await {
        let item = feed_item(item);
        let stored = shared.write().history.push(item);
        let _ = shared.feed.send(stored);
    }
}

/// What an agent's event or a watch notice says on the feed.
pub fn feed_item(item: Item) -> FeedItem {
    match item {
        Item::Event(e) => {
            let kind = e.kind.name();
            let alarming = match &e.kind {
                kroll_shared::model::EventKind::Died { exit_code, .. } => *exit_code != 0,
                _ => matches!(
                    kind,
                    "java_oom" | "java_oom_exit" | "oom_killed" | "heap_pressure" | "jvm_hung"
                ),
            };
            FeedItem {
                seq: 0,
                at_unix_ms: e.time_unix_ms,
                node: e.node,
                container: e.container_name,
                kind: kind.to_owned(),
                text: e.kind.describe(),
                alarming,
            }
        }
        Item::Notice(n) => FeedItem {
            seq: 0,
            at_unix_ms: n.time_unix_ms,
            alarming: n.watch == "disconnected",
            text: format!("agent {}: {}", n.watch, n.detail),
            node: n.node,
            container: String::new(),
            kind: "agent".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        BasicAuth::new("ops".into(), "s3cret:pw")
    }

    fn basic(user_pass: &str) -> HeaderValue {
        use base64::Engine as _;
        HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        ))
        .expect("header")
    }

    #[test]
    fn basic_auth_admits_only_the_user_with_its_password() {
        let a = auth();
        assert!(
            a.admits(Some(&basic("ops:s3cret:pw"))),
            "a colon in the password is kept"
        );
        for wrong in [
            "ops:s3cret",
            "Ops:s3cret:pw",
            "ops:",
            ":s3cret:pw",
            "opss3cret:pw",
        ] {
            assert!(!a.admits(Some(&basic(wrong))), "{wrong}");
        }
        assert!(!a.admits(None));
        assert!(!a.admits(Some(&HeaderValue::from_static("Bearer x"))));
        assert!(!a.admits(Some(&HeaderValue::from_static("Basic !!!"))));
        assert!(!format!("{a:?}").contains("s3cret"));
    }

    #[test]
    fn the_hosts_answered_are_the_listening_address_localhost_and_those_allowed() {
        let loopback: SocketAddr = "127.0.0.1:8470".parse().expect("addr");
        let h = hosts(loopback, &["kroll.example".into(), "ops:9000".into()]);
        let h: Vec<&str> = h.iter().map(String::as_str).collect();
        assert_eq!(
            h,
            [
                "127.0.0.1:8470",
                "kroll.example:8470",
                "localhost:8470",
                "ops:9000"
            ]
        );
    }

    #[test]
    fn events_and_notices_become_feed_lines() {
        let oom = feed_item(Item::Event(kroll_shared::model::Event {
            seq: 1,
            node: "n1".into(),
            time_unix_ms: 5,
            container_id: "id".into(),
            container_name: "connect-01".into(),
            kind: kroll_shared::model::EventKind::JavaOom {
                line: "java.lang.OutOfMemoryError: Java heap space".into(),
                repeated: 0,
            },
        }));
        assert_eq!(
            (oom.kind.as_str(), oom.container.as_str(), oom.alarming),
            ("java_oom", "connect-01", true)
        );
        assert!(oom.text.contains("OutOfMemoryError"), "{}", oom.text);
        let clean_exit = feed_item(Item::Event(kroll_shared::model::Event {
            seq: 2,
            node: "n1".into(),
            time_unix_ms: 6,
            container_id: "id".into(),
            container_name: "kafka-01".into(),
            kind: kroll_shared::model::EventKind::Died {
                exit_code: 0,
                oom_killed: false,
            },
        }));
        assert!(!clean_exit.alarming);
        let lost = feed_item(Item::Notice(watch::Notice {
            watch: "disconnected",
            node: "n2".into(),
            time_unix_ms: 7,
            detail: "connection refused".into(),
        }));
        assert_eq!((lost.kind.as_str(), lost.alarming), ("agent", true));
        assert_eq!(lost.text, "agent disconnected: connection refused");
    }
}
