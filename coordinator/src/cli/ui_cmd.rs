//! `kroll ui`: serves the live page of the fleet (see `crate::ui`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Cli, UsageError, load_inventory, load_tls, parse_duration};
use crate::ui::server::{self, BasicAuth};
use crate::ui::tls::{TlsListener, server_config};

/// `kroll ui` options.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Where to serve the page. Loopback by default; any other address also needs
    /// `--tls-cert`/`--tls-key` and `--username`/`--password-file` (the page shows the fleet's
    /// internals).
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub listen: SocketAddr,
    /// How often every agent is asked for its node state: the sparklines' resolution.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub every: Duration,
    /// The upgrade runs' directory (as `kroll upgrade --runs`): the page shows the newest run,
    /// and `/run` its timeline.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs: PathBuf,
    /// A PEM certificate chain to serve the page over TLS with …
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// … and its PEM private key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Ask for HTTP basic auth: this user …
    #[arg(long, requires = "password_file")]
    pub username: Option<String>,
    /// … with the password in this file (its trailing line break dropped; never inline).
    #[arg(long, value_name = "FILE", requires = "username")]
    pub password_file: Option<PathBuf>,
    /// Another name the page may be asked for by (the `Host` header), e.g. behind a proxy.
    /// Other names are refused, so a web page elsewhere cannot reach the UI through a name it
    /// points at this machine.
    #[arg(long, value_name = "NAME[:PORT]")]
    pub allow_host: Vec<String>,
}

pub async fn run(cli: &Cli, a: &UiArgs) -> anyhow::Result<ExitCode> {
    let inventory = Arc::new(load_inventory(cli)?);
    let tls = load_tls(cli, &inventory)?;
    if a.every < Duration::from_millis(200) {
        return Err(UsageError(format!(
            "--every {:?}: at least 200ms (every agent is asked that often)",
            a.every
        ))
        .into());
    }
    let secured = a.tls_cert.is_some() && a.username.is_some();
    if !a.listen.ip().is_loopback() && !secured {
        return Err(UsageError(format!(
            "--listen {}: serving beyond this machine needs --tls-cert/--tls-key and --username/--password-file (the page shows the fleet's internals)",
            a.listen
        ))
        .into());
    }
    let auth = match (&a.username, &a.password_file) {
        (Some(user), Some(file)) => Some(BasicAuth::new(user.clone(), &password(file)?)),
        _ => None,
    };
    let tls_config = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => {
            Some(server_config(cert, key).map_err(|e| UsageError(e.to_string()))?)
        }
        _ => None,
    };
    let tcp = tokio::net::TcpListener::bind(a.listen)
        .await
        .map_err(|e| UsageError(format!("--listen {}: {e}", a.listen)))?;
    let local = tcp.local_addr()?;
    let scheme = if tls_config.is_some() {
        "https"
    } else {
        "http"
    };
    eprintln!(
        "kroll ui: serving {scheme}://{local}/ — {} node(s), asked every {:?}{}; Ctrl-C stops",
        inventory.nodes.len(),
        a.every,
        if auth.is_some() { ", basic auth" } else { "" }
    );
    let options = server::Options {
        every: a.every,
        runs: Some(a.runs.clone()),
        auth,
        extra_hosts: a.allow_host.clone(),
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match tls_config {
        Some(config) => {
            let listener = TlsListener::new(tcp, config)?;
            server::serve(inventory, tls, listener, local, options, shutdown).await?;
        }
        None => server::serve(inventory, tls, tcp, local, options, shutdown).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The password in `file`, its trailing line break dropped; never shown.
fn password(file: &std::path::Path) -> Result<String, UsageError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        UsageError(format!(
            "--password-file {}: {}",
            file.display(),
            kroll_shared::config::io_reason(&e)
        ))
    })?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(UsageError(format!(
            "--password-file {}: the file is empty",
            file.display()
        )));
    }
    Ok(password.to_owned())
}
