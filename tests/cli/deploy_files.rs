//! The example files in `deploy/` are what users copy: they must load and say what they claim.

use std::path::PathBuf;

use kroll_agent::config::AgentConfig;
use kroll_shared::inventory::{Inventory, ServiceKind};

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

#[test]
fn the_example_inventories_load_and_match_the_journals_shapes() {
    let lab = Inventory::load(&deploy("inventory.lab.toml")).expect("lab inventory");
    assert_eq!(lab.nodes.len(), 5);
    let count =
        |inv: &Inventory, k: ServiceKind| inv.services().filter(|p| p.service.kind == k).count();
    assert_eq!(count(&lab, ServiceKind::Broker), 5);
    assert_eq!(count(&lab, ServiceKind::Connect), 5);
    assert_eq!(count(&lab, ServiceKind::Zookeeper), 1);
    let prod = Inventory::load(&deploy("inventory.production.toml")).expect("production inventory");
    assert_eq!(prod.nodes.len(), 18);
    let alerts = prod
        .alerts
        .as_ref()
        .expect("[alerts] in the production inventory");
    assert_eq!(
        alerts.format,
        kroll_shared::alerts::AlertFormatName::Alertmanager
    );
    assert_eq!(count(&prod, ServiceKind::Broker), 18);
    assert_eq!(count(&prod, ServiceKind::Zookeeper), 3);
    for k in [
        ServiceKind::SchemaRegistry,
        ServiceKind::RestProxy,
        ServiceKind::Kafdrop,
    ] {
        assert_eq!(count(&prod, k), 1, "{k}");
    }
}

#[test]
fn the_example_agent_configuration_loads() {
    let c = AgentConfig::load(&deploy("agent.example.toml")).expect("agent.example.toml");
    assert_eq!(c.node, "rhodrylab-01");
    assert!(c.allow.names.contains("kafka-01"));
    assert!(c.jvm.enabled && c.jvm.hung_after_ms == 10_000);
    assert_eq!(c.metrics.listen, None, "/metrics is off unless asked for");
}

/// The global-service example: the config template, filled as Swarm fills it for one node, is
/// a valid agent config for that node reading heaps through the mounted host /proc; the stack
/// file gives the service what that needs.
#[test]
fn the_example_global_service_config_loads_for_each_node_and_its_stack_provides_it() {
    let template = std::fs::read_to_string(deploy("agent-swarm.example.toml"))
        .expect("agent-swarm.example.toml");
    let placeholder = "{{ env \"KROLL_NODE\" }}";
    assert_eq!(template.matches(placeholder).count(), 3, "{template}");
    // The agent checks that proc_root is a proc filesystem; this machine has it at /proc.
    let host_proc = "proc_root = \"/host/proc\"";
    assert!(template.contains(host_proc), "{template}");
    let dir = tempfile::tempdir().expect("tmp");
    for node in ["rhodrylab-01", "rhodrylab-17"] {
        let path = dir.path().join(format!("{node}.toml"));
        let filled = template
            .replace(placeholder, node)
            .replace(host_proc, "proc_root = \"/proc\"");
        std::fs::write(&path, filled).expect("write");
        let c = AgentConfig::load(&path).unwrap_or_else(|e| panic!("{node}: {e}"));
        assert_eq!(c.node, node);
        assert_eq!(
            c.tls.cert,
            PathBuf::from(format!("/run/secrets/kroll/agent-{node}.pem"))
        );
        assert!(c.allow.stacks.contains("rhodry"));
    }
    let stack = std::fs::read_to_string(deploy("agent-stack.example.yml"))
        .expect("agent-stack.example.yml");
    for needed in [
        "mode: global",
        "cap_add: [SYS_PTRACE]",
        "KROLL_NODE: \"{{.Node.Hostname}}\"",
        "source: /proc\n        target: /host/proc\n        read_only: true",
        "source: /var/run/docker.sock",
        "mode: host",
        "file: ./agent-swarm.example.toml\n    template_driver: golang",
        "target: kroll/agent-rhodrylab-01-key.pem",
    ] {
        assert!(
            stack.contains(needed),
            "{needed} in agent-stack.example.yml"
        );
    }
    let unit = std::fs::read_to_string(deploy("kroll-agent.service")).expect("kroll-agent.service");
    assert!(
        unit.contains("ExecStart=/usr/bin/kroll-agent --config /etc/kroll/agent.toml"),
        "{unit}"
    );
}

/// The host service's unit: the hardening the README promises, the two capabilities the
/// agent needs and no others (each one explained in the file), `systemd-analyze verify` clean.
#[test]
fn the_agent_unit_is_hardened_to_two_capabilities_and_verifies() {
    let path = deploy("kroll-agent.service");
    let unit = std::fs::read_to_string(&path).expect("kroll-agent.service");
    let directives: Vec<&str> = unit
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .collect();
    for want in [
        "CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH",
        "AmbientCapabilities=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "StateDirectory=kroll",
    ] {
        assert!(directives.contains(&want), "{want} in {}", path.display());
    }
    for cap in ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"] {
        assert!(
            unit.lines()
                .any(|l| l.starts_with("#  - ") && l.contains(cap)),
            "why {cap} is there, in a comment"
        );
    }
    for never in [
        "ProtectProc=",
        "ProcSubset=",
        "PrivateUsers=",
        "CAP_DAC_OVERRIDE",
        "CAP_SYS_ADMIN",
    ] {
        assert!(
            !directives.iter().any(|d| d.contains(never)),
            "{never} would break or widen the agent"
        );
    }
    // Verified here against this machine's root, where /usr/bin/kroll-agent and its man page
    // do not exist: only the binary's absence is accepted (the package test verifies the unit
    // where the package installs it, with both).
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (apt-get install systemd; deploy/setup.sh does)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        assert!(
            line.contains("/usr/bin/kroll-agent") && line.contains("No such file"),
            "systemd-analyze verify: {stderr}"
        );
    }
}

/// The demo builds the shipped `kroll` without the `test-switches` feature: only the packages
/// it ships, no feature flags, and never the test crate (whose dependency would turn it on).
#[test]
fn the_shipped_kroll_is_built_without_the_test_switches() {
    for script in ["demo.sh", "package/build.sh"] {
        let text = std::fs::read_to_string(deploy(script)).expect(script);
        let builds: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("cargo build"))
            .collect();
        assert!(!builds.is_empty(), "{script} builds the binaries it ships");
        shipped_builds_only(script, &builds);
    }
}

fn shipped_builds_only(script: &str, builds: &[&str]) {
    for line in builds {
        assert!(line.contains("-p kroll-coordinator"), "{line}");
        for forbidden in [
            "--features",
            "--all-features",
            "--workspace",
            "kroll-tests",
            "test-switches",
        ] {
            assert!(
                !line.contains(forbidden),
                "{script}: `{line}` has {forbidden}"
            );
        }
    }
}
