package kroll.lab.test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import kroll.lab.common.HttpJson;

/**
 * A lab service started the way its container starts it: {@code busybox sh <entrypoint>} with an
 * environment (and nothing inherited but PATH), output captured to a log file. Only this process
 * (and its descendants) are ever stopped.
 */
public final class Service implements AutoCloseable {
    public final String name;
    public final Process process;
    public final Path log;
    public final int port;

    private Service(String name, Process p, Path log, int port) {
        this.name = name;
        this.process = p;
        this.log = log;
        this.port = port;
    }

    public static Service start(LabHome lab, String name, String entrypoint, Map<String, String> env, int port) throws IOException {
        Path log = lab.root.resolve(name + ".log");
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/busybox", "sh", lab.home.resolve("bin").resolve(entrypoint).toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().clear();
        pb.environment().put("PATH", lab.path());
        pb.environment().put("TMPDIR", lab.dir("tmp-" + name).toString());
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        pb.redirectOutput(log.toFile());
        return lab.track(new Service(name, pb.start(), log, port));
    }

    public String url() { return "http://127.0.0.1:" + port; }

    public String logText() {
        try {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "<unreadable log: " + e + ">";
        }
    }

    public HttpJson.Result call(String method, String path, Object body) throws IOException {
        return HttpJson.call(method, url() + path, body, 10_000);
    }

    /** Waits until GET path answers (any status), failing early if the process dies. */
    public Service awaitHttp(String path, long timeoutMs) {
        Check.eventually(timeoutMs, name + " answers HTTP", () -> {
            if (!process.isAlive()) throw new AssertionError(name + " exited " + process.exitValue() + ":\n" + logText());
            try {
                HttpJson.call("GET", url() + path, null, 1000);
                return true;
            } catch (IOException e) {
                return false;
            }
        }, this::logText);
        return this;
    }

    public int awaitExit(long timeoutMs) throws InterruptedException {
        if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) throw new AssertionError(name + " did not exit:\n" + logText());
        return process.exitValue();
    }

    /** SIGTERM, then SIGKILL after a grace period; descendants too (all started by us). */
    public void stop(boolean hard) {
        if (!process.isAlive()) return;
        process.descendants().forEach(h -> { if (hard) h.destroyForcibly(); else h.destroy(); });
        if (hard) process.destroyForcibly(); else process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() { stop(true); }
}
