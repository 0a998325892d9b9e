//! `kroll-lab`: parse the command line, run the command, exit with its code.

use std::process::ExitCode;

use clap::Parser;
use kroll::cli::entry;
use kroll_lab::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    entry::main_of("kroll-lab", run(cli))
}
