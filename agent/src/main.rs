//! `kroll-agent`: parse flags, load the configuration (exit 2 on a bad one, before binding any
//! port), install logging, run until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use kroll_agent::cli::Args;
use kroll_agent::config::AgentConfig;

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = match AgentConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kroll-agent: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    // The certificate must fit the key, be an agent's and name this node: checked before
    // anything is touched (exit 2), with `--check` too.
    if let Err(e) = config
        .tls
        .load_as(kroll_shared::tls::Role::Agent, &config.node)
    {
        eprintln!("kroll-agent: {}: {e}", args.config.display());
        return ExitCode::from(2);
    }
    if args.check {
        println!("{}: valid", args.config.display());
        return ExitCode::SUCCESS;
    }
    install_tracing(args.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kroll-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The handlers are installed before the agent starts serving: a SIGTERM that arrives right
    // after "Agent serving." must shut it down gracefully, not kill it.
    let shutdown = {
        let _entered = runtime.enter();
        match shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kroll-agent: cannot install the SIGTERM/SIGINT handlers: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    match runtime.block_on(kroll_agent::run(config, shutdown)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kroll-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn install_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Installs the SIGTERM and SIGINT handlers now; the future resolves on the first of them.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
