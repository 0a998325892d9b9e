//! The shell completions and man pages the packages install (`kroll-cli-docs`), read by the
//! real shells and the real man page formatter: bash completes real subcommands and flags, zsh
//! and fish parse their scripts, groff renders every page without a warning, and `kroll.1`
//! names every subcommand.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

/// The generated files of every binary, under a temporary directory.
fn generated() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("tmp");
    let files = kroll_cli_docs::generate(dir.path()).expect("kroll-cli-docs");
    (dir, files)
}

/// Runs `program` (a Debian package's, named in the failure) and returns its output.
fn run(program: &str, package: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program}: {e}; install it: apt-get install {package} (deploy/setup.sh does)")
        })
}

/// What bash offers after `line` (the word being completed last), with the script sourced.
fn bash_complete(script: &Path, bin: &str, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let array: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"set -e
source '{script}'
spec=$(complete -p {bin})
fn=${{spec#*-F }}; fn=${{fn%% *}}
COMP_WORDS=({array})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
"$fn" {bin} "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        script = script.display(),
        array = array.join(" ")
    );
    let out = run("bash", "bash", &["--noprofile", "--norc", "-c", &program]);
    assert!(
        out.status.success(),
        "bash completion of `{line}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn file<'a>(files: &'a [PathBuf], rel: &str) -> &'a Path {
    files
        .iter()
        .find(|p| p.ends_with(rel))
        .unwrap_or_else(|| panic!("{rel} generated: {files:?}"))
}

#[test]
fn bash_completes_kroll_s_subcommands_and_the_agent_s_flags() {
    let (_dir, files) = generated();
    let kroll = file(&files, "kroll/completions/kroll.bash");
    let offered = bash_complete(kroll, "kroll", &["kroll", "sta"]);
    assert_eq!(offered, ["status"], "kroll sta<TAB>");
    let offered = bash_complete(kroll, "kroll", &["kroll", "certs", ""]);
    assert!(
        offered.iter().any(|w| w == "init"),
        "kroll certs <TAB>: {offered:?}"
    );
    let offered = bash_complete(kroll, "kroll", &["kroll", "upgrade", "--resu"]);
    assert_eq!(offered, ["--resume"], "kroll upgrade --resu<TAB>");
    let offered = bash_complete(kroll, "kroll", &["kroll", "--out"]);
    assert_eq!(offered, ["--output"], "kroll --out<TAB>");
    let agent = file(&files, "kroll-agent/completions/kroll-agent.bash");
    let offered = bash_complete(agent, "kroll-agent", &["kroll-agent", "--ch"]);
    assert_eq!(offered, ["--check"], "kroll-agent --ch<TAB>");
}

#[test]
fn zsh_and_fish_parse_their_completion_scripts() {
    let (_dir, files) = generated();
    for bin in ["kroll", "kroll-agent"] {
        for (shell, rel, args) in [
            ("zsh", format!("{bin}/completions/_{bin}"), vec!["-n"]),
            (
                "fish",
                format!("{bin}/completions/{bin}.fish"),
                vec!["--no-execute"],
            ),
        ] {
            let script = file(&files, &rel);
            let text = std::fs::read_to_string(script).expect("read");
            assert!(text.contains(bin) && text.len() > 200, "{rel}: {text}");
            let path = script.to_string_lossy().into_owned();
            let mut argv: Vec<&str> = args.clone();
            argv.push(&path);
            let out = run(shell, shell, &argv);
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{shell} {rel}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // fish registers the completions it loads: `kroll st` offers `status`.
    let fish = file(&files, "kroll/completions/kroll.fish");
    let out = run(
        "fish",
        "fish",
        &[
            "--no-config",
            "-c",
            &format!("source '{}'; complete -C 'kroll st'", fish.display()),
        ],
    );
    let offered = String::from_utf8_lossy(&out.stdout);
    assert!(
        offered.lines().any(|l| l.starts_with("status")),
        "fish: kroll st<TAB>: {offered}"
    );
}

/// `groff -man` with every warning on, as `man` runs it (`-k`: preconv for the UTF-8 of the
/// help texts): none on any page.
fn render(page: &Path) -> String {
    let p = page.to_string_lossy().into_owned();
    let check = run(
        "groff",
        "groff-base",
        &["-k", "-man", "-Tutf8", "-ww", "-z", &p],
    );
    assert!(
        check.status.success() && check.stderr.is_empty(),
        "groff warns on {p}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let out = run(
        "groff",
        "groff-base",
        &["-k", "-man", "-Tascii", "-P-cbou", &p],
    );
    assert!(out.status.success(), "{p}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_man_page_renders_without_warnings_and_kroll_1_names_every_subcommand() {
    let (_dir, files) = generated();
    let pages: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "1"))
        .collect();
    for page in &pages {
        let text = render(page);
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{}",
            page.display()
        );
    }
    let main = render(file(&files, "kroll/man/kroll.1"));
    let cli = kroll::cli::Cli::command();
    let subcommands: Vec<&str> = cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name())
        .collect();
    assert!(subcommands.len() >= 10, "{subcommands:?}");
    for sub in &subcommands {
        assert!(
            main.contains(&format!("kroll-{sub}(1)")),
            "kroll.1 names `{sub}`:\n{main}"
        );
        assert!(
            pages.iter().any(|p| p.ends_with(format!("kroll-{sub}.1"))),
            "a page for kroll {sub}"
        );
    }
    let agent = render(file(&files, "kroll-agent/man/kroll-agent.1"));
    for flag in [
        "--config",
        "--check",
        "--listen",
        "--log-json",
        "/etc/kroll/agent.toml",
    ] {
        assert!(agent.contains(flag), "kroll-agent.1 has {flag}:\n{agent}");
    }
}
