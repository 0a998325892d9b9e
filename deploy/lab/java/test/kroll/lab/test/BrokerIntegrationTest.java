package kroll.lab.test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import kroll.lab.common.HttpJson;
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

    private static String basic(String user, String password) {
        return "Basic " + java.util.Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The AvroConverter logs in to a Schema Registry that requires basic auth with the user info
     * of a FileConfigProvider variable (USER_INFO), as a secured Confluent deployment does: the
     * schemas are registered, the stored connector and task configurations keep the variable,
     * and a wrong password fails the task with Schema Registry's 401, an unreadable file with
     * Kafka's ConfigException.
     */
    public void testAvroConverterLogsInToSchemaRegistryThroughAFileConfigProvider() throws Exception {
        kafka = new BrokerLab(lab, "3.7.1", 3);
        java.nio.file.Path auth = lab.dir("auth");
        java.nio.file.Path users = auth.resolve("users");
        java.nio.file.Files.writeString(users, "admin: 4dmin,admin\nconnect: c0nnect-pw,user\n");
        java.nio.file.Path jaas = auth.resolve("jaas.conf");
        java.nio.file.Files.writeString(jaas, "SchemaRegistry {\n  org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required\n  file=\""
                + users + "\";\n};\n");
        int srPort = LabHome.freePort();
        Service sr = Service.start(lab, "sr-auth", "schema-registry.sh", Map.of(
                "SCHEMA_REGISTRY_HOST_NAME", "schema-registry",
                "SCHEMA_REGISTRY_LISTENERS", "http://127.0.0.1:" + srPort,
                "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "kafka-01:29091",
                "SCHEMA_REGISTRY_LAB_DATA_DIR", lab.dir("sr-auth-data").toString(),
                "SCHEMA_REGISTRY_HEAP_OPTS", "-Xmx64m",
                "SCHEMA_REGISTRY_AUTHENTICATION_METHOD", "BASIC",
                "SCHEMA_REGISTRY_AUTHENTICATION_ROLES", "admin,user",
                "SCHEMA_REGISTRY_OPTS", "-Djava.security.auth.login.config=" + jaas), srPort).awaitHttp("/", 15_000);
        java.nio.file.Path secret = auth.resolve("schema-registry.properties");
        java.nio.file.Files.writeString(secret, "basic.auth.user.info=connect:c0nnect-pw\n");
        java.nio.file.Path wrong = auth.resolve("wrong.properties");
        java.nio.file.Files.writeString(wrong, "basic.auth.user.info=connect:not-the-password\n");
        Map<String, String> env = Lab.workerEnv(lab.dir("cluster"), LabHome.freePort(), sr.url(), kafka.bootstrap());
        env.put("CONNECT_CONFIG_PROVIDERS", "file");
        env.put("CONNECT_CONFIG_PROVIDERS_FILE_CLASS", "org.apache.kafka.common.config.provider.FileConfigProvider");
        Service w = Lab.worker(lab, "w-auth", env);
        java.util.function.BiFunction<String, String, Map<String, Object>> source = (prefix, file) -> {
            Map<String, Object> c = Lab.migrateCt(Lab.ct19(prefix, prefix, "receipts"));
            c.put("transforms.route.replacement", "$1.$2.$3");
            c.put("schema.name.adjustment.mode", "avro");
            c.put("schema.history.internal.kafka.bootstrap.servers", kafka.bootstrap());
            for (String side : new String[] {"key", "value"}) {
                c.put(side + ".converter", "io.confluent.connect.avro.AvroConverter");
                c.put(side + ".converter.schema.registry.url", sr.url());
                c.put(side + ".converter.basic.auth.credentials.source", "USER_INFO");
                c.put(side + ".converter.basic.auth.user.info", "${file:" + file + ":basic.auth.user.info}");
            }
            return c;
        };
        String admin = basic("admin", "4dmin");
        Check.eq(201, w.call("POST", "/connectors", kroll.lab.common.Json.obj("name", "authed", "config", source.apply("authed", secret.toString()))).status, "create");
        Check.eventually(30_000, "the connector registers its schemas as `connect`", () -> {
            try {
                String subjects = HttpJson.call("GET", sr.url() + "/subjects", null, 5000, admin).body;
                return subjects.contains("authed.digikala_fulfillment.receipts-key") && subjects.contains("authed.digikala_fulfillment.receipts-value");
            } catch (java.io.IOException e) {
                return false;
            }
        }, () -> taskState(w, "authed") + "\n" + sr.logText());
        String variable = "${file:" + secret + ":basic.auth.user.info}";
        Check.eq(variable, Lab.obj(w.call("GET", "/connectors/authed/config", null)).get("value.converter.basic.auth.user.info"), "the stored config keeps the variable");
        String tasks = w.call("GET", "/connectors/authed/tasks", null).body;
        Check.contains(tasks, "\"value.converter.basic.auth.user.info\":\"" + variable + "\"", "the task configurations keep the variable");
        Check.eq(false, tasks.contains("c0nnect-pw"), "no password in the task configurations: " + tasks);
        Check.eq(201, w.call("POST", "/connectors", kroll.lab.common.Json.obj("name", "refused", "config", source.apply("refused", wrong.toString()))).status, "create");
        Check.eventually(30_000, "a wrong password fails the task with Schema Registry's 401", () -> "FAILED".equals(taskState(w, "refused")));
        String trace = String.valueOf(kroll.lab.common.Json.asObject(kroll.lab.common.Json.asList(Lab.obj(w.call("GET", "/connectors/refused/status", null)).get("tasks")).get(0)).get("trace"));
        Check.contains(trace, "Unauthorized; error code: 401", "the registry's refusal");
        Check.eq(201, w.call("POST", "/connectors", kroll.lab.common.Json.obj("name", "nofile", "config", source.apply("nofile", auth.resolve("absent").toString()))).status, "create");
        Check.eventually(30_000, "an unreadable secret file fails the task", () -> "FAILED".equals(taskState(w, "nofile")));
        String noFile = String.valueOf(kroll.lab.common.Json.asObject(kroll.lab.common.Json.asList(Lab.obj(w.call("GET", "/connectors/nofile/status", null)).get("tasks")).get(0)).get("trace"));
        Check.contains(noFile, "Could not read properties from file " + auth.resolve("absent"), "Kafka's words");
        Check.eq(false, w.logText().contains("c0nnect-pw") || sr.logText().contains("c0nnect-pw"), "no password in a log");
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
