//! Where edits land, and the edits kroll refuses.

use std::time::Duration;

use kroll_migrate::EnvPatch;

use super::Edit;
use crate::error::EditError;
use crate::spec::StackFile;
use crate::test_support::set as env_set;
use crate::unified_diff;

const SMALL: &str = "\
x-common: &common
  image: reg/app:1 # pinned
  environment: &common-env
    SHARED: 'one'
    PORT: 9101

x-list: &list
  - A=1
  - B

services:
  alpha:
    <<: *common
    hostname: alpha
  beta:
    <<: *common
    environment:
      <<: *common-env
      OWN: \"x\"
  gamma:
    image: reg/other
    environment: *common-env
  delta:
    image: reg/list
    environment:
      - C=3
      - 'D=four'
  epsilon:
    image: reg/list
    environment: *list
  zeta:
    image: reg/list
    environment: *list
";

fn small() -> StackFile {
    StackFile::parse(SMALL, "small.yml").expect("parses")
}

fn svc(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The changed lines of an edit, `-old` / `+new`, without headers or context.
fn changes(edits: &[Edit]) -> Result<Vec<String>, EditError> {
    let file = small();
    let edited = file.edit(edits)?;
    Ok(unified_diff(file.text(), edited.text(), "a", "b")
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_owned)
        .collect())
}

#[test]
fn each_edit_lands_where_it_changes_exactly_the_services_asked() {
    let table: Vec<(&str, Vec<Edit>, Vec<&str>)> = vec![
        (
            "a key every user of the anchor changes is edited in the anchor, keeping quotes",
            vec![Edit::Env {
                services: svc(&["alpha", "beta", "gamma"]),
                patch: env_set(&[("SHARED", "two")]),
            }],
            vec!["-    SHARED: 'one'", "+    SHARED: 'two'"],
        ),
        (
            "a plain integer stays plain when the new value reads back the same",
            vec![Edit::Env {
                services: svc(&["alpha", "beta", "gamma"]),
                patch: env_set(&[("PORT", "9102")]),
            }],
            vec!["-    PORT: 9101", "+    PORT: 9102"],
        ),
        (
            "a plain value that would be retyped is quoted",
            vec![Edit::Env {
                services: svc(&["alpha", "beta", "gamma"]),
                patch: env_set(&[("PORT", "3.10")]),
            }],
            vec!["-    PORT: 9101", "+    PORT: \"3.10\""],
        ),
        (
            "a service with its own environment gets the override there",
            vec![Edit::Env {
                services: svc(&["beta"]),
                patch: env_set(&[("SHARED", "two")]),
            }],
            vec!["+      SHARED: two"],
        ),
        (
            "an inherited environment is created with a merge of its anchor",
            vec![Edit::Env {
                services: svc(&["alpha"]),
                patch: env_set(&[("NEW", "v")]),
            }],
            vec![
                "+    environment:",
                "+      <<: *common-env",
                "+      NEW: v",
            ],
        ),
        (
            "an aliased environment becomes a mapping that merges the alias",
            vec![Edit::Env {
                services: svc(&["gamma"]),
                patch: env_set(&[("NEW", "true")]),
            }],
            vec![
                "-    environment: *common-env",
                "+    environment:",
                "+      <<: *common-env",
                "+      NEW: \"true\"",
            ],
        ),
        (
            "an anchor keeps one meaning even for a service that shadows the key",
            vec![
                Edit::Env {
                    services: svc(&["beta"]),
                    patch: env_set(&[("SHARED", "b")]),
                },
                Edit::Env {
                    services: svc(&["alpha", "gamma"]),
                    patch: env_set(&[("SHARED", "x")]),
                },
            ],
            vec![
                "+    environment:",
                "+      <<: *common-env",
                "+      SHARED: x",
                "+      SHARED: b",
                "-    environment: *common-env",
                "+    environment:",
                "+      <<: *common-env",
                "+      SHARED: x",
            ],
        ),
        (
            "a new key for every user of the anchor goes into the anchor",
            vec![Edit::Env {
                services: svc(&["alpha", "beta", "gamma"]),
                patch: env_set(&[("NEW", "v")]),
            }],
            vec!["+    NEW: v"],
        ),
        (
            "an image shared through a merge is overridden after the merge for one service",
            vec![Edit::Image {
                services: svc(&["alpha"]),
                image: "reg/app:2".into(),
            }],
            vec!["+    image: reg/app:2"],
        ),
        (
            "an image shared by all its users is edited in the anchor, comment kept",
            vec![Edit::Image {
                services: svc(&["alpha", "beta"]),
                image: "reg/app:2".into(),
            }],
            vec![
                "-  image: reg/app:1 # pinned",
                "+  image: reg/app:2 # pinned",
            ],
        ),
        (
            "an own hostname is replaced in place",
            vec![Edit::Hostname {
                services: svc(&["alpha"]),
                hostname: "alpha-1".into(),
            }],
            vec!["-    hostname: alpha", "+    hostname: alpha-1"],
        ),
        (
            "list form: replace keeps quotes, add appends an item",
            vec![Edit::Env {
                services: svc(&["delta"]),
                patch: env_set(&[("D", "4"), ("E", "5")]),
            }],
            vec!["-      - 'D=four'", "+      - 'D=4'", "+      - E=5"],
        ),
        (
            "list form: rename and remove",
            vec![Edit::Env {
                services: svc(&["delta"]),
                patch: EnvPatch {
                    rename: [("C".to_owned(), "CC".to_owned())].into(),
                    remove: ["D".to_owned()].into(),
                    ..EnvPatch::default()
                },
            }],
            vec!["-      - C=3", "-      - 'D=four'", "+      - CC=3"],
        ),
        (
            "a shared list changes when all its users do",
            vec![Edit::Env {
                services: svc(&["epsilon", "zeta"]),
                patch: env_set(&[("B", "2")]),
            }],
            vec!["-  - B", "+  - B=2"],
        ),
        (
            "removing a key defined in an anchor and an override removes both",
            vec![
                Edit::Env {
                    services: svc(&["beta"]),
                    patch: env_set(&[("PORT", "1")]),
                },
                Edit::Env {
                    services: svc(&["alpha", "beta", "gamma"]),
                    patch: EnvPatch {
                        remove: ["PORT".to_owned()].into(),
                        ..EnvPatch::default()
                    },
                },
            ],
            vec!["-    PORT: 9101"],
        ),
        (
            "renaming in the anchor renames for all its users",
            vec![Edit::Env {
                services: svc(&["alpha", "beta", "gamma"]),
                patch: EnvPatch {
                    rename: [("SHARED".to_owned(), "COMMON".to_owned())].into(),
                    ..EnvPatch::default()
                },
            }],
            vec!["-    SHARED: 'one'", "+    COMMON: 'one'"],
        ),
        (
            "a grace period below the least is raised in the service's own block",
            vec![Edit::RaiseStopGracePeriod {
                services: svc(&["gamma"]),
                at_least: Duration::from_secs(90),
            }],
            vec!["+    stop_grace_period: 1m30s"],
        ),
    ];
    for (what, edits, want) in table {
        let got = changes(&edits).unwrap_or_else(|err| panic!("{what}: {err}"));
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn edits_that_would_reach_other_services_are_refused() {
    let shared = changes(&[Edit::Env {
        services: svc(&["alpha"]),
        patch: EnvPatch {
            remove: ["SHARED".to_owned()].into(),
            ..EnvPatch::default()
        },
    }])
    .expect_err("shared");
    let EditError::Shared {
        line, key, others, ..
    } = &shared
    else {
        panic!("{shared}")
    };
    assert_eq!((*line, key.0.as_str()), (4, "x-common.environment"));
    assert_eq!(others, &["beta", "gamma"]);
    assert!(
        shared
            .to_string()
            .starts_with("small.yml:4: x-common.environment: environment variable SHARED"),
        "{shared}"
    );

    let list = changes(&[Edit::Env {
        services: svc(&["epsilon"]),
        patch: env_set(&[("A", "9")]),
    }])
    .expect_err("list");
    assert!(
        matches!(&list, EditError::Shared { others, .. } if others == &["zeta"]),
        "{list}"
    );

    let rename = changes(&[Edit::Env {
        services: svc(&["beta"]),
        patch: EnvPatch {
            rename: [("OWN".to_owned(), "SHARED".to_owned())].into(),
            ..EnvPatch::default()
        },
    }])
    .expect_err("rename target");
    assert!(
        matches!(&rename, EditError::RenameTarget { to, .. } if to == "SHARED"),
        "{rename}"
    );

    let missing = changes(&[Edit::Image {
        services: svc(&["omega"]),
        image: "x".into(),
    }])
    .expect_err("no service");
    assert_eq!(
        missing.to_string(),
        "small.yml: no service \"omega\" in the stack file"
    );
}

#[test]
fn a_grace_period_at_or_above_the_least_is_left_alone() {
    let text = "services:\n  a:\n    image: x\n    stop_grace_period: 5m\n  b:\n    image: x\n    stop_grace_period: 30s\n";
    let file = StackFile::parse(text, "g.yml").expect("parses");
    let raised = file
        .edit(&[Edit::RaiseStopGracePeriod {
            services: svc(&["a", "b"]),
            at_least: Duration::from_secs(120),
        }])
        .expect("raise");
    assert_eq!(raised.text(), text.replace("30s", "2m"));
}

/// Found by the generated-file test: deleting the only line of an anchor left
/// `&env` holding null, and every `<<: *env` then failed to parse.
#[test]
fn removing_the_last_key_of_a_merged_mapping_leaves_it_empty() {
    let text = "x-env: &env\n  A: 1\nservices:\n  s:\n    image: x\n    environment:\n      <<: *env\n      B: 2\n";
    let file = StackFile::parse(text, "r.yml").expect("parses");
    let edited = file
        .edit(&[Edit::Env {
            services: vec!["s".into()],
            patch: EnvPatch {
                remove: ["A".to_owned()].into(),
                ..EnvPatch::default()
            },
        }])
        .expect("remove");
    assert_eq!(
        edited.text(),
        "x-env: &env {}\nservices:\n  s:\n    image: x\n    environment:\n      <<: *env\n      B: 2\n"
    );
}
