//! Quiesce and resume against the in-memory Connect and Kafka.

use std::time::Duration;

use super::*;
use crate::connect::fake::{FakeConnect, FakeConnector};
use crate::connect::handover::Migrated;
use crate::connect::record::QuiescePhase;
use crate::connect::resume::{ResumeError, ResumeOptions, resume};
use crate::kafka::fake::FakeKafka;
use crate::progress::quiet;

fn fast() -> QuiesceOptions {
    QuiesceOptions {
        lag_timeout: Duration::from_millis(150),
        state_timeout: Duration::from_millis(150),
        poll: Duration::from_millis(1),
        method: None,
    }
}

fn source(target: TargetState) -> FakeConnector {
    FakeConnector::new(
        ConnectorType::Source,
        target,
        &[(
            "connector.class",
            "io.debezium.connector.mysql.MySqlConnector",
        )],
    )
}

fn sink(topics: &str) -> FakeConnector {
    FakeConnector::new(
        ConnectorType::Sink,
        TargetState::Running,
        &[("topics", topics)],
    )
}

/// The lab's shape: two sources (one the operator paused), two sinks (one with its own group).
fn cluster(version: &str) -> FakeConnect {
    let mut custom = sink("t2");
    custom
        .config
        .insert("consumer.override.group.id".into(), "dwh-group".into());
    FakeConnect::new(
        version,
        vec![
            ("src-a", source(TargetState::Running)),
            ("src-paused", source(TargetState::Paused)),
            ("sink-a", sink("t1")),
            ("sink-b", custom),
        ],
    )
}

async fn run(
    connect: &FakeConnect,
    kafka: &FakeKafka,
    options: &QuiesceOptions,
) -> (Result<QuiesceRecord, QuiesceError>, Vec<QuiescePhase>) {
    let mut phases = Vec::new();
    let mut checkpoint = |r: &QuiesceRecord| {
        phases.push(r.phase);
        Ok(())
    };
    let result = quiesce(connect, kafka, options, None, &mut checkpoint, &quiet).await;
    (result, phases)
}

#[tokio::test]
async fn the_halt_method_follows_the_workers_versions() {
    type Case<'a> = (
        &'a [Option<&'a str>],
        Option<HaltMethod>,
        Result<HaltMethod, ()>,
    );
    let cases: [Case<'_>; 6] = [
        (&[Some("7.1.1-ccs")], None, Ok(HaltMethod::Pause)),
        (&[Some("7.7.1-ccs")], None, Ok(HaltMethod::Stop)),
        (
            &[Some("7.7.1-ccs"), Some("7.1.1-ccs")],
            None,
            Ok(HaltMethod::Pause),
        ),
        (&[Some("7.7.1-ccs"), None], None, Ok(HaltMethod::Pause)),
        (&[Some("7.1.1-ccs")], Some(HaltMethod::Stop), Err(())),
        (
            &[Some("7.7.1-ccs")],
            Some(HaltMethod::Pause),
            Ok(HaltMethod::Pause),
        ),
    ];
    for (versions, forced, expected) in cases {
        let mut connect = cluster("7.7.1-ccs");
        connect.versions = versions.iter().map(|v| v.map(str::to_owned)).collect();
        let options = QuiesceOptions {
            method: forced,
            ..fast()
        };
        let (result, _) = run(&connect, &FakeKafka::default(), &options).await;
        match (result, expected) {
            (Ok(record), Ok(method)) => assert_eq!(record.method, method, "{versions:?}"),
            (Err(QuiesceError::StopUnsupported { worker, .. }), Err(())) => {
                assert_eq!(worker, "connect-01")
            }
            (other, _) => panic!("{versions:?} {forced:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn sources_halt_first_sinks_after_their_lag_reaches_zero() {
    let connect = cluster("7.7.1-ccs");
    let kafka = FakeKafka::default()
        .lag("connect-sink-a", &[5, 3, 0])
        .lag("dwh-group", &[0]);
    let (result, phases) = run(&connect, &kafka, &fast()).await;
    let record = result.expect("quiesced");
    assert_eq!(
        connect.calls(),
        ["stopped src-a", "stopped sink-a", "stopped sink-b"]
    );
    assert_eq!(phases.first(), Some(&QuiescePhase::HaltingSources));
    assert_eq!(phases.last(), Some(&QuiescePhase::Quiesced));
    assert!(
        phases.contains(&QuiescePhase::WaitingForSinks)
            && phases.contains(&QuiescePhase::HaltingSinks)
    );
    let paused = record
        .connectors
        .iter()
        .find(|c| c.name == "src-paused")
        .expect("recorded");
    assert!(
        !paused.halted_by_kroll(),
        "the operator's paused connector is left alone"
    );
    assert_eq!(
        record
            .sink_lag
            .iter()
            .map(|l| l.group.as_str())
            .collect::<Vec<_>>(),
        ["connect-sink-a", "dwh-group"]
    );
    assert!(record.sink_lag.iter().all(|l| l.total() == 0));
}

#[tokio::test]
async fn a_stuck_sink_halts_with_its_group_topic_partitions_and_lag() {
    let connect = cluster("7.1.1-ccs");
    let kafka = FakeKafka::default().lag("connect-sink-a", &[42]);
    let (result, phases) = run(&connect, &kafka, &fast()).await;
    let err = result.expect_err("stuck");
    let text = err.to_string();
    for part in [
        "sink-a",
        "group connect-sink-a",
        "lag 42",
        "t1[0: 42 (committed 100, end 142)]",
        "sources stay halted",
    ] {
        assert!(text.contains(part), "{part:?} missing: {text}");
    }
    let QuiesceError::SinksLagging { record, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(record.phase, QuiescePhase::WaitingForSinks);
    assert_eq!(connect.calls(), ["paused src-a"], "sinks keep running");
    assert_eq!(phases.last(), Some(&QuiescePhase::WaitingForSinks));
}

#[tokio::test]
async fn a_rerun_keeps_what_the_first_run_halted_as_krolls() {
    let connect = cluster("7.7.1-ccs");
    let stuck = FakeKafka::default().lag("connect-sink-a", &[9]);
    let (first, _) = run(&connect, &stuck, &fast()).await;
    let QuiesceError::SinksLagging { record, .. } = first.expect_err("stuck") else {
        panic!()
    };
    let mut ignore = |_: &QuiesceRecord| Ok(());
    let second = quiesce(
        &connect,
        &FakeKafka::default(),
        &fast(),
        Some(&record),
        &mut ignore,
        &quiet,
    )
    .await
    .expect("second run");
    let src = second
        .connectors
        .iter()
        .find(|c| c.name == "src-a")
        .expect("src-a");
    assert!(
        src.halted_by_kroll(),
        "src-a is STOPPED now, but kroll stopped it"
    );
    assert_eq!(src.state_before, State::Running);
}

#[tokio::test]
async fn nothing_is_halted_when_the_record_cannot_be_saved() {
    let connect = cluster("7.7.1-ccs");
    let mut failing = |_: &QuiesceRecord| Err("disk full".to_owned());
    let err = quiesce(
        &connect,
        &FakeKafka::default(),
        &fast(),
        None,
        &mut failing,
        &quiet,
    )
    .await
    .expect_err("no record");
    assert!(
        matches!(err, QuiesceError::Checkpoint(ref m) if m == "disk full"),
        "{err}"
    );
    assert!(connect.calls().is_empty());
}

#[tokio::test]
async fn a_connector_that_does_not_halt_in_time_is_named() {
    let connect = cluster("7.7.1-ccs");
    connect.with(|s| {
        s.connectors
            .get_mut("src-a")
            .map(|c| c.lagging_polls = 1000)
    });
    let (result, _) = run(&connect, &FakeKafka::default(), &fast()).await;
    let err = result.expect_err("still running");
    assert!(matches!(err, QuiesceError::NotHalted { .. }), "{err}");
    assert!(err.to_string().contains("src-a: RUNNING"), "{err}");
}

async fn quiesced(connect: &FakeConnect) -> QuiesceRecord {
    run(connect, &FakeKafka::default(), &fast())
        .await
        .0
        .expect("quiesced")
}

fn resume_fast() -> ResumeOptions {
    ResumeOptions {
        timeout: Duration::from_millis(150),
        poll: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn resume_restarts_sources_then_sinks_and_nothing_the_operator_halted() {
    let connect = cluster("7.7.1-ccs");
    let record = quiesced(&connect).await;
    connect.with(|s| s.calls.clear());
    let report = resume(&connect, &record, &resume_fast(), &[], &quiet)
        .await
        .expect("resumed");
    assert_eq!(
        connect.calls(),
        ["running src-a", "running sink-a", "running sink-b"]
    );
    assert_eq!(report.left_alone, ["src-paused"]);
    assert!(
        report
            .resumed
            .iter()
            .all(|c| c.status == "RUNNING, tasks 0 RUNNING"),
        "{report:?}"
    );
    // Resuming again is harmless.
    resume(&connect, &record, &resume_fast(), &[], &quiet)
        .await
        .expect("again");
}

#[tokio::test]
async fn a_source_failing_after_resume_is_reported_with_its_trace_and_sinks_wait() {
    let connect = cluster("7.7.1-ccs");
    let record = quiesced(&connect).await;
    connect.with(|s| {
        s.calls.clear();
        s.fail_on_resume.insert("src-a".into(), "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler\n\tcaused by 409 error code: 409".into());
    });
    let err = resume(&connect, &record, &resume_fast(), &[], &quiet)
        .await
        .expect_err("failed");
    let text = err.to_string();
    assert!(
        text.contains("src-a (RUNNING, tasks 0 FAILED)") && text.contains("Tolerance exceeded"),
        "{text}"
    );
    assert!(
        text.contains("--allow-incompatible-values"),
        "409 hint: {text}"
    );
    assert!(text.contains("not resumed yet: sink-a, sink-b"), "{text}");
    assert!(matches!(err, ResumeError::Failed { .. }));
    assert_eq!(connect.calls(), ["running src-a"], "no sink was resumed");
}

#[tokio::test]
async fn a_connector_failed_before_the_quiesce_does_not_block_resume() {
    let connect = cluster("7.7.1-ccs");
    connect.with(|s| {
        s.connectors
            .get_mut("src-a")
            .map(|c| c.failed = Some("old failure".into()))
    });
    let record = quiesced(&connect).await;
    assert_eq!(
        record
            .connectors
            .iter()
            .find(|c| c.name == "src-a")
            .map(|c| c.state_before),
        Some(State::Running)
    );
    let mut record = record;
    record
        .connectors
        .iter_mut()
        .filter(|c| c.name == "src-a")
        .for_each(|c| c.state_before = State::Failed);
    let report = resume(&connect, &record, &resume_fast(), &[], &quiet)
        .await
        .expect("resumed");
    assert!(
        report
            .resumed
            .iter()
            .any(|c| c.name == "src-a" && c.failed_before)
    );
}

#[tokio::test]
async fn a_connector_slow_to_run_times_out_naming_it() {
    let connect = cluster("7.7.1-ccs");
    let record = quiesced(&connect).await;
    connect.with(|s| {
        s.connectors
            .get_mut("sink-b")
            .map(|c| c.lagging_polls = 1000)
    });
    let err = resume(&connect, &record, &resume_fast(), &[], &quiet)
        .await
        .expect_err("slow");
    assert!(matches!(err, ResumeError::NotRunning { .. }), "{err}");
    assert!(err.to_string().contains("sink-b: STOPPED"), "{err}");
}

/// Debezium 3.0's start-up check of a task config: a 1.9 config has no `topic.prefix`.
fn debezium30(config: &kroll_migrate::Config) -> Option<String> {
    let debezium = config.get("connector.class").map(String::as_str)
        == Some("io.debezium.connector.mysql.MySqlConnector");
    (debezium && !config.contains_key("topic.prefix")).then(|| {
        "org.apache.kafka.connect.errors.ConnectException: Error configuring an instance of MySqlConnectorTask; check the logs for details\nCaused by: io.debezium.DebeziumException: The 'topic.prefix' value is invalid: A value is required".to_owned()
    })
}

/// The one-pass upgrade: quiesced (paused) on 7.1 workers, the workers now run 7.7
/// (Debezium 3.0), the migration put the 3.0 config while the connector was paused — so its
/// task configs are still the 1.9 ones.
async fn migrated_while_paused() -> (FakeConnect, QuiesceRecord, Vec<Migrated>) {
    let mut connect = cluster("7.1.1-ccs");
    let record = quiesced(&connect).await;
    assert_eq!(record.method, HaltMethod::Pause);
    connect.versions = vec![Some("7.7.1-ccs".into())];
    connect.with(|s| s.task_check = Some(debezium30));
    let before = connect.config("src-a").await.expect("config");
    let mut after = before.clone();
    after.insert("topic.prefix".into(), "p".into());
    connect.put_config("src-a", &after).await.expect("migrate");
    connect.with(|s| s.calls.clear());
    let migrated = vec![Migrated {
        name: "src-a".into(),
        before,
        after,
    }];
    (connect, record, migrated)
}

#[tokio::test]
async fn a_plain_resume_starts_a_connector_migrated_while_paused_on_its_old_task_config() {
    // What Connect does (and kroll did before it looked at task configs): the tasks resume on
    // the 1.9 config and fail on the 3.0 worker.
    let (connect, record, _) = migrated_while_paused().await;
    let err = resume(&connect, &record, &resume_fast(), &[], &quiet)
        .await
        .expect_err("the old task config fails");
    assert!(
        err.to_string()
            .contains("The 'topic.prefix' value is invalid"),
        "{err}"
    );
}

#[tokio::test]
async fn a_connector_migrated_while_paused_resumes_only_on_its_migrated_task_configs() {
    let (connect, record, migrated) = migrated_while_paused().await;
    let report = resume(&connect, &record, &resume_fast(), &migrated, &quiet)
        .await
        .expect("resumed on the migrated config");
    assert_eq!(report.stopped_first, ["src-a"]);
    assert_eq!(
        connect.calls(),
        [
            "stopped src-a",
            "running src-a",
            "running sink-a",
            "running sink-b"
        ],
        "stopped (old task configs dropped) before it was resumed"
    );
    let tasks = connect.tasks("src-a").await.expect("tasks");
    assert_eq!(
        tasks[0].config.get("topic.prefix").map(String::as_str),
        Some("p")
    );
    assert_eq!(
        connect.status("src-a").await.expect("status").summary(),
        "RUNNING, tasks 0 RUNNING"
    );
    // Resuming again (an interrupted upgrade resumed) stops nothing more.
    connect.with(|s| s.calls.clear());
    let again = resume(&connect, &record, &resume_fast(), &migrated, &quiet)
        .await
        .expect("again");
    assert!(again.stopped_first.is_empty(), "{again:?}");
}

#[tokio::test]
async fn old_task_configs_on_workers_that_cannot_stop_halt_before_any_resume() {
    let (mut connect, record, migrated) = migrated_while_paused().await;
    connect.versions = vec![Some("7.4.0-ccs".into())];
    let err = resume(&connect, &record, &resume_fast(), &migrated, &quiet)
        .await
        .expect_err("cannot clear the old task configs");
    let text = err.to_string();
    assert!(
        text.contains("connector src-a") && text.contains("cannot stop connectors"),
        "{text}"
    );
    assert!(
        connect.calls().is_empty(),
        "nothing was resumed: {:?}",
        connect.calls()
    );
}
