//! `kroll-lab`: parse the command line, install logging, run the command, exit with its code.

use std::process::ExitCode;

use clap::Parser;
use kroll_lab::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KROLL_LOG")
        // librdkafka and the ZooKeeper client log every refused connection while the lab's
        // brokers and ZooKeeper start — expected, and noise (the readiness waits report what
        // matters); KROLL_LOG=librdkafka=warn,zookeeper_client=warn shows them.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "warn,librdkafka=off,rdkafka::client=off,zookeeper_client=off",
            )
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kroll-lab: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}
