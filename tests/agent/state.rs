//! `GetNodeState` agrees with `docker inspect`, field by field, and shows only what the
//! agent's allowlist allows — two agents, two "nodes", one engine.

use kroll_shared::model::{Container, ContainerStatus};
use kroll_shared::time::parse_rfc3339_ms;
use kroll_tests::{
    RunningAgent, Spec, TestContainer, TestVolume, allow_node, inspect_json, on_node,
};

use super::client;

fn check_against_inspect(c: &Container) {
    let i = inspect_json(&c.name);
    assert_eq!(
        c.id,
        i["Id"].as_str().unwrap_or_default(),
        "id of {}",
        c.name
    );
    assert_eq!(
        format!("/{}", c.name),
        i["Name"].as_str().unwrap_or_default()
    );
    assert_eq!(
        c.image,
        i["Config"]["Image"].as_str().unwrap_or_default(),
        "image of {}",
        c.name
    );
    assert_eq!(
        c.image_id,
        i["Image"].as_str().unwrap_or_default(),
        "image id of {}",
        c.name
    );
    assert_eq!(
        c.status.as_str(),
        i["State"]["Status"].as_str().unwrap_or_default()
    );
    assert_eq!(
        c.started_at_unix_ms,
        parse_rfc3339_ms(i["State"]["StartedAt"].as_str().unwrap_or_default())
    );
    assert_eq!(
        c.finished_at_unix_ms,
        parse_rfc3339_ms(i["State"]["FinishedAt"].as_str().unwrap_or_default())
    );
    assert_eq!(
        i64::from(c.exit_code),
        i["State"]["ExitCode"].as_i64().unwrap_or(-1)
    );
    assert_eq!(
        c.oom_killed,
        i["State"]["OOMKilled"].as_bool().unwrap_or(true)
    );
    assert_eq!(
        i64::from(c.restart_count),
        i["RestartCount"].as_i64().unwrap_or(-1)
    );
    assert_eq!(
        c.hostname,
        i["Config"]["Hostname"].as_str().unwrap_or_default()
    );
    assert_eq!(c.pid, i["State"]["Pid"].as_i64().unwrap_or(-1));
    let mut env_keys: Vec<String> = i["Config"]["Env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str())
                .map(|e| e.split('=').next().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    env_keys.sort();
    assert_eq!(c.env_keys, env_keys, "env keys of {}", c.name);
    let mounts = i["Mounts"].as_array().cloned().unwrap_or_default();
    assert_eq!(c.mounts.len(), mounts.len(), "mounts of {}", c.name);
    for (m, im) in c.mounts.iter().zip(&mounts) {
        assert_eq!(m.source, im["Source"].as_str().unwrap_or_default());
        assert_eq!(
            m.destination,
            im["Destination"].as_str().unwrap_or_default()
        );
        assert_eq!(m.kind, im["Type"].as_str().unwrap_or_default());
        assert!(
            !m.host_mount_point.is_empty(),
            "the agent placed {} on a filesystem",
            m.source
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn node_state_agrees_with_docker_inspect_and_respects_each_allowlist() {
    let pki = kroll_tests::Pki::new(&["node-a", "node-b"]);
    let dir = tempfile::tempdir().expect("tmp");
    let vol = TestVolume::create("a1-data");
    let a1 = TestContainer::start(
        "a1",
        Spec {
            labels: on_node("node-a"),
            env: vec![
                "KAFKA_BROKER_ID=1".into(),
                "KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1".into(),
                "SSL_KEY_PASSWORD=hunter2".into(),
                "KAFKA_OPTS=-Djava.security.auth.login.config=/run/secrets/KAFKA_JAAS".into(),
            ],
            volumes: vec![format!("{}:/var/lib/kafka/data", vol.name)],
            hostname: Some("kafka-01".into()),
            ..Default::default()
        },
    )
    .await;
    let a2 = TestContainer::start(
        "a2",
        Spec {
            labels: on_node("node-a"),
            args: vec![
                "--exit-after-ms".into(),
                "10".into(),
                "--exit-code".into(),
                "3".into(),
            ],
            ..Default::default()
        },
    )
    .await;
    let b1 = TestContainer::start(
        "b1",
        Spec {
            labels: on_node("node-b"),
            ..Default::default()
        },
    )
    .await;
    let stranger = TestContainer::start("stranger", Spec::default()).await;

    let agent_a = RunningAgent::start(&pki, "node-a", allow_node("node-a"), dir.path()).await;
    let agent_b = RunningAgent::start(&pki, "node-b", allow_node("node-b"), dir.path()).await;
    let mut ca = client(&pki, "coordinator", &agent_a).await;
    let mut cb = client(&pki, "coordinator", &agent_b).await;

    // a2 exits on its own with code 3; wait until Docker says so.
    kroll_tests::eventually(
        "a2 to exit",
        std::time::Duration::from_secs(10),
        async || (inspect_json(&a2.name)["State"]["Status"] == "exited").then_some(()),
    )
    .await;
    let sa = ca.node_state().await.expect("state a");
    let sb = cb.node_state().await.expect("state b");
    let names = |s: &kroll_shared::model::NodeState| {
        s.containers
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&sa), [a1.name.clone(), a2.name.clone()]);
    assert_eq!(names(&sb), std::slice::from_ref(&b1.name));
    assert!(!names(&sa).contains(&stranger.name) && !names(&sb).contains(&stranger.name));
    assert_eq!(sa.agent.node, "node-a");
    assert!(sa.host.memory_total_bytes > 0 && sa.host.cpu_count > 0);
    assert!(!sa.disks.is_empty());

    for c in sa.containers.iter().chain(&sb.containers) {
        check_against_inspect(c);
    }
    let c1 = sa.container(&a1.name).expect("a1");
    assert_eq!(c1.status, ContainerStatus::Running);
    assert_eq!(c1.env.get("KAFKA_BROKER_ID").map(String::as_str), Some("1"));
    assert_eq!(
        c1.env
            .get("KAFKA_INTER_BROKER_PROTOCOL_VERSION")
            .map(String::as_str),
        Some("3.1")
    );
    assert!(
        c1.env_keys.contains(&"SSL_KEY_PASSWORD".to_owned()),
        "secret keys are named"
    );
    let wire = serde_json::to_string(&sa).expect("json");
    assert!(
        !wire.contains("hunter2") && !wire.contains("/run/secrets/KAFKA_JAAS"),
        "no secret value leaves the node"
    );
    assert_eq!(
        c1.labels.get("kroll.node").map(String::as_str),
        Some("node-a")
    );
    let c2 = sa.container(&a2.name).expect("a2");
    assert_eq!((c2.status, c2.exit_code), (ContainerStatus::Exited, 3));
    assert!(
        sa.data_disk_of(c1).is_some(),
        "a1's volume is placed on a disk"
    );
    agent_a.stop().await;
    agent_b.stop().await;
}
