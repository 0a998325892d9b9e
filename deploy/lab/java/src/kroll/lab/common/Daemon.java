package kroll.lab.common;

import java.util.concurrent.CountDownLatch;

/** Process plumbing shared by the services' main classes. */
public final class Daemon {
    private Daemon() {}

    /** Prints the message like a failing image entrypoint would and exits non-zero. */
    public static void die(String msg) {
        System.err.println(msg);
        System.err.flush();
        System.exit(1);
    }

    /** Blocks the main thread until the JVM shuts down (SIGTERM/SIGINT run the hooks). */
    public static void parkForever(Runnable onShutdown) {
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                onShutdown.run();
            } finally {
                done.countDown();
            }
        }, "shutdown"));
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static Thread thread(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }
}
