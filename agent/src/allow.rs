//! Which containers this agent may report and act on.
//!
//! A container is managed when its name is listed in `names`, or when `labels` is not empty
//! and the container carries every one of those labels with the given value. Anything else is
//! invisible to `GetNodeState` and refused by every action, with an error that says why.
//!
//! On a Docker Swarm manager, the services this agent may update (`UpdateService`,
//! `RestoreService`) are those named in `services`, or whose stack (the label
//! `com.docker.stack.namespace` `docker stack deploy` puts on every service) is in `stacks`.
//! Services are listed apart from containers: a manager updates services that run on every
//! node, while its container allowlist names only its own node's containers.

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
    /// Swarm services (`<stack>_<service>`) this agent may update, on a manager.
    #[serde(default)]
    pub services: BTreeSet<String>,
    /// Swarm stacks whose every service this agent may update, on a manager.
    #[serde(default)]
    pub stacks: BTreeSet<String>,
}

/// The label `docker stack deploy` puts on every service of a stack: the stack's name.
pub const STACK_LABEL: &str = "com.docker.stack.namespace";

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

impl Allowlist {
    /// Whether Swarm service `name` with these (service) labels may be updated.
    pub fn allows_service(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.services.contains(name)
            || labels
                .get(STACK_LABEL)
                .is_some_and(|stack| self.stacks.contains(stack))
    }

    /// The services allowed, for an error message.
    pub fn services_text(&self) -> String {
        let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        match (self.services.is_empty(), self.stacks.is_empty()) {
            (true, true) => "no Swarm service (set `services` or `stacks` in [allow])".into(),
            (false, true) => format!("services [{}]", list(&self.services)),
            (true, false) => format!("the services of stacks [{}]", list(&self.stacks)),
            (false, false) => format!(
                "services [{}] or those of stacks [{}]",
                list(&self.services),
                list(&self.stacks)
            ),
        }
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
            ..Allowlist::default()
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
    fn services_are_allowed_by_name_or_stack_only() {
        let allow = Allowlist {
            labels: labels(&[("kroll.node", "n1")]),
            services: BTreeSet::from(["other_kafka-09".to_owned()]),
            stacks: BTreeSet::from(["lab".to_owned()]),
            ..Allowlist::default()
        };
        assert!(allow.allows_service("lab_kafka-01", &labels(&[(STACK_LABEL, "lab")])));
        assert!(allow.allows_service("other_kafka-09", &BTreeMap::new()));
        assert!(!allow.allows_service("x_kafka-01", &labels(&[(STACK_LABEL, "x")])));
        assert!(
            !allow.allows_service("lab_kafka-01", &labels(&[("kroll.node", "n1")])),
            "the container labels do not allow a service"
        );
        assert!(!Allowlist::default().allows_service("lab_k", &labels(&[(STACK_LABEL, "lab")])));
        assert_eq!(
            allow.services_text(),
            "services [other_kafka-09] or those of stacks [lab]"
        );
    }

    #[test]
    fn no_labels_means_names_only() {
        let allow = Allowlist {
            names: BTreeSet::from(["a".to_owned()]),
            labels: BTreeMap::new(),
            ..Allowlist::default()
        };
        assert!(!allow.allows("b", &labels(&[("anything", "x")])));
        assert_eq!(allow.to_string(), "names [a]");
    }
}
