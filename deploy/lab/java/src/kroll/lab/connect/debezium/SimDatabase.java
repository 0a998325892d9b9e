package kroll.lab.connect.debezium;

import java.util.List;

/**
 * The simulated MySQL database behind a connector: a deterministic binlog. Event {@code k}
 * (k = 0, 1, …) belongs to table {@code k % n}; a table's j-th event is an UPDATE when
 * {@code j % 4 == 3}, else an INSERT of the next id. Each table starts with {@code initialRows}
 * rows (ids 1..initialRows). The binlog head advances with wall-clock time at
 * {@code eventsPerSecond} from the database's epoch (the connector's creation), whether or not a
 * connector is reading — so a stopped connector comes back to a backlog.
 */
public final class SimDatabase {
    public static final class Event {
        public final long position;
        public final int table;
        public final long id;
        public final boolean update;
        public final long seq;

        Event(long position, int table, long id, boolean update, long seq) {
            this.position = position;
            this.table = table;
            this.id = id;
            this.update = update;
            this.seq = seq;
        }
    }

    private final int n;
    private final int initialRows;
    private final long epochMs;
    private final double eventsPerSecond;

    public SimDatabase(List<String[]> tables, int initialRows, long epochMs, double eventsPerSecond) {
        this.n = tables.size();
        this.initialRows = initialRows;
        this.epochMs = epochMs;
        this.eventsPerSecond = eventsPerSecond;
    }

    /** Events written so far (the next event's position). */
    public long head(long nowMs) {
        if (nowMs <= epochMs || eventsPerSecond <= 0) return 0;
        return (long) Math.floor((nowMs - epochMs) * eventsPerSecond / 1000.0);
    }

    private static long inserts(long c) { return c - c / 4; }

    /** Events of table t among positions [0, p). */
    private long count(int t, long p) { return p <= t ? 0 : (p - t - 1) / n + 1; }

    /** Rows of table t once the first p events are applied. */
    public long rows(int t, long p) { return initialRows + inserts(count(t, p)); }

    public Event event(long k) {
        int t = (int) (k % n);
        long j = k / n;
        if (j % 4 == 3) {
            long rows = rows(t, k);
            return new Event(k, t, 1 + Math.floorMod(j * 7919, rows), true, j);
        }
        return new Event(k, t, initialRows + inserts(j) + 1, false, j);
    }
}
