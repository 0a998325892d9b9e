//! `kroll status`: is my cluster healthy? One screen, built from what every agent reports,
//! checked against the inventory.
//!
//! [`assess`] is pure (inventory + agent answers → rows and problems) so it is unit-tested
//! table by table; [`add_services`] adds what Connect and Schema Registry answered (failed
//! connectors and tasks, silent workers, a silent registry are problems); [`render_text`]
//! prints the screen; the JSON form is the [`Status`] value.

use std::time::Duration;

use kroll_shared::inventory::{Inventory, ServiceKind};
use kroll_shared::model::{Container, Health, NodeState};
use kroll_shared::time::{human_bytes, human_duration, now_unix_ms};
use serde::Serialize;

use crate::agents::NodeReport;
use crate::connect::health::{ConnectHealth, ConnectObservation};
use crate::kafka::health::KafkaHealth;
use crate::registry::health::RegistryHealth;

pub(crate) mod jvm;

pub use jvm::HeapCell;

/// Free space below this share of a data filesystem is a problem.
pub const LOW_DISK_PERCENT: f64 = 10.0;

/// The whole answer (this is also `--output json`).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub cluster: String,
    pub observed_at_unix_ms: i64,
    pub nodes: Vec<NodeStatus>,
    pub rows: Vec<Row>,
    pub problems: Vec<String>,
    /// Whether kroll can log in to Kafka and read what its gates need (when the inventory
    /// names `kafka_bootstrap`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaHealth>,
    /// Connect's connectors, tasks and workers (when the inventory gives worker URLs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<ConnectHealth>,
    /// Whether Schema Registry answers (when the inventory gives its URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_registry: Option<RegistryHealth>,
}

/// One node as its agent answered.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub agent: String,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<NodeState>,
}

/// One line of the screen: a container (or an unreachable node).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub node: String,
    pub container: String,
    /// The inventory role, or `unlisted` for a managed container the inventory does not know.
    pub role: String,
    /// Docker state, `missing` when the agent does not report it, `unknown` when the agent
    /// could not be asked.
    pub state: String,
    pub health: String,
    pub uptime_seconds: Option<u64>,
    pub restarts: Option<u32>,
    pub image: String,
    /// The platform version its image's labels state (`None`: no version label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub disk_free_bytes: Option<u64>,
    pub disk_free_percent: Option<f64>,
    /// Heap and GC of the container's JVM (`None`: no JVM found in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap: Option<HeapCell>,
    pub ok: bool,
}

/// Checks every agent's answer against the inventory.
pub fn assess(inv: &Inventory, reports: &[NodeReport<'_>], now_ms: i64) -> Status {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut nodes = Vec::new();
    for r in reports {
        match &r.state {
            Ok(state) => {
                assess_node(r.node, state, now_ms, &mut rows, &mut problems);
                nodes.push(NodeStatus {
                    name: r.node.name.clone(),
                    agent: r.node.agent.clone(),
                    reachable: true,
                    error: None,
                    state: Some(state.clone()),
                });
            }
            Err(e) => {
                problems.push(e.to_string());
                for s in &r.node.services {
                    rows.push(unknown_row(&r.node.name, &s.container, s.kind));
                }
                nodes.push(NodeStatus {
                    name: r.node.name.clone(),
                    agent: r.node.agent.clone(),
                    reachable: false,
                    error: Some(e.kind.to_string()),
                    state: None,
                });
            }
        }
    }
    Status {
        cluster: inv.cluster.name.clone(),
        observed_at_unix_ms: now_ms,
        nodes,
        rows,
        problems,
        kafka: None,
        connect: None,
        schema_registry: None,
    }
}

/// Adds what Kafka, Connect and Schema Registry answered: a refused login or ACL, every failed
/// connector or task, silent worker and a silent registry becomes a problem.
pub fn add_services(
    s: &mut Status,
    kafka: Option<KafkaHealth>,
    connect: Option<&ConnectObservation>,
    registry: Option<RegistryHealth>,
) {
    if let Some(k) = kafka {
        s.problems.extend(k.problem());
        s.kafka = Some(k);
    }
    if let Some(obs) = connect {
        let health = crate::connect::health::assess(obs);
        s.problems
            .extend(health.problems.iter().map(ToString::to_string));
        s.connect = Some(health);
    }
    if let Some(r) = registry {
        s.problems.extend(r.problem());
        s.schema_registry = Some(r);
    }
}

fn assess_node(
    node: &kroll_shared::inventory::Node,
    state: &NodeState,
    now_ms: i64,
    rows: &mut Vec<Row>,
    problems: &mut Vec<String>,
) {
    if state.agent.node != node.name {
        problems.push(format!(
            "node `{}`: the agent at {} says it is node `{}` — inventory and agent disagree",
            node.name, node.agent, state.agent.node
        ));
    }
    for s in &node.services {
        match state.container(&s.container) {
            Some(c) => {
                let row = container_row(&node.name, s.kind.as_str(), c, state, now_ms);
                problems.extend(container_problems(&node.name, &row, c));
                problems.extend(jvm::jvm_problems(&node.name, c));
                rows.push(row);
            }
            None => {
                problems.push(format!(
                    "node `{}`: container `{}` ({}) is not there (not found, or not in the agent's allowlist)",
                    node.name, s.container, s.kind
                ));
                rows.push(Row {
                    state: "missing".into(),
                    ..unknown_row(&node.name, &s.container, s.kind)
                });
            }
        }
    }
    for c in &state.containers {
        if !node.services.iter().any(|s| s.container == c.name) {
            rows.push(container_row(&node.name, "unlisted", c, state, now_ms));
        }
    }
    for d in &state.disks {
        if d.total_bytes > 0 && d.available_percent() < LOW_DISK_PERCENT {
            problems.push(format!(
                "node `{}`: filesystem {} has only {} free ({:.1}%)",
                node.name,
                d.mount_point,
                human_bytes(d.available_bytes),
                d.available_percent()
            ));
        }
    }
}

fn container_row(node: &str, role: &str, c: &Container, state: &NodeState, now_ms: i64) -> Row {
    let disk = state.data_disk_of(c).or_else(|| state.disk_for_path("/"));
    let uptime = (c.is_running() && c.started_at_unix_ms > 0)
        .then(|| u64::try_from((now_ms - c.started_at_unix_ms).max(0) / 1000).unwrap_or(0));
    let ok = c.is_running() && c.health != Health::Unhealthy && c.health != Health::Starting;
    Row {
        node: node.into(),
        container: c.name.clone(),
        role: role.into(),
        state: c.status.as_str().into(),
        health: c.health.as_str().into(),
        uptime_seconds: uptime,
        restarts: Some(c.restart_count),
        image: c.image.clone(),
        version: c.labelled_version().map(str::to_owned),
        disk_free_bytes: disk.map(|d| d.available_bytes),
        disk_free_percent: disk.map(|d| (d.available_percent() * 10.0).round() / 10.0),
        heap: jvm::heap_cell(c),
        ok,
    }
}

fn container_problems(node: &str, row: &Row, c: &Container) -> Option<String> {
    if row.ok {
        return None;
    }
    let mut why = format!(
        "node `{node}`: container `{}` is {}",
        c.name,
        c.status.as_str()
    );
    if !c.is_running() && c.finished_at_unix_ms > 0 {
        why.push_str(&format!(" (exit {}", c.exit_code));
        if c.oom_killed {
            why.push_str(", killed by the kernel OOM killer");
        }
        why.push(')');
    }
    if c.is_running() {
        why = format!(
            "node `{node}`: container `{}` health is {}",
            c.name,
            c.health.as_str()
        );
    }
    Some(why)
}

fn unknown_row(node: &str, container: &str, kind: ServiceKind) -> Row {
    Row {
        node: node.into(),
        container: container.into(),
        role: kind.as_str().into(),
        state: "unknown".into(),
        health: "-".into(),
        uptime_seconds: None,
        restarts: None,
        image: String::new(),
        version: None,
        disk_free_bytes: None,
        disk_free_percent: None,
        heap: None,
        ok: false,
    }
}

/// The screen: a table of containers, then problems, then a one-line verdict.
pub fn render_text(s: &Status) -> String {
    let header = [
        "NODE",
        "CONTAINER",
        "ROLE",
        "STATE",
        "HEALTH",
        "UPTIME",
        "RESTARTS",
        "IMAGE",
        "DISK FREE",
        "HEAP",
        "GC",
    ];
    let mut table: Vec<[String; 11]> = vec![header.map(String::from)];
    for r in &s.rows {
        let (heap, gc) = jvm::render_cells(r.heap.as_ref());
        table.push([
            r.node.clone(),
            r.container.clone(),
            r.role.clone(),
            r.state.clone(),
            r.health.clone(),
            r.uptime_seconds
                .map_or("-".into(), |u| human_duration(Duration::from_secs(u))),
            r.restarts.map_or("-".into(), |n| n.to_string()),
            // What the image says it is; its tag when it says nothing.
            match (&r.version, r.image.is_empty()) {
                (Some(v), _) => v.clone(),
                (None, true) => "-".into(),
                (None, false) => kroll_shared::model::image_tag(&r.image).to_owned(),
            },
            match (r.disk_free_bytes, r.disk_free_percent) {
                (Some(b), Some(p)) => format!("{} ({p:.0}%)", human_bytes(b)),
                _ => "-".into(),
            },
            heap,
            gc,
        ]);
    }
    let mut widths = [0usize; 11];
    for line in &table {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &table {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let mut services = Vec::new();
    if let Some(k) = &s.kafka {
        services.push(format!("Kafka: {}", k.summary()));
    }
    if let Some(c) = &s.connect {
        services.push(format!("Connect: {}", c.summary()));
    }
    if let Some(r) = &s.schema_registry {
        services.push(format!("Schema Registry: {}", r.summary()));
    }
    if !services.is_empty() {
        out.push('\n');
        for line in services {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !s.problems.is_empty() {
        out.push_str("\nProblems:\n");
        for p in &s.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", verdict(s)));
    out
}

/// The last line: what was counted, then OK or the number of problems. Containers the
/// inventory lists are judged (a listed one that is not healthy is always a problem); the
/// others (e.g. `-kroll-prev` containers kept for rollback) are counted apart, never as healthy.
fn verdict(s: &Status) -> String {
    let reachable = s.nodes.iter().filter(|n| n.reachable).count();
    let listed: Vec<&Row> = s.rows.iter().filter(|r| r.role != "unlisted").collect();
    let healthy = listed.iter().filter(|r| r.ok).count();
    let unlisted = s.rows.len() - listed.len();
    let mut line = format!(
        "{}: {reachable}/{} agents reachable, {healthy}/{} listed containers healthy",
        s.cluster,
        s.nodes.len(),
        listed.len()
    );
    if unlisted > 0 {
        line.push_str(&format!(", {unlisted} unlisted (not judged)"));
    }
    if let Some(c) = &s.connect {
        line.push_str(&format!(
            ", {}/{} connectors running, {}/{} tasks running",
            c.running, c.connectors, c.tasks_running, c.tasks
        ));
    }
    if s.problems.is_empty() {
        line.push_str(" — OK");
    } else {
        line.push_str(&format!(" — {} problem(s)", s.problems.len()));
    }
    line
}

/// Now, for callers that do not inject a clock.
pub fn now() -> i64 {
    now_unix_ms()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use kroll_shared::config::Document;
    use kroll_shared::model::{AgentInfo, ContainerStatus, Disk, Host, Mount};

    use super::*;
    use crate::agents::{AgentCallError, CallErrorKind};

    const INV: &str = r#"
[cluster]
name = "lab"
[tls]
ca = "ca.pem"
cert = "c.pem"
key = "k.pem"
[[nodes]]
name = "n1"
agent = "127.0.0.1:1"
services = [
  { kind = "broker", container = "kafka-01", broker_id = 1 },
  { kind = "connect", container = "connect-01" },
  { kind = "kafdrop", container = "kafdrop" },
]
[[nodes]]
name = "n2"
agent = "127.0.0.1:2"
services = [{ kind = "broker", container = "kafka-02", broker_id = 2 }]
"#;

    /// A running container for tests of other modules.
    pub(crate) fn container_fixture(name: &str) -> Container {
        container(name, ContainerStatus::Running, Health::None)
    }

    fn container(name: &str, status: ContainerStatus, health: Health) -> Container {
        Container {
            id: format!("id-{name}"),
            name: name.into(),
            image: "reg/kafka:7.1.1".into(),
            image_id: "sha256:x".into(),
            status,
            health,
            started_at_unix_ms: 1_000,
            finished_at_unix_ms: if status == ContainerStatus::Exited {
                2_000
            } else {
                0
            },
            exit_code: if status == ContainerStatus::Exited {
                137
            } else {
                0
            },
            oom_killed: status == ContainerStatus::Exited,
            restart_count: 2,
            labels: BTreeMap::new(),
            env_keys: vec![],
            env: BTreeMap::new(),
            mounts: vec![Mount {
                source: "/data/kafka".into(),
                destination: "/var/lib/kafka/data".into(),
                kind: "bind".into(),
                read_only: false,
                host_mount_point: "/data".into(),
            }],
            hostname: name.into(),
            pid: 1,
            java: None,
        }
    }

    /// A node state for tests of other modules: `containers` on a node with 100 GiB of data
    /// disk, `data_free` of it free.
    pub(crate) fn state_fixture(
        node: &str,
        containers: Vec<Container>,
        data_free: u64,
    ) -> NodeState {
        state(node, containers, data_free)
    }

    fn state(node: &str, containers: Vec<Container>, data_free: u64) -> NodeState {
        NodeState {
            agent: AgentInfo {
                node: node.into(),
                version: "0".into(),
                docker_version: "20".into(),
                docker_api_version: "1.41".into(),
                started_at_unix_ms: 0,
            },
            host: Host {
                hostname: node.into(),
                uptime_seconds: 1,
                cpu_count: 2,
                cpu_usage_percent: 1.0,
                memory_total_bytes: 1,
                memory_available_bytes: 1,
                load_average: [0.0; 3],
                kernel_version: String::new(),
                os: String::new(),
            },
            disks: vec![Disk {
                mount_point: "/data".into(),
                filesystem: "ext4".into(),
                device: "/dev/sdb".into(),
                total_bytes: 100 << 30,
                available_bytes: data_free,
            }],
            containers,
            observed_at_unix_ms: 0,
        }
    }

    #[test]
    fn every_kind_of_trouble_becomes_a_named_problem() {
        let inv =
            Inventory::from_document(&Document::from_text("inv.toml", INV)).expect("inventory");
        let n1 = state(
            "n1",
            vec![
                container("kafka-01", ContainerStatus::Running, Health::Healthy),
                container("connect-01", ContainerStatus::Exited, Health::None),
                container("stray", ContainerStatus::Running, Health::None),
            ],
            5 << 30,
        );
        let reports = vec![
            NodeReport {
                node: &inv.nodes[0],
                state: Ok(n1),
            },
            NodeReport {
                node: &inv.nodes[1],
                state: Err(AgentCallError {
                    node: "n2".into(),
                    addr: "127.0.0.1:2".into(),
                    kind: CallErrorKind::Unreachable("connection refused".into()),
                }),
            },
        ];
        let s = assess(&inv, &reports, 61_000);
        let row = |c: &str| s.rows.iter().find(|r| r.container == c).expect(c);
        assert_eq!(row("kafka-01").uptime_seconds, Some(60));
        assert!(row("kafka-01").ok);
        assert_eq!(row("kafka-01").disk_free_bytes, Some(5 << 30));
        assert_eq!(row("connect-01").state, "exited");
        assert_eq!(row("kafdrop").state, "missing");
        assert_eq!(row("stray").role, "unlisted");
        assert_eq!(row("kafka-02").state, "unknown");
        let problems = s.problems.join("\n");
        for expected in [
            "container `connect-01` is exited (exit 137, killed by the kernel OOM killer)",
            "container `kafdrop` (kafdrop) is not there",
            "agent on node `n2` (127.0.0.1:2): unreachable: connection refused",
            "filesystem /data has only 5.0 GiB free (5.0%)",
        ] {
            assert!(
                problems.contains(expected),
                "missing `{expected}` in:\n{problems}"
            );
        }
        let text = render_text(&s);
        assert!(
            text.contains(
                "1/2 agents reachable, 1/4 listed containers healthy, 1 unlisted (not judged) — 4 problem(s)"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_agent_answering_for_another_node_is_a_problem() {
        let inv =
            Inventory::from_document(&Document::from_text("inv.toml", INV)).expect("inventory");
        let wrong = state(
            "n9",
            vec![container(
                "kafka-02",
                ContainerStatus::Running,
                Health::None,
            )],
            50 << 30,
        );
        let reports = vec![NodeReport {
            node: &inv.nodes[1],
            state: Ok(wrong),
        }];
        let s = assess(&inv, &reports, 0);
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert!(
            s.problems[0].contains("says it is node `n9`"),
            "{:?}",
            s.problems
        );
    }

    /// Node n1 of [`INV`] alone, with its kafdrop running beside `containers`.
    fn one_node_status(mut containers: Vec<Container>) -> Status {
        containers.push(container("kafdrop", ContainerStatus::Running, Health::None));
        let inv =
            Inventory::from_document(&Document::from_text("inv.toml", INV)).expect("inventory");
        let reports = vec![NodeReport {
            node: &inv.nodes[0],
            state: Ok(state("n1", containers, 50 << 30)),
        }];
        assess(&inv, &reports, 61_000)
    }

    #[test]
    fn the_verdict_says_what_it_counted_and_never_ok_beside_an_unhealthy_listed_container() {
        let running = |n: &str| container(n, ContainerStatus::Running, Health::None);
        let cases: Vec<(&str, Vec<Container>, &str)> = vec![
            (
                "all listed healthy",
                vec![running("kafka-01"), running("connect-01")],
                "lab: 1/1 agents reachable, 3/3 listed containers healthy — OK",
            ),
            (
                "the previous container kept for rollback (unlisted, exited) is not counted as healthy",
                vec![
                    running("kafka-01"),
                    running("connect-01"),
                    container("kafka-01-kroll-prev", ContainerStatus::Exited, Health::None),
                ],
                "lab: 1/1 agents reachable, 3/3 listed containers healthy, 1 unlisted (not judged) — OK",
            ),
            (
                "a listed container unhealthy",
                vec![
                    running("kafka-01"),
                    container("connect-01", ContainerStatus::Running, Health::Unhealthy),
                ],
                "lab: 1/1 agents reachable, 2/3 listed containers healthy — 1 problem(s)",
            ),
        ];
        for (what, containers, expected) in cases {
            let text = render_text(&one_node_status(containers));
            assert!(
                text.ends_with(&format!("\n{expected}\n")),
                "{what}:\n{text}"
            );
        }
    }

    #[test]
    fn failed_connect_tasks_and_a_silent_registry_are_problems() {
        use crate::connect::api::WorkerProbe;
        use crate::connect::health::ConnectObservation;
        use crate::connect::types::{
            Connector, ConnectorState, ConnectorStatus, ConnectorType, State, TaskState, WorkerInfo,
        };
        let config = crate::connect::fake::config(&[
            (
                "connector.class",
                "io.debezium.connector.mysql.MySqlConnector",
            ),
            ("database.server.name", "cdc"),
        ]);
        let failed = Connector {
            name: "cdc".into(),
            kind: ConnectorType::Source,
            config,
            status: ConnectorStatus {
                name: "cdc".into(),
                connector: ConnectorState {
                    state: State::Running,
                    worker_id: "connect-01:8083".into(),
                    trace: None,
                },
                tasks: vec![TaskState {
                    id: 0,
                    state: State::Failed,
                    worker_id: "connect-01:8083".into(),
                    trace: Some("ConnectException: Error configuring an instance of MySqlConnectorTask\nCaused by: The 'topic.prefix' value is invalid".into()),
                }],
                kind: ConnectorType::Source,
            },
        };
        let obs = ConnectObservation {
            workers: vec![WorkerProbe {
                worker: "connect-01".into(),
                url: "http://127.0.0.1:18083".into(),
                info: Ok(WorkerInfo {
                    version: "7.7.1-ccs".into(),
                    commit: None,
                    kafka_cluster_id: None,
                }),
            }],
            connectors: Ok([("cdc".to_owned(), failed)].into_iter().collect()),
        };
        let registry = RegistryHealth {
            url: "http://127.0.0.1:18081".into(),
            compatibility: None,
            error: Some("connection refused".into()),
        };
        let mut s = one_node_status(vec![
            container("kafka-01", ContainerStatus::Running, Health::None),
            container("connect-01", ContainerStatus::Running, Health::None),
        ]);
        add_services(&mut s, None, Some(&obs), Some(registry));
        let text = render_text(&s);
        for expected in [
            "Connect: 1/1 workers answering; 1 connector(s): 0 running, 0 paused/stopped; 0/1 tasks running",
            "Schema Registry: NOT answering (http://127.0.0.1:18081)",
            "  - Connect task cdc-0 is FAILED on worker connect-01:8083: ConnectException: Error configuring an instance of MySqlConnectorTask — it still has its Debezium 1.9 config on a Debezium 3.0 worker: migrate it with `kroll connectors migrate`",
            "  - Schema Registry (http://127.0.0.1:18081) does not answer: connection refused",
            "lab: 1/1 agents reachable, 3/3 listed containers healthy, 0/1 connectors running, 0/1 tasks running — 2 problem(s)",
        ] {
            assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
        }
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(
            json["connect"]["problems"][0]["problem"], "failed",
            "{json}"
        );
        assert_eq!(json["connect"]["problems"][0]["task"], 0, "{json}");
    }
}
