//! The managed containers: listed, filtered by the allowlist, inspected, and cleaned of
//! anything that must not leave the node (secret environment values, unrelated labels).

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use kroll_shared::model::{Container, Disk, VERSION_LABELS};

use crate::allow::Allowlist;
use crate::collect::disk;
use crate::config::split_env;
use crate::runtime::{ContainerRuntime, Inspected, RuntimeError};

/// Label namespaces that are reported: kroll's own and Compose / Swarm identity.
const REPORTED_LABEL_PREFIXES: [&str; 4] = [
    "kroll.",
    "com.docker.compose.",
    "com.docker.stack.",
    "com.docker.swarm.",
];

/// Lists and inspects every managed container (inspections run concurrently). A container
/// removed between list and inspect is skipped.
pub async fn managed<R: ContainerRuntime>(
    rt: &R,
    allow: &Allowlist,
    report_env: &BTreeSet<String>,
) -> Result<Vec<Container>, RuntimeError> {
    let list = rt.list().await?;
    // Kept previous definitions and new ones not yet in place are not services.
    let wanted = list
        .iter()
        .filter(|s| allow.allows(&s.name, &s.labels) && crate::kept::service_of(&s.name).is_none());
    let inspections = join_all(wanted.map(|s| rt.inspect(&s.id))).await;
    let mut out = Vec::new();
    for result in inspections {
        match result {
            Ok(i) => out.push(reportable(i, report_env)),
            Err(RuntimeError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The container as it may be reported: env values only for non-secret planning keys, labels
/// only from the reported namespaces.
pub fn reportable(i: Inspected, report_env: &BTreeSet<String>) -> Container {
    let (env_keys, env) = split_env(&i.raw_env, report_env);
    let mut c = i.container;
    c.labels = reported_labels(&c.labels);
    c.env_keys = env_keys;
    c.env = env;
    c
}

/// Host paths holding the containers' data (bind sources and volume paths).
pub fn data_paths(containers: &[Container]) -> Vec<String> {
    containers
        .iter()
        .flat_map(|c| c.mounts.iter())
        .filter(|m| m.kind == "bind" || m.kind == "volume")
        .map(|m| m.source.clone())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Fills each mount's `host_mount_point` from the disks.
pub fn place_mounts(containers: &mut [Container], disks: &[Disk]) {
    for m in containers.iter_mut().flat_map(|c| c.mounts.iter_mut()) {
        if let Some(d) = disk::holder(disks, &m.source) {
            m.host_mount_point = d.mount_point.clone();
        }
    }
}

/// Labels of a container as reported: the namespaces above and the image's version labels
/// ([`VERSION_LABELS`]; a container carries its image's labels).
pub fn reported_labels(all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| {
            REPORTED_LABEL_PREFIXES.iter().any(|p| k.starts_with(p))
                || VERSION_LABELS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
