//! The one environment patch of kroll: renames, removals and settings of a container's
//! environment variables.
//!
//! The agent applies it to a container's `KEY=value` entries ([`EnvPatch::apply`]), the
//! Connect worker rewrite (`kroll-migrate`) produces it over an environment map
//! ([`EnvPatch::apply_env`]), the upgrade plan carries it, and the stack-file edits
//! (`kroll-stack`) write it. A crate of its own so that the pure crates and the wire-facing
//! `kroll-shared` share it without depending on each other.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A container environment: variable → value.
pub type Env = BTreeMap<String, String>;

/// Changes to a container's environment: renames first (the value moves, the old name goes),
/// then removals, then settings; applying a patch twice gives what applying it once gives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvPatch {
    /// Variables to set (added or replaced).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Variables to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Old name → new name; the value is kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rename: BTreeMap<String, String>,
}

impl EnvPatch {
    /// `true` when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty() && self.rename.is_empty()
    }

    /// A patch that sets one variable.
    pub fn setting(key: &str, value: &str) -> Self {
        Self {
            set: BTreeMap::from([(key.to_owned(), value.to_owned())]),
            ..Self::default()
        }
    }

    /// Adds `name` to the removals, which stay sorted and without repeats.
    pub fn remove_var(&mut self, name: &str) {
        if let Err(at) = self.remove.binary_search_by(|r| r.as_str().cmp(name)) {
            self.remove.insert(at, name.to_owned());
        }
    }

    /// Applies the patch to `KEY=value` entries, keeping the order of untouched entries and
    /// appending new ones in key order.
    pub fn apply(&self, entries: &[String]) -> Vec<String> {
        let mut out: Vec<(String, String)> = entries
            .iter()
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        for (from, to) in &self.rename {
            if let Some(i) = out.iter().position(|(k, _)| k == from) {
                let value = out.remove(i).1;
                out.retain(|(k, _)| k != to);
                out.insert(i.min(out.len()), (to.clone(), value));
            }
        }
        out.retain(|(k, _)| !self.remove.contains(k));
        for (k, v) in &self.set {
            match out.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = v.clone(),
                None => out.push((k.clone(), v.clone())),
            }
        }
        out.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The environment map with the patch applied.
    pub fn apply_env(&self, env: &Env) -> Env {
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

    /// One line per change (`~ OLD -> NEW`, `- NAME`, `+ NAME=value`), each set value as
    /// `shown` gives it (the caller masks secrets).
    pub fn describe(&self, shown: impl Fn(&str, &str) -> String) -> String {
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
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch() -> EnvPatch {
        EnvPatch {
            set: BTreeMap::from([
                ("CONNECT_LISTENERS".into(), "http://0.0.0.0:8083".into()),
                ("A".into(), "2".into()),
            ]),
            remove: vec!["GONE".into()],
            rename: BTreeMap::from([(
                "ADVERTISED_HOST_NAME".into(),
                "CONNECT_REST_ADVERTISED_HOST_NAME".into(),
            )]),
        }
    }

    #[test]
    fn env_patches_rename_then_remove_then_set() {
        let patch = patch();
        let before = [
            "A=1",
            "ADVERTISED_HOST_NAME=connect-01",
            "GONE=x",
            "KEEP=y=z",
        ]
        .map(String::from);
        let after = patch.apply(&before);
        assert_eq!(
            after,
            [
                "A=2",
                "CONNECT_REST_ADVERTISED_HOST_NAME=connect-01",
                "KEEP=y=z",
                "CONNECT_LISTENERS=http://0.0.0.0:8083"
            ]
        );
        assert_eq!(patch.apply(&after), after, "applying twice = once");
        assert!(EnvPatch::default().is_empty());
    }

    #[test]
    fn entries_and_maps_are_patched_alike() {
        let cases: &[&[(&str, &str)]] = &[
            &[("A", "1"), ("ADVERTISED_HOST_NAME", "c"), ("GONE", "x")],
            &[
                ("ADVERTISED_HOST_NAME", "c"),
                ("CONNECT_REST_ADVERTISED_HOST_NAME", "old"),
            ],
            &[("KEEP", "y")],
            &[],
        ];
        for case in cases {
            let env: Env = case
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let entries: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut from_entries: Vec<String> = patch().apply(&entries);
            from_entries.sort();
            let from_map: Vec<String> = patch()
                .apply_env(&env)
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            assert_eq!(from_entries, from_map, "{case:?}");
        }
    }

    #[test]
    fn removals_stay_sorted_without_repeats() {
        let mut p = EnvPatch::default();
        for name in ["B", "A", "C", "A"] {
            p.remove_var(name);
        }
        assert_eq!(p.remove, ["A", "B", "C"]);
    }

    #[test]
    fn describe_lists_every_change_with_values_as_shown() {
        let text = patch().describe(|k, v| if k == "A" { "***".into() } else { v.into() });
        assert_eq!(
            text,
            "~ ADVERTISED_HOST_NAME -> CONNECT_REST_ADVERTISED_HOST_NAME\n- GONE\n+ A=***\n+ CONNECT_LISTENERS=http://0.0.0.0:8083"
        );
    }

    #[test]
    fn empty_fields_are_left_out_of_json_and_optional_in_it() {
        let json = serde_json::to_string(&EnvPatch::setting("X", "1")).expect("json");
        assert_eq!(json, r#"{"set":{"X":"1"}}"#);
        let back: EnvPatch = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, EnvPatch::setting("X", "1"));
    }
}
