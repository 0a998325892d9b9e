package kroll.lab.connect.debezium;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Debezium's ChangeEventQueue: the binlog reader puts, the task polls batches. Bounded by
 * {@code max.queue.size} records and, when non-zero, {@code max.queue.size.in.bytes}; a full queue
 * blocks the reader. A reader failure is handed to the poller.
 */
final class ChangeQueue<T> {
    private final ArrayDeque<T> items = new ArrayDeque<>();
    private final ArrayDeque<Long> sizes = new ArrayDeque<>();
    private final int maxItems;
    private final long maxBytes;
    private long bytes;
    private Throwable failure;
    private boolean closed;

    ChangeQueue(int maxItems, long maxBytes) {
        this.maxItems = Math.max(1, maxItems);
        this.maxBytes = maxBytes;
    }

    synchronized boolean put(T item, long size) throws InterruptedException {
        while (!closed && (items.size() >= maxItems || (maxBytes > 0 && bytes + size > maxBytes && !items.isEmpty()))) wait(200);
        if (closed) return false;
        items.add(item);
        sizes.add(size);
        bytes += size;
        notifyAll();
        return true;
    }

    /** Up to max items, waiting up to waitMs for the first; rethrows a reader failure. */
    synchronized List<T> poll(int max, long waitMs) throws InterruptedException {
        long end = System.currentTimeMillis() + waitMs;
        while (items.isEmpty() && failure == null && !closed) {
            long left = end - System.currentTimeMillis();
            if (left <= 0) break;
            wait(left);
        }
        RuntimeException f = failure();
        if (f != null) throw f;
        List<T> out = new ArrayList<>(Math.min(max, items.size()));
        while (out.size() < max && !items.isEmpty()) {
            out.add(items.poll());
            bytes -= sizes.poll();
        }
        notifyAll();
        return out;
    }

    /** The reader's failure as Debezium reports it to Connect, or null. */
    synchronized RuntimeException failure() {
        if (failure == null) return null;
        return new kroll.lab.connect.LabException("org.apache.kafka.connect.errors.ConnectException",
                "An exception occurred in the change event producer. This connector will be stopped.", failure);
    }

    synchronized void fail(Throwable t) {
        items.clear();
        sizes.clear();
        bytes = 0;
        failure = t;
        notifyAll();
    }

    synchronized void close() {
        closed = true;
        items.clear();
        sizes.clear();
        notifyAll();
    }

    synchronized int size() { return items.size(); }
}
