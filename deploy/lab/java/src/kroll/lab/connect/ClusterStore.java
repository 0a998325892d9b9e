package kroll.lab.connect;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import kroll.lab.common.Json;

/**
 * The Connect cluster's shared state. Real Connect keeps connector configs, source offsets and
 * statuses in three Kafka topics and coordinates workers through the group protocol; the lab keeps
 * the same information in one JSON document, {@code <lab.cluster.dir>/<group.id>/state.json}, on a
 * volume mounted into every worker, updated under an exclusive file lock (read, change, write to a
 * temp file, atomic rename). Readers without the lock always see a whole document.
 *
 * <p>Document members: {@code connectors} (name → config, target state, restart counters),
 * {@code offsets} (name → list of {partition, offset}), {@code status} (name → connector and task
 * states), {@code workers} (id → url, version, heartbeat), {@code assignment} (item → worker id),
 * {@code lost} (worker id → since when it is gone), {@code databases} (name → simulated DB epoch).
 */
public final class ClusterStore {
    private final Path dir;
    private final Path file;
    private final Path lockFile;
    private final String self;
    private final ReentrantLock local = new ReentrantLock();

    public ClusterStore(Path root, String groupId, String self) throws IOException {
        this.dir = root.resolve(groupId.replaceAll("[^A-Za-z0-9._-]", "_"));
        Files.createDirectories(dir);
        this.file = dir.resolve("state.json");
        this.lockFile = dir.resolve("lock");
        this.self = self.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    public Path dir() { return dir; }

    /** The current document (no lock; the file is always replaced atomically). */
    public Map<String, Object> read() {
        try {
            if (!Files.exists(file)) return empty();
            String text = Files.readString(file, StandardCharsets.UTF_8);
            return text.isBlank() ? empty() : Json.parseObject(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, Object> empty() { return new LinkedHashMap<>(); }

    /**
     * Applies a change under the cluster-wide lock and writes the result; returns f's result.
     * File channels are closed by a thread interrupt (task stop), so the interrupt status is set
     * aside for the duration and the update retried if an interrupt still lands mid-write.
     */
    public <T> T update(Function<Map<String, Object>, T> f) {
        boolean interrupted = Thread.interrupted();
        local.lock();
        try {
            for (int attempt = 1; ; attempt++) {
                try {
                    return updateOnce(f);
                } catch (java.nio.channels.ClosedByInterruptException e) {
                    interrupted |= Thread.interrupted();
                    if (attempt >= 3) throw new UncheckedIOException(e);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        } finally {
            local.unlock();
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private <T> T updateOnce(Function<Map<String, Object>, T> f) throws IOException {
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = ch.lock()) {
            Map<String, Object> doc = read();
            T out = f.apply(doc);
            Path tmp = dir.resolve("state.json.tmp-" + self);
            Files.writeString(tmp, Json.write(doc), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return out;
        }
    }

    // ---- document helpers ----

    /** The member map {@code name} of {@code m}, created if absent. */
    public static Map<String, Object> sub(Map<String, Object> m, String name) {
        Object v = m.get(name);
        if (v instanceof Map) return Json.asObject(v);
        Map<String, Object> n = new LinkedHashMap<>();
        m.put(name, n);
        return n;
    }

    public static Map<String, Object> subOrNull(Map<String, Object> m, String name) {
        return m == null ? null : Json.asObject(m.get(name));
    }

    public static long num(Object v, long def) { return v instanceof Number ? ((Number) v).longValue() : def; }

    /** A connector config as strings. */
    public static Map<String, String> config(Map<String, Object> connector) {
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, Object> c = subOrNull(connector, "config");
        if (c != null) for (Map.Entry<String, Object> e : c.entrySet()) out.put(e.getKey(), e.getValue() == null ? null : String.valueOf(e.getValue()));
        return out;
    }
}
