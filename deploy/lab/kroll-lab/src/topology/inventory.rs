//! The inventory file of a lab, as `kroll-lab up` writes it (for the default lab: exactly
//! `deploy/inventory.lab.toml`).

use std::fmt::Write as _;

use kroll_shared::inventory::ServiceKind;

use super::{DEFAULT_LAB, KROLL_USER, LabSpec, PASSWORD_FILE, Security, Shape, node_name};
use crate::rest_auth::REST_PASSWORD_FILE;

/// The inventory text of `spec`; certificates are expected in `certs/` beside it. A SASL lab's
/// points kroll at the brokers' `SASL_EXT` listeners, logged in as `kroll` with the password in
/// the file beside it (`[kafka]`); a `sasl-ssl` lab's at `SASL_SSL_EXT` with SCRAM-SHA-512,
/// trusting the lab's Kafka CA. A full SASL lab's also logs kroll in to Connect and Schema
/// Registry as `kroll` with the password in `rest-password` beside it (`[connect]`,
/// `[schema_registry]`).
pub fn inventory_toml(spec: &LabSpec) -> String {
    let mut s = String::new();
    if spec.name == DEFAULT_LAB {
        s.push_str(
            "# The lab's inventory, as `kroll-lab up` writes it for the default lab (deploy/lab/LAB.md).\n",
        );
    } else {
        let _ = writeln!(
            s,
            "# The inventory of lab `{}`, as `kroll-lab up` wrote it (deploy/lab/LAB.md).",
            spec.name
        );
    }
    if spec.shape == Shape::LAB {
        s.push_str(
            "# Five nodes shaped like the journal's lab cluster; every address is on this machine.\n\n",
        );
    } else {
        let _ = writeln!(
            s,
            "# {} nodes, {} ZooKeeper servers and {} Connect workers; every address is on this machine.\n",
            spec.shape.nodes, spec.shape.zookeepers, spec.shape.connect_workers
        );
    }
    let bootstrap = match spec.security {
        Security::Plaintext => spec.bootstrap(),
        Security::Sasl => spec.sasl_bootstrap(),
        Security::SaslSsl => spec.sasl_ssl_bootstrap(),
    };
    let bootstrap: Vec<String> = bootstrap.iter().map(|b| format!("\"{b}\"")).collect();
    let _ = write!(
        s,
        "[cluster]\nname = \"{}\"\nkafka_bootstrap = [{}]\nregistry = \"{}\"\nzookeeper = \"{}/kafka\"\n\n",
        spec.cluster_name(),
        bootstrap.join(", "),
        spec.registry,
        spec.zookeeper_addr()
    );
    match spec.security {
        Security::Plaintext => {}
        Security::Sasl => {
            let _ = write!(
                s,
                "# kroll reaches the brokers' SASL_EXT listeners (kafka_bootstrap) as `{KROLL_USER}`, whose ACLs allow only reads.\n\
                 [kafka]\nsecurity_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\nusername = \"{KROLL_USER}\"\n\
                 password_file = \"{PASSWORD_FILE}\"   # beside this file, mode 0600\n\n"
            );
        }
        Security::SaslSsl => {
            let _ = write!(
                s,
                "# kroll reaches the brokers' SASL_SSL_EXT listeners (kafka_bootstrap) as `{KROLL_USER}` with SCRAM,\n\
                 # trusting only the lab's Kafka CA; its ACLs allow only reads.\n\
                 [kafka]\nsecurity_protocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-512\"\nusername = \"{KROLL_USER}\"\n\
                 password_file = \"{PASSWORD_FILE}\"   # beside this file, mode 0600\n\
                 ca_file = \"{tls}/ca.pem\"\n\
                 # Or SASL_EXT: kafka_bootstrap = [{}] with security_protocol = \"SASL_PLAINTEXT\", sasl_mechanism = \"PLAIN\";\n\
                 # or SSL_EXT: kafka_bootstrap = [{}] with security_protocol = \"SSL\", ca_file as above,\n\
                 # cert_file = \"{tls}/{KROLL_USER}.pem\", key_file = \"{tls}/{KROLL_USER}-key.pem\" (principal User:CN={KROLL_USER}).\n\n",
                quoted(&spec.sasl_bootstrap()),
                quoted(&spec.ssl_bootstrap()),
                tls = super::KAFKA_TLS_DIR,
            );
        }
    }
    if spec.rest_auth() {
        let login = format!(
            "username = \"{KROLL_USER}\"\npassword_file = \"{REST_PASSWORD_FILE}\"   # beside this file, mode 0600\n"
        );
        let _ = write!(
            s,
            "# kroll logs in to Connect and Schema Registry (HTTP basic auth) as `{KROLL_USER}`.\n\
             [connect]\n{login}\n[schema_registry]\n{login}\n"
        );
    }
    s.push_str(
        "[tls]\nca = \"certs/ca.pem\"\ncert = \"certs/coordinator.pem\"\nkey = \"certs/coordinator-key.pem\"\n\n",
    );
    s.push_str("[agents]\ntimeout_ms = 2000\n");
    let containers = spec.containers();
    for n in 1..=spec.shape.nodes {
        let node = node_name(n);
        let _ = write!(
            s,
            "\n[[nodes]]\nname = \"{node}\"\nagent = \"{}\"\nservices = [\n",
            spec.agent_addr(n)
        );
        for c in containers.iter().filter(|c| c.node == node) {
            let extra = match c.kind {
                ServiceKind::Zookeeper => {
                    format!("zookeeper_id = {}", c.zookeeper_id.unwrap_or(1))
                }
                ServiceKind::Broker => format!("broker_id = {}", c.broker_id.unwrap_or(0)),
                _ => format!("url = \"{}\"", c.url.clone().unwrap_or_default()),
            };
            let _ = writeln!(
                s,
                "  {{ kind = \"{}\", container = \"{}\", {extra} }},",
                c.kind, c.name
            );
        }
        s.push_str("]\n");
    }
    s
}

fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|b| format!("\"{b}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
