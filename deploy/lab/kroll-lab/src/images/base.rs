//! The two layers every lab image starts from: `base` (busybox, users, `/tmp`) and
//! `java-base` (`base` + the jlink-ed Java 17 runtime at `/opt/java` and the glibc libraries
//! it loads).

use std::path::{Path, PathBuf};

use bollard::Docker;

use super::cache;
use crate::image::{self, Context, ImageError};

/// Tag of the base layer (busybox, `root` + `appuser`, `/tmp`).
pub const BASE_IMAGE: &str = "kroll-lab.local/base:dev";
/// Tag of the Java layer (`base` + Java 17 at `/opt/java`).
pub const JAVA_BASE_IMAGE: &str = "kroll-lab.local/java-base:17";

/// Where the static busybox of Debian's `busybox-static` lives.
const BUSYBOX: &str = "/bin/busybox";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
appuser:x:1000:1000:appuser:/home/appuser:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nappuser:x:1000:\nnogroup:x:65534:\n";

/// The base layer's build context: busybox at `/bin/busybox` with a symlink per applet, the
/// users, `/tmp` (1777) and `appuser`'s home.
fn base_context() -> Result<Context, ImageError> {
    let busybox = Path::new(BUSYBOX);
    if !busybox.is_file() {
        return Err(ImageError::Missing {
            what: BUSYBOX.into(),
            hint: "apt-get install busybox-static".into(),
        });
    }
    let mut ctx = Context::new();
    ctx.add_binary(BUSYBOX, busybox)?;
    for applet in applets(busybox)? {
        let at = format!("rootfs/{applet}");
        if !ctx.contains(&at) {
            ctx.add_symlink(&at, BUSYBOX);
        }
    }
    ctx.add_bytes("rootfs/etc/passwd", PASSWD, 0o644);
    ctx.add_bytes("rootfs/etc/group", GROUP, 0o644);
    ctx.add_bytes(
        "rootfs/etc/nsswitch.conf",
        "passwd: files\ngroup: files\nhosts: files dns\n",
        0o644,
    );
    ctx.add_dir_entry("rootfs/tmp", 0o1777);
    ctx.add_dir_entry("rootfs/var/tmp", 0o1777);
    ctx.add_dir_entry("rootfs/root", 0o700);
    ctx.add_dir_entry("owned/home/appuser", 0o755);
    ctx.dockerfile(
        "FROM scratch\n\
         COPY rootfs/ /\n\
         COPY --chown=1000:1000 owned/home/appuser/ /home/appuser/\n\
         ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         LABEL kroll.lab.image=base\n\
         CMD [\"/bin/sh\"]\n",
    );
    Ok(ctx)
}

/// The applets of a busybox binary as paths without the leading slash (`bin/sh`, …).
fn applets(busybox: &Path) -> Result<Vec<String>, ImageError> {
    let out = std::process::Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(image::io_err(busybox))?;
    if !out.status.success() {
        return Err(ImageError::Command {
            command: format!("{BUSYBOX} --list-full"),
            detail: String::from_utf8_lossy(&out.stderr).into(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_matches('/').to_owned())
        .filter(|l| !l.is_empty() && l.contains('/') && l != "bin/busybox")
        .collect())
}

/// Builds (if changed) the base layer.
async fn ensure_base(docker: &Docker) -> Result<(), ImageError> {
    let ctx = tokio::task::spawn_blocking(base_context)
        .await
        .map_err(|e| join_err(BASE_IMAGE, e))??;
    image::ensure(docker, &ctx, BASE_IMAGE).await?;
    Ok(())
}

/// Builds (if changed) the base layer and the Java layer on it: `base` + the cached jlink-ed
/// runtime. The runtime's cache directory is named after its inputs' hash, and the base's image
/// id enters the layer's hash ([`image::ensure_layer`]), so either changing rebuilds the layer.
pub async fn ensure_java(docker: &Docker) -> Result<(), ImageError> {
    ensure_base(docker).await?;
    let jre = tokio::task::spawn_blocking(|| cache::jre(cache::JRE_MODULES))
        .await
        .map_err(|e| join_err(JAVA_BASE_IMAGE, e))??;
    let key = cache::digest([jre.to_string_lossy().as_bytes()]);
    image::ensure_layer(
        docker,
        BASE_IMAGE,
        JAVA_BASE_IMAGE,
        &key,
        &java_config(),
        move || java_context(&jre),
    )
    .await?;
    Ok(())
}

/// The Java layer's settings.
fn java_config() -> Vec<String> {
    [
        "ENV JAVA_HOME=/opt/java \
         PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
         LANG=C.UTF-8",
        "LABEL kroll.lab.image=java-base",
        "USER appuser",
        "WORKDIR /home/appuser",
    ]
    .map(String::from)
    .to_vec()
}

/// The Java layer's files: the runtime under `/opt/java` and every shared library its
/// binaries load from outside it (glibc, libstdc++, zlib, …) at the host's paths.
fn java_context(jre: &Path) -> Result<Context, ImageError> {
    let mut ctx = Context::new();
    ctx.add_dir("rootfs/opt/java", jre)?;
    for lib in outside_libraries(jre)? {
        let at = format!("rootfs/{}", lib.to_string_lossy().trim_start_matches('/'));
        if !ctx.contains(&at) {
            ctx.add_file(&at, &lib)?;
        }
    }
    Ok(ctx)
}

/// Shared libraries that the runtime's executables and libraries load from outside `jre`.
fn outside_libraries(jre: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let mut objects = vec![jre.join("bin/java"), jre.join("lib/server/libjvm.so")];
    let lib = jre.join("lib");
    for e in std::fs::read_dir(&lib).map_err(image::io_err(&lib))? {
        let p = e.map_err(image::io_err(&lib))?.path();
        if p.extension().is_some_and(|x| x == "so") {
            objects.push(p);
        }
    }
    let mut libs = Vec::new();
    for o in objects {
        for l in image::shared_libraries(&o)? {
            if !l.starts_with(jre) && !libs.contains(&l) {
                libs.push(l);
            }
        }
    }
    Ok(libs)
}

pub(super) fn join_err(tag: &str, e: tokio::task::JoinError) -> ImageError {
    ImageError::Build {
        tag: tag.into(),
        detail: format!("assembling the build context: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_context_has_a_shell_users_and_a_sticky_tmp() {
        let ctx = base_context().expect("busybox-static is installed on this machine");
        assert!(ctx.contains("rootfs/bin/busybox"));
        assert!(ctx.contains("rootfs/bin/sh"));
        assert!(ctx.contains("rootfs/usr/bin/awk"));
        let tar = ctx.to_tar();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut tmp_mode = None;
        let mut sh_target = None;
        for e in archive.entries().expect("entries") {
            let e = e.expect("entry");
            let path = e.path().expect("path").to_string_lossy().into_owned();
            if path == "rootfs/tmp/" || path == "rootfs/tmp" {
                tmp_mode = Some(e.header().mode().expect("mode"));
            }
            if path == "rootfs/bin/sh" {
                sh_target = e.link_name().expect("link").map(|l| l.into_owned());
            }
        }
        assert_eq!(tmp_mode, Some(0o1777));
        assert_eq!(sh_target, Some(PathBuf::from(BUSYBOX)));
        assert!(PASSWD.contains("appuser:x:1000:1000:"));
    }
}
