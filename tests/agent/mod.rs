//! The agent against the real Docker engine: state, restart, events, allowlist, TLS roles.

mod crash;
mod recreate;
mod restart;
mod secrets;
mod state;
mod tls;

use kroll::agents::AgentClient;
use kroll_shared::inventory::Node;
use kroll_tests::{Pki, RunningAgent};
use std::time::Duration;

/// A coordinator (or `stem`) client for a running agent.
pub async fn client(pki: &Pki, stem: &str, agent: &RunningAgent) -> AgentClient {
    let tls = pki.files(stem).load().expect("tls");
    let node: Node = agent.as_node(vec![]);
    AgentClient::connect(&node, &tls, Duration::from_secs(5))
        .await
        .expect("connect")
}
