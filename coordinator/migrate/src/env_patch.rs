//! The environment patch ([`EnvPatch`], the one type of `kroll-envpatch`) as this crate shows
//! it: every change on its line, secret values masked.

pub use kroll_envpatch::{Env, EnvPatch};

use crate::finding::shown;

/// One line per change (`~ OLD -> NEW`, `- NAME`, `+ NAME=value`), secrets masked.
pub fn describe_patch(patch: &EnvPatch) -> String {
    patch.describe(|name, value| shown(name, value).to_owned())
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
            remove: vec!["REST_PORT".to_owned()],
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
        let after = patch().apply_env(&before);
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
        let once = patch().apply_env(&before);
        assert_eq!(patch().apply_env(&once), once);
        assert!(!patch().is_empty());
        assert!(EnvPatch::default().is_empty());
        assert_eq!(EnvPatch::default().apply_env(&before), before);
    }

    #[test]
    fn display_lists_every_change_and_masks_secrets() {
        let mut p = patch();
        p.set.insert(
            "CONNECT_SASL_JAAS_CONFIG".into(),
            "user=x password=y".into(),
        );
        let text = describe_patch(&p);
        assert!(text.contains("~ GROUP_ID -> CONNECT_GROUP_ID"), "{text}");
        assert!(text.contains("- REST_PORT"), "{text}");
        assert!(text.contains("+ CONNECT_SASL_JAAS_CONFIG=******"), "{text}");
    }
}
