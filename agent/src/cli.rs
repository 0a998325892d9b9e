//! `kroll-agent`'s command line: its flags, in the library so that the package build generates
//! the man page and shell completions from the same definition the binary parses.

use std::path::PathBuf;

use clap::Parser;

/// kroll's node agent: reports this node's containers, disks and host to the kroll coordinator
/// over mutual TLS, streams container events, and restarts managed containers when the
/// coordinator asks. It never acts on its own.
#[derive(Debug, Parser)]
#[command(name = "kroll-agent", version, about, long_about = None)]
pub struct Args {
    /// Configuration file (TOML). See deploy/agent.example.toml.
    #[arg(
        short,
        long,
        env = "KROLL_AGENT_CONFIG",
        default_value = "/etc/kroll/agent.toml",
        value_hint = clap::ValueHint::FilePath
    )]
    pub config: PathBuf,
    /// Listen address, overriding `listen` in the file.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Check the configuration and exit (0 = valid).
    #[arg(long)]
    pub check: bool,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_are_consistent() {
        Args::command().debug_assert();
    }
}
