//! `DescribeStack`: the specs of a Swarm stack's services as the manager holds them, for the
//! coordinator's comparison with the stack file (issue 13: refuse drift kroll did not make).
//! Every environment value is answered as its MAC under the caller's nonce
//! ([`kroll_shared::env_mac`]): no value leaves the node. Only on a manager, only for a stack
//! in `[allow] stacks`, only to the coordinator role (its caller checks the role).

use std::collections::BTreeMap;
use std::time::Duration;

use kroll_shared::env_mac::{NONCE_BYTES, env_value_mac};

use crate::error::AgentError;
use crate::node::Core;
use crate::runtime::{ContainerRuntime, ServiceView};

/// One environment entry: its name and, when it has a value, the value's MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedEnv {
    pub name: String,
    pub mac: Option<Vec<u8>>,
}

/// A service of the stack, its environment values replaced by MACs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedService {
    pub name: String,
    pub image: String,
    pub env: Vec<DescribedEnv>,
    pub hostname: String,
    pub stop_grace_period: Option<Duration>,
    pub labels: BTreeMap<String, String>,
}

/// `view` with every environment value replaced by its MAC under `nonce`.
pub fn describe(view: ServiceView, nonce: &[u8]) -> DescribedService {
    let env = view
        .env
        .iter()
        .map(|item| match item.split_once('=') {
            Some((name, value)) => DescribedEnv {
                name: name.to_owned(),
                mac: Some(env_value_mac(nonce, value)),
            },
            None => DescribedEnv {
                name: item.clone(),
                mac: None,
            },
        })
        .collect();
    DescribedService {
        name: view.name,
        image: view.image,
        env,
        hostname: view.hostname,
        stop_grace_period: view.stop_grace_period,
        labels: view.labels,
    }
}

impl<R: ContainerRuntime> Core<R> {
    /// The services of stack `stack`, described under `nonce`.
    pub async fn describe_stack(
        &self,
        stack: &str,
        nonce: &[u8],
    ) -> Result<Vec<DescribedService>, AgentError> {
        if !NONCE_BYTES.contains(&nonce.len()) {
            return Err(AgentError::InvalidArgument(format!(
                "the nonce has {} bytes; it must have {} to {}",
                nonce.len(),
                NONCE_BYTES.start(),
                NONCE_BYTES.end()
            )));
        }
        self.require_manager().await?;
        if !self.config.allow.stacks.contains(stack) {
            return Err(AgentError::StackNotManaged {
                stack: crate::actions::clip(stack, 256),
                node: self.config.node.clone(),
                allowed: self.config.allow.services_text(),
            });
        }
        let views = self.runtime.stack_services(stack).await?;
        Ok(views.into_iter().map(|v| describe(v, nonce)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_leave_as_macs_only() {
        let nonce = [7u8; 32];
        let view = ServiceView {
            name: "rhodry_kafka-01".into(),
            image: "reg/kafka:7.1.1".into(),
            env: vec![
                "KAFKA_OPTS=-Djavax.net.ssl.keyStorePassword=hunter2".into(),
                "EMPTY=".into(),
                "BARE".into(),
                "URL=a=b".into(),
            ],
            ..ServiceView::default()
        };
        let d = describe(view, &nonce);
        let text = format!("{d:?}");
        assert!(!text.contains("hunter2"), "{text}");
        let macs: Vec<(&str, Option<Vec<u8>>)> = d
            .env
            .iter()
            .map(|e| (e.name.as_str(), e.mac.clone()))
            .collect();
        assert_eq!(
            macs,
            [
                (
                    "KAFKA_OPTS",
                    Some(env_value_mac(
                        &nonce,
                        "-Djavax.net.ssl.keyStorePassword=hunter2"
                    ))
                ),
                ("EMPTY", Some(env_value_mac(&nonce, ""))),
                ("BARE", None),
                ("URL", Some(env_value_mac(&nonce, "a=b"))),
            ]
        );
    }
}
