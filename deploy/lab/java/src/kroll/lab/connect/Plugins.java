package kroll.lab.connect;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import kroll.lab.common.HttpError;
import kroll.lab.connect.debezium.MySqlConnectorPlugin;
import kroll.lab.connect.sink.JdbcSinkPlugin;

/** The connector plugins installed on the lab worker, and Connect's common config validation. */
public final class Plugins {
    private final Map<String, ConnectorPlugin> byClass = new LinkedHashMap<>();
    private final WorkerConfig worker;

    public Plugins(WorkerConfig worker) {
        this.worker = worker;
        add(new MySqlConnectorPlugin());
        add(new JdbcSinkPlugin());
    }

    private void add(ConnectorPlugin p) { byClass.put(p.className(), p); }

    public List<ConnectorPlugin> all() { return new ArrayList<>(byClass.values()); }

    /** By full or simple class name (Connect accepts both, and the "Connector"-less alias). */
    public ConnectorPlugin find(String cls) {
        if (cls == null) return null;
        ConnectorPlugin p = byClass.get(cls);
        if (p != null) return p;
        for (ConnectorPlugin q : byClass.values()) {
            String simple = q.className().substring(q.className().lastIndexOf('.') + 1);
            if (simple.equals(cls) || simple.equals(cls + "Connector")) return q;
        }
        return null;
    }

    public ConnectorPlugin require(String cls) {
        ConnectorPlugin p = find(cls);
        if (p == null) {
            List<String> names = new ArrayList<>(byClass.keySet());
            throw new HttpError(500, "Failed to find any class that implements Connector and which name matches " + cls
                    + ", available connectors are: " + names);
        }
        return p;
    }

    /** Connect's checks plus the plugin's; every key with its value and errors. */
    public List<ConfigIssue> validate(Map<String, String> config) {
        List<ConfigIssue> out = new ArrayList<>();
        String cls = config.get("connector.class");
        ConfigIssue c = new ConfigIssue("connector.class", cls, true, "Common");
        if (cls == null || cls.isEmpty()) c.error("Missing required configuration \"connector.class\" which has no default value.");
        out.add(c);
        ConfigIssue n = new ConfigIssue("name", config.get("name"), true, "Common");
        if (config.get("name") == null || config.get("name").isEmpty()) {
            n.error("Missing required configuration \"name\" which has no default value.");
        }
        out.add(n);
        String tm = config.get("tasks.max");
        ConfigIssue t = new ConfigIssue("tasks.max", tm == null ? "1" : tm, false, "Common");
        if (tm != null) {
            try {
                if (Integer.parseInt(tm.trim()) < 1) t.error("Invalid value " + tm + " for configuration tasks.max: Value must be at least 1");
            } catch (NumberFormatException e) {
                t.error("Invalid value " + tm + " for configuration tasks.max: Not a number of type INT");
            }
        }
        out.add(t);
        String transforms = config.get("transforms");
        if (transforms != null && !transforms.isBlank()) {
            for (String alias : transforms.split(",")) {
                alias = alias.trim();
                if (alias.isEmpty()) continue;
                String key = "transforms." + alias + ".type";
                ConfigIssue ti = new ConfigIssue(key, config.get(key), true, "Transforms: " + alias);
                if (config.get(key) == null) ti.error("Missing required configuration \"" + key + "\" which has no default value.");
                else if (RegexRouter.TYPE.equals(config.get(key))) {
                    String rk = "transforms." + alias + ".regex";
                    if (config.get(rk) == null) ti.error("Missing required configuration \"" + rk + "\" which has no default value.");
                }
                out.add(ti);
            }
        }
        ConnectorPlugin p = find(cls);
        if (p != null) out.addAll(p.validate(config, worker));
        else if (cls != null && !cls.isEmpty()) {
            c.error("Failed to find any class that implements Connector and which name matches " + cls);
        }
        return out;
    }

    public static int errorCount(List<ConfigIssue> issues) {
        int n = 0;
        for (ConfigIssue i : issues) n += i.errors.size();
        return n;
    }
}
