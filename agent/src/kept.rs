//! The containers a recreate leaves beside a service, and what the agent remembers about them.
//!
//! A recreate of `<name>` first creates the new definition as `<name>-kroll-next` (so Docker
//! validates all of it before anything is stopped), then keeps the old container as
//! `<name>-kroll-prev` (stopped, restart policy `no`) for rollback. Neither is a service: they
//! are never reported and never actionable (a restart of a kept container would start a second
//! copy of the old definition on the same volumes). Only a rollback of `<name>` uses the kept
//! one.
//!
//! Docker labels cannot be changed, so the kept container's original restart policy — and which
//! operation kept it, which recovery after a crash needs — are remembered in
//! `<state dir>/previous.json`, written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::RuntimeError;

/// The suffix of the kept previous definition's name.
pub const PREVIOUS_SUFFIX: &str = "-kroll-prev";
/// The suffix of a new definition created but not yet put in place.
pub const NEXT_SUFFIX: &str = "-kroll-next";

/// The name under which the previous definition of `name` is kept.
pub fn previous_name(name: &str) -> String {
    format!("{name}{PREVIOUS_SUFFIX}")
}

/// The name under which a recreate of `name` creates the new definition.
pub fn next_name(name: &str) -> String {
    format!("{name}{NEXT_SUFFIX}")
}

/// The service a kroll-internal container belongs to (`kafka-01` for `kafka-01-kroll-prev`),
/// or `None` for an ordinary container.
pub fn service_of(name: &str) -> Option<&str> {
    let name = name.trim_start_matches('/');
    name.strip_suffix(PREVIOUS_SUFFIX)
        .or_else(|| name.strip_suffix(NEXT_SUFFIX))
}

/// What is remembered about the kept previous definition of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub restart_policy: String,
    pub maximum_retry_count: Option<i64>,
    /// The operation (recreate) that kept it; empty in records written by older agents.
    #[serde(default)]
    pub operation_id: String,
    /// The id of the kept container (the one the recreate replaced).
    #[serde(default)]
    pub container_id: String,
}

/// `previous.json`: service name → what is remembered about its kept definition.
#[derive(Debug, Clone)]
pub struct KeptStore {
    path: PathBuf,
}

impl KeptStore {
    /// The store in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join("previous.json"),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, Kept>, RuntimeError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RuntimeError::Refused(format!("{}: unreadable: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(RuntimeError::Unavailable(format!(
                "{}: {e}",
                self.path.display()
            ))),
        }
    }

    fn store(&self, kept: &BTreeMap<String, Kept>) -> Result<(), RuntimeError> {
        let path = &self.path;
        let tmp = path.with_extension("json.tmp");
        let io = |e: std::io::Error| RuntimeError::Unavailable(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let bytes = serde_json::to_vec_pretty(kept)
            .map_err(|e| RuntimeError::Unavailable(format!("{}: {e}", path.display())))?;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Remembers (fsynced) what is kept for `name`.
    pub fn remember(&self, name: &str, k: Kept) -> Result<(), RuntimeError> {
        let mut all = self.load()?;
        all.insert(name.to_owned(), k);
        self.store(&all)
    }

    /// What is remembered for `name`.
    pub fn recall(&self, name: &str) -> Result<Option<Kept>, RuntimeError> {
        Ok(self.load()?.remove(name))
    }

    /// Forgets `name`.
    pub fn forget(&self, name: &str) -> Result<(), RuntimeError> {
        let mut all = self.load()?;
        if all.remove(name).is_some() {
            self.store(&all)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_map_to_their_service() {
        assert_eq!(previous_name("kafka-01"), "kafka-01-kroll-prev");
        assert_eq!(next_name("kafka-01"), "kafka-01-kroll-next");
        assert_eq!(service_of("kafka-01-kroll-prev"), Some("kafka-01"));
        assert_eq!(service_of("/kafka-01-kroll-next"), Some("kafka-01"));
        assert_eq!(service_of("kafka-01"), None);
        assert_eq!(service_of("kafka-01-kroll-prevx"), None);
    }

    #[test]
    fn records_round_trip_and_old_records_still_load() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("previous.json"),
            r#"{"a":{"restart_policy":"always","maximum_retry_count":null}}"#,
        )
        .expect("write");
        let s = KeptStore::new(dir.path());
        let old = s.recall("a").expect("load").expect("a");
        assert_eq!(old.operation_id, "");
        let k = Kept {
            restart_policy: "unless-stopped".into(),
            maximum_retry_count: None,
            operation_id: "r/1".into(),
            container_id: "abc".into(),
        };
        s.remember("b", k.clone()).expect("remember");
        assert_eq!(s.recall("b").expect("load"), Some(k));
        s.forget("b").expect("forget");
        assert_eq!(s.recall("b").expect("load"), None);
        assert!(s.recall("a").expect("load").is_some());
    }
}
