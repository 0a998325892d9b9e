//! What of a reported environment value may leave the node (pure).
//!
//! Even the planning variables can carry secrets: `JAVA_OPTS` with
//! `-Djavax.net.ssl.keyStorePassword=…`, `KAFKA_ZOOKEEPER_CONNECT` with `user:password@zk:2181`.
//! So values are reported only as what planning needs:
//! - JVM option variables (`*_OPTS`): the heap and JVM flags (`-Xmx1g`, `-Xms…`, `-Xss…`,
//!   `-Xmn…`, `-XX:…` with a plain value), every `-D` property with its value replaced by
//!   `<redacted>`, nothing else;
//! - `*_CONNECT` host lists: `host:port` entries (credentials dropped) and a plain chroot;
//! - a variable whose name says it holds a secret (`…PASSWORD…`, `…SECRET…`, `…TOKEN…`,
//!   `…JAAS…`, `…CREDENTIALS`, `…API_KEY…`, `…PRIVATE_KEY…`): `<redacted>` whole;
//! - every other value: URL credentials (`scheme://user:pass@`) replaced by `<redacted>`.

/// The placeholder for a value that is not reported.
pub const REDACTED: &str = "<redacted>";

/// The reportable form of `value` of variable `key`.
pub fn reportable_value(key: &str, value: &str) -> String {
    let k = key.to_ascii_uppercase();
    if secret_name(&k) {
        REDACTED.to_owned()
    } else if k.ends_with("_OPTS") {
        jvm_options(value)
    } else if k.ends_with("ZOOKEEPER_CONNECT") || k.ends_with("ZK_CONNECT") {
        host_list(value)
    } else {
        without_url_credentials(value)
    }
}

/// Whether an (upper-case) variable name says its value is a secret.
fn secret_name(k: &str) -> bool {
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "JAAS",
        "CREDENTIALS",
        "API_KEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|w| k.contains(w))
}

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '%' | '_' | '-'))
}

/// The JVM flags of an options string, `-D` values redacted, anything else dropped.
fn jvm_options(value: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for t in value.split_whitespace() {
        let size_flag = ["-Xmx", "-Xms", "-Xss", "-Xmn"]
            .iter()
            .find_map(|p| t.strip_prefix(p))
            .is_some_and(plain);
        if size_flag {
            out.push(t.to_owned());
        } else if let Some(xx) = t.strip_prefix("-XX:") {
            let ok = match xx.split_once('=') {
                Some((name, v)) => plain(name) && plain(v),
                None => plain(xx.trim_start_matches(['+', '-'])),
            };
            if ok {
                out.push(t.to_owned());
            }
        } else if let Some(prop) = t.strip_prefix("-D") {
            let name = prop.split_once('=').map_or(prop, |(n, _)| n);
            if plain(name) {
                out.push(format!("-D{name}={REDACTED}"));
            }
        }
    }
    out.join(" ")
}

/// `host:port` entries of a connect string (user info dropped) and a plain chroot.
fn host_list(value: &str) -> String {
    let (hosts, chroot) = match value.find('/') {
        Some(i) => (&value[..i], Some(&value[i..])),
        None => (value, None),
    };
    let hosts: Vec<&str> = hosts
        .split(',')
        .map(|h| h.trim().rsplit_once('@').map_or(h.trim(), |(_, h)| h))
        .filter(|h| {
            !h.is_empty()
                && h.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']')
                })
        })
        .collect();
    let chroot = chroot.filter(|c| {
        c.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'))
    });
    format!("{}{}", hosts.join(","), chroot.unwrap_or(""))
}

/// `value` with the user info of every `scheme://user[:pass]@host` replaced.
fn without_url_credentials(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == ',')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every secret shape of issue 11, with what may be reported of it.
    const SHAPES: &[(&str, &str, &str)] = &[
        (
            "JAVA_OPTS",
            "-Xmx1g -Djavax.net.ssl.keyStorePassword=hunter2 -XX:+UseG1GC",
            "-Xmx1g -Djavax.net.ssl.keyStorePassword=<redacted> -XX:+UseG1GC",
        ),
        (
            "JVM_OPTS",
            "-Xms1g -Xmx1g -Dpassword=\"hunter2 with spaces\" -javaagent:/x.jar=token=hunter2",
            "-Xms1g -Xmx1g -Dpassword=<redacted>",
        ),
        ("HEAP_OPTS", "-Xmx12G -Xms12G", "-Xmx12G -Xms12G"),
        (
            "KAFKA_HEAP_OPTS",
            "-Xmx2G -Dsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=hunter2;",
            "-Xmx2G -Dsasl.jaas.config=<redacted>",
        ),
        (
            "KAFKA_OPTS",
            "-Djava.security.auth.login.config=/run/secrets/hunter2.conf -XX:HeapDumpPath=/secret/hunter2",
            "-Djava.security.auth.login.config=<redacted>",
        ),
        (
            "KAFKA_ZOOKEEPER_CONNECT",
            "user:hunter2@zk1:2181,zk2:2181/kafka",
            "zk1:2181,zk2:2181/kafka",
        ),
        (
            "KAFKA_ZOOKEEPER_CONNECT",
            "digest:kafka:hunter2@zookeeper-01:2181",
            "zookeeper-01:2181",
        ),
        (
            "CONNECT_BOOTSTRAP_SERVERS",
            "SASL_SSL://user:hunter2@kafka-01:9093,http://k:hunter2@x:1",
            "SASL_SSL://<redacted>@kafka-01:9093,http://<redacted>@x:1",
        ),
        (
            "SCHEMA_REGISTRY_URL",
            "https://admin:hunter2@sr:8081/path?x=1",
            "https://<redacted>@sr:8081/path?x=1",
        ),
        ("KAFKA_SSL_KEYSTORE_PASSWORD", "hunter2", "<redacted>"),
        (
            "CONNECT_SASL_JAAS_CONFIG",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"hunter2\";",
            "<redacted>",
        ),
        (
            "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_SECRET",
            "u:hunter2",
            "<redacted>",
        ),
        ("KAFKA_REST_CLIENT_API_KEY", "hunter2", "<redacted>"),
        ("vault_token", "hunter2", "<redacted>"),
    ];

    #[test]
    fn every_secret_shape_is_redacted_and_what_planning_needs_is_kept() {
        for (key, value, want) in SHAPES {
            let got = reportable_value(key, value);
            assert_eq!(&got, want, "{key}={value}");
            assert!(!got.contains("hunter2"), "{key}: {got}");
        }
    }

    #[test]
    fn plain_planning_values_are_unchanged() {
        for (k, v) in [
            ("KAFKA_BROKER_ID", "3"),
            ("KAFKA_ZOOKEEPER_CONNECT", "zookeeper-01:2181/kafka"),
            ("KAFKA_HEAP_OPTS", "-Xms32M -Xmx128M"),
            ("CONNECT_REST_ADVERTISED_HOST_NAME", "connect-01"),
            ("KAFKA_LISTENERS", "PLAINTEXT://0.0.0.0:9092"),
        ] {
            assert_eq!(reportable_value(k, v), v);
        }
    }
}
