//! Whether Schema Registry answers, for `kroll status`.

use kroll_shared::inventory::{Inventory, ServiceKind};
use serde::Serialize;

use crate::registry::api::RegistryApi;
use crate::registry::client::RegistryClient;

/// One look at Schema Registry (`GET /config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryHealth {
    pub url: String,
    /// The global compatibility level, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<String>,
    /// Why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RegistryHealth {
    /// The problem `kroll status` reports, if any.
    pub fn problem(&self) -> Option<String> {
        self.error
            .as_ref()
            .map(|e| format!("Schema Registry ({}) does not answer: {e}", self.url))
    }

    /// `answering (http://…, compatibility BACKWARD)` or `NOT answering (http://…)`.
    pub fn summary(&self) -> String {
        match &self.compatibility {
            Some(c) if self.error.is_none() => {
                format!("answering ({}, compatibility {c})", self.url)
            }
            _ => format!("NOT answering ({})", self.url),
        }
    }
}

/// Asks `registry` for its global level.
pub async fn look(registry: &impl RegistryApi) -> RegistryHealth {
    let answer = registry.global_compatibility().await;
    RegistryHealth {
        url: registry.url().to_owned(),
        compatibility: answer.as_ref().ok().cloned(),
        error: answer.err().map(|e| e.to_string()),
    }
}

/// Looks at the inventory's Schema Registry; `None` when it lists none with a URL. Settings
/// that cannot be used (an unreadable password file, an unset variable) are its error.
pub async fn look_inventory(inventory: &Inventory) -> Option<RegistryHealth> {
    let url = inventory
        .services()
        .filter(|p| p.service.kind == ServiceKind::SchemaRegistry)
        .find_map(|p| p.service.url.clone())?;
    match RegistryClient::from_inventory(inventory, crate::rest::RestOptions::look()) {
        Ok(client) => Some(look(&client).await),
        Err(e) => Some(RegistryHealth {
            url,
            compatibility: None,
            error: Some(e.to_string()),
        }),
    }
}
