//! `RecreateContainer` / `RollbackContainer` / `ImagePresent` on the real Docker engine:
//! everything but the image and the patched environment is preserved (named and anonymous
//! volumes and their data, network and aliases, ports, labels, hostname, restart policy,
//! resources, user, command), the old image's defaults are not carried over, the previous
//! definition is kept and comes back on rollback, a repeated operation id acts once.

use std::time::Duration;

use kroll_shared::model::EnvPatch;
use kroll_tests::{RunningAgent, docker_cli, inspect_json, labbox_image, run_id};

use super::{client, code};

/// Two image versions of labbox that differ in their image-level ENV and label, like two
/// Confluent releases do; removed on drop.
struct Images {
    v1: String,
    v2: String,
}

impl Drop for Images {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &self.v1, &self.v2])
            .output();
    }
}

/// A first instruction unique to `tag`, so that no layer of this image comes from the build
/// cache of another test's image: these images are removed on drop, and removing an image
/// also removes its untagged parent layers, which a build running at the same time may have
/// just taken from the cache ("failed to get digest …: no such file", seen in CI).
fn own_layers(tag: &str) -> String {
    format!("LABEL io.kroll.test.image=\"{tag}\"\n")
}

/// `which` keeps the tags of tests running at once apart (each removes its own on drop).
async fn images(which: &str) -> Images {
    let base = labbox_image().await;
    let docker = kroll_tests::docker().await;
    let mut tags = Vec::new();
    for v in ["7.1.1", "7.7.1"] {
        let tag = format!("kroll-test/box-{}-{which}:{v}", run_id());
        let mut ctx = kroll_lab::image::Context::new();
        ctx.dockerfile(&format!(
            "FROM {base}\n{}ENV CONFLUENT_VERSION={v}\nLABEL io.kroll.test.version={v}\nVOLUME /data\nCMD [\"--stop-delay-ms\", \"200\"]\n",
            own_layers(&tag)
        ));
        kroll_lab::image::ensure(&docker, &ctx, &tag)
            .await
            .expect("build test image");
        tags.push(tag);
    }
    Images {
        v2: tags.pop().unwrap_or_default(),
        v1: tags.pop().unwrap_or_default(),
    }
}

/// A network removed on drop.
struct Net(String);

impl Drop for Net {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

/// Containers (including the kept previous one) removed on drop, with the volumes they mount
/// (a recreated container binds its predecessor's anonymous volume by name, so `rm -v` alone
/// would leave it behind).
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let docker = |args: &[&str]| std::process::Command::new("docker").args(args).output();
        let mut volumes = Vec::new();
        for n in &self.0 {
            if let Ok(out) = docker(&["inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", n]) {
                volumes.extend(
                    String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .map(str::to_owned),
                );
            }
            let _ = docker(&["rm", "-f", "-v", n]);
        }
        for v in volumes {
            let _ = docker(&["volume", "rm", &v]);
        }
    }
}

fn env_of(name: &str) -> Vec<String> {
    inspect_json(name)["Config"]["Env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn recreate_preserves_everything_but_what_changes_and_rollback_brings_it_back() {
    let imgs = images("rc").await;
    let pki = kroll_tests::Pki::new(&["node-rc"]);
    let dir = tempfile::tempdir().expect("tmp");
    let name = format!("{}-rc1", run_id());
    // Dropped in reverse order: containers first, then the network and the volume they use.
    let vol = kroll_tests::TestVolume::create("rc-named");
    let net = Net(format!("{}-rcnet", run_id()));
    docker_cli(&[
        "network",
        "create",
        "--label",
        &format!("kroll.test.run={}", run_id()),
        &net.0,
    ]);
    let _cleanup = Cleanup(vec![name.clone(), format!("{name}-kroll-prev")]);
    let port = free_port();
    docker_cli(&[
        "run",
        "-d",
        "--name",
        &name,
        "--hostname",
        "kafka-01",
        "--network",
        &net.0,
        "--network-alias",
        "kafka-01",
        "--label",
        &format!("kroll.test.run={}", run_id()),
        "--label",
        "kroll.node=node-rc",
        "-e",
        "KAFKA_BROKER_ID=1",
        "-e",
        "HEAP_OPTS=-Xmx1g",
        "--restart",
        "unless-stopped",
        "--memory",
        "64m",
        "-v",
        &format!("{}:/named", vol.name),
        "-p",
        &format!("127.0.0.1:{port}:9092"),
        "--user",
        "1000",
        &imgs.v1,
    ]);
    // Data in the anonymous /data volume and in the named one must survive.
    let marker = dir.path().join("marker");
    std::fs::write(&marker, "kept").expect("write");
    docker_cli(&[
        "cp",
        &marker.display().to_string(),
        &format!("{name}:/data/marker"),
    ]);
    docker_cli(&[
        "cp",
        &marker.display().to_string(),
        &format!("{name}:/named/marker"),
    ]);
    let old = inspect_json(&name);

    let agent = RunningAgent::start(
        &pki,
        "node-rc",
        kroll_tests::allow_node("node-rc"),
        dir.path(),
    )
    .await;
    let mut cl = client(&pki, "coordinator", &agent).await;
    let (present, missing) = cl
        .images_present(&[imgs.v2.clone(), "kroll-test/absent:1".into()])
        .await
        .expect("present");
    assert!(present.contains_key(&imgs.v2));
    assert_eq!(missing, ["kroll-test/absent:1"]);

    let err = cl
        .recreate(
            "op-missing",
            &name,
            "kroll-test/absent:1",
            &EnvPatch::default(),
            None,
            Duration::from_secs(10),
        )
        .await
        .expect_err("a missing image is refused");
    assert!(
        err.to_string().contains("is not present on this node"),
        "{err}"
    );
    assert_eq!(inspect_json(&name)["Id"], old["Id"], "nothing changed");

    let mut patch = EnvPatch::setting("KAFKA_INTER_BROKER_PROTOCOL_VERSION", "3.1");
    patch
        .rename
        .insert("HEAP_OPTS".into(), "KAFKA_HEAP_OPTS".into());
    let r = cl
        .recreate(
            "op-rc",
            &name,
            &imgs.v2,
            &patch,
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("recreate");
    assert!(!r.replayed);
    assert_eq!(r.previous_image, imgs.v1);
    let new = inspect_json(&name);
    assert_ne!(new["Id"], old["Id"]);
    assert_eq!(new["Config"]["Image"], imgs.v2.as_str());
    assert_eq!(new["State"]["Status"], "running");
    let env = env_of(&name);
    for expected in [
        "KAFKA_BROKER_ID=1",
        "KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1",
        "KAFKA_HEAP_OPTS=-Xmx1g",
        "CONFLUENT_VERSION=7.7.1",
    ] {
        assert!(env.contains(&expected.to_owned()), "{expected} in {env:?}");
    }
    assert!(
        !env.iter()
            .any(|e| e == "CONFLUENT_VERSION=7.1.1" || e.starts_with("HEAP_OPTS=")),
        "{env:?}"
    );
    assert_eq!(
        new["Config"]["Labels"]["io.kroll.test.version"], "7.7.1",
        "the new image's label, not the old one's"
    );
    assert_eq!(new["Config"]["Labels"]["kroll.node"], "node-rc");
    assert_eq!(new["Config"]["Hostname"], "kafka-01");
    assert_eq!(new["Config"]["User"], "1000");
    assert_eq!(new["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(new["HostConfig"]["Memory"], old["HostConfig"]["Memory"]);
    assert_eq!(
        new["HostConfig"]["PortBindings"],
        old["HostConfig"]["PortBindings"]
    );
    let aliases = new["NetworkSettings"]["Networks"][&net.0]["Aliases"].to_string();
    assert!(aliases.contains("kafka-01"), "{aliases}");
    let out = dir.path().join("back");
    for path in ["/data/marker", "/named/marker"] {
        docker_cli(&["cp", &format!("{name}:{path}"), &out.display().to_string()]);
        assert_eq!(
            std::fs::read_to_string(&out).expect("read"),
            "kept",
            "{path} survived the recreate"
        );
        std::fs::remove_file(&out).expect("rm");
    }
    let prev = inspect_json(&format!("{name}-kroll-prev"));
    assert_eq!(prev["Id"], old["Id"], "the previous definition is kept");
    assert_eq!(prev["State"]["Status"], "exited");
    assert_eq!(
        prev["HostConfig"]["RestartPolicy"]["Name"], "no",
        "a kept container never comes back on its own"
    );

    let again = cl
        .recreate(
            "op-rc",
            &name,
            &imgs.v2,
            &patch,
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(
        inspect_json(&name)["Id"],
        new["Id"],
        "a repeated operation id acts once"
    );

    let rb = cl
        .rollback("op-rb", &name, Duration::from_secs(10))
        .await
        .expect("rollback");
    assert_eq!(rb.restored_image, imgs.v1);
    let back = inspect_json(&name);
    assert_eq!(back["Id"], old["Id"], "the very same container is back");
    assert_eq!(back["State"]["Status"], "running");
    assert_eq!(
        back["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped",
        "its restart policy restored"
    );
    assert!(
        std::process::Command::new("docker")
            .args(["inspect", &format!("{name}-kroll-prev")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(false)
    );
    docker_cli(&[
        "cp",
        &format!("{name}:/data/marker"),
        &out.display().to_string(),
    ]);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "kept");
    let err = cl
        .rollback("op-rb2", &name, Duration::from_secs(10))
        .await
        .expect_err("nothing kept any more");
    assert!(err.to_string().contains("no previous definition"), "{err}");
    let audit = std::fs::read_to_string(&agent.audit).expect("audit");
    for action in ["\"recreate\"", "\"rollback\""] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(action) && l.contains("\"end\"") && l.contains("\"ok\"")),
            "{action} audited: {audit}"
        );
    }
    agent.stop().await;
}

/// The container under `name` is still `current` (not restarted, running) and the kept one is
/// still `kept`.
fn assert_unchanged(why: &str, name: &str, current: &serde_json::Value, kept: &serde_json::Value) {
    let now = inspect_json(name);
    assert_eq!(now["Id"], current["Id"], "{why}: the same container");
    assert_eq!(now["State"]["Status"], "running", "{why}");
    assert_eq!(
        now["State"]["StartedAt"], current["State"]["StartedAt"],
        "{why}: not restarted"
    );
    assert_eq!(
        inspect_json(&format!("{name}-kroll-prev"))["Id"],
        kept["Id"],
        "{why}: the kept definition is still there"
    );
}

/// An image whose program exits at once (the way a new container dies when its command
/// cannot run); removed on drop.
async fn dying_image() -> Images {
    let base = labbox_image().await;
    let docker = kroll_tests::docker().await;
    let mut ctx = kroll_lab::image::Context::new();
    let tag = format!("kroll-test/box-{}:dies", run_id());
    ctx.dockerfile(&format!(
        "FROM {base}\n{}CMD [\"--exit-after-ms\", \"100\", \"--exit-code\", \"3\"]\n",
        own_layers(&tag)
    ));
    kroll_lab::image::ensure(&docker, &ctx, &tag)
        .await
        .expect("build test image");
    Images {
        v1: tag.clone(),
        v2: tag,
    }
}

/// A container (restart policy `unless-stopped`) recreated once, so a `-kroll-prev` is kept;
/// dropped in reverse order: the agent, the containers, the images.
struct Recreated {
    agent: Option<RunningAgent>,
    cl: kroll::agents::AgentClient,
    name: String,
    current: serde_json::Value,
    kept: serde_json::Value,
    _cleanup: Cleanup,
    imgs: Images,
    _pki: kroll_tests::Pki,
    _dir: tempfile::TempDir,
}

async fn recreated_once(which: &str) -> Recreated {
    let imgs = images(which).await;
    let node = format!("node-{which}");
    let pki = kroll_tests::Pki::new(&[&node]);
    let dir = tempfile::tempdir().expect("tmp");
    let name = format!("{}-{which}1", run_id());
    let cleanup = Cleanup(vec![
        name.clone(),
        format!("{name}-kroll-prev"),
        format!("{name}-kroll-next"),
    ]);
    let run = format!("kroll.test.run={}", run_id());
    let on = format!("kroll.node={node}");
    docker_cli(&[
        "run",
        "-d",
        "--name",
        &name,
        "--restart",
        "unless-stopped",
        "--label",
        &run,
        "--label",
        &on,
        &imgs.v1,
    ]);
    let agent = RunningAgent::start(&pki, &node, kroll_tests::allow_node(&node), dir.path()).await;
    let mut cl = client(&pki, "coordinator", &agent).await;
    cl.recreate(
        "op-1",
        &name,
        &imgs.v2,
        &EnvPatch::setting("KAFKA_BROKER_ID", "1"),
        None,
        Duration::from_secs(10),
    )
    .await
    .expect("recreate");
    let current = inspect_json(&name);
    let kept = inspect_json(&format!("{name}-kroll-prev"));
    Recreated {
        agent: Some(agent),
        cl,
        name,
        current,
        kept,
        _cleanup: cleanup,
        imgs,
        _pki: pki,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreate_docker_would_refuse_is_refused_before_anything_is_stopped() {
    let Recreated {
        agent,
        mut cl,
        name,
        current,
        kept,
        imgs,
        _cleanup,
        _pki,
        _dir,
    } = recreated_once("rf").await;
    let unchanged = |why: &str| assert_unchanged(why, &name, &current, &kept);
    // An environment patch Docker would refuse: refused before anything is stopped.
    let err = cl
        .recreate(
            "op-2",
            &name,
            &imgs.v1,
            &EnvPatch::setting("", "x"),
            None,
            Duration::from_secs(10),
        )
        .await
        .expect_err("an empty variable name is refused");
    assert_eq!(code(&err), Some(tonic::Code::InvalidArgument), "{err}");
    assert!(err.to_string().contains("nothing was done"), "{err}");
    unchanged("empty env name");

    if let Some(a) = agent {
        a.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_container_that_dies_at_once_fails_the_recreate_and_the_previous_one_is_put_back() {
    let dies = dying_image().await;
    let Recreated {
        agent,
        mut cl,
        name,
        current,
        kept: _,
        imgs,
        _cleanup,
        _pki,
        _dir,
    } = recreated_once("rd").await;
    // A new container that dies at once: a failure, and the previous one is back, running.
    let err = cl
        .recreate(
            "op-6",
            &name,
            &dies.v1,
            &EnvPatch::default(),
            None,
            Duration::from_secs(10),
        )
        .await
        .expect_err("a new container that exits at once is a failure");
    assert_eq!(code(&err), Some(tonic::Code::Aborted), "{err}");
    assert!(err.to_string().contains("put back"), "{err}");
    let now = inspect_json(&name);
    assert_eq!(
        now["Id"], current["Id"],
        "the previous container is back under its name"
    );
    assert_eq!(now["State"]["Status"], "running");
    assert_eq!(now["Config"]["Image"], imgs.v2.as_str());
    assert_eq!(
        now["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped",
        "its restart policy restored"
    );
    assert!(
        std::process::Command::new("docker")
            .args(["inspect", &format!("{name}-kroll-next")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(false),
        "no half-made container is left"
    );
    if let Some(a) = agent {
        let audit = std::fs::read_to_string(&a.audit).expect("audit");
        assert!(
            audit.lines().any(|l| l.contains("\"op-6\"")
                && l.contains("\"end\"")
                && l.contains("\"error\"")),
            "{audit}"
        );
        a.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_containers_and_swarm_tasks_are_never_acted_on() {
    let imgs = images("rk").await;
    let pki = kroll_tests::Pki::new(&["node-rk"]);
    let dir = tempfile::tempdir().expect("tmp");
    let name = format!("{}-rk1", run_id());
    let swarm = format!("{}-rk-task", run_id());
    let _cleanup = Cleanup(vec![
        name.clone(),
        format!("{name}-kroll-prev"),
        swarm.clone(),
    ]);
    let labels = [
        "--label".to_owned(),
        format!("kroll.test.run={}", run_id()),
        "--label".to_owned(),
        "kroll.node=node-rk".to_owned(),
    ];
    for (n, verb) in [
        (name.clone(), "run"),
        (format!("{name}-kroll-prev"), "create"),
    ] {
        let mut args: Vec<&str> = vec![verb];
        if verb == "run" {
            args.push("-d");
        }
        args.extend(["--name", &n]);
        args.extend(labels.iter().map(String::as_str));
        args.push(&imgs.v1);
        docker_cli(&args);
    }
    let agent = RunningAgent::start(
        &pki,
        "node-rk",
        kroll_tests::allow_node("node-rk"),
        dir.path(),
    )
    .await;
    let mut cl = client(&pki, "coordinator", &agent).await;
    let current = inspect_json(&name);
    let kept = inspect_json(&format!("{name}-kroll-prev"));
    let unchanged = |why: &str| assert_unchanged(why, &name, &current, &kept);
    // The kept container is never actionable.
    let err = cl
        .restart(
            "op-3",
            &format!("{name}-kroll-prev"),
            Duration::from_secs(5),
        )
        .await
        .expect_err("a kept container is not a service");
    assert_eq!(code(&err), Some(tonic::Code::FailedPrecondition), "{err}");
    assert!(
        err.to_string().contains("kept previous definition"),
        "{err}"
    );
    unchanged("restart of the kept container");
    assert_ne!(
        inspect_json(&format!("{name}-kroll-prev"))["State"]["Status"],
        "running"
    );

    // A Swarm task container is refused before anything is stopped, naming its service.
    let mut args: Vec<&str> = vec![
        "run",
        "-d",
        "--name",
        &swarm,
        "--label",
        "com.docker.swarm.task.id=abc123",
        "--label",
        "com.docker.swarm.service.name=kafka_kafka-1",
    ];
    args.extend(labels.iter().map(String::as_str));
    args.push(&imgs.v1);
    docker_cli(&args);
    let task = inspect_json(&swarm);
    for result in [
        cl.recreate(
            "op-4",
            &swarm,
            &imgs.v2,
            &EnvPatch::default(),
            None,
            Duration::from_secs(5),
        )
        .await
        .map(|_| ()),
        cl.rollback("op-5", &swarm, Duration::from_secs(5))
            .await
            .map(|_| ()),
    ] {
        let err = result.expect_err("a Swarm task is refused");
        assert_eq!(code(&err), Some(tonic::Code::FailedPrecondition), "{err}");
        assert!(
            err.to_string()
                .contains("task of the Docker Swarm service `kafka_kafka-1`"),
            "{err}"
        );
    }
    let now = inspect_json(&swarm);
    assert_eq!(now["Id"], task["Id"]);
    assert_eq!(
        now["State"]["StartedAt"], task["State"]["StartedAt"],
        "never stopped"
    );

    agent.stop().await;
}
