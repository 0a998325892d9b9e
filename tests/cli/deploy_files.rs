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

/// The demo builds the shipped `kroll` without the `test-switches` feature: only the packages
/// it ships, no feature flags, and never the test crate (whose dependency would turn it on).
#[test]
fn the_shipped_kroll_is_built_without_the_test_switches() {
    let demo = std::fs::read_to_string(deploy("demo.sh")).expect("deploy/demo.sh");
    let builds: Vec<&str> = demo
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo build"))
        .collect();
    assert!(!builds.is_empty(), "demo.sh builds the binaries it runs");
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
                "demo.sh: `{line}` has {forbidden}"
            );
        }
    }
}
