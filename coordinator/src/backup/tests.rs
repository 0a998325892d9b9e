//! Backup and restore against the in-memory Connect and Schema Registry.

use std::collections::BTreeMap;

use super::*;
use crate::backup::restore_registry::{Current, plan_subject, registration_order};
use crate::connect::ConnectorType;
use crate::connect::fake::{FakeConnect, FakeConnector};
use crate::progress::quiet;
use crate::registry::fake::FakeRegistry;

fn schema(n: u32) -> String {
    format!(r#"{{"type":"record","name":"V{n}","fields":[]}}"#)
}

/// Connectors: a running source, a paused one, a sink. Subjects: `a-value` with 3 versions and
/// its own level, `b-value` with 2, `c-key` with 1; the global level FULL.
fn setup() -> (FakeConnect, FakeRegistry) {
    let connect = FakeConnect::new(
        "7.7.1-ccs",
        vec![
            (
                "src",
                FakeConnector::new(
                    ConnectorType::Source,
                    TargetState::Running,
                    &[("k", "1"), ("name", "src")],
                ),
            ),
            (
                "paused",
                FakeConnector::new(
                    ConnectorType::Source,
                    TargetState::Paused,
                    &[("k", "2"), ("name", "paused")],
                ),
            ),
            (
                "sink",
                FakeConnector::new(
                    ConnectorType::Sink,
                    TargetState::Running,
                    &[("topics", "t"), ("name", "sink")],
                ),
            ),
        ],
    );
    let registry = FakeRegistry::new();
    for n in 1..=3 {
        registry.seed("a-value", &schema(n));
    }
    registry.seed("b-value", &schema(10));
    registry.seed("b-value", &schema(11));
    registry.seed("c-key", &schema(20));
    registry.with(|s| {
        if let Some(a) = s.subjects.get_mut("a-value") {
            a.level = Some("NONE".into());
        }
        s.global = "FULL".into();
    });
    (connect, registry)
}

async fn take(connect: &FakeConnect, registry: &FakeRegistry) -> (tempfile::TempDir, Backup) {
    let dir = tempfile::tempdir().expect("tmp");
    let manifest = backup(connect, registry, dir.path(), &quiet)
        .await
        .expect("backup");
    assert_eq!(
        (manifest.connectors, manifest.subjects, manifest.versions),
        (3, 3, 6)
    );
    let loaded = load(dir.path()).expect("load");
    assert_eq!(loaded.manifest, manifest);
    registry.with(|s| s.calls.clear());
    (dir, loaded)
}

#[tokio::test]
async fn a_backup_round_trips_and_refuses_to_be_overwritten_or_tampered_with() {
    let (connect, registry) = setup();
    let (dir, b) = take(&connect, &registry).await;
    assert_eq!(b.registry.global_compatibility, "FULL");
    let a = b
        .registry
        .subjects
        .iter()
        .find(|s| s.subject == "a-value")
        .expect("a-value");
    assert_eq!(
        (a.versions.len(), a.compatibility.as_deref()),
        (3, Some("NONE"))
    );
    assert_eq!(
        b.connectors
            .iter()
            .find(|c| c.name == "paused")
            .map(|c| c.target),
        Some(TargetState::Paused)
    );
    let again = backup(&connect, &registry, dir.path(), &quiet)
        .await
        .expect_err("exists");
    assert!(matches!(again, BackupError::Exists(_)), "{again}");
    let path = dir.path().join("registry.json");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("FULL", "NONE");
    std::fs::write(&path, text).expect("tamper");
    let err = load(dir.path()).expect_err("tampered");
    assert!(
        err.to_string().contains("differs from the manifest"),
        "{err}"
    );
}

#[tokio::test]
async fn soft_deleted_versions_are_backed_up_marked() {
    let (connect, registry) = setup();
    registry.soft_delete("c-key");
    let dir = tempfile::tempdir().expect("tmp");
    backup(&connect, &registry, dir.path(), &quiet)
        .await
        .expect("backup");
    let b = load(dir.path()).expect("load");
    let c = b
        .registry
        .subjects
        .iter()
        .find(|s| s.subject == "c-key")
        .expect("soft-deleted subject kept");
    assert!(c.versions.iter().all(|v| v.deleted));
}

#[tokio::test]
async fn a_restore_after_destruction_gives_back_configs_states_versions_and_levels() {
    let (connect, registry) = setup();
    let (_dir, b) = take(&connect, &registry).await;
    connect.with(|s| {
        s.connectors.remove("paused");
        s.connectors
            .get_mut("src")
            .map(|c| c.config.insert("k".into(), "changed".into()));
        s.connectors.insert(
            "extra".into(),
            FakeConnector::new(ConnectorType::Source, TargetState::Running, &[]),
        );
    });
    registry.soft_delete("a-value");
    registry.hard_delete("a-value");
    registry.with(|s| s.global = "BACKWARD".into());
    let report = restore(&connect, &registry, &b, RestoreOptions::default(), &quiet)
        .await
        .expect("restore");
    assert!(report.problems().is_empty(), "{:?}", report.problems());
    assert_eq!(
        connect.calls(),
        ["create paused", "paused paused", "put_config src"]
    );
    assert_eq!(report.not_in_backup, ["extra"]);
    let after: BTreeMap<String, String> = connect.with(|s| {
        s.connectors
            .iter()
            .map(|(n, c)| (n.clone(), format!("{:?} {:?}", c.config, c.target)))
            .collect()
    });
    assert_eq!(after["paused"], r#"{"k": "2", "name": "paused"} Paused"#);
    assert_eq!(after["src"], r#"{"k": "1", "name": "src"} Running"#);
    let original: Vec<(i32, i32)> = b.registry.subjects[0]
        .versions
        .iter()
        .map(|v| (v.version, v.id))
        .collect();
    assert_eq!(registry.live("a-value"), original);
    assert_eq!(
        registry.with(|s| (s.subjects["a-value"].level.clone(), s.global.clone())),
        (Some("NONE".into()), "FULL".into())
    );
}

#[tokio::test]
async fn a_dry_run_plans_and_changes_nothing() {
    let (connect, registry) = setup();
    let (_dir, b) = take(&connect, &registry).await;
    connect.with(|s| s.connectors.remove("src"));
    registry.soft_delete("b-value");
    registry.hard_delete("b-value");
    registry.with(|s| s.calls.clear());
    let options = RestoreOptions {
        dry_run: true,
        ..RestoreOptions::default()
    };
    let report = restore(&connect, &registry, &b, options, &quiet)
        .await
        .expect("dry run");
    assert!(connect.calls().is_empty() && registry.with(|s| s.calls.is_empty()));
    let text = report.render_text();
    assert!(text.contains("src: recreate (RUNNING)"), "{text}");
    assert!(
        text.contains("b-value: v1 (id 4) → would register as v1"),
        "{text}"
    );
}

#[tokio::test]
async fn what_cannot_be_restored_exactly_is_reported_precisely() {
    let (connect, registry) = setup();
    let (_dir, b) = take(&connect, &registry).await;
    // Soft-deleted only: the numbers stay taken, re-registration gets new ones.
    registry.soft_delete("b-value");
    // Hard-deleted in a registry that cannot give old ids back.
    registry.with(|s| s.fresh_ids = true);
    registry.soft_delete("c-key");
    registry.hard_delete("c-key");
    let report = restore(&connect, &registry, &b, RestoreOptions::default(), &quiet)
        .await
        .expect("restore");
    let problems = report.problems();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].starts_with("b-value v1 (id 4) came back as v3:"),
        "{problems:?}"
    );
    assert!(
        problems[2].starts_with("c-key v1 (id 6) came back as v1 with id 7"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn a_refused_registration_is_retried_under_none_and_the_level_put_back() {
    let (connect, registry) = setup();
    let (_dir, b) = take(&connect, &registry).await;
    registry.soft_delete("b-value");
    registry.hard_delete("b-value");
    registry.with(|s| {
        s.refuse.insert("b-value".into());
    });
    let report = restore(&connect, &registry, &b, RestoreOptions::default(), &quiet)
        .await
        .expect("restore");
    assert!(report.problems().is_empty(), "{:?}", report.problems());
    let calls = registry.with(|s| s.calls.clone());
    assert_eq!(
        calls,
        [
            "register b-value",
            "register b-value",
            "level b-value NONE",
            "register b-value",
            "level b-value (global)"
        ]
    );
}

#[test]
fn registrations_run_in_id_order_along_each_subjects_versions() {
    let version = |v: i32, id: i32| crate::registry::SchemaVersion {
        subject: String::new(),
        version: v,
        id,
        schema: String::new(),
        schema_type: None,
        references: Vec::new(),
        deleted: false,
    };
    let x = SubjectBackup {
        subject: "x".into(),
        compatibility: None,
        versions: vec![version(1, 5), version(2, 2), version(3, 9)],
    };
    let y = SubjectBackup {
        subject: "y".into(),
        compatibility: None,
        versions: vec![version(1, 3), version(2, 7)],
    };
    let plans = vec![
        plan_subject(&x, &Current::default()),
        plan_subject(&y, &Current::default()),
    ];
    // x's v2 (id 2) cannot precede its v1 (id 5): it runs at 5.
    assert_eq!(
        registration_order(&plans),
        [(1, 0), (0, 0), (0, 1), (1, 1), (0, 2)]
    );
}

#[test]
fn a_subject_plan_distinguishes_present_renumbered_and_deleted_versions() {
    let version = |v: i32, id: i32, deleted: bool| crate::registry::SchemaVersion {
        subject: String::new(),
        version: v,
        id,
        schema: String::new(),
        schema_type: None,
        references: Vec::new(),
        deleted,
    };
    let b = SubjectBackup {
        subject: "s".into(),
        compatibility: Some("NONE".into()),
        versions: vec![
            version(1, 1, false),
            version(2, 2, false),
            version(3, 3, true),
        ],
    };
    let now = Current {
        highest: 4,
        live: [(1, 1)].into_iter().collect(),
        level: None,
    };
    let plan = plan_subject(&b, &now);
    let outcomes: Vec<&VersionOutcome> = plan.versions.iter().map(|v| &v.outcome).collect();
    assert_eq!(
        outcomes,
        [
            &VersionOutcome::Present,
            &VersionOutcome::WouldRegister { version: 5 },
            &VersionOutcome::DeletedInBackup
        ]
    );
    assert_eq!(
        plan.compatibility.map(|c| (c.from, c.to)),
        Some((None, Some("NONE".into())))
    );
}
