//! kroll's Kafka clients over SASL_PLAINTEXT / PLAIN against lab brokers with the journal's
//! security (SASL listeners, AclAuthorizer, deny by default, super user `User:admin`):
//! `kroll status` logs in as the inventory's `[kafka]` says and names a refused login and a
//! missing ACL (principal, operation, resource); the gates' probe refuses rather than assume a
//! `min.insync.replicas` it may not read; the sink-lag and key-sample readers name the ACL
//! instead of taking a hidden topic for an absent one; no password is ever in kroll's output.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kroll::kafka::{Kafka, KafkaConnection, KafkaReader, TopicSelector};
use kroll::upgrade::observe::KafkaProbe;
use kroll_lab::kafka::{AclEntry, set_acls};
use kroll_shared::inventory::Inventory;
use kroll_tests::Pki;
use kroll_tests::hostlab::LabHome;
use kroll_tests::hostlab::cluster::{HostKafka, HostSecurity};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

use super::{kroll, text};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A password unlikely to appear anywhere by chance.
fn password(what: &str) -> String {
    format!("{what}-Kafka-Pw-{}", kroll_tests::run_id())
}

fn jaas(admin: &str, kroll: &str) -> String {
    format!(
        "KafkaServer {{\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  \
         username=\"admin\"\n  password=\"{admin}\"\n  user_admin=\"{admin}\"\n  \
         user_kroll=\"{kroll}\";\n}};\n"
    )
}

fn admin_config(bootstrap: &str, password: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", "admin")
        .set("sasl.password", password);
    c
}

/// An inventory whose `[kafka]` logs in as `kroll` with the password in `password_file`.
fn inventory(
    dir: &Path,
    name: &str,
    kafka: &HostKafka,
    pki: &Pki,
    password_file: &Path,
) -> PathBuf {
    let sasl = kafka.sasl_bootstrap.as_deref().expect("SASL_EXT listeners");
    let p = |f: &str| pki.path(f).display().to_string();
    let text = format!(
        "[cluster]\nname = \"sasl-test\"\nkafka_bootstrap = [\"{sasl}\"]\nzookeeper = \"{}/kafka\"\n\n\
         [tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\n\
         [kafka]\nsecurity_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\n\
         username = \"kroll\"\npassword_file = \"{}\"\n\n\
         [[nodes]]\nname = \"rhodrylab-01\"\nagent = \"127.0.0.1:1\"\n\
         services = [{{ kind = \"broker\", container = \"kafka-01\", broker_id = 1 }}]\n",
        kafka.zookeeper,
        p("ca.pem"),
        p("coordinator.pem"),
        p("coordinator-key.pem"),
        password_file.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("inventory");
    path
}

/// `kroll status --output json` (it exits 3: the inventory's agent is not running).
fn status(inventory: &Path, dir: &Path) -> (Value, String) {
    let inv = inventory.display().to_string();
    let out = kroll(&["--inventory", &inv, "--output", "json", "status"], dir);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "status with an unreachable agent exits 3:\n{stdout}\n{stderr}"
    );
    let json: Value = serde_json::from_str(&stdout).expect("status JSON");
    (json, format!("{stdout}\n{stderr}"))
}

fn kafka_error(status: &Value) -> String {
    status["kafka"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn grant(zookeeper: &str, kind: &str, name: &str, operations: &[&str]) {
    let acls: Vec<AclEntry> = operations
        .iter()
        .map(|op| AclEntry::allow("User:kroll", op))
        .collect();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(set_acls(zookeeper, kind, name, &acls))
        .expect("set ACLs");
}

/// Polls `kroll status` until `done` holds for its answer.
fn status_until(
    inventory: &Path,
    dir: &Path,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> (Value, String) {
    let began = Instant::now();
    loop {
        let (s, out) = status(inventory, dir);
        if done(&s) {
            return (s, out);
        }
        assert!(
            began.elapsed() < TIMEOUT,
            "timed out waiting for {what}:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn kroll_logs_in_with_sasl_and_names_refused_logins_and_missing_acls() {
    let home = LabHome::new("7.7.1");
    let dir = home.dir("sasl");
    let (admin_pw, kroll_pw) = (password("admin"), password("kroll"));
    let kafka = HostKafka::start_secured(
        &home,
        1,
        "3.7.1",
        &HostSecurity {
            jaas: jaas(&admin_pw, &kroll_pw),
            super_users: "User:admin".into(),
        },
    );
    let sasl = kafka.sasl_bootstrap.clone().expect("SASL_EXT");
    let zk = kafka.zookeeper.clone();
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // The super user makes two topics and writes keyed records; kroll may Describe only
    // `orders` (and every group, for its own consumers).
    let admin: AdminClient<DefaultClientContext> =
        admin_config(&sasl, &admin_pw).create().expect("admin");
    let topics = [
        NewTopic::new("orders", 2, TopicReplication::Fixed(1)),
        NewTopic::new("hidden", 1, TopicReplication::Fixed(1)),
    ];
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in rt
        .block_on(admin.create_topics(&topics, &opts))
        .unwrap_or_else(|e| panic!("create topics: {e}\n{}", kafka.log_tails()))
    {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}\n{}", kafka.log_tails()));
    }
    let producer: BaseProducer = admin_config(&sasl, &admin_pw)
        .set("acks", "all")
        .create()
        .expect("producer");
    for i in 0..10 {
        let key = format!("order-{i}");
        producer
            .send(BaseRecord::to("orders").key(&key).payload("{}"))
            .map_err(|(e, _)| e)
            .expect("produce");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    grant(&zk, "Topic", "orders", &["Describe"]);
    grant(&zk, "Group", "*", &["Describe"]);

    let pw_file = dir.join("kafka-password");
    std::fs::write(&pw_file, format!("{kroll_pw}\n")).expect("password file");
    let pki = Pki::new(&[]);
    let good = inventory(&dir, "good", &kafka, &pki, &pw_file);

    // Logged in, but DescribeConfigs is missing: status names principal, operation, resource.
    let mut outputs = Vec::new();
    let (s, out) = status_until(&good, &dir, "the Describe ACL to apply", |s| {
        s["kafka"]["topics"] == 1
    });
    outputs.push(out.clone());
    assert_eq!(s["kafka"]["brokers"], 1, "{out}");
    assert_eq!(
        s["kafka"]["connects_as"], "SASL_PLAINTEXT, PLAIN as `kroll`",
        "{out}"
    );
    let error = kafka_error(&s);
    assert!(
        error.starts_with("Kafka described no configuration of topic `orders`: it answers so when User:kroll may not DescribeConfigs on it (no ACL allows it; kroll needs it to read min.insync.replicas before stopping a broker: grant it with `kafka-acls --bootstrap-server … --add --allow-principal User:kroll --operation DescribeConfigs --topic 'orders'`)"),
        "{out}\n{}",
        kafka.log_tails()
    );
    assert!(
        s["problems"]
            .to_string()
            .contains("User:kroll may not DescribeConfigs on it"),
        "{out}"
    );

    // The gates' probe (what `kroll plan` / `kroll upgrade` observe before any step) refuses
    // with the same words rather than assume a min.insync.replicas.
    let inv = Inventory::load(&good).expect("inventory");
    let connection = KafkaConnection::from_inventory(&inv).expect("connection");
    let probe =
        KafkaProbe::new(connection.clone(), &format!("{zk}/kafka"), TIMEOUT).expect("probe");
    let refused = rt.block_on(probe.observe()).expect_err("observe");
    assert!(
        refused.contains("Kafka described no configuration of topic `hidden`: it answers so when User:kroll may not DescribeConfigs on it"),
        "the probe reads every topic ZooKeeper lists, in order: {refused}"
    );

    // The readers: a listed topic kroll may not Describe is refused by name, not skipped as
    // absent; a topic it may not Read is refused by name.
    let reader = Kafka::new(connection, TIMEOUT);
    let lag = rt
        .block_on(reader.group_lag(
            "connect-sink",
            &TopicSelector::Topics(vec!["orders".into(), "hidden".into()]),
        ))
        .expect_err("lag of a hidden topic");
    assert!(
        lag.to_string().contains("Kafka refused Describe on topic `hidden` to User:kroll (no ACL allows it; kroll needs it to measure the sink's lag)"),
        "{lag}"
    );
    let ends = rt
        .block_on(reader.end_offsets(&["orders".into()]))
        .expect("end offsets with Describe");
    assert_eq!(ends["orders"].end_sum, 10, "{ends:?}");
    let sample = rt
        .block_on(reader.sample_keys("orders", 10))
        .expect_err("sampling without Read");
    assert!(
        sample
            .to_string()
            .contains("Kafka refused Read on topic `orders` to User:kroll"),
        "{sample}"
    );

    // Granted: status has no Kafka problem, the probe reads the topic's configuration, the
    // sampler reads every key.
    grant(
        &zk,
        "Topic",
        "orders",
        &["Describe", "DescribeConfigs", "Read"],
    );
    // `orders` is readable now, but the gates also need `hidden`'s min.insync.replicas (a
    // topic kroll cannot see in the metadata is still in ZooKeeper, on the brokers it stops):
    // status says so as the upgrade would.
    let (_, out) = status_until(&good, &dir, "the probe to reach `hidden`", |s| {
        kafka_error(s).starts_with("Kafka described no configuration of topic `hidden`")
    });
    outputs.push(out);
    grant(&zk, "Topic", "hidden", &["DescribeConfigs"]);
    let (s, out) = status_until(&good, &dir, "the DescribeConfigs ACLs to apply", |s| {
        s["kafka"]["error"].is_null()
    });
    outputs.push(out.clone());
    assert!(!s["problems"].to_string().contains("Kafka"), "{out}");
    let text_out = kroll(
        &["--inventory", &good.display().to_string(), "status"],
        &dir,
    );
    let (stdout, _) = text(&text_out);
    outputs.push(stdout.clone());
    assert!(
        stdout.contains(&format!(
            "Kafka: 1 broker(s), 2 topic(s) readable at {sasl} (SASL_PLAINTEXT, PLAIN as `kroll`)"
        )),
        "{stdout}"
    );
    let view = rt.block_on(probe.observe()).expect("observe with the ACLs");
    assert_eq!(view.min_isr.get("orders"), Some(&1), "{:?}", view.min_isr);
    // Up to 20 keys: the last 10 of each partition, so all ten written.
    let keys = rt
        .block_on(reader.sample_keys("orders", 20))
        .expect("sampling with Read");
    let mut keys: Vec<String> = keys
        .keys
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    keys.sort_unstable();
    let written: Vec<String> = (0..10).map(|i| format!("order-{i}")).collect();
    assert_eq!(keys, written);

    // A wrong password: the refusal names the user and where the password came from.
    let wrong_pw = password("wrong");
    let wrong_file = dir.join("wrong-password");
    std::fs::write(&wrong_file, &wrong_pw).expect("password file");
    let wrong = inventory(&dir, "wrong", &kafka, &pki, &wrong_file);
    let (s, out) = status(&wrong, &dir);
    outputs.push(out.clone());
    let error = kafka_error(&s);
    assert!(
        error.contains(
            "Kafka refused kroll's login as `kroll` (SASL_PLAINTEXT, PLAIN as `kroll`): "
        ) && error.contains(&format!(
            "check [kafka] `username` and the password in {} ([kafka] `password_file`)",
            wrong_file.display()
        )),
        "{out}"
    );

    // The gates' probe hears the same refusal (its admin client's request only times out).
    let inv = Inventory::load(&wrong).expect("inventory");
    let connection = KafkaConnection::from_inventory(&inv).expect("connection");
    let probe =
        KafkaProbe::new(connection, &format!("{zk}/kafka"), Duration::from_secs(5)).expect("probe");
    let login_refused = rt.block_on(probe.observe()).expect_err("observe");
    assert!(
        login_refused.contains("Kafka refused kroll's login as `kroll` (SASL_PLAINTEXT, PLAIN as `kroll`): SASL authentication error: "),
        "{login_refused}"
    );
    outputs.push(login_refused);

    // A password file that is not there: named by key and path, and nothing is contacted.
    let missing = inventory(&dir, "missing", &kafka, &pki, &dir.join("no-such-file"));
    let (s, out) = status(&missing, &dir);
    assert!(
        kafka_error(&s).starts_with("[kafka] password_file: cannot read "),
        "{out}"
    );

    outputs.push(out);
    outputs.push(format!("{lag} {sample} {refused}"));
    for out in &outputs {
        for secret in [&admin_pw, &kroll_pw, &wrong_pw] {
            assert!(!out.contains(secret.as_str()), "a password in {out}");
        }
    }
}
