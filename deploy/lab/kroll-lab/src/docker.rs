//! The lab's Docker objects: its network, volumes and containers, created from a
//! [`LabSpec`] / [`ContainerSpec`], found and removed by label.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, ListVolumesOptions,
    RemoveContainerOptions, RemoveVolumeOptions,
};

use super::LabError;
use super::topology::{ContainerSpec, LAB_LABEL, LabSpec};

/// Network label naming the lab's directory, so `lab down --name` finds its state.
pub const DIR_LABEL: &str = "kroll.lab.dir";

/// What [`ensure_container`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Started,
    Running,
}

/// The Docker engine, with the API version negotiated (the machine's engine answers 1.41).
pub async fn connect() -> Result<Docker, LabError> {
    let d = Docker::connect_with_local_defaults().map_err(|e| LabError::docker("connecting", e))?;
    d.negotiate_version()
        .await
        .map_err(|e| LabError::docker("reaching the Docker engine (is it running?)", e))
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn is_conflict(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

/// Creates the lab's network and volumes unless they exist.
pub async fn ensure_network_and_volumes(
    docker: &Docker,
    spec: &LabSpec,
    dir: &str,
) -> Result<(), LabError> {
    let network = spec.network();
    if docker
        .inspect_network(
            &network,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .is_err()
    {
        let mut labels: HashMap<String, String> = spec.labels().into_iter().collect();
        labels.insert(DIR_LABEL.to_owned(), dir.to_owned());
        let req = NetworkCreateRequest {
            name: network.clone(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ..Default::default()
        };
        if let Err(e) = docker.create_network(req).await
            && !is_conflict(&e)
        {
            return Err(LabError::docker(format!("creating network {network}"), e));
        }
    }
    for volume in spec.volumes() {
        let req = VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(spec.labels().into_iter().collect()),
            ..Default::default()
        };
        docker
            .create_volume(req)
            .await
            .map_err(|e| LabError::docker(format!("creating volume {volume}"), e))?;
    }
    Ok(())
}

/// The create body of a container spec on `network`.
pub fn create_body(c: &ContainerSpec, network: &str) -> ContainerCreateBody {
    let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = c
        .ports
        .iter()
        .map(|(inside, host)| {
            (
                format!("{inside}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(host.to_string()),
                }]),
            )
        })
        .collect();
    let volumes = c.mounts.iter().map(|m| Mount {
        target: Some(m.target.clone()),
        source: Some(m.volume.clone()),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    });
    // A bind mount of a missing source fails the create (a `Binds` entry would make a
    // directory of it instead).
    let files = c.files.iter().map(|f| Mount {
        target: Some(f.target.clone()),
        source: Some(f.source.to_string_lossy().into_owned()),
        typ: Some(MountType::BIND),
        read_only: Some(true),
        ..Default::default()
    });
    let mounts = volumes.chain(files).collect();
    let endpoint = EndpointSettings {
        aliases: Some(vec![c.service.clone()]),
        ..Default::default()
    };
    ContainerCreateBody {
        hostname: Some(c.service.clone()),
        image: Some(c.image.clone()),
        env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(c.labels.clone().into_iter().collect()),
        exposed_ports: Some(c.ports.iter().map(|(p, _)| format!("{p}/tcp")).collect()),
        stop_timeout: Some(c.stop_timeout),
        host_config: Some(HostConfig {
            network_mode: Some(network.to_owned()),
            port_bindings: Some(port_bindings),
            mounts: Some(mounts),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network.to_owned(), endpoint)])),
        }),
        ..Default::default()
    }
}

/// Creates and starts `c` unless it exists; starts it if it exists but is not running. An
/// existing container is kept as it is (it may have been upgraded on purpose).
pub async fn ensure_container(
    docker: &Docker,
    c: &ContainerSpec,
    network: &str,
) -> Result<Outcome, LabError> {
    let outcome = match docker
        .inspect_container(
            &c.name,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
    {
        Ok(found) => {
            if found.state.and_then(|s| s.running).unwrap_or(false) {
                return Ok(Outcome::Running);
            }
            Outcome::Started
        }
        Err(e) if is_not_found(&e) => {
            create(docker, c, network).await?;
            Outcome::Created
        }
        Err(e) => return Err(LabError::docker(format!("inspecting {}", c.name), e)),
    };
    docker
        .start_container(
            &c.name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(|e| LabError::docker(format!("starting {}", c.name), e))?;
    Ok(outcome)
}

/// Creates (not starts) `c`.
pub async fn create(docker: &Docker, c: &ContainerSpec, network: &str) -> Result<(), LabError> {
    let opts = CreateContainerOptions {
        name: Some(c.name.clone()),
        ..Default::default()
    };
    docker
        .create_container(Some(opts), create_body(c, network))
        .await
        .map_err(|e| LabError::docker(format!("creating container {}", c.name), e))?;
    Ok(())
}

/// Removes container `name` (forced, with its anonymous volumes); absent is fine.
pub async fn remove_container(docker: &Docker, name: &str) -> Result<(), LabError> {
    let opts = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker.remove_container(name, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(LabError::docker(format!("removing container {name}"), e)),
    }
}

/// Replaces container `c.name` with a new one from `c` (same name, new image/env) and starts
/// it — how tests put a container of another version in place.
pub async fn recreate(docker: &Docker, c: &ContainerSpec, network: &str) -> Result<(), LabError> {
    remove_container(docker, &c.name).await?;
    create(docker, c, network).await?;
    docker
        .start_container(
            &c.name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(|e| LabError::docker(format!("starting {}", c.name), e))
}

fn lab_filter(lab: &str) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([(
        "label".to_owned(),
        vec![format!("{LAB_LABEL}={lab}")],
    )]))
}

/// What `lab_listing` found: the lab's containers (running or not) and the anonymous volumes
/// mounted in them.
#[derive(Debug, Default)]
pub struct LabListing {
    pub containers: Vec<String>,
    /// Anonymous volumes (64-hex names, made by an image's `VOLUME` and carried over by the
    /// agent's recreate, which binds them by name so data survives): they carry no label, so
    /// only the containers say they belong to the lab.
    pub anonymous_volumes: Vec<String>,
}

/// Every container labelled with `lab` and the anonymous volumes they mount, in one listing.
pub async fn lab_listing(docker: &Docker, lab: &str) -> Result<LabListing, LabError> {
    let opts = ListContainersOptions {
        all: true,
        filters: lab_filter(lab),
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| LabError::docker("listing containers", e))?;
    let mut out = LabListing::default();
    for c in list {
        if let Some(name) = c.names.and_then(|n| n.into_iter().next()) {
            out.containers.push(name.trim_start_matches('/').to_owned());
        }
        out.anonymous_volumes.extend(
            c.mounts
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.name)
                .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())),
        );
    }
    out.anonymous_volumes.sort();
    out.anonymous_volumes.dedup();
    Ok(out)
}

/// Names of every container labelled with `lab` (running or not).
pub async fn lab_containers(docker: &Docker, lab: &str) -> Result<Vec<String>, LabError> {
    Ok(lab_listing(docker, lab).await?.containers)
}

/// `(name, labels)` of every network labelled with `lab`.
pub async fn lab_networks(
    docker: &Docker,
    lab: &str,
) -> Result<Vec<(String, HashMap<String, String>)>, LabError> {
    let opts = ListNetworksOptions {
        filters: lab_filter(lab),
    };
    let list = docker
        .list_networks(Some(opts))
        .await
        .map_err(|e| LabError::docker("listing networks", e))?;
    Ok(list
        .into_iter()
        .filter_map(|n| Some((n.name?, n.labels.unwrap_or_default())))
        .collect())
}

/// Names of every volume labelled with `lab`.
pub async fn lab_volumes(docker: &Docker, lab: &str) -> Result<Vec<String>, LabError> {
    let opts = ListVolumesOptions {
        filters: lab_filter(lab),
    };
    let list = docker
        .list_volumes(Some(opts))
        .await
        .map_err(|e| LabError::docker("listing volumes", e))?;
    Ok(list
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect())
}

/// Removes a network; absent is fine.
pub async fn remove_network(docker: &Docker, name: &str) -> Result<(), LabError> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(LabError::docker(format!("removing network {name}"), e)),
    }
}

/// Removes a volume; absent is fine.
pub async fn remove_volume(docker: &Docker, name: &str) -> Result<(), LabError> {
    match docker
        .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(LabError::docker(format!("removing volume {name}"), e)),
    }
}
