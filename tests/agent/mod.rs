//! The agent against the real Docker engine: state, restart, events, allowlist, TLS roles.

mod bounds;
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

/// The agent's answer to a refused call: its code and message (panics on anything else).
pub fn status_of(e: &kroll::agents::AgentCallError) -> (tonic::Code, String) {
    match &e.kind {
        kroll::agents::CallErrorKind::Refused(s) => (s.code(), s.message().to_owned()),
        other => panic!("not an answer from the agent: {other}"),
    }
}

/// The code of the agent's answer, if it answered.
pub fn code(e: &kroll::agents::AgentCallError) -> Option<tonic::Code> {
    match &e.kind {
        kroll::agents::CallErrorKind::Refused(s) => Some(s.code()),
        _ => None,
    }
}
