//! What a binary's `main` does around its command: logging to stderr (`KROLL_LOG`, with the
//! clients' connection noise off by default), the async runtime, the exit code. Shared by
//! `kroll` and `kroll-lab`.

use std::future::Future;
use std::process::ExitCode;

/// Installs logging, builds the runtime and runs `command` on it; `program` names the binary
/// in the one error this can print.
pub fn main_of<F: Future<Output = ExitCode>>(program: &str, command: F) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KROLL_LOG")
        // librdkafka and the ZooKeeper client log every refused connection while brokers and
        // ZooKeeper start or restart — expected during an upgrade or a lab start, and noise
        // (the gates and readiness waits report what matters);
        // KROLL_LOG=librdkafka=warn,zookeeper_client=warn shows them.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "warn,librdkafka=off,rdkafka::client=off,zookeeper_client=off",
            )
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(command),
        Err(e) => {
            eprintln!("{program}: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
