package kroll.lab.connect;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import kroll.lab.common.Log;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.Errors;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.KafkaException;
import kroll.lab.kafka.Murmur2;
import kroll.lab.kafka.RecordBatch;
import kroll.lab.kafka.TopicPartition;

/**
 * A source task's producer: routes converted records to partitions with Kafka's default
 * partitioner (murmur2 of the key bytes), produces per partition with acks=all, and retries
 * retriable errors forever (Connect sets delivery.timeout.ms / max.block.ms to "infinite" for
 * source producers), refreshing metadata between tries — so a broker restart only stalls it.
 */
public final class SourceSender {
    public static final class Out {
        public final String topic;
        public final byte[] key;
        public final byte[] value;
        public final long timestamp;
        public final Integer partition;

        public Out(String topic, byte[] key, byte[] value, long timestamp, Integer partition) {
            this.topic = topic;
            this.key = key;
            this.value = value;
            this.timestamp = timestamp;
            this.partition = partition;
        }
    }

    private final WorkerTask task;
    private final KafkaClient kafka;
    private final Map<String, String> config;
    private final Log log;
    private final int acks;
    private final long delayMs;
    private long lastWarn;
    private long produced;
    private java.util.function.Supplier<RuntimeException> abort = () -> null;

    /** A check run between retries: a non-null exception ends the send (e.g. the connector's reader died). */
    public void abortWhen(java.util.function.Supplier<RuntimeException> check) { this.abort = check; }

    private void checkAbort() {
        RuntimeException e = abort.get();
        if (e != null) throw e;
    }

    public SourceSender(WorkerTask task, KafkaClient kafka, Map<String, String> config, WorkerConfig worker, Log log) {
        this.task = task;
        this.kafka = kafka;
        this.config = config;
        this.log = log;
        String a = config.getOrDefault("producer.override.acks", worker.props.get("producer.acks", "all"));
        this.acks = "all".equals(a) || "-1".equals(a) ? -1 : Integer.parseInt(a);
        this.delayMs = Long.parseLong(config.getOrDefault("lab.produce.delay.ms", "0"));
    }

    public long produced() { return produced; }

    private int partitions(String topic) throws InterruptedException {
        while (true) {
            try {
                Cluster.Topic t = kafka.topic(topic, true);
                return t.partitions.size();
            } catch (KafkaException e) {
                if (e.code == Errors.UNKNOWN_TOPIC_OR_PARTITION && config.containsKey("topic.creation.default.partitions")) {
                    try {
                        Map<String, String> cfg = new LinkedHashMap<>();
                        for (Map.Entry<String, String> c : config.entrySet()) {
                            String p = "topic.creation.default.";
                            if (c.getKey().startsWith(p) && !c.getKey().equals(p + "partitions") && !c.getKey().equals(p + "replication.factor")) {
                                cfg.put(c.getKey().substring(p.length()), c.getValue());
                            }
                        }
                        kafka.createTopic(topic, Integer.parseInt(config.get("topic.creation.default.partitions")),
                                Integer.parseInt(config.getOrDefault("topic.creation.default.replication.factor", "-1")), cfg);
                        continue;
                    } catch (KafkaException ce) {
                        e = ce;
                    }
                }
                if (!e.retriable() && e.code != Errors.UNKNOWN_TOPIC_OR_PARTITION) throw fatal(e);
                warn("metadata for " + topic + " unavailable: " + e.getMessage());
                checkAbort();
                if (!task.pause(200)) return -1;
            }
        }
    }

    private RuntimeException fatal(KafkaException e) {
        return LabException.connect("Unrecoverable exception from producer send callback", e);
    }

    private void warn(String msg) {
        long now = System.currentTimeMillis();
        if (now - lastWarn > 5000) {
            log.warn(msg + " (retrying)");
            lastWarn = now;
        }
    }

    /** Sends all records; returns false if the task was stopped before they were all acked. */
    public boolean send(List<Out> records) throws InterruptedException {
        Map<TopicPartition, List<RecordBatch.Record>> groups = new LinkedHashMap<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (Out o : records) {
            Integer n = counts.get(o.topic);
            if (n == null) {
                n = partitions(o.topic);
                if (n < 0) return false;
                counts.put(o.topic, n);
            }
            int p = o.partition != null ? o.partition : o.key == null ? 0 : Murmur2.partition(o.key, n);
            groups.computeIfAbsent(new TopicPartition(o.topic, p), k -> new ArrayList<>()).add(new RecordBatch.Record(o.key, o.value, o.timestamp));
        }
        for (Map.Entry<TopicPartition, List<RecordBatch.Record>> g : groups.entrySet()) {
            byte[] batch = RecordBatch.encode(g.getValue());
            while (true) {
                if (task.stopping()) return false;
                if (delayMs > 0 && !task.pause(delayMs)) return false;
                try {
                    kafka.produce(g.getKey().topic, g.getKey().partition, batch, acks, 30_000);
                    produced += g.getValue().size();
                    break;
                } catch (KafkaException e) {
                    if (!e.retriable()) throw fatal(e);
                    warn("produce to " + g.getKey() + " failed: " + e.getMessage());
                    checkAbort();
                    if (!task.pause(200)) return false;
                }
            }
        }
        return true;
    }
}
