//! The upgrade of a Docker Swarm stack, as production runs it: the Swarm lab (five engines, three
//! managers, the stack deployed from its stack file) rolled 7.1.1 → 7.7.1 by `kroll upgrade`,
//! every step a service update through a manager's agent, the coordinator SIGKILLed at ≥ 10
//! points and resumed each time, watched on all five engines by the independent observer. The
//! agents run the second way the README offers: one global Swarm service in a stack of its own,
//! reading JVM heaps through the host's `/proc` — and the upgrade never restarts them. The
//! brokers have the journal's security (`--security sasl`: SASL listeners, ACLs, the JAAS file a
//! Swarm secret), so kroll's gates, samples and lag reads log in over SASL_EXT as `kroll`.

use std::time::{Duration, Instant};

use kroll_lab::swarm::SwarmState;
use kroll_lab::topology::{LAB_SECRET_KEY, LAB_SECRET_VALUE, Security, Services};

use super::observer::Observer;
use super::{
    FAST, Started, assert_two_safe_rolls, journal_text, kill_and_resume, kroll, kroll_cmd,
    orders_topic, run_dirs, text,
};
use crate::lab::TestLab;
use crate::lab::swarm::{docker_at, running_tasks, stack_deploy};

/// Kill points: the coordinator is SIGKILLed once its journal has grown by this many events since
/// it started (run start, phase starts, step intents — mid-update — and step ends), then resumed.
const KILL_AFTER_EVENTS: [usize; 12] = [3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 4, 5];

/// (image, IBP) of a service's spec, as the manager holds it.
fn service_spec(manager: &str, service: &str) -> (String, Option<String>) {
    let spec: serde_json::Value = serde_json::from_str(&docker_at(
        manager,
        &[
            "service",
            "inspect",
            service,
            "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec}}",
        ],
    ))
    .expect("container spec JSON");
    let ibp = spec["Env"].as_array().and_then(|e| {
        e.iter().filter_map(|v| v.as_str()).find_map(|v| {
            v.strip_prefix("KAFKA_INTER_BROKER_PROTOCOL_VERSION=")
                .map(str::to_owned)
        })
    });
    (spec["Image"].as_str().unwrap_or_default().to_owned(), ibp)
}

/// `kroll upgrade --to 7.7.1`, refused at pre-flight (exit 1): what it said.
fn refused_upgrade(inv: &std::path::Path, runs_arg: &str) -> String {
    let refused = kroll(
        inv,
        &["upgrade", "--to", "7.7.1", "--yes", "--runs", runs_arg],
    );
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    said
}

/// The tasks of stack `lab` whose containers run now (IDs, sorted).
fn actually_running(manager: &str, lab: &str) -> Vec<String> {
    let mut ids: Vec<String> = docker_at(
        manager,
        &[
            "stack",
            "ps",
            lab,
            "--no-trunc",
            "--format",
            "{{.ID}} {{.CurrentState}}",
        ],
    )
    .lines()
    .filter(|l| l.contains(" Running "))
    .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
    .collect();
    ids.sort();
    ids
}

/// The image the running task of service `service` runs.
fn tasks_image(manager: &str, service: &str) -> String {
    docker_at(
        manager,
        &[
            "service",
            "ps",
            service,
            "--no-trunc",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Image}}",
        ],
    )
    .lines()
    .next()
    .unwrap_or_default()
    .to_owned()
}

/// The running tasks of service `service` (IDs, sorted).
fn running_tasks_of(manager: &str, service: &str) -> Vec<String> {
    let mut ids: Vec<String> = docker_at(
        manager,
        &[
            "service",
            "ps",
            service,
            "-q",
            "--no-trunc",
            "--filter",
            "desired-state=running",
        ],
    )
    .lines()
    .map(str::to_owned)
    .filter(|l| !l.is_empty())
    .collect();
    ids.sort();
    ids
}

/// `docker stack deploy` of `stack_file` starts and stops no task of stack `name` (`what` names
/// the file in the failure). The 5 s after the deploy are the window of this negative check.
pub(crate) fn redeploy_changes_nothing(
    manager: &str,
    stack_file: &std::path::Path,
    name: &str,
    repository: &str,
    what: &str,
) {
    let before = running_tasks(manager, name);
    stack_deploy(manager, stack_file, name, repository);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        running_tasks(manager, name),
        before,
        "redeploying {what} started or stopped a task"
    );
}

/// Starts `kroll upgrade`, SIGKILLs it once the stack file was rewritten and two brokers are
/// done, then runs `kroll rollback` and checks that the file reads `deployed` again.
fn roll_back_a_stopped_run(
    inv: &std::path::Path,
    runs: &std::path::Path,
    stack_file: &std::path::Path,
    deployed: &str,
) {
    let runs_arg = runs.display().to_string();
    let mut args = vec!["upgrade", "--to", "7.7.1", "--yes", "--runs", &runs_arg];
    args.extend(FAST);
    let child = Started(
        kroll_cmd(inv, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kroll upgrade"),
    );
    let began = Instant::now();
    loop {
        let journal = journal_text(runs);
        let rewritten = std::fs::read_to_string(stack_file).is_ok_and(|t| t != deployed);
        let brokers_done = journal
            .lines()
            .filter(|l| l.contains("\"event\":\"step_done\"") && l.contains("kafka-"))
            .count();
        if rewritten && brokers_done >= 2 {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(300),
            "the run did not reach its second broker: {journal}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(child); // SIGKILL
    let o = kroll(inv, &["rollback", "--runs", &runs_arg]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("put back to what the services run"), "{said}");
    assert!(!said.contains(LAB_SECRET_VALUE), "{said}");
    // The text the run started from — but each untagged image pinned to the digest its service
    // runs: `latest` already names 7.7.1, so the untagged file would no longer say what runs
    // (its redeploy would replace every service at once, without the IBP pin).
    let restored = std::fs::read_to_string(stack_file).expect("stack file");
    let unpinned: String = restored
        .lines()
        .map(|l| match l.split_once("@sha256:") {
            Some((before, _)) if l.trim_start().starts_with("image: ") => {
                format!("{}\n", before.trim_end_matches(":latest"))
            }
            _ => format!("{l}\n"),
        })
        .collect();
    assert_eq!(
        unpinned, deployed,
        "the file the run started from, pinned:\n{restored}"
    );
    assert_eq!(
        restored.matches("@sha256:").count(),
        deployed.matches("image: ").count(),
        "every image pinned:\n{restored}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_coordinator_rolls_the_swarm_stack_through_its_manager_restarting_each_broker_twice()
 {
    let lab = TestLab::up_custom("su", |o| {
        o.services = Services::Kafka;
        o.swarm = true;
        o.agents_as_service = true;
        o.security = Security::Sasl;
    })
    .await;
    let inventory = std::fs::read_to_string(&lab.handle.inventory).expect("inventory");
    let sasl = lab.handle.sasl.as_ref().expect("a SASL lab");
    let bootstrap: Vec<String> = sasl.bootstrap.iter().map(|b| format!("\"{b}\"")).collect();
    assert!(
        inventory.contains("[kafka]\nsecurity_protocol = \"SASL_PLAINTEXT\"")
            && inventory.contains(&format!("kafka_bootstrap = [{}]", bootstrap.join(", "))),
        "kroll reaches Kafka over SASL_EXT only: {inventory}"
    );
    let name = lab.name().to_owned();
    let swarm = SwarmState::load(&lab.handle.dir)
        .expect("swarm.json")
        .expect("a Swarm lab records its machines");
    let manager = swarm.layout.docker_host(1);
    // The new version reaches the nodes as it does in production: pushed to the registry they
    // pull from (here by the lab's own command).
    let pushed = kroll_tests::push_to_swarm_lab("7.7.1", &name, &lab.handle.dir);
    let repository = kroll_lab::swarm::repository(&swarm.layout);
    assert!(
        pushed.contains(&format!("pushed to {repository}")),
        "{pushed}"
    );
    orders_topic(&lab, 2000).await;
    // Pre-flight wants a healthy cluster; the new topic's followers catch up first.
    let caught_up = Instant::now();
    kroll_lab::ready::full_isr(
        &lab.handle.bootstrap,
        &["orders".to_owned()],
        Duration::from_secs(180),
    )
    .await
    .expect("orders in full ISR");
    eprintln!(
        "[swarm] orders in full ISR after {:.1} s",
        caught_up.elapsed().as_secs_f64()
    );

    let agents_service = format!(
        "{}_kroll-agent",
        kroll_lab::swarm::agent_service::stack_name(&name)
    );
    let agent_tasks = running_tasks_of(&manager, &agents_service);
    assert_eq!(
        agent_tasks.len(),
        5,
        "one agent task per node: {agent_tasks:?}"
    );

    let inv = lab.handle.inventory.clone();
    let runs = lab.handle.dir.join("runs");
    let runs_arg = runs.display().to_string();
    let stack_file = swarm.stack_file.clone();
    let deployed = std::fs::read_to_string(&stack_file).expect("stack file");

    // A service whose task does not run its spec — an update someone started that Swarm paused
    // (start-first: the old task runs on) — is refused at pre-flight, naming it; then undone.
    let k4 = format!("{name}_kafka-04");
    let tasks_before = actually_running(&manager, &name);
    docker_at(
        &manager,
        &[
            "service",
            "update",
            "--detach",
            "--update-order",
            "start-first",
            "--update-failure-action",
            "pause",
            "--image",
            &format!("{repository}/kafka:does-not-exist"),
            &k4,
        ],
    );
    let said = refused_upgrade(&inv, &runs_arg);
    assert!(
        said.contains("kafka-04: the service's spec names")
            && said.contains("kafka:does-not-exist but its running task runs"),
        "{said}"
    );
    assert_eq!(
        actually_running(&manager, &name),
        tasks_before,
        "nothing touched"
    );
    docker_at(&manager, &["service", "rollback", "--detach", &k4]);
    let undone = Instant::now();
    while !service_spec(&manager, &k4)
        .0
        .ends_with(&tasks_image(&manager, &k4))
    {
        assert!(
            undone.elapsed() < Duration::from_secs(60),
            "kafka-04 back on its spec"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        actually_running(&manager, &name),
        tasks_before,
        "the old task ran on"
    );

    // Drift kroll did not make (here: the file says what the service does not run) is refused
    // at pre-flight, naming service and variable, before anything is touched.
    let drifted = deployed.replacen(
        "      KAFKA_BROKER_ID: \"3\"\n",
        "      KAFKA_BROKER_ID: \"3\"\n      KROLL_TEST_DRIFT: \"1\"\n",
        1,
    );
    assert_ne!(drifted, deployed, "kafka-03's block in:\n{deployed}");
    std::fs::write(&stack_file, &drifted).expect("write");
    let tasks_before = running_tasks(&manager, &name);
    let said = refused_upgrade(&inv, &runs_arg);
    assert!(
        said.contains("kafka-03: KROLL_TEST_DRIFT is in the file but not set on the service")
            && said.contains("kroll did not make"),
        "{said}"
    );
    assert_eq!(
        running_tasks(&manager, &name),
        tasks_before,
        "nothing touched"
    );
    assert_eq!(
        std::fs::read_to_string(&stack_file).expect("stack file"),
        drifted,
        "a refused run does not rewrite the file"
    );
    std::fs::write(&stack_file, &deployed).expect("write");

    // A run stopped in Roll 1 — after the ZooKeeper phase rewrote the file, two brokers done —
    // then undone by `kroll rollback`: every service back on its saved spec, and the file put
    // back to the text the run started from (images pinned to what runs), so a redeploy
    // changes nothing.
    let specs_before: Vec<(String, Option<String>)> = (1..=5)
        .map(|n| service_spec(&manager, &format!("{name}_kafka-{n:02}")))
        .collect();
    roll_back_a_stopped_run(
        &inv,
        &lab.handle.dir.join("runs-rollback"),
        &stack_file,
        &deployed,
    );
    for (n, before) in (1..=5).zip(&specs_before) {
        let spec = service_spec(&manager, &format!("{name}_kafka-{n:02}"));
        assert_eq!(&spec, before, "kafka-{n:02} is back on the spec it had");
        assert_eq!(spec.1, None, "kafka-{n:02}");
    }
    redeploy_changes_nothing(
        &manager,
        &stack_file,
        &name,
        &repository,
        "the file `kroll rollback` put back",
    );

    let observer = Observer::start_swarm(&lab.handle, &swarm).await;
    let began = Instant::now();
    let run = kill_and_resume(
        &inv,
        &runs,
        "7.7.1",
        &KILL_AFTER_EVENTS,
        Duration::from_secs(1200),
        |_| None,
    )
    .await;
    let kills = run.kills;
    let seen = observer.stop().await;
    // Each broker's task history, for the verdicts below (Swarm says why a task ended).
    for n in 1..=5 {
        eprintln!(
            "[swarm] {}",
            docker_at(
                &manager,
                &[
                    "service",
                    "ps",
                    &format!("{name}_kafka-{n:02}"),
                    "--no-trunc",
                    "--format",
                    "{{.Name}} {{.ID}} {{.Image}} {{.DesiredState}} {{.CurrentState}} {{.Error}}",
                ],
            )
            .trim_end()
            .replace('\n', "\n[swarm] ")
        );
    }
    assert!(kills >= 10, "the coordinator was killed only {kills} times");
    // A broker restarted other than twice: how each of its containers ended, before the verdict.
    for (broker, n) in seen.restarts().into_iter().filter(|(_, n)| *n != 2) {
        let host = swarm.layout.docker_host(u8::try_from(broker).unwrap_or(1));
        for id in seen.container_ids.get(&broker).into_iter().flatten() {
            let ended = std::process::Command::new("docker")
                .args(["-H", &host, "inspect", "--format"])
                .arg("{{.Name}} {{.State.Status}} exit {{.State.ExitCode}} {{.State.StartedAt}} → {{.State.FinishedAt}}")
                .arg(id)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            let logs = std::process::Command::new("docker")
                .args(["-H", &host, "logs", "--tail", "15", id])
                .output()
                .map(|o| {
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
                .unwrap_or_default();
            eprintln!("[swarm] broker {broker} restarted {n} times; {ended}\n{logs}");
        }
    }
    assert_two_safe_rolls(&seen);
    // The services, as Swarm holds them: the new image — the digest the untagged name pointed at
    // when the run began, the same on every node — and the new IBP, one task each, running on
    // the node the stack pins it to.
    let digests = docker_at(
        &manager,
        &[
            "image",
            "inspect",
            &format!("{repository}/kafka:7.7.1"),
            "--format",
            "{{range .RepoDigests}}{{println .}}{{end}}",
        ],
    );
    let pinned = digests
        .lines()
        .find(|d| d.starts_with(&format!("{repository}/kafka@sha256:")))
        .unwrap_or_else(|| panic!("no registry digest of kafka:7.7.1: {digests}"))
        .to_owned();
    for n in 1..=5 {
        let service = format!("{name}_kafka-{n:02}");
        let (image, ibp) = service_spec(&manager, &service);
        assert_eq!(image, pinned, "{service}");
        assert_eq!(ibp.as_deref(), Some("3.7"), "{service}");
        let tasks = docker_at(
            &manager,
            &[
                "service",
                "ps",
                &service,
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}} {{.CurrentState}}",
            ],
        );
        let tasks: Vec<&str> = tasks.lines().collect();
        assert_eq!(tasks.len(), 1, "{service}: {tasks:?}");
        assert!(
            tasks[0].starts_with(&format!("rhodrylab-{n:02} Running")),
            "{service}: {tasks:?}"
        );
    }
    let status = kroll(&inv, &["status", "--output", "json"]);
    assert!(
        status.status.success(),
        "healthy after the upgrade:\n{}",
        text(&status)
    );
    // What each image says it is, though no tag says it.
    let rows: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status json");
    let versions: Vec<&str> = rows["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["version"].as_str())
        .collect();
    assert_eq!(versions, ["7.7.1"; 6], "{rows}");
    // The agent in its own pid namespace reads ZooKeeper's heap through the host's /proc.
    let zk = rows["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["role"] == "zookeeper")
        .unwrap_or_else(|| panic!("a ZooKeeper row: {rows}"));
    assert!(
        zk["heap"]["max_bytes"].as_u64().is_some_and(|m| m > 0),
        "ZooKeeper's heap read by the agent service: {zk}"
    );
    // The stack file says what runs: the new images (still under ${CI_REGISTRY_IMAGE}), the new
    // IBP once in the brokers' anchor; comments and merge keys kept; each rewrite's diff kept.
    let emitted = std::fs::read_to_string(&stack_file).expect("stack file");
    let digest = &pinned[pinned.find('@').unwrap_or(0)..];
    assert_eq!(
        emitted
            .matches(&format!("image: ${{CI_REGISTRY_IMAGE}}/kafka{digest}\n"))
            .count(),
        5,
        "{emitted}"
    );
    assert!(
        emitted.contains("image: ${CI_REGISTRY_IMAGE}/zookeeper@sha256:"),
        "{emitted}"
    );
    assert_eq!(
        emitted
            .matches("KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.7\"")
            .count(),
        1,
        "{emitted}"
    );
    assert!(!emitted.contains("\"3.1\""), "{emitted}");
    assert_eq!(
        emitted.matches("<<: *kafka-envs").count(),
        deployed.matches("<<: *kafka-envs").count()
    );
    assert!(emitted.starts_with("# The stack of Swarm lab"), "{emitted}");
    let diffs: String = run_dirs(&runs)
        .iter()
        .map(|d| std::fs::read_to_string(d.join("stack-file.diff")).unwrap_or_default())
        .collect();
    assert!(
        diffs.contains("+  KAFKA_INTER_BROKER_PROTOCOL_VERSION: \"3.7\""),
        "{diffs}"
    );
    // No secret is shown: the lab's secret-shaped variable is a neighbour of the IBP line kroll
    // wrote (a diff with context would print it), yet no file kroll wrote holds its value but the
    // owner-only copy of the operator's own file; the printed diff is the kept one.
    let full = kroll_stack::unified_diff(&deployed, &emitted, "a", "b");
    assert!(
        full.contains(LAB_SECRET_VALUE),
        "the secret must sit beside a changed line for this check to mean anything:\n{full}"
    );
    for dir in run_dirs(&runs).into_iter().filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(&dir).expect("run dir").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with("stack-file.") && name.ends_with(".yml") {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = entry.metadata().expect("meta").permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", path.display());
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(LAB_SECRET_VALUE),
                    "{} holds {LAB_SECRET_KEY}'s value",
                    path.display()
                );
            }
        }
    }
    // And it is proved: `docker stack deploy` of the emitted file changes no service and
    // starts no task.
    redeploy_changes_nothing(
        &manager,
        &stack_file,
        &name,
        &repository,
        "the emitted stack file",
    );
    // Neither the upgrade, its rollback, nor any redeploy of the lab's stack restarted an agent.
    assert_eq!(
        running_tasks_of(&manager, &agents_service),
        agent_tasks,
        "the agents' tasks"
    );
    eprintln!(
        "Swarm upgrade with {kills} kills took {:.0}s, observer samples {}",
        began.elapsed().as_secs_f64(),
        seen.samples
    );
}
