package kroll.lab.connect;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import kroll.lab.common.HttpError;
import kroll.lab.common.HttpService;
import kroll.lab.common.HttpService.Request;
import kroll.lab.common.HttpService.Response;
import kroll.lab.common.Json;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.KafkaException;
import kroll.lab.kafka.TopicPartition;

/**
 * Kafka Connect's REST subset. Any worker answers for any connector by reading and changing the
 * shared cluster store (real Connect forwards writes to the leader). Version-dependent: stop and
 * offsets exist from Kafka 3.5 (Confluent 7.5) on; a 7.1 worker answers 404 like Kafka 3.1.
 */
public final class ConnectRest {
    private final WorkerConfig w;
    private final ClusterStore store;
    private final Plugins plugins;
    private final Herder herder;
    private final Supplier<String> clusterId;

    public ConnectRest(WorkerConfig w, ClusterStore store, Plugins plugins, Herder herder, Supplier<String> clusterId) {
        this.w = w;
        this.store = store;
        this.plugins = plugins;
        this.herder = herder;
        this.clusterId = clusterId;
    }

    public void install(HttpService http) {
        http.route("GET", "/", r -> Response.ok(Json.obj("version", w.version.platform + "-ccs",
                        "commit", commit(), "kafka_cluster_id", clusterId.get())))
            .route("GET", "/connectors", this::list)
            .route("POST", "/connectors", this::create)
            .route("GET", "/connectors/{n}", r -> Response.ok(info(r.param("n"), connector(store.read(), r.param("n")))))
            .route("DELETE", "/connectors/{n}", this::delete)
            .route("GET", "/connectors/{n}/config", r -> Response.ok(ClusterStore.config(connector(store.read(), r.param("n")))))
            .route("PUT", "/connectors/{n}/config", this::putConfig)
            .route("GET", "/connectors/{n}/status", r -> Response.ok(status(store.read(), r.param("n"))))
            .route("GET", "/connectors/{n}/tasks", this::tasks)
            .route("PUT", "/connectors/{n}/pause", r -> target(r.param("n"), "PAUSED"))
            .route("PUT", "/connectors/{n}/resume", r -> target(r.param("n"), "STARTED"))
            .route("POST", "/connectors/{n}/restart", this::restart)
            .route("POST", "/connectors/{n}/tasks/{t}/restart", this::restartTask)
            .route("GET", "/connectors/{n}/tasks/{t}/status", this::taskStatus)
            .route("GET", "/connector-plugins", r -> plugins())
            .route("PUT", "/connector-plugins/{cls}/config/validate", this::validate);
        if (w.supportsStop()) {
            http.route("PUT", "/connectors/{n}/stop", r -> target(r.param("n"), "STOPPED"))
                .route("GET", "/connectors/{n}/offsets", this::offsets);
        }
    }

    private String commit() {
        return String.format("%016x", (long) w.version.platform.hashCode() * 0x9E3779B97F4A7C15L);
    }

    static HttpError notFound(String n) { return new HttpError(404, "Connector " + n + " not found"); }

    private static Map<String, Object> connector(Map<String, Object> doc, String n) {
        Map<String, Object> c = ClusterStore.subOrNull(ClusterStore.sub(doc, "connectors"), n);
        if (c == null) throw notFound(n);
        return c;
    }

    private String type(Map<String, Object> c) {
        ConnectorPlugin p = plugins.find(ClusterStore.config(c).get("connector.class"));
        return p == null ? "unknown" : p.type();
    }

    private Map<String, Object> info(String n, Map<String, Object> c) {
        List<Object> tasks = new ArrayList<>();
        for (int i = 0; i < herder.taskCount(c); i++) tasks.add(Json.obj("connector", n, "task", i));
        return Json.obj("name", n, "config", ClusterStore.config(c), "tasks", tasks, "type", type(c));
    }

    private Map<String, Object> status(Map<String, Object> doc, String n) {
        Map<String, Object> c = connector(doc, n);
        Map<String, Object> s = ClusterStore.subOrNull(ClusterStore.sub(doc, "status"), n);
        Map<String, Object> assignment = ClusterStore.sub(doc, "assignment");
        Map<String, Object> conn = ClusterStore.subOrNull(s, "connector");
        if (conn == null) {
            Object owner = assignment.get(Herder.connectorItem(n));
            conn = Json.obj("state", "UNASSIGNED", "worker_id", owner == null ? w.workerId : owner);
        }
        List<Object> tasks = new ArrayList<>();
        Map<String, Object> ts = ClusterStore.subOrNull(s, "tasks");
        for (int i = 0; i < herder.taskCount(c); i++) {
            Map<String, Object> t = ClusterStore.subOrNull(ts, String.valueOf(i));
            Map<String, Object> out = Json.obj("id", i);
            if (t == null) {
                Object owner = assignment.get(Herder.taskItem(n, i));
                out.put("state", "UNASSIGNED");
                out.put("worker_id", owner == null ? w.workerId : owner);
            } else {
                out.putAll(t);
            }
            tasks.add(out);
        }
        return Json.obj("name", n, "connector", conn, "tasks", tasks, "type", type(c));
    }

    private Response list(Request r) {
        Map<String, Object> doc = store.read();
        Map<String, Object> cs = ClusterStore.sub(doc, "connectors");
        List<String> names = new ArrayList<>(new TreeMap<>(cs).keySet());
        String expand = r.query("expand");
        if (expand == null) return Response.ok(names);
        List<String> ex = Arrays.asList(expand.split(","));
        Map<String, Object> out = new LinkedHashMap<>();
        for (String n : names) {
            Map<String, Object> e = new LinkedHashMap<>();
            if (ex.contains("info")) e.put("info", info(n, Json.asObject(cs.get(n))));
            if (ex.contains("status")) e.put("status", status(doc, n));
            out.put(n, e);
        }
        return Response.ok(out);
    }

    private static Map<String, String> strings(Map<String, Object> m) {
        Map<String, String> out = new LinkedHashMap<>();
        if (m != null) for (Map.Entry<String, Object> e : m.entrySet()) out.put(e.getKey(), e.getValue() == null ? null : String.valueOf(e.getValue()));
        return out;
    }

    private void checkValid(Map<String, String> config) {
        plugins.require(config.get("connector.class")); // an unknown class reports like Connect does
        List<ConfigIssue> issues = plugins.validate(config);
        int n = Plugins.errorCount(issues);
        if (n == 0) return;
        StringBuilder b = new StringBuilder("Connector configuration is invalid and contains the following ").append(n).append(" error(s):\n");
        for (ConfigIssue i : issues) for (String e : i.errors) b.append(e).append('\n');
        b.append("You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`");
        throw new HttpError(400, b.toString());
    }

    private Response create(Request r) {
        Map<String, Object> body = r.jsonBody();
        Object name = body.get("name");
        if (!(name instanceof String) || ((String) name).isBlank()) throw new HttpError(400, "Connector name field must be specified");
        String n = ((String) name).trim();
        Map<String, String> config = strings(Json.asObject(body.get("config")));
        if (config.get("name") != null && !n.equals(config.get("name"))) {
            throw new HttpError(400, "Connector name configuration (" + config.get("name") + ") doesn't match connector name in the URL (" + n + ")");
        }
        config.put("name", n);
        checkValid(config);
        Map<String, Object> c = store.update(d -> {
            Map<String, Object> cs = ClusterStore.sub(d, "connectors");
            if (cs.containsKey(n)) return null;
            Map<String, Object> rec = Json.obj("config", config, "target", "STARTED", "config_gen", 1L, "created_ms", System.currentTimeMillis());
            cs.put(n, rec);
            ClusterStore.sub(d, "status").remove(n);
            return rec;
        });
        if (c == null) throw new HttpError(409, "Connector " + n + " already exists");
        Map<String, Object> out = info(n, c);
        out.put("tasks", List.of());
        return Response.json(201, out);
    }

    private Response putConfig(Request r) {
        String n = r.param("n");
        Map<String, String> config = strings(r.jsonBody());
        if (config.get("name") != null && !n.equals(config.get("name"))) {
            throw new HttpError(400, "Connector name configuration (" + config.get("name") + ") doesn't match connector name in the URL (" + n + ")");
        }
        config.put("name", n);
        checkValid(config);
        boolean[] created = new boolean[1];
        Map<String, Object> c = store.update(d -> {
            Map<String, Object> cs = ClusterStore.sub(d, "connectors");
            Map<String, Object> rec = ClusterStore.subOrNull(cs, n);
            if (rec == null) {
                created[0] = true;
                rec = Json.obj("config", config, "target", "STARTED", "config_gen", 1L, "created_ms", System.currentTimeMillis());
                cs.put(n, rec);
                ClusterStore.sub(d, "status").remove(n);
            } else {
                rec.put("config", config);
                rec.put("config_gen", ClusterStore.num(rec.get("config_gen"), 0) + 1);
            }
            return rec;
        });
        Map<String, Object> out = info(n, c);
        if (created[0]) out.put("tasks", List.of());
        return Response.json(created[0] ? 201 : 200, out);
    }

    private Response delete(Request r) {
        String n = r.param("n");
        boolean found = store.update(d -> {
            if (ClusterStore.sub(d, "connectors").remove(n) == null) return false;
            ClusterStore.sub(d, "status").remove(n);
            ClusterStore.sub(d, "assignment").keySet().removeIf(k -> k.equals(Herder.connectorItem(n)) || k.startsWith("task:" + n + ":"));
            return true;
        });
        if (!found) throw notFound(n);
        return Response.noContent();
    }

    private Response tasks(Request r) {
        String n = r.param("n");
        Map<String, Object> c = connector(store.read(), n);
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < herder.taskCount(c); i++) {
            out.add(Json.obj("id", Json.obj("connector", n, "task", i), "config", Herder.taskConfig(c, i)));
        }
        return Response.ok(out);
    }

    private Response taskStatus(Request r) {
        Map<String, Object> s = status(store.read(), r.param("n"));
        for (Object t : Json.asList(s.get("tasks"))) {
            if (String.valueOf(Json.asObject(t).get("id")).equals(r.param("t"))) return Response.ok(t);
        }
        throw new HttpError(404, "No status found for task " + r.param("n") + "-" + r.param("t"));
    }

    private Response target(String n, String target) {
        boolean found = store.update(d -> {
            Map<String, Object> c = ClusterStore.subOrNull(ClusterStore.sub(d, "connectors"), n);
            if (c == null) return false;
            c.put("target", target);
            if ("STOPPED".equals(target)) {
                // Like Connect (KIP-875): stopping writes an empty set of task configurations, so
                // a resume starts tasks generated from the connector's config at that time.
                c.put("task_configs", List.of());
                c.put("task_gen", ClusterStore.num(c.get("task_gen"), 0) + 1);
                Map<String, Object> s = ClusterStore.subOrNull(ClusterStore.sub(d, "status"), n);
                if (s != null) s.remove("tasks");
            }
            return true;
        });
        if (!found) throw notFound(n);
        return Response.json(202, null);
    }

    private Response restart(Request r) {
        String n = r.param("n");
        boolean includeTasks = r.queryFlag("includeTasks");
        boolean onlyFailed = r.queryFlag("onlyFailed");
        Map<String, Object> doc = store.update(d -> {
            Map<String, Object> c = ClusterStore.subOrNull(ClusterStore.sub(d, "connectors"), n);
            if (c == null) return null;
            Map<String, Object> s = ClusterStore.subOrNull(ClusterStore.sub(d, "status"), n);
            Map<String, Object> cs = ClusterStore.subOrNull(s, "connector");
            if (!onlyFailed || (cs != null && "FAILED".equals(cs.get("state")))) {
                c.put("connector_restarts", ClusterStore.num(c.get("connector_restarts"), 0) + 1);
                if (cs != null) cs.put("state", "RESTARTING");
            }
            if (includeTasks) {
                Map<String, Object> restarts = ClusterStore.sub(c, "task_restarts");
                Map<String, Object> ts = ClusterStore.subOrNull(s, "tasks");
                for (int i = 0; i < herder.taskCount(c); i++) {
                    Map<String, Object> t = ClusterStore.subOrNull(ts, String.valueOf(i));
                    if (onlyFailed && (t == null || !"FAILED".equals(t.get("state")))) continue;
                    restarts.put(String.valueOf(i), ClusterStore.num(restarts.get(String.valueOf(i)), 0) + 1);
                    if (t != null) {
                        t.put("state", "RESTARTING");
                        t.remove("trace");
                    }
                }
            }
            return d;
        });
        if (doc == null) throw notFound(n);
        if (!includeTasks && !onlyFailed) return Response.noContent();
        return Response.json(202, status(doc, n));
    }

    private Response restartTask(Request r) {
        String n = r.param("n");
        int t;
        try {
            t = Integer.parseInt(r.param("t"));
        } catch (NumberFormatException e) {
            throw new HttpError(404, "Unknown task " + n + "-" + r.param("t"));
        }
        String result = store.update(d -> {
            Map<String, Object> c = ClusterStore.subOrNull(ClusterStore.sub(d, "connectors"), n);
            if (c == null) return "connector";
            if (t < 0 || t >= herder.taskCount(c)) return "task";
            Map<String, Object> restarts = ClusterStore.sub(c, "task_restarts");
            restarts.put(String.valueOf(t), ClusterStore.num(restarts.get(String.valueOf(t)), 0) + 1);
            return "ok";
        });
        if ("connector".equals(result)) throw notFound(n);
        if ("task".equals(result)) throw new HttpError(404, "Unknown task " + n + "-" + t);
        return Response.noContent();
    }

    private Response plugins() {
        List<Object> out = new ArrayList<>();
        for (ConnectorPlugin p : plugins.all()) out.add(Json.obj("class", p.className(), "type", p.type(), "version", p.version(w)));
        return Response.ok(out);
    }

    private Response validate(Request r) {
        String cls = r.param("cls");
        Map<String, String> config = strings(r.jsonBody());
        ConnectorPlugin p = plugins.require(cls);
        String given = config.get("connector.class");
        if (given == null) config.put("connector.class", p.className());
        else if (plugins.find(given) != p) throw new HttpError(400, "Included connector type " + given + " does not match request type " + cls);
        List<ConfigIssue> issues = plugins.validate(config);
        List<String> groups = new ArrayList<>();
        List<Object> configs = new ArrayList<>();
        for (ConfigIssue i : issues) {
            if (!groups.contains(i.group)) groups.add(i.group);
            Map<String, Object> def = Json.obj("name", i.name, "type", "STRING", "required", i.required, "default_value", null,
                    "importance", "HIGH", "documentation", "", "group", i.group, "width", "MEDIUM", "display_name", i.name,
                    "dependents", List.of(), "order", configs.size() + 1);
            Map<String, Object> val = Json.obj("name", i.name, "value", i.value, "recommended_values", List.of(),
                    "errors", i.errors, "visible", true);
            configs.add(Json.obj("definition", def, "value", val));
        }
        return Response.ok(Json.obj("name", p.className(), "error_count", Plugins.errorCount(issues), "groups", groups, "configs", configs));
    }

    private Response offsets(Request r) {
        String n = r.param("n");
        Map<String, Object> doc = store.read();
        Map<String, Object> c = connector(doc, n);
        List<Object> out = new ArrayList<>();
        if ("sink".equals(type(c))) {
            Map<String, String> cfg = ClusterStore.config(c);
            try (KafkaClient k = new KafkaClient(w.bootstrap, "connect-offsets-" + w.workerId, 10_000)) {
                List<TopicPartition> tps = new ArrayList<>();
                Cluster cl = k.metadata(null, false);
                java.util.regex.Pattern re = cfg.get("topics.regex") == null ? null : java.util.regex.Pattern.compile(cfg.get("topics.regex"));
                List<String> topics = cfg.get("topics") == null ? List.of() : Arrays.asList(cfg.get("topics").split("\\s*,\\s*"));
                for (Cluster.Topic t : cl.topics.values()) {
                    if (!(topics.contains(t.name) || (re != null && re.matcher(t.name).matches()))) continue;
                    for (Cluster.Partition p : t.partitions) tps.add(new TopicPartition(t.name, p.partition));
                }
                tps.sort(null);
                for (Map.Entry<TopicPartition, Long> e : new TreeMap<>(k.committed("connect-" + n, tps)).entrySet()) {
                    if (e.getValue() < 0) continue;
                    out.add(Json.obj("partition", Json.obj("kafka_topic", e.getKey().topic, "kafka_partition", e.getKey().partition),
                            "offset", Json.obj("kafka_offset", e.getValue())));
                }
            } catch (KafkaException e) {
                throw new HttpError(500, "Failed to retrieve consumer group offsets for sink connector " + n + ": " + e.getMessage());
            }
        } else {
            List<Object> list = Json.asList(ClusterStore.sub(doc, "offsets").get(n));
            if (list != null) out.addAll(list);
        }
        return Response.ok(Json.obj("offsets", out));
    }
}
