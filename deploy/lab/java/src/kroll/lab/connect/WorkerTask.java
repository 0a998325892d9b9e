package kroll.lab.connect;

import java.util.Map;
import kroll.lab.common.Log;

/**
 * A task running on this worker in its own thread ({@code task-thread-<connector>-<id>} like
 * Connect). Subclasses implement {@link #execute()}, checking {@link #stopping()} and
 * {@link #awaitUnpaused()}. A throw from execute() marks the task FAILED with the trace.
 */
public abstract class WorkerTask implements Runnable {
    protected final Log log;
    protected final TaskHost host;
    protected final String connector;
    protected final int id;
    protected final Map<String, String> config;
    private volatile boolean stopping;
    private volatile boolean paused;
    private Thread thread;

    protected WorkerTask(TaskHost host, String connector, int id, Map<String, String> config) {
        this.host = host;
        this.connector = connector;
        this.id = id;
        this.config = config;
        this.log = Log.get(getClass().getName() + "[" + connector + "-" + id + "]");
    }

    protected abstract void execute() throws Exception;

    /** Called on stop, from the herder's thread, to release blocking resources. */
    protected void onStop() {}

    /**
     * Starts the task's thread. Like Connect's {@code WorkerTask}, a task created paused reports
     * PAUSED and neither checks its configuration nor starts its work until it is resumed.
     */
    public final void start(boolean initiallyPaused) {
        paused = initiallyPaused;
        thread = new Thread(this, "task-thread-" + connector + "-" + id);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public final void run() {
        try {
            if (paused) {
                host.status("PAUSED", null);
                if (!awaitUnpaused()) return;
            }
            execute();
        } catch (InterruptedException e) {
            if (!stopping) fail(e);
        } catch (Throwable t) {
            if (!stopping) fail(t);
        }
    }

    protected void fail(Throwable t) {
        log.error("WorkerSourceTask{id=" + connector + "-" + id + "} Task threw an uncaught and unrecoverable exception. "
                + "Task is being killed and will not recover until manually restarted", t);
        host.status("FAILED", LabException.trace(t));
    }

    public final boolean stopping() { return stopping; }

    public final boolean paused() { return paused; }

    public final void setPaused(boolean p) {
        if (paused == p) return;
        paused = p;
        if (!stopping) host.status(p ? "PAUSED" : "RUNNING", null);
        synchronized (this) {
            notifyAll();
        }
    }

    /** Blocks while paused; returns false once stopping. */
    protected final boolean awaitUnpaused() throws InterruptedException {
        synchronized (this) {
            while (paused && !stopping) wait(200);
        }
        return !stopping;
    }

    /** Sleeps unless stopping; returns false once stopping. */
    protected final boolean pause(long ms) throws InterruptedException {
        long end = System.currentTimeMillis() + ms;
        synchronized (this) {
            while (!stopping) {
                long left = end - System.currentTimeMillis();
                if (left <= 0) return true;
                wait(Math.min(left, 200));
            }
        }
        return false;
    }

    /** Stops the task and waits (bounded) for its thread. */
    public final void stop(long waitMs) {
        stopping = true;
        synchronized (this) {
            notifyAll();
        }
        try {
            onStop();
        } catch (RuntimeException e) {
            log.warn("error while stopping: " + e);
        }
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(waitMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public final boolean alive() { return thread != null && thread.isAlive(); }
}
