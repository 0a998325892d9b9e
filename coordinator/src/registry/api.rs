//! The Schema Registry operations kroll uses, behind a trait (fake in unit tests, the real
//! [`crate::registry::RegistryClient`] against the lab).

use std::future::Future;

use crate::registry::types::{Compatibility, NewSchema, SchemaVersion};
use crate::rest::RestError;

/// A Schema Registry.
pub trait RegistryApi: Sync {
    /// Where the registry is (for manifests and messages).
    fn url(&self) -> &str;

    /// `GET /subjects[?deleted=true]`.
    fn subjects(
        &self,
        deleted: bool,
    ) -> impl Future<Output = Result<Vec<String>, RestError>> + Send;

    /// `GET /subjects/{s}/versions[?deleted=true]`; 404 when the subject has none.
    fn versions(
        &self,
        subject: &str,
        deleted: bool,
    ) -> impl Future<Output = Result<Vec<i32>, RestError>> + Send;

    /// `GET /subjects/{s}/versions/{v}[?deleted=true]`.
    fn version(
        &self,
        subject: &str,
        version: i32,
        deleted: bool,
    ) -> impl Future<Output = Result<SchemaVersion, RestError>> + Send;

    /// The latest live version, or `None` when the subject has none.
    fn latest(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<SchemaVersion>, RestError>> + Send;

    /// `POST /subjects/{s}` (lookup): the live version holding `schema`, if any.
    fn lookup(
        &self,
        subject: &str,
        schema: &NewSchema,
    ) -> impl Future<Output = Result<Option<SchemaVersion>, RestError>> + Send;

    /// `POST /subjects/{s}/versions`: registers `schema`, returns its id.
    fn register(
        &self,
        subject: &str,
        schema: &NewSchema,
    ) -> impl Future<Output = Result<i32, RestError>> + Send;

    /// `GET /config`.
    fn global_compatibility(&self) -> impl Future<Output = Result<String, RestError>> + Send;

    /// `PUT /config`.
    fn set_global_compatibility(
        &self,
        level: &str,
    ) -> impl Future<Output = Result<(), RestError>> + Send;

    /// `GET /config/{s}`: the subject-level compatibility, `None` when it has none.
    fn subject_compatibility(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<String>, RestError>> + Send;

    /// `PUT /config/{s}`.
    fn set_subject_compatibility(
        &self,
        subject: &str,
        level: &str,
    ) -> impl Future<Output = Result<(), RestError>> + Send;

    /// `DELETE /config/{s}` (back to the global level).
    fn delete_subject_compatibility(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<(), RestError>> + Send;

    /// `POST /compatibility/subjects/{s}/versions/latest?verbose=true`.
    fn test_compatibility(
        &self,
        subject: &str,
        schema: &NewSchema,
    ) -> impl Future<Output = Result<Compatibility, RestError>> + Send;
}

/// Sets a subject's compatibility to `level`, or removes its own level when `None`.
pub async fn restore_subject_level(
    registry: &impl RegistryApi,
    subject: &str,
    level: Option<&str>,
) -> Result<(), RestError> {
    match level {
        Some(level) => registry.set_subject_compatibility(subject, level).await,
        None => match registry.delete_subject_compatibility(subject).await {
            // Nothing to remove (already at the global level, or the subject is gone).
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        },
    }
}
