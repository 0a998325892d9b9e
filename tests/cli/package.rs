//! The Debian packages as an operator installs them: `deploy/package/build.sh` builds them
//! (here from the debug binaries the test command already built: `PROFILE=dev`; a release
//! build would cost minutes the suite does not have), they hold what they claim, their
//! binaries need no glibc newer than Debian 12's, they install into a clean root with dpkg —
//! maintainer scripts run chrooted there, never on this machine — the agent's unit passes
//! `systemd-analyze verify` where it was installed, and a purge leaves nothing behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use kroll_tests::bin;

/// The oldest Debian stable still supported: Debian 12 (bookworm), glibc 2.36.
const OLDEST_GLIBC: (u32, u32) = (2, 36);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a command that must succeed; its stdout.
fn ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (deploy/setup.sh installs what is missing)"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds both packages into `out` from the debug binaries beside the test executable.
fn build_packages(out: &Path) -> (PathBuf, PathBuf) {
    let debug = bin("kroll").parent().expect("bin dir").to_owned();
    // cargo-deb finds the binaries under the target directory cargo reports; point it at the
    // one these binaries are in.
    let target = debug.parent().expect("target dir");
    ok(
        Command::new(repo().join("deploy/package/build.sh"))
            .env("PROFILE", "dev")
            .env("OUT", out)
            .env("CARGO_TARGET_DIR", target),
        "deploy/package/build.sh (cargo-deb: cargo install --locked cargo-deb)",
    );
    let find = |name: &str| {
        std::fs::read_dir(out)
            .expect("out")
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(&format!("{name}_")) && n.ends_with("_amd64.deb")
                })
            })
            .unwrap_or_else(|| panic!("{name}_…_amd64.deb in {}", out.display()))
    };
    (find("kroll"), find("kroll-agent"))
}

/// The paths a package installs (`./usr/bin/kroll` → `/usr/bin/kroll`), directories left out.
fn contents(deb: &Path) -> BTreeSet<String> {
    ok(
        Command::new("dpkg-deb").arg("--contents").arg(deb),
        "dpkg-deb --contents",
    )
    .lines()
    .filter(|l| !l.starts_with('d'))
    .filter_map(|l| l.split_whitespace().nth(5))
    .map(|p| p.trim_start_matches('.').to_owned())
    .collect()
}

fn field(deb: &Path, name: &str) -> String {
    ok(
        Command::new("dpkg-deb").arg("--field").arg(deb).arg(name),
        "dpkg-deb --field",
    )
    .trim()
    .to_owned()
}

/// The newest `GLIBC_x.y` symbol version a binary needs.
fn newest_glibc(binary: &Path) -> (u32, u32) {
    let dump = ok(
        Command::new("objdump").arg("-T").arg(binary),
        "objdump (binutils)",
    );
    dump.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("a dynamically linked binary names glibc versions")
}

/// A clean root for `dpkg --root`: busybox as the shell the maintainer scripts run with, an
/// empty dpkg database that knows only the packages `depends` names (as this Debian 12
/// machine has them installed).
fn clean_root(root: &Path, depends: &[String]) {
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "usr/bin",
        "usr/sbin",
        "tmp",
        "etc",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).expect("bin");
    std::os::unix::fs::symlink("usr/sbin", root.join("sbin")).expect("sbin");
    std::fs::copy("/bin/busybox", root.join("usr/bin/busybox"))
        .expect("/bin/busybox (apt-get install busybox-static)");
    for applet in [
        "sh", "rm", "mkdir", "rmdir", "ln", "cat", "grep", "sed", "test", "[",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("usr/bin").join(applet)).expect("applet");
    }
    // systemd's targets, as on a Debian 12 with systemd, for `systemd-analyze verify --root`.
    let units = root.join("usr/lib/systemd/system");
    std::fs::create_dir_all(&units).expect("units");
    let host_units = Path::new("/usr/lib/systemd/system");
    for e in std::fs::read_dir(host_units)
        .expect("/usr/lib/systemd/system (apt-get install systemd)")
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "target") && p.is_file() {
            std::fs::copy(&p, units.join(e.file_name())).expect("target unit");
        }
    }
    let mut status = String::new();
    for p in depends {
        status.push_str(&ok(Command::new("dpkg-query").args(["--status", p]), p));
        status.push('\n');
        let list = root.join(format!("var/lib/dpkg/info/{p}:amd64.list"));
        std::fs::write(list, "").expect("list");
    }
    std::fs::write(root.join("var/lib/dpkg/status"), status).expect("status");
}

/// Every file, link and directory under `root`, relative to it.
fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(root).expect("under").display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p, root, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn dpkg(root: &Path, args: &[&str]) -> String {
    ok(
        Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args(args),
        &format!("dpkg {args:?}"),
    )
}

#[test]
fn the_packages_hold_their_files_install_into_a_clean_root_and_purge_without_a_trace() {
    let uid = ok(Command::new("id").arg("-u"), "id");
    assert_eq!(
        uid.trim(),
        "0",
        "dpkg --root runs the maintainer scripts chrooted: run as root"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("debs");
    std::fs::create_dir_all(&out).expect("out");
    let (kroll, agent) = build_packages(&out);

    // What each package holds.
    let k = contents(&kroll);
    let mut want_k = vec![
        "/usr/bin/kroll".to_owned(),
        "/usr/share/bash-completion/completions/kroll".into(),
        "/usr/share/zsh/vendor-completions/_kroll".into(),
        "/usr/share/fish/vendor_completions.d/kroll.fish".into(),
        "/usr/share/man/man1/kroll.1.gz".into(),
        "/usr/share/doc/kroll/examples/inventory.production.toml".into(),
    ];
    want_k.extend(
        [
            "status",
            "restart",
            "certs",
            "certs-init",
            "watch",
            "plan",
            "upgrade",
            "rollback",
            "report",
        ]
        .map(|s| format!("/usr/share/man/man1/kroll-{s}.1.gz")),
    );
    for f in &want_k {
        assert!(k.contains(f), "kroll holds {f}: {k:?}");
    }
    assert!(
        !k.iter().any(|f| f.contains("agent")),
        "kroll holds nothing of the agent: {k:?}"
    );
    let a = contents(&agent);
    for f in [
        "/usr/bin/kroll-agent",
        "/usr/lib/systemd/system/kroll-agent.service",
        "/usr/share/bash-completion/completions/kroll-agent",
        "/usr/share/zsh/vendor-completions/_kroll-agent",
        "/usr/share/fish/vendor_completions.d/kroll-agent.fish",
        "/usr/share/man/man1/kroll-agent.1.gz",
        "/usr/share/doc/kroll-agent/examples/agent.example.toml",
    ] {
        assert!(a.contains(f), "kroll-agent holds {f}: {a:?}");
    }
    // Nothing under /etc: no conffile an upgrade would ask about; the operator writes
    // /etc/kroll/agent.toml from the example.
    for (deb, files) in [(&kroll, &k), (&agent, &a)] {
        assert!(
            !files.iter().any(|f| f.starts_with("/etc/")),
            "{}: {files:?}",
            deb.display()
        );
        let info = ok(
            Command::new("dpkg-deb").arg("--info").arg(deb),
            "dpkg-deb --info",
        );
        assert!(
            !info.contains("conffiles"),
            "{}: no conffiles\n{info}",
            deb.display()
        );
    }
    // The agent's unit is announced to systemd (daemon-reload; stop on removal, forgotten on
    // purge) but neither enabled nor started: the node's config and certificate come first.
    let info = ok(
        Command::new("dpkg-deb").arg("--info").arg(&agent),
        "dpkg-deb --info",
    );
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "kroll-agent has a {script}:\n{info}");
    }
    let postinst = ok(
        Command::new("dpkg-deb")
            .arg("--info")
            .arg(&agent)
            .arg("postinst"),
        "postinst",
    );
    assert!(postinst.contains("daemon-reload"), "{postinst}");
    assert!(
        !postinst.contains("deb-systemd-invoke start"),
        "not started: {postinst}"
    );

    // Depends: computed from what the binaries link, all in Debian 12, glibc no newer.
    let mut depends = BTreeSet::new();
    for deb in [&kroll, &agent] {
        let d = field(deb, "Depends");
        for dep in d.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let name = dep.split_whitespace().next().expect("name").to_owned();
            if name == "libc6" {
                let v = dep.trim_start_matches("libc6 (>= ").trim_end_matches(')');
                let mut p = v.split('.').map(|n| n.parse::<u32>().expect("version"));
                let need = (p.next().expect("major"), p.next().expect("minor"));
                assert!(need <= OLDEST_GLIBC, "{}: {dep}", deb.display());
            }
            depends.insert(name);
        }
    }
    assert!(depends.contains("libc6"), "{depends:?}");

    // Install both into a clean root.
    let root = dir.path().join("root");
    let depends: Vec<String> = depends.into_iter().collect();
    clean_root(&root, &depends);
    let before = tree(&root);
    dpkg(
        &root,
        &[
            "--install",
            &kroll.to_string_lossy(),
            &agent.to_string_lossy(),
        ],
    );
    let status = dpkg(&root, &["--status", "kroll-agent"]);
    assert!(status.contains("Status: install ok installed"), "{status}");
    for f in k.iter().chain(a.iter()) {
        assert!(
            root.join(f.trim_start_matches('/')).exists(),
            "{f} installed in the clean root"
        );
    }
    for binary in ["usr/bin/kroll", "usr/bin/kroll-agent"] {
        let path = root.join(binary);
        let version = ok(Command::new(&path).arg("--version"), binary);
        assert!(
            version.starts_with(path.file_name().expect("name").to_str().expect("utf-8")),
            "{version}"
        );
        let glibc = newest_glibc(&path);
        assert!(
            glibc <= OLDEST_GLIBC,
            "{binary} needs GLIBC_{}.{}",
            glibc.0,
            glibc.1
        );
    }
    // The unit as installed: its ExecStart exists in that root, its directives are valid (a
    // directive systemd cannot parse is only a warning: none is accepted). Its man page is the
    // one the package installed, checked above (`--man=no`: verify would look on this host).
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .arg("/usr/lib/systemd/system/kroll-agent.service")
        .output()
        .expect("systemd-analyze (apt-get install systemd)");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // Purge: every file the packages brought is gone, and nothing else appeared.
    dpkg(&root, &["--purge", "kroll", "kroll-agent"]);
    let after: BTreeSet<String> = tree(&root)
        .into_iter()
        .filter(|p| !p.starts_with("var/lib/dpkg") && !p.starts_with("tmp"))
        .collect();
    let before: BTreeSet<String> = before
        .into_iter()
        .filter(|p| !p.starts_with("var/lib/dpkg") && !p.starts_with("tmp"))
        .collect();
    assert_eq!(
        after.difference(&before).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "left behind after purge"
    );
}
