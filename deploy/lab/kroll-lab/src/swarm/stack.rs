//! The Swarm lab's stack file, shaped like the journal's (pure): one service per container of
//! the lab's topology, pinned to its node by `node.hostname`, images from
//! `${CI_REGISTRY_IMAGE}` (the lab's registry), the environment every broker (every Connect
//! worker) shares in an anchor merged into each service with `<<:`, an overlay network with
//! `endpoint_mode: dnsrr` (this kernel has no IPVS: virtual IPs do not route), published ports in
//! `mode: host` on each node's own address, and a shared directory for what the lab's Connect
//! workers share. A file a container mounts under `/run/secrets/` (a SASL lab's JAAS file) is
//! a Swarm secret, as in the journal: made by `lab up` before the deploy, `external` here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use kroll_shared::inventory::ServiceKind;

use crate::topology::{ContainerSpec, FileMount, JAAS_TARGET, LabSpec};

/// The variable the stack file's images start with, as in the journal.
pub const REGISTRY_VAR: &str = "CI_REGISTRY_IMAGE";
/// The overlay network's name in the stack (the journal's).
pub const NETWORK: &str = "rhodry";

/// Where Swarm puts a service's secrets (`target: NAME` appears as `/run/secrets/NAME`).
const SECRETS_DIR: &str = "/run/secrets/";

/// The Swarm secret (external to the stack, as the journal's `KAFKA_JAAS_PRODMIGRATION`) that
/// holds what lab `spec`'s containers see at `/run/secrets/<target>`.
pub fn secret_name(spec: &LabSpec, target: &str) -> String {
    format!("{target}_{}", spec.name.to_uppercase().replace('-', "_"))
}

/// The secret holding a SASL lab's JAAS file.
pub fn jaas_secret(spec: &LabSpec) -> String {
    secret_name(spec, JAAS_TARGET.trim_start_matches(SECRETS_DIR))
}

/// Every Swarm secret lab `spec`'s stack file names, each with the host file it is made from
/// (`docker secret create <name> <file>` before the deploy), by name.
pub fn secret_files(spec: &LabSpec) -> Vec<(String, PathBuf)> {
    let mut out = BTreeMap::new();
    for c in spec.containers() {
        for f in &c.files {
            if let Some(target) = as_secret(f) {
                out.insert(secret_name(spec, target), f.source.clone());
            }
        }
    }
    out.into_iter().collect()
}

/// A file mount that is a Swarm secret: its name below [`SECRETS_DIR`].
fn as_secret(f: &FileMount) -> Option<&str> {
    f.target
        .strip_prefix(SECRETS_DIR)
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

/// A YAML double-quoted scalar, its `$` doubled (`docker stack deploy` would interpolate
/// `${…}`; `$$` is a literal `$`, as kroll's stack crate reads it too).
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '$' => out.push_str("$$"),
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
    let secrets: std::collections::BTreeSet<&str> = containers
        .iter()
        .flat_map(|c| c.files.iter().filter_map(as_secret))
        .collect();
    if !secrets.is_empty() {
        s.push_str("\nsecrets:\n");
        for target in secrets {
            let _ = writeln!(s, "  {}:\n    external: true", secret_name(spec, target));
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
    let secrets: Vec<&str> = c.files.iter().filter_map(as_secret).collect();
    if !secrets.is_empty() {
        s.push_str("    secrets:\n");
        for target in secrets {
            let _ = writeln!(
                s,
                "      - source: {}\n        target: {target}",
                secret_name(spec, target)
            );
        }
    }
    let binds: Vec<&FileMount> = c.files.iter().filter(|f| as_secret(f).is_none()).collect();
    if !c.mounts.is_empty() || !binds.is_empty() {
        s.push_str("    volumes:\n");
        for f in binds {
            let _ = writeln!(
                s,
                "      - {{type: bind, source: {}, target: {}, read_only: true}}",
                q(&f.source.to_string_lossy()),
                f.target
            );
        }
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
    use crate::topology::{Hosts, Ports, Security, Services};

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
    fn a_sasl_labs_jaas_file_is_an_external_secret_every_broker_sees_where_the_journal_has_it() {
        let mut spec = LabSpec::new(
            "sw-2",
            "7.1.1",
            "r",
            Ports::default_lab_with(Security::Sasl),
            Services::Full,
        )
        .expect("spec")
        .with_security(Security::Sasl, std::path::Path::new("/labs/sw-2"))
        .expect("sasl");
        spec.hosts = Hosts::Nodes {
            subnet: [10, 199, 3],
        };
        assert_eq!(jaas_secret(&spec), "KAFKA_JAAS_SW_2");
        let text = render(&spec, "/shared");
        // The JAAS file, and the REST services' users and JAAS files (`crate::rest_auth`).
        let names = [
            "CONNECT_JAAS",
            "CONNECT_PASSWORDS",
            "CONNECT_SCHEMA_REGISTRY",
            "KAFKA_JAAS",
            "KAFKA_REST_JAAS",
            "KAFKA_REST_PASSWORDS",
            "SCHEMA_REGISTRY_JAAS",
            "SCHEMA_REGISTRY_PASSWORDS",
        ];
        let section: String = names
            .iter()
            .map(|n| format!("  {n}_SW_2:\n    external: true\n"))
            .collect();
        assert!(text.ends_with(&format!("\nsecrets:\n{section}")), "{text}");
        assert_eq!(
            secret_files(&spec),
            names
                .iter()
                .map(|n| (
                    format!("{n}_SW_2"),
                    PathBuf::from(format!("/labs/sw-2/secrets/{n}"))
                ))
                .collect::<Vec<_>>()
        );
        for (service, n) in [
            ("connect-04", "CONNECT_SCHEMA_REGISTRY"),
            ("schema-registry", "SCHEMA_REGISTRY_PASSWORDS"),
            ("rest-proxy", "KAFKA_REST_JAAS"),
        ] {
            let at = text.find(&format!("\n  {service}:\n")).expect(service);
            let block = &text[at..];
            let block = &block[..block.find("deploy:").unwrap_or(block.len())];
            assert!(
                block.contains(&format!("      - source: {n}_SW_2\n        target: {n}\n")),
                "{service}: {block}"
            );
        }
        // A config provider's variable reaches the workers as it is: `$$` in the file (kroll's
        // stack crate reads it back the same way: `tests/lab/swarm.rs`, no drift).
        assert!(
            text.contains(
                "CONNECT_VALUE_CONVERTER_BASIC_AUTH_USER_INFO: \"$${file:/run/secrets/CONNECT_SCHEMA_REGISTRY:basic.auth.user.info}\""
            ),
            "{text}"
        );

        let reference =
            "    secrets:\n      - source: KAFKA_JAAS_SW_2\n        target: KAFKA_JAAS\n";
        assert_eq!(text.matches(reference).count(), 5, "one per broker: {text}");
        assert!(
            !text.contains("/labs/sw-2"),
            "the file is not bind-mounted: {text}"
        );
        assert!(
            text.contains("-Djava.security.auth.login.config=/run/secrets/KAFKA_JAAS"),
            "{text}"
        );
        assert!(text.contains("SASL_EXT://10.199.3.12:26092"), "{text}");
    }

    #[test]
    fn a_file_outside_the_secrets_directory_is_a_read_only_bind() {
        let mut spec = spec();
        spec.hosts = Hosts::Loopback;
        let f = FileMount {
            source: "/etc/x.conf".into(),
            target: "/etc/kafka/x.conf".into(),
        };
        assert_eq!(as_secret(&f), None);
        for target in ["/run/secrets/", "/run/secrets/a/b"] {
            let g = FileMount {
                source: "/x".into(),
                target: target.into(),
            };
            assert_eq!(as_secret(&g), None, "{target}");
        }
        let c = spec.containers().into_iter().next().expect("a container");
        let mut out = String::new();
        let c = ContainerSpec {
            files: vec![f],
            ..c
        };
        service(&mut out, &spec, &c, None, "/shared");
        assert!(
            out.contains(
                "      - {type: bind, source: \"/etc/x.conf\", target: /etc/kafka/x.conf, read_only: true}\n"
            ),
            "{out}"
        );
        assert!(!out.contains("secrets:"), "{out}");
    }

    #[test]
    fn quoting_keeps_values_whole() {
        assert_eq!(q(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(q("${file:/x:k}"), "\"$${file:/x:k}\"");
    }
}
