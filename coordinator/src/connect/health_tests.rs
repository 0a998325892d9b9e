use super::*;
use crate::connect::fake::config;
use crate::connect::types::{
    ConnectorState, ConnectorStatus, ConnectorType, TaskState, WorkerInfo,
};

const DEBEZIUM: &str = "io.debezium.connector.mysql.MySqlConnector";
const TRACE_30: &str = "org.apache.kafka.connect.errors.ConnectException: Error configuring an instance of MySqlConnectorTask; check the logs for details\n\tat io.debezium...\nCaused by: io.debezium.DebeziumException: The 'topic.prefix' value is invalid: A value is required";

fn worker(name: &str, version: Option<&str>) -> WorkerProbe {
    WorkerProbe {
        worker: name.into(),
        url: format!("http://{name}:8083"),
        info: version
            .map(|v| WorkerInfo {
                version: v.into(),
                commit: None,
                kafka_cluster_id: None,
            })
            .ok_or_else(|| "connection refused".to_owned()),
    }
}

fn v19() -> Config {
    config(&[
        ("connector.class", DEBEZIUM),
        ("database.server.name", "cdc"),
        ("database.history.kafka.topic", "h"),
    ])
}

fn v30() -> Config {
    config(&[
        ("connector.class", DEBEZIUM),
        ("topic.prefix", "cdc"),
        ("schema.history.internal.kafka.topic", "h"),
    ])
}

fn sink() -> Config {
    config(&[(
        "connector.class",
        "io.confluent.connect.jdbc.JdbcSinkConnector",
    )])
}

fn connector(name: &str, cfg: Config, state: State, tasks: &[(State, Option<&str>)]) -> Connector {
    Connector {
        name: name.into(),
        kind: ConnectorType::Source,
        config: cfg,
        status: ConnectorStatus {
            name: name.into(),
            connector: ConnectorState {
                state,
                worker_id: "connect-01:8083".into(),
                trace: (state == State::Failed).then(|| "boom\nat x".to_owned()),
            },
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(i, (s, trace))| TaskState {
                    id: i32::try_from(i).unwrap_or(0),
                    state: *s,
                    worker_id: format!("connect-0{}:8083", i + 2),
                    trace: trace.map(str::to_owned),
                })
                .collect(),
            kind: ConnectorType::Source,
        },
    }
}

fn obs(workers: Vec<WorkerProbe>, connectors: Vec<Connector>) -> ConnectObservation {
    ConnectObservation {
        workers,
        connectors: Ok(connectors
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect()),
    }
}

#[test]
fn failed_connectors_tasks_and_silent_workers_are_named_problems() {
    let w77 = || {
        vec![
            worker("connect-01", Some("7.7.1-ccs")),
            worker("connect-02", Some("7.7.1-ccs")),
        ]
    };
    let legacy_task = ConnectProblem::Failed {
        connector: "cdc".into(),
        task: Some(0),
        worker: "connect-02:8083".into(),
        error: "org.apache.kafka.connect.errors.ConnectException: Error configuring an instance of MySqlConnectorTask; check the logs for details".into(),
        legacy_config: true,
    };
    let cases: Vec<(&str, ConnectObservation, Vec<ConnectProblem>, &str)> = vec![
        (
            "all running",
            obs(
                w77(),
                vec![
                    connector("cdc", v30(), State::Running, &[(State::Running, None)]),
                    connector(
                        "dwh",
                        sink(),
                        State::Running,
                        &[(State::Running, None), (State::Running, None)],
                    ),
                ],
            ),
            vec![],
            "2/2 workers answering; 2 connector(s): 2 running, 0 paused/stopped; 3/3 tasks running",
        ),
        (
            "paused by someone: not a problem",
            obs(
                w77(),
                vec![connector(
                    "cdc",
                    v30(),
                    State::Paused,
                    &[(State::Paused, None)],
                )],
            ),
            vec![],
            "2/2 workers answering; 1 connector(s): 0 running, 1 paused/stopped; 0/1 tasks running",
        ),
        (
            "a 1.9 config on 3.0 workers (--skip-connect upgrade)",
            obs(
                w77(),
                vec![connector(
                    "cdc",
                    v19(),
                    State::Running,
                    &[(State::Failed, Some(TRACE_30))],
                )],
            ),
            vec![legacy_task.clone()],
            "2/2 workers answering; 1 connector(s): 0 running, 0 paused/stopped; 0/1 tasks running",
        ),
        (
            "a 1.9 config failing on a 7.1 worker for another reason: no migrate hint",
            obs(
                vec![worker("connect-01", Some("7.1.1-ccs"))],
                vec![connector(
                    "cdc",
                    v19(),
                    State::Running,
                    &[(
                        State::Failed,
                        Some("java.lang.OutOfMemoryError: Java heap space"),
                    )],
                )],
            ),
            vec![ConnectProblem::Failed {
                connector: "cdc".into(),
                task: Some(0),
                worker: "connect-02:8083".into(),
                error: "java.lang.OutOfMemoryError: Java heap space".into(),
                legacy_config: false,
            }],
            "1/1 workers answering; 1 connector(s): 0 running, 0 paused/stopped; 0/1 tasks running",
        ),
        (
            "a migrated connector failing (409): no migrate hint",
            obs(
                w77(),
                vec![connector(
                    "cdc",
                    v30(),
                    State::Running,
                    &[(
                        State::Failed,
                        Some(
                            "ConnectException: Tolerance exceeded in error handler\ncaused by error code: 409",
                        ),
                    )],
                )],
            ),
            vec![ConnectProblem::Failed {
                connector: "cdc".into(),
                task: Some(0),
                worker: "connect-02:8083".into(),
                error: "ConnectException: Tolerance exceeded in error handler".into(),
                legacy_config: false,
            }],
            "2/2 workers answering; 1 connector(s): 0 running, 0 paused/stopped; 0/1 tasks running",
        ),
        (
            "the connector itself failed, and a silent worker",
            obs(
                vec![
                    worker("connect-01", Some("7.7.1-ccs")),
                    worker("connect-02", None),
                ],
                vec![connector("dwh", sink(), State::Failed, &[])],
            ),
            vec![
                ConnectProblem::WorkerUnreachable {
                    worker: "connect-02".into(),
                    url: "http://connect-02:8083".into(),
                    error: "connection refused".into(),
                },
                ConnectProblem::Failed {
                    connector: "dwh".into(),
                    task: None,
                    worker: "connect-01:8083".into(),
                    error: "boom".into(),
                    legacy_config: false,
                },
            ],
            "1/2 workers answering; 1 connector(s): 0 running, 0 paused/stopped; 0/0 tasks running",
        ),
        (
            "nobody answers",
            ConnectObservation {
                workers: vec![worker("connect-01", None)],
                connectors: Err("Connect worker connect-01: connection refused".into()),
            },
            vec![
                ConnectProblem::WorkerUnreachable {
                    worker: "connect-01".into(),
                    url: "http://connect-01:8083".into(),
                    error: "connection refused".into(),
                },
                ConnectProblem::Unreachable {
                    error: "Connect worker connect-01: connection refused".into(),
                },
            ],
            "0/1 workers answering; 0 connector(s): 0 running, 0 paused/stopped; 0/0 tasks running",
        ),
    ];
    for (what, o, problems, summary) in cases {
        let h = assess(&o);
        assert_eq!(h.problems, problems, "{what}");
        assert_eq!(h.summary(), summary, "{what}");
        assert_eq!(post_check(&o).is_ok(), problems.is_empty(), "{what}");
    }
    assert_eq!(
        legacy_task.to_string(),
        "Connect task cdc-0 is FAILED on worker connect-02:8083: org.apache.kafka.connect.errors.ConnectException: Error configuring an instance of MySqlConnectorTask; check the logs for details — it still has its Debezium 1.9 config on a Debezium 3.0 worker: migrate it with `kroll connectors migrate` (then restart it)"
    );
}

#[test]
fn the_post_check_failure_names_every_problem_and_the_way_out() {
    let o = obs(
        vec![worker("connect-01", Some("7.7.1-ccs"))],
        vec![
            connector(
                "cdc",
                v19(),
                State::Running,
                &[(State::Failed, Some(TRACE_30))],
            ),
            connector(
                "ct",
                v19(),
                State::Running,
                &[(State::Failed, Some(TRACE_30))],
            ),
        ],
    );
    let e = post_check(&o).expect_err("failed tasks fail the post-check");
    let text = e.to_string();
    for expected in [
        "Connect task cdc-0 is FAILED on worker connect-02:8083",
        "Connect task ct-0 is FAILED",
        "kroll connectors migrate",
        "0/2 tasks running",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in {text}");
    }
    assert!(
        e.advice().contains("kroll connectors migrate"),
        "{}",
        e.advice()
    );
}

#[tokio::test]
async fn a_cluster_with_no_answering_worker_is_not_asked_for_its_connectors() {
    let mut connect = crate::connect::fake::FakeConnect::new("7.7.1-ccs", vec![]);
    connect.versions = vec![None, None];
    let o = observe(&connect).await;
    assert_eq!(o.connectors, Err("no Connect worker answered".to_owned()));
    assert_eq!(
        assess(&o).problems.len(),
        3,
        "two silent workers, no listing"
    );
}
