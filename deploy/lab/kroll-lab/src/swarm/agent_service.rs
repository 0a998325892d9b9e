//! `kroll-lab up --swarm --agents-as service`: the agents run as one global Swarm service —
//! the second way the README offers to run `kroll-agent` on a Swarm node — in a stack of their
//! own (`<lab>-agents`), so that redeploying the lab's stack never restarts them mid-roll.
//!
//! What a global service needs, since Swarm has no `pid: host` and gives every task the same
//! spec (the stack and the agent config are pure text here, rendered by [`stack_file`] and
//! [`config_template`]):
//! - the host's `/proc` bind-mounted read-only at `/host/proc` and `[jvm] proc_root` pointing
//!   there, with `cap_add: [SYS_PTRACE]`, so the agent reads JVM heaps of other containers;
//! - one agent config for every node, a Swarm config with `template_driver: golang`: Swarm
//!   writes each task's copy with the node's hostname filled in, which names the node, its
//!   certificate and the containers it may act on. The template reads it as `{{env
//!   "KROLL_NODE"}}`, the service setting `KROLL_NODE: "{{.Node.Hostname}}"`: on Docker 20.10
//!   a config template's own `{{.Node.Hostname}}` comes out empty (seen here: the agent refused
//!   its config, "`` is not a valid node name"), while the environment's is expanded;
//! - each node's certificate as a Swarm secret; every task receives every node's (Swarm cannot
//!   give a global service's tasks different secrets), so a compromised node holds the others'
//!   agent keys — one more reason the README prefers the host service;
//! - the node's engine socket at `/var/run/docker.sock` (in the lab each node's engine has a
//!   socket of its own, mounted by a source path templated with the node's hostname);
//! - the gRPC port published `mode: host`, so a call to a node's address reaches that node's agent.

use std::path::Path;

use crate::topology::{LabSpec, NODES, node_name};
use crate::{LabError, image};

use super::hosts::{self, Layout};

/// The agents' stack name for lab `lab`.
pub fn stack_name(lab: &str) -> String {
    format!("{lab}-agents")
}

/// Where the agent's config, secrets and state are inside its container.
const CONFIG: &str = "/etc/kroll/agent.toml";
const SECRETS: &str = "/run/secrets/kroll";
const STATE: &str = "/var/lib/kroll-agent";
const PROC: &str = "/host/proc";

/// The template's placeholder of the node's hostname (from the task's environment).
const NODE: &str = "{{ env \"KROLL_NODE\" }}";

/// The agent config every task gets, with the node's hostname left for Swarm to fill.
pub fn config_template(spec: &LabSpec) -> String {
    let port = spec.agent_addr(1).port();
    format!(
        "# kroll-agent of lab `{lab}` as a global Swarm service (written by `kroll-lab up`).\n\
         # A Swarm config template: each task's copy names its own node.\n\
         node = \"{NODE}\"\n\
         listen = \"0.0.0.0:{port}\"\n\
         report_env = [\"KAFKA_ADVERTISED_LISTENERS\", \"KAFKA_INTER_BROKER_PROTOCOL_VERSION\"]\n\n\
         [tls]\nca = \"{SECRETS}/ca.pem\"\ncert = \"{SECRETS}/agent-{NODE}.pem\"\n\
         key = \"{SECRETS}/agent-{NODE}-key.pem\"\n\n\
         [allow]\nlabels = {{ \"{lab_label}\" = \"{lab}\", \"{node_label}\" = \"{NODE}\" }}\n\
         # A worker's engine refuses service updates whatever this says.\n\
         stacks = [\"{lab}\"]\n\n\
         [audit]\npath = \"{STATE}/audit.log\"\n\n\
         [jvm]\nproc_root = \"{PROC}\"\n\n\
         [restart]\ndefault_stop_timeout_seconds = 60\n",
        lab = spec.name,
        lab_label = crate::topology::LAB_LABEL,
        node_label = crate::topology::NODE_LABEL,
    )
}

/// The agents' stack file: `image` (as the nodes pull it), the config template and the
/// certificates from `dir` (the lab directory), each node's engine socket under `sockets`
/// (`<sockets>/<hostname>.sock`).
pub fn stack_file(spec: &LabSpec, image: &str, dir: &Path, sockets: &Path) -> String {
    let port = spec.agent_addr(1).port();
    let certs = dir.join("certs");
    let mut secrets_use = String::from(
        "      - source: kroll-ca\n        target: kroll/ca.pem\n        mode: 0400\n",
    );
    let mut secrets_def = format!(
        "  kroll-ca:\n    file: {}\n",
        certs.join("ca.pem").display()
    );
    for n in 1..=NODES {
        let node = node_name(n);
        for (suffix, file) in [
            ("cert", format!("agent-{node}.pem")),
            ("key", format!("agent-{node}-key.pem")),
        ] {
            secrets_use.push_str(&format!(
                "      - source: kroll-agent-{node}-{suffix}\n        target: kroll/{file}\n        mode: 0400\n"
            ));
            secrets_def.push_str(&format!(
                "  kroll-agent-{node}-{suffix}:\n    file: {}\n",
                certs.join(&file).display()
            ));
        }
    }
    format!(
        "# kroll-agent on every node of Swarm lab `{lab}`, as a global service, in a stack of its\n\
         # own so that `docker stack deploy` of the lab's stack never restarts it mid-roll.\n\
         version: \"3.8\"\n\
         services:\n\
         \x20 kroll-agent:\n\
         \x20   image: {image}\n\
         \x20   command: [\"--config\", \"{CONFIG}\"]\n\
         \x20   cap_add: [SYS_PTRACE]\n\
         \x20   environment:\n\
         \x20     KROLL_NODE: \"{{{{.Node.Hostname}}}}\"\n\
         \x20   ports:\n\
         \x20     - target: {port}\n\
         \x20       published: {port}\n\
         \x20       protocol: tcp\n\
         \x20       mode: host\n\
         \x20   volumes:\n\
         \x20     - type: bind\n\
         \x20       source: /proc\n\
         \x20       target: {PROC}\n\
         \x20       read_only: true\n\
         \x20     # In production: /var/run/docker.sock; each lab node's engine has its own socket.\n\
         \x20     - type: bind\n\
         \x20       source: {sockets}/{{{{.Node.Hostname}}}}.sock\n\
         \x20       target: /var/run/docker.sock\n\
         \x20     - type: volume\n\
         \x20       source: state\n\
         \x20       target: {STATE}\n\
         \x20   configs:\n\
         \x20     - source: kroll-agent-toml\n\
         \x20       target: {CONFIG}\n\
         \x20   secrets:\n{secrets_use}\
         \x20   deploy:\n\
         \x20     mode: global\n\
         \x20     restart_policy:\n\
         \x20       condition: any\n\
         configs:\n\
         \x20 kroll-agent-toml:\n\
         \x20   file: {config}\n\
         \x20   template_driver: golang\n\
         secrets:\n{secrets_def}\
         volumes:\n\
         \x20 state:\n",
        lab = spec.name,
        sockets = sockets.display(),
        config = dir.join("agents").join("service.toml").display(),
    )
}

/// The agent's image on this machine's engine, built (unless it already is) from the
/// `kroll-agent` binary at `agent_bin` and its shared libraries on an empty base; returns its
/// tag. What the agents' global service runs, and what a test runs the agent in a container
/// from.
pub async fn agent_image(agent_bin: &Path) -> Result<String, LabError> {
    let docker = super::super::docker::connect().await?;
    let mut ctx = image::Context::new();
    ctx.add_binary("/usr/local/bin/kroll-agent", agent_bin)
        .map_err(|e| LabError::Swarm(format!("the agent's image: {e}")))?;
    ctx.add_dir_entry("rootfs/tmp", 0o1777);
    ctx.dockerfile("FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/usr/local/bin/kroll-agent\"]\n");
    let tag = "kroll-lab.local/kroll-agent:dev";
    image::ensure(&docker, &ctx, tag)
        .await
        .map_err(|e| LabError::Swarm(format!("building the agent's image: {e}")))?;
    Ok(tag.to_owned())
}

/// [`agent_image`] pushed to the lab's registry; returns the name the nodes pull.
async fn push_image(l: &Layout, agent_bin: &Path) -> Result<String, LabError> {
    let local = agent_image(agent_bin).await?;
    let target = format!("{}/rhodry/kroll-agent:dev", l.registry());
    super::load_into_node1(l, &[&local])?;
    hosts::docker(l, 1, &["tag", &local, &target])?;
    hosts::docker(l, 1, &["push", "-q", &target])?;
    Ok(target)
}

/// Deploys the agents' stack on the lab's swarm (the lab's certificates made first).
pub async fn deploy(
    spec: &LabSpec,
    l: &Layout,
    dir: &Path,
    agent_bin: &Path,
) -> Result<(), LabError> {
    crate::agents::ensure_certs(dir, spec)?;
    let image = push_image(l, agent_bin).await?;
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).map_err(LabError::io(&agents))?;
    let config = agents.join("service.toml");
    std::fs::write(&config, config_template(spec)).map_err(LabError::io(&config))?;
    let file = dir.join("agents-stack.yml");
    std::fs::write(&file, stack_file(spec, &image, dir, &l.sockets()))
        .map_err(LabError::io(&file))?;
    super::stack_deploy(l, &file, &stack_name(&spec.name), &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Ports, Services};

    fn spec() -> LabSpec {
        LabSpec::new("sx", "7.1.1", "r", Ports::default_lab(), Services::Kafka).expect("spec")
    }

    #[test]
    fn every_task_gets_one_config_that_swarm_fills_with_its_node() {
        let t = config_template(&spec());
        let node = "{{ env \"KROLL_NODE\" }}";
        assert!(t.contains(&format!("node = \"{node}\"")), "{t}");
        assert!(
            t.contains(&format!("cert = \"/run/secrets/kroll/agent-{node}.pem\"")),
            "{t}"
        );
        assert!(t.contains(&format!("\"kroll.node\" = \"{node}\"")), "{t}");
        assert!(t.contains("proc_root = \"/host/proc\""), "{t}");
        // What Swarm writes for one node is a valid agent config for it.
        let filled = t.replace(node, "rhodrylab-03");
        let parsed: toml::Value = toml::from_str(&filled).expect("TOML");
        assert_eq!(parsed["node"].as_str(), Some("rhodrylab-03"));
    }

    #[test]
    fn the_stack_runs_one_agent_per_node_with_what_a_global_service_lacks() {
        let s = stack_file(
            &spec(),
            "reg/rhodry/kroll-agent:dev",
            Path::new("/lab"),
            Path::new("/run/kroll-swarm/1/sockets"),
        );
        for want in [
            "mode: global",
            "KROLL_NODE: \"{{.Node.Hostname}}\"",
            "cap_add: [SYS_PTRACE]",
            "source: /proc\n        target: /host/proc\n        read_only: true",
            "source: /run/kroll-swarm/1/sockets/{{.Node.Hostname}}.sock",
            "template_driver: golang",
            "mode: host",
            "file: /lab/certs/agent-rhodrylab-05-key.pem",
        ] {
            assert!(s.contains(want), "{want} in:\n{s}");
        }
        // The CA and each node's certificate and key, used and defined.
        assert_eq!(
            s.matches("      - source: kroll-").count(),
            2 + 2 * usize::from(NODES),
            "{s}"
        );
        assert_eq!(
            s.matches("\n  kroll-agent-rhodrylab-").count(),
            2 * usize::from(NODES),
            "{s}"
        );
    }
}
