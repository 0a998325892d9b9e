//! A patch to a container's environment: renames, removals and settings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::finding::shown;

/// A container environment: variable → value.
pub type Env = BTreeMap<String, String>;

/// Changes to a container environment.
///
/// [`EnvPatch::apply`] applies renames first (the value moves, the old name goes),
/// then removals, then settings; applying a patch twice gives what applying it
/// once gives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnvPatch {
    /// Variables to set (added or replaced).
    pub set: BTreeMap<String, String>,
    /// Variables to remove.
    pub remove: BTreeSet<String>,
    /// Variables to rename: old name → new name.
    pub rename: BTreeMap<String, String>,
}

impl EnvPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty() && self.rename.is_empty()
    }

    /// The environment with the patch applied.
    pub fn apply(&self, env: &Env) -> Env {
        let mut out = env.clone();
        for (from, to) in &self.rename {
            if let Some(value) = out.remove(from) {
                out.insert(to.clone(), value);
            }
        }
        for name in &self.remove {
            out.remove(name);
        }
        for (name, value) in &self.set {
            out.insert(name.clone(), value.clone());
        }
        out
    }
}

impl fmt::Display for EnvPatch {
    /// One line per change (`~ OLD -> NEW`, `- NAME`, `+ NAME=value`), secrets masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        lines.extend(
            self.rename
                .iter()
                .map(|(from, to)| format!("~ {from} -> {to}")),
        );
        lines.extend(self.remove.iter().map(|name| format!("- {name}")));
        lines.extend(
            self.set
                .iter()
                .map(|(name, value)| format!("+ {name}={}", shown(name, value))),
        );
        f.write_str(&lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn patch() -> EnvPatch {
        EnvPatch {
            set: env(&[
                ("CONNECT_LISTENERS", "http://0.0.0.0:8083"),
                ("KEEP", "new"),
            ]),
            remove: ["REST_PORT".to_owned()].into(),
            rename: [("GROUP_ID".to_owned(), "CONNECT_GROUP_ID".to_owned())].into(),
        }
    }

    #[test]
    fn apply_renames_then_removes_then_sets() {
        let before = env(&[
            ("GROUP_ID", "connect"),
            ("REST_PORT", "8083"),
            ("KEEP", "old"),
            ("PATH", "/bin"),
        ]);
        let after = patch().apply(&before);
        assert_eq!(
            after,
            env(&[
                ("CONNECT_GROUP_ID", "connect"),
                ("CONNECT_LISTENERS", "http://0.0.0.0:8083"),
                ("KEEP", "new"),
                ("PATH", "/bin"),
            ])
        );
    }

    #[test]
    fn apply_is_idempotent() {
        let before = env(&[("GROUP_ID", "connect"), ("REST_PORT", "8083")]);
        let once = patch().apply(&before);
        assert_eq!(patch().apply(&once), once);
        assert!(!patch().is_empty());
        assert!(EnvPatch::default().is_empty());
        assert_eq!(EnvPatch::default().apply(&before), before);
    }

    #[test]
    fn display_lists_every_change_and_masks_secrets() {
        let mut p = patch();
        p.set.insert(
            "CONNECT_SASL_JAAS_CONFIG".into(),
            "user=x password=y".into(),
        );
        let text = p.to_string();
        assert!(text.contains("~ GROUP_ID -> CONNECT_GROUP_ID"), "{text}");
        assert!(text.contains("- REST_PORT"), "{text}");
        assert!(text.contains("+ CONNECT_SASL_JAAS_CONFIG=******"), "{text}");
    }
}
