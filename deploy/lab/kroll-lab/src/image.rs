//! Building container images from files on this machine — never pulling anything.
//!
//! A [`Context`] collects files (bytes, host files, host binaries with the shared libraries
//! `ldd` says they need) and a Dockerfile; [`ensure`] builds it with the Docker engine unless an
//! image built from exactly the same content already carries the tag (the content hash is kept
//! in the image label `kroll.context-hash`), so repeated lab starts cost nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::BuildImageOptions;
use futures::StreamExt;

/// Label holding the hash of the build context an image was built from.
pub const HASH_LABEL: &str = "kroll.context-hash";

/// Errors of image building.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`ldd {path}` failed: {detail}")]
    Ldd { path: PathBuf, detail: String },
    #[error("building image {tag}: {detail}")]
    Build { tag: String, detail: String },
    #[error("Docker engine: {0}")]
    Docker(#[from] bollard::errors::Error),
    /// Something the build needs is not on this machine; `hint` says how to get it.
    #[error("{what} not found: {hint}")]
    Missing { what: String, hint: String },
    /// A build step (jlink, javac, …) failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A build context: files by their path in the context, and the Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Context {
    files: BTreeMap<String, (Vec<u8>, u32)>,
    dirs: BTreeMap<String, u32>,
    symlinks: BTreeMap<String, String>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file with contents and mode.
    pub fn add_bytes(&mut self, path: &str, bytes: impl Into<Vec<u8>>, mode: u32) {
        self.files.insert(
            path.trim_start_matches('/').to_owned(),
            (bytes.into(), mode),
        );
    }

    /// Adds a directory entry with a mode (e.g. `rootfs/tmp` with `0o1777`), so empty
    /// directories and their permissions reach the image.
    pub fn add_dir_entry(&mut self, path: &str, mode: u32) {
        self.dirs.insert(path.trim_matches('/').to_owned(), mode);
    }

    /// Adds a symbolic link at `path` pointing to `target` (e.g. busybox applets).
    pub fn add_symlink(&mut self, path: &str, target: &str) {
        self.symlinks
            .insert(path.trim_start_matches('/').to_owned(), target.to_owned());
    }

    /// Whether the context already holds a file, directory or link at `path`.
    pub fn contains(&self, path: &str) -> bool {
        let p = path.trim_matches('/');
        self.files.contains_key(p) || self.dirs.contains_key(p) || self.symlinks.contains_key(p)
    }

    /// Adds the Dockerfile.
    pub fn dockerfile(&mut self, text: &str) {
        self.add_bytes("Dockerfile", text, 0o644);
    }

    /// Adds a host file (following symlinks), keeping its permission bits.
    pub fn add_file(&mut self, path: &str, host: &Path) -> Result<(), ImageError> {
        use std::os::unix::fs::PermissionsExt;
        let bytes = std::fs::read(host).map_err(io_err(host))?;
        let mode = std::fs::metadata(host)
            .map_err(io_err(host))?
            .permissions()
            .mode()
            & 0o7777;
        self.add_bytes(path, bytes, mode);
        Ok(())
    }

    /// Adds a host directory tree under `path` (regular files and the targets of symlinks).
    pub fn add_dir(&mut self, path: &str, host: &Path) -> Result<(), ImageError> {
        let entries = std::fs::read_dir(host).map_err(io_err(host))?;
        for entry in entries {
            let entry = entry.map_err(io_err(host))?;
            let p = entry.path();
            let name = format!(
                "{}/{}",
                path.trim_end_matches('/'),
                entry.file_name().to_string_lossy()
            );
            if p.is_dir() {
                self.add_dir(&name, &p)?;
            } else if p.is_file() {
                self.add_file(&name, &p)?;
            }
        }
        Ok(())
    }

    /// Adds a host executable at `rootfs/<image_path>` and every shared library it loads at
    /// `rootfs/<library path>` (as `ldd` resolves them), so it runs in a `FROM scratch` image.
    pub fn add_binary(&mut self, image_path: &str, host: &Path) -> Result<(), ImageError> {
        self.add_file(
            &format!("rootfs/{}", image_path.trim_start_matches('/')),
            host,
        )?;
        for lib in shared_libraries(host)? {
            let at = format!("rootfs/{}", lib.to_string_lossy().trim_start_matches('/'));
            if !self.files.contains_key(&at) {
                self.add_file(&at, &lib)?;
            }
        }
        Ok(())
    }

    /// A short content hash of the whole context.
    pub fn hash(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for (path, (bytes, mode)) in &self.files {
            ctx.update(path.as_bytes());
            ctx.update(&[0]);
            ctx.update(&mode.to_le_bytes());
            ctx.update(&(bytes.len() as u64).to_le_bytes());
            ctx.update(bytes);
        }
        for (path, mode) in &self.dirs {
            ctx.update(b"\0dir\0");
            ctx.update(path.as_bytes());
            ctx.update(&mode.to_le_bytes());
        }
        for (path, target) in &self.symlinks {
            ctx.update(b"\0link\0");
            ctx.update(path.as_bytes());
            ctx.update(&[0]);
            ctx.update(target.as_bytes());
        }
        ctx.finish()
            .as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The context as a tar archive (deterministic: sorted, mtime 0).
    pub fn to_tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode) in &self.dirs {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(*mode);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Directory);
            let _ = b.append_data(&mut h, format!("{path}/"), std::io::empty());
        }
        for (path, (bytes, mode)) in &self.files {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(*mode);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            // Appending to an in-memory Vec cannot fail except on over-long names, which
            // `append_data` writes as GNU long-name entries.
            let _ = b.append_data(&mut h, path, bytes.as_slice());
        }
        for (path, target) in &self.symlinks {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o777);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Symlink);
            let _ = b.append_link(&mut h, path, target);
        }
        b.into_inner().unwrap_or_default()
    }
}

/// The shared libraries (and loader) `ldd` reports for a binary, as absolute host paths.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| ImageError::Ldd {
            path: binary.to_owned(),
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // glibc's ldd says so on stdout or stderr depending on its version.
        let static_binary =
            |b: &[u8]| String::from_utf8_lossy(b).contains("not a dynamic executable");
        if static_binary(&out.stdout) || static_binary(&out.stderr) {
            return Ok(Vec::new());
        }
        return Err(ImageError::Ldd {
            path: binary.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).into(),
        });
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        let candidate = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = candidate.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// Makes sure `tag` names an image built from `ctx`: builds it unless an image with this tag
/// already carries the same content hash. Returns the image id.
pub async fn ensure(docker: &Docker, ctx: &Context, tag: &str) -> Result<String, ImageError> {
    let hash = ctx.hash();
    if let Ok(existing) = docker.inspect_image(tag).await {
        let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(HASH_LABEL) == Some(&hash) {
            return Ok(existing.id.unwrap_or_default());
        }
    }
    build(docker, ctx, tag, &hash).await?;
    let built = docker.inspect_image(tag).await?;
    Ok(built.id.unwrap_or_default())
}

/// Like [`ensure`], but the image is identified by a caller-computed `key` (a hash of the
/// build's inputs) and the context is only assembled when a build is needed — for contexts
/// that are expensive to read (a Java runtime) on a warm start. Returns the image id.
pub async fn ensure_keyed<F>(
    docker: &Docker,
    tag: &str,
    key: &str,
    make: F,
) -> Result<String, ImageError>
where
    F: FnOnce() -> Result<Context, ImageError> + Send + 'static,
{
    if let Ok(existing) = docker.inspect_image(tag).await {
        let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(HASH_LABEL).map(String::as_str) == Some(key) {
            return Ok(existing.id.unwrap_or_default());
        }
    }
    let ctx = tokio::task::spawn_blocking(make)
        .await
        .map_err(|e| ImageError::Build {
            tag: tag.into(),
            detail: format!("assembling the build context: {e}"),
        })??;
    build(docker, &ctx, tag, key).await?;
    let built = docker.inspect_image(tag).await?;
    Ok(built.id.unwrap_or_default())
}

async fn build(docker: &Docker, ctx: &Context, tag: &str, hash: &str) -> Result<(), ImageError> {
    let opts = BuildImageOptions {
        dockerfile: "Dockerfile".into(),
        t: Some(tag.to_owned()),
        rm: true,
        forcerm: true,
        labels: Some(HashMap::from([(HASH_LABEL.to_owned(), hash.to_owned())])),
        ..Default::default()
    };
    let body = bollard::body_full(ctx.to_tar().into());
    let mut stream = docker.build_image(opts, None, Some(body));
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| ImageError::Build {
            tag: tag.into(),
            detail: format!("{e}\n{log}"),
        })?;
        if let Some(s) = info.stream {
            log.push_str(&s);
        }
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(ImageError::Build {
                tag: tag.into(),
                detail: format!("{err}\n{log}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_content_mode_and_path_only() {
        let mut a = Context::new();
        a.add_bytes("x", "1", 0o644);
        let mut b = a.clone();
        assert_eq!(a.hash(), b.hash());
        b.add_bytes("x", "1", 0o755);
        assert_ne!(a.hash(), b.hash());
        let mut c = Context::new();
        c.add_bytes("y", "1", 0o644);
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn ldd_finds_the_loader_and_libc_of_a_host_binary() {
        let libs = shared_libraries(Path::new("/bin/ls")).expect("ldd");
        assert!(
            libs.iter().any(|p| p.to_string_lossy().contains("libc.so")),
            "{libs:?}"
        );
        assert!(
            libs.iter()
                .any(|p| p.to_string_lossy().contains("ld-linux")),
            "{libs:?}"
        );
    }

    #[test]
    fn the_tar_holds_every_file_with_its_mode() {
        let mut ctx = Context::new();
        ctx.dockerfile("FROM scratch\n");
        ctx.add_bytes("/rootfs/bin/x", vec![1, 2, 3], 0o755);
        let tar = ctx.to_tar();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entries: Vec<(String, u32)> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.path().expect("path").to_string_lossy().into_owned(),
                    e.header().mode().expect("mode"),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("Dockerfile".to_owned(), 0o644),
                ("rootfs/bin/x".to_owned(), 0o755)
            ]
        );
    }
}
