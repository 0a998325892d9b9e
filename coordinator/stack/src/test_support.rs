//! Helpers shared by the crate's tests.

use kroll_migrate::EnvPatch;

/// A patch that sets these variables.
pub(crate) fn set(pairs: &[(&str, &str)]) -> EnvPatch {
    EnvPatch {
        set: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..EnvPatch::default()
    }
}
