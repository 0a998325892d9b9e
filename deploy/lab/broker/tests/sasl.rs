//! SASL_PLAINTEXT with PLAIN: the journal's listeners (SASL inter-broker listener, a SASL and a
//! PLAINTEXT external one), clients nobody here wrote (rdkafka, kcat) logging in, a wrong
//! password refused, requests before authentication refused, replication over the SASL
//! inter-broker listener (acks=all with replication factor 3).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::{ApiKey, MetadataRequest, RequestHeader};
use kafka_protocol::protocol::{Encodable, HeaderVersion};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::error::KafkaError;

use crate::support::{Lab, kcat, kcat_output, produce};

const MINUTE: Duration = Duration::from_secs(60);
const ADMIN_PASSWORD: &str = "admin-Pa55-never-logged";
const KROLL_PASSWORD: &str = "kroll-Pa55-never-logged";

/// Errors rdkafka reports through its error callback (where SASL failures arrive).
#[derive(Clone, Default)]
struct ErrorLog(Arc<Mutex<Vec<String>>>);

impl ClientContext for ErrorLog {
    fn error(&self, error: KafkaError, reason: &str) {
        self.0
            .lock()
            .expect("errors")
            .push(format!("{error}: {reason}"));
    }
}

impl rdkafka::consumer::ConsumerContext for ErrorLog {}

fn jaas() -> String {
    format!(
        "KafkaServer {{\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  \
         username=\"admin\"\n  password=\"{ADMIN_PASSWORD}\"\n  user_admin=\"{ADMIN_PASSWORD}\"\n  \
         user_kroll=\"{KROLL_PASSWORD}\";\n}};\n"
    )
}

fn sasl_args(user: &str, password: &str) -> Vec<String> {
    [
        "security.protocol=SASL_PLAINTEXT".to_string(),
        "sasl.mechanisms=PLAIN".into(),
        format!("sasl.username={user}"),
        format!("sasl.password={password}"),
    ]
    .into_iter()
    .flat_map(|kv| ["-X".to_string(), kv])
    .collect()
}

fn sasl_client(lab: &Lab, password: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", lab.sasl_bootstrap())
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", "kroll")
        .set("sasl.password", password);
    cfg
}

/// Sends a Metadata request as the first request on a SASL listener; returns what came back.
fn metadata_before_login(addr: &str) -> std::io::Result<Vec<u8>> {
    let mut buf = BytesMut::new();
    let version = 9;
    RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .encode(&mut buf, MetadataRequest::header_version(version))
        .map_err(std::io::Error::other)?;
    MetadataRequest::default()
        .encode(&mut buf, version)
        .map_err(std::io::Error::other)?;
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(&(buf.len() as i32).to_be_bytes())?;
    stream.write_all(&buf)?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn sasl_plain_logins_wrong_passwords_and_replication_over_the_sasl_inter_broker_listener() {
    let lab = Lab::start_sasl(3, "3.7.1", &jaas(), &[]);

    // Replication runs over SASL_INT: a topic reaches a full ISR only if every fetcher logged in.
    let admin: AdminClient<DefaultClientContext> =
        sasl_client(&lab, KROLL_PASSWORD).create().expect("admin");
    let topic = NewTopic::new("secured", 3, TopicReplication::Fixed(3));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in futures::executor::block_on(admin.create_topics([&topic], &opts)).expect("create") {
        r.unwrap_or_else(|(t, e)| panic!("creating {t} over SASL_EXT: {e}"));
    }
    lab.wait_isr("secured", 3, MINUTE);
    for b in lab.brokers.values() {
        assert!(
            !b.output()
                .iter()
                .any(|l| l.contains("SASL authentication with node")),
            "broker {} fetcher failed to log in:\n{}",
            b.id,
            b.output().join("\n")
        );
    }

    // acks=all with RF 3 over the SASL listener (rdkafka), read back with kcat over SASL.
    let sasl_extra = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "kroll"),
        ("sasl.password", KROLL_PASSWORD),
    ];
    produce(&lab.sasl_bootstrap(), "secured", 30, 100, &sasl_extra).expect("produce acks=all");
    let mut args: Vec<String> = sasl_args("kroll", KROLL_PASSWORD);
    args.extend(
        [
            "-C",
            "-t",
            "secured",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%k\\n",
        ]
        .map(String::from),
    );
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let keys = kcat(&lab.sasl_bootstrap(), &arg_refs, "");
    assert_eq!(keys.lines().count(), 30, "{keys}");

    // A wrong password: kcat fails with the broker's message; rdkafka reports an authentication error.
    let mut args = sasl_args("kroll", "wrong-password");
    args.extend(["-L", "-m", "10"].map(String::from));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = kcat_output(&lab.sasl_bootstrap(), &arg_refs, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "kcat with a wrong password succeeded"
    );
    assert!(
        stderr.contains("Authentication failed: Invalid username or password"),
        "{stderr}"
    );
    let errors = ErrorLog::default();
    let bad: rdkafka::consumer::BaseConsumer<ErrorLog> = sasl_client(&lab, "wrong-password")
        .create_with_context(errors.clone())
        .expect("consumer");
    let md = rdkafka::consumer::Consumer::fetch_metadata(&bad, None, Duration::from_secs(10));
    assert!(md.is_err(), "metadata with a wrong password succeeded");
    // rdkafka delivers client errors through the context when the consumer is polled.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while errors.0.lock().expect("errors").is_empty() && std::time::Instant::now() < deadline {
        let _ = rdkafka::consumer::BaseConsumer::poll(&bad, Duration::from_millis(200));
    }
    let seen = errors.0.lock().expect("errors").join("\n");
    assert!(
        seen.contains("Authentication failed: Invalid username or password"),
        "rdkafka's errors: {seen}"
    );

    // A request before authentication on a SASL listener: the connection is closed unanswered.
    let answered =
        metadata_before_login(lab.sasl_bootstrap().split(',').next().unwrap_or_default())
            .expect("connect to SASL_EXT");
    assert!(
        answered.is_empty(),
        "got {} bytes before login",
        answered.len()
    );
    // The PLAINTEXT listener still serves without login.
    let md = kcat(&lab.bootstrap(), &["-L", "-t", "secured"], "");
    assert!(md.contains("3 brokers"), "{md}");

    assert!(
        lab.brokers.values().any(|b| b
            .output()
            .iter()
            .any(|l| l.contains("Failed authentication with"))),
        "no broker logged the refused login"
    );
    for b in lab.brokers.values() {
        let text = b.output().join("\n");
        for secret in [ADMIN_PASSWORD, KROLL_PASSWORD, "wrong-password"] {
            assert!(!text.contains(secret), "broker {} logged a password", b.id);
        }
    }
}
