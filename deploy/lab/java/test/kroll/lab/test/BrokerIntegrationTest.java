package kroll.lab.test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.KafkaException;
import kroll.lab.kafka.Murmur2;
import kroll.lab.kafka.RecordBatch;
import kroll.lab.kafka.TopicPartition;

/** The Java Kafka client and the Connect worker against real lab brokers + a real ZooKeeper. */
public class BrokerIntegrationTest implements AutoCloseable {
    private final LabHome lab;
    private BrokerLab kafka;

    public BrokerIntegrationTest() throws Exception {
        BrokerLab.requireAvailable();
        lab = new LabHome("7.7.1");
    }

    @Override
    public void close() throws Exception {
        if (kafka != null) kafka.close();
        lab.close();
    }

    private static long sum(Map<TopicPartition, Long> m) {
        long s = 0;
        for (long v : m.values()) s += v;
        return s;
    }

    static Map<TopicPartition, Long> ends(KafkaClient k, String topic) {
        Cluster.Topic t = k.topic(topic, false);
        Map<TopicPartition, Long> req = new HashMap<>();
        for (Cluster.Partition p : t.partitions) req.put(new TopicPartition(topic, p.partition), -1L);
        return k.listOffsets(req);
    }

    /** Retries a client call over transient errors (elections, ISR catch-up) within a deadline. */
    static <T> T retry(long ms, java.util.function.Supplier<T> call) {
        long end = System.currentTimeMillis() + ms;
        while (true) {
            try {
                return call.get();
            } catch (KafkaException e) {
                if (!e.retriable() || System.currentTimeMillis() > end) throw e;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    throw new AssertionError(ie);
                }
            }
        }
    }

    public void testProduceOffsetsAndCommitsAgainstLabBrokers() throws Exception {
        kafka = new BrokerLab(lab, "3.7.1", 3);
        try (KafkaClient k = new KafkaClient(kafka.bootstrap(), "lab-test", 10_000)) {
            Cluster c = k.metadata(List.of(), false);
            Check.ok(c.clusterId != null && !c.clusterId.isEmpty(), "cluster id");
            retry(20_000, () -> {
                k.createTopic("orders", 3, 3, Map.of());
                return null;
            });
            Check.eventually(20_000, "orders has leaders", () -> {
                try {
                    k.invalidate(null);
                    Cluster.Topic t = k.topic("orders", false);
                    return t.partitions.size() == 3 && t.partitions.stream().allMatch(p -> p.leader >= 0 && p.isr.length >= 2);
                } catch (KafkaException e) {
                    return false;
                }
            });
            Map<Integer, List<RecordBatch.Record>> byPartition = new HashMap<>();
            for (int i = 0; i < 30; i++) {
                byte[] key = ("key-" + i).getBytes(StandardCharsets.UTF_8);
                byPartition.computeIfAbsent(Murmur2.partition(key, 3), x -> new ArrayList<>())
                        .add(new RecordBatch.Record(key, ("value-" + i).getBytes(StandardCharsets.UTF_8), System.currentTimeMillis()));
            }
            for (Map.Entry<Integer, List<RecordBatch.Record>> e : byPartition.entrySet()) {
                byte[] batch = RecordBatch.encode(e.getValue());
                retry(20_000, () -> k.produce("orders", e.getKey(), batch, -1, 10_000));
            }
            Map<TopicPartition, Long> end = retry(20_000, () -> ends(k, "orders"));
            Check.eq(30L, sum(end), "end offsets count every produced record");
            for (Map.Entry<Integer, List<RecordBatch.Record>> e : byPartition.entrySet()) {
                Check.eq((long) e.getValue().size(), end.get(new TopicPartition("orders", e.getKey())), "partition " + e.getKey());
            }
            Map<TopicPartition, Long> commit = new HashMap<>();
            commit.put(new TopicPartition("orders", 0), 1L);
            commit.put(new TopicPartition("orders", 1), 2L);
            retry(20_000, () -> {
                k.commit("lab-group", commit);
                return null;
            });
            Map<TopicPartition, Long> got = retry(20_000, () -> k.committed("lab-group",
                    List.of(new TopicPartition("orders", 0), new TopicPartition("orders", 1), new TopicPartition("orders", 2))));
            Check.eq(1L, got.get(new TopicPartition("orders", 0)), "committed p0");
            Check.eq(2L, got.get(new TopicPartition("orders", 1)), "committed p1");
            Check.eq(-1L, got.get(new TopicPartition("orders", 2)), "nothing committed on p2");
        }
        // an independent client (kcat / librdkafka, CRC checks on) reads what we wrote, keys in the murmur2 partitions
        Process p = new ProcessBuilder("kcat", "-b", kafka.bootstrap(), "-C", "-t", "orders", "-o", "beginning", "-e",
                "-X", "check.crcs=true", "-f", "%p %k %s\\n").redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Check.ok(p.waitFor(30, TimeUnit.SECONDS), "kcat finished");
        String[] lines = out.trim().split("\n");
        Check.eq(30, lines.length, "kcat read every record: " + out);
        for (String line : lines) {
            String[] f = line.split(" ");
            Check.eq(Murmur2.partition(f[1].getBytes(StandardCharsets.UTF_8), 3), Integer.parseInt(f[0]), "partition of " + f[1]);
            Check.eq(f[1].replace("key", "value"), f[2], "value of " + f[1]);
        }
    }

    private static String taskState(Service w, String n) {
        try {
            Map<String, Object> s = Lab.obj(w.call("GET", "/connectors/" + n + "/status", null));
            List<Object> ts = kroll.lab.common.Json.asList(s.get("tasks"));
            return ts.isEmpty() ? "NO_TASKS" : String.valueOf(kroll.lab.common.Json.asObject(ts.get(0)).get("state"));
        } catch (Exception e) {
            return e.toString();
        }
    }

    private static byte[] wireKey(int schemaId, long id) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.write(0);
        b.write(schemaId >>> 24);
        b.write(schemaId >>> 16);
        b.write(schemaId >>> 8);
        b.write(schemaId);
        kroll.lab.avro.BinaryEncoder.writeLong(b, id);
        return b.toByteArray();
    }

    public void testConnectSourceAndSinkAgainstLabBrokers() throws Exception {
        kafka = new BrokerLab(lab, "3.7.1", 3);
        Service sr = Lab.schemaRegistry(lab, "sr");
        Service w = Lab.worker(lab, "w77", Lab.workerEnv(lab.dir("cluster"), LabHome.freePort(), sr.url(), kafka.bootstrap()));
        Check.ok(Lab.obj(w.call("GET", "/", null)).get("kafka_cluster_id") != null, "kafka_cluster_id from the brokers");
        String topic = "ct.digikala_fulfillment.receipts";
        Map<String, Object> cfg = Lab.migrateCt(Lab.ct19("ct-receipts", "ct-digikala_fulfillment-slave", "receipts"));
        cfg.put("transforms.route.replacement", "ct.$2.$3");
        cfg.put("schema.name.adjustment.mode", "avro");
        cfg.put("schema.history.internal.kafka.bootstrap.servers", kafka.bootstrap());
        Check.eq(201, w.call("POST", "/connectors", kroll.lab.common.Json.obj("name", "ct-receipts", "config", cfg)).status, "create source");
        try (KafkaClient k = new KafkaClient(kafka.bootstrap(), "lab-test", 10_000)) {
            Check.eventually(30_000, "the snapshot's 5 rows are in " + topic, () -> {
                try {
                    return sum(ends(k, topic)) == 5;
                } catch (KafkaException e) {
                    k.invalidate(null);
                    return false;
                }
            }, () -> taskState(w, "ct-receipts") + " " + w.logText().lines().filter(l -> l.contains("WARN") || l.contains("ERROR")).reduce("", (a, b) -> a + "\n" + b));
            // keys are partitioned by murmur2 of the Confluent-framed Avro key bytes
            int keyId = ((Number) Lab.obj(sr.call("GET", "/subjects/" + topic + "-key/versions/latest", null)).get("id")).intValue();
            Map<TopicPartition, Long> expected = new HashMap<>();
            for (int p = 0; p < 3; p++) expected.put(new TopicPartition(topic, p), 0L);
            for (long id = 1; id <= 5; id++) expected.merge(new TopicPartition(topic, Murmur2.partition(wireKey(keyId, id), 3)), 1L, Long::sum);
            Check.eq(expected, ends(k, topic), "records per partition");
            // source offsets keyed like Debezium's
            Check.eventually(10_000, "source offset committed", () -> {
                try {
                    return w.call("GET", "/connectors/ct-receipts/offsets", null).body.contains("{\"partition\":{\"server\":\"ct-digikala_fulfillment-slave\"}");
                } catch (Exception e) {
                    return false;
                }
            });
            // restarting with the same key continues: no second snapshot
            Check.eq(202, w.call("POST", "/connectors/ct-receipts/restart?includeTasks=true", null).status, "restart");
            Check.eventually(15_000, "restarted task resumed from its offset", () -> w.logText().contains("Found previous offset"));
            Check.eq(5L, sum(ends(k, topic)), "no re-snapshot with the same offset key");
            // a new topic.prefix is a new offset key: Debezium snapshots again (every row re-emitted)
            Map<String, Object> renamed = new java.util.LinkedHashMap<>(cfg);
            renamed.put("topic.prefix", "ct-digikala_fulfillment-slave2");
            Check.eq(200, w.call("PUT", "/connectors/ct-receipts/config", renamed).status, "change prefix");
            Check.eventually(30_000, "re-snapshot doubles the rows", () -> {
                try {
                    return sum(ends(k, topic)) == 10;
                } catch (KafkaException e) {
                    k.invalidate(null);
                    return false;
                }
            });
            // a sink consumes (commits) up to the end offsets: lag is measurable through Kafka
            Map<String, Object> sink = new java.util.LinkedHashMap<>();
            sink.put("connector.class", "io.confluent.connect.jdbc.JdbcSinkConnector");
            sink.put("tasks.max", "2");
            sink.put("topics", topic);
            sink.put("connection.url", "jdbc:postgresql://dwh:5432/dwh");
            sink.put("lab.records.per.second", "1000");
            Check.eq(201, w.call("POST", "/connectors", kroll.lab.common.Json.obj("name", "dwh-sink", "config", sink)).status, "create sink");
            List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1), new TopicPartition(topic, 2));
            Check.eventually(30_000, "sink caught up (lag 0)", () -> {
                try {
                    return k.committed("connect-dwh-sink", tps).equals(ends(k, topic));
                } catch (KafkaException e) {
                    k.invalidate(null);
                    return false;
                }
            });
            Check.contains(w.call("GET", "/connectors/dwh-sink/offsets", null).body, "\"kafka_topic\":\"" + topic + "\"", "sink offsets endpoint");
            // the worker survives a broker restart under it
            Map<String, Object> streaming = new java.util.LinkedHashMap<>(renamed);
            streaming.put("lab.events.per.second", "20");
            Check.eq(200, w.call("PUT", "/connectors/ct-receipts/config", streaming).status, "stream");
            kafka.stop(1, false);
            kafka.start(1);
            long before = retry(20_000, () -> sum(ends(k, topic)));
            Check.eventually(40_000, "records keep flowing after a broker restart", () -> {
                try {
                    return sum(ends(k, topic)) >= before + 20 && "RUNNING".equals(taskState(w, "ct-receipts"));
                } catch (KafkaException e) {
                    k.invalidate(null);
                    return false;
                }
            }, () -> taskState(w, "ct-receipts") + kafka.logs());
        }
    }
}
