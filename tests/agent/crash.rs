//! `kill -9` of the agent in the middle of a restart, against the real engine and the real
//! `kroll-agent` binary: recovery at the next start brings the restart to a known end (waiting
//! for the stop Docker still carries out), never restores a kept `-kroll-prev`, records the end,
//! and a retry of the same operation id is refused with instructions instead of acting afresh.

use std::time::{Duration, Instant};

use kroll::agents::AgentClient;

use super::code;
use kroll_tests::{
    AgentProcess, Pki, Spec, TestContainer, docker_cli, inspect_json, on_node, run_id,
};

async fn connect(pki: &Pki, agent: &AgentProcess) -> AgentClient {
    let tls = pki.files("coordinator").load().expect("tls");
    AgentClient::connect(&agent.as_node(), &tls, Duration::from_secs(5))
        .await
        .expect("connect")
}

/// Asks for a restart of `name` under `op` on its own task, waits until the agent has audited
/// its `begin` and Docker has had time to send SIGTERM, then kills the agent with SIGKILL.
async fn kill_mid_restart(pki: &Pki, agent: &mut AgentProcess, name: &str, op: &str) {
    let mut cl = connect(pki, agent).await;
    let (name, op_id) = (name.to_owned(), op.to_owned());
    let call = tokio::spawn(async move { cl.restart(&op_id, &name, Duration::from_secs(5)).await });
    kroll_tests::eventually(
        "the restart's begin in the audit log",
        Duration::from_secs(10),
        async || {
            agent
                .audit_lines()
                .iter()
                .any(|l| l["operation_id"] == op && l["phase"] == "begin")
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    agent.kill9();
    assert!(
        call.await.expect("join").is_err(),
        "the call died with the agent"
    );
}

fn state(name: &str) -> (String, String, String) {
    let i = inspect_json(name);
    (
        i["Id"].as_str().unwrap_or_default().to_owned(),
        i["State"]["Status"].as_str().unwrap_or_default().to_owned(),
        i["State"]["StartedAt"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// A container that ignores SIGTERM (Docker's stop takes its whole 5 s timeout, then kills),
/// the definition an earlier recreate kept beside it (another, older container), and an agent
/// process for `node`.
struct Scene {
    pki: Pki,
    _dir: tempfile::TempDir,
    c: TestContainer,
    kept: TestContainer,
    agent: AgentProcess,
}

async fn scene(node: &str) -> Scene {
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let c = TestContainer::start(
        node,
        Spec {
            labels: on_node(node),
            args: vec!["--ignore-sigterm".into()],
            ..Default::default()
        },
    )
    .await;
    let kept = TestContainer {
        name: format!("{}-kroll-prev", c.name),
    };
    docker_cli(&[
        "create",
        "--name",
        &kept.name,
        "--label",
        &format!("kroll.test.run={}", run_id()),
        "--label",
        &format!("kroll.node={node}"),
        kroll_tests::labbox_image().await,
    ]);
    let agent = AgentProcess::start(&pki, node, dir.path());
    Scene {
        pki,
        _dir: dir,
        c,
        kept,
        agent,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_killed_mid_stop_is_ended_after_dockers_stop_and_its_id_stays_refused() {
    let Scene {
        pki,
        _dir,
        c,
        kept: _kept,
        mut agent,
    } = scene("node-k9a").await;
    let (id, _, first_start) = state(&c.name);
    // Killed while Docker's stop is under way, started again at once (the stop still runs).
    let began = Instant::now();
    kill_mid_restart(&pki, &mut agent, &c.name, "op-1").await;
    assert_eq!(
        state(&c.name).1,
        "running",
        "Docker's stop is still under way"
    );
    agent.spawn();
    // Whatever recovery did, it has done it before serving; wait past the stop's end anyway.
    let stop_over = Duration::from_secs(7);
    if let Some(rest) = stop_over.checked_sub(began.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let (now_id, status, started) = state(&c.name);
    assert_eq!(now_id, id, "the same container");
    assert_eq!(
        status, "running",
        "recovery waited for the stop and started it again"
    );
    assert_ne!(started, first_start, "it was restarted");
    let lines = agent.audit_lines();
    let end = lines
        .iter()
        .find(|l| l["operation_id"] == "op-1" && l["phase"] == "end")
        .unwrap_or_else(|| panic!("recovery recorded the end: {lines:?}"));
    assert_eq!(end["outcome"], "interrupted", "{end}");
    let detail = end["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("waited"), "{detail}");
    // A retry of the same id is refused with instructions; nothing is restarted.
    let mut cl = connect(&pki, &agent).await;
    let err = cl
        .restart("op-1", &c.name, Duration::from_secs(5))
        .await
        .expect_err("an id whose call was interrupted is refused");
    assert_eq!(code(&err), Some(tonic::Code::FailedPrecondition), "{err}");
    assert!(
        err.to_string().contains("retry with a new operation id"),
        "{err}"
    );
    assert_eq!(state(&c.name).2, started, "the retry acted on nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_killed_mid_stop_never_restores_a_kept_container_at_the_next_start() {
    let Scene {
        pki,
        _dir,
        c,
        kept,
        mut agent,
    } = scene("node-k9b").await;
    let (id, _, _) = state(&c.name);
    let kept_id = inspect_json(&kept.name)["Id"].clone();
    // Killed mid-stop; the agent comes back only after Docker's stop finished.
    kill_mid_restart(&pki, &mut agent, &c.name, "op-2").await;
    kroll_tests::eventually("the stop to finish", Duration::from_secs(20), async || {
        (state(&c.name).1 == "exited").then_some(())
    })
    .await;
    agent.spawn();
    let (now_id, status, _) = state(&c.name);
    assert_eq!(
        now_id, id,
        "the container keeps its definition: the kept -kroll-prev is never restored by a restart's recovery"
    );
    assert_eq!(status, "running", "started again on the definition it had");
    let k = inspect_json(&kept.name);
    assert_eq!(k["Id"], kept_id, "the kept container is untouched");
    assert_ne!(k["State"]["Status"], "running");
}
