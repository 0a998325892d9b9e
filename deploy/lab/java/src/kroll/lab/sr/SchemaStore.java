package kroll.lab.sr;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import kroll.lab.common.Json;
import kroll.lab.common.Log;

/**
 * The registry's state: subjects, versions, schema ids, compatibility configs. Real Schema
 * Registry keeps it in the {@code _schemas} topic; the lab appends the same kind of events to
 * {@code <dataDir>/schemas.log} (one JSON object a line) and replays them at start.
 */
final class SchemaStore {
    private static final Log LOG = Log.get(SchemaStore.class);

    static final class Version {
        final int version;
        final int id;
        boolean deleted;

        Version(int version, int id) {
            this.version = version;
            this.id = id;
        }
    }

    static final class Subject {
        final List<Version> versions = new ArrayList<>();
        String compatibility;

        boolean live() {
            for (Version v : versions) if (!v.deleted) return true;
            return false;
        }

        Version latestLive() {
            for (int i = versions.size() - 1; i >= 0; i--) if (!versions.get(i).deleted) return versions.get(i);
            return null;
        }

        Version get(int n) {
            for (Version v : versions) if (v.version == n) return v;
            return null;
        }
    }

    final Map<Integer, String> schemaById = new HashMap<>();
    final Map<String, Integer> idBySchema = new HashMap<>();
    final Map<String, Subject> subjects = new TreeMap<>();
    String globalCompatibility;
    private int nextId = 1;
    private final Path log;
    private BufferedWriter out;

    SchemaStore(Path dataDir, String defaultCompatibility) throws IOException {
        this.globalCompatibility = defaultCompatibility;
        Files.createDirectories(dataDir);
        this.log = dataDir.resolve("schemas.log");
        int n = 0;
        if (Files.exists(log)) {
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                try {
                    apply(Json.parseObject(line));
                    n++;
                } catch (RuntimeException e) {
                    LOG.warn("skipping unreadable store record: " + line + " (" + e + ")");
                }
            }
        }
        out = Files.newBufferedWriter(log, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        LOG.info("Loaded " + n + " store records from " + log + "; " + subjects.size() + " subjects, " + schemaById.size() + " schemas");
    }

    private void apply(Map<String, Object> e) {
        String op = (String) e.get("op");
        String subject = (String) e.get("subject");
        switch (op) {
            case "register": {
                int id = ((Number) e.get("id")).intValue();
                String schema = (String) e.get("schema");
                schemaById.put(id, schema);
                idBySchema.put(schema, id);
                nextId = Math.max(nextId, id + 1);
                subjects.computeIfAbsent(subject, k -> new Subject()).versions.add(new Version(((Number) e.get("version")).intValue(), id));
                break;
            }
            case "soft_delete": {
                Version v = subjects.get(subject).get(((Number) e.get("version")).intValue());
                if (v != null) v.deleted = true;
                break;
            }
            case "hard_delete": {
                Subject s = subjects.get(subject);
                int vn = ((Number) e.get("version")).intValue();
                s.versions.removeIf(v -> v.version == vn);
                if (s.versions.isEmpty() && s.compatibility == null) subjects.remove(subject);
                break;
            }
            case "config": {
                String c = (String) e.get("compatibility");
                if (subject == null) globalCompatibility = c;
                else if (c != null) subjects.computeIfAbsent(subject, k -> new Subject()).compatibility = c;
                else {
                    Subject s = subjects.get(subject);
                    if (s != null) {
                        s.compatibility = null;
                        if (s.versions.isEmpty()) subjects.remove(subject);
                    }
                }
                break;
            }
            default: throw new IllegalArgumentException("unknown op " + op);
        }
    }

    /** Applies and durably records one event. */
    void record(Map<String, Object> e) throws IOException {
        apply(e);
        out.write(Json.write(e));
        out.newLine();
        out.flush();
    }

    int idFor(String canonical) {
        Integer id = idBySchema.get(canonical);
        return id != null ? id : nextId;
    }

    /** Whether any version (soft-deleted ones included) still points at the id. */
    boolean referenced(int id) {
        for (Subject s : subjects.values()) for (Version v : s.versions) if (v.id == id) return true;
        return false;
    }

    void close() throws IOException { out.close(); }
}
