//! `kroll-lab …` as users run it: bad input is refused with exit code 2 before anything is
//! touched; `down` of a lab that does not exist is a no-op.

use std::process::Command;

use kroll_tests::{bin, docker_cli, run_id};

fn kroll_lab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("kroll-lab"))
        .args(args)
        .env_remove("KROLL_INVENTORY")
        .output()
        .expect("run kroll-lab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_lab_requests_exit_2_and_touch_nothing() {
    let name = format!("{}cli", run_id());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("lab");
    let d = d.to_str().expect("utf-8 path");
    let cases: [(&[&str], &str); 3] = [
        (&["--name", "Bad_Name"], "lab name `Bad_Name`"),
        (
            &["--name", &name, "--version", "7.2.0"],
            "platform version `7.2.0`",
        ),
        (&["--name", &name, "--port-base", "80"], "--port-base 80"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["up", "--dir", d];
        args.extend_from_slice(extra);
        let (code, _, err) = kroll_lab(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: expected `{expected}` in {err}"
        );
    }
    let nets = docker_cli(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("label=kroll.lab={name}"),
    ]);
    assert!(nets.trim().is_empty(), "a refused `lab up` created {nets}");
    assert!(
        !dir.path().join("lab").exists(),
        "a refused `lab up` wrote its directory"
    );
}

#[test]
fn down_of_a_lab_that_does_not_exist_removes_nothing() {
    let name = format!("{}none", run_id());
    let (code, out, err) = kroll_lab(&["down", "--name", &name, "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["containers"], serde_json::json!([]));
    assert_eq!(report["agents"], serde_json::json!([]));
}

#[test]
fn lab_help_teaches_the_options() {
    let (code, out, _) = kroll_lab(&["up", "--help"]);
    assert_eq!(code, 0);
    for needle in [
        "--name",
        "--version",
        "--dir",
        "--port-base",
        "--services",
        "deploy/inventory.lab.toml",
    ] {
        assert!(out.contains(needle), "`{needle}` in {out}");
    }
}
