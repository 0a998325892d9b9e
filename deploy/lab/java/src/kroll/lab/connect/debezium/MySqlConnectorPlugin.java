package kroll.lab.connect.debezium;

import java.util.List;
import java.util.Map;
import kroll.lab.connect.ConfigIssue;
import kroll.lab.connect.ConnectorPlugin;
import kroll.lab.connect.TaskHost;
import kroll.lab.connect.WorkerConfig;
import kroll.lab.connect.WorkerTask;

/** {@code io.debezium.connector.mysql.MySqlConnector}: Debezium 1.9 on 7.1 images, 3.0 on 7.5+. One task. */
public final class MySqlConnectorPlugin implements ConnectorPlugin {
    @Override
    public String className() { return "io.debezium.connector.mysql.MySqlConnector"; }

    @Override
    public String type() { return "source"; }

    @Override
    public String version(WorkerConfig worker) { return worker.debeziumVersion(); }

    @Override
    public List<ConfigIssue> validate(Map<String, String> config, WorkerConfig worker) {
        return MySqlConfig.validate(config, worker.debezium3());
    }

    @Override
    public int taskCount(Map<String, String> config) { return 1; }

    @Override
    public WorkerTask newTask(TaskHost host, String connector, int id, Map<String, String> config) {
        return new MySqlSourceTask(host, connector, id, config);
    }
}
