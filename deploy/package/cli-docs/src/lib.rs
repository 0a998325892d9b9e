//! The command-line documentation the packages install: man pages and bash, zsh and fish
//! completions of `kroll` and `kroll-agent`, generated from the clap definitions the binaries
//! parse, so the two cannot drift apart. Run at package build time (`deploy/package/build.sh`);
//! the shipped binaries carry none of this code.
//!
//! # Layout
//! - [`binaries`]: the documented commands.
//! - [`generate`]: writes `<out>/<binary>/man/*.1` (one page per command and subcommand) and
//!   `<out>/<binary>/completions/{<binary>.bash, _<binary>, <binary>.fish}`.
//! - [`completion`]: one shell's completion script in memory.
//! - `src/main.rs`: the `kroll-cli-docs OUT_DIR` binary.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

/// The shells completions are generated for ([`completion_file`] names each one's file).
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Errors of generation: the path that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct DocsError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// The documented binaries: `kroll` (the coordinator and CLI) and `kroll-agent`.
pub fn binaries() -> [clap::Command; 2] {
    [
        kroll::cli::Cli::command(),
        kroll_agent::cli::Args::command(),
    ]
}

/// The file name a shell loads a binary's completions from (`kroll.bash`, `_kroll`,
/// `kroll.fish`); packages install them under the name each shell looks up.
pub fn completion_file(bin: &str, shell: Shell) -> String {
    match shell {
        Shell::Zsh => format!("_{bin}"),
        other => format!("{bin}.{other}"),
    }
}

/// One shell's completion script for `cmd`.
pub fn completion(mut cmd: clap::Command, shell: Shell) -> Vec<u8> {
    let name = cmd.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

/// Writes every man page and completion script under `out`; returns the files written.
pub fn generate(out: &Path) -> Result<Vec<PathBuf>, DocsError> {
    let mut written = Vec::new();
    for cmd in binaries() {
        let bin = cmd.get_name().to_owned();
        let man = out.join(&bin).join("man");
        let completions = out.join(&bin).join("completions");
        for dir in [&man, &completions] {
            // Pages of subcommands removed since the last run must not be packaged.
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(at(dir))?;
            }
            std::fs::create_dir_all(dir).map_err(at(dir))?;
        }
        // `generate_to` builds the command itself (without clap's `help` subcommand); one
        // page per command, `kroll-certs-init.1` for `kroll certs init`.
        clap_mangen::generate_to(cmd.clone(), &man).map_err(at(&man))?;
        for shell in SHELLS {
            let path = completions.join(completion_file(&bin, shell));
            std::fs::write(&path, completion(cmd.clone(), shell)).map_err(at(&path))?;
        }
        for dir in [&man, &completions] {
            for entry in std::fs::read_dir(dir).map_err(at(dir))? {
                written.push(entry.map_err(at(dir))?.path());
            }
        }
    }
    written.sort();
    Ok(written)
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> DocsError + '_ {
    move |source| DocsError {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_subcommand_gets_a_page_and_every_shell_a_script() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = generate(dir.path()).expect("generate");
        let names: Vec<String> = files
            .iter()
            .map(|p| {
                p.strip_prefix(dir.path())
                    .expect("under out")
                    .display()
                    .to_string()
            })
            .collect();
        for want in [
            "kroll/man/kroll.1",
            "kroll/man/kroll-status.1",
            "kroll/man/kroll-certs-init.1",
            "kroll/completions/kroll.bash",
            "kroll/completions/_kroll",
            "kroll/completions/kroll.fish",
            "kroll-agent/man/kroll-agent.1",
            "kroll-agent/completions/_kroll-agent",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        assert!(
            !names.iter().any(|n| n.contains("-help")),
            "no page for clap's help subcommand: {names:?}"
        );
        for f in &files {
            let len = std::fs::metadata(f).expect("stat").len();
            assert!(len > 100, "{} has {len} bytes", f.display());
        }
    }

    #[test]
    fn a_second_run_leaves_no_page_of_the_first_behind() {
        let dir = tempfile::tempdir().expect("tmp");
        let stale = dir.path().join("kroll/man/kroll-gone.1");
        std::fs::create_dir_all(stale.parent().expect("parent")).expect("mkdir");
        std::fs::write(&stale, "old").expect("write");
        generate(dir.path()).expect("generate");
        assert!(!stale.exists());
    }
}
