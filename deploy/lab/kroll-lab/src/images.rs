//! The lab's images, built from this machine's files in seconds and never pulled
//! (`deploy/lab/LAB.md`, "Images").
//!
//! Layers: [`BASE_IMAGE`] (static busybox, `/etc/passwd` with `root` and `appuser` 1000,
//! `/tmp` 1777) → [`JAVA_BASE_IMAGE`] (+ a jlink-ed Java 17 at `/opt/java`) → one image per
//! component and platform version, `<registry>/<component>:<version>`.
//!
//! # Layout
//! - `cache`: the jlink-ed runtime and the JVM services' jars, cached by input hash.
//! - `base`: the `base` and `java-base` layers.
//! - `components`: ZooKeeper, Kafka (the lab broker) and the JVM services per version.

mod base;
pub mod cache;
mod components;

use std::time::Instant;

use bollard::Docker;
use tokio::sync::Mutex;

pub use self::base::{BASE_IMAGE, JAVA_BASE_IMAGE};
pub use self::components::{BrokerBinary, Component};
pub use crate::image::ImageError;
use crate::topology::Platform;

/// Registry part of the lab's image names when none is given.
pub const DEFAULT_REGISTRY: &str = "kroll-lab.local/rhodry";

/// Serialises image builds within this process (parallel tests share the images).
static BUILD_LOCK: Mutex<()> = Mutex::const_new(());

/// `<registry>/<component>:<version>`.
pub fn tag(registry: &str, component: Component, version: &str) -> String {
    format!("{registry}/{}:{version}", component.name())
}

/// Makes sure the Java base image exists (building it on first use, from the cached
/// jlink-ed runtime) and returns its tag: Java 17 at `/opt/java/bin/java` (`JAVA_HOME` set,
/// on `PATH`), busybox `sh`, user `appuser` (uid 1000, the default user) with a passwd entry
/// and home, writable `/tmp` (1777) so hsperfdata works with the default `-XX:+UsePerfData`.
/// The runtime has the modules in [`cache::JRE_MODULES`] (no compiler: compile test
/// programs on the host).
pub async fn ensure_java_base(docker: &Docker) -> Result<String, ImageError> {
    let _serial = BUILD_LOCK.lock().await;
    base::ensure_java(docker).await?;
    Ok(JAVA_BASE_IMAGE.to_owned())
}

/// One image of a platform version, made sure of.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltImage {
    pub component: Component,
    pub tag: String,
    pub id: String,
}

/// What [`ensure_platform`] did, for the progress display and the figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageSet {
    pub version: String,
    pub images: Vec<BuiltImage>,
    pub elapsed_ms: u64,
}

/// Makes sure every component image of `platform` exists under `registry` (each rebuilt only
/// when its content changed). `broker` is the `kroll-lab-broker` binary to bake into `kafka`.
pub async fn ensure_platform(
    docker: &Docker,
    registry: &str,
    platform: &Platform,
    broker: &BrokerBinary,
) -> Result<ImageSet, ImageError> {
    let _serial = BUILD_LOCK.lock().await;
    let started = Instant::now();
    // javac runs while the base layers are made.
    let (layers, jars) = tokio::join!(base::ensure_java(docker), components::lab_jars());
    layers?;
    let jars = jars?;
    let mut images = Vec::new();
    for component in Component::ALL {
        let tag = tag(registry, component, platform.version);
        let id = components::ensure(
            docker,
            component,
            platform,
            &tag,
            &components::Inputs {
                jars: &jars,
                broker,
            },
        )
        .await?;
        images.push(BuiltImage { component, tag, id });
    }
    Ok(ImageSet {
        version: platform.version.to_owned(),
        images,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}
