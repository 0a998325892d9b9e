//! How each variable of a Connect container is classified (see `env.rs` for the classes).

const NOT_WORKER_PREFIXES: &[&str] = &[
    "KAFKA_",
    "JAVA_",
    "JMX_",
    "CONFLUENT_",
    "CUB_",
    "LC_",
    "ENABLE_",
    "MAVEN_",
];

const NOT_WORKER_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "HOSTNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "USER",
    "PWD",
    "SHLVL",
    "TERM",
    "COMPONENT",
    "CLASSPATH",
    "LOG_DIR",
    "LOG_LEVEL",
    "JMXHOST",
    "JMXPORT",
    "EXTRA_ARGS",
];

const WORKER_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "client.id",
    "config.storage.topic",
    "offset.storage.topic",
    "status.storage.topic",
    "config.storage.replication.factor",
    "offset.storage.replication.factor",
    "status.storage.replication.factor",
    "offset.storage.partitions",
    "status.storage.partitions",
    "key.converter",
    "value.converter",
    "header.converter",
    "internal.key.converter",
    "internal.value.converter",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "task.shutdown.graceful.timeout.ms",
    "plugin.path",
    "plugin.discovery",
    "listeners",
    "admin.listeners",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    "rest.extension.classes",
    "connector.client.config.override.policy",
    "heartbeat.interval.ms",
    "session.timeout.ms",
    "rebalance.timeout.ms",
    "scheduled.rebalance.max.delay.ms",
    "connect.protocol",
    "worker.sync.timeout.ms",
    "worker.unsync.backoff.ms",
    "exactly.once.source.support",
    "topic.creation.enable",
    "request.timeout.ms",
    "retry.backoff.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "metadata.max.age.ms",
    "connections.max.idle.ms",
    "receive.buffer.bytes",
    "send.buffer.bytes",
    "security.protocol",
    "metric.reporters",
    "access.control.allow.origin",
    "access.control.allow.methods",
    "response.http.headers.config",
    "config.providers",
    "inter.worker.key.generation.algorithm",
    "inter.worker.key.size",
    "inter.worker.key.ttl.ms",
    "inter.worker.signature.algorithm",
    "inter.worker.verification.algorithms",
];

const WORKER_PROPERTY_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "internal.key.converter.",
    "internal.value.converter.",
    "producer.",
    "consumer.",
    "admin.",
    "sasl.",
    "ssl.",
    "metrics.",
    "config.providers.",
    "listeners.https.",
];

/// The worker property cp-kafka-connect derives from a variable name without `CONNECT_`.
pub fn env_to_property(name: &str) -> String {
    name.to_ascii_lowercase()
        .split('_')
        .collect::<Vec<_>>()
        .join(".")
        .split("...")
        .collect::<Vec<_>>()
        .join("-")
        .split("..")
        .collect::<Vec<_>>()
        .join("_")
}

pub(crate) enum Class {
    Keep,
    Heap,
    Rename(&'static str),
    Gone(&'static str),
    Worker,
    Unknown,
}

pub(crate) fn classify(name: &str) -> Class {
    match name {
        "HEAP_OPTS" | "KAFKA_HEAP_OPTS" => return Class::Heap,
        "ADVERTISED_HOST_NAME" => return Class::Rename("CONNECT_REST_ADVERTISED_HOST_NAME"),
        "ADVERTISED_PORT" => return Class::Rename("CONNECT_REST_ADVERTISED_PORT"),
        "REST_PORT" => {
            return Class::Gone(
                "rest.port was removed in Kafka 3.0; its port moves into CONNECT_LISTENERS",
            );
        }
        "HOST_NAME" => {
            return Class::Gone(
                "rest.host.name was removed in Kafka 3.0; CONNECT_LISTENERS binds 0.0.0.0",
            );
        }
        _ => {}
    }
    if name.starts_with("CONNECT_")
        || NOT_WORKER_NAMES.contains(&name)
        || NOT_WORKER_PREFIXES.iter().any(|p| name.starts_with(p))
    {
        return Class::Keep;
    }
    let property = env_to_property(name);
    let known = WORKER_PROPERTIES.contains(&property.as_str())
        || WORKER_PROPERTY_PREFIXES
            .iter()
            .any(|p| property.starts_with(p));
    if known { Class::Worker } else { Class::Unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_map_to_properties_like_the_image_does() {
        assert_eq!(
            env_to_property("KEY_CONVERTER_SCHEMA_REGISTRY_URL"),
            "key.converter.schema.registry.url"
        );
        assert_eq!(
            env_to_property("CONFIG_STORAGE_REPLICATION_FACTOR"),
            "config.storage.replication.factor"
        );
        assert_eq!(env_to_property("A__B"), "a_b");
        assert_eq!(env_to_property("A___B"), "a-b");
    }

    #[test]
    fn every_variable_lands_in_one_class() {
        let class = |name: &str| match classify(name) {
            Class::Keep => "keep",
            Class::Heap => "heap",
            Class::Rename(_) => "rename",
            Class::Gone(_) => "gone",
            Class::Worker => "worker",
            Class::Unknown => "unknown",
        };
        let cases = [
            ("CONNECT_GROUP_ID", "keep"),
            ("KAFKA_JMX_PORT", "keep"),
            ("JAVA_HOME", "keep"),
            ("HOSTNAME", "keep"),
            ("HEAP_OPTS", "heap"),
            ("KAFKA_HEAP_OPTS", "heap"),
            ("ADVERTISED_HOST_NAME", "rename"),
            ("REST_PORT", "gone"),
            ("GROUP_ID", "worker"),
            ("PRODUCER_COMPRESSION_TYPE", "worker"),
            ("VALUE_CONVERTER_SCHEMA_REGISTRY_URL", "worker"),
            ("SOMETHING_ELSE", "unknown"),
        ];
        for (name, expected) in cases {
            assert_eq!(class(name), expected, "{name}");
        }
    }
}
