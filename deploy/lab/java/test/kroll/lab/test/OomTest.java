package kroll.lab.test;

import java.util.List;
import java.util.Map;
import kroll.lab.common.Json;

/**
 * A worker pushed past a small -Xmx by a stalled producer (no broker) and a connector whose queue
 * (max.queue.size records of lab.record.bytes) does not fit: a real OutOfMemoryError.
 */
public class OomTest implements AutoCloseable {
    private final LabHome lab = new LabHome("7.7.1");

    public OomTest() throws Exception {}

    @Override
    public void close() throws Exception { lab.close(); }

    private Map<String, Object> heavyConnector() {
        Map<String, Object> cfg = Lab.migrateCt(Lab.ct19("heavy", "heavy", "receipts"));
        cfg.put("lab.table.rows", "2000");
        cfg.put("lab.record.bytes", "262144");
        cfg.put("max.queue.size", "8192");
        return cfg;
    }

    public void testQueuePastXmxThrowsRealOomAndTaskFails() throws Exception {
        Service sr = Lab.schemaRegistry(lab, "sr");
        Map<String, String> env = Lab.workerEnv(lab.dir("cluster"), LabHome.freePort(), sr.url(), null);
        env.put("KAFKA_HEAP_OPTS", "-Xmx64m");
        Service w = Lab.worker(lab, "w", env);
        Check.eq(201, w.call("POST", "/connectors", Json.obj("name", "heavy", "config", heavyConnector())).status, "create");
        Check.eventually(30_000, "OutOfMemoryError in the container log", () -> w.logText().contains("java.lang.OutOfMemoryError: Java heap space"), w::logText);
        // Which thread the allocation failure lands in is up to the JVM (the task's queue
        // filler, the herder, the history thread...): any thread's uncaught-error line counts.
        // The filler hands the error to the task (whose log line may come first) before it
        // rethrows it, so the JVM's line follows the first mention, not always at once.
        java.util.regex.Pattern uncaught = java.util.regex.Pattern.compile("Exception in thread \"[^\"]+\" java\\.lang\\.OutOfMemoryError: Java heap space");
        Check.eventually(10_000, "the JVM's uncaught-error line in the container log", () -> uncaught.matcher(w.logText()).find(), w::logText);
        Check.eventually(15_000, "task FAILED with the OOM trace", () -> {
            try {
                Map<String, Object> s = Lab.obj(w.call("GET", "/connectors/heavy/status", null));
                Map<String, Object> t = Json.asObject(Json.asList(s.get("tasks")).get(0));
                return "FAILED".equals(t.get("state")) && String.valueOf(t.get("trace")).contains("java.lang.OutOfMemoryError: Java heap space");
            } catch (Exception e) {
                return false;
            }
        });
        Check.ok(w.process.isAlive(), "without ExitOnOutOfMemoryError the worker limps on");
        Check.eq(200, w.call("GET", "/connectors", null).status, "REST still answers");
        Check.eq(List.of("heavy"), w.call("GET", "/connectors", null).json(), "connectors");
    }

    public void testExitOnOutOfMemoryErrorExits3() throws Exception {
        Service sr = Lab.schemaRegistry(lab, "sr");
        Map<String, String> env = Lab.workerEnv(lab.dir("cluster"), LabHome.freePort(), sr.url(), null);
        env.put("KAFKA_HEAP_OPTS", "-Xmx64m");
        env.put("KAFKA_OPTS", "-XX:+ExitOnOutOfMemoryError");
        Service w = Lab.worker(lab, "w", env);
        Check.eq(201, w.call("POST", "/connectors", Json.obj("name", "heavy", "config", heavyConnector())).status, "create");
        Check.eq(3, w.awaitExit(30_000), "exit code");
        Check.contains(w.logText(), "Terminating due to java.lang.OutOfMemoryError: Java heap space", "HotSpot's exit message");
    }
}
