package kroll.lab.connect;

import java.util.List;
import java.util.Map;

/** A connector class the lab worker offers. */
public interface ConnectorPlugin {
    String className();

    /** "source" or "sink". */
    String type();

    String version(WorkerConfig worker);

    /** The connector's own validation (Connect's common checks are done by the worker). */
    List<ConfigIssue> validate(Map<String, String> config, WorkerConfig worker);

    int taskCount(Map<String, String> config);

    WorkerTask newTask(TaskHost host, String connector, int id, Map<String, String> config);
}
