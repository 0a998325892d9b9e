//! The Swarm lab (`kroll-lab up --swarm --security sasl`): five real Docker engines on this
//! machine, joined as one real swarm, the lab deployed as a stack with the journal's security
//! (the brokers' JAAS file a Swarm secret, and so the REST services' basic-auth files) —
//! checked with the engines' own CLI (`docker -H … node ls / service ps / secret ls`), kcat
//! over both external listeners and kroll's agents, Kafka clients and REST logins; the stack file round trip; a manager's agent's service actions
//! ([`super::swarm_service`], on the same lab: one Swarm lab less in the suite); then `lab down`
//! leaves no engine, namespace, mount or process behind, and the main engine was never touched.

use std::process::Command;
use std::time::Duration;

use kroll_lab::swarm::{SWARM_FILE, SwarmState};
use kroll_lab::topology::{Security, Services};
use kroll_tests::{bin, docker_cli};

use super::{TestLab, kcat, poll};

/// `docker -H <engine> args…` → stdout; fails the test with stderr.
pub(crate) fn docker_at(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("-H")
        .arg(host)
        .args(args)
        .output()
        .expect("docker CLI (apt-get install docker.io)");
    assert!(
        out.status.success(),
        "docker -H {host} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_swarm_lab_runs_the_stack_on_five_real_nodes_and_down_leaves_nothing() {
    let lab = TestLab::up_custom("sw", |o| {
        o.services = Services::Full;
        o.swarm = true;
        o.security = Security::Sasl;
    })
    .await;
    let name = lab.name().to_owned();
    let dir = lab.handle.dir.clone();
    let swarm = SwarmState::load(&dir)
        .expect("swarm.json")
        .expect("a Swarm lab records its machines");
    let l = swarm.layout.clone();
    let manager = l.docker_host(1);

    // Five engines, one swarm, each node under the journal's hostname; three managers (the
    // default), node 1 leads.
    let nodes = docker_at(
        &manager,
        &["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"],
    );
    let mut nodes: Vec<&str> = nodes.lines().collect();
    nodes.sort_unstable();
    assert_eq!(
        nodes,
        [
            "rhodrylab-01 Leader",
            "rhodrylab-02 Reachable",
            "rhodrylab-03 Reachable",
            "rhodrylab-04 ",
            "rhodrylab-05 "
        ]
    );
    // Every service of the stack runs exactly where the stack file pins it.
    for c in lab.handle.spec.containers() {
        let placed = docker_at(
            &manager,
            &[
                "service",
                "ps",
                &c.name,
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}} {{.CurrentState}}",
            ],
        );
        assert!(
            placed.starts_with(&format!("{} Running", c.node)),
            "{} should run on {}: {placed}",
            c.name,
            c.node
        );
    }
    // The stack file is shaped like the journal's.
    let stack = std::fs::read_to_string(&swarm.stack_file).expect("stack file");
    for needle in [
        "x-kafka-envs: &kafka-envs",
        "<<: *kafka-envs",
        "image: ${CI_REGISTRY_IMAGE}/kafka\n",
        "endpoint_mode: dnsrr",
        "node.hostname == rhodrylab-03",
    ] {
        assert!(stack.contains(needle), "`{needle}` in the stack file");
    }
    secrets_are_swarm_secrets(&lab, &manager, &stack);

    // An independent client produces and consumes through the nodes' addresses.
    let bootstrap = lab.handle.bootstrap.join(",");
    kcat(
        &["-b", &bootstrap, "-P", "-t", "swarm-probe", "-K:"],
        "k1:v1\nk2:v2\n",
    );
    assert_eq!(probe_records(&[], &bootstrap), ["k1=v1", "k2=v2"]);
    // And over SASL_EXT, logged in with the passwords of the secret: the super user writes,
    // kroll (Read) reads.
    let sasl = lab.handle.sasl.clone().expect("a SASL lab's access");
    let work = tempfile::tempdir().expect("tempdir");
    let admin = super::security::kcat_config_for(work.path(), &sasl.admin);
    let kroll_conf = super::security::kcat_config_for(work.path(), &sasl.kroll);
    let sasl_bootstrap = sasl.bootstrap.join(",");
    kcat(
        &[
            "-F",
            &admin,
            "-b",
            &sasl_bootstrap,
            "-P",
            "-t",
            "swarm-probe",
            "-K:",
        ],
        "k3:v3\n",
    );
    assert_eq!(
        probe_records(&["-F", &kroll_conf], &sasl_bootstrap),
        ["k1=v1", "k2=v2", "k3=v3"]
    );

    // kroll's agents, one per node on that node's engine, report every service under its
    // stack name with a JVM heap read from the task's hsperfdata.
    let status = poll(
        "status to report every JVM",
        Duration::from_secs(60),
        async || {
            let out = Command::new(bin("kroll"))
                .args(["--inventory"])
                .arg(&lab.handle.inventory)
                .args(["status", "--output", "json"])
                .output()
                .map_err(|e| e.to_string())?;
            let v: serde_json::Value =
                serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
            let rows = v["rows"].as_array().cloned().unwrap_or_default();
            let zk = rows
                .iter()
                .find(|r| r["container"] == format!("{name}_zookeeper-01"))
                .cloned();
            // All five nodes share this machine's disk: a low-disk warning about it is the
            // machine's, not the lab's; any other problem fails.
            let problems: Vec<String> = v["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str())
                .filter(|p| !(p.contains("filesystem") && p.contains("free (")))
                .map(str::to_owned)
                .collect();
            match (out.status.code(), zk) {
                (Some(0 | 3), Some(zk)) if problems.is_empty() && zk["heap"]["jvms"] == 1 => {
                    Ok(rows)
                }
                (code, zk) => Err(format!(
                    "exit {code:?}, problems {problems:?}, zookeeper row {zk:?}"
                )),
            }
        },
    )
    .await;
    assert_eq!(status.len(), 14, "{status:?}");
    for r in &status {
        assert_eq!(r["state"], "running", "{r}");
        assert_eq!(r["ok"], true, "{r}");
    }
    // kroll's own Kafka clients log in with the inventory the lab wrote (SASL_EXT as kroll).
    let status: serde_json::Value = serde_json::from_slice(
        &Command::new(bin("kroll"))
            .args(["--inventory"])
            .arg(&lab.handle.inventory)
            .args(["status", "--output", "json"])
            .output()
            .expect("kroll status")
            .stdout,
    )
    .expect("status JSON");
    let kafka = &status["kafka"];
    assert_eq!(kafka["brokers"], 5, "{kafka}");
    assert_eq!(
        kafka["connects_as"], "SASL_PLAINTEXT, PLAIN as `kroll`",
        "{kafka}"
    );
    assert!(kafka["error"].is_null(), "{kafka}");
    rest_services_log_kroll_in_and_refuse_the_rest(&lab, &manager, &status).await;
    stack_file_round_trip(&lab, &l, &swarm.stack_file).await;
    // The agents' service actions on this lab's stack (the demotion they end with is last).
    super::swarm_service::a_managers_agent_updates_and_restores_stack_services_under_the_agents_rules(&lab).await;

    // Nothing of the main engine: no container or network carries the lab's label there.
    let main_objects = docker_cli(&["ps", "-aq", "--filter", &format!("label=kroll.lab={name}")]);
    assert!(main_objects.trim().is_empty(), "{main_objects}");

    let report = lab.down().await;
    assert_eq!(report.agents.len(), 5, "{report:?}");
    // Gone: namespaces, mounts, processes, directories.
    let netns = std::fs::read_dir("/var/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("krl{}", l.k)))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(netns.is_empty(), "namespaces left: {netns:?}");
    let mounts = std::fs::read_to_string("/proc/mounts").expect("mounts");
    for root in [&l.run, &l.data] {
        let root = root.to_string_lossy();
        assert!(!mounts.contains(root.as_ref()), "mounts left below {root}");
        let procs: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| {
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                cmd.contains(root.as_ref()).then_some(cmd)
            })
            .collect();
        assert!(procs.is_empty(), "processes left: {procs:?}");
    }
    assert!(!dir.join(SWARM_FILE).exists());
    assert!(!l.data.exists() && !l.run.exists());
}

/// Every record of `swarm-probe` read by kcat (`login`: its `-F` configuration, if any), as
/// sorted `key=value` lines.
fn probe_records(login: &[&str], bootstrap: &str) -> Vec<String> {
    let mut args = login.to_vec();
    args.extend([
        "-b",
        bootstrap,
        "-C",
        "-t",
        "swarm-probe",
        "-e",
        "-q",
        "-f",
        "%k=%s\n",
    ]);
    let mut got: Vec<String> = kcat(&args, "").lines().map(str::to_owned).collect();
    got.sort_unstable();
    got
}

/// The brokers' JAAS file is what the journal's is: a Swarm secret made before the deploy,
/// `external` in the stack file, seen by every broker (and only the brokers) at
/// `/run/secrets/KAFKA_JAAS`; so is each file of the REST services' basic auth, seen by the
/// service that reads it (Connect workers, Schema Registry, REST proxy) and no other.
fn secrets_are_swarm_secrets(lab: &TestLab, manager: &str, stack: &str) {
    use kroll_lab::rest_auth::RestFile;
    use kroll_shared::inventory::ServiceKind;
    let spec = &lab.handle.spec;
    let jaas = kroll_lab::swarm::stack::jaas_secret(spec);
    let made: Vec<String> = kroll_lab::swarm::stack::secret_files(spec)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        made.len(),
        8,
        "the JAAS file and seven REST files: {made:?}"
    );
    assert!(made.contains(&jaas), "{made:?}");
    let section: String = made
        .iter()
        .map(|n| format!("  {n}:\n    external: true\n"))
        .collect();
    assert!(
        stack.ends_with(&format!("\nsecrets:\n{section}")),
        "{stack}"
    );
    let listed = docker_at(manager, &["secret", "ls", "--format", "{{.Name}}"]);
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort_unstable();
    assert_eq!(listed, made);
    for c in spec.containers() {
        let secrets = docker_at(
            manager,
            &[
                "service",
                "inspect",
                &c.name,
                "--format",
                "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}}>{{.File.Name}} {{end}}",
            ],
        );
        let mut seen: Vec<&str> = secrets.split_whitespace().collect();
        seen.sort_unstable();
        let mut want: Vec<String> = match c.kind {
            ServiceKind::Broker => vec![format!("{jaas}>KAFKA_JAAS")],
            kind => RestFile::of(kind)
                .map(|f| {
                    format!(
                        "{}>{}",
                        kroll_lab::swarm::stack::secret_name(spec, f.name()),
                        f.name()
                    )
                })
                .collect(),
        };
        want.sort_unstable();
        assert_eq!(seen, want, "{}", c.name);
    }
}

/// Connect, Schema Registry and the REST proxy require HTTP basic auth on the Swarm too: 401
/// without credentials, an answer as the lab's admin. `kroll status` (already run: `status`)
/// logged in to Connect and Schema Registry with the inventory the lab wrote; with a wrong
/// password file it names the refused user and the inventory key. No password of the lab is
/// in a service's specification (`docker service inspect`: environment, labels, secrets by
/// name only), the stack file, the inventory or `kroll-lab up --output json`.
async fn rest_services_log_kroll_in_and_refuse_the_rest(
    lab: &TestLab,
    manager: &str,
    status: &serde_json::Value,
) {
    let rest = lab
        .handle
        .rest_auth
        .clone()
        .expect("a full SASL lab's REST logins");
    let connect = &status["connect"];
    assert_eq!(
        (&connect["workers"], &connect["workers_answering"]),
        (&serde_json::json!(5), &serde_json::json!(5)),
        "{connect}"
    );
    assert_eq!(connect["problems"], serde_json::json!([]), "{connect}");
    let registry = &status["schema_registry"];
    assert!(
        registry["error"].is_null() && registry["compatibility"].is_string(),
        "{registry}"
    );
    let client = reqwest::Client::new();
    let h = &lab.handle;
    for url in [
        format!("{}/connectors", h.connect[4]),
        format!("{}/subjects", lab.registry_url()),
        format!("{}/", h.rest_proxy.clone().expect("REST proxy")),
    ] {
        let anonymous = client.get(&url).send().await.expect("GET").status();
        assert_eq!(anonymous.as_u16(), 401, "{url} without credentials");
        let admin = client
            .get(&url)
            .basic_auth(&rest.admin.username, Some(rest.admin.password.expose()))
            .send()
            .await
            .expect("GET")
            .status();
        assert_eq!(admin.as_u16(), 200, "{url} as admin");
    }

    // A wrong password file: kroll status says whom it was refused and what to check.
    let dir = &h.dir;
    let wrong = dir.join("rest-password-wrong");
    std::fs::write(&wrong, "not-the-password\n").expect("wrong password file");
    let inventory = dir.join("kroll-wrong-rest-password.toml");
    let text = std::fs::read_to_string(&h.inventory)
        .expect("inventory")
        .replace(
            "password_file = \"rest-password\"",
            "password_file = \"rest-password-wrong\"",
        );
    std::fs::write(&inventory, text).expect("inventory");
    let out = Command::new(bin("kroll"))
        .args(["--inventory"])
        .arg(&inventory)
        .arg("status")
        .output()
        .expect("kroll status");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "a refused login is not healthy:\n{said}"
    );
    for section in ["[connect]", "[schema_registry]"] {
        assert!(
            said.contains(&format!(
                "answered 401: the credentials of user `kroll` were refused; check `username` and the password ({section} `password_file` / `password_env`)"
            )),
            "{section}:\n{said}"
        );
    }
    assert!(said.contains("Schema Registry: NOT answering"), "{said}");
    for f in [&wrong, &inventory] {
        std::fs::remove_file(f).expect("remove");
    }

    let sasl = h.sasl.clone().expect("sasl");
    let mut places = vec![
        (
            "kroll-lab up --output json".to_owned(),
            serde_json::to_string_pretty(h).expect("json"),
        ),
        (
            "the inventory".to_owned(),
            std::fs::read_to_string(&h.inventory).expect("inventory"),
        ),
        (
            "the stack file".to_owned(),
            std::fs::read_to_string(dir.join("stack.yml")).expect("stack file"),
        ),
        ("what kroll status said".to_owned(), said),
    ];
    for c in h.spec.containers() {
        places.push((
            format!("docker service inspect {}", c.name),
            docker_at(manager, &["service", "inspect", &c.name]),
        ));
    }
    for user in [
        &rest.admin,
        &rest.kroll,
        &rest.connect,
        &sasl.admin,
        &sasl.kroll,
        &sasl.nobody,
    ] {
        for (place, text) in &places {
            assert!(
                !text.contains(user.password.expose()),
                "{}'s password is in {place}",
                user.username
            );
        }
    }
}

/// The live services of stack `lab`, as the stack crate compares them.
fn live_services(manager: &str, lab: &str) -> Vec<kroll_stack::LiveService> {
    let ids = docker_at(
        manager,
        &[
            "service",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.stack.namespace={lab}"),
        ],
    );
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let json = docker_at(manager, &[&["service", "inspect"][..], &ids].concat());
    let all: Vec<serde_json::Value> = serde_json::from_str(&json).expect("service inspect");
    all.iter()
        .map(|s| {
            let c = &s["Spec"]["TaskTemplate"]["ContainerSpec"];
            kroll_stack::LiveService {
                name: s["Spec"]["Name"].as_str().unwrap_or_default().to_owned(),
                image: c["Image"].as_str().unwrap_or_default().to_owned(),
                env: c["Env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect(),
                hostname: c["Hostname"].as_str().map(str::to_owned),
                stop_grace_period: c["StopGracePeriod"].as_u64().map(Duration::from_nanos),
                labels: serde_json::from_value(s["Spec"]["Labels"].clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// Every running task of the stack, by id.
pub(crate) fn running_tasks(manager: &str, lab: &str) -> Vec<String> {
    let out = docker_at(
        manager,
        &[
            "stack",
            "ps",
            lab,
            "-q",
            "--filter",
            "desired-state=running",
        ],
    );
    let mut ids: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    ids.sort();
    ids
}

/// `docker stack deploy` of `file` as the operator would run it.
pub(crate) fn stack_deploy(manager: &str, file: &std::path::Path, lab: &str, registry: &str) {
    let out = Command::new("docker")
        .args(["-H", manager, "stack", "deploy", "-c"])
        .arg(file)
        .arg(lab)
        .env(kroll_lab::swarm::stack::REGISTRY_VAR, registry)
        .output()
        .expect("docker stack deploy");
    assert!(
        out.status.success(),
        "docker stack deploy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The manager's engine, as the agent of a manager node reaches it.
async fn manager_engine(l: &kroll_lab::swarm::hosts::Layout) -> bollard::Docker {
    bollard::Docker::connect_with_unix(
        &l.socket(1).to_string_lossy(),
        30,
        bollard::API_DEFAULT_VERSION,
    )
    .expect("manager socket")
    .negotiate_version()
    .await
    .expect("manager API")
}

/// Sets `KEY=value` in Swarm service `service` the way kroll's agent on a manager does
/// (`kroll_agent::swarm_service::update`: stop-first, environment sorted as `docker stack
/// deploy` writes it — the CLI's `service update --env-add` reorders it, and then a redeploy
/// of even a correct stack file restarts the task).
async fn set_env(
    docker: &bollard::Docker,
    service: &str,
    key: &str,
    value: &str,
    op: &str,
) -> kroll_agent::swarm_service::Updated {
    let change = kroll_agent::swarm_service::ServiceChange {
        set_env: [(key.to_owned(), value.to_owned())].into(),
        min_stop_grace: Duration::from_secs(30),
        ..Default::default()
    };
    let done =
        kroll_agent::swarm_service::update(docker, service, &change, op, Duration::from_secs(90))
            .await
            .expect("service update");
    eprintln!(
        "[swarm] {service}: update call → new task running in {:.1} s",
        done.elapsed.as_secs_f64()
    );
    done
}

/// The stack file stays the source of truth (issue 13, item 3): after a service update, the
/// stack crate finds the drift, its minimal edit of the file says what the services run, and
/// `docker stack deploy` of the edited file changes nothing and starts no task — while the
/// unedited file (the journal's danger) would take the change back.
async fn stack_file_round_trip(
    lab: &TestLab,
    l: &kroll_lab::swarm::hosts::Layout,
    stack_file: &std::path::Path,
) {
    use kroll_stack::{Drift, Edit, EnvPatch, StackFile, drift};
    let manager = &l.docker_host(1);
    let name = lab.name();
    let registry = &lab.handle.spec.registry;
    let vars = kroll_stack::Vars::from([(
        kroll_lab::swarm::stack::REGISTRY_VAR.to_owned(),
        registry.clone(),
    )]);
    let original = StackFile::parse(
        std::fs::read_to_string(stack_file).expect("stack file"),
        "stack.yml",
    )
    .expect("the lab's stack file parses");
    assert_eq!(
        drift(&original, name, &vars, &live_services(manager, name)).expect("drift"),
        Vec::<Drift>::new(),
        "a freshly deployed stack has no drift"
    );
    // What kroll's Swarm backend does to one broker in Roll 1: pin the IBP.
    let svc = format!("{name}_kafka-02");
    let docker = manager_engine(l).await;
    let pin = "KAFKA_INTER_BROKER_PROTOCOL_VERSION";
    set_env(&docker, &svc, pin, "3.1", "test/pin-1").await;
    let live = live_services(manager, name);
    let found = drift(&original, name, &vars, &live).expect("drift");
    assert!(
        matches!(found.as_slice(), [Drift::EnvAdded { service, name }]
            if service == "kafka-02" && name == "KAFKA_INTER_BROKER_PROTOCOL_VERSION"),
        "the update shows as drift of the original file: {found:?}"
    );
    let patch = EnvPatch {
        set: [("KAFKA_INTER_BROKER_PROTOCOL_VERSION".into(), "3.1".into())].into(),
        ..EnvPatch::default()
    };
    let edited = original
        .edit(&[Edit::Env {
            services: vec!["kafka-02".into()],
            patch,
        }])
        .expect("edit");
    assert_eq!(
        drift(&edited, name, &vars, &live).expect("drift"),
        Vec::<Drift>::new(),
        "the edited file says what runs"
    );
    let diff = kroll_stack::unified_diff(original.text(), edited.text(), "a", "b");
    assert_eq!(
        diff.lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count(),
        1,
        "one added line: {diff}"
    );
    let edited_path = stack_file.with_file_name("stack.edited.yml");
    std::fs::write(&edited_path, edited.text()).expect("write");
    let before = running_tasks(manager, name);
    stack_deploy(manager, &edited_path, name, registry);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        running_tasks(manager, name),
        before,
        "redeploying the edited stack file started or stopped a task"
    );
    assert_eq!(
        drift(&edited, name, &vars, &live_services(manager, name)).expect("drift"),
        Vec::<Drift>::new()
    );
    // The control: the unedited file takes the pin back (a new task for kafka-02).
    stack_deploy(manager, stack_file, name, registry);
    let after = live_services(manager, name);
    let k2 = after.iter().find(|s| s.name == svc).expect("kafka-02");
    assert!(
        !k2.env.iter().any(|e| e.starts_with(&format!("{pin}="))),
        "the old stack file drops the pin: {:?}",
        k2.env
    );

    // Rollback re-applies the spec kroll saved (not `docker service rollback`, a toggle) —
    // once the redeploy above has replaced the pinned task.
    poll(
        "the redeploy to complete",
        Duration::from_secs(90),
        async || {
            let state = docker_at(
                manager,
                &[
                    "service",
                    "inspect",
                    &svc,
                    "--format",
                    "{{.UpdateStatus.State}}",
                ],
            );
            if state.trim() == "completed" {
                Ok(())
            } else {
                Err(state)
            }
        },
    )
    .await;
    let pinned = set_env(&docker, &svc, pin, "3.1", "test/pin-2").await;
    let back = kroll_agent::swarm_service::restore(
        &docker,
        &svc,
        &pinned.previous,
        "test/rollback",
        Duration::from_secs(90),
    )
    .await
    .expect("restore");
    assert_ne!(
        back.task_id, pinned.task_id,
        "a new task runs the saved spec"
    );
    let live = live_services(manager, name);
    let k2 = live.iter().find(|s| s.name == svc).expect("kafka-02");
    assert!(
        !k2.env.iter().any(|e| e.starts_with(&format!("{pin}="))),
        "the saved spec has no pin: {:?}",
        k2.env
    );
    assert_eq!(
        k2.labels
            .get(kroll_agent::swarm_service::OP_LABEL)
            .map(String::as_str),
        Some("test/rollback")
    );
}
