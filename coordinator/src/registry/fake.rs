//! An in-memory Schema Registry for unit tests, with Confluent's rules where kroll relies on
//! them: one id per distinct schema, re-registering a live schema returns its version, a
//! soft-deleted schema registered again becomes a new version, version numbers never go back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use crate::registry::api::RegistryApi;
use crate::registry::types::{Compatibility, NewSchema, SchemaVersion};
use crate::rest::RestError;

#[derive(Debug, Clone, Default)]
pub(crate) struct FakeSubject {
    /// (version, id, deleted)
    pub versions: Vec<(i32, i32, bool)>,
    pub level: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct RegistryState {
    pub subjects: BTreeMap<String, FakeSubject>,
    pub schemas: BTreeMap<i32, String>,
    pub global: String,
    pub next_id: i32,
    /// Forget ids of hard-deleted schemas (a registry that cannot preserve ids).
    pub fresh_ids: bool,
    /// Subjects whose registrations are refused (409) unless their level is NONE.
    pub refuse: BTreeSet<String>,
    /// Every mutating call, in order.
    pub calls: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct FakeRegistry {
    pub state: Mutex<RegistryState>,
}

fn not_found(what: &str) -> RestError {
    RestError::answered(
        "Schema Registry",
        "GET",
        what,
        404,
        &format!("{what} not found"),
    )
}

impl FakeRegistry {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(RegistryState {
                global: "BACKWARD".into(),
                next_id: 1,
                ..RegistryState::default()
            }),
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut RegistryState) -> T) -> T {
        f(&mut self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Registers directly (test setup), returning the id.
    pub fn seed(&self, subject: &str, schema: &str) -> i32 {
        self.with(|s| s.register(subject, schema))
            .unwrap_or_else(|e| panic!("seed: {e}"))
    }

    pub fn soft_delete(&self, subject: &str) {
        self.with(|s| {
            s.subjects
                .get_mut(subject)
                .map(|x| x.versions.iter_mut().for_each(|v| v.2 = true))
        });
    }

    pub fn hard_delete(&self, subject: &str) {
        self.with(|s| {
            let gone = s
                .subjects
                .remove(subject)
                .map(|x| x.versions)
                .unwrap_or_default();
            if s.fresh_ids {
                for (_, id, _) in gone {
                    s.schemas.remove(&id);
                }
            }
        });
    }

    pub fn live(&self, subject: &str) -> Vec<(i32, i32)> {
        self.with(|s| {
            s.subjects
                .get(subject)
                .map(|x| {
                    x.versions
                        .iter()
                        .filter(|v| !v.2)
                        .map(|v| (v.0, v.1))
                        .collect()
                })
                .unwrap_or_default()
        })
    }
}

impl RegistryState {
    fn id_of(&self, schema: &str) -> Option<i32> {
        self.schemas
            .iter()
            .find(|(_, s)| s.as_str() == schema)
            .map(|(id, _)| *id)
    }

    fn register(&mut self, subject: &str, schema: &str) -> Result<i32, RestError> {
        self.calls.push(format!("register {subject}"));
        let existing = self.id_of(schema);
        let sub = self.subjects.entry(subject.to_owned()).or_default();
        if let Some(id) = existing.filter(|id| sub.versions.iter().any(|v| v.1 == *id && !v.2)) {
            return Ok(id);
        }
        let level = sub.level.clone().unwrap_or_else(|| self.global.clone());
        let live = sub.versions.iter().any(|v| !v.2);
        if self.refuse.contains(subject) && level != "NONE" && live {
            return Err(RestError::answered(
                "Schema Registry",
                "POST",
                subject,
                409,
                "Schema being registered is incompatible with an earlier schema",
            ));
        }
        let id = existing.unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        });
        self.schemas.insert(id, schema.to_owned());
        let sub = self.subjects.entry(subject.to_owned()).or_default();
        let version = sub.versions.iter().map(|v| v.0).max().unwrap_or(0) + 1;
        sub.versions.push((version, id, false));
        Ok(id)
    }

    fn version(
        &self,
        subject: &str,
        version: i32,
        deleted: bool,
    ) -> Result<SchemaVersion, RestError> {
        let sub = self
            .subjects
            .get(subject)
            .ok_or_else(|| not_found(subject))?;
        let (v, id, del) = *sub
            .versions
            .iter()
            .find(|v| v.0 == version && (deleted || !v.2))
            .ok_or_else(|| not_found(subject))?;
        Ok(SchemaVersion {
            subject: subject.to_owned(),
            version: v,
            id,
            schema: self.schemas.get(&id).cloned().unwrap_or_default(),
            schema_type: None,
            references: Vec::new(),
            deleted: del,
        })
    }
}

impl RegistryApi for FakeRegistry {
    fn url(&self) -> &str {
        "fake://registry"
    }

    async fn subjects(&self, deleted: bool) -> Result<Vec<String>, RestError> {
        Ok(self.with(|s| {
            s.subjects
                .iter()
                .filter(|(_, x)| {
                    !x.versions.is_empty() && (deleted || x.versions.iter().any(|v| !v.2))
                })
                .map(|(n, _)| n.clone())
                .collect()
        }))
    }

    async fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, RestError> {
        self.with(|s| {
            let v: Vec<i32> = s
                .subjects
                .get(subject)
                .map(|x| {
                    x.versions
                        .iter()
                        .filter(|v| deleted || !v.2)
                        .map(|v| v.0)
                        .collect()
                })
                .unwrap_or_default();
            if v.is_empty() {
                Err(not_found(subject))
            } else {
                Ok(v)
            }
        })
    }

    async fn version(
        &self,
        subject: &str,
        version: i32,
        deleted: bool,
    ) -> Result<SchemaVersion, RestError> {
        self.with(|s| s.version(subject, version, deleted))
    }

    async fn latest(&self, subject: &str) -> Result<Option<SchemaVersion>, RestError> {
        self.with(|s| {
            let Some(v) = s
                .subjects
                .get(subject)
                .and_then(|x| x.versions.iter().rev().find(|v| !v.2))
            else {
                return Ok(None);
            };
            s.version(subject, v.0, false).map(Some)
        })
    }

    async fn lookup(
        &self,
        subject: &str,
        schema: &NewSchema,
    ) -> Result<Option<SchemaVersion>, RestError> {
        self.with(|s| {
            let Some(id) = s.id_of(&schema.schema) else {
                return Ok(None);
            };
            let Some(v) = s
                .subjects
                .get(subject)
                .and_then(|x| x.versions.iter().find(|v| v.1 == id && !v.2))
            else {
                return Ok(None);
            };
            s.version(subject, v.0, false).map(Some)
        })
    }

    async fn register(&self, subject: &str, schema: &NewSchema) -> Result<i32, RestError> {
        self.with(|s| s.register(subject, &schema.schema))
    }

    async fn global_compatibility(&self) -> Result<String, RestError> {
        Ok(self.with(|s| s.global.clone()))
    }

    async fn set_global_compatibility(&self, level: &str) -> Result<(), RestError> {
        self.with(|s| {
            s.calls.push(format!("global {level}"));
            s.global = level.to_owned();
        });
        Ok(())
    }

    async fn subject_compatibility(&self, subject: &str) -> Result<Option<String>, RestError> {
        Ok(self.with(|s| s.subjects.get(subject).and_then(|x| x.level.clone())))
    }

    async fn set_subject_compatibility(&self, subject: &str, level: &str) -> Result<(), RestError> {
        self.with(|s| {
            s.calls.push(format!("level {subject} {level}"));
            s.subjects.entry(subject.to_owned()).or_default().level = Some(level.to_owned());
        });
        Ok(())
    }

    async fn delete_subject_compatibility(&self, subject: &str) -> Result<(), RestError> {
        self.with(|s| {
            s.calls.push(format!("level {subject} (global)"));
            match s.subjects.get_mut(subject) {
                Some(x) if x.level.is_some() => {
                    x.level = None;
                    Ok(())
                }
                _ => Err(not_found(subject)),
            }
        })
    }

    async fn test_compatibility(
        &self,
        subject: &str,
        _schema: &NewSchema,
    ) -> Result<Compatibility, RestError> {
        let refused = self.with(|s| {
            s.refuse.contains(subject)
                && s.subjects
                    .get(subject)
                    .and_then(|x| x.level.clone())
                    .as_deref()
                    != Some("NONE")
        });
        Ok(Compatibility {
            is_compatible: !refused,
            messages: if refused {
                vec!["{errorType:'NAME_MISMATCH'}".into()]
            } else {
                Vec::new()
            },
        })
    }
}
