//! `kroll`: parse the command line, run the command, exit with its code.

use std::process::ExitCode;

use clap::Parser;
use kroll::cli::{Cli, entry, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    entry::main_of("kroll", run(cli))
}
