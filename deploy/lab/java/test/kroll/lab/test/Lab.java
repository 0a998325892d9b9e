package kroll.lab.test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import kroll.lab.common.HttpJson;
import kroll.lab.common.Json;

/** Starting lab services for tests, and the journal's connector configs. */
public final class Lab {
    private Lab() {}

    public static Service schemaRegistry(LabHome lab, String name) throws Exception {
        int port = LabHome.freePort();
        return Service.start(lab, name, "schema-registry.sh", Map.of(
                "SCHEMA_REGISTRY_HOST_NAME", "schema-registry",
                "SCHEMA_REGISTRY_LISTENERS", "http://127.0.0.1:" + port,
                "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "kafka-01:29091",
                "SCHEMA_REGISTRY_LAB_DATA_DIR", lab.dir(name + "-data").toString(),
                "SCHEMA_REGISTRY_HEAP_OPTS", "-Xmx64m"), port).awaitHttp("/", 15_000);
    }

    /** Worker env like the 7.7 images want it; bootstrap defaults to an unreachable port. */
    public static Map<String, String> workerEnv(Path clusterDir, int port, String srUrl, String bootstrap) {
        Map<String, String> env = new HashMap<>();
        env.put("CONNECT_BOOTSTRAP_SERVERS", bootstrap == null ? "127.0.0.1:1" : bootstrap);
        env.put("CONNECT_GROUP_ID", "connect");
        env.put("CONNECT_CONFIG_STORAGE_TOPIC", "connect-configs");
        env.put("CONNECT_OFFSET_STORAGE_TOPIC", "connect-offsets");
        env.put("CONNECT_STATUS_STORAGE_TOPIC", "connect-statuses");
        env.put("CONNECT_KEY_CONVERTER", "io.confluent.connect.avro.AvroConverter");
        env.put("CONNECT_VALUE_CONVERTER", "io.confluent.connect.avro.AvroConverter");
        env.put("CONNECT_KEY_CONVERTER_SCHEMA_REGISTRY_URL", srUrl);
        env.put("CONNECT_VALUE_CONVERTER_SCHEMA_REGISTRY_URL", srUrl);
        env.put("CONNECT_REST_ADVERTISED_HOST_NAME", "127.0.0.1");
        env.put("CONNECT_LISTENERS", "http://127.0.0.1:" + port);
        env.put("CONNECT_LAB_CLUSTER_DIR", clusterDir.toString());
        env.put("CONNECT_LAB_KAFKA_REQUIRED", bootstrap == null ? "false" : "true");
        env.put("CONNECT_OFFSET_FLUSH_INTERVAL_MS", "300");
        env.put("CONNECT_HEARTBEAT_INTERVAL_MS", "100");
        env.put("CONNECT_SESSION_TIMEOUT_MS", "1500");
        env.put("CONNECT_SCHEDULED_REBALANCE_MAX_DELAY_MS", "1500");
        env.put("KAFKA_HEAP_OPTS", "-Xmx128m");
        return env;
    }

    public static Service worker(LabHome lab, String name, Map<String, String> env) throws Exception {
        int port = Integer.parseInt(env.get("CONNECT_LISTENERS").replaceAll(".*:", ""));
        return Service.start(lab, name, "connect.sh", env, port).awaitHttp("/", 20_000);
    }

    /** A Debezium 1.9 CT connector config shaped like the journal's. */
    public static Map<String, Object> ct19(String name, String prefix, String table) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("connector.class", "io.debezium.connector.mysql.MySqlConnector");
        c.put("tasks.max", "1");
        c.put("database.hostname", "mysql-slave");
        c.put("database.port", "3306");
        c.put("database.user", "debezium");
        c.put("database.password", "secret");
        c.put("database.server.name", prefix);
        c.put("database.include.list", "digikala_fulfillment");
        c.put("table.include.list", "digikala_fulfillment." + table);
        c.put("database.history.kafka.bootstrap.servers", "kafka-01:29091");
        c.put("database.history.kafka.topic", "dbhistory." + prefix);
        c.put("acks", "all");
        c.put("transforms", "route");
        c.put("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter");
        c.put("transforms.route.regex", "([^.]+)\\.([^.]+)\\.([^.]+)");
        c.put("transforms.route.replacement", "$1.$2.$3");
        c.put("lab.table.rows", "5");
        c.put("lab.events.per.second", "0");
        return c;
    }

    /** The journal's update_ct_config_to_v3_matching_topic_prefix_to_server_name (+ the lab's server id). */
    public static Map<String, Object> migrateCt(Map<String, Object> v1) {
        Map<String, Object> c = new LinkedHashMap<>(v1);
        c.put("topic.prefix", c.remove("database.server.name"));
        c.remove("acks");
        c.put("schema.history.internal.kafka.topic", c.remove("database.history.kafka.topic"));
        c.put("schema.history.internal.kafka.bootstrap.servers", c.remove("database.history.kafka.bootstrap.servers"));
        c.remove("database.history.store.only.captured.tables.ddl");
        c.put("schema.history.internal.store.only.captured.tables.ddl", "true");
        c.put("database.server.id", "12332101");
        return c;
    }

    public static Map<String, Object> obj(HttpJson.Result r) { return Json.asObject(r.json()); }
}
