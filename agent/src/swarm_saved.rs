//! The service specs a Swarm update saved for rollback, kept across agent restarts.
//!
//! What `-kroll-prev` is for a container: before `UpdateService` sends a new spec, the spec it
//! replaces is written (atomically, fsynced) to `<state dir>/saved-services.json`, keyed by
//! service, with the operation that saved it. `RestoreService` re-applies it and then forgets
//! it (as a rollback consumes the kept container); a later update of the same service saves
//! over it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bollard::models::ServiceSpec;
use serde::{Deserialize, Serialize};

use crate::runtime::RuntimeError;

/// One saved spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// The update that saved it.
    pub operation_id: String,
    /// The whole spec as the engine had it (inspected without inserted defaults).
    pub spec: ServiceSpec,
}

impl Saved {
    /// The image of the saved spec.
    pub fn image(&self) -> String {
        self.spec
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.clone())
            .unwrap_or_default()
    }
}

/// `saved-services.json`: service name → its saved spec.
#[derive(Debug, Clone)]
pub struct SavedSpecs {
    path: PathBuf,
}

impl SavedSpecs {
    /// The store in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join("saved-services.json"),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, Saved>, RuntimeError> {
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

    fn store(&self, all: &BTreeMap<String, Saved>) -> Result<(), RuntimeError> {
        let path = &self.path;
        let io = |e: std::io::Error| RuntimeError::Unavailable(format!("{}: {e}", path.display()));
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let bytes = serde_json::to_vec_pretty(all)
            .map_err(|e| RuntimeError::Unavailable(format!("{}: {e}", path.display())))?;
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        // The rename itself must survive a crash too.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
    }

    /// Saves (fsynced) `spec` for `service`, replacing what was saved before.
    pub fn remember(&self, service: &str, saved: Saved) -> Result<(), RuntimeError> {
        let mut all = self.load()?;
        all.insert(service.to_owned(), saved);
        self.store(&all)
    }

    /// What is saved for `service`.
    pub fn recall(&self, service: &str) -> Result<Option<Saved>, RuntimeError> {
        Ok(self.load()?.remove(service))
    }

    /// Forgets what is saved for `service`.
    pub fn forget(&self, service: &str) -> Result<(), RuntimeError> {
        let mut all = self.load()?;
        if all.remove(service).is_some() {
            self.store(&all)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{TaskSpec, TaskSpecContainerSpec};

    use super::*;

    fn spec(image: &str) -> ServiceSpec {
        ServiceSpec {
            name: Some("lab_kafka-01".into()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    env: Some(vec!["B=2".into(), "A=1".into()]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_saved_spec_survives_a_new_store_and_is_replaced_then_forgotten() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = SavedSpecs::new(dir.path());
        assert_eq!(s.recall("lab_kafka-01").expect("load"), None);
        let first = Saved {
            operation_id: "run/1".into(),
            spec: spec("r/kafka:7.1.1"),
        };
        s.remember("lab_kafka-01", first.clone()).expect("save");
        // A restarted agent reads the same file.
        let again = SavedSpecs::new(dir.path());
        assert_eq!(again.recall("lab_kafka-01").expect("load"), Some(first));
        let second = Saved {
            operation_id: "run/2".into(),
            spec: spec("r/kafka:7.7.1"),
        };
        again.remember("lab_kafka-01", second).expect("save");
        let got = again.recall("lab_kafka-01").expect("load").expect("saved");
        assert_eq!(got.image(), "r/kafka:7.7.1");
        assert_eq!(got.operation_id, "run/2");
        again.forget("lab_kafka-01").expect("forget");
        assert_eq!(s.recall("lab_kafka-01").expect("load"), None);
    }

    #[test]
    fn an_unreadable_file_is_refused_not_overwritten() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("saved-services.json"), "{not json").expect("write");
        let s = SavedSpecs::new(dir.path());
        assert!(matches!(s.recall("x"), Err(RuntimeError::Refused(_))));
        assert!(
            s.remember(
                "x",
                Saved {
                    operation_id: "o".into(),
                    spec: spec("i"),
                }
            )
            .is_err()
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("saved-services.json")).expect("read"),
            "{not json"
        );
    }
}
