//! One image per lab component and platform version: ZooKeeper (Debian's jars), Kafka (the
//! `kroll-lab-broker` binary) and the JVM services (`deploy/lab/java`).
//!
//! Each is its base layer (`base` for Kafka, `java-base` for the rest) plus one layer of its
//! files and version, made without a Dockerfile build ([`image::ensure_layer`]).

use std::path::{Path, PathBuf};

use bollard::Docker;

use super::base::{BASE_IMAGE, JAVA_BASE_IMAGE, join_err};
use super::cache;
use crate::image::{self, Context, ImageError, io_err};
use crate::topology::Platform;

/// The components of a platform version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    Zookeeper,
    Kafka,
    Connect,
    SchemaRegistry,
    Rest,
    Kafdrop,
}

impl Component {
    pub const ALL: [Component; 6] = [
        Self::Zookeeper,
        Self::Kafka,
        Self::Connect,
        Self::SchemaRegistry,
        Self::Rest,
        Self::Kafdrop,
    ];

    /// The image name part (`schema-registry`, `rest`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Zookeeper => "zookeeper",
            Self::Kafka => "kafka",
            Self::Connect => "connect",
            Self::SchemaRegistry => "schema-registry",
            Self::Rest => "rest",
            Self::Kafdrop => "kafdrop",
        }
    }

    /// The JVM service's jar and entrypoint (`None` for ZooKeeper and Kafka).
    fn jvm_service(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Connect => Some(("lab-connect.jar", "connect.sh")),
            Self::SchemaRegistry => Some(("lab-schema-registry.jar", "schema-registry.sh")),
            Self::Rest => Some(("lab-rest.jar", "rest.sh")),
            Self::Kafdrop => Some(("lab-kafdrop.jar", "kafdrop.sh")),
            Self::Zookeeper | Self::Kafka => None,
        }
    }

    /// Directories the service writes that must belong to `appuser` (volumes copy the
    /// image directory's ownership).
    fn owned_dirs(self) -> &'static [&'static str] {
        match self {
            Self::Zookeeper => &["/data", "/datalog", "/conf", "/logs"],
            Self::Kafka => &["/var/lib/kafka/data"],
            Self::Connect => &["/var/lib/connect-cluster"],
            Self::SchemaRegistry => &["/var/lib/schema-registry"],
            Self::Rest | Self::Kafdrop => &[],
        }
    }
}

/// The `kroll-lab-broker` executable baked into the `kafka` images.
#[derive(Debug, Clone)]
pub struct BrokerBinary {
    pub path: PathBuf,
}

impl BrokerBinary {
    /// The broker built beside the running `kroll-lab` (or test) executable.
    pub fn beside_this_executable() -> Result<Self, ImageError> {
        crate::sibling_binary("kroll-lab-broker")
            .map(|path| Self { path })
            .ok_or_else(|| ImageError::Missing {
                what: "the kroll-lab-broker binary beside kroll-lab".into(),
                hint: "build the workspace: cargo build --workspace --bins".into(),
            })
    }
}

/// What the component images are made of.
#[derive(Debug)]
pub(super) struct Inputs<'a> {
    pub jars: &'a Path,
    pub broker: &'a BrokerBinary,
}

/// The JVM services' jars, from the cache (built on first use).
pub(super) async fn lab_jars() -> Result<PathBuf, ImageError> {
    let src = crate::source_dir().join("java");
    tokio::task::spawn_blocking(move || cache::lab_jars(&src))
        .await
        .map_err(|e| join_err("lab jars", e))?
}

/// Builds (if changed) `tag`, the image of `component` at `platform`: its base layer plus one
/// layer of its files, made without a Dockerfile build ([`image::ensure_layer`]).
pub(super) async fn ensure(
    docker: &Docker,
    component: Component,
    platform: &Platform,
    tag: &str,
    inputs: &Inputs<'_>,
) -> Result<String, ImageError> {
    let from = match component {
        Component::Kafka => BASE_IMAGE,
        _ => JAVA_BASE_IMAGE,
    };
    let ctx = {
        let (jars, broker) = (inputs.jars.to_owned(), inputs.broker.clone());
        let platform = platform.clone();
        tokio::task::spawn_blocking(move || context(component, &platform, &jars, &broker))
            .await
            .map_err(|e| join_err(tag, e))??
    };
    let config = config(component, platform);
    image::ensure_layer(docker, from, tag, &ctx.hash(), &config, move || Ok(ctx)).await
}

/// The component's files at `platform`, under `rootfs/`: its programs, the directories its
/// service writes (owned by `appuser`) and the version files its processes read.
fn context(
    component: Component,
    platform: &Platform,
    jars: &Path,
    broker: &BrokerBinary,
) -> Result<Context, ImageError> {
    let mut ctx = Context::new();
    match component {
        Component::Kafka => {
            let stripped = stripped_broker(&broker.path)?;
            ctx.add_binary("/usr/bin/kroll-lab-broker", &stripped)?;
        }
        Component::Zookeeper => zookeeper_files(&mut ctx)?,
        _ => {
            let (jar, entry) = component.jvm_service().unwrap_or_default();
            let entries = crate::source_dir().join("java/entrypoints");
            ctx.add_file(&format!("rootfs/opt/lab/lib/{jar}"), &jars.join(jar))?;
            ctx.add_file(&format!("rootfs/opt/lab/bin/{entry}"), &entries.join(entry))?;
            ctx.add_file("rootfs/opt/lab/bin/lib.sh", &entries.join("lib.sh"))?;
        }
    }
    for dir in component.owned_dirs() {
        ctx.add_owned_dir(&format!("rootfs{dir}"), 0o755, APPUSER);
    }
    let version = |v: &str| format!("{v}\n");
    ctx.add_bytes("rootfs/opt/lab/VERSION", version(platform.version), 0o644);
    ctx.add_bytes(
        "rootfs/opt/lab/KAFKA_VERSION",
        version(platform.kafka),
        0o644,
    );
    Ok(ctx)
}

/// `appuser`, the services' user (the base layer's `/etc/passwd`).
const APPUSER: u32 = 1000;

/// The component's settings at `platform`.
fn config(component: Component, platform: &Platform) -> Vec<String> {
    let entrypoint = match component {
        Component::Kafka => "/usr/bin/kroll-lab-broker".to_owned(),
        Component::Zookeeper => "/opt/lab/bin/zookeeper.sh".to_owned(),
        _ => format!(
            "/opt/lab/bin/{}",
            component.jvm_service().unwrap_or_default().1
        ),
    };
    let mut labels = format!(
        "LABEL kroll.lab.image={component} kroll.lab.version={version}",
        component = component.name(),
        version = platform.version,
    );
    // Confluent's images say what they are in labels (`io.confluent.docker`, `release`):
    // kroll reads a platform version there when the tag does not carry it.
    if component != Component::Kafdrop {
        labels.push_str(&format!(
            " io.confluent.docker=true release={}",
            platform.version
        ));
    }
    let mut config = vec![
        format!(
            "ENV CONFLUENT_VERSION={} COMPONENT={}",
            platform.version,
            component.name()
        ),
        labels,
    ];
    match component {
        Component::Zookeeper => config.push(r#"VOLUME ["/data", "/datalog", "/logs"]"#.into()),
        Component::Kafka => config.push(r#"VOLUME ["/var/lib/kafka/data"]"#.into()),
        _ => {}
    }
    config.extend([
        "USER appuser".to_owned(),
        "WORKDIR /home/appuser".to_owned(),
        format!(r#"ENTRYPOINT ["{entrypoint}"]"#),
    ]);
    config
}

/// Jars of Debian's ZooKeeper 3.8 server (the admin server's jetty/jackson are left out:
/// the lab runs with `admin.enableServer=false`), plus slf4j-simple for console logging.
const ZOOKEEPER_JARS: &[&str] = &[
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-simple.jar",
    "commons-cli.jar",
    "commons-io.jar",
    "metrics-core.jar",
    "snappy-java.jar",
    "netty-buffer.jar",
    "netty-codec.jar",
    "netty-common.jar",
    "netty-handler.jar",
    "netty-resolver.jar",
    "netty-transport.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
];

const SIMPLELOGGER: &str = "org.slf4j.simpleLogger.logFile=System.out\n\
org.slf4j.simpleLogger.defaultLogLevel=info\n\
org.slf4j.simpleLogger.showDateTime=true\n\
org.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS\n\
org.slf4j.simpleLogger.showShortLogName=true\n";

fn zookeeper_files(ctx: &mut Context) -> Result<(), ImageError> {
    let share = Path::new("/usr/share/java");
    for jar in ZOOKEEPER_JARS {
        let host = share.join(jar);
        if !host.is_file() {
            return Err(ImageError::Missing {
                what: host.display().to_string(),
                hint: "apt-get install zookeeper libslf4j-java (Debian's ZooKeeper 3.8)".into(),
            });
        }
        ctx.add_file(&format!("rootfs/opt/zookeeper/lib/{jar}"), &host)?;
    }
    let real = std::fs::canonicalize(share.join("zookeeper.jar"))
        .map_err(io_err(&share.join("zookeeper.jar")))?;
    let zk_version = real
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("zookeeper-"))
        .unwrap_or("3.8")
        .to_owned();
    ctx.add_bytes(
        "rootfs/opt/zookeeper/ZOOKEEPER_VERSION",
        format!("{zk_version}\n"),
        0o644,
    );
    ctx.add_bytes(
        "rootfs/opt/zookeeper/conf/simplelogger.properties",
        SIMPLELOGGER,
        0o644,
    );
    let entry = crate::source_dir().join("zookeeper/zookeeper.sh");
    ctx.add_file("rootfs/opt/lab/bin/zookeeper.sh", &entry)?;
    Ok(())
}

/// The broker without debug info (a debug build is ~90 MB, stripped ~15 MB), cached by the
/// binary's path, size and modification time; the original when `strip` is not installed.
fn stripped_broker(binary: &Path) -> Result<PathBuf, ImageError> {
    let meta = std::fs::metadata(binary).map_err(io_err(binary))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key = cache::digest([
        binary.to_string_lossy().as_bytes(),
        &meta.len().to_le_bytes(),
        &mtime.to_le_bytes(),
    ]);
    let dir = cache::cache_dir().join(format!("broker-{key}"));
    let out = dir.join("kroll-lab-broker");
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let tmp = dir.join(format!(".strip.{}", std::process::id()));
    let ok = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&tmp)
        .arg(binary)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let _ = std::fs::remove_file(&tmp);
        return Ok(binary.to_owned());
    }
    std::fs::rename(&tmp, &out).map_err(io_err(&out))?;
    Ok(out)
}
