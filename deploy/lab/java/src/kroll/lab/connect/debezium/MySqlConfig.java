package kroll.lab.connect.debezium;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import kroll.lab.connect.ConfigIssue;

/**
 * The Debezium MySQL connector's configuration as 1.9 or 3.0 reads it. Validation reproduces
 * what breaks when a 1.9 config meets 3.0: {@code topic.prefix}, {@code database.server.id} and
 * {@code schema.history.internal.kafka.*} are required there, and the 1.9 names
 * ({@code database.server.name}, {@code database.history.*}, {@code *.whitelist}) are not read.
 */
public final class MySqlConfig {
    static final Set<String> SNAPSHOT_19 = Set.of("initial", "initial_only", "when_needed", "never", "schema_only", "schema_only_recovery");
    static final Set<String> SNAPSHOT_30 = Set.of("initial", "initial_only", "when_needed", "never", "no_data", "schema_only",
            "recovery", "schema_only_recovery", "configuration_based", "custom");

    public final boolean v3;
    public final String prefix;
    public final List<String[]> tables = new ArrayList<>();
    public final long serverId;
    public final String snapshotMode;
    public final SchemaNames.Mode nameMode;
    public final String hostname;
    public final String port;
    public final String historyTopic;
    public final int maxQueue;
    public final int maxBatch;
    public final long maxQueueBytes;
    public final long pollIntervalMs;
    public final double eventsPerSecond;
    public final int tableRows;
    public final int recordBytes;

    static String required(boolean present) { return present ? null : "A value is required"; }

    static String invalid(String key, String why) { return "The '" + key + "' value is invalid: " + why; }

    private static boolean blank(String s) { return s == null || s.isBlank(); }

    /** Per-key results of Debezium's validation for this version. */
    public static List<ConfigIssue> validate(Map<String, String> c, boolean v3) {
        List<ConfigIssue> out = new ArrayList<>();
        String group = "Connector";
        String[] requiredKeys = v3
                ? new String[] {"database.hostname", "database.user", "topic.prefix", "database.server.id",
                    "schema.history.internal.kafka.topic", "schema.history.internal.kafka.bootstrap.servers"}
                : new String[] {"database.hostname", "database.user", "database.server.name",
                    "database.history.kafka.topic", "database.history.kafka.bootstrap.servers"};
        for (String k : requiredKeys) {
            ConfigIssue i = new ConfigIssue(k, c.get(k), true, k.startsWith("database.history") || k.startsWith("schema.history") ? "History Storage" : group);
            if (blank(c.get(k))) i.error(invalid(k, "A value is required"));
            out.add(i);
        }
        String prefixKey = v3 ? "topic.prefix" : "database.server.name";
        String prefix = c.get(prefixKey);
        if (!blank(prefix) && !prefix.matches("[a-zA-Z0-9._-]+")) {
            find(out, prefixKey).error(invalid(prefixKey, prefix + " has invalid format (only the underscore, hyphen, dot and alphanumeric characters are allowed)"));
        }
        String sid = c.get("database.server.id");
        if (!blank(sid)) {
            try {
                Long.parseLong(sid.trim());
            } catch (NumberFormatException e) {
                ConfigIssue i = find(out, "database.server.id");
                if (i == null) {
                    i = new ConfigIssue("database.server.id", sid, false, group);
                    out.add(i);
                }
                i.error(invalid("database.server.id", "Not a number of type LONG"));
            }
        }
        String mode = c.get("snapshot.mode");
        ConfigIssue sm = new ConfigIssue("snapshot.mode", mode == null ? "initial" : mode, false, group);
        if (mode != null && !(v3 ? SNAPSHOT_30 : SNAPSHOT_19).contains(mode.toLowerCase())) {
            sm.error(invalid("snapshot.mode", "Value must be one of " + String.join(", ", v3 ? SNAPSHOT_30 : SNAPSHOT_19)));
        }
        out.add(sm);
        String adj = c.get("schema.name.adjustment.mode");
        ConfigIssue am = new ConfigIssue("schema.name.adjustment.mode", adj == null ? (v3 ? "none" : "avro") : adj, false, group);
        if (adj != null) {
            Set<String> ok = v3 ? Set.of("none", "avro", "avro_unicode") : Set.of("none", "avro");
            if (!ok.contains(adj.toLowerCase())) am.error(invalid("schema.name.adjustment.mode", "Value must be one of " + String.join(", ", ok)));
        }
        out.add(am);
        return out;
    }

    private static ConfigIssue find(List<ConfigIssue> l, String k) {
        for (ConfigIssue i : l) if (i.name.equals(k)) return i;
        return null;
    }

    /** Parses a config that passed {@link #validate}. */
    public MySqlConfig(Map<String, String> c, boolean v3) {
        this.v3 = v3;
        this.prefix = v3 ? c.get("topic.prefix") : c.get("database.server.name");
        String sid = c.get("database.server.id");
        this.serverId = blank(sid) ? 184054 : Long.parseLong(sid.trim());
        this.snapshotMode = c.getOrDefault("snapshot.mode", "initial").toLowerCase();
        this.nameMode = SchemaNames.Mode.parse(c.getOrDefault("schema.name.adjustment.mode", v3 ? "none" : "avro"));
        this.hostname = c.getOrDefault("database.hostname", "mysql");
        this.port = c.getOrDefault("database.port", "3306");
        this.historyTopic = v3 ? c.get("schema.history.internal.kafka.topic") : c.get("database.history.kafka.topic");
        String list = c.get("table.include.list");
        if (blank(list) && !v3) list = c.get("table.whitelist");
        if (blank(list) && v3) list = c.get("table.whitelist"); // 3.0 ignores it: all tables of the simulated DB are the same ones
        String dbs = c.get("database.include.list");
        if (blank(dbs) && !v3) dbs = c.get("database.whitelist");
        if (!blank(list)) {
            for (String t : list.split(",")) {
                t = t.trim().replace("\\.", ".");
                int dot = t.indexOf('.');
                if (dot > 0) tables.add(new String[] {t.substring(0, dot), t.substring(dot + 1)});
            }
        }
        if (tables.isEmpty()) tables.add(new String[] {blank(dbs) ? "lab" : dbs.split(",")[0].trim(), "items"});
        this.maxQueue = Integer.parseInt(c.getOrDefault("max.queue.size", "8192"));
        this.maxBatch = Integer.parseInt(c.getOrDefault("max.batch.size", "2048"));
        this.maxQueueBytes = Long.parseLong(c.getOrDefault("max.queue.size.in.bytes", "0"));
        this.pollIntervalMs = Long.parseLong(c.getOrDefault("poll.interval.ms", "500"));
        this.eventsPerSecond = Double.parseDouble(c.getOrDefault("lab.events.per.second", "1"));
        this.tableRows = Integer.parseInt(c.getOrDefault("lab.table.rows", "20"));
        this.recordBytes = Integer.parseInt(c.getOrDefault("lab.record.bytes", "0"));
    }

    public boolean snapshotsData() {
        return snapshotMode.equals("initial") || snapshotMode.equals("initial_only") || snapshotMode.equals("when_needed");
    }
}
