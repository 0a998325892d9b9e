package kroll.lab.connect.debezium;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import kroll.lab.avro.Schema;
import kroll.lab.common.Json;
import kroll.lab.connect.ConfigIssue;
import kroll.lab.connect.Converters;
import kroll.lab.connect.LabException;
import kroll.lab.connect.RegexRouter;
import kroll.lab.connect.SourceSender;
import kroll.lab.connect.TaskHost;
import kroll.lab.connect.WorkerTask;
import kroll.lab.kafka.KafkaClient;

/**
 * The simulated Debezium MySQL task. A reader thread ({@code blc-<host>:<port>}, like Debezium's
 * binlog client) snapshots the simulated tables and then follows the simulated binlog into a
 * bounded change queue; the task thread polls batches, converts them (Avro + Schema Registry),
 * produces them and commits source offsets keyed {@code {"server": <prefix>}} every
 * {@code offset.flush.interval.ms}. A stalled producer lets the queue — and the heap — fill up to
 * {@code max.queue.size} records of {@code lab.record.bytes} each.
 */
public final class MySqlSourceTask extends WorkerTask {
    private static final String BINLOG_FILE = "mysql-bin.000001";

    /** One queued change: a data row event or a schema-history DDL record. */
    static final class Change {
        final boolean history;
        final int table;
        final long id;
        final String op;
        final String snapshot;
        final long pos;
        final String note;
        final Map<String, Object> offset;
        final long seq;

        Change(boolean history, int table, long id, String op, String snapshot, long pos, String note, Map<String, Object> offset, long seq) {
            this.history = history;
            this.table = table;
            this.id = id;
            this.op = op;
            this.snapshot = snapshot;
            this.pos = pos;
            this.note = note;
            this.offset = offset;
            this.seq = seq;
        }
    }

    private final boolean v3;
    private final String debeziumVersion;
    private MySqlConfig cfg;
    private ChangeQueue<Change> queue;
    private Thread reader;
    private Map<String, Object> partition;
    private final List<Schema> keySchemas = new ArrayList<>();
    private final List<Schema> valueSchemas = new ArrayList<>();

    public MySqlSourceTask(TaskHost host, String connector, int id, Map<String, String> config) {
        super(host, connector, id, config);
        this.v3 = host.worker().debezium3();
        this.debeziumVersion = host.worker().debeziumVersion();
    }

    @Override
    protected void execute() throws Exception {
        List<String> problems = new ArrayList<>();
        for (ConfigIssue i : MySqlConfig.validate(config, v3)) problems.addAll(i.errors);
        if (!problems.isEmpty()) {
            for (String p : problems) log.error(p);
            throw LabException.connect("Error configuring an instance of MySqlConnectorTask; check the logs for details",
                    new LabException("io.debezium.DebeziumException", String.join("; ", problems)));
        }
        cfg = new MySqlConfig(config, v3);
        Converters.Converter keyConv = Converters.create(true, config, host.worker());
        Converters.Converter valueConv = Converters.create(false, config, host.worker());
        RegexRouter router = new RegexRouter(config);
        for (String[] t : cfg.tables) {
            keySchemas.add(DebeziumSchemas.key(cfg.prefix, t[0], t[1], cfg.nameMode));
            valueSchemas.add(DebeziumSchemas.envelope(cfg.prefix, t[0], t[1], cfg.nameMode, v3));
        }
        partition = Json.obj("server", cfg.prefix);
        SimDatabase db = new SimDatabase(cfg.tables, cfg.tableRows, host.databaseEpoch(), cfg.eventsPerSecond);
        Map<String, Object> stored = host.readOffset(partition);
        boolean snapshot;
        long start;
        if (stored == null || Boolean.TRUE.equals(stored.get("snapshot"))) {
            snapshot = cfg.snapshotsData();
            start = cfg.snapshotMode.equals("never") ? 0 : db.head(System.currentTimeMillis());
            log.info(stored == null ? "No previous offsets found for " + partition : "Previous snapshot was incomplete for " + partition);
        } else {
            snapshot = false;
            start = ((Number) stored.get("pos")).longValue();
            log.info("Found previous offset " + Json.write(stored) + " for " + partition + "; resuming the binlog");
        }
        KafkaClient kafka = host.kafka("connector-producer-" + connector + "-" + id);
        SourceSender sender = new SourceSender(this, kafka, config, host.worker(), log);
        queue = new ChangeQueue<>(cfg.maxQueue, cfg.maxQueueBytes);
        sender.abortWhen(queue::failure);
        KafkaClient historyKafka = host.kafka(connector + "-schemahistory");
        SourceSender historySender = new SourceSender(this, historyKafka, Map.of(), host.worker(), log);
        java.util.concurrent.LinkedBlockingQueue<SourceSender.Out> history = new java.util.concurrent.LinkedBlockingQueue<>();
        Thread historyThread = new Thread(() -> {
            try {
                while (!stopping()) {
                    SourceSender.Out o = history.poll(200, java.util.concurrent.TimeUnit.MILLISECONDS);
                    if (o != null && !historySender.send(List.of(o))) return;
                }
            } catch (InterruptedException e) {
                // stopping
            } catch (RuntimeException e) {
                log.error("schema history producer failed", e);
            }
        }, "debezium-schema-history-" + cfg.prefix);
        historyThread.setDaemon(true);
        historyThread.start();
        host.status("RUNNING", null);
        log.info("Debezium " + debeziumVersion + " MySQL task for " + cfg.prefix + " starting at binlog position " + start
                + (snapshot ? " after a snapshot" : ""));
        final boolean doSnapshot = snapshot;
        final long startPos = start;
        reader = new Thread(() -> read(db, doSnapshot, startPos), "blc-" + cfg.hostname + ":" + cfg.port);
        reader.setDaemon(true);
        reader.start();

        long flushMs = host.worker().offsetFlushMs;
        long lastFlush = System.currentTimeMillis();
        Map<String, Object> acked = null;
        Map<String, Object> flushed = null;
        try {
            while (!stopping()) {
                if (!awaitUnpaused()) break;
                List<Change> batch = queue.poll(cfg.maxBatch, cfg.pollIntervalMs);
                if (!batch.isEmpty()) {
                    List<SourceSender.Out> out = new ArrayList<>(batch.size());
                    Map<String, Object> last = null;
                    long now = System.currentTimeMillis();
                    for (Change c : batch) {
                        SourceSender.Out o = convert(c, now, router, keyConv, valueConv);
                        if (c.history) {
                            history.add(o);
                        } else {
                            out.add(o);
                            last = c.offset;
                        }
                    }
                    if (!sender.send(out)) break;
                    if (last != null) acked = last;
                }
                if (acked != null && acked != flushed && System.currentTimeMillis() - lastFlush >= flushMs) {
                    host.writeOffset(partition, acked);
                    flushed = acked;
                    lastFlush = System.currentTimeMillis();
                }
            }
        } finally {
            if (acked != null && acked != flushed) {
                host.writeOffset(partition, acked); // Connect commits offsets when a task stops
            }
            queue.close();
            historyThread.interrupt();
            kafka.close();
            historyKafka.close();
        }
    }

    @Override
    protected void onStop() {
        if (queue != null) queue.close();
        if (reader != null) reader.interrupt();
    }

    private Map<String, Object> offset(long pos, boolean snapshotRecord) {
        Map<String, Object> o = Json.obj("ts_sec", System.currentTimeMillis() / 1000, "file", BINLOG_FILE, "pos", pos);
        if (snapshotRecord) o.put("snapshot", true);
        return o;
    }

    /** The binlog client: snapshot, then follow the simulated binlog. Runs until the queue closes. */
    private void read(SimDatabase db, boolean snapshot, long start) {
        try {
            long pos = start;
            if (snapshot) {
                for (int t = 0; t < cfg.tables.size(); t++) {
                    if (cfg.historyTopic != null) {
                        if (!queue.put(new Change(true, t, 0, "ddl", "true", pos, null, offset(pos, true), 0), 512)) return;
                    }
                }
                long total = 0;
                for (int t = 0; t < cfg.tables.size(); t++) total += db.rows(t, pos);
                long n = 0;
                for (int t = 0; t < cfg.tables.size(); t++) {
                    long rows = db.rows(t, pos);
                    for (long rid = 1; rid <= rows; rid++) {
                        n++;
                        boolean last = n == total;
                        Change c = new Change(false, t, rid, "r", last ? "last" : "true", pos, note(), offset(pos, !last), 0);
                        if (!queue.put(c, size(c))) return;
                    }
                }
                log.info("Snapshot of " + total + " rows in " + cfg.tables.size() + " table(s) completed");
                if (cfg.snapshotMode.equals("initial_only")) return;
            }
            while (!Thread.currentThread().isInterrupted()) {
                long head = db.head(System.currentTimeMillis());
                while (pos < head) {
                    SimDatabase.Event e = db.event(pos);
                    Change c = new Change(false, e.table, e.id, e.update ? "u" : "c", "false", pos, note(), offset(pos + 1, false), e.seq);
                    if (!queue.put(c, size(c))) return;
                    pos++;
                }
                Thread.sleep(cfg.eventsPerSecond > 0 ? Math.max(20, Math.min(1000, (long) (1000 / cfg.eventsPerSecond))) : 1000);
            }
        } catch (InterruptedException e) {
            // stopping
        } catch (Throwable t) {
            queue.fail(t);
            if (t instanceof Error) throw (Error) t; // printed like any uncaught error: Exception in thread "blc-…"
        }
    }

    /** A fresh value for the padding column (a distinct allocation per row, like real row data). */
    private String note() {
        if (cfg.recordBytes <= 0) return null;
        char[] c = new char[cfg.recordBytes];
        java.util.Arrays.fill(c, 'x');
        return new String(c);
    }

    private static long size(Change c) { return 200 + (c.note == null ? 0 : c.note.length()); }

    private Map<String, Object> row(Change c, String status, boolean withNote) {
        Object weight = v3 ? (Object) Float.valueOf((c.id % 1000) / 10f) : (Object) Double.valueOf((c.id % 1000) / 10.0);
        return Json.obj("id", c.id, "order_id", c.id * 31 + 7, "status", status, "weight", weight, "note", withNote ? c.note : null);
    }

    private SourceSender.Out convert(Change c, long now, RegexRouter router, Converters.Converter keyConv, Converters.Converter valueConv) {
        String[] t = cfg.tables.get(c.table);
        if (c.history) {
            String ddl = "CREATE TABLE `" + t[1] + "` (`id` bigint NOT NULL, `order_id` bigint NOT NULL, `status` varchar(64), "
                    + "`weight` float, `note` text, PRIMARY KEY (`id`))";
            Map<String, Object> v = Json.obj("source", Json.obj("server", cfg.prefix), "position", c.offset, "ts_ms", now,
                    "databaseName", t[0], "ddl", ddl, "tableChanges", List.of());
            return new SourceSender.Out(cfg.historyTopic, null, Json.write(v).getBytes(StandardCharsets.UTF_8), now, 0);
        }
        String topic = router.route(cfg.prefix + "." + t[0] + "." + t[1]);
        Map<String, Object> source = new LinkedHashMap<>();
        source.put("version", debeziumVersion);
        source.put("connector", "mysql");
        source.put("name", cfg.prefix);
        source.put("ts_ms", now);
        source.put("snapshot", c.snapshot);
        source.put("db", t[0]);
        source.put("sequence", null);
        if (v3) {
            source.put("ts_us", now * 1000);
            source.put("ts_ns", now * 1_000_000);
        }
        source.put("table", t[1]);
        source.put("server_id", "r".equals(c.op) ? 0L : cfg.serverId);
        source.put("gtid", null);
        source.put("file", BINLOG_FILE);
        source.put("pos", c.pos);
        source.put("row", 0);
        source.put("thread", null);
        source.put("query", null);
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("before", "u".equals(c.op) ? row(c, "created", false) : null);
        value.put("after", row(c, "u".equals(c.op) ? "updated-" + c.seq : "created", true));
        value.put("source", source);
        value.put("op", c.op);
        value.put("ts_ms", now);
        value.put("transaction", null);
        if (v3) {
            value.put("ts_us", now * 1000);
            value.put("ts_ns", now * 1_000_000);
        }
        byte[] key = keyConv.fromConnectData(topic, keySchemas.get(c.table), Json.obj("id", c.id));
        byte[] val = valueConv.fromConnectData(topic, valueSchemas.get(c.table), value);
        return new SourceSender.Out(topic, key, val, now, null);
    }
}
