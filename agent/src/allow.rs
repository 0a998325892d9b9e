//! Which containers this agent may report and act on.
//!
//! A container is managed when its name is listed in `names`, or when `labels` is not empty
//! and the container carries every one of those labels with the given value. Anything else is
//! invisible to `GetNodeState` and refused by every action, with an error that says why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;

/// The allowlist from the `[allow]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// Container names (without Docker's leading `/`).
    #[serde(default)]
    pub names: BTreeSet<String>,
    /// Labels a container must all carry, with these values.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Allowlist {
    /// `true` when nothing would be allowed.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.labels.is_empty()
    }

    /// Whether a container with this name and these labels is managed.
    pub fn allows(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        let name = name.trim_start_matches('/');
        // The kept previous definition of a container (after a recreate) is managed like it.
        let name = name
            .strip_suffix(crate::kept::PREVIOUS_SUFFIX)
            .unwrap_or(name);
        self.names.contains(name)
            || (!self.labels.is_empty()
                && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v)))
    }
}

impl fmt::Display for Allowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        match (names.is_empty(), labels.is_empty()) {
            (false, false) => write!(
                f,
                "names [{}] or labels [{}]",
                names.join(", "),
                labels.join(", ")
            ),
            (false, true) => write!(f, "names [{}]", names.join(", ")),
            (true, _) => write!(f, "labels [{}]", labels.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_or_all_labels_allow() {
        let allow = Allowlist {
            names: BTreeSet::from(["kafka-01".to_owned()]),
            labels: labels(&[("kroll.node", "n1"), ("kroll.lab", "t")]),
        };
        assert!(allow.allows("/kafka-01", &BTreeMap::new()));
        assert!(allow.allows(
            "x",
            &labels(&[("kroll.node", "n1"), ("kroll.lab", "t"), ("o", "p")])
        ));
        assert!(
            !allow.allows("x", &labels(&[("kroll.node", "n1")])),
            "every label must match"
        );
        assert!(!allow.allows("x", &labels(&[("kroll.node", "n2"), ("kroll.lab", "t")])));
        assert!(!allow.allows("kafka-02", &BTreeMap::new()));
        assert!(
            allow.allows("kafka-01-kroll-prev", &BTreeMap::new()),
            "its kept previous definition"
        );
        assert!(!allow.allows("kafka-02-kroll-prev", &BTreeMap::new()));
    }

    #[test]
    fn no_labels_means_names_only() {
        let allow = Allowlist {
            names: BTreeSet::from(["a".to_owned()]),
            labels: BTreeMap::new(),
        };
        assert!(!allow.allows("b", &labels(&[("anything", "x")])));
        assert_eq!(allow.to_string(), "names [a]");
    }
}
