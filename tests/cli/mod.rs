//! The binaries as users run them: `kroll certs init`, `kroll status`, `kroll restart`,
//! `kroll-agent` — bad input, exit codes, output, shutdown.

mod agent_bin;
mod completions;
mod deploy_files;
mod kafka_security;
mod no_lab;
mod package;
mod status;

use std::path::Path;
use std::process::{Command, Output};

use kroll_tests::bin;

/// Runs `kroll` with arguments.
pub fn kroll(args: &[&str], cwd: &Path) -> Output {
    Command::new(bin("kroll"))
        .args(args)
        .current_dir(cwd)
        .env_remove("KROLL_INVENTORY")
        .output()
        .expect("run kroll")
}

/// stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
