package kroll.lab.test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;

/**
 * A real ZooKeeper (Debian's package, a host JVM) and lab brokers (the Rust binary) on loopback
 * ports, started the way the broker's own tests do. A missing binary is reported as a skip, which fails the run.
 */
public final class BrokerLab implements AutoCloseable {
    public static final Path BROKER_BIN = Path.of(System.getProperty("lab.broker.bin", "target/debug/kroll-lab-broker"));
    static final String ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

    private final LabHome lab;
    private final String kafkaVersion;
    private Process zk;
    public int zkPort;
    public final Map<Integer, Integer> ports = new LinkedHashMap<>();
    public final Map<Integer, Process> brokers = new LinkedHashMap<>();

    public static void requireAvailable() {
        if (!Files.isExecutable(BROKER_BIN)) throw new TestMain.Skip("lab broker binary not built: " + BROKER_BIN);
        if (!Files.exists(Path.of("/usr/share/java/zookeeper.jar"))) throw new TestMain.Skip("Debian package zookeeper not installed");
    }

    public BrokerLab(LabHome lab, String kafkaVersion, int n) throws Exception {
        requireAvailable();
        this.lab = lab;
        this.kafkaVersion = kafkaVersion;
        Files.writeString(lab.root.resolve("KAFKA_VERSION-" + kafkaVersion), kafkaVersion);
        Thread reaper = new Thread(this::killAll, "broker-lab-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
        try {
            startZk();
            for (int id = 1; id <= n; id++) {
                ports.put(id, LabHome.freePort());
                start(id);
            }
            awaitBrokers(n, 40_000);
        } catch (Throwable t) {
            killAll();
            throw t;
        }
    }

    /** Kills every process this lab started (also run if the test JVM is stopped). */
    private void killAll() {
        for (Process p : brokers.values()) p.destroyForcibly();
        if (zk != null) zk.destroyForcibly();
    }

    private void startZk() throws Exception {
        zkPort = LabHome.freePort();
        Path data = lab.dir("zk");
        ProcessBuilder pb = new ProcessBuilder("java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.admin.enableServer=false", "-cp", ZK_CLASSPATH, "org.apache.zookeeper.server.ZooKeeperServerMain",
                String.valueOf(zkPort), data.toString(), "500");
        pb.redirectErrorStream(true).redirectOutput(lab.root.resolve("zookeeper.log").toFile());
        zk = pb.start();
        Check.eventually(40_000, "ZooKeeper answers srvr", () -> srvr().contains("Mode: standalone"), () -> "zk alive=" + zk.isAlive());
    }

    private String srvr() {
        try (Socket s = new Socket("127.0.0.1", zkPort)) {
            s.setSoTimeout(2000);
            OutputStream o = s.getOutputStream();
            o.write("srvr".getBytes(StandardCharsets.US_ASCII));
            o.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return "";
        }
    }

    public String bootstrap() {
        List<String> out = new ArrayList<>();
        for (int p : ports.values()) out.add("127.0.0.1:" + p);
        return String.join(",", out);
    }

    public void start(int id) throws IOException {
        Path vf = lab.root.resolve("KAFKA_VERSION-" + kafkaVersion);
        ProcessBuilder pb = new ProcessBuilder(BROKER_BIN.toString(), "--version-file", vf.toString());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/bin:/bin");
        env.put("KAFKA_BROKER_ID", String.valueOf(id));
        env.put("KAFKA_ZOOKEEPER_CONNECT", "127.0.0.1:" + zkPort + "/kafka");
        env.put("KAFKA_LOG_DIRS", lab.dir("kafka-data-" + id).toString());
        env.put("KAFKA_ZOOKEEPER_SESSION_TIMEOUT_MS", "3000");
        env.put("KAFKA_REPLICA_LAG_TIME_MAX_MS", "2000");
        env.put("KAFKA_MIN_INSYNC_REPLICAS", "2");
        env.put("KAFKA_DEFAULT_REPLICATION_FACTOR", "3");
        env.put("KAFKA_NUM_PARTITIONS", "3");
        env.put("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3");
        env.put("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0");
        env.put("LAB_SHUTDOWN_DELAY_MS", "300");
        env.put("LAB_RECOVERY_BASE_MS", "1500");
        env.put("LAB_METADATA_REFRESH_MS", "500");
        String l = "PLAINTEXT://127.0.0.1:" + ports.get(id);
        env.put("KAFKA_LISTENERS", l);
        env.put("KAFKA_ADVERTISED_LISTENERS", l);
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(lab.root.resolve("broker-" + id + ".log").toFile()));
        brokers.put(id, pb.start());
    }

    public void stop(int id, boolean hard) throws InterruptedException {
        Process p = brokers.get(id);
        if (p == null || !p.isAlive()) return;
        if (hard) p.destroyForcibly(); else p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    public void awaitBrokers(int n, long ms) {
        try (KafkaClient k = new KafkaClient(bootstrap(), "lab-test", 5000)) {
            Check.eventually(ms, n + " brokers registered", () -> {
                try {
                    Cluster c = k.metadata(List.of(), false);
                    return c.brokers.size() == n && c.controllerId >= 0;
                } catch (RuntimeException e) {
                    k.invalidate(null);
                    return false;
                }
            }, this::logs);
        }
    }

    public String logs() {
        StringBuilder b = new StringBuilder();
        for (int id : ports.keySet()) {
            try {
                List<String> lines = Files.readAllLines(lab.root.resolve("broker-" + id + ".log"));
                b.append("\n--- broker ").append(id).append(" (last lines)\n");
                for (String s : lines.subList(Math.max(0, lines.size() - 8), lines.size())) b.append(s).append('\n');
            } catch (IOException e) {
                b.append("\n--- broker ").append(id).append(": no log");
            }
        }
        return b.toString();
    }

    @Override
    public void close() throws Exception {
        for (int id : brokers.keySet()) stop(id, true);
        if (zk != null) {
            zk.destroyForcibly();
            zk.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
