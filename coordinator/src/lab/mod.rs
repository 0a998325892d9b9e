//! The lab: a stand-in Confluent cluster on the local Docker engine, built from this
//! machine's files (see `deploy/lab/LAB.md`).
//!
//! # Layout
//! - [`image`]: build contexts and image builds that never pull.

pub mod image;

use std::path::{Path, PathBuf};

use bollard::Docker;

/// The image of `kroll-labbox`, the tiny program test and placeholder containers run.
pub const LABBOX_IMAGE: &str = "kroll-lab.local/labbox:dev";

/// Where the binary `name` of this build lives: beside the running executable, or one level
/// up (test executables run from `target/<profile>/deps`).
pub fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(name), dir.parent()?.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// Builds (if its content changed) the labbox image from the `kroll-labbox` binary.
pub async fn ensure_labbox(docker: &Docker, labbox: &Path) -> Result<String, image::ImageError> {
    let mut ctx = image::Context::new();
    ctx.add_binary("/usr/local/bin/kroll-labbox", labbox)?;
    ctx.dockerfile(
        "FROM scratch\nCOPY rootfs/ /\nLABEL kroll.lab.image=labbox\nENTRYPOINT [\"/usr/local/bin/kroll-labbox\"]\n",
    );
    image::ensure(docker, &ctx, LABBOX_IMAGE).await
}
