//! kroll in the operator's monitoring: `deploy/prometheus/` checked and unit-tested by Debian's
//! `promtool`; Debian's real Prometheus scraping real agents' `/metrics` with those rules, and
//! every query of the Grafana dashboard `deploy/grafana/` run against it; Debian's real
//! Alertmanager receiving `kroll watch --webhook` alerts about real JVMs.

mod alertmanager;
mod dashboard;
mod rules;

use kroll_tests::{Pki, RunningAgent, allow_node};

/// An in-process agent sampling every 250 ms, hung after 1 s, `/metrics` on a loopback port.
async fn agent(pki: &Pki, node: &str, dir: &std::path::Path) -> RunningAgent {
    let mut config = kroll_tests::agent_config(pki, node, allow_node(node), dir);
    config.sampling.interval_ms = 250;
    config.jvm.hung_after_ms = 1000;
    config.jvm.oom_repeat_seconds = 0;
    config.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
    let agent = Box::pin(kroll_agent::Agent::start(config))
        .await
        .expect("agent");
    RunningAgent::from_started(node, agent, dir)
}

/// The `at=<unix ms>` the Hog program printed with its OutOfMemoryError, from `text`.
fn hog_at(text: &str) -> Option<i64> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("at="))
        .and_then(|v| v.parse().ok())
}
