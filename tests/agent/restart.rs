//! `RestartContainer` really restarts, honours the graceful timeout, is idempotent per
//! operation id, is audited, and is seen on `WatchEvents`.

use std::time::Duration;

use futures::StreamExt;
use kroll_shared::model::EventKind;
use kroll_tests::{RunningAgent, Spec, TestContainer, allow_node, inspect_json, on_node};

use super::{client, status_of};

#[tokio::test(flavor = "multi_thread")]
async fn restart_restarts_emits_events_and_does_not_repeat_an_operation() {
    let pki = kroll_tests::Pki::new(&["node-r"]);
    let dir = tempfile::tempdir().expect("tmp");
    let c = TestContainer::start(
        "r1",
        Spec {
            labels: on_node("node-r"),
            args: vec!["--stop-delay-ms".into(), "300".into()],
            ..Default::default()
        },
    )
    .await;
    let agent = RunningAgent::start(&pki, "node-r", allow_node("node-r"), dir.path()).await;
    let mut cl = client(&pki, "coordinator", &agent).await;
    let mut events = cl.watch(vec![c.name.clone()]).await.expect("watch");
    let before = c.started_at();

    let r = cl
        .restart("op-1", &c.name, Duration::from_secs(10))
        .await
        .expect("restart");
    let after = c.started_at();
    assert_ne!(before, after, "Docker saw a new start");
    assert_eq!(
        r.started_at_unix_ms,
        kroll_shared::time::parse_rfc3339_ms(&after)
    );
    assert!(!r.killed_after_timeout && !r.replayed);
    assert!(
        r.stop_duration_ms >= 300,
        "the container's own 300 ms shutdown was waited for: {}",
        r.stop_duration_ms
    );
    assert_eq!(
        r.container.as_ref().map(|c| c.status.as_str()),
        Some("running")
    );

    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("event");
        assert_eq!(e.container_name, c.name);
        kinds.push(e.kind);
    }
    assert_eq!(
        kinds[0],
        EventKind::Stopped {
            signal: "SIGTERM".into()
        }
    );
    assert!(
        matches!(
            kinds[1],
            EventKind::Died {
                exit_code: 0,
                oom_killed: false
            }
        ),
        "{kinds:?}"
    );
    assert!(matches!(kinds[2], EventKind::Started { .. }), "{kinds:?}");

    // The same operation id again (a coordinator retrying after a crash): no second restart.
    let again = cl
        .restart("op-1", &c.name, Duration::from_secs(10))
        .await
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(again.started_at_unix_ms, r.started_at_unix_ms);
    assert_eq!(c.started_at(), after, "not restarted twice");
    // The id cannot be reused for another container.
    let err = cl
        .restart("op-1", "other", Duration::from_secs(1))
        .await
        .expect_err("conflict");
    assert!(
        err.to_string().contains("no managed container `other`")
            || err.to_string().contains("already used"),
        "{err}"
    );

    let audit = std::fs::read_to_string(&agent.audit).expect("audit");
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let ours: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["operation_id"] == "op-1" && l["phase"] != "refused")
        .collect();
    assert_eq!(
        ours.len(),
        2,
        "one begin and one end, the replay acted on nothing: {audit}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["phase"] == "refused" && l["container"] == "other"),
        "{audit}"
    );
    assert_eq!(
        (ours[0]["phase"].as_str(), ours[1]["phase"].as_str()),
        (Some("begin"), Some("end"))
    );
    assert_eq!(ours[1]["outcome"], "ok");
    assert_eq!(ours[1]["peer"], "coordinator");
    assert_eq!(ours[1]["container"], c.name.as_str());
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_that_ignores_sigterm_is_killed_after_the_timeout() {
    let pki = kroll_tests::Pki::new(&["node-k"]);
    let dir = tempfile::tempdir().expect("tmp");
    let stubborn = TestContainer::start(
        "k1",
        Spec {
            labels: on_node("node-k"),
            args: vec!["--ignore-sigterm".into()],
            ..Default::default()
        },
    )
    .await;
    let agent = RunningAgent::start(&pki, "node-k", allow_node("node-k"), dir.path()).await;
    let mut cl = client(&pki, "coordinator", &agent).await;
    let r = cl
        .restart("op-k", &stubborn.name, Duration::from_secs(2))
        .await
        .expect("restart");
    assert!(r.killed_after_timeout, "{r:?}");
    assert!(
        (2000..10_000).contains(&r.stop_duration_ms),
        "stopped after the 2 s timeout: {} ms",
        r.stop_duration_ms
    );
    assert_eq!(inspect_json(&stubborn.name)["State"]["Status"], "running");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_outside_the_allowlist_is_refused_and_untouched() {
    let pki = kroll_tests::Pki::new(&["node-x"]);
    let dir = tempfile::tempdir().expect("tmp");
    let mine = TestContainer::start(
        "x-mine",
        Spec {
            labels: on_node("node-x"),
            ..Default::default()
        },
    )
    .await;
    let other = TestContainer::start(
        "x-other",
        Spec {
            labels: on_node("node-elsewhere"),
            ..Default::default()
        },
    )
    .await;
    let agent = RunningAgent::start(&pki, "node-x", allow_node("node-x"), dir.path()).await;
    let mut cl = client(&pki, "coordinator", &agent).await;
    let before = other.started_at();
    let err = cl
        .restart("op-x", &other.name, Duration::from_secs(5))
        .await
        .expect_err("refused");
    let missing = cl
        .restart("op-y", "no-such-container-anywhere", Duration::from_secs(5))
        .await
        .expect_err("missing");
    // A hidden container and a missing one get the same answer: its existence does not leak.
    let (hidden, absent) = (status_of(&err), status_of(&missing));
    assert_eq!(hidden.0, tonic::Code::NotFound, "{err}");
    assert_eq!(absent.0, hidden.0, "{missing}");
    assert_eq!(
        absent.1.replace("no-such-container-anywhere", "X"),
        hidden.1.replace(&other.name, "X"),
        "the same words"
    );
    assert!(
        hidden.1.contains(&format!(
            "no managed container `{}` on node `node-x`",
            other.name
        )),
        "{err}"
    );
    assert_eq!(other.started_at(), before, "untouched");
    // An operation id of megabytes is refused, and costs the audit log a bounded line.
    let audit_before = std::fs::metadata(&agent.audit)
        .map(|m| m.len())
        .unwrap_or(0);
    let huge = "x".repeat(3_000_000);
    let err = cl
        .restart(&huge, &mine.name, Duration::from_secs(5))
        .await
        .expect_err("a huge id is refused");
    assert_eq!(status_of(&err).0, tonic::Code::InvalidArgument, "{err}");
    let err = cl
        .restart("op z\n", &mine.name, Duration::from_secs(5))
        .await
        .expect_err("an id outside the charset is refused");
    assert_eq!(status_of(&err).0, tonic::Code::InvalidArgument, "{err}");
    // A flood of image references in one call is refused before Docker is asked.
    let many: Vec<String> = (0..100_000)
        .map(|i| format!("kroll-test/none:{i}"))
        .collect();
    let err = cl
        .images_present(&many)
        .await
        .expect_err("100,000 references are refused");
    assert_eq!(status_of(&err).0, tonic::Code::InvalidArgument, "{err}");
    let grown = std::fs::metadata(&agent.audit)
        .map(|m| m.len())
        .unwrap_or(0)
        - audit_before;
    assert!(grown < 4096, "the refusals took {grown} bytes of audit");
    let audit = std::fs::read_to_string(&agent.audit).expect("audit");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"refused\"") && l.contains(&other.name)),
        "refusal audited: {audit}"
    );
    drop(mine);
    agent.stop().await;
}
