//! The inventory's `[remediation]` section: the one thing `kroll watch` may do on its own —
//! restart a JVM container of a listed kind after a Java `OutOfMemoryError`, within a budget.
//! Absent (the default), nothing is ever restarted automatically.
//!
//! ```toml
//! [remediation]
//! restart_on_oom = ["connect", "schema-registry"]   # service kinds
//! max_per_hour = 2                                  # restarts per container in any hour
//! stop_timeout_seconds = 60                         # graceful stop before SIGKILL
//! ```
//!
//! Brokers and ZooKeeper cannot be listed: restarting one is a rolling-upgrade step that must
//! pass the health gates (a second broker down at the wrong moment takes partitions offline).

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Document, KeyPath};
use crate::inventory::ServiceKind;

/// The `[remediation]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// Service kinds whose containers are restarted after a Java OutOfMemoryError.
    pub restart_on_oom: Vec<ServiceKind>,
    /// At most this many automatic restarts per container in any hour.
    #[serde(default = "default_max_per_hour")]
    pub max_per_hour: u32,
    /// Graceful stop time before the agent kills the container.
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout_seconds: u32,
}

fn default_max_per_hour() -> u32 {
    2
}

fn default_stop_timeout() -> u32 {
    60
}

impl Remediation {
    /// Checks the section; errors name the file, line and key under `at`.
    pub fn validate(&self, doc: &Document, at: &KeyPath) -> Result<(), ConfigError> {
        if let Some((i, k)) = self
            .restart_on_oom
            .iter()
            .enumerate()
            .find(|(_, k)| matches!(k, ServiceKind::Broker | ServiceKind::Zookeeper))
        {
            return Err(doc.invalid(
                &at.key("restart_on_oom").index(i),
                format!(
                    "`{k}` containers are never restarted automatically: restarting one is an upgrade-style step that must pass the health gates (use `kroll restart` after checking `kroll status`)"
                ),
            ));
        }
        if self.max_per_hour == 0 {
            return Err(doc.invalid(
                &at.key("max_per_hour"),
                "must be at least 1 (leave `restart_on_oom` empty, or remove the section, to restart nothing)",
            ));
        }
        Ok(())
    }
}
