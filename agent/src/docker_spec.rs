//! The definition of a recreated container, derived from the one it replaces (pure; Docker's
//! own types).
//!
//! "Everything else preserved exactly" has traps, each handled here and unit-tested:
//! - `Config.Env`, `Labels`, `Cmd`, `Entrypoint`, `Healthcheck`, `WorkingDir`, `User`,
//!   `StopSignal`, `Volumes` and `ExposedPorts` of an inspected container include what its
//!   *image* set. Carried over verbatim they would pin the old image's values (its
//!   `CONFLUENT_VERSION`, its `PATH`, its start command) onto the new image. Only what differs
//!   from the old image's defaults is kept; the new image supplies its own defaults.
//! - Anonymous volumes (an image's `VOLUME`, e.g. the broker's data dir) are not in
//!   `HostConfig.Binds`; a new container would get fresh, empty ones. They are bound by name.
//! - A hostname Docker generated (the container id's first 12 characters) is not carried over.
//! - Docker's automatic network alias (the short id) is dropped; only one network can be given
//!   at create time on API 1.41, the others are connected after.

use std::collections::{HashMap, HashSet};

use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, EndpointSettings, ImageConfig,
    ImageInspect, NetworkingConfig,
};
use kroll_shared::model::EnvPatch;

/// The new container: its create body and the networks to connect after creating it.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub body: ContainerCreateBody,
    pub extra_networks: Vec<(String, EndpointSettings)>,
}

/// What the new container changes.
#[derive(Debug, Clone, Copy)]
pub struct Changes<'a> {
    pub image: &'a str,
    pub env: &'a EnvPatch,
    pub hostname: Option<&'a str>,
}

/// Derives the new container from the old one, the old image and the requested changes.
pub fn derive(
    old: &ContainerInspectResponse,
    old_image: &ImageInspect,
    ch: Changes<'_>,
) -> Derived {
    let cfg = old.config.clone().unwrap_or_default();
    let img = old_image.config.clone().unwrap_or_default();
    let id = old.id.clone().unwrap_or_default();
    let short_id: String = id.chars().take(12).collect();
    let user_env: Vec<String> = cfg
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !img.env.as_ref().is_some_and(|i| i.contains(e)))
        .collect();
    let mut host_config = old.host_config.clone().unwrap_or_default();
    bind_anonymous_volumes(old, &mut host_config);
    let (networking_config, extra_networks) = networks(old, &short_id);
    let body = ContainerCreateBody {
        hostname: match ch.hostname {
            Some(h) => Some(h.to_owned()),
            None => cfg
                .hostname
                .clone()
                .filter(|h| *h != short_id && !h.is_empty()),
        },
        domainname: cfg.domainname.clone().filter(|d| !d.is_empty()),
        user: unless_image(&cfg.user, &img.user),
        exposed_ports: user_ports(&cfg, &img),
        tty: cfg.tty,
        open_stdin: cfg.open_stdin,
        stdin_once: cfg.stdin_once,
        env: Some(ch.env.apply(&user_env)),
        cmd: unless_image(&cfg.cmd, &img.cmd),
        healthcheck: unless_image(&cfg.healthcheck, &img.healthcheck),
        image: Some(ch.image.to_owned()),
        volumes: user_volumes(&cfg, &img),
        working_dir: unless_image(&cfg.working_dir, &img.working_dir),
        entrypoint: unless_image(&cfg.entrypoint, &img.entrypoint),
        labels: Some(user_labels(&cfg, &img)),
        stop_signal: unless_image(&cfg.stop_signal, &img.stop_signal),
        stop_timeout: cfg.stop_timeout,
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    };
    Derived {
        body,
        extra_networks,
    }
}

/// The container's value when it differs from the image's default, else `None` (so the new
/// image's default applies).
fn unless_image<T: PartialEq + Clone>(container: &Option<T>, image: &Option<T>) -> Option<T> {
    match (container, image) {
        (Some(c), Some(i)) if c == i => None,
        (c, _) => c.clone(),
    }
}

fn user_labels(cfg: &ContainerConfig, img: &ImageConfig) -> HashMap<String, String> {
    let image_labels = img.labels.clone().unwrap_or_default();
    cfg.labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| image_labels.get(k) != Some(v))
        .collect()
}

fn user_ports(cfg: &ContainerConfig, img: &ImageConfig) -> Option<Vec<String>> {
    let image_ports: HashSet<String> = img
        .exposed_ports
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let ports: Vec<String> = cfg
        .exposed_ports
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !image_ports.contains(p))
        .collect();
    (!ports.is_empty()).then_some(ports)
}

fn user_volumes(cfg: &ContainerConfig, img: &ImageConfig) -> Option<Vec<String>> {
    let image_vols: HashSet<String> = img
        .volumes
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let vols: Vec<String> = cfg
        .volumes
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !image_vols.contains(v))
        .collect();
    (!vols.is_empty()).then_some(vols)
}

/// Binds every volume mount not already given by `Binds` or `Mounts` (anonymous volumes) by
/// name, so the new container uses the same data.
fn bind_anonymous_volumes(old: &ContainerInspectResponse, hc: &mut bollard::models::HostConfig) {
    let binds = hc.binds.get_or_insert_with(Vec::new);
    let explicit_targets: HashSet<String> = binds
        .iter()
        .filter_map(|b| b.split(':').nth(1).map(str::to_owned))
        .chain(hc.mounts.iter().flatten().filter_map(|m| m.target.clone()))
        .collect();
    for m in old.mounts.iter().flatten() {
        let (Some(name), Some(dest)) = (&m.name, &m.destination) else {
            continue;
        };
        if m.typ.as_deref() != Some("volume") || explicit_targets.contains(dest) {
            continue;
        }
        let mode = if m.rw == Some(false) { ":ro" } else { "" };
        binds.push(format!("{name}:{dest}{mode}"));
    }
    if binds.is_empty() {
        hc.binds = None;
    }
}

type Networks = (Option<NetworkingConfig>, Vec<(String, EndpointSettings)>);

/// The primary network (from `HostConfig.NetworkMode`) for create, the rest to connect after;
/// each with its aliases (minus Docker's automatic short-id alias), links and static IPs.
fn networks(old: &ContainerInspectResponse, short_id: &str) -> Networks {
    let mode = old
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .unwrap_or_default();
    let attached = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default();
    let mut primary = None;
    let mut extra = Vec::new();
    let mut names: Vec<&String> = attached.keys().collect();
    names.sort();
    for name in names {
        let e = &attached[name];
        let settings = EndpointSettings {
            aliases: e
                .aliases
                .clone()
                .map(|a| a.into_iter().filter(|x| x != short_id).collect::<Vec<_>>())
                .filter(|a| !a.is_empty()),
            links: e.links.clone(),
            ipam_config: e.ipam_config.clone(),
            driver_opts: e.driver_opts.clone(),
            ..Default::default()
        };
        if *name == mode || (mode == "default" && name == "bridge") {
            primary = Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(name.clone(), settings)])),
            });
        } else if !matches!(name.as_str(), "host" | "none") {
            extra.push((name.clone(), settings));
        }
    }
    (primary, extra)
}

#[cfg(test)]
mod tests {
    use bollard::models::{
        HostConfig, MountPoint, NetworkSettings, RestartPolicy, RestartPolicyNameEnum,
    };

    use super::*;

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| (*s).to_owned()).collect())
    }

    fn old_image() -> ImageInspect {
        ImageInspect {
            config: Some(ImageConfig {
                env: strings(&["PATH=/usr/bin", "CONFLUENT_VERSION=7.1.1"]),
                cmd: strings(&["/etc/confluent/docker/run"]),
                entrypoint: None,
                labels: Some(HashMap::from([(
                    "io.confluent.version".into(),
                    "7.1.1".into(),
                )])),
                volumes: strings(&["/var/lib/kafka/data"]),
                exposed_ports: strings(&["9092/tcp"]),
                user: Some("appuser".into()),
                working_dir: Some("/home/appuser".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn old_container() -> ContainerInspectResponse {
        let id = "0123456789abcdef0123";
        ContainerInspectResponse {
            id: Some(id.into()),
            name: Some("/kafka-01".into()),
            config: Some(ContainerConfig {
                hostname: Some("kafka-01".into()),
                env: strings(&[
                    "PATH=/usr/bin",
                    "CONFLUENT_VERSION=7.1.1",
                    "KAFKA_BROKER_ID=1",
                ]),
                cmd: strings(&["/etc/confluent/docker/run"]),
                labels: Some(HashMap::from([
                    ("io.confluent.version".into(), "7.1.1".into()),
                    ("kroll.node".into(), "rhodrylab-01".into()),
                ])),
                volumes: strings(&["/var/lib/kafka/data"]),
                exposed_ports: strings(&["9092/tcp", "29091/tcp"]),
                user: Some("appuser".into()),
                working_dir: Some("/home/appuser".into()),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                binds: strings(&["/data/kafka-logs:/logs"]),
                network_mode: Some("rhodry".into()),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                memory: Some(1 << 30),
                ..Default::default()
            }),
            mounts: Some(vec![
                MountPoint {
                    typ: Some("volume".into()),
                    name: Some("3f2a9c".into()),
                    destination: Some("/var/lib/kafka/data".into()),
                    rw: Some(true),
                    ..Default::default()
                },
                MountPoint {
                    typ: Some("bind".into()),
                    source: Some("/data/kafka-logs".into()),
                    destination: Some("/logs".into()),
                    rw: Some(true),
                    ..Default::default()
                },
            ]),
            network_settings: Some(NetworkSettings {
                networks: Some(HashMap::from([
                    (
                        "rhodry".into(),
                        EndpointSettings {
                            aliases: strings(&["kafka-01", "0123456789ab"]),
                            ..Default::default()
                        },
                    ),
                    (
                        "monitoring".into(),
                        EndpointSettings {
                            aliases: strings(&["kafka-01-jmx"]),
                            ..Default::default()
                        },
                    ),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn derive_with(patch: &EnvPatch, hostname: Option<&str>) -> Derived {
        derive(
            &old_container(),
            &old_image(),
            Changes {
                image: "reg/kafka:7.7.1",
                env: patch,
                hostname,
            },
        )
    }

    #[test]
    fn image_defaults_are_left_to_the_new_image() {
        let d = derive_with(
            &EnvPatch::setting("KAFKA_INTER_BROKER_PROTOCOL_VERSION", "3.1"),
            None,
        );
        let b = &d.body;
        assert_eq!(b.image.as_deref(), Some("reg/kafka:7.7.1"));
        assert_eq!(
            b.env.clone().unwrap_or_default(),
            [
                "KAFKA_BROKER_ID=1",
                "KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1"
            ],
            "the old image's PATH and CONFLUENT_VERSION must not be pinned"
        );
        assert_eq!(b.cmd, None);
        assert_eq!(b.user, None);
        assert_eq!(b.working_dir, None);
        assert_eq!(b.volumes, None);
        assert_eq!(b.exposed_ports, strings(&["29091/tcp"]));
        let labels = b.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("kroll.node").map(String::as_str),
            Some("rhodrylab-01")
        );
        assert!(!labels.contains_key("io.confluent.version"));
    }

    #[test]
    fn volumes_including_anonymous_ones_restart_policy_and_resources_are_kept() {
        let d = derive_with(&EnvPatch::default(), None);
        let hc = d.body.host_config.clone().unwrap_or_default();
        assert_eq!(
            hc.binds,
            strings(&["/data/kafka-logs:/logs", "3f2a9c:/var/lib/kafka/data"])
        );
        assert_eq!(hc.memory, Some(1 << 30));
        assert_eq!(
            hc.restart_policy.and_then(|r| r.name),
            Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
        assert_eq!(d.body.hostname.as_deref(), Some("kafka-01"));
    }

    #[test]
    fn networks_keep_aliases_without_the_short_id_and_extra_ones_are_connected_after() {
        let d = derive_with(&EnvPatch::default(), None);
        let primary = d
            .body
            .networking_config
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default();
        assert_eq!(primary.len(), 1);
        assert_eq!(primary["rhodry"].aliases, strings(&["kafka-01"]));
        assert_eq!(d.extra_networks.len(), 1);
        assert_eq!(d.extra_networks[0].0, "monitoring");
        assert_eq!(d.extra_networks[0].1.aliases, strings(&["kafka-01-jmx"]));
    }

    #[test]
    fn generated_hostnames_are_dropped_and_requested_ones_set() {
        let mut old = old_container();
        if let Some(c) = old.config.as_mut() {
            c.hostname = Some("0123456789ab".into());
        }
        let patch = EnvPatch::default();
        let d = derive(
            &old,
            &old_image(),
            Changes {
                image: "x",
                env: &patch,
                hostname: None,
            },
        );
        assert_eq!(d.body.hostname, None);
        let d = derive(
            &old,
            &old_image(),
            Changes {
                image: "x",
                env: &patch,
                hostname: Some("connect-01"),
            },
        );
        assert_eq!(d.body.hostname.as_deref(), Some("connect-01"));
    }

    #[test]
    fn a_command_the_operator_set_is_kept() {
        let mut old = old_container();
        if let Some(c) = old.config.as_mut() {
            c.cmd = strings(&["kroll-labbox", "--ignore-sigterm"]);
        }
        let patch = EnvPatch::default();
        let d = derive(
            &old,
            &old_image(),
            Changes {
                image: "x",
                env: &patch,
                hostname: None,
            },
        );
        assert_eq!(d.body.cmd, strings(&["kroll-labbox", "--ignore-sigterm"]));
    }
}
