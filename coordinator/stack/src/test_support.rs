//! Helpers shared by the crate's tests.

use kroll_migrate::EnvPatch;

use crate::interpolate::Vars;
use crate::spec::StackFile;

/// The user's stack file, byte for byte from the upgrade journal.
pub(crate) const JOURNAL: &str = include_str!("../testdata/journal-stack.yml");

/// The journal's file, parsed.
pub(crate) fn journal() -> StackFile {
    StackFile::parse(JOURNAL, "journal-stack.yml").expect("the journal's file parses")
}

/// Values for the journal's `${…}` variables (and one a valueless variable takes
/// from the deploying shell).
pub(crate) fn journal_vars() -> Vars {
    [
        ("CI_REGISTRY_IMAGE", "registry.example/bi/rhodry"),
        ("MAXIMUM_BYTES_ALLOWED_PER_MESSAGE", "10485760"),
        ("BOOTSTRAP_SERVERS", "kafka-01:29091,kafka-02:29092"),
        ("CONNECT_REST_PORT", "8083"),
        ("KAFKA_REST_PORT", "8082"),
        ("KAFDROP_PORT", "9000"),
        ("FROM_SHELL", "shell-value"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

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
