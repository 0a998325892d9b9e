//! Building container images from files on this machine — never pulling anything.
//!
//! A [`Context`] collects files (bytes, host files, host binaries with the shared libraries
//! `ldd` says they need) and a Dockerfile; [`ensure`] builds it with the Docker engine unless an
//! image built from exactly the same content already carries the tag (the content hash is kept
//! in the image label `kroll.context-hash`), so repeated lab starts cost nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::models::{ContainerConfig, ContainerCreateBody};
use bollard::query_parameters::{
    BuildImageOptions, CommitContainerOptions, CreateContainerOptions, RemoveContainerOptions,
    UploadToContainerOptions,
};
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
    /// Directories owned by a user other than root: path → uid (= gid).
    owners: BTreeMap<String, u32>,
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

    /// Adds a directory entry owned by `uid` (group `uid` too), for directories a service
    /// writes as a non-root user (a volume's first contents take the image directory's owner).
    /// Only [`ensure_layer`] images keep the owner; a Dockerfile `COPY` makes it root's.
    pub fn add_owned_dir(&mut self, path: &str, mode: u32, uid: u32) {
        let p = path.trim_matches('/').to_owned();
        self.dirs.insert(p.clone(), mode);
        self.owners.insert(p, uid);
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
        for (path, uid) in &self.owners {
            ctx.update(b"\0owner\0");
            ctx.update(path.as_bytes());
            ctx.update(&uid.to_le_bytes());
        }
        hex8(ctx.finish())
    }

    /// The context as a tar archive (deterministic: sorted, mtime 0).
    pub fn to_tar(&self) -> Vec<u8> {
        self.tar_of(|path| Some(path.to_owned()))
    }

    /// The `rootfs/` tree alone as a tar archive with image paths (`rootfs/etc/x` → `etc/x`),
    /// the owners of [`Context::add_owned_dir`] in its headers.
    pub fn rootfs_tar(&self) -> Vec<u8> {
        self.tar_of(|path| {
            path.strip_prefix("rootfs/")
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
        })
    }

    /// The entries whose path `at` maps to an archive path, sorted, mtime 0.
    fn tar_of(&self, at: impl Fn(&str) -> Option<String>) -> Vec<u8> {
        let header = |kind: tar::EntryType, size: u64, mode: u32, uid: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(mode);
            h.set_mtime(0);
            h.set_uid(uid.into());
            h.set_gid(uid.into());
            h.set_entry_type(kind);
            h
        };
        // Appending to an in-memory Vec cannot fail except on over-long names, which
        // `append_data` and `append_link` write as GNU long-name entries.
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode) in &self.dirs {
            if let Some(name) = at(path) {
                let uid = self.owners.get(path).copied().unwrap_or(0);
                let mut h = header(tar::EntryType::Directory, 0, *mode, uid);
                let _ = b.append_data(&mut h, format!("{name}/"), std::io::empty());
            }
        }
        for (path, (bytes, mode)) in &self.files {
            if let Some(name) = at(path) {
                let mut h = header(tar::EntryType::Regular, bytes.len() as u64, *mode, 0);
                let _ = b.append_data(&mut h, name, bytes.as_slice());
            }
        }
        for (path, target) in &self.symlinks {
            if let Some(name) = at(path) {
                let mut h = header(tar::EntryType::Symlink, 0, 0o777, 0);
                let _ = b.append_link(&mut h, name, target);
            }
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
    if let Some(id) = carrying(docker, tag, &hash).await {
        return Ok(id);
    }
    build(docker, ctx, tag, &hash).await?;
    let built = docker.inspect_image(tag).await?;
    Ok(built.id.unwrap_or_default())
}

/// Makes sure `tag` names the image `from` plus one layer, without a Dockerfile build: the
/// layer is the `rootfs/` tree of the context `make` assembles (owners as
/// [`Context::add_owned_dir`] set them), `config` the image settings as Dockerfile instructions
/// (`ENV`, `LABEL`, `USER`, `WORKDIR`, `VOLUME`, `ENTRYPOINT`, `CMD`). `key` identifies what
/// `make` would assemble (its inputs' hash): when `tag` already carries the hash of `key`,
/// `from`'s id and `config`, nothing is assembled or built. Returns the image id.
///
/// A container of `from` is created (never started), the layer unpacked into it and the
/// container committed with `config`: one layer and one container, where a Dockerfile build on
/// this engine's builder spends about a second on a step container for every instruction.
pub async fn ensure_layer<F>(
    docker: &Docker,
    from: &str,
    tag: &str,
    key: &str,
    config: &[String],
    make: F,
) -> Result<String, ImageError>
where
    F: FnOnce() -> Result<Context, ImageError> + Send + 'static,
{
    let from_id = docker
        .inspect_image(from)
        .await
        .map_err(|e| ImageError::Build {
            tag: tag.into(),
            detail: format!("the image it is made from, {from}: {e}"),
        })?
        .id
        .unwrap_or_default();
    let hash = {
        let mut parts = vec![key.as_bytes(), from_id.as_bytes()];
        parts.extend(config.iter().map(|c| c.as_bytes()));
        digest(parts)
    };
    if let Some(id) = carrying(docker, tag, &hash).await {
        return Ok(id);
    }
    let ctx = tokio::task::spawn_blocking(make)
        .await
        .map_err(|e| ImageError::Build {
            tag: tag.into(),
            detail: format!("assembling the layer: {e}"),
        })??;
    let container = docker
        .create_container(
            None::<CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(from.to_owned()),
                ..Default::default()
            },
        )
        .await
        .map_err(failed(
            tag,
            "creating a container of the image it is made from",
        ))?
        .id;
    let committed = commit_layer(docker, &container, from, &ctx, config, tag, &hash).await;
    let removed = docker
        .remove_container(
            &container,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(failed(tag, "removing the container it was made in"));
    let id = committed?;
    removed?;
    Ok(id)
}

async fn commit_layer(
    docker: &Docker,
    container: &str,
    from: &str,
    ctx: &Context,
    config: &[String],
    tag: &str,
    hash: &str,
) -> Result<String, ImageError> {
    docker
        .upload_to_container(
            container,
            Some(UploadToContainerOptions {
                path: "/".into(),
                ..Default::default()
            }),
            bollard::body_full(ctx.rootfs_tar().into()),
        )
        .await
        .map_err(failed(tag, "unpacking the layer"))?;
    let (repo, version) = match tag.rsplit_once(':') {
        Some((r, v)) if !v.contains('/') => (r, v),
        _ => (tag, "latest"),
    };
    let mut changes = config.to_vec();
    changes.push(format!("LABEL {HASH_LABEL}={hash}"));
    docker
        .commit_container(
            CommitContainerOptions {
                container: Some(container.to_owned()),
                repo: Some(repo.to_owned()),
                tag: Some(version.to_owned()),
                changes: Some(changes.join("\n")),
                comment: Some(format!("kroll-lab: {from} + one layer")),
                pause: false,
                ..Default::default()
            },
            ContainerConfig::default(),
        )
        .await
        .map(|r| r.id)
        .map_err(failed(tag, "committing the layer"))
}

/// A failed Docker call of making `tag`, naming the step.
fn failed(tag: &str, step: &'static str) -> impl FnOnce(bollard::errors::Error) -> ImageError {
    let tag = tag.to_owned();
    move |e| ImageError::Build {
        tag,
        detail: format!("{step}: {e}"),
    }
}

/// The id of the image `tag` when it carries the content hash `hash`.
async fn carrying(docker: &Docker, tag: &str, hash: &str) -> Option<String> {
    let existing = docker.inspect_image(tag).await.ok()?;
    let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
    (labels.get(HASH_LABEL).map(String::as_str) == Some(hash))
        .then(|| existing.id.unwrap_or_default())
}

/// A short SHA-256 hex digest of `parts`, each length-prefixed (so `["ab", "c"]` and
/// `["a", "bc"]` differ).
pub fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    hex8(ctx.finish())
}

fn hex8(d: ring::digest::Digest) -> String {
    d.as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
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
    fn the_rootfs_tar_has_image_paths_and_owners() {
        let mut ctx = Context::new();
        ctx.dockerfile("FROM scratch\n");
        ctx.add_bytes("rootfs/opt/lab/VERSION", "7.1.1\n", 0o644);
        ctx.add_owned_dir("rootfs/var/lib/kafka/data", 0o755, 1000);
        ctx.add_symlink("rootfs/bin/sh", "/bin/busybox");
        ctx.add_bytes("version/x", "not in the layer", 0o644);
        let tar = ctx.rootfs_tar();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let h = e.header();
                (
                    e.path().expect("path").to_string_lossy().into_owned(),
                    h.mode().expect("mode"),
                    h.uid().expect("uid"),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("var/lib/kafka/data/".to_owned(), 0o755, 1000),
                ("opt/lab/VERSION".to_owned(), 0o644, 0),
                ("bin/sh".to_owned(), 0o777, 0),
            ]
        );
        let mut root_owned = ctx.clone();
        root_owned.add_dir_entry("rootfs/var/lib/kafka/data", 0o755);
        root_owned.owners.clear();
        assert_ne!(ctx.hash(), root_owned.hash(), "the owner is content");
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
