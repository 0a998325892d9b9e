//! No secret value leaves a node: every secret shape issue 11 names, put in the planning
//! variables an agent reports, is absent from `GetNodeState`, from `kroll status --output json`
//! and from the `RecreateContainer` answer — while what planning needs (heap sizes, ZooKeeper
//! hosts) is still there.

use std::time::Duration;

use kroll_shared::model::EnvPatch;
use kroll_tests::{RunningAgent, Spec, TestContainer, allow_node, bin, labbox_image, on_node};

use super::client;

const SECRET: &str = "hunter2";

fn env() -> Vec<String> {
    [
        "JAVA_OPTS=-Xmx1g -Djavax.net.ssl.keyStorePassword=hunter2-a -XX:+UseG1GC",
        "JVM_OPTS=-Xms1g -Dpassword=\"hunter2-b x\" -javaagent:/a.jar=token=hunter2-b",
        "HEAP_OPTS=-Xmx12G -Dtrust=hunter2-c",
        "KAFKA_HEAP_OPTS=-Xmx2G -Dsasl.jaas.config=PlainLoginModule username=u password=hunter2-d;",
        "KAFKA_ZOOKEEPER_CONNECT=user:hunter2-e@zk1:2181,zk2:2181/kafka",
        "SCHEMA_REGISTRY_URL=https://admin:hunter2-f@sr:8081/x",
        "KAFKA_BROKER_ID=1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "{what} carries a secret value: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_shape_leaves_the_node_through_state_status_or_a_recreate_answer() {
    let pki = kroll_tests::Pki::new(&["node-s"]);
    let dir = tempfile::tempdir().expect("tmp");
    let c = TestContainer::start(
        "s1",
        Spec {
            labels: on_node("node-s"),
            env: env(),
            ..Default::default()
        },
    )
    .await;
    let _kept = TestContainer {
        name: format!("{}-kroll-prev", c.name),
    };
    let mut config = kroll_tests::agent_config(&pki, "node-s", allow_node("node-s"), dir.path());
    config.report_env.insert("SCHEMA_REGISTRY_URL".into());
    let started = kroll_agent::Agent::start(config).await.expect("agent");
    let agent = RunningAgent::from_started("node-s", started, dir.path());

    // GetNodeState, as a reader sees it.
    let mut reader = client(&pki, "reader", &agent).await;
    let state = reader.node_state().await.expect("state");
    assert_clean(
        "GetNodeState",
        &serde_json::to_string(&state).expect("json"),
    );
    let got = state.container(&c.name).expect("reported");
    let value = |k: &str| got.env.get(k).map(String::as_str);
    assert_eq!(
        value("JAVA_OPTS"),
        Some("-Xmx1g -Djavax.net.ssl.keyStorePassword=<redacted> -XX:+UseG1GC")
    );
    assert_eq!(value("JVM_OPTS"), Some("-Xms1g -Dpassword=<redacted>"));
    assert_eq!(value("HEAP_OPTS"), Some("-Xmx12G -Dtrust=<redacted>"));
    assert_eq!(
        value("KAFKA_HEAP_OPTS"),
        Some("-Xmx2G -Dsasl.jaas.config=<redacted>")
    );
    assert_eq!(
        value("KAFKA_ZOOKEEPER_CONNECT"),
        Some("zk1:2181,zk2:2181/kafka")
    );
    assert_eq!(
        value("SCHEMA_REGISTRY_URL"),
        Some("https://<redacted>@sr:8081/x")
    );

    // `kroll status --output json`.
    let inventory = format!(
        "[cluster]\nname = \"secrets\"\n\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\n[[nodes]]\nname = \"node-s\"\nagent = \"{}\"\nservices = [{{ kind = \"broker\", container = \"{}\", broker_id = 1 }}]\n",
        pki.path("ca.pem").display(),
        pki.path("reader.pem").display(),
        pki.path("reader-key.pem").display(),
        agent.addr,
        c.name,
    );
    std::fs::write(dir.path().join("kroll.toml"), inventory).expect("inventory");
    let out = std::process::Command::new(bin("kroll"))
        .args(["status", "--output", "json"])
        .current_dir(dir.path())
        .env_remove("KROLL_INVENTORY")
        .output()
        .expect("kroll status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("zk1:2181,zk2:2181/kafka"), "{stdout}");
    assert_clean("kroll status --output json", &stdout);

    // The RecreateContainer answer.
    let mut coord = client(&pki, "coordinator", &agent).await;
    let r = coord
        .recreate(
            "op-s",
            &c.name,
            labbox_image().await,
            &EnvPatch::setting("KAFKA_BROKER_ID", "2"),
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("recreate");
    let answer = serde_json::to_string(&r.container).expect("json");
    assert!(answer.contains("-Xmx2G"), "{answer}");
    assert_clean("the RecreateContainer answer", &answer);
    agent.stop().await;
}
