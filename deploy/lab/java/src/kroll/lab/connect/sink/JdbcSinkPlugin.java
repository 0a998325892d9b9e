package kroll.lab.connect.sink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import kroll.lab.connect.ConfigIssue;
import kroll.lab.connect.ConnectorPlugin;
import kroll.lab.connect.TaskHost;
import kroll.lab.connect.WorkerConfig;
import kroll.lab.connect.WorkerTask;

/** A stand-in for {@code io.confluent.connect.jdbc.JdbcSinkConnector}: consumes by committing offsets. */
public final class JdbcSinkPlugin implements ConnectorPlugin {
    @Override
    public String className() { return "io.confluent.connect.jdbc.JdbcSinkConnector"; }

    @Override
    public String type() { return "sink"; }

    @Override
    public String version(WorkerConfig worker) { return "10.7.6"; }

    @Override
    public List<ConfigIssue> validate(Map<String, String> c, WorkerConfig worker) {
        List<ConfigIssue> out = new ArrayList<>();
        String topics = c.get("topics");
        String regex = c.get("topics.regex");
        ConfigIssue t = new ConfigIssue("topics", topics, false, "Common");
        ConfigIssue r = new ConfigIssue("topics.regex", regex, false, "Common");
        boolean hasT = topics != null && !topics.isBlank();
        boolean hasR = regex != null && !regex.isBlank();
        if (hasT && hasR) {
            t.error("topics and topics.regex are mutually exclusive options, but both are set.");
            r.error("topics and topics.regex are mutually exclusive options, but both are set.");
        } else if (!hasT && !hasR) {
            t.error("Must configure one of topics or topics.regex");
            r.error("Must configure one of topics or topics.regex");
        }
        out.add(t);
        out.add(r);
        ConfigIssue url = new ConfigIssue("connection.url", c.get("connection.url"), true, "Connection");
        if (c.get("connection.url") == null) url.error("Missing required configuration \"connection.url\" which has no default value.");
        out.add(url);
        return out;
    }

    @Override
    public int taskCount(Map<String, String> config) {
        return Math.max(1, Integer.parseInt(config.getOrDefault("tasks.max", "1").trim()));
    }

    @Override
    public WorkerTask newTask(TaskHost host, String connector, int id, Map<String, String> config) {
        return new SinkSimTask(host, connector, id, config);
    }
}
