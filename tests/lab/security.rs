//! A SASL lab (`kroll-lab up --security sasl`; three brokers, one Connect worker, Schema
//! Registry, REST proxy and Kafdrop, no seed data, no agents): the journal's four listeners,
//! its JAAS secret, `AclAuthorizer` and ACLs, checked with clients nobody here wrote; Connect,
//! Schema Registry and the REST proxy require HTTP basic auth (401 without credentials and with
//! a wrong password, each user admitted where the lab says), and kroll's own clients log in to
//! them with the inventory the lab wrote, naming the refused user and the inventory key when
//! its password file is wrong.
//! kcat logs in over `SASL_EXT` as kroll and is refused with a wrong password; confluent-kafka
//! and kafka-python log in over SASL_PLAINTEXT/PLAIN, write as admin and read as kroll in a
//! group; kroll reads topic configs (rdkafka's DescribeConfigs) but its own produce and topic
//! creation are refused (its ACLs allow reads only), and a user without any ACL is refused a
//! produce, with `TOPIC_AUTHORIZATION_FAILED`; `User:ANONYMOUS` on `PLAINTEXT_EXT`
//! still does everything. No password is in a container's configuration or logs, in what
//! `kroll-lab up` prints, in the inventory or in the state file; a second `up` keeps the
//! passwords; `down` leaves nothing, the JAAS file's directory included.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kroll_lab::rest_auth::RestAuth;
use kroll_lab::security::{Credentials, SaslAccess};
use kroll_lab::topology::{Security, Services, Shape};
use kroll_lab::{LabHandle, Progress, UpOptions};
use kroll_shared::kafka_access::SecurityProtocol;
use kroll_tests::{docker_cli, inspect_json};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::Value;

use super::{
    TestLab, clients_python, container_logs, kcat, kcat_output, kcat_produce, kcat_read, repo,
};

/// The smallest lab that replicates at RF 3 over `SASL_INT`, with one Connect worker.
const SHAPE: Shape = Shape {
    nodes: 3,
    zookeepers: 1,
    connect_workers: 1,
    load_partitions: 0,
};
/// Written by admin, read by kroll.
const TOPIC: &str = "sasl-check";
/// `TOPIC_AUTHORIZATION_FAILED`.
const TOPIC_AUTHORIZATION_FAILED: i64 = 29;

/// What every `up` of this test's lab is given; its progress lines (what `kroll-lab up`
/// prints) are kept in `said`.
fn sasl_options(said: Arc<Mutex<Vec<String>>>) -> impl FnOnce(&mut UpOptions) {
    move |o| {
        // The REST services without the seed connectors: their logins are what is checked here
        // (the converters' is `lab::upgrade_connect`'s, on a Swarm SASL lab).
        o.services = Services::Full;
        o.seed = false;
        o.shape = SHAPE;
        o.agents = false;
        o.security = Security::Sasl;
        let name = o.name.clone();
        o.progress = Progress::new(move |l| {
            eprintln!("[{name}] {l}");
            said.lock().expect("progress lines").push(l.to_owned());
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sasl_lab_has_the_journals_listeners_logins_and_acls_and_shows_no_password() {
    let began = Instant::now();
    let said = Arc::new(Mutex::new(Vec::new()));
    let lab = TestLab::up_custom("sasl", sasl_options(said.clone())).await;
    let up_secs = began.elapsed().as_secs_f64();
    let sasl = lab
        .handle
        .sasl
        .clone()
        .expect("a SASL lab's handle has its SASL access");
    let work = tempfile::tempdir().expect("tempdir");

    secrets_are_files_only_their_readers_read(&lab, &sasl);
    kcat_logs_in_as_kroll_and_a_wrong_password_is_refused(&sasl, work.path());
    admin_writes_and_kroll_reads_with_both_independent_clients(&lab, &sasl).await;
    produces_without_write_are_refused_topic_authorization_failed(&lab, &sasl);
    kroll_reads_topic_configs_and_creates_nothing(&lab, &sasl).await;
    kroll_logs_in_with_the_labs_inventory(&lab).await;
    let rest = lab
        .handle
        .rest_auth
        .clone()
        .expect("a full SASL lab's handle has its REST logins");
    rest_secrets_are_mounted_read_only_into_their_services(&lab, &rest);
    rest_services_require_basic_auth(&lab, &rest).await;
    kroll_logs_in_to_connect_and_schema_registry_and_names_a_refusal(&lab, &rest).await;
    anonymous_on_plaintext_ext_still_does_everything(&lab);
    let again = up_again_keeps_the_passwords_and_refuses_another_security(&lab, &said).await;
    no_password_shows(&lab, &again, &sasl, &rest, &said);
    down_leaves_nothing(lab, &sasl).await;
    println!(
        "FIGURE SASL lab test (3 brokers): up {up_secs:.1} s, whole test {:.1} s",
        began.elapsed().as_secs_f64()
    );
}

fn broker_containers(lab: &TestLab) -> Vec<String> {
    (1..=SHAPE.nodes)
        .map(|n| format!("{}-kafka-{n:02}", lab.name()))
        .collect()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The JAAS file and kroll's password file are 0600, the JAAS file the brokers' (uid 1000) and
/// mounted read-only where the journal's secret appears; the inventory logs kroll in over
/// `SASL_EXT` with the password file; the state file records the security.
fn secrets_are_files_only_their_readers_read(lab: &TestLab, sasl: &SaslAccess) {
    assert_eq!(mode(&sasl.jaas_file), 0o600);
    let owner = std::fs::metadata(&sasl.jaas_file).expect("JAAS").uid();
    assert_eq!(owner, 1000, "the JAAS file belongs to the brokers' appuser");
    assert_eq!(mode(&sasl.password_file), 0o600);
    let written = std::fs::read_to_string(&sasl.password_file).expect("password file");
    assert!(
        written.trim_end() == sasl.kroll.password.expose(),
        "{} does not hold kroll's password",
        sasl.password_file.display()
    );
    let inv = kroll_shared::inventory::Inventory::load(&lab.handle.inventory).expect("inventory");
    let kafka = inv.kafka.expect("the inventory's [kafka] section");
    assert_eq!(kafka.security_protocol, SecurityProtocol::SaslPlaintext);
    assert_eq!(
        kafka.sasl_mechanism.map(|m| m.name()),
        Some("PLAIN"),
        "{kafka:?}"
    );
    assert_eq!(kafka.username.as_deref(), Some("kroll"));
    assert_eq!(kafka.password_file.as_ref(), Some(&sasl.password_file));
    assert_eq!(inv.cluster.kafka_bootstrap, sasl.bootstrap);
    assert_eq!(sasl.bootstrap.len(), 3);
    let state = kroll_lab::state::LabState::load(&lab.handle.dir)
        .expect("lab.json")
        .expect("a state");
    assert_eq!(state.security, Security::Sasl);

    for broker in broker_containers(lab) {
        let c = inspect_json(&broker);
        let mounts = c["Mounts"].as_array().expect("Mounts");
        let jaas = mounts
            .iter()
            .find(|m| m["Destination"] == "/run/secrets/KAFKA_JAAS")
            .unwrap_or_else(|| panic!("{broker} mounts no JAAS file: {mounts:?}"));
        assert_eq!(jaas["Type"], "bind", "{jaas}");
        assert_eq!(jaas["RW"], false, "{jaas}");
        assert_eq!(
            jaas["Source"].as_str().map(PathBuf::from),
            Some(sasl.jaas_file.clone())
        );
        let env: Vec<&str> = c["Config"]["Env"]
            .as_array()
            .expect("Env")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for wanted in [
            "KAFKA_OPTS=-Djava.security.auth.login.config=/run/secrets/KAFKA_JAAS",
            "KAFKA_INTER_BROKER_LISTENER_NAME=SASL_INT",
            "KAFKA_AUTHORIZER_CLASS_NAME=kafka.security.authorizer.AclAuthorizer",
            "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND=false",
            "KAFKA_SUPER_USERS=User:admin",
        ] {
            assert!(env.contains(&wanted), "{broker}: no {wanted} in {env:?}");
        }
        // The broker (appuser) reads it and cannot change it (not even its times: the mount is
        // read-only); another uid cannot read it.
        let exec = |user: &str, args: &[&str]| {
            Command::new("docker")
                .args(["exec", "-u", user, &broker])
                .args(args)
                .output()
                .expect("docker exec")
        };
        let jaas = "/run/secrets/KAFKA_JAAS";
        assert!(
            exec("1000", &["test", "-r", jaas]).status.success(),
            "{broker}: appuser cannot read the JAAS file"
        );
        let touched = exec("1000", &["touch", jaas]);
        assert!(
            !touched.status.success()
                && String::from_utf8_lossy(&touched.stderr).contains("Read-only file system"),
            "{broker}: the JAAS mount is not read-only: {touched:?}"
        );
        assert!(
            !exec("1001", &["test", "-r", jaas]).status.success(),
            "{broker}: uid 1001 reads the JAAS file"
        );
    }
}

/// A kcat configuration file (mode 0600) logging in as `user`: the password stays out of
/// kcat's arguments.
fn kcat_config(dir: &Path, file: &str, user: &str, password: &str) -> String {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("kcat config");
    write!(
        f,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=PLAIN\nsasl.username={user}\nsasl.password={password}\n"
    )
    .expect("kcat config");
    path.to_string_lossy().into_owned()
}

/// [`kcat_config`] for one of the lab's users.
pub(super) fn kcat_config_for(dir: &Path, user: &Credentials) -> String {
    kcat_config(
        dir,
        &format!("{}.conf", user.username),
        &user.username,
        user.password.expose(),
    )
}

fn kcat_out(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn kcat_logs_in_as_kroll_and_a_wrong_password_is_refused(sasl: &SaslAccess, dir: &Path) {
    let good = kcat_config_for(dir, &sasl.kroll);
    let b = &sasl.bootstrap[0];
    let md: Value =
        serde_json::from_str(&kcat(&["-F", &good, "-b", b, "-L", "-J"], "")).expect("kcat -J");
    let brokers = md["brokers"].as_array().expect("brokers");
    let mut ids: Vec<i64> = brokers.iter().filter_map(|b| b["id"].as_i64()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3], "{md}");
    for broker in brokers {
        let name = broker["name"].as_str().unwrap_or_default();
        assert!(
            sasl.bootstrap.iter().any(|s| name.starts_with(s.as_str())),
            "a client of SASL_EXT is told SASL_EXT addresses: {name} is none of {:?}",
            sasl.bootstrap
        );
    }

    let wrong = kcat_config(dir, "wrong.conf", "kroll", "not-kroll's-password");
    let began = Instant::now();
    let out = kcat_output(&["-F", &wrong, "-b", b, "-L", "-m", "5"], "");
    assert!(
        !out.status.success(),
        "kcat with a wrong password succeeded"
    );
    let said = kcat_out(&out);
    assert!(
        said.contains("Authentication failed: Invalid username or password"),
        "{said}"
    );
    println!(
        "FIGURE kcat refused a wrong password in {:.1} s",
        began.elapsed().as_secs_f64()
    );
}

/// Runs `tests/clients/sasl.py` with the users' passwords in its environment; its one JSON
/// line.
fn clients(sasl: &SaslAccess, args: &[&str]) -> Value {
    let out = Command::new(clients_python())
        .arg(repo().join("tests/clients/sasl.py"))
        .args(args)
        .args(["--bootstrap", &sasl.bootstrap.join(","), "--topic", TOPIC])
        .env("LAB_PASSWORD_ADMIN", sasl.admin.password.expose())
        .env("LAB_PASSWORD_KROLL", sasl.kroll.password.expose())
        .env("LAB_PASSWORD_NOBODY", sasl.nobody.password.expose())
        .output()
        .expect("tests/clients/sasl.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sasl.py {args:?}: {stdout}{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("sasl.py {args:?}: {e}: {stdout}"))
}

async fn admin_writes_and_kroll_reads_with_both_independent_clients(
    lab: &TestLab,
    sasl: &SaslAccess,
) {
    let created = clients(sasl, &["create"]);
    assert_eq!(created["partitions"], 3, "{created}");
    let runs = clients_at_once(
        sasl,
        ["confluent", "kafka-python"].map(|client| {
            let group = format!("sasl-{client}");
            ["roundtrip", "--client", client, "--group", &group].map(str::to_owned)
        }),
    );
    for run in &runs {
        println!("independent client, admin → kroll: {run}");
        let (p, c) = (&run["produced"], &run["consumed"]);
        assert!(p["user"] == "admin" && p["error"].is_null(), "{run}");
        assert!(c["user"] == "kroll" && c["found"] == true, "{run}");
        assert_eq!(c["partition"], p["partition"], "{run}");
        assert_eq!(c["offset"], p["offset"], "{run}");
        // kroll's commit, read back by a third client (rdkafka as ANONYMOUS on PLAINTEXT_EXT).
        let group = format!("sasl-{}", run["client"].as_str().unwrap_or_default());
        let committed =
            kroll_lab::kafka::committed_total(&lab.handle.bootstrap, &group, &[TOPIC.to_owned()])
                .await
                .expect("OffsetFetch");
        assert!(committed >= 1, "group {group} committed {committed}: {run}");
    }
}

/// [`clients`] once per argument list, all at the same time; their answers in the lists' order.
fn clients_at_once<const N: usize, const A: usize>(
    sasl: &SaslAccess,
    runs: [[String; A]; N],
) -> Vec<Value> {
    std::thread::scope(|s| {
        let threads =
            runs.map(|args| s.spawn(move || clients(sasl, &args.each_ref().map(String::as_str))));
        threads
            .into_iter()
            .map(|t| t.join().expect("client thread"))
            .collect()
    })
}

fn produces_without_write_are_refused_topic_authorization_failed(lab: &TestLab, sasl: &SaslAccess) {
    let cases = [
        ("confluent", "nobody"),
        ("kafka-python", "nobody"),
        ("confluent", "kroll"),
    ];
    let answers = clients_at_once(
        sasl,
        cases.map(|(client, user)| {
            ["produce", "--client", client, "--user", user].map(str::to_owned)
        }),
    );
    for answer in &answers {
        println!("independent client, produce without Write: {answer}");
        assert_eq!(answer["error"], "TOPIC_AUTHORIZATION_FAILED", "{answer}");
        assert_eq!(answer["code"], TOPIC_AUTHORIZATION_FAILED, "{answer}");
        assert!(answer.get("offset").is_none(), "{answer}");
    }
    let logs: String = broker_containers(lab)
        .iter()
        .map(|b| container_logs(b))
        .collect();
    for denial in [
        "Principal = User:nobody is Denied Operation = Describe",
        "Principal = User:kroll is Denied Operation = Write",
    ] {
        assert!(logs.contains(denial), "no broker logged `{denial}`");
    }
}

/// An rdkafka admin client logged in as `user` over `SASL_EXT`.
fn admin_client(
    sasl: &SaslAccess,
    user: &Credentials,
) -> AdminClient<rdkafka::client::DefaultClientContext> {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", sasl.bootstrap.join(","))
        .set("security.protocol", sasl.security_protocol)
        .set("sasl.mechanism", sasl.sasl_mechanism)
        .set("sasl.username", &user.username)
        .set("sasl.password", user.password.expose())
        .set("log_level", "3")
        .create()
        .expect("admin client")
}

/// kroll reads a topic's `min.insync.replicas` (what its gates need) and may create nothing;
/// a user without ACLs may not even read the configs.
/// kroll's own Kafka clients with the inventory the lab wrote (`[kafka]` SASL_PLAINTEXT /
/// PLAIN as `kroll`, its ACLs): they log in, and the gates' observation reads every topic's
/// min.insync.replicas. (This lab runs no agents and has no certificates, so the library is
/// called rather than `kroll status`; `tests/cli/kafka_security.rs` runs the binary.)
async fn kroll_logs_in_with_the_labs_inventory(lab: &TestLab) {
    let inv = kroll_shared::inventory::Inventory::load(&lab.handle.inventory).expect("inventory");
    let connection = kroll::kafka::KafkaConnection::from_inventory(&inv).expect("[kafka]");
    assert_eq!(
        format!("{:?}", connection.security()),
        "SASL_PLAINTEXT, PLAIN as `kroll`"
    );
    let health = kroll::kafka::health::look(connection.clone()).await;
    assert_eq!(health.error, None, "{health:?}");
    assert_eq!(health.brokers, Some(3), "{health:?}");
    let zookeeper = inv.cluster.zookeeper.clone().expect("[cluster] zookeeper");
    let probe = kroll::upgrade::observe::KafkaProbe::new(
        connection,
        &zookeeper,
        std::time::Duration::from_secs(10),
    )
    .expect("probe");
    let view = probe
        .observe()
        .await
        .expect("the gates' observation as kroll");
    assert_eq!(view.min_isr.get(TOPIC), Some(&2), "{:?}", view.min_isr);
}

async fn kroll_reads_topic_configs_and_creates_nothing(lab: &TestLab, sasl: &SaslAccess) {
    let opts = AdminOptions::new().request_timeout(Some(std::time::Duration::from_secs(10)));
    let topic = ResourceSpecifier::Topic(TOPIC);
    let kroll = admin_client(sasl, &sasl.kroll);
    let configs = kroll
        .describe_configs([&topic], &opts)
        .await
        .expect("DescribeConfigs as kroll");
    let min_isr = configs
        .first()
        .and_then(|r| r.as_ref().ok())
        .and_then(|c| c.get("min.insync.replicas"))
        .and_then(|e| e.value.clone());
    assert_eq!(min_isr.as_deref(), Some("2"), "{configs:?}");
    let created = kroll
        .create_topics(
            [&NewTopic::new(
                "kroll-creates-nothing",
                1,
                TopicReplication::Fixed(3),
            )],
            &opts,
        )
        .await
        .expect("CreateTopics answered");
    assert!(
        matches!(
            created.first(),
            Some(Err((_, RDKafkaErrorCode::TopicAuthorizationFailed)))
        ),
        "{created:?}"
    );
    // rdkafka 0.39 drops a resource's error code: a refused topic comes back without entries
    // (see the coordinator's `kafka::admin`); the brokers' authorizer log says why.
    let nobody = admin_client(sasl, &sasl.nobody);
    let refused = nobody
        .describe_configs([&topic], &opts)
        .await
        .expect("DescribeConfigs answered");
    assert!(
        match refused.first() {
            Some(Ok(c)) => c.entries.is_empty(),
            Some(Err(code)) => *code == RDKafkaErrorCode::TopicAuthorizationFailed,
            None => false,
        },
        "{refused:?}"
    );
    let denial = "Principal = User:nobody is Denied Operation = DescribeConfigs";
    assert!(
        broker_containers(lab)
            .iter()
            .any(|b| container_logs(b).contains(denial)),
        "no broker logged `{denial}`"
    );
}

/// The REST services of the lab as `(name, URL to GET)`: each answers 200 there when let in.
fn rest_services(lab: &TestLab) -> [(&'static str, String); 3] {
    let h = &lab.handle;
    [
        ("Connect", format!("{}/connectors", h.connect[0])),
        (
            "Schema Registry",
            format!("{}/subjects", lab.registry_url()),
        ),
        (
            "REST proxy",
            format!(
                "{}/",
                h.rest_proxy.clone().expect("a full lab's REST proxy")
            ),
        ),
    ]
}

/// `GET url` with `login` (user, password) as HTTP basic auth: the status and the
/// `WWW-Authenticate` header.
async fn get_as(url: &str, login: Option<(&str, &str)>) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    if let Some((user, password)) = login {
        request = request.basic_auth(user, Some(password));
    }
    let answer = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let challenge = answer
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (answer.status().as_u16(), challenge)
}

/// The REST services' users and JAAS files are 0600 files of the services' appuser (uid 1000),
/// each bind-mounted read-only at `/run/secrets/<NAME>` into exactly the service that reads it.
fn rest_secrets_are_mounted_read_only_into_their_services(lab: &TestLab, rest: &RestAuth) {
    for f in &rest.secrets {
        assert_eq!(mode(f), 0o600, "{}", f.display());
        assert_eq!(
            std::fs::metadata(f).expect("secret").uid(),
            1000,
            "{}",
            f.display()
        );
    }
    for (service, names) in [
        (
            "connect-01",
            &[
                "CONNECT_JAAS",
                "CONNECT_PASSWORDS",
                "CONNECT_SCHEMA_REGISTRY",
            ][..],
        ),
        (
            "schema-registry",
            &["SCHEMA_REGISTRY_JAAS", "SCHEMA_REGISTRY_PASSWORDS"][..],
        ),
        (
            "rest-proxy",
            &["KAFKA_REST_JAAS", "KAFKA_REST_PASSWORDS"][..],
        ),
        ("kafdrop", &[][..]),
    ] {
        let c = inspect_json(&format!("{}-{service}", lab.name()));
        let mut seen: Vec<String> = Vec::new();
        for m in c["Mounts"].as_array().expect("Mounts") {
            let Some(name) = m["Destination"]
                .as_str()
                .and_then(|d| d.strip_prefix("/run/secrets/"))
            else {
                continue;
            };
            assert_eq!(
                (m["Type"].as_str(), m["RW"].as_bool()),
                (Some("bind"), Some(false)),
                "{service}: {m}"
            );
            let source = PathBuf::from(m["Source"].as_str().unwrap_or_default());
            assert!(
                rest.secrets.contains(&source) && source.ends_with(name),
                "{service}: {m}"
            );
            seen.push(name.to_owned());
        }
        seen.sort();
        assert_eq!(seen, names, "{service}");
    }
}

/// Connect, Schema Registry and the REST proxy answer 401 (with Basic's challenge) without
/// credentials and with a wrong password, and answer each user the lab admits there: `admin`
/// everywhere, `kroll` on Connect and Schema Registry, `connect` (the converters') on Schema
/// Registry only. Kafdrop stays open (it holds no data and calls none of them).
async fn rest_services_require_basic_auth(lab: &TestLab, rest: &RestAuth) {
    let as_user = |c: &Credentials| (c.username.clone(), c.password.expose().to_owned());
    let (admin, kroll, connect) = (
        as_user(&rest.admin),
        as_user(&rest.kroll),
        as_user(&rest.connect),
    );
    for (i, (service, url)) in rest_services(lab).into_iter().enumerate() {
        let (status, challenge) = get_as(&url, None).await;
        assert_eq!(status, 401, "{service} without credentials");
        assert!(
            challenge.starts_with("Basic realm="),
            "{service}: {challenge}"
        );
        for (user, _) in [&admin, &kroll] {
            let (status, _) = get_as(&url, Some((user, "not-the-password"))).await;
            assert_eq!(status, 401, "{service}, {user} with a wrong password");
        }
        assert_eq!(
            get_as(&url, Some((&admin.0, &admin.1))).await.0,
            200,
            "{service} as admin"
        );
        let (kroll_in, connect_in) = [(true, false), (true, true), (false, false)][i];
        for ((user, password), admitted) in [(&kroll, kroll_in), (&connect, connect_in)] {
            let (status, _) = get_as(&url, Some((user, password))).await;
            assert_eq!(
                status,
                if admitted { 200 } else { 401 },
                "{service} as {user}"
            );
        }
    }
    let kafdrop = format!(
        "{}/actuator/health",
        lab.handle.kafdrop.clone().expect("kafdrop")
    );
    assert_eq!(get_as(&kafdrop, None).await.0, 200, "Kafdrop");
}

/// kroll's Connect and Schema Registry clients log in with the inventory the lab wrote
/// (`[connect]` / `[schema_registry]`: `kroll`, `rest-password` beside it) and find both
/// healthy — what `kroll status` shows (`lab::swarm` runs the binary); with a wrong password
/// file each says which user was refused and which inventory key to check, and nothing takes
/// the 401 for an answer.
async fn kroll_logs_in_to_connect_and_schema_registry_and_names_a_refusal(
    lab: &TestLab,
    rest: &RestAuth,
) {
    use kroll::connect::health::{assess, observe_inventory};
    use kroll::registry::health::look_inventory;
    let inventory = &lab.handle.inventory;
    let inv = kroll_shared::inventory::Inventory::load(inventory).expect("inventory");
    assert_eq!(
        inv.connect.as_ref().and_then(|c| c.password_file.clone()),
        Some(rest.password_file.clone())
    );
    assert_eq!(mode(&rest.password_file), 0o600);
    let registry = look_inventory(&inv)
        .await
        .expect("the lab's Schema Registry");
    assert_eq!(registry.error, None, "{registry:?}");
    assert!(registry.compatibility.is_some(), "{registry:?}");
    let connect = assess(&observe_inventory(&inv).await.expect("the lab's Connect"));
    assert!(connect.problems.is_empty(), "{:?}", connect.problems);
    assert!(
        connect
            .summary()
            .starts_with("1/1 workers answering; 0 connector(s)"),
        "{}",
        connect.summary()
    );

    let dir = inventory.parent().expect("the lab's directory");
    let wrong_password = dir.join("rest-password-wrong");
    let wrong_inventory = dir.join("kroll-wrong-rest-password.toml");
    std::fs::write(&wrong_password, "not-the-password\n").expect("wrong password file");
    let text = std::fs::read_to_string(inventory).expect("inventory");
    let text = text.replace(
        "password_file = \"rest-password\"",
        "password_file = \"rest-password-wrong\"",
    );
    std::fs::write(&wrong_inventory, text).expect("wrong inventory");
    let inv = kroll_shared::inventory::Inventory::load(&wrong_inventory).expect("inventory");
    let registry = look_inventory(&inv)
        .await
        .expect("the lab's Schema Registry");
    let said = registry
        .problem()
        .expect("a refused Schema Registry is a problem");
    assert!(
        said.contains("answered 401: the credentials of user `kroll` were refused")
            && said.contains("[schema_registry] `password_file` / `password_env`"),
        "{said}"
    );
    assert_eq!(registry.compatibility, None);
    let connect = assess(&observe_inventory(&inv).await.expect("the lab's Connect"));
    let said: Vec<String> = connect.problems.iter().map(ToString::to_string).collect();
    assert!(
        said.iter().any(
            |p| p.contains("the credentials of user `kroll` were refused")
                && p.contains("[connect] `password_file` / `password_env`")
        ),
        "{said:?}"
    );
    assert!(
        !connect.summary().starts_with("1/1"),
        "{}",
        connect.summary()
    );
    for f in [&wrong_password, &wrong_inventory] {
        std::fs::remove_file(f).expect("remove");
    }
}

fn anonymous_on_plaintext_ext_still_does_everything(lab: &TestLab) {
    let b = &lab.handle.bootstrap[0];
    let lines: Vec<String> = (0..5).map(|i| format!("k{i}:anonymous-{i}")).collect();
    kcat_produce(b, "anon-check", &lines);
    let out = kcat_read(b, "anon-check", "%k:%s\n");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    assert_eq!(got, lines);
    // Admin's topic too, and what admin wrote.
    let read = kcat_read(b, TOPIC, "%s\n");
    assert_eq!(read.lines().count(), 2, "{read}");
}

async fn up_again_keeps_the_passwords_and_refuses_another_security(
    lab: &TestLab,
    said: &Arc<Mutex<Vec<String>>>,
) -> LabHandle {
    let inode = |p: &Path| std::fs::metadata(p).expect("JAAS").ino();
    let sasl = lab.handle.sasl.as_ref().expect("sasl");
    let before = inode(&sasl.jaas_file);
    let mut opts = UpOptions::new(lab.name());
    opts.dir = Some(lab.handle.dir.clone());
    sasl_options(said.clone())(&mut opts);
    let again = kroll_lab::up(opts.clone()).await.expect("lab up again");
    super::assert_up_again_kept_every_container(&again);
    let kept = again.sasl.as_ref().expect("sasl");
    assert!(
        kept.admin.password == sasl.admin.password
            && kept.kroll.password == sasl.kroll.password
            && kept.nobody.password == sasl.nobody.password,
        "a second `up` changed the passwords"
    );
    assert_eq!(
        inode(&sasl.jaas_file),
        before,
        "the mounted JAAS file was replaced"
    );
    assert_eq!(kept.bootstrap, sasl.bootstrap);
    let (rest, rest_kept) = (
        lab.handle.rest_auth.as_ref().expect("rest"),
        again.rest_auth.as_ref().expect("rest"),
    );
    assert!(
        [
            (&rest.admin, &rest_kept.admin),
            (&rest.kroll, &rest_kept.kroll),
            (&rest.connect, &rest_kept.connect)
        ]
        .iter()
        .all(|(a, b)| a.password == b.password),
        "a second `up` changed the REST passwords"
    );

    opts.security = Security::Plaintext;
    let err = kroll_lab::up(opts)
        .await
        .expect_err("PLAINTEXT over a SASL lab");
    assert!(
        err.is_usage() && err.to_string().contains("--security sasl"),
        "{err}"
    );
    again
}

/// Every user's password is absent from what `kroll-lab up` prints (progress, the text and
/// JSON reports, `Debug`), the inventory, the state file, and every container's configuration
/// (`docker inspect`) and log.
fn no_password_shows(
    lab: &TestLab,
    again: &LabHandle,
    sasl: &SaslAccess,
    rest: &RestAuth,
    said: &Arc<Mutex<Vec<String>>>,
) {
    let mut places: Vec<(String, String)> = vec![
        (
            "kroll-lab up's progress".into(),
            said.lock().expect("progress").join("\n"),
        ),
        ("kroll-lab up's report".into(), kroll_lab::render_up(again)),
        (
            "kroll-lab up --output json".into(),
            serde_json::to_string_pretty(again).expect("json"),
        ),
        (
            "the handle's Debug".into(),
            format!("{again:?} {sasl:?} {rest:?}"),
        ),
        (
            "the inventory".into(),
            std::fs::read_to_string(&lab.handle.inventory).expect("inventory"),
        ),
        (
            "lab.json".into(),
            std::fs::read_to_string(lab.handle.dir.join("lab.json")).expect("lab.json"),
        ),
    ];
    let mut containers = broker_containers(lab);
    for service in [
        "zookeeper-01",
        "connect-01",
        "schema-registry",
        "rest-proxy",
        "kafdrop",
    ] {
        containers.push(format!("{}-{service}", lab.name()));
    }
    for c in &containers {
        places.push((format!("docker inspect {c}"), docker_cli(&["inspect", c])));
        places.push((format!("the log of {c}"), container_logs(c)));
    }
    assert!(
        places[1].1.contains(&sasl.bootstrap.join(",")) && places[1].1.contains("kafka-password"),
        "the report shows SASL_EXT and where kroll's password is: {}",
        places[1].1
    );
    assert!(
        places[1].1.contains("rest-password") && places[2].1.contains("\"rest_auth\""),
        "the reports show where kroll's REST password is: {}",
        places[1].1
    );
    for user in [
        &sasl.admin,
        &sasl.kroll,
        &sasl.nobody,
        &rest.admin,
        &rest.kroll,
        &rest.connect,
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

async fn down_leaves_nothing(lab: TestLab, sasl: &SaslAccess) {
    let name = lab.name().to_owned();
    let dir = lab.handle.dir.clone();
    let secrets = sasl.jaas_file.parent().expect("secrets dir").to_path_buf();
    assert!(secrets.is_dir());
    let rest_password = dir.join(kroll_lab::rest_auth::REST_PASSWORD_FILE);
    assert!(rest_password.is_file());
    let report = lab.down().await;
    assert_eq!(
        report.containers.len(),
        8,
        "ZooKeeper, 3 brokers, Connect, Schema Registry, REST proxy, Kafdrop: {report:?}"
    );
    assert_eq!(report.dir.as_deref(), Some(dir.as_path()));
    super::assert_nothing_labelled(&name);
    assert!(
        !secrets.exists()
            && !sasl.password_file.exists()
            && !rest_password.exists()
            && !dir.exists(),
        "{} is left",
        dir.display()
    );
}
