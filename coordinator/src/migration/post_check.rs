//! The checks after migrated connectors run, as `kroll connectors resume`, `kroll connectors
//! migrate` (connectors that were running) and the upgrade's resume phase run them: put back the
//! compatibility level of every value subject the remedy opened once its connector registered,
//! and verify that no key subject got a new schema id.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::files::{FileError, read_json_if_present, write_json_atomic};
use crate::kafka::KafkaReader;
use crate::progress::Progress;
use crate::registry::RegistryApi;
use crate::registry::drift::{
    DriftCheck, DriftCheckError, DriftCheckOptions, KEY_IDS_FILE, KeyIds, check_key_drift,
};
use crate::registry::values::{REMEDY_FILE, ValueRemedy, close_value_remedy};
use crate::rest::RestError;

/// What the post-resume checks found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostCheck {
    /// Value subjects still at `NONE` (their connector has not registered yet).
    pub remedy_open: Vec<String>,
    /// The key-schema check, when `migrate` recorded ids.
    pub drift: Option<DriftCheck>,
}

/// Why the post-resume checks failed (drift included).
#[derive(Debug, thiserror::Error)]
pub enum PostCheckError {
    #[error(transparent)]
    Drift(#[from] DriftCheckError),
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Files(#[from] FileError),
}

fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<Option<T>, FileError> {
    read_json_if_present(&dir.join(name), |e| e.to_string())
}

/// After the connectors resumed: put back the levels of value subjects the connectors have
/// registered, then (bounded by `options`) verify that no key subject got a new schema id.
pub async fn post_resume_checks(
    registry: &impl RegistryApi,
    kafka: &impl KafkaReader,
    dir: &Path,
    options: &DriftCheckOptions,
    progress: Progress<'_>,
) -> Result<PostCheck, PostCheckError> {
    let mut remedy_open = Vec::new();
    if let Some(mut remedy) =
        read::<ValueRemedy>(dir, REMEDY_FILE)?.filter(|r| !r.open().is_empty())
    {
        close_value_remedy(
            registry,
            &mut remedy,
            options.produce_timeout,
            options.poll,
            progress,
        )
        .await?;
        write_json_atomic(dir, REMEDY_FILE, &remedy)?;
        remedy_open = remedy.open().into_iter().map(str::to_owned).collect();
    }
    let drift = match read::<KeyIds>(dir, KEY_IDS_FILE)? {
        Some(before) => Some(check_key_drift(registry, kafka, &before, options, progress).await?),
        None => None,
    };
    Ok(PostCheck { remedy_open, drift })
}
