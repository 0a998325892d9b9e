//! A minimal JSON-over-HTTP client for the lab's own waits and seeding (Connect, Schema
//! Registry, REST proxy, Kafdrop — all plain HTTP), logged in with HTTP basic auth where a SASL
//! lab's services require it ([`Http::with_login`]).

use std::time::Duration;

pub use reqwest::Method;
use serde_json::Value;

use crate::security::Credentials;

/// A client with short timeouts (the services are local).
#[derive(Debug, Clone)]
pub struct Http {
    inner: reqwest::Client,
    /// Sent with every request (`Debug` shows the user, not the password).
    login: Option<Credentials>,
}

impl Http {
    /// A client; installs kroll's rustls provider (ring) if none is installed yet.
    pub fn new() -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { inner, login: None })
    }

    /// This client, sending `login` as HTTP basic auth with every request.
    pub fn with_login(&self, login: &Credentials) -> Self {
        Self {
            inner: self.inner.clone(),
            login: Some(login.clone()),
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.inner.request(method, url);
        match &self.login {
            // reqwest marks the header sensitive.
            Some(l) => r.basic_auth(&l.username, Some(l.password.expose())),
            None => r,
        }
    }

    /// `GET url` → status and body as JSON (`Value::Null` when the body is not JSON).
    pub async fn get(&self, url: &str) -> Result<(u16, Value), String> {
        let r = self
            .request(reqwest::Method::GET, url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        Self::read(url, r).await
    }

    /// `method url` with a JSON body → status and body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: &Value,
    ) -> Result<(u16, Value), String> {
        let r = self
            .request(method.clone(), url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        Self::read(url, r).await
    }

    async fn read(url: &str, r: reqwest::Response) -> Result<(u16, Value), String> {
        let status = r.status().as_u16();
        let bytes = r.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, body))
    }
}
