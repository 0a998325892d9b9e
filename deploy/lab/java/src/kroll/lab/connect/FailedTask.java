package kroll.lab.connect;

import java.util.Map;

/**
 * A task whose configuration could not be made (a config provider's file unreadable): like
 * Connect's, it fails when it starts (after a resume if created paused), with the cause as its
 * trace.
 */
final class FailedTask extends WorkerTask {
    private final LabException cause;

    FailedTask(TaskHost host, String connector, int id, Map<String, String> config, LabException cause) {
        super(host, connector, id, config);
        this.cause = cause;
    }

    @Override
    protected void execute() {
        throw LabException.connect("Failed to start task " + connector + "-" + id, cause);
    }
}
