//! REST plumbing shared by the Kafka Connect and Schema Registry clients (their bounds, errors,
//! and why they cannot be set up from an inventory).
//!
//! Every request is bounded in time, retried with exponential backoff on transient failures
//! (connection refused or reset, timeouts, 5xx, 408/429, and what the service's own policy adds —
//! Connect's 409 "rebalance in progress"), and fails with a [`RestError`] that names the service,
//! its URL, the request (method and path; never the request body, which may hold connector
//! passwords) and the response body.
//!
//! A service may be served over HTTPS with a private CA, require a client certificate or HTTP
//! basic auth ([`Access`], from the inventory's `[connect]` / `[schema_registry]`). A TLS
//! failure is not retried and says what failed (untrusted CA, wrong host name, …); a 401 or 403
//! names the user (never the password: it lives in a [`crate::secret::Secret`]).

mod access;

use std::fmt;
use std::time::Duration;

pub use access::{Access, AccessError};

pub use reqwest::Method;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

/// The longest response body an error message carries.
const BODY_LIMIT: usize = 2048;

/// Timeouts and retries of one REST service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestOptions {
    /// Whole-request timeout (connect, send, answer).
    pub timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled for every further one.
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RestOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(3),
            attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(3),
        }
    }
}

impl RestOptions {
    /// REST bounds for a health look (`kroll status`): quick, few retries (a look must not take
    /// minutes).
    pub fn look() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            attempts: 2,
            ..Self::default()
        }
    }
}

/// Why the Connect or Schema Registry clients cannot be set up from an inventory.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The inventory lists no such service with a URL.
    #[error(
        "the inventory has no {kind} service with a `url`; add one (e.g. {{ kind = \"{kind}\", container = \"…\", url = \"http://host:port\" }})"
    )]
    Missing {
        kind: kroll_shared::inventory::ServiceKind,
    },
    /// A URL that cannot be used.
    #[error(transparent)]
    Url(#[from] RestError),
    /// A CA, certificate or password the inventory names that cannot be read.
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// A REST call that failed (boxed: errors travel through every `Result` of the clients).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct RestError(Box<RestFailure>);

impl From<RestFailure> for RestError {
    fn from(failure: RestFailure) -> Self {
        Self(Box::new(failure))
    }
}

/// What failed, and where.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RestFailure {
    /// No answer: connection refused or reset, timeout, DNS — after every attempt.
    #[error("{service} at {url}: {method} {path}: no answer after {attempts} attempt(s): {reason}")]
    Unreachable {
        service: String,
        url: String,
        method: String,
        path: String,
        attempts: u32,
        reason: String,
    },
    /// An answer with a non-2xx status.
    #[error("{service} at {url}: {method} {path} answered {status}{}: {message}", code_text(*error_code))]
    Status {
        service: String,
        url: String,
        method: String,
        path: String,
        status: u16,
        /// The service's own `error_code` (Schema Registry: 40401, …), when the body has one.
        error_code: Option<i64>,
        /// The body's `message`, or the body itself.
        message: String,
        /// The response body (truncated).
        body: String,
    },
    /// The TLS handshake failed (not retried: it fails the same way again).
    #[error("{service} at {url}: {method} {path}: TLS failure: {reason}")]
    Tls {
        service: String,
        url: String,
        method: String,
        path: String,
        reason: String,
    },
    /// A 401 or 403: the credentials were refused, missing, or not enough.
    #[error("{service} at {url}: {method} {path} answered {status}: {advice}")]
    Refused {
        service: String,
        url: String,
        method: String,
        path: String,
        status: u16,
        /// What it means and what to check (names the user, never the password).
        advice: String,
    },
    /// A 2xx answer kroll cannot read.
    #[error("{service} at {url}: {method} {path}: unexpected answer ({reason}): {body}")]
    Decode {
        service: String,
        url: String,
        method: String,
        path: String,
        reason: String,
        body: String,
    },
    /// A base URL that is not one.
    #[error("{service}: `{url}` is not a usable base URL: {reason}")]
    BadUrl {
        service: String,
        url: String,
        reason: String,
    },
}

fn code_text(code: Option<i64>) -> String {
    code.map(|c| format!(" (error {c})")).unwrap_or_default()
}

impl RestError {
    /// What failed.
    pub fn failure(&self) -> &RestFailure {
        &self.0
    }

    /// The HTTP status of a [`RestFailure::Status`].
    pub fn status(&self) -> Option<u16> {
        match self.failure() {
            RestFailure::Status { status, .. } | RestFailure::Refused { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The service's `error_code` of a [`RestFailure::Status`].
    pub fn error_code(&self) -> Option<i64> {
        match self.failure() {
            RestFailure::Status { error_code, .. } => *error_code,
            _ => None,
        }
    }

    /// Whether the service answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the service could not be reached at all, or not over TLS (another worker may
    /// answer).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self.failure(),
            RestFailure::Unreachable { .. } | RestFailure::Tls { .. }
        )
    }

    /// The message of a status error (the body's `message`), or the whole error text.
    pub fn message(&self) -> String {
        match self.failure() {
            RestFailure::Status { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// A status error as a service would return it; for fakes and tests.
    pub fn answered(service: &str, method: &str, path: &str, status: u16, message: &str) -> Self {
        RestFailure::Status {
            service: service.to_owned(),
            url: "fake://".to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            error_code: None,
            message: message.to_owned(),
            body: message.to_owned(),
        }
        .into()
    }
}

/// Which answers beyond the generic ones (5xx, 408, 429) a service wants retried.
pub type ExtraTransient = fn(StatusCode, &str) -> bool;

/// No extra transient answers.
pub fn no_extra_transient(_: StatusCode, _: &str) -> bool {
    false
}

/// A request: method, path segments (each percent-encoded), query pairs, optional JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call {
    /// A request without a body.
    pub fn new(method: Method, segments: &[&str]) -> Self {
        Self {
            method,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
        }
    }

    /// `GET` of the path.
    pub fn get(segments: &[&str]) -> Self {
        Self::new(Method::GET, segments)
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.query.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds a JSON body.
    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        // Serializing plain data (maps, strings, numbers) into a Vec cannot fail.
        self.body = Some(serde_json::to_vec(body).unwrap_or_default());
        self
    }

    /// The path as shown in messages (`/connectors/x/config?expand=status`).
    fn shown_path(&self) -> String {
        let mut url = Url::parse("http://x/").unwrap_or_else(|_| unreachable!("constant URL"));
        append(&mut url, self);
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }
}

fn append(url: &mut Url, call: &Call) {
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for segment in &call.segments {
            path.push(segment);
        }
    }
    if !call.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &call.query {
            pairs.append_pair(k, v);
        }
    }
}

/// One REST service at one base URL.
#[derive(Clone)]
pub struct RestClient {
    service: String,
    base: Url,
    http: reqwest::Client,
    options: RestOptions,
    extra_transient: ExtraTransient,
    access: Access,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("service", &self.service)
            .field("base", &self.base.as_str())
            .field("options", &self.options)
            .field("access", &self.access)
            .finish()
    }
}

/// An attempt's failure, before deciding whether to retry.
enum Failure {
    Transport(String),
    Tls(String),
    Status(StatusCode, String),
}

impl RestClient {
    /// A client for `service` (a label such as "Connect worker connect-01") at `base`, with
    /// the system's roots and no credentials.
    pub fn new(
        service: &str,
        base: &str,
        options: RestOptions,
        extra_transient: ExtraTransient,
    ) -> Result<Self, RestError> {
        Self::with_access(service, base, options, extra_transient, Access::default())
    }

    /// [`RestClient::new`] with a CA, a client certificate and basic-auth credentials.
    pub fn with_access(
        service: &str,
        base: &str,
        options: RestOptions,
        extra_transient: ExtraTransient,
        access: Access,
    ) -> Result<Self, RestError> {
        let bad = |reason: String| -> RestError {
            RestFailure::BadUrl {
                service: service.to_owned(),
                url: base.to_owned(),
                reason,
            }
            .into()
        };
        let url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(bad("expected http://host:port or https://host:port".into()));
        }
        // kroll uses rustls with ring everywhere; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout);
        let http = access
            .apply(builder)
            .build()
            .map_err(|e| bad(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            service: service.to_owned(),
            base: url,
            http,
            options,
            extra_transient,
            access,
        })
    }

    /// The service label.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Sends `call` (retrying transient failures) and returns the 2xx body.
    pub async fn send(&self, call: &Call) -> Result<Vec<u8>, RestError> {
        let mut url = self.base.clone();
        append(&mut url, call);
        let mut wait = self.options.backoff;
        let attempts = self.options.attempts.max(1);
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(&url, call).await {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let retry = attempt < attempts && self.transient(&failure);
            if !retry {
                return Err(self.error(call, failure, attempt));
            }
            tracing::debug!(service = %self.service, path = %call.shown_path(), attempt, "Retrying a REST call.");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.options.max_backoff);
            attempt += 1;
        }
    }

    /// Sends `call` and decodes the JSON answer.
    pub async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, RestError> {
        let body = self.send(call).await?;
        self.decode(call, &body)
    }

    /// Decodes the JSON answer `body` to `call`.
    pub fn decode<T: DeserializeOwned>(&self, call: &Call, body: &[u8]) -> Result<T, RestError> {
        serde_json::from_slice(body).map_err(|e| -> RestError {
            RestFailure::Decode {
                service: self.service.clone(),
                url: self.base.to_string(),
                method: call.method.to_string(),
                path: call.shown_path(),
                reason: e.to_string(),
                body: truncate(&String::from_utf8_lossy(body)),
            }
            .into()
        })
    }

    async fn attempt(&self, url: &Url, call: &Call) -> Result<Vec<u8>, Failure> {
        let mut request = self.access.authorize(
            self.http
                .request(call.method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json"),
        );
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = request.send().await.map_err(|e| self.transport(url, &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::Transport(describe(&e)))?;
        if status.is_success() {
            Ok(body.to_vec())
        } else {
            Err(Failure::Status(
                status,
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
    }

    /// A failed send: a TLS failure in words, else the transport error with its causes.
    fn transport(&self, url: &Url, error: &reqwest::Error) -> Failure {
        match access::find_tls_error(error) {
            Some(tls) => Failure::Tls(self.access.tls_reason(tls, url.host_str().unwrap_or(""))),
            // Retried all the same: a server that stops mid-request closes like this too.
            None if url.scheme() == "https" && access::closed_unannounced(error) => {
                Failure::Transport(format!(
                    "{}; {}",
                    describe(error),
                    self.access.closed_hint()
                ))
            }
            None => Failure::Transport(describe(error)),
        }
    }

    fn transient(&self, failure: &Failure) -> bool {
        match failure {
            Failure::Transport(_) => true,
            Failure::Tls(_) => false,
            Failure::Status(status, body) => {
                (status.is_server_error() && *status != StatusCode::NOT_IMPLEMENTED)
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || (self.extra_transient)(*status, body)
            }
        }
    }

    fn error(&self, call: &Call, failure: Failure, attempts: u32) -> RestError {
        let (service, url) = (self.service.clone(), self.base.to_string());
        let (method, path) = (call.method.to_string(), call.shown_path());
        let failure = match failure {
            Failure::Transport(reason) => RestFailure::Unreachable {
                service,
                url,
                method,
                path,
                attempts,
                reason,
            },
            Failure::Tls(reason) => RestFailure::Tls {
                service,
                url,
                method,
                path,
                reason,
            },
            Failure::Status(status, _)
                if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) =>
            {
                RestFailure::Refused {
                    service,
                    url,
                    method,
                    path,
                    status: status.as_u16(),
                    advice: self.access.refusal(status.as_u16()),
                }
            }
            Failure::Status(status, body) => {
                let parsed: Option<serde_json::Value> = serde_json::from_str(&body).ok();
                let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name).cloned());
                let message = field("message")
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .unwrap_or_else(|| truncate(body.trim()));
                RestFailure::Status {
                    service,
                    url,
                    method,
                    path,
                    status: status.as_u16(),
                    error_code: field("error_code").and_then(|c| c.as_i64()),
                    message,
                    body: truncate(&body),
                }
            }
        };
        failure.into()
    }
}

/// A transport error with its causes (reqwest's own text hides the interesting part).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(text: &str) -> String {
    if text.len() <= BODY_LIMIT {
        return text.to_owned();
    }
    let mut end = BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

#[cfg(test)]
#[path = "rest_tests.rs"]
mod tests;
