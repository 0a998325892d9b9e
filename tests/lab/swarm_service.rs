//! `UpdateService` / `RestoreService` (issue 13, item 1) on the real Swarm lab, over mTLS to
//! the real agents: the manager's agent updates a broker's service under the same rules as a
//! container recreate (role, allowlist, audit, operation ids, error codes), a worker's agent
//! refuses naming its node, the saved spec is kept in the swarm where another manager's agent
//! finds it (the first manager's agent lost, the coordinator goes to the next manager, which
//! recognises an update already sent under the same operation id and restores what the first
//! saved), and an update whose task cannot start is put back (`ABORTED`).

use std::time::Duration;

use kroll::agents::{AgentCallError, AgentClient, CallErrorKind};
use kroll::upgrade::actions::on_manager;
use kroll_lab::state::LabState;
use kroll_lab::swarm::SwarmState;
use kroll_shared::inventory::Inventory;
use kroll_shared::model::EnvPatch;
use tonic::Code;

use super::TestLab;
use super::swarm::docker_at;

fn code_of(e: &AgentCallError) -> (Code, String) {
    match &e.kind {
        CallErrorKind::Refused(s) => (s.code(), s.message().to_owned()),
        other => panic!("expected an answer from the agent, got {other}"),
    }
}

/// The running tasks of service `svc`: (task id, image).
fn running(manager: &str, svc: &str) -> Vec<(String, String)> {
    docker_at(
        manager,
        &[
            "service",
            "ps",
            svc,
            "--no-trunc",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.ID}} {{.Image}} {{.CurrentState}}",
        ],
    )
    .lines()
    .filter(|l| l.contains(" Running "))
    .map(|l| {
        let mut w = l.split_whitespace();
        (
            w.next().unwrap_or_default().to_owned(),
            w.next().unwrap_or_default().to_owned(),
        )
    })
    .collect()
}

/// The spec's environment, image, stop grace and labels of service `svc`.
fn spec_of(manager: &str, svc: &str) -> serde_json::Value {
    let json = docker_at(manager, &["service", "inspect", svc]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("service inspect");
    v[0]["Spec"].clone()
}

fn env_of(spec: &serde_json::Value) -> Vec<String> {
    spec["TaskTemplate"]["ContainerSpec"]["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect()
}

/// How many specs are saved for service `svc` (Swarm configs labelled with it).
fn saved_configs(manager: &str, svc: &str) -> usize {
    docker_at(
        manager,
        &[
            "config",
            "ls",
            "-q",
            "--filter",
            &format!("label=io.kroll.saved-service={svc}"),
        ],
    )
    .lines()
    .filter(|l| !l.trim().is_empty())
    .count()
}

fn audit(dir: &std::path::Path, node: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("agents").join(format!("{node}-audit.log")))
        .expect("audit log")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Run by `lab::swarm` on its lab (one Swarm lab serves both): ends with node 1 demoted.
pub(super) async fn a_managers_agent_updates_and_restores_stack_services_under_the_agents_rules(
    lab: &TestLab,
) {
    let name = lab.name().to_owned();
    let dir = lab.handle.dir.clone();
    let swarm = SwarmState::load(&dir).expect("swarm.json").expect("swarm");
    let manager = swarm.layout.docker_host(1);
    let inv = Inventory::load(&lab.handle.inventory).expect("inventory");
    let tls = inv.tls.load().expect("coordinator TLS");
    let connect = async |node: &str, tls: &kroll_shared::tls::TlsMaterial| {
        AgentClient::connect(
            inv.node(node).expect("node in the inventory"),
            tls,
            Duration::from_secs(5),
        )
        .await
        .expect("connect")
    };
    let mut m = connect("rhodrylab-01", &tls).await;
    let mut w = connect("rhodrylab-04", &tls).await;
    let svc = format!("{name}_kafka-02");
    let set = |k: &str, v: &str| EnvPatch {
        set: [(k.to_owned(), v.to_owned())].into(),
        ..EnvPatch::default()
    };
    let stop = Duration::from_secs(30);
    let before = running(&manager, &svc);
    assert_eq!(before.len(), 1, "{before:?}");
    let old_image = before[0].1.clone();

    // Refusals change nothing and say why.
    let e = w
        .update_service("t/worker", &svc, "", &set("A", "1"), None, stop)
        .await
        .expect_err("a worker refuses");
    let (code, msg) = code_of(&e);
    assert_eq!(code, Code::FailedPrecondition, "{msg}");
    assert!(
        msg.contains("rhodrylab-04") && msg.contains("not a Docker Swarm manager"),
        "{msg}"
    );
    let reader = kroll_shared::tls::TlsFiles {
        ca: inv.tls.ca.clone(),
        cert: dir.join("certs").join("reader.pem"),
        key: dir.join("certs").join("reader-key.pem"),
    }
    .load()
    .expect("reader TLS");
    let mut r = connect("rhodrylab-01", &reader).await;
    let (code, msg) = code_of(
        &r.update_service("t/reader", &svc, "", &set("A", "1"), None, stop)
            .await
            .expect_err("a reader may not"),
    );
    assert_eq!(code, Code::PermissionDenied, "{msg}");

    // DescribeStack: the coordinator role, on a manager, for an allowed stack; no value leaves
    // the node, each is a MAC under the caller's nonce that only the same value matches.
    let (code, msg) = code_of(&r.describe_stack(&name).await.expect_err("reader"));
    assert_eq!(code, Code::PermissionDenied, "{msg}");
    let (code, msg) = code_of(&w.describe_stack(&name).await.expect_err("worker"));
    assert_eq!(code, Code::FailedPrecondition, "{msg}");
    let (code, msg) = code_of(&m.describe_stack("other").await.expect_err("not allowed"));
    assert_eq!(code, Code::NotFound, "{msg}");
    assert!(msg.contains("stack `other` is not managed"), "{msg}");
    let described = m.describe_stack(&name).await.expect("describe");
    let k2 = described
        .services
        .iter()
        .find(|s| s.name == svc)
        .expect("kafka-02 described");
    let entry = |key: &str| {
        k2.env
            .iter()
            .find_map(|e| e.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in {:?}", k2.env))
    };
    assert!(described.same_value("2", entry("KAFKA_BROKER_ID")));
    assert!(!described.same_value("3", entry("KAFKA_BROKER_ID")));
    let all = format!("{:?}", described.services);
    assert!(
        !all.contains("PLAINTEXT") && !all.contains("zookeeper-01:2181"),
        "values left the node: {all}"
    );
    let again = m.describe_stack(&name).await.expect("describe");
    assert_ne!(again.nonce, described.nonce, "a fresh nonce per call");
    for (op, service, env, want) in [
        (
            "t/none",
            format!("{name}_nope"),
            set("A", "1"),
            Code::NotFound,
        ),
        (
            "t/other",
            "registry".to_owned(),
            set("A", "1"),
            Code::NotFound,
        ),
        (
            "t/bad-env",
            svc.clone(),
            set("A=B", "1"),
            Code::InvalidArgument,
        ),
    ] {
        let (code, msg) = code_of(
            &m.update_service(op, &service, "", &env, None, stop)
                .await
                .expect_err("refused"),
        );
        assert_eq!(code, want, "{op}: {msg}");
    }
    let (code, msg) = code_of(
        &m.restore_service("t/restore-nothing", &svc, stop)
            .await
            .expect_err("nothing saved"),
    );
    assert_eq!(code, Code::FailedPrecondition, "{msg}");
    assert!(msg.contains("no spec of service"), "{msg}");
    assert_eq!(
        running(&manager, &svc),
        before,
        "no refusal touched the task"
    );

    // An update: one new task, the environment sorted, the grace period raised, labelled.
    let up = m
        .update_service("t/pin", &svc, "", &set("KROLL_TEST_PIN", "3.1"), None, stop)
        .await
        .expect("update");
    eprintln!("[swarm] UpdateService {svc}: {} ms", up.elapsed_ms);
    assert!(!up.replayed);
    assert_eq!(up.previous_image, up.image);
    let after = running(&manager, &svc);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after[0].0, before[0].0, "a new task runs");
    assert_eq!(after[0].0, up.task_id);
    let spec = spec_of(&manager, &svc);
    let env = env_of(&spec);
    assert!(env.contains(&"KROLL_TEST_PIN=3.1".to_owned()), "{env:?}");
    let mut sorted = env.clone();
    sorted.sort();
    assert_eq!(env, sorted, "written sorted");
    assert_eq!(spec["Labels"]["kroll.operation-id"], "t/pin");
    assert!(
        spec["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"]
            .as_u64()
            .is_some_and(|g| g >= 30_000_000_000),
        "{spec}"
    );
    assert_eq!(spec["UpdateConfig"]["Order"], "stop-first");
    assert_eq!(spec["UpdateConfig"]["FailureAction"], "pause");

    // The same operation id again: the recorded answer, nothing done.
    let again = m
        .update_service("t/pin", &svc, "", &set("KROLL_TEST_PIN", "3.1"), None, stop)
        .await
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(again.task_id, up.task_id);
    assert_eq!(running(&manager, &svc), after);
    let (code, msg) = code_of(
        &m.restore_service("t/pin", &svc, stop)
            .await
            .expect_err("an id used for another action"),
    );
    assert_eq!(code, Code::AlreadyExists, "{msg}");

    // What the update saved is in the swarm, one config, where every manager finds it.
    assert_eq!(saved_configs(&manager, &svc), 1, "one saved spec");

    // Three managers; the first one's agent is lost. The coordinator goes to the next manager
    // whose agent answers, which has no record of `t/pin` but sees from the service's label
    // that it was sent: no second task, and nothing saved over the spec a rollback needs.
    // Then a restore there re-applies what the first manager's agent saved.
    assert_eq!(swarm.managers, 3, "the lab's default");
    let mut state = LabState::load(&dir).expect("lab state").expect("lab state");
    let rec = state
        .agents
        .iter_mut()
        .find(|a| a.node == "rhodrylab-01")
        .expect("manager's agent");
    assert!(kroll_lab::agents::stop(rec).await, "agent stopped");
    let swarm_inv = inv.swarm.as_ref().expect("the lab's inventory has [swarm]");
    let pin = set("KROLL_TEST_PIN", "3.1");
    let (svc_ref, pin) = (svc.as_str(), &pin);
    let resent = on_manager(&inv, &tls, swarm_inv, |mut m| async move {
        m.update_service("t/pin", svc_ref, "", pin, None, stop)
            .await
    })
    .await
    .expect("the same operation through another manager");
    assert_eq!(resent.node, "rhodrylab-02");
    assert!(!resent.replayed, "manager 2 had no record of it");
    assert_eq!(resent.task_id, up.task_id, "no second task");
    assert_eq!(resent.previous_image, up.previous_image);
    assert_eq!(running(&manager, &svc), after);
    assert_eq!(saved_configs(&manager, &svc), 1, "nothing saved again");
    let back = on_manager(&inv, &tls, swarm_inv, |mut m| async move {
        m.restore_service("t/restore", svc_ref, stop).await
    })
    .await
    .expect("restore");
    assert_eq!(back.node, "rhodrylab-02");
    eprintln!("[swarm] RestoreService {svc}: {} ms", back.elapsed_ms);
    let restored = running(&manager, &svc);
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(restored[0].0, back.task_id);
    let spec = spec_of(&manager, &svc);
    assert!(
        !env_of(&spec)
            .iter()
            .any(|e| e.starts_with("KROLL_TEST_PIN=")),
        "{spec}"
    );
    assert_eq!(spec["Labels"]["kroll.operation-id"], "t/restore");
    assert_eq!(saved_configs(&manager, &svc), 0, "a restore consumes it");
    let (code, msg) = code_of(
        &on_manager(&inv, &tls, swarm_inv, |mut m| async move {
            m.restore_service("t/restore-twice", svc_ref, stop).await
        })
        .await
        .expect_err("consumed"),
    );
    assert_eq!(code, Code::FailedPrecondition, "{msg}");

    // Manager 1's agent is back.
    let ns = kroll_lab::swarm::hosts::Layout::ns_path(&swarm.layout.node_ns(1));
    *rec = kroll_lab::agents::spawn_in(
        &kroll_tests::bin("kroll-agent"),
        &rec.node.clone(),
        rec.addr,
        &rec.config.clone(),
        Some(&ns),
    )
    .await
    .expect("agent back");
    state.save(&dir).expect("lab state saved");
    let mut m = connect("rhodrylab-01", &tls).await;

    // An image that cannot run: the saved spec is put back, ABORTED, the old task runs again.
    let bad = format!("{}/kafka:does-not-exist", lab.handle.spec.registry);
    let (code, msg) = code_of(
        &m.update_service("t/bad-image", &svc, &bad, &EnvPatch::default(), None, stop)
            .await
            .expect_err("put back"),
    );
    assert_eq!(code, Code::Aborted, "{msg}");
    let put_back = running(&manager, &svc);
    assert_eq!(put_back.len(), 1, "{put_back:?}");
    assert_eq!(put_back[0].1, old_image, "{msg}");

    // The managers' audit logs: begin and end for each action, refusals recorded.
    let log = audit(&dir, "rhodrylab-01");
    let log2 = audit(&dir, "rhodrylab-02");
    let of_in = |log: &[serde_json::Value], op: &str| -> Vec<String> {
        log.iter()
            .filter(|e| e["operation_id"] == op)
            .map(|e| {
                format!(
                    "{} {} {}",
                    e["action"].as_str().unwrap_or_default(),
                    e["phase"].as_str().unwrap_or_default(),
                    e["outcome"].as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    let of = |op: &str| of_in(&log, op);
    assert_eq!(
        of("t/pin"),
        ["update-service begin ", "update-service end ok"]
    );
    assert_eq!(of("t/bad-env").len(), 1, "a refusal: {:?}", of("t/bad-env"));
    assert_eq!(
        of_in(&log2, "t/pin"),
        ["update-service begin ", "update-service end ok"]
    );
    assert_eq!(
        of_in(&log2, "t/restore"),
        ["restore-service begin ", "restore-service end ok"]
    );
    assert_eq!(of("t/bad-image").len(), 2);

    // A manager demoted out of the managers: its agent refuses service actions as no manager,
    // before anything is done, and the coordinator goes to the next manager.
    docker_at(&manager, &["node", "demote", "rhodrylab-01"]);
    // (While it steps down, its engine answers 503 "control.sock: no such file" for a moment.)
    let e = kroll_tests::eventually(
        "rhodrylab-01's agent to refuse as no manager",
        Duration::from_secs(30),
        async || {
            m.describe_stack(&name)
                .await
                .err()
                .filter(|e| e.not_a_manager())
        },
    )
    .await;
    assert!(e.to_string().contains("rhodrylab-01"), "{e}");
    let stack = name.as_str();
    let described = on_manager(&inv, &tls, swarm_inv, |mut m| async move {
        m.describe_stack(stack).await
    })
    .await
    .expect("the next manager describes the stack");
    assert!(
        described.services.iter().any(|s| s.name == svc),
        "{:?}",
        described.services
    );
}
