//! `kroll-lab-broker`: the lab's Kafka broker process (entrypoint of the lab's `kafka` images).

use std::process::ExitCode;

fn main() -> ExitCode {
    kroll_lab_broker::logging::install();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match start(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "kafka.Kafka$", "Exiting Kafka due to fatal exception: {e}");
            eprintln!("kroll-lab-broker: fatal: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start(args: &[String]) -> Result<(), kroll_lab_broker::BrokerError> {
    let path = kroll_lab_broker::version_file(args)?;
    let version = kroll_lab_broker::read_version(&path)?;
    let config = kroll_lab_broker::config::Config::from_env(std::env::vars())?;
    kroll_lab_broker::broker::effective_ibp(&config, version)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(kroll_lab_broker::BrokerError::io(
            "starting the runtime",
            "/",
        ))?;
    runtime.block_on(kroll_lab_broker::broker::run(
        config,
        version,
        shutdown_signal(),
    ))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
