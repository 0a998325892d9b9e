//! The REST plumbing against a small HTTP server in the test: retries, timeouts, error texts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{any, get};

use super::*;

/// Serves `router` on a loopback port; returns its base URL. The server ends with the test.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn fast() -> RestOptions {
    RestOptions {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        attempts: 4,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

fn client(base: &str, extra: ExtraTransient) -> RestClient {
    RestClient::new("Connect worker connect-01", base, fast(), extra).expect("client")
}

fn connect_rebalance(status: StatusCode, body: &str) -> bool {
    status == StatusCode::CONFLICT && body.contains("rebalance")
}

/// Answers `failures` times with `status`/`body`, then 200 `{"ok":true}`; counts calls.
fn flaky(failures: u32, status: StatusCode, body: &'static str) -> (Router, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let handler = move |State(calls): State<Arc<AtomicU32>>| async move {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if n < failures {
            (status, body.to_owned())
        } else {
            (StatusCode::OK, r#"{"ok":true}"#.to_owned())
        }
    };
    let router = Router::new()
        .route("/x", any(handler))
        .with_state(calls.clone());
    (router, calls)
}

#[tokio::test]
async fn server_errors_are_retried_until_an_answer() {
    let (router, calls) = flaky(2, StatusCode::SERVICE_UNAVAILABLE, "busy");
    let rest = client(&serve(router).await, no_extra_transient);
    let v: serde_json::Value = rest.json(&Call::get(&["x"])).await.expect("third attempt");
    assert_eq!(v["ok"], true);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_stop_after_the_configured_attempts() {
    let (router, calls) = flaky(
        10,
        StatusCode::BAD_GATEWAY,
        r#"{"error_code":502,"message":"upstream down"}"#,
    );
    let rest = client(&serve(router).await, no_extra_transient);
    let err = rest.send(&Call::get(&["x"])).await.expect_err("always 502");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(err.status(), Some(502));
    assert_eq!(err.message(), "upstream down");
}

#[tokio::test]
async fn connects_rebalance_conflict_is_transient_but_a_duplicate_is_not() {
    let rebalance = r#"{"error_code":409,"message":"Cannot complete request because of a conflicting operation (e.g. worker rebalance)"}"#;
    let (router, calls) = flaky(1, StatusCode::CONFLICT, rebalance);
    let rest = client(&serve(router).await, connect_rebalance);
    rest.send(&Call::new(Method::PUT, &["x"]))
        .await
        .expect("retried past the rebalance");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let exists = r#"{"error_code":409,"message":"Connector ct-receipts already exists"}"#;
    let (router, calls) = flaky(1, StatusCode::CONFLICT, exists);
    let base = serve(router).await;
    let rest = client(&base, connect_rebalance);
    let err = rest
        .send(&Call::new(Method::POST, &["x"]).json(&serde_json::json!({"name": "ct-receipts"})))
        .await
        .expect_err("a duplicate is final");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let text = err.to_string();
    for part in [
        "Connect worker connect-01",
        base.as_str(),
        "POST /x",
        "409",
        "Connector ct-receipts already exists",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

#[tokio::test]
async fn not_found_names_the_service_code_and_message_without_retrying() {
    let calls = Arc::new(AtomicU32::new(0));
    let router = Router::new()
        .route(
            "/subjects/{s}/versions",
            get(|State(calls): State<Arc<AtomicU32>>| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::NOT_FOUND,
                    r#"{"error_code":40401,"message":"Subject 'orders-key' not found."}"#,
                )
            }),
        )
        .with_state(calls.clone());
    let rest = client(&serve(router).await, no_extra_transient);
    let err = rest
        .send(&Call::get(&["subjects", "orders-key", "versions"]).query("deleted", "true"))
        .await
        .expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(err.error_code(), Some(40401));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let text = err.to_string();
    assert!(text.contains("GET /subjects/orders-key/versions?deleted=true answered 404 (error 40401): Subject 'orders-key' not found."), "{text}");
}

#[tokio::test]
async fn a_slow_service_times_out_within_the_bound() {
    let router = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let base = serve(router).await;
    let options = RestOptions {
        timeout: Duration::from_millis(150),
        attempts: 2,
        ..fast()
    };
    let rest =
        RestClient::new("Schema Registry", &base, options, no_extra_transient).expect("client");
    let began = Instant::now();
    let err = rest.send(&Call::get(&["slow"])).await.expect_err("timeout");
    assert!(
        began.elapsed() < Duration::from_millis(1500),
        "{:?}",
        began.elapsed()
    );
    assert!(
        matches!(err.failure(), RestFailure::Unreachable { attempts: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let rest = client(&base, no_extra_transient);
    let err = rest
        .send(&Call::get(&["connectors"]))
        .await
        .expect_err("refused");
    assert!(err.is_unreachable());
    let text = err.to_string();
    assert!(
        text.contains("no answer after 4 attempt(s)") && text.contains("cannot connect"),
        "{text}"
    );
    assert!(
        text.contains(&base) && text.contains("GET /connectors"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreadable_answer_is_reported_with_its_body() {
    let router = Router::new().route("/x", get(|| async { "<html>proxy error page</html>" }));
    let rest = client(&serve(router).await, no_extra_transient);
    let err = rest
        .json::<serde_json::Value>(&Call::get(&["x"]))
        .await
        .expect_err("not JSON");
    assert!(matches!(err.failure(), RestFailure::Decode { .. }));
    assert!(
        err.to_string().contains("<html>proxy error page</html>"),
        "{err}"
    );
}

#[tokio::test]
async fn path_segments_are_percent_encoded() {
    let router = Router::new().fallback(|uri: Uri| async move { format!("\"{}\"", uri.path()) });
    let rest = client(&serve(router).await, no_extra_transient);
    let path: String = rest
        .json(&Call::get(&["subjects", "a/b c", "versions"]))
        .await
        .expect("echo");
    assert_eq!(path, "/subjects/a%2Fb%20c/versions");
}

#[test]
fn bad_base_urls_are_refused_with_the_service_named() {
    let err = RestClient::new(
        "Schema Registry",
        "schema-registry:8081",
        fast(),
        no_extra_transient,
    )
    .expect_err("no scheme");
    assert!(
        err.to_string()
            .starts_with("Schema Registry: `schema-registry:8081`"),
        "{err}"
    );
    assert!(RestClient::new("x", "ftp://h/", fast(), no_extra_transient).is_err());
}

/// A client with basic auth `kroll`/`hunter2` from a password file.
fn with_password(base: &str, dir: &std::path::Path) -> RestClient {
    let file = dir.join("pw");
    std::fs::write(&file, "hunter2\n").expect("write");
    let settings = kroll_shared::rest_access::RestAccess {
        username: Some("kroll".into()),
        password_file: Some(file),
        ..Default::default()
    };
    let access = Access::from_inventory("[connect]", Some(&settings)).expect("access");
    RestClient::with_access(
        "Connect worker connect-01",
        base,
        fast(),
        no_extra_transient,
        access,
    )
    .expect("client")
}

#[tokio::test]
async fn basic_auth_is_sent_and_refusals_name_the_user_never_the_password() {
    let calls = Arc::new(AtomicU32::new(0));
    let router = Router::new()
        .route(
            "/echo",
            get(|headers: axum::http::HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                format!("\"{auth}\"")
            }),
        )
        .route(
            "/denied",
            any(|State(calls): State<Arc<AtomicU32>>| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error_code":401,"message":"Unauthorized"}"#,
                )
            }),
        )
        .route(
            "/forbidden",
            get(|| async { (StatusCode::FORBIDDEN, "no") }),
        )
        .with_state(calls.clone());
    let base = serve(router).await;
    let dir = tempfile::tempdir().expect("tmp");
    let rest = with_password(&base, dir.path());
    let auth: String = rest.json(&Call::get(&["echo"])).await.expect("echo");
    // base64("kroll:hunter2")
    assert_eq!(auth, "Basic a3JvbGw6aHVudGVyMg==");

    let err = rest.send(&Call::get(&["denied"])).await.expect_err("401");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a refusal is not retried");
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        format!(
            "Connect worker connect-01 at {base}/: GET /denied answered 401: the credentials of user `kroll` were refused; check `username` and the password ([connect] `password_file` / `password_env`)"
        )
    );
    let err = rest
        .send(&Call::get(&["forbidden"]))
        .await
        .expect_err("403");
    assert!(
        err.to_string()
            .ends_with("answered 403: user `kroll` is not allowed to do this"),
        "{err}"
    );
    let anonymous = client(&base, no_extra_transient);
    let err = anonymous
        .send(&Call::get(&["denied"]))
        .await
        .expect_err("401");
    assert!(
        err.to_string().contains("requires HTTP basic auth"),
        "{err}"
    );
    let debug = format!("{rest:?} {:?}", rest.access);
    assert!(
        debug.contains("kroll") && debug.contains("<redacted>"),
        "{debug}"
    );
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn unreadable_access_files_are_named_with_their_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("none.pem");
    let not_pem = dir.path().join("x.pem");
    std::fs::write(&not_pem, "hunter2").expect("write");
    let cases = [
        (
            kroll_shared::rest_access::RestAccess {
                ca_file: Some(missing.clone()),
                ..Default::default()
            },
            format!(
                "[schema_registry] ca_file: cannot read {}: no such file",
                missing.display()
            ),
        ),
        (
            kroll_shared::rest_access::RestAccess {
                ca_file: Some(not_pem.clone()),
                ..Default::default()
            },
            format!(
                "[schema_registry] ca_file: {}: no PEM certificate in it",
                not_pem.display()
            ),
        ),
        (
            kroll_shared::rest_access::RestAccess {
                username: Some("u".into()),
                password_env: Some("KROLL_TEST_SURELY_UNSET_VARIABLE".into()),
                ..Default::default()
            },
            "[schema_registry] password_env: the environment variable `KROLL_TEST_SURELY_UNSET_VARIABLE` is not set (or not valid UTF-8)".to_owned(),
        ),
    ];
    for (settings, want) in cases {
        let err = Access::from_inventory("[schema_registry]", Some(&settings)).expect_err(&want);
        assert_eq!(err.to_string(), want);
        assert!(!err.to_string().contains("hunter2"));
    }
}

#[test]
fn a_rustls_error_is_found_inside_nested_io_errors() {
    let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
    let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
    let outer = std::io::Error::other(inner);
    assert_eq!(access::find_tls_error(&outer), Some(&tls));
    let plain = std::io::Error::other("refused");
    assert_eq!(access::find_tls_error(&plain), None);
    let access = Access::default();
    assert!(access.tls_reason(&tls, "h").starts_with(
        "the server's certificate is not signed by a trusted CA: kroll trusts the system's roots"
    ),);
    let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
    assert!(
        access
            .tls_reason(&name, "localhost")
            .contains("not valid for the host name `localhost`")
    );
}
