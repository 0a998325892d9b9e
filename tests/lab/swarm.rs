//! The Swarm lab (`kroll lab up --swarm`): five real Docker engines on this machine, joined as
//! one real swarm, the lab deployed as a stack — checked with the engines' own CLI (`docker -H
//! … node ls / service ps`), kcat and kroll's agents; then `lab down` leaves no engine,
//! namespace, mount or process behind, and the main engine was never touched.

use std::process::Command;
use std::time::Duration;

use kroll::lab::swarm::{SWARM_FILE, SwarmState};
use kroll::lab::topology::Services;
use kroll_tests::{bin, docker_cli};

use super::{TestLab, kcat, poll};

/// `docker -H <engine> args…` → stdout; fails the test with stderr.
fn docker_at(host: &str, args: &[&str]) -> String {
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
    let lab = TestLab::up_swarm("sw", Services::Full).await;
    let name = lab.name().to_owned();
    let dir = lab.handle.dir.clone();
    let swarm = SwarmState::load(&dir)
        .expect("swarm.json")
        .expect("a Swarm lab records its machines");
    let l = swarm.layout.clone();
    let manager = l.docker_host(1);

    // Five engines, one swarm, each node under the journal's hostname; node 1 leads.
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
            "rhodrylab-02 ",
            "rhodrylab-03 ",
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
        "image: ${CI_REGISTRY_IMAGE}/kafka:7.1.1",
        "endpoint_mode: dnsrr",
        "node.hostname == rhodrylab-03",
    ] {
        assert!(stack.contains(needle), "`{needle}` in the stack file");
    }

    // An independent client produces and consumes through the nodes' addresses.
    let bootstrap = lab.handle.bootstrap.join(",");
    kcat(
        &["-b", &bootstrap, "-P", "-t", "swarm-probe", "-K:"],
        "k1:v1\nk2:v2\n",
    );
    let got = kcat(
        &[
            "-b",
            &bootstrap,
            "-C",
            "-t",
            "swarm-probe",
            "-e",
            "-q",
            "-f",
            "%k=%s\n",
        ],
        "",
    );
    let mut got: Vec<&str> = got.lines().collect();
    got.sort_unstable();
    assert_eq!(got, ["k1=v1", "k2=v2"]);

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
