package kroll.lab.test;

import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Assertions and deadline polling (no fixed sleeps as synchronisation). */
public final class Check {
    private Check() {}

    public static void eq(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> but was <" + actual + ">");
        }
    }

    public static void ne(Object a, Object b, String what) {
        if (Objects.equals(a, b)) throw new AssertionError(what + ": both were <" + a + ">");
    }

    public static void ok(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
    }

    public static void contains(String haystack, String needle, String what) {
        if (haystack == null || !haystack.contains(needle)) {
            throw new AssertionError(what + ": <" + needle + "> not found in <" + haystack + ">");
        }
    }

    public interface ThrowingRunnable {
        void run() throws Exception;
    }

    public static <T extends Throwable> T raises(Class<T> type, ThrowingRunnable r, String what) {
        try {
            r.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) return type.cast(t);
            throw new AssertionError(what + ": expected " + type.getSimpleName() + " but got " + t, t);
        }
        throw new AssertionError(what + ": expected " + type.getSimpleName() + " but nothing was thrown");
    }

    /** Polls until cond holds or the deadline passes; describes the last state on failure. */
    public static void eventually(long timeoutMs, String what, BooleanSupplier cond, Supplier<String> state) {
        long end = System.nanoTime() + timeoutMs * 1_000_000;
        long pause = 10;
        while (true) {
            try {
                if (cond.getAsBoolean()) return;
            } catch (RuntimeException e) {
                if (System.nanoTime() > end) throw new AssertionError(what + " (last error: " + e + ")", e);
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeoutMs + " ms waiting for: " + what
                        + (state == null ? "" : " (last state: " + state.get() + ")"));
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                throw new AssertionError("interrupted");
            }
            pause = Math.min(100, pause * 2);
        }
    }

    public static void eventually(long timeoutMs, String what, BooleanSupplier cond) { eventually(timeoutMs, what, cond, null); }
}
