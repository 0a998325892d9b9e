//! The shipped `kroll` carries no lab code: the lab is its own crate and binary (`kroll-lab`,
//! `deploy/lab/kroll-lab`), which depends on the coordinator and never the reverse.

use std::path::{Path, PathBuf};

use super::{kroll, text};

fn workspace_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn kroll_has_no_lab_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = kroll(&["lab", "up"], dir.path());
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unrecognized subcommand 'lab'"),
        "`kroll lab up` must be clap's unknown subcommand, got: {err}"
    );
    let help = kroll(&["--help"], dir.path());
    let (help, _) = text(&help);
    assert!(help.contains("\n  status "), "the command list: {help}");
    assert!(
        !help
            .lines()
            .any(|l| l == "  lab" || l.starts_with("  lab ")),
        "`kroll --help` lists a lab command: {help}"
    );
}

/// The crates only the lab uses (the Docker API, image build contexts, signals to the lab's
/// agent processes) and the lab itself are no dependencies of `kroll-coordinator`.
#[test]
fn the_coordinator_depends_on_no_lab_crate() {
    let path = workspace_file("coordinator/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(&path)
        .expect("coordinator/Cargo.toml")
        .parse()
        .expect("coordinator/Cargo.toml is TOML");
    assert_eq!(
        manifest["package"]["name"].as_str(),
        Some("kroll-coordinator")
    );
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    for section in ["dependencies", "build-dependencies"] {
        if let Some(t) = manifest.get(section).and_then(toml::Value::as_table) {
            tables.push((section.to_owned(), t));
        }
    }
    for (target, v) in manifest
        .get("target")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
    {
        for section in ["dependencies", "build-dependencies"] {
            if let Some(t) = v.get(section).and_then(toml::Value::as_table) {
                tables.push((format!("target.{target}.{section}"), t));
            }
        }
    }
    assert!(
        tables
            .iter()
            .any(|(s, t)| s == "dependencies" && t.contains_key("tokio")),
        "the checker must see the coordinator's [dependencies]: {manifest:?}"
    );
    for (section, deps) in tables {
        for (name, spec) in deps {
            // A renamed dependency (`docker = { package = "bollard" }`) is still that package.
            let package = spec
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(name);
            assert!(
                !["bollard", "tar", "rustix", "kroll-lab"].contains(&package),
                "coordinator/Cargo.toml [{section}] has `{package}`: lab code belongs in deploy/lab/kroll-lab"
            );
        }
    }
    for gone in [
        "coordinator/src/lab",
        "coordinator/src/lab.rs",
        "coordinator/src/cli/lab.rs",
    ] {
        assert!(
            !workspace_file(gone).exists(),
            "{gone} exists: lab code belongs in deploy/lab/kroll-lab"
        );
    }
}
