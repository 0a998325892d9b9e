//! The environment of each lab service, modelled on the journal's 7.1.1 stack.
//!
//! Simplified as `deploy/lab/LAB.md` says: by default PLAINTEXT listeners instead of SASL (no
//! JAAS, ACLs, authorizer or super users; `--security sasl` gives the journal's four listeners
//! and security settings, [`broker`]), heaps small enough for 15 containers on one machine, and
//! a few lab timing knobs (`LAB_*`, short ZooKeeper session) so a roll is quick while catch-up
//! stays measurable. A SASL lab's Connect workers, Schema Registry and REST proxy also require
//! HTTP basic auth, configured by Confluent's own variables (`crate::rest_auth`).

use std::collections::BTreeMap;

use super::Platform;
use crate::rest_auth;

/// The journal's `${MAXIMUM_BYTES_ALLOWED_PER_MESSAGE}` (its value is not in the journal).
const MAX_MESSAGE_BYTES: &str = "10485760";
/// Schema Registry as containers reach it.
const SR_URL: &str = "http://schema-registry:8081";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// ZooKeeper server `id` of an ensemble of `count`: the journal's `ZOO_*` (client port 2181
/// in the network, per the lab contract).
pub(super) fn zookeeper(id: u8, count: u8) -> BTreeMap<String, String> {
    let servers: Vec<String> = (1..=count)
        .map(|n| format!("server.{n}=zookeeper-{n:02}:2888:3888;2181"))
        .collect();
    let mut env = map(&[("ZOO_TICK_TIME", "2000"), ("ZK_SERVER_HEAP", "128")]);
    env.insert("ZOO_SERVERS".into(), servers.join(" "));
    env.insert("ZOO_MY_ID".into(), id.to_string());
    env
}

/// The name of the lab brokers' secret-shaped variable (read by nobody; see LAB.md).
pub const LAB_SECRET_KEY: &str = "ZOOKEEPER_SASL_CLIENT_PASSWORD";
/// Its value: a test that finds this text in kroll's output found a leak.
pub const LAB_SECRET_VALUE: &str = "lab-secret-never-shown";

/// A listener's address as host clients reach it (the published port on the node's address).
#[derive(Debug, Clone, Copy)]
pub(super) struct HostListener {
    pub(super) host: std::net::Ipv4Addr,
    pub(super) port: u16,
}

/// Broker `n`'s `PLAINTEXT_INT` port in the lab network (the journal's `2909N`).
pub(super) fn plaintext_int_port(n: u8) -> u16 {
    29090 + u16::from(n)
}

/// Broker `n`'s `PLAINTEXT_EXT` port in its container (the journal's `2709N`).
pub(super) fn plaintext_ext_port(n: u8) -> u16 {
    27090 + u16::from(n)
}

/// Broker `n`'s `SASL_INT` port in the lab network (the journal's `2809N`).
pub(super) fn sasl_int_port(n: u8) -> u16 {
    28090 + u16::from(n)
}

/// Broker `n`'s `SASL_EXT` port in its container (the journal's `2609N`).
pub(super) fn sasl_ext_port(n: u8) -> u16 {
    26090 + u16::from(n)
}

/// Broker `n`'s `SASL_SSL_EXT` port in its container (`2509N`, below the journal's).
pub(super) fn sasl_ssl_ext_port(n: u8) -> u16 {
    25090 + u16::from(n)
}

/// Broker `n`'s `SSL_EXT` port in its container (`2409N`).
pub(super) fn ssl_ext_port(n: u8) -> u16 {
    24090 + u16::from(n)
}

/// A `sasl-ssl` lab's two TLS listeners of a broker, as host clients reach them.
#[derive(Debug, Clone, Copy)]
pub(super) struct TlsListeners {
    pub(super) sasl_ssl: HostListener,
    pub(super) ssl: HostListener,
}

/// What a `sasl-ssl` lab's brokers add to [`SASL_SETTINGS`]: the TLS listeners in the protocol
/// map, SCRAM besides PLAIN, Kafka's PEM stores (KIP-651), client certificates required on
/// `SSL_EXT` only, and the admin certificate's principal a super user like `User:admin`.
const TLS_SETTINGS: [(&str, &str); 8] = [
    (
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
        "PLAINTEXT_INT:PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT,SASL_EXT:SASL_PLAINTEXT,SASL_INT:SASL_PLAINTEXT,SASL_SSL_EXT:SASL_SSL,SSL_EXT:SSL",
    ),
    (
        "KAFKA_SASL_ENABLED_MECHANISMS",
        "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    ),
    ("KAFKA_SSL_KEYSTORE_TYPE", "PEM"),
    ("KAFKA_SSL_KEYSTORE_LOCATION", super::KEYSTORE_TARGET),
    ("KAFKA_SSL_TRUSTSTORE_TYPE", "PEM"),
    ("KAFKA_SSL_TRUSTSTORE_LOCATION", super::TRUSTSTORE_TARGET),
    ("KAFKA_LISTENER_NAME_SSL__EXT_SSL_CLIENT_AUTH", "required"),
    ("KAFKA_SUPER_USERS", "User:admin;User:CN=admin"),
];

/// The journal's security settings of every broker of a SASL lab (its `x-kafka-envs`), the
/// listeners apart.
const SASL_SETTINGS: [(&str, &str); 7] = [
    (
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
        "PLAINTEXT_INT:PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT,SASL_EXT:SASL_PLAINTEXT,SASL_INT:SASL_PLAINTEXT",
    ),
    ("KAFKA_INTER_BROKER_LISTENER_NAME", "SASL_INT"),
    ("KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL", "PLAIN"),
    ("KAFKA_SASL_ENABLED_MECHANISMS", "PLAIN"),
    (
        "KAFKA_AUTHORIZER_CLASS_NAME",
        "kafka.security.authorizer.AclAuthorizer",
    ),
    ("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "false"),
    ("KAFKA_SUPER_USERS", "User:admin"),
];

/// Broker `n`: the journal's `KAFKA_*` and the lab's timing knobs, with PLAINTEXT listeners —
/// `PLAINTEXT_INT` (inter-broker) and `PLAINTEXT_EXT` at `ext` — or, given `sasl` (where host
/// clients reach `SASL_EXT`), the journal's four listeners (`SASL_INT` inter-broker), its
/// SASL/PLAIN and authorizer settings and `KAFKA_OPTS` naming the JAAS file at
/// [`super::JAAS_TARGET`].
pub(super) fn broker(
    n: u8,
    ext: HostListener,
    sasl: Option<HostListener>,
    tls: Option<TlsListeners>,
    zookeeper_connect: &str,
) -> BTreeMap<String, String> {
    let mut env = map(&[
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
        ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"),
        ("KAFKA_CONFLUENT_LICENSE_TOPIC_REPLICATION_FACTOR", "1"),
        ("KAFKA_CONFLUENT_BALANCER_TOPIC_REPLICATION_FACTOR", "3"),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"),
        ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3"),
        ("KAFKA_JMX_PORT", "9101"),
        ("KAFKA_CONFLUENT_SCHEMA_REGISTRY_URL", SR_URL),
        ("CONFLUENT_SUPPORT_CUSTOMER_ID", "anonymous"),
        ("KAFKA_FETCH_MAX_BYTES", MAX_MESSAGE_BYTES),
        ("KAFKA_REPLICA_FETCH_MAX_BYTES", MAX_MESSAGE_BYTES),
        ("KAFKA_MESSAGE_MAX_BYTES", MAX_MESSAGE_BYTES),
        ("KAFKA_REPLICA_FETCH_RESPONSE_MAX_BYTES", MAX_MESSAGE_BYTES),
        (
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "PLAINTEXT_INT:PLAINTEXT,PLAINTEXT_EXT:PLAINTEXT",
        ),
        ("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT_INT"),
        ("ZOOKEEPER_SASL_ENABLED", "false"),
        ("KAFKA_CONFLUENT_REPORTERS_TELEMETRY_AUTO_ENABLE", "false"),
        // RF 3 / min ISR 2, like the user's topics.
        ("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"),
        ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
        // Lab timing: a controlled shutdown waits at most 3 × 1 s for the controller, catch-up
        // copies 256 KiB/s. The ZooKeeper session is Kafka 3.x's default 18 s (LAB.md: the lab
        // broker's client gives up on its own after 1.4 × this with exponential backoff, where
        // Kafka's keeps trying; 6 s made a ZooKeeper roll of ~5 s end brokers Kafka keeps).
        ("KAFKA_ZOOKEEPER_SESSION_TIMEOUT_MS", "18000"),
        ("KAFKA_CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS", "1000"),
        ("LAB_SHUTDOWN_DELAY_MS", "500"),
        ("LAB_RECOVERY_BASE_MS", "1500"),
        ("LAB_REPLICA_FETCH_BYTES_PER_SEC", "262144"),
        // Read by nobody: a secret-shaped variable that sits next to where kroll writes the IBP
        // pin in a Swarm lab's stack file (the anchor's end), so the tests can show its value
        // never reaches a printed diff, a report or an agent's answer.
        (LAB_SECRET_KEY, LAB_SECRET_VALUE),
    ]);
    env.insert("KAFKA_BROKER_ID".into(), n.to_string());
    env.insert(
        "KAFKA_ZOOKEEPER_CONNECT".into(),
        zookeeper_connect.to_owned(),
    );
    let (int, ext_port) = (plaintext_int_port(n), plaintext_ext_port(n));
    let (listeners, advertised) = match sasl {
        None => (
            format!("PLAINTEXT_INT://0.0.0.0:{int},PLAINTEXT_EXT://0.0.0.0:{ext_port}"),
            format!(
                "PLAINTEXT_INT://kafka-{n:02}:{int},PLAINTEXT_EXT://{}:{}",
                ext.host, ext.port
            ),
        ),
        Some(sasl) => {
            for (k, v) in SASL_SETTINGS {
                env.insert(k.to_owned(), v.to_owned());
            }
            env.insert(
                "KAFKA_OPTS".into(),
                format!("-Djava.security.auth.login.config={}", super::JAAS_TARGET),
            );
            let (sasl_int, sasl_ext) = (sasl_int_port(n), sasl_ext_port(n));
            (
                format!(
                    "PLAINTEXT_INT://0.0.0.0:{int},SASL_INT://0.0.0.0:{sasl_int},PLAINTEXT_EXT://0.0.0.0:{ext_port},SASL_EXT://0.0.0.0:{sasl_ext}"
                ),
                format!(
                    "PLAINTEXT_INT://kafka-{n:02}:{int},SASL_INT://kafka-{n:02}:{sasl_int},PLAINTEXT_EXT://{}:{},SASL_EXT://{}:{}",
                    ext.host, ext.port, sasl.host, sasl.port
                ),
            )
        }
    };
    let (listeners, advertised) = match tls {
        None => (listeners, advertised),
        Some(tls) => {
            for (k, v) in TLS_SETTINGS {
                env.insert(k.to_owned(), v.to_owned());
            }
            let (sasl_ssl, ssl) = (sasl_ssl_ext_port(n), ssl_ext_port(n));
            (
                format!("{listeners},SASL_SSL_EXT://0.0.0.0:{sasl_ssl},SSL_EXT://0.0.0.0:{ssl}"),
                format!(
                    "{advertised},SASL_SSL_EXT://{}:{},SSL_EXT://{}:{}",
                    tls.sasl_ssl.host, tls.sasl_ssl.port, tls.ssl.host, tls.ssl.port
                ),
            )
        }
    };
    env.insert("KAFKA_LISTENERS".into(), listeners);
    env.insert("KAFKA_ADVERTISED_LISTENERS".into(), advertised);
    env
}

/// Connect worker `service` (`connect-0N`). On 7.1.x the journal's env exactly as the
/// in-house image accepts it (unprefixed names, `ADVERTISED_HOST_NAME`, `HEAP_OPTS`); on
/// 7.7+ the env after the journal's rewrite (every name `CONNECT_`-prefixed,
/// `CONNECT_REST_ADVERTISED_HOST_NAME`, `CONNECT_LISTENERS`, `CONNECT_REST_PORT`) with the heap
/// under the name those images read (`KAFKA_HEAP_OPTS`).
pub(super) fn connect(
    platform: &Platform,
    service: &str,
    bootstrap: &str,
    rest_auth: bool,
) -> BTreeMap<String, String> {
    let settings: [(&str, &str); 10] = [
        ("GROUP_ID", "connect"),
        ("CONFIG_STORAGE_TOPIC", "connect-configs"),
        ("OFFSET_STORAGE_TOPIC", "connect-offsets"),
        ("STATUS_STORAGE_TOPIC", "connect-statuses"),
        ("CONFIG_STORAGE_REPLICATION_FACTOR", "3"),
        ("OFFSET_STORAGE_REPLICATION_FACTOR", "3"),
        ("STATUS_STORAGE_REPLICATION_FACTOR", "3"),
        ("BOOTSTRAP_SERVERS", bootstrap),
        ("KEY_CONVERTER", "io.confluent.connect.avro.AvroConverter"),
        ("VALUE_CONVERTER", "io.confluent.connect.avro.AvroConverter"),
    ];
    let heap = "-Xms64M -Xmx512M";
    let mut env = map(&[
        ("CONNECT_KEY_CONVERTER_SCHEMA_REGISTRY_URL", SR_URL),
        ("CONNECT_VALUE_CONVERTER_SCHEMA_REGISTRY_URL", SR_URL),
        // Lab knob: commit source offsets every 5 s (real default 60 s) so quiescing is quick.
        ("CONNECT_OFFSET_FLUSH_INTERVAL_MS", "5000"),
    ]);
    if platform.is_in_house_71() {
        for (k, v) in settings {
            env.insert(k.to_owned(), v.to_owned());
        }
        env.insert("ADVERTISED_HOST_NAME".into(), service.to_owned());
        env.insert("HEAP_OPTS".into(), heap.to_owned());
    } else {
        for (k, v) in settings {
            env.insert(format!("CONNECT_{k}"), v.to_owned());
        }
        env.insert(
            "CONNECT_REST_ADVERTISED_HOST_NAME".into(),
            service.to_owned(),
        );
        env.insert("CONNECT_LISTENERS".into(), "http://0.0.0.0:8083".into());
        env.insert("CONNECT_REST_PORT".into(), "8083".into());
        env.insert("KAFKA_HEAP_OPTS".into(), heap.to_owned());
    }
    if rest_auth {
        env.extend(connect_auth());
    }
    env
}

/// What a SASL lab's Connect workers add (`crate::rest_auth`): basic auth on the REST API
/// (`BasicAuthSecurityRestExtension`, the JAAS file in `KAFKA_OPTS`), Kafka's file config
/// provider, and the worker's converters logging in to Schema Registry with the user info of
/// a `${file:…}` variable — no password in the environment.
fn connect_auth() -> BTreeMap<String, String> {
    let mut env = map(&[
        (
            "CONNECT_REST_EXTENSION_CLASSES",
            rest_auth::CONNECT_EXTENSION,
        ),
        ("CONNECT_CONFIG_PROVIDERS", "file"),
        (
            "CONNECT_CONFIG_PROVIDERS_FILE_CLASS",
            rest_auth::FILE_CONFIG_PROVIDER,
        ),
    ]);
    env.insert(
        "KAFKA_OPTS".into(),
        jaas_option(rest_auth::RestFile::ConnectJaas),
    );
    for side in ["KEY", "VALUE"] {
        env.insert(
            format!("CONNECT_{side}_CONVERTER_BASIC_AUTH_CREDENTIALS_SOURCE"),
            "USER_INFO".into(),
        );
        env.insert(
            format!("CONNECT_{side}_CONVERTER_BASIC_AUTH_USER_INFO"),
            rest_auth::user_info_variable(),
        );
    }
    env
}

/// `-Djava.security.auth.login.config=` naming where a container sees `file`.
fn jaas_option(file: rest_auth::RestFile) -> String {
    format!("-Djava.security.auth.login.config={}", file.target())
}

/// What a SASL lab's Schema Registry or REST proxy adds (rest-utils' names under `prefix`,
/// the JVM options variable `opts`): basic auth in `realm` for `roles`, the JAAS file `jaas`.
fn rest_utils_auth(
    prefix: &str,
    opts: &str,
    realm: &str,
    roles: &str,
    jaas: rest_auth::RestFile,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert(format!("{prefix}AUTHENTICATION_METHOD"), "BASIC".to_owned());
    env.insert(format!("{prefix}AUTHENTICATION_REALM"), realm.to_owned());
    env.insert(format!("{prefix}AUTHENTICATION_ROLES"), roles.to_owned());
    env.insert(opts.to_owned(), jaas_option(jaas));
    env
}

/// Schema Registry: the journal's env plus a small heap (and in a SASL lab basic auth).
pub(super) fn schema_registry(bootstrap: &str, rest_auth: bool) -> BTreeMap<String, String> {
    let mut env = map(&[
        ("SCHEMA_REGISTRY_HOST_NAME", "schema-registry"),
        ("SCHEMA_REGISTRY_LISTENERS", "http://0.0.0.0:8081"),
        (
            "SCHEMA_REGISTRY_SCHEMA_REGISTRY_INTER_INSTANCE_PROTOCOL",
            "http",
        ),
        ("SCHEMA_REGISTRY_HEAP_OPTS", "-Xms32M -Xmx128M"),
    ]);
    env.insert(
        "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS".into(),
        bootstrap.to_owned(),
    );
    if rest_auth {
        env.extend(rest_utils_auth(
            "SCHEMA_REGISTRY_",
            "SCHEMA_REGISTRY_OPTS",
            rest_auth::SCHEMA_REGISTRY_REALM,
            rest_auth::SCHEMA_REGISTRY_ROLES,
            rest_auth::RestFile::SchemaRegistryJaas,
        ));
    }
    env
}

/// REST proxy: the journal's env plus a small heap (and in a SASL lab basic auth).
pub(super) fn rest_proxy(bootstrap: &str, rest_auth: bool) -> BTreeMap<String, String> {
    let mut env = map(&[
        ("KAFKA_REST_HOST_NAME", "rest-proxy"),
        ("KAFKA_REST_LISTENERS", "http://0.0.0.0:8082"),
        ("KAFKA_REST_SCHEMA_REGISTRY_URL", SR_URL),
        ("KAFKAREST_HEAP_OPTS", "-Xms32M -Xmx128M"),
    ]);
    env.insert("KAFKA_REST_BOOTSTRAP_SERVERS".into(), bootstrap.to_owned());
    if rest_auth {
        env.extend(rest_utils_auth(
            "KAFKA_REST_",
            "KAFKAREST_OPTS",
            rest_auth::REST_PROXY_REALM,
            rest_auth::REST_PROXY_ROLES,
            rest_auth::RestFile::RestProxyJaas,
        ));
    }
    env
}

/// Kafdrop: the journal's env with `JVM_OPTS` scaled down from `-Xms1g -Xmx1g`.
pub(super) fn kafdrop(bootstrap: &str) -> BTreeMap<String, String> {
    let mut env = map(&[
        ("SERVER_SERVLET_CONTEXTPATH", "/"),
        ("JVM_OPTS", "-Xms32m -Xmx128m"),
        ("SERVER_PORT", "9000"),
        ("MANAGEMENT_SERVER_PORT", "9000"),
        ("SCHEMAREGISTRY_CONNECT", SR_URL),
    ]);
    env.insert("KAFKA_BROKERCONNECT".into(), bootstrap.to_owned());
    env
}
