//! A `sasl-ssl` lab (`kroll-lab up --security sasl-ssl`; three brokers, Kafka only): the SASL
//! lab plus `SASL_SSL_EXT` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and `SSL_EXT` (client
//! certificate required) on every broker, checked with clients nobody here wrote. confluent-kafka
//! (librdkafka) and kafka-python (whose SCRAM is its own pure Python) write as admin and read as
//! kroll over SASL_SSL with each mechanism and over SSL with the users' certificates, trusting
//! only the lab's CA and checking the brokers' names; kcat does the same and is refused a wrong
//! SCRAM password with Kafka's message, a handshake without the lab's CA, and `SSL_EXT` without
//! a certificate. kroll's certificate (`User:CN=kroll`) is authorised like `User:kroll`: it reads
//! and may not write. The PKI's keys are private files, in no report; `down` removes them.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use kroll_lab::pki::TlsAccess;
use kroll_lab::security::SaslAccess;
use kroll_lab::topology::{Security, Services, Shape};
use serde_json::Value;

use super::{TestLab, clients_python, container_logs, kcat_output, repo};

/// The smallest lab that replicates at RF 3.
const SHAPE: Shape = Shape {
    nodes: 3,
    zookeepers: 1,
    connect_workers: 1,
    load_partitions: 0,
};
/// Written by admin, read by kroll, over every TLS way in.
const TOPIC: &str = "tls-check";
/// Kafka's answer to a failed SCRAM login.
const SCRAM_REFUSED: &str =
    "Authentication failed during authentication due to invalid credentials with SASL mechanism";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sasl_ssl_lab_serves_scram_and_client_certificates_to_independent_clients() {
    let began = Instant::now();
    let lab = TestLab::up_custom("tls", |o| {
        o.services = Services::Kafka;
        o.shape = SHAPE;
        o.agents = false;
        o.security = Security::SaslSsl;
    })
    .await;
    let up_secs = began.elapsed().as_secs_f64();
    let sasl = lab
        .handle
        .sasl
        .clone()
        .expect("a sasl-ssl lab has SASL access");
    let tls = lab
        .handle
        .tls
        .clone()
        .expect("a sasl-ssl lab has TLS access");
    let work = tempfile::tempdir().expect("tempdir");

    the_pki_is_private_and_the_brokers_publish_the_tls_listeners(&lab, &tls);
    let created = python(
        &sasl,
        &tls,
        &via_sasl_ssl(&tls, "SCRAM-SHA-512", &["create"]),
    );
    assert_eq!(created["partitions"], 3, "{created}");
    independent_clients_round_trip_over_every_mechanism_and_certificate(&sasl, &tls);
    krolls_certificate_is_authorised_like_kroll(&lab, &sasl, &tls);
    kcat_logs_in_and_is_refused_where_kafka_refuses(&lab, &sasl, &tls, work.path());
    nothing_secret_is_reported(&lab, &sasl);
    kroll_logs_in_over_tls_and_names_what_is_refused(&lab, &sasl, &tls);

    let pki = tls.ca_file.parent().expect("pki dir").to_path_buf();
    let dir = lab.handle.dir.clone();
    let name = lab.name().to_owned();
    lab.down().await;
    super::assert_nothing_labelled(&name);
    assert!(!pki.exists() && !dir.exists(), "{} is left", dir.display());
    println!(
        "FIGURE sasl-ssl lab test (3 brokers): up {up_secs:.1} s, whole test {:.1} s",
        began.elapsed().as_secs_f64()
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Keys are 0600 (the keystore the brokers' uid 1000), certificates readable; every broker
/// mounts the keystore and the CA read-only, publishes both TLS listeners on the host and
/// advertises them there.
fn the_pki_is_private_and_the_brokers_publish_the_tls_listeners(lab: &TestLab, tls: &TlsAccess) {
    let pki = tls.ca_file.parent().expect("pki dir");
    assert_eq!(mode(pki), 0o700);
    let keystore = pki.join(kroll_lab::pki::KEYSTORE_FILE);
    assert_eq!(mode(&keystore), 0o600);
    assert_eq!(std::fs::metadata(&keystore).expect("keystore").uid(), 1000);
    for cert in [&tls.admin, &tls.kroll, &tls.nobody] {
        assert_eq!(mode(&cert.key_file), 0o600, "{cert:?}");
        assert_eq!(mode(&cert.cert_file), 0o644, "{cert:?}");
    }
    assert_eq!(tls.sasl_ssl_bootstrap.len(), 3);
    assert_eq!(tls.ssl_bootstrap.len(), 3);
    for n in 1..=SHAPE.nodes {
        let broker = format!("{}-kafka-{n:02}", lab.name());
        let c = kroll_tests::inspect_json(&broker);
        let env: Vec<&str> = c["Config"]["Env"]
            .as_array()
            .expect("Env")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let i = usize::from(n - 1);
        let advertised = env
            .iter()
            .find_map(|e| e.strip_prefix("KAFKA_ADVERTISED_LISTENERS="))
            .expect("advertised listeners");
        for wanted in [
            format!("SASL_SSL_EXT://{}", tls.sasl_ssl_bootstrap[i]),
            format!("SSL_EXT://{}", tls.ssl_bootstrap[i]),
        ] {
            assert!(advertised.contains(&wanted), "{broker}: {advertised}");
        }
        assert!(
            env.contains(&"KAFKA_LISTENER_NAME_SSL__EXT_SSL_CLIENT_AUTH=required"),
            "{broker}: {env:?}"
        );
        let mounts = c["Mounts"].as_array().expect("Mounts");
        for target in [
            "/etc/kafka/secrets/kafka.keystore.pem",
            "/etc/kafka/secrets/kafka.truststore.pem",
        ] {
            let m = mounts
                .iter()
                .find(|m| m["Destination"] == target)
                .unwrap_or_else(|| panic!("{broker} mounts nothing at {target}: {mounts:?}"));
            assert_eq!(
                (m["Type"].as_str(), m["RW"].as_bool()),
                (Some("bind"), Some(false))
            );
        }
    }
}

/// `python sasl.py` arguments for `SASL_SSL_EXT` with `mechanism`.
fn via_sasl_ssl(tls: &TlsAccess, mechanism: &str, command: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
    args.extend(
        [
            "--bootstrap",
            &tls.sasl_ssl_bootstrap.join(","),
            "--protocol",
            "SASL_SSL",
            "--mechanism",
            mechanism,
        ]
        .map(str::to_owned),
    );
    args
}

/// `python sasl.py` arguments for `SSL_EXT` (the user's certificate).
fn via_ssl(tls: &TlsAccess, command: &[&str]) -> Vec<String> {
    let certs = tls.kroll.cert_file.parent().expect("pki dir");
    let mut args: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
    args.extend(
        [
            "--bootstrap",
            &tls.ssl_bootstrap.join(","),
            "--protocol",
            "SSL",
            "--certs",
            &certs.to_string_lossy(),
        ]
        .map(str::to_owned),
    );
    args
}

/// Runs `tests/clients/sasl.py` with the users' passwords in its environment and the lab's CA;
/// its one JSON line.
fn python(sasl: &SaslAccess, tls: &TlsAccess, args: &[String]) -> Value {
    let out = Command::new(clients_python())
        .arg(repo().join("tests/clients/sasl.py"))
        .args(args)
        .args(["--topic", TOPIC, "--ca"])
        .arg(&tls.ca_file)
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

/// [`python`] once per argument list, all at the same time; their answers in order.
fn all_at_once(sasl: &SaslAccess, tls: &TlsAccess, runs: Vec<Vec<String>>) -> Vec<Value> {
    std::thread::scope(|s| {
        let threads: Vec<_> = runs
            .iter()
            .map(|args| s.spawn(move || python(sasl, tls, args)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("client thread"))
            .collect()
    })
}

/// Both Python clients, admin → kroll, over SASL_SSL with each mechanism and over SSL with the
/// certificates: eight round trips side by side, each producing (acks=all, idempotent) and
/// consuming the same record in its own group.
fn independent_clients_round_trip_over_every_mechanism_and_certificate(
    sasl: &SaslAccess,
    tls: &TlsAccess,
) {
    let mut runs = Vec::new();
    for client in ["confluent", "kafka-python"] {
        for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
            let group = format!("tls-{client}-{mechanism}");
            runs.push(via_sasl_ssl(
                tls,
                mechanism,
                &["roundtrip", "--client", client, "--group", &group],
            ));
        }
        let group = format!("tls-{client}-ssl");
        runs.push(via_ssl(
            tls,
            &["roundtrip", "--client", client, "--group", &group],
        ));
    }
    let answers = all_at_once(sasl, tls, runs);
    assert_eq!(answers.len(), 8);
    for run in &answers {
        println!("independent client over TLS, admin → kroll: {run}");
        let (p, c) = (&run["produced"], &run["consumed"]);
        assert!(p["user"] == "admin" && p["error"].is_null(), "{run}");
        assert!(c["user"] == "kroll" && c["found"] == true, "{run}");
        assert_eq!(
            (&c["partition"], &c["offset"]),
            (&p["partition"], &p["offset"]),
            "{run}"
        );
    }
}

/// Over `SSL_EXT` kroll's certificate may not write (`User:CN=kroll` has kroll's ACLs only) and
/// nobody's may not even describe the topic; the brokers' authorizer log names the principals.
fn krolls_certificate_is_authorised_like_kroll(lab: &TestLab, sasl: &SaslAccess, tls: &TlsAccess) {
    let runs = ["kroll", "nobody"]
        .map(|user| via_ssl(tls, &["produce", "--client", "confluent", "--user", user]))
        .to_vec();
    for answer in all_at_once(sasl, tls, runs) {
        println!("independent client over SSL, produce without Write: {answer}");
        assert_eq!(answer["error"], "TOPIC_AUTHORIZATION_FAILED", "{answer}");
    }
    let logs: String = (1..=SHAPE.nodes)
        .map(|n| container_logs(&format!("{}-kafka-{n:02}", lab.name())))
        .collect();
    for denial in [
        "Principal = User:CN=kroll is Denied Operation = Write",
        "Principal = User:CN=nobody is Denied Operation = Describe",
    ] {
        assert!(logs.contains(denial), "no broker logged `{denial}`");
    }
}

/// A kcat configuration file (mode 0600): passwords stay out of kcat's arguments.
fn kcat_config(dir: &Path, file: &str, lines: &[String]) -> String {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("kcat config");
    writeln!(f, "{}", lines.join("\n")).expect("kcat config");
    path.to_string_lossy().into_owned()
}

/// kcat's stdout; on a failure the test fails with what kcat said and why the brokers refused.
fn kcat_ok(lab: &TestLab, args: &[&str], input: &str) -> String {
    let out = kcat_output(args, input);
    if !out.status.success() {
        let refusals: String = (1..=SHAPE.nodes)
            .flat_map(|n| {
                container_logs(&format!("{}-kafka-{n:02}", lab.name()))
                    .lines()
                    .filter(|l| l.contains("Failed authentication"))
                    .map(|l| format!("{l}\n"))
                    .collect::<Vec<_>>()
            })
            .collect();
        panic!("kcat {args:?}: {}\nbrokers: {refusals}", said(&out));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// kcat (librdkafka): SCRAM-SHA-256 and kroll's certificate see the three brokers at their TLS
/// addresses; SCRAM-SHA-512 as admin writes what SCRAM-SHA-256 as kroll reads; a wrong SCRAM
/// password gets Kafka's message, a client without the lab's CA fails its handshake, and one
/// without a certificate is refused by `SSL_EXT`.
fn kcat_logs_in_and_is_refused_where_kafka_refuses(
    lab: &TestLab,
    sasl: &SaslAccess,
    tls: &TlsAccess,
    dir: &Path,
) {
    let ca = format!("ssl.ca.location={}", tls.ca_file.display());
    let https = "ssl.endpoint.identification.algorithm=https".to_owned();
    let scram = |file: &str, mechanism: &str, user: &str, password: &str| {
        kcat_config(
            dir,
            file,
            &[
                "security.protocol=SASL_SSL".to_owned(),
                format!("sasl.mechanisms={mechanism}"),
                format!("sasl.username={user}"),
                format!("sasl.password={password}"),
                ca.clone(),
                https.clone(),
            ],
        )
    };
    let kroll = scram(
        "kroll-256.conf",
        "SCRAM-SHA-256",
        "kroll",
        sasl.kroll.password.expose(),
    );
    let admin = scram(
        "admin-512.conf",
        "SCRAM-SHA-512",
        "admin",
        sasl.admin.password.expose(),
    );
    let cert = kcat_config(
        dir,
        "kroll-cert.conf",
        &[
            "security.protocol=SSL".to_owned(),
            ca.clone(),
            https.clone(),
            format!("ssl.certificate.location={}", tls.kroll.cert_file.display()),
            format!("ssl.key.location={}", tls.kroll.key_file.display()),
        ],
    );
    for (config, listeners) in [
        (&kroll, &tls.sasl_ssl_bootstrap),
        (&cert, &tls.ssl_bootstrap),
    ] {
        let md: Value = serde_json::from_str(&kcat_ok(
            lab,
            &["-F", config, "-b", &listeners[0], "-L", "-J", "-t", TOPIC],
            "",
        ))
        .expect("kcat -J");
        let brokers: Vec<&str> = md["brokers"]
            .as_array()
            .expect("brokers")
            .iter()
            .filter_map(|b| b["name"].as_str())
            .collect();
        assert_eq!(brokers.len(), 3, "{md}");
        for b in &brokers {
            assert!(
                listeners.iter().any(|l| b.starts_with(l.as_str())),
                "{b} is none of {listeners:?}"
            );
        }
    }
    let b = &tls.sasl_ssl_bootstrap[0];
    let value = format!("kcat-scram-{}", std::process::id());
    kcat_ok(
        lab,
        &[
            "-F", &admin, "-b", b, "-P", "-t", TOPIC, "-k", "kcat", "-X", "acks=all",
        ],
        &value,
    );
    let read = kcat_ok(
        lab,
        &[
            "-F",
            &kroll,
            "-b",
            b,
            "-C",
            "-t",
            TOPIC,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%s\n",
        ],
        "",
    );
    assert!(read.lines().any(|l| l == value), "kroll read {read}");

    let wrong = scram(
        "wrong.conf",
        "SCRAM-SHA-256",
        "kroll",
        "not-kroll's-password",
    );
    let out = kcat_output(&["-F", &wrong, "-b", b, "-L", "-m", "5"], "");
    let text = said(&out);
    assert!(!out.status.success(), "a wrong SCRAM password: {text}");
    assert!(
        text.contains(&format!("{SCRAM_REFUSED} SCRAM-SHA-256")),
        "{text}"
    );

    // The system's roots only: the lab's CA is not among them.
    let untrusting = kcat_config(
        dir,
        "untrusting.conf",
        &[
            "security.protocol=SASL_SSL".to_owned(),
            "sasl.mechanisms=SCRAM-SHA-256".to_owned(),
            "sasl.username=kroll".to_owned(),
            format!("sasl.password={}", sasl.kroll.password.expose()),
            https.clone(),
        ],
    );
    let out = kcat_output(&["-F", &untrusting, "-b", b, "-L", "-m", "5"], "");
    let text = said(&out);
    assert!(
        !out.status.success(),
        "a client without the lab's CA: {text}"
    );
    assert!(text.contains("certificate verify failed"), "{text}");

    let no_cert = kcat_config(
        dir,
        "no-cert.conf",
        &["security.protocol=SSL".to_owned(), ca, https],
    );
    let out = kcat_output(
        &["-F", &no_cert, "-b", &tls.ssl_bootstrap[0], "-L", "-m", "5"],
        "",
    );
    assert!(
        !out.status.success(),
        "SSL_EXT without a certificate: {}",
        said(&out)
    );
    let broker = format!("{}-kafka-01", lab.name());
    let log = container_logs(&broker);
    assert!(
        log.contains("on listener SSL_EXT (SSL handshake failed: peer sent no certificates)"),
        "{broker} did not log the refused handshake"
    );
}

/// No password and no private key is in what `kroll-lab up` reports (text and JSON), the
/// inventory or the state file.
fn nothing_secret_is_reported(lab: &TestLab, sasl: &SaslAccess) {
    let places = [
        kroll_lab::render_up(&lab.handle),
        serde_json::to_string_pretty(&lab.handle).expect("json"),
        format!("{:?}", lab.handle),
        std::fs::read_to_string(&lab.handle.inventory).expect("inventory"),
        std::fs::read_to_string(lab.handle.dir.join("lab.json")).expect("lab.json"),
    ];
    assert!(
        places[0].contains("SSL_EXT") && places[0].contains("ca.pem"),
        "the report shows the TLS listeners and the CA: {}",
        places[0]
    );
    for text in &places {
        assert!(!text.contains("PRIVATE KEY"), "a private key is reported");
        for user in [&sasl.admin, &sasl.kroll, &sasl.nobody] {
            assert!(
                !text.contains(user.password.expose()),
                "{}'s password is reported",
                user.username
            );
        }
    }
}

/// kroll's own Kafka clients (the real binary, librdkafka with OpenSSL) over the lab's TLS
/// listeners: the inventory the lab wrote (SASL_SSL, SCRAM-SHA-512, the lab's CA) logs in, so
/// does SCRAM-SHA-256, and SSL with kroll's certificate as `User:CN=kroll`; a CA that did not
/// sign the brokers' certificates, `SSL_EXT` without a client certificate, a wrong SCRAM
/// password and PLAINTEXT on a TLS port are each named with what to check. No password in
/// anything kroll prints.
fn kroll_logs_in_over_tls_and_names_what_is_refused(
    lab: &TestLab,
    sasl: &SaslAccess,
    tls: &TlsAccess,
) {
    // The agents do not run here: the coordinator's certificates only have to exist.
    let agents_pki = kroll_tests::Pki::new(&[]);
    let written = std::fs::read_to_string(&lab.handle.inventory).expect("inventory");
    let base = written
        .replace(
            "ca = \"certs/ca.pem\"",
            &format!("ca = \"{}\"", agents_pki.path("ca.pem").display()),
        )
        .replace(
            "cert = \"certs/coordinator.pem\"",
            &format!(
                "cert = \"{}\"",
                agents_pki.path("coordinator.pem").display()
            ),
        )
        .replace(
            "key = \"certs/coordinator-key.pem\"",
            &format!(
                "key = \"{}\"",
                agents_pki.path("coordinator-key.pem").display()
            ),
        );
    assert!(
        base.contains("security_protocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-512\""),
        "the lab's inventory logs kroll in over SASL_SSL: {base}"
    );
    let quoted = |list: &[String]| {
        list.iter()
            .map(|b| format!("\"{b}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kafka_section = |section: &str| -> String {
        let start = base.find("[kafka]").expect("[kafka]");
        let end = base[start..]
            .find("\n[tls]")
            .map_or(base.len(), |e| start + e);
        format!("{}{section}\n{}", &base[..start], &base[end..])
    };
    let statuses = |name: &str, text: &str| -> (Value, String) {
        // Beside the lab's own inventory: its relative paths (password file, kafka-tls/) hold.
        let path = lab.handle.dir.join(format!("kroll-{name}.toml"));
        std::fs::write(&path, text).expect("inventory");
        let out = Command::new(kroll_tests::bin("kroll"))
            .arg("--inventory")
            .arg(&path)
            .args(["--output", "json", "status"])
            .output()
            .expect("kroll status");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        for user in [&sasl.admin, &sasl.kroll, &sasl.nobody] {
            let pw = user.password.expose();
            assert!(
                !stdout.contains(pw) && !stderr.contains(pw),
                "{name}: a password is in kroll's output"
            );
        }
        let status: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{name}: status JSON: {e}\n{stdout}\n{stderr}"));
        (status["kafka"].clone(), format!("{stdout}\n{stderr}"))
    };
    let logged_in = |name: &str, text: &str, connects_as: &str| {
        let (kafka, out) = statuses(name, text);
        assert!(kafka["error"].is_null(), "{name}: {out}");
        assert_eq!(kafka["connects_as"], connects_as, "{name}: {out}");
        assert_eq!(kafka["brokers"], 3, "{name}: {out}");
    };
    let refused = |name: &str, text: &str, says: &[&str]| {
        let (kafka, out) = statuses(name, text);
        let error = kafka["error"].as_str().unwrap_or_default();
        for s in says {
            assert!(error.contains(s), "{name}: `{s}` not in the error:\n{out}");
        }
    };

    logged_in("scram-512", &base, "SASL_SSL, SCRAM-SHA-512 as `kroll`");
    logged_in(
        "scram-256",
        &base.replace("\"SCRAM-SHA-512\"", "\"SCRAM-SHA-256\""),
        "SASL_SSL, SCRAM-SHA-256 as `kroll`",
    );
    let ssl = |cert: bool| {
        let mut section = format!(
            "[kafka]\nsecurity_protocol = \"SSL\"\nca_file = \"{}\"\n",
            tls.ca_file.display()
        );
        if cert {
            section.push_str(&format!(
                "cert_file = \"{}\"\nkey_file = \"{}\"\n",
                tls.kroll.cert_file.display(),
                tls.kroll.key_file.display()
            ));
        }
        kafka_section(&section).replace(
            &quoted(&tls.sasl_ssl_bootstrap),
            &quoted(&tls.ssl_bootstrap),
        )
    };
    logged_in("ssl", &ssl(true), "SSL as CN=kroll");

    let other_ca = agents_pki.path("ca.pem").display().to_string();
    refused(
        "untrusted",
        &base.replace(
            &format!(
                "ca_file = \"{}/ca.pem\"",
                kroll_lab::topology::KAFKA_TLS_DIR
            ),
            &format!("ca_file = \"{other_ca}\""),
        ),
        &[
            "the TLS handshake with Kafka failed (SASL_SSL, SCRAM-SHA-512 as `kroll`)",
            &format!(
                "the brokers' certificate is not trusted: kroll trusts the CAs of {other_ca} ([kafka] `ca_file`)"
            ),
        ],
    );
    refused(
        "no-client-cert",
        &ssl(false),
        &["the brokers require a client certificate: set [kafka] `cert_file` and `key_file`"],
    );
    let wrong_pw = lab.handle.dir.join("kroll-wrong-password");
    std::fs::write(&wrong_pw, "not-kroll's-password\n").expect("write");
    refused(
        "wrong-password",
        &base.replace(
            &format!("password_file = \"{}\"", kroll_lab::topology::PASSWORD_FILE),
            &format!("password_file = \"{}\"", wrong_pw.display()),
        ),
        &["Kafka refused kroll's login as `kroll` (SASL_SSL, SCRAM-SHA-512 as `kroll`)"],
    );
    refused(
        "plaintext-on-tls",
        &kafka_section("").replace(
            &quoted(&tls.sasl_ssl_bootstrap),
            &quoted(&tls.ssl_bootstrap),
        ),
        &["set [kafka] `security_protocol` to the protocol of the listener"],
    );
}
