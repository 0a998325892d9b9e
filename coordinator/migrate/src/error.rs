//! Errors of the operations that can fail outright (rather than report a finding).

use thiserror::Error;

use crate::env_patch::EnvPatch;

/// A routing transform chain that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouteError {
    /// A RegexRouter without one of its settings.
    #[error("transform {alias:?}: {key} is not set")]
    Missing {
        /// The transform alias.
        alias: String,
        /// The missing key.
        key: String,
    },
    /// A regex that is invalid or uses Java syntax this evaluator does not support
    /// (backreferences, look-around, possessive quantifiers, `\Q…\E`).
    #[error("transform {alias:?}: cannot evaluate regex {pattern:?}: {reason}")]
    Regex {
        /// The transform alias.
        alias: String,
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// A replacement Java's `Matcher.replaceFirst` would reject.
    #[error("transform {alias:?}: invalid replacement {replacement:?}: {reason}")]
    Replacement {
        /// The transform alias.
        alias: String,
        /// The replacement.
        replacement: String,
        /// Why.
        reason: String,
    },
    /// A transform that may change the topic in a way this evaluator does not model.
    #[error(
        "transform {alias:?} ({class}) may change the topic and cannot be evaluated here{detail}"
    )]
    Unsupported {
        /// The transform alias.
        alias: String,
        /// Its class.
        class: String,
        /// Extra detail, starting with `: ` when present.
        detail: String,
    },
}

/// A table filter (`table.include.list`, …) whose pattern cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: cannot evaluate pattern {pattern:?}: {reason}")]
pub struct FilterError {
    /// The config key holding the pattern.
    pub key: String,
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub reason: String,
}

/// One variable present under its old and its new name with different values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvConflict {
    /// The old variable.
    pub from: String,
    /// The variable it would become.
    pub to: String,
}

/// The Connect worker environment cannot be migrated as is.
///
/// Carries the patch as far as it could be computed, so the caller can show it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", describe_env_error(missing, conflicts))]
pub struct EnvError {
    /// Variables cp-kafka-connect refuses to start without, missing after the patch.
    pub missing: Vec<String>,
    /// Variables set under both spellings with different values (kroll picks neither).
    pub conflicts: Vec<EnvConflict>,
    /// The patch without the conflicting variables.
    pub patch: Box<EnvPatch>,
}

fn describe_env_error(missing: &[String], conflicts: &[EnvConflict]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "cp-kafka-connect requires {} (missing after the patch)",
            missing.join(", ")
        ));
    }
    for conflict in conflicts {
        parts.push(format!(
            "both {} and {} are set with different values; kroll picks neither",
            conflict.from, conflict.to
        ));
    }
    parts.join("; ")
}

/// Schema names cannot be predicted for a connector config.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DriftError {
    /// Neither `topic.prefix` nor `database.server.name` is set.
    #[error("neither topic.prefix nor database.server.name is set")]
    NoPrefix,
    /// An adjustment mode the Debezium version in question does not know.
    #[error("{key}={value:?} is not a mode Debezium {version} knows")]
    UnknownMode {
        /// The config key.
        key: String,
        /// Its value.
        value: String,
        /// `1.9` or `3.0`.
        version: &'static str,
    },
    /// A table filter cannot be evaluated.
    #[error(transparent)]
    Filter(#[from] FilterError),
}

/// A connector config that is not a JSON object of scalar values.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// Not JSON.
    #[error("connector config is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not an object.
    #[error("connector config is not a JSON object")]
    NotObject,
    /// A value that is an object, array or null.
    #[error("connector config key {key:?} has a non-scalar value")]
    NonScalar {
        /// The key.
        key: String,
    },
}
