//! The Swarm lab's stack file, shaped like the journal's (pure): one service per container of
//! the lab's topology, pinned to its node by `node.hostname`, images from
//! `${CI_REGISTRY_IMAGE}` (the lab's registry), the environment every broker (every Connect
//! worker) shares in an anchor merged into each service with `<<:`, an overlay network with
//! `endpoint_mode: dnsrr` (this kernel has no IPVS: virtual IPs do not route), published ports in
//! `mode: host` on each node's own address, and a shared directory for what the lab's Connect
//! workers share.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kroll_shared::inventory::ServiceKind;

use crate::topology::{ContainerSpec, LabSpec};

/// The variable the stack file's images start with, as in the journal.
pub const REGISTRY_VAR: &str = "CI_REGISTRY_IMAGE";
/// The overlay network's name in the stack (the journal's).
pub const NETWORK: &str = "rhodry";

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The environment that every service of `kind` shares (same key, same value).
fn common_env(containers: &[&ContainerSpec]) -> BTreeMap<String, String> {
    let Some((first, rest)) = containers.split_first() else {
        return BTreeMap::new();
    };
    first
        .env
        .iter()
        .filter(|(k, v)| rest.iter().all(|c| c.env.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn anchor_of(kind: ServiceKind) -> Option<&'static str> {
    match kind {
        ServiceKind::Broker => Some("kafka-envs"),
        ServiceKind::Connect => Some("connect-envs"),
        _ => None,
    }
}

/// The stack file of `spec` (its `hosts` must be per-node addresses: ports are published on
/// each node). `shared` is the directory every node sees (Connect's cluster state).
pub fn render(spec: &LabSpec, shared: &str) -> String {
    let containers = spec.containers();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# The stack of Swarm lab `{}` (written by `kroll-lab up --swarm`; deploy/lab/LAB.md).\n\
         # Shaped like the journal's: untagged images from ${{{REGISTRY_VAR}}}, one service per node,\n\
         # shared environment in anchors merged with `<<:`.\nversion: \"3.8\"\n",
        spec.name
    );
    let mut anchors: BTreeMap<ServiceKind, BTreeMap<String, String>> = BTreeMap::new();
    for kind in [ServiceKind::Broker, ServiceKind::Connect] {
        let of: Vec<&ContainerSpec> = containers.iter().filter(|c| c.kind == kind).collect();
        if of.len() < 2 {
            continue;
        }
        let common = common_env(&of);
        if let Some(name) = anchor_of(kind) {
            let _ = writeln!(s, "x-{name}: &{name}");
            for (k, v) in &common {
                let _ = writeln!(s, "  {k}: {}", q(v));
            }
            s.push('\n');
        }
        anchors.insert(kind, common);
    }
    s.push_str("services:\n");
    for c in &containers {
        service(&mut s, spec, c, anchors.get(&c.kind), shared);
    }
    let _ = writeln!(
        s,
        "networks:\n  {NETWORK}:\n    driver: overlay\n\nvolumes:"
    );
    for v in spec.volumes() {
        if !is_shared(&v, spec) {
            let _ = writeln!(s, "  {v}:\n    labels: {{kroll.lab: {}}}", q(&spec.name));
        }
    }
    s
}

/// Connect's cluster state is one directory all workers share (see LAB.md "Connect"): on a
/// Swarm it must be the same on every node.
fn is_shared(volume: &str, spec: &LabSpec) -> bool {
    volume == format!("{}-connect-cluster", spec.name)
}

fn service(
    s: &mut String,
    spec: &LabSpec,
    c: &ContainerSpec,
    anchor: Option<&BTreeMap<String, String>>,
    shared: &str,
) {
    // Untagged, as in the journal: the version is in the image (its labels), not the tag;
    // the registry's `latest` is what a deploy runs.
    let image = format!("${{{REGISTRY_VAR}}}/{}", c.component.name());
    let _ = writeln!(s, "  {}:", c.service);
    let _ = writeln!(s, "    image: {image}");
    let _ = writeln!(s, "    hostname: {}", c.service);
    s.push_str("    environment:\n");
    if let (Some(name), Some(_)) = (anchor_of(c.kind), anchor) {
        let _ = writeln!(s, "      <<: *{name}");
    }
    for (k, v) in &c.env {
        if anchor.is_some_and(|a| a.get(k) == Some(v)) {
            continue;
        }
        let _ = writeln!(s, "      {k}: {}", q(v));
    }
    s.push_str("    labels:\n");
    for (k, v) in &c.labels {
        let _ = writeln!(s, "      {k}: {}", q(v));
    }
    if !c.mounts.is_empty() {
        s.push_str("    volumes:\n");
        for m in &c.mounts {
            if is_shared(&m.volume, spec) {
                let _ = writeln!(
                    s,
                    "      - {{type: bind, source: {}, target: {}}}",
                    q(&format!("{shared}/connect-cluster")),
                    m.target
                );
            } else {
                let _ = writeln!(s, "      - {}:{}", m.volume, m.target);
            }
        }
    }
    if !c.ports.is_empty() {
        s.push_str("    ports:\n");
        for (target, published) in &c.ports {
            let _ = writeln!(
                s,
                "      - {{target: {target}, published: {published}, protocol: tcp, mode: host}}"
            );
        }
    }
    let _ = writeln!(s, "    stop_grace_period: {}s", c.stop_timeout);
    let _ = writeln!(s, "    networks: [{NETWORK}]");
    let _ = writeln!(
        s,
        "    deploy:\n      endpoint_mode: dnsrr\n      placement:\n        constraints: [node.hostname == {}]\n      restart_policy:\n        condition: any\n        delay: 2s\n",
        c.node
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Hosts, Ports, Services};

    fn spec() -> LabSpec {
        let mut s =
            LabSpec::new("sw", "7.1.1", "r", Ports::default_lab(), Services::Full).expect("spec");
        s.hosts = Hosts::Nodes {
            subnet: [10, 199, 3],
        };
        s
    }

    #[test]
    fn every_container_is_a_service_pinned_to_its_node_with_its_whole_environment() {
        let spec = spec();
        let text = render(&spec, "/shared");
        for c in spec.containers() {
            let at = text
                .find(&format!("\n  {}:\n", c.service))
                .unwrap_or_else(|| panic!("service {} missing:\n{text}", c.service));
            // The service's block: up to the next line indented by exactly two spaces.
            let block = &text[at + 1..];
            let end = block
                .match_indices("\n  ")
                .find(|(i, _)| !block[i + 3..].starts_with(' '))
                .map_or(block.len(), |(i, _)| i);
            let block = &block[..end];
            assert!(
                block.contains(&format!("node.hostname == {}", c.node)),
                "{block}"
            );
            // Every variable is either in the service's block or in the anchor it merges.
            for (k, v) in &c.env {
                let line = format!("{k}: {}", q(v));
                assert!(
                    block.contains(&line) || (block.contains("<<: *") && text.contains(&line)),
                    "{} lacks {line}",
                    c.service
                );
            }
        }
    }

    #[test]
    fn brokers_advertise_their_nodes_address_and_share_an_anchor() {
        let text = render(&spec(), "/shared");
        assert!(text.contains("x-kafka-envs: &kafka-envs"), "{text}");
        assert!(text.contains("KAFKA_MIN_INSYNC_REPLICAS: \"2\""), "{text}");
        assert!(
            text.contains("PLAINTEXT_EXT://10.199.3.13:27093"),
            "broker 3 advertises node 3's address: {text}"
        );
        assert!(
            text.contains("image: ${CI_REGISTRY_IMAGE}/kafka\n"),
            "{text}"
        );
        assert!(text.contains("source: \"/shared/connect-cluster\""));
        assert!(!text.contains("sw-connect-cluster:"), "{text}");
    }

    #[test]
    fn quoting_keeps_values_whole() {
        assert_eq!(q(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
