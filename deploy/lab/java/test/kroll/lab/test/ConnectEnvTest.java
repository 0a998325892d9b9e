package kroll.lab.test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** The Connect entrypoint's env handling per image version (journal: HEAP_OPTS and unprefixed names). */
public class ConnectEnvTest {
    /** The journal's 7.1-era stack: unprefixed names, HEAP_OPTS, no CONNECT_REST_ADVERTISED_HOST_NAME. */
    private static Map<String, String> journalEnv(Path clusterDir, int port) {
        Map<String, String> env = new HashMap<>();
        env.put("GROUP_ID", "connect");
        env.put("CONFIG_STORAGE_TOPIC", "connect-configs");
        env.put("OFFSET_STORAGE_TOPIC", "connect-offsets");
        env.put("STATUS_STORAGE_TOPIC", "connect-statuses");
        env.put("CONFIG_STORAGE_REPLICATION_FACTOR", "3");
        env.put("BOOTSTRAP_SERVERS", "127.0.0.1:1");
        env.put("KEY_CONVERTER", "io.confluent.connect.avro.AvroConverter");
        env.put("VALUE_CONVERTER", "io.confluent.connect.avro.AvroConverter");
        env.put("CONNECT_KEY_CONVERTER_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1");
        env.put("CONNECT_VALUE_CONVERTER_SCHEMA_REGISTRY_URL", "http://127.0.0.1:1");
        env.put("HEAP_OPTS", "-Xmx96m -Xms96m");
        env.put("ADVERTISED_HOST_NAME", "127.0.0.1");
        env.put("CONNECT_LISTENERS", "http://127.0.0.1:" + port);
        env.put("CONNECT_LAB_CLUSTER_DIR", clusterDir.toString());
        env.put("CONNECT_LAB_KAFKA_REQUIRED", "false");
        return env;
    }

    private static String cmdline(Service s) throws Exception {
        byte[] b = Files.readAllBytes(Path.of("/proc/" + s.process.pid() + "/cmdline"));
        return new String(b, StandardCharsets.UTF_8).replace('\0', ' ');
    }

    public void testInHouse711AcceptsJournalNamesAndHonoursHeapOpts() throws Exception {
        try (LabHome lab = new LabHome("7.1.1")) {
            int port = LabHome.freePort();
            Service w = Lab.worker(lab, "w71", journalEnv(lab.dir("cluster"), port));
            String cmd = cmdline(w);
            Check.contains(cmd, "-Xmx96m", "HEAP_OPTS honoured by the in-house 7.1.1 image");
            Check.ok(!cmd.contains("-Xmx2G"), "no default heap: " + cmd);
            Check.eq("7.1.1-ccs", Lab.obj(w.call("GET", "/", null)).get("version"), "version from /opt/lab/VERSION");
            String props = Files.readString(lab.root.resolve("tmp-w71/lab-conf/connect-distributed.properties"));
            Check.contains(props, "rest.advertised.host.name=127.0.0.1", "ADVERTISED_HOST_NAME mapped");
            Check.contains(props, "config.storage.replication.factor=3", "unprefixed names mapped");
        }
    }

    public void test771RefusesJournalNames() throws Exception {
        try (LabHome lab = new LabHome("7.7.1")) {
            Service w = Service.start(lab, "w77", "connect.sh", journalEnv(lab.dir("cluster"), LabHome.freePort()), 0);
            Check.eq(1, w.awaitExit(10_000), "exit code");
            Check.contains(w.logText(), "CONNECT_BOOTSTRAP_SERVERS is required.", "message");
        }
    }

    public void test771IgnoresHeapOptsAndRestPort() throws Exception {
        try (LabHome lab = new LabHome("7.7.1")) {
            int port = LabHome.freePort();
            Map<String, String> env = Lab.workerEnv(lab.dir("cluster"), port, "http://127.0.0.1:1", null);
            env.remove("KAFKA_HEAP_OPTS");
            env.put("HEAP_OPTS", "-Xmx96m -Xms96m");
            env.put("CONNECT_REST_PORT", "8083");
            env.put("CONNECT_LAB_SOME__ODD___NAME", "x");
            Service w = Lab.worker(lab, "w77", env);
            String cmd = cmdline(w);
            Check.contains(cmd, "-Xms256M -Xmx2G", "Confluent's default heap (HEAP_OPTS is ignored)");
            Check.ok(!cmd.contains("-Xmx96m"), "HEAP_OPTS must not reach the JVM: " + cmd);
            Check.contains(w.logText(), "The configuration 'rest.port' was supplied but isn't a known config", "rest.port warning");
            String props = Files.readString(lab.root.resolve("tmp-w77/lab-conf/connect-distributed.properties"));
            Check.contains(props, "lab.some_odd-name=x", "__ -> _ and ___ -> -");
            Path perf = Path.of("/tmp/hsperfdata_" + System.getProperty("user.name"), String.valueOf(w.process.pid()));
            Check.ok(Files.exists(perf), "hsperfdata published for the agent: " + perf);
            Check.eq("7.7.1-ccs", Lab.obj(w.call("GET", "/", null)).get("version"), "version");
        }
    }
}
