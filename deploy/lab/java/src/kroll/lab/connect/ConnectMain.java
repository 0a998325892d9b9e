package kroll.lab.connect;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import kroll.lab.common.Daemon;
import kroll.lab.common.HttpService;
import kroll.lab.common.LabVersion;
import kroll.lab.common.Log;
import kroll.lab.common.Props;
import kroll.lab.common.RestSecurity;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.KafkaException;

/**
 * The lab's Kafka Connect worker (distributed mode). Usage:
 * {@code java -cp lab-connect.jar kroll.lab.connect.ConnectMain <connect-distributed.properties>}.
 */
public final class ConnectMain {
    private static final Log LOG = Log.get(ConnectMain.class);

    private ConnectMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) Daemon.die("usage: ConnectMain <connect-distributed.properties>");
        Props p = Props.load(Path.of(args[0]));
        LabVersion version = LabVersion.load();
        WorkerConfig w;
        try {
            w = new WorkerConfig(p, version);
        } catch (IllegalArgumentException e) {
            Daemon.die("ERROR Stopping due to error: " + e.getMessage());
            return;
        }
        long maxHeap = Runtime.getRuntime().maxMemory();
        LOG.info("Kafka Connect worker (lab) starting: Confluent " + version.platform + ", Kafka " + version.kafka
                + ", Debezium " + w.debeziumVersion() + ", worker id " + w.workerId + ", group " + w.groupId
                + ", max heap " + (maxHeap / (1024 * 1024)) + " MiB");
        AtomicReference<String> clusterId = new AtomicReference<>();
        lookupClusterId(w, clusterId);
        ClusterStore store = new ClusterStore(Path.of(w.clusterDir), w.groupId, w.workerId);
        Plugins plugins = new Plugins(w);
        Herder herder = new Herder(w, store, plugins);
        HttpService http = new HttpService("connect", "application/json");
        new ConnectRest(w, store, plugins, herder, clusterId::get).install(http);
        RestSecurity security;
        try {
            security = RestSecurity.connect(p);
        } catch (Exception e) {
            Daemon.die("ERROR Stopping due to error: " + e.getMessage());
            return;
        }
        http.start(w.listeners, security);
        herder.start();
        LOG.info("Kafka Connect started");
        Daemon.parkForever(() -> {
            LOG.info("Kafka Connect stopping");
            herder.stop();
            http.stop();
            LOG.info("Kafka Connect stopped");
        });
    }

    /** Like Connect's startup lookup of the Kafka cluster id (the worker does not start without it). */
    private static void lookupClusterId(WorkerConfig w, AtomicReference<String> out) {
        long end = System.currentTimeMillis() + w.kafkaWaitMs;
        KafkaException last = null;
        try (KafkaClient k = new KafkaClient(w.bootstrap, "connect-cluster-id", 10_000)) {
            do {
                try {
                    Cluster c = k.metadata(List.of(), false);
                    out.set(c.clusterId);
                    LOG.info("Kafka cluster ID: " + c.clusterId);
                    return;
                } catch (KafkaException e) {
                    last = e;
                    if (!w.kafkaRequired) break;
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            } while (System.currentTimeMillis() < end);
        }
        if (w.kafkaRequired) {
            Daemon.die("ERROR Stopping due to error (org.apache.kafka.connect.cli.ConnectDistributed)\n"
                    + "org.apache.kafka.connect.errors.ConnectException: Failed to connect to and describe Kafka cluster. "
                    + "Check worker's broker connection and security properties. (" + (last == null ? "" : last.getMessage()) + ")");
        }
        LOG.warn("Kafka cluster not reachable (" + (last == null ? "" : last.getMessage()) + "); lab.kafka.required=false, starting anyway");
        Daemon.thread("cluster-id-lookup", () -> {
            try (KafkaClient k = new KafkaClient(w.bootstrap, "connect-cluster-id", 10_000)) {
                while (out.get() == null) {
                    try {
                        out.set(k.metadata(List.of(), false).clusterId);
                        LOG.info("Kafka cluster ID: " + out.get());
                    } catch (KafkaException e) {
                        try {
                            Thread.sleep(2000);
                        } catch (InterruptedException ie) {
                            return;
                        }
                    }
                }
            }
        });
    }
}
