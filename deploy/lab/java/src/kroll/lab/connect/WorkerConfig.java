package kroll.lab.connect;

import java.net.URI;
import kroll.lab.common.LabVersion;
import kroll.lab.common.Log;
import kroll.lab.common.Props;

/** The worker's configuration (from connect-distributed.properties) plus the lab's knobs. */
public final class WorkerConfig {
    private static final Log LOG = Log.get(WorkerConfig.class);

    /** The worker's properties, their config-provider variables resolved (KIP-421). */
    public final Props props;
    /** The worker's {@code config.providers}: what resolves a task configuration's variables. */
    public final ConfigProviders providers;
    public final LabVersion version;
    public final String bootstrap;
    public final String groupId;
    public final String listeners;
    public final String advertisedHost;
    public final int advertisedPort;
    /** http or https: the scheme of the advertised URL (rest.advertised.listener, else the first listener's). */
    public final String advertisedScheme;
    public final String workerId;
    public final String clusterDir;
    public final long heartbeatMs;
    public final long sessionTimeoutMs;
    public final long rebalanceDelayMs;
    public final long offsetFlushMs;
    public final boolean kafkaRequired;
    public final long kafkaWaitMs;

    public WorkerConfig(Props raw, LabVersion version) {
        this.providers = ConfigProviders.of(raw.asMap());
        Props p;
        try {
            p = new Props(providers.transform(raw.asMap()));
        } catch (LabException e) {
            throw new IllegalArgumentException(e.toString(), e);
        }
        this.props = p;
        this.version = version;
        for (String k : new String[] {"bootstrap.servers", "group.id", "config.storage.topic", "offset.storage.topic",
            "status.storage.topic", "key.converter", "value.converter"}) {
            if (p.get(k, "").isEmpty()) throw new IllegalArgumentException("Missing required configuration \"" + k + "\" which has no default value.");
        }
        if (p.has("rest.port") || p.has("rest.host.name")) {
            LOG.warn("The configuration '" + (p.has("rest.port") ? "rest.port" : "rest.host.name")
                    + "' was supplied but isn't a known config (removed in Kafka 3.0; use listeners).");
        }
        bootstrap = p.get("bootstrap.servers");
        groupId = p.get("group.id");
        listeners = p.get("listeners", "http://0.0.0.0:8083");
        URI first = URI.create(listeners.split(",")[0].trim());
        advertisedHost = p.get("rest.advertised.host.name", first.getHost());
        advertisedPort = p.getInt("rest.advertised.port", first.getPort());
        advertisedScheme = p.get("rest.advertised.listener", first.getScheme() == null ? "http" : first.getScheme());
        workerId = advertisedHost + ":" + advertisedPort;
        clusterDir = p.get("lab.cluster.dir", "/var/lib/connect-cluster");
        heartbeatMs = p.getLong("heartbeat.interval.ms", 300);
        sessionTimeoutMs = p.getLong("session.timeout.ms", 3000);
        rebalanceDelayMs = p.getLong("scheduled.rebalance.max.delay.ms", 10000);
        offsetFlushMs = p.getLong("offset.flush.interval.ms", 60000);
        kafkaRequired = p.getBool("lab.kafka.required", true);
        kafkaWaitMs = p.getLong("lab.kafka.wait.ms", 60000);
    }

    /** Kafka 3.5+ (Confluent 7.5+) knows STOPPED and the offsets endpoints. */
    public boolean supportsStop() { return version.kafkaAtLeast("3.5"); }

    /** Debezium 3.0 runs on the Java 17 images (7.7+), 1.9 on 7.1. */
    public boolean debezium3() { return version.platformAtLeast("7.5"); }

    public String debeziumVersion() { return debezium3() ? "3.0.0.Final" : "1.9.7.Final"; }
}
