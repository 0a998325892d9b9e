//! Cached build products of the lab images: the jlink-ed Java runtime and the JVM services'
//! jars, each in a directory named after the hash of its inputs, so a warm `lab up` neither
//! re-runs jlink nor javac.
//!
//! Every product is built into a private temporary directory and renamed into place, so
//! concurrent builders (two test processes, two engineers) never see half a product.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::image::{ImageError, io_err};

/// Modules of the lab's Java runtime: `java.base` + `jdk.httpserver` for the lab's JVM
/// services (`jdeps --print-module-deps`); ZooKeeper 3.8 also needs `java.management` (its
/// JMX beans are always registered), `java.naming`, `java.security.jgss`,
/// `java.security.sasl` (its SASL/Kerberos and X.509 code) and `jdk.unsupported` (netty,
/// snappy). Its admin server (jetty + jackson, which would pull in `java.desktop` and
/// `java.sql`) is not shipped. `jdk.crypto.ec` (SunEC) lets the services' HTTPS listeners use
/// EC keys and ECDHE — without it Java 17 negotiates only finite-field DH, which rustls (kroll's
/// TLS) does not speak.
pub const JRE_MODULES: &[&str] = &[
    "java.base",
    "java.management",
    "java.naming",
    "java.security.jgss",
    "java.security.sasl",
    "jdk.crypto.ec",
    "jdk.httpserver",
    "jdk.unsupported",
];

/// Bump when the way a product is made changes, so old cache entries are not reused.
const RECIPE: &str = "kroll-lab-cache-v1";

/// Where cached products live: `$KROLL_LAB_CACHE`, else `$XDG_CACHE_HOME/kroll-lab`, else
/// `$HOME/.cache/kroll-lab`, else a directory under the system's temporary directory.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("KROLL_LAB_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("kroll-lab")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/kroll-lab")))
        .unwrap_or_else(|| std::env::temp_dir().join("kroll-lab-cache"))
}

pub use crate::image::digest;

/// The host JDK's home (for `jlink`, `javac`): `$JAVA_HOME` if it has `jlink`, else the
/// directory `jlink` on `PATH` resolves into.
pub fn jdk_home() -> Result<PathBuf, ImageError> {
    let missing = || ImageError::Missing {
        what: "a Java 17 JDK with jlink".into(),
        hint: "apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)".into(),
    };
    if let Some(home) = std::env::var_os("JAVA_HOME").map(PathBuf::from)
        && home.join("bin/jlink").is_file()
    {
        return Ok(home);
    }
    let path = std::env::var_os("PATH").ok_or_else(missing)?;
    let jlink = std::env::split_paths(&path)
        .map(|d| d.join("jlink"))
        .find(|p| p.is_file())
        .ok_or_else(missing)?;
    let real = std::fs::canonicalize(&jlink).map_err(io_err(&jlink))?;
    real.parent()
        .and_then(Path::parent)
        .map(Path::to_owned)
        .ok_or_else(missing)
}

/// The JDK's `release` file, which names its exact version (part of every cache key).
fn jdk_release(home: &Path) -> Result<Vec<u8>, ImageError> {
    let p = home.join("release");
    let text = std::fs::read(&p).map_err(io_err(&p))?;
    if !String::from_utf8_lossy(&text).contains("JAVA_VERSION=\"17") {
        return Err(ImageError::Missing {
            what: format!("a Java 17 JDK ({} is another version)", home.display()),
            hint: "install openjdk-17-jdk-headless and set JAVA_HOME to it".into(),
        });
    }
    Ok(text)
}

/// The cache key of the Java runtime for `modules`.
pub fn jre_key(modules: &[&str]) -> Result<String, ImageError> {
    let release = jdk_release(&jdk_home()?)?;
    let mods = modules.join(",");
    Ok(digest([
        RECIPE.as_bytes(),
        b"jre",
        release.as_slice(),
        mods.as_bytes(),
    ]))
}

/// The jlink-ed Java runtime with `modules` (built on first use, then taken from the cache).
/// Blocking: call from `spawn_blocking`.
pub fn jre(modules: &[&str]) -> Result<PathBuf, ImageError> {
    let home = jdk_home()?;
    let key = jre_key(modules)?;
    cached(&format!("jre-{key}"), |out| {
        let jlink = home.join("bin/jlink");
        let mut cmd = Command::new(&jlink);
        cmd.args(["--add-modules", &modules.join(",")])
            .args(["--strip-debug", "--no-header-files", "--no-man-pages"])
            .arg("--generate-cds-archive")
            .arg("--output")
            .arg(out);
        run(&mut cmd)?;
        // Only compressed-oops heaps (< 32 GiB) are used in the lab; keep one CDS archive.
        let _ = std::fs::remove_file(out.join("lib/server/classes_nocoops.jsa"));
        Ok(())
    })
}

/// Every file under `dir` (sorted, relative paths) with its contents — for cache keys.
fn tree_digest_parts(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), ImageError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            tree_digest_parts(&p, out)?;
        } else {
            let bytes = std::fs::read(&p).map_err(io_err(&p))?;
            out.push((p.to_string_lossy().into_owned(), bytes));
        }
    }
    Ok(())
}

/// The JVM services' jars (`deploy/lab/java/build.sh`), built from `java_src` (the
/// `deploy/lab/java` directory) on first use, then taken from the cache. Blocking.
pub fn lab_jars(java_src: &Path) -> Result<PathBuf, ImageError> {
    let home = jdk_home()?;
    let release = jdk_release(&home)?;
    let mut parts = Vec::new();
    tree_digest_parts(&java_src.join("src"), &mut parts)?;
    let script = java_src.join("build.sh");
    let script_bytes = std::fs::read(&script).map_err(io_err(&script))?;
    let src_root = java_src.to_string_lossy().into_owned();
    let mut all: Vec<&[u8]> = vec![RECIPE.as_bytes(), b"jars", &release, &script_bytes];
    for (path, bytes) in &parts {
        all.push(path.strip_prefix(&src_root).unwrap_or(path).as_bytes());
        all.push(bytes);
    }
    let key = digest(all);
    cached(&format!("jars-{key}"), |out| {
        let mut cmd = Command::new("sh");
        cmd.arg(&script).arg(out).env("JAVA_HOME", &home);
        run(&mut cmd)?;
        let _ = std::fs::remove_dir_all(out.join("classes"));
        Ok(())
    })
}

/// Returns `<cache>/<name>`, making it with `make(tmp)` first when it is not there yet.
fn cached(
    name: &str,
    make: impl FnOnce(&Path) -> Result<(), ImageError>,
) -> Result<PathBuf, ImageError> {
    cached_in(&cache_dir(), name, make)
}

fn cached_in(
    root: &Path,
    name: &str,
    make: impl FnOnce(&Path) -> Result<(), ImageError>,
) -> Result<PathBuf, ImageError> {
    let done = root.join(name);
    if done.join(".complete").is_file() {
        return Ok(done);
    }
    std::fs::create_dir_all(root).map_err(io_err(root))?;
    let tmp = root.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        kroll_shared::time::now_unix_ms()
    ));
    let result = make(&tmp).and_then(|()| {
        let marker = tmp.join(".complete");
        std::fs::write(&marker, b"").map_err(io_err(&marker))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if std::fs::rename(&tmp, &done).is_err() {
        // Another builder won the race (or a stale incomplete entry is in the way).
        let _ = std::fs::remove_dir_all(&tmp);
        if !done.join(".complete").is_file() {
            return Err(ImageError::Command {
                command: format!("caching {name}"),
                detail: format!("{} exists but is incomplete; remove it", done.display()),
            });
        }
    }
    Ok(done)
}

fn run(cmd: &mut Command) -> Result<(), ImageError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| ImageError::Command {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(ImageError::Command {
            command: shown,
            detail: format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_separate_their_parts() {
        assert_ne!(
            digest([b"ab".as_slice(), b"c"]),
            digest([b"a".as_slice(), b"bc"])
        );
        assert_eq!(digest([b"x".as_slice()]), digest([b"x".as_slice()]));
    }

    #[test]
    fn a_failed_product_leaves_no_cache_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = "broken-product";
        let root = dir.path().to_owned();
        let r = cached_in(&root, name, |_| {
            Err(ImageError::Command {
                command: "x".into(),
                detail: "boom".into(),
            })
        });
        assert!(r.is_err());
        let left: Vec<_> = std::fs::read_dir(&root).expect("read").collect();
        assert!(left.is_empty(), "{left:?}");
        let ok = cached_in(&root, name, |p| {
            std::fs::create_dir_all(p).map_err(io_err(p))
        })
        .expect("made");
        assert!(ok.join(".complete").is_file());
    }
}
