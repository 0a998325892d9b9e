//! The inventory's `[alerts]` section: where `kroll watch` posts events so operators get paged.
//!
//! ```toml
//! [alerts]
//! webhook = "http://alertmanager:9093/api/v2/alerts"
//! format = "alertmanager"        # or "slack" ({"text": …})
//! kinds = ["java_oom", "java_oom_exit", "oom_killed", "heap_pressure", "jvm_hung", "jvm_recovered"]
//! queue = 1000                   # events waiting at most; more are dropped and counted
//! attempts = 8                   # per batch, with exponential backoff
//! ```

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Document, KeyPath};
use crate::model::EventKind;

/// Payload shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormatName {
    /// Alertmanager's v2 `POST /api/v2/alerts` body.
    Alertmanager,
    /// `{"text": …}`.
    Slack,
}

/// The `[alerts]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// `http://` or `https://` URL the events are posted to.
    pub webhook: String,
    pub format: AlertFormatName,
    /// Event kinds posted; empty = kroll's default (OOMs, heap pressure, hung JVMs).
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default = "default_queue")]
    pub queue: usize,
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_queue() -> usize {
    1000
}

fn default_attempts() -> u32 {
    8
}

impl Alerts {
    /// Checks the section; errors name the file, line and key under `at`.
    pub fn validate(&self, doc: &Document, at: &KeyPath) -> Result<(), ConfigError> {
        if !(self.webhook.starts_with("http://") || self.webhook.starts_with("https://")) {
            return Err(doc.invalid(
                &at.key("webhook"),
                format!("`{}` is not an http:// or https:// URL", self.webhook),
            ));
        }
        if let Some((i, k)) = self
            .kinds
            .iter()
            .enumerate()
            .find(|(_, k)| !EventKind::NAMES.contains(&k.as_str()))
        {
            return Err(doc.invalid(
                &at.key("kinds").index(i),
                format!(
                    "unknown event kind `{k}` (known: {})",
                    EventKind::NAMES.join(", ")
                ),
            ));
        }
        if self.queue == 0 || self.attempts == 0 {
            return Err(doc.invalid(at, "`queue` and `attempts` must be at least 1"));
        }
        Ok(())
    }
}
