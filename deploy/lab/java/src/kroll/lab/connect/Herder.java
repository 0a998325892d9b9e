package kroll.lab.connect;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import kroll.lab.common.Json;
import kroll.lab.common.Log;
import kroll.lab.kafka.KafkaClient;

/**
 * The worker's part in the Connect cluster: heartbeats into the shared store, and — when it is
 * the leader (the longest-running live worker) — assigns connectors and tasks to live workers.
 * Like incremental cooperative rebalancing, the work of a worker that left stays assigned to it
 * for {@code scheduled.rebalance.max.delay.ms} (it may come back, e.g. a rolling restart) and then
 * moves to the least-loaded live worker. Every worker then runs what is assigned to it and writes
 * the statuses of what it runs.
 */
public final class Herder {
    private static final Log LOG = Log.get(Herder.class);

    private final WorkerConfig w;
    private final ClusterStore store;
    private final Plugins plugins;
    private final long joinedMs = System.currentTimeMillis();
    private final Map<String, Local> tasks = new HashMap<>();
    private final Map<String, String> connectorState = new HashMap<>();
    private final Map<String, Long> connectorRestarts = new HashMap<>();
    private volatile boolean running = true;
    private Thread loop;

    private static final class Local {
        final WorkerTask task;
        final long gen;
        final long restarts;

        Local(WorkerTask task, long gen, long restarts) {
            this.task = task;
            this.gen = gen;
            this.restarts = restarts;
        }
    }

    public Herder(WorkerConfig w, ClusterStore store, Plugins plugins) {
        this.w = w;
        this.store = store;
        this.plugins = plugins;
    }

    public static String connectorItem(String n) { return "connector:" + n; }

    public static String taskItem(String n, int i) { return "task:" + n + ":" + i; }

    public void start() {
        loop = new Thread(() -> {
            while (running) {
                try {
                    tick();
                } catch (Throwable t) {
                    LOG.error("herder tick failed", t);
                }
                try {
                    Thread.sleep(w.heartbeatMs);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "DistributedHerder-" + w.workerId);
        loop.setDaemon(true);
        loop.start();
    }

    // ---- membership and assignment (under the store lock) ----

    private boolean live(Map<String, Object> worker, long now) {
        return worker != null && !Boolean.TRUE.equals(worker.get("left"))
                && now - ClusterStore.num(worker.get("heartbeat_ms"), 0) <= w.sessionTimeoutMs;
    }

    private List<String> liveWorkers(Map<String, Object> doc, long now) {
        List<String> out = new ArrayList<>();
        Map<String, Object> workers = ClusterStore.sub(doc, "workers");
        for (Map.Entry<String, Object> e : workers.entrySet()) if (live(Json.asObject(e.getValue()), now)) out.add(e.getKey());
        out.sort((a, b) -> {
            long ja = ClusterStore.num(Json.asObject(workers.get(a)).get("joined_ms"), 0);
            long jb = ClusterStore.num(Json.asObject(workers.get(b)).get("joined_ms"), 0);
            return ja != jb ? Long.compare(ja, jb) : a.compareTo(b);
        });
        return out;
    }

    /**
     * How many tasks the connector has: the task configurations stored for it (like Connect's
     * config topic), not what its current connector config would produce.
     */
    public int taskCount(Map<String, Object> connector) {
        List<Object> configs = connector == null ? null : Json.asList(connector.get("task_configs"));
        return configs == null ? 0 : configs.size();
    }

    /** The stored configuration of task {@code i}. */
    public static Map<String, String> taskConfig(Map<String, Object> connector, int i) {
        Map<String, String> out = new LinkedHashMap<>();
        List<Object> configs = Json.asList(connector.get("task_configs"));
        if (configs == null || i >= configs.size()) return out;
        Map<String, Object> c = Json.asObject(configs.get(i));
        if (c != null) for (Map.Entry<String, Object> e : c.entrySet()) out.put(e.getKey(), e.getValue() == null ? null : String.valueOf(e.getValue()));
        return out;
    }

    /**
     * The task configurations a running connector generates from its connector config (Connect's
     * {@code Connector.taskConfigs} plus the worker's {@code task.class}).
     */
    private List<Object> generateTaskConfigs(ConnectorPlugin p, Map<String, String> config) {
        int n;
        try {
            n = p.taskCount(config);
        } catch (RuntimeException e) {
            n = 1;
        }
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Map<String, Object> t = new LinkedHashMap<>(config);
            t.put("task.class", config.getOrDefault("connector.class", "") + "Task");
            out.add(t);
        }
        return out;
    }

    /**
     * Like Connect's herder, a connector that runs (target STARTED) regenerates its task
     * configurations from its current config and stores them when they differ; a paused or
     * stopped connector does not (config changes made meanwhile reach the tasks only once it
     * runs again). Stored task configurations with a new generation restart the tasks.
     */
    private void reconfigureTasks(String name, ConnectorPlugin p, Map<String, Object> c) {
        long configGen = ClusterStore.num(c.get("config_gen"), 0);
        List<Object> generated = generateTaskConfigs(p, ClusterStore.config(c));
        if (generated.equals(c.get("task_configs"))) return; // maps compare entry by entry
        boolean written = store.update(d -> {
            Map<String, Object> now = ClusterStore.subOrNull(ClusterStore.sub(d, "connectors"), name);
            if (now == null || ClusterStore.num(now.get("config_gen"), 0) != configGen
                    || !"STARTED".equals(String.valueOf(now.getOrDefault("target", "STARTED")))) return false;
            now.put("task_configs", generated);
            now.put("task_gen", ClusterStore.num(now.get("task_gen"), 0) + 1);
            return true;
        });
        if (written) LOG.info("Wrote " + generated.size() + " task configuration(s) for connector " + name);
    }

    private void heartbeat(Map<String, Object> doc, long now) {
        Map<String, Object> me = ClusterStore.sub(ClusterStore.sub(doc, "workers"), w.workerId);
        me.put("url", w.advertisedScheme + "://" + w.advertisedHost + ":" + w.advertisedPort);
        me.put("version", w.version.platform);
        me.put("kafka_version", w.version.kafka);
        me.put("heartbeat_ms", now);
        me.put("joined_ms", joinedMs); // a restarted worker rejoins as the newest member
        me.put("left", false);
    }

    private void assign(Map<String, Object> doc, List<String> live, long now) {
        Map<String, Object> assignment = ClusterStore.sub(doc, "assignment");
        Map<String, Object> lost = ClusterStore.sub(doc, "lost");
        Map<String, Object> connectors = ClusterStore.sub(doc, "connectors");
        List<String> desired = new ArrayList<>();
        for (Map.Entry<String, Object> e : connectors.entrySet()) {
            desired.add(connectorItem(e.getKey()));
            int n = taskCount(Json.asObject(e.getValue()));
            for (int i = 0; i < n; i++) desired.add(taskItem(e.getKey(), i));
        }
        assignment.keySet().retainAll(desired);
        for (Object owner : assignment.values()) {
            String o = (String) owner;
            if (!live.contains(o) && !lost.containsKey(o)) {
                lost.put(o, now);
                LOG.info("Worker " + o + " left the group; its assignments wait up to " + w.rebalanceDelayMs + " ms for it to return");
            }
        }
        lost.keySet().removeIf(live::contains);
        if (live.isEmpty()) return;
        Map<String, Integer> load = new LinkedHashMap<>();
        for (String l : live) load.put(l, 0);
        for (Object owner : assignment.values()) load.computeIfPresent((String) owner, (k, v) -> v + 1);
        for (String item : desired) {
            String owner = (String) assignment.get(item);
            if (owner != null && live.contains(owner)) continue;
            if (owner != null && lost.containsKey(owner) && now - ClusterStore.num(lost.get(owner), now) < w.rebalanceDelayMs) continue;
            String best = null;
            for (Map.Entry<String, Integer> e : load.entrySet()) if (best == null || e.getValue() < load.get(best)) best = e.getKey();
            assignment.put(item, best);
            load.put(best, load.get(best) + 1);
            if (owner != null) LOG.info("Reassigning " + item + " from departed worker " + owner + " to " + best);
        }
        List<String> stillOwning = new ArrayList<>();
        for (Object o : assignment.values()) stillOwning.add((String) o);
        lost.keySet().removeIf(o -> !stillOwning.contains(o));
    }

    // ---- the loop ----

    void tick() {
        long now = System.currentTimeMillis();
        Map<String, Object> doc = store.update(d -> {
            heartbeat(d, now);
            List<String> live = liveWorkers(d, now);
            if (!live.isEmpty() && live.get(0).equals(w.workerId)) assign(d, live, now);
            return d;
        });
        reconcile(doc);
    }

    private synchronized void reconcile(Map<String, Object> doc) {
        if (!running) return;
        Map<String, Object> connectors = ClusterStore.sub(doc, "connectors");
        Map<String, Object> assignment = ClusterStore.sub(doc, "assignment");
        Map<String, Object> status = ClusterStore.sub(doc, "status");
        // connector instances
        for (Map.Entry<String, Object> e : assignment.entrySet()) {
            if (!w.workerId.equals(e.getValue()) || !e.getKey().startsWith("connector:")) continue;
            String name = e.getKey().substring("connector:".length());
            Map<String, Object> c = Json.asObject(connectors.get(name));
            if (c == null) continue;
            long restarts = ClusterStore.num(c.get("connector_restarts"), 0);
            Long seen = connectorRestarts.put(name, restarts);
            if (seen != null && seen != restarts) {
                LOG.info("Restarting connector " + name);
                connectorState.remove(name);
            }
            String cls = ClusterStore.config(c).get("connector.class");
            String state;
            String trace = null;
            if (plugins.find(cls) == null) {
                state = "FAILED";
                trace = LabException.trace(LabException.connect("Failed to find any class that implements Connector and which name matches "
                        + cls + ", available connectors are: " + plugins.all().stream().map(ConnectorPlugin::className).toList()));
            } else {
                String target = String.valueOf(c.getOrDefault("target", "STARTED"));
                if ("STOPPED".equals(target)) state = w.supportsStop() ? "STOPPED" : "PAUSED";
                else if ("PAUSED".equals(target)) state = "PAUSED";
                else {
                    state = "RUNNING";
                    reconfigureTasks(name, plugins.find(cls), c);
                }
            }
            String key = state + "@" + c.get("config_gen") + "@" + restarts;
            Map<String, Object> current = ClusterStore.subOrNull(ClusterStore.subOrNull(status, name), "connector");
            boolean mine = current != null && w.workerId.equals(current.get("worker_id")) && state.equals(current.get("state"));
            if (!key.equals(connectorState.get(name)) || !mine) {
                connectorState.put(name, key);
                setStatus(name, -1, state, trace);
            }
        }
        connectorState.keySet().removeIf(n -> !w.workerId.equals(assignment.get(connectorItem(n))));
        // tasks
        Map<String, Boolean> wanted = new HashMap<>();
        for (Map.Entry<String, Object> e : assignment.entrySet()) {
            if (!w.workerId.equals(e.getValue()) || !e.getKey().startsWith("task:")) continue;
            String rest = e.getKey().substring("task:".length());
            int colon = rest.lastIndexOf(':');
            String name = rest.substring(0, colon);
            int id = Integer.parseInt(rest.substring(colon + 1));
            Map<String, Object> c = Json.asObject(connectors.get(name));
            if (c == null) continue;
            wanted.put(e.getKey(), true);
            long gen = ClusterStore.num(c.get("task_gen"), 0);
            long restarts = ClusterStore.num(ClusterStore.sub(c, "task_restarts").get(String.valueOf(id)), 0);
            Local l = tasks.get(e.getKey());
            if (l != null && (l.gen != gen || l.restarts != restarts)) {
                LOG.info("Restarting task " + name + "-" + id + (l.gen != gen ? " (new configuration)" : ""));
                tasks.remove(e.getKey());
                l.task.stop(5000);
                l = null;
            }
            String target = String.valueOf(c.getOrDefault("target", "STARTED"));
            boolean paused = "PAUSED".equals(target) || "STOPPED".equals(target);
            if (l == null) {
                // The task runs its stored task configuration, not the connector's current config.
                Map<String, String> cfg = taskConfig(c, id);
                ConnectorPlugin p = plugins.find(cfg.get("connector.class"));
                if (p == null) continue;
                Host host = new Host(name, id, e.getKey());
                // The task runs its configuration with the worker's config providers' variables
                // resolved (the stored one keeps them); one that cannot be resolved fails the task.
                Map<String, String> resolved = null;
                LabException unresolved = null;
                try {
                    resolved = w.providers.transform(cfg);
                } catch (LabException ex) {
                    unresolved = ex;
                }
                WorkerTask t = unresolved == null ? p.newTask(host, name, id, resolved) : new FailedTask(host, name, id, cfg, unresolved);
                host.task = t;
                l = new Local(t, gen, restarts);
                tasks.put(e.getKey(), l);
                LOG.info("Starting task " + name + "-" + id + (paused ? " (paused)" : ""));
                t.start(paused);
            }
            l.task.setPaused(paused);
        }
        for (String item : new ArrayList<>(tasks.keySet())) {
            if (wanted.containsKey(item)) continue;
            Local l = tasks.remove(item);
            LOG.info("Stopping task " + item.substring(5) + " (revoked)");
            l.task.stop(5000);
            String rest = item.substring("task:".length());
            String name = rest.substring(0, rest.lastIndexOf(':'));
            if (connectors.containsKey(name)) unassignIfMine(name, Integer.parseInt(rest.substring(rest.lastIndexOf(':') + 1)));
        }
    }

    // ---- statuses ----

    void setStatus(String connector, int task, String state, String trace) {
        store.update(d -> {
            if (!ClusterStore.sub(d, "connectors").containsKey(connector)) return null;
            Map<String, Object> s = ClusterStore.sub(ClusterStore.sub(d, "status"), connector);
            Map<String, Object> entry = Json.obj("state", state, "worker_id", w.workerId);
            if (trace != null) entry.put("trace", trace);
            if (task < 0) s.put("connector", entry);
            else ClusterStore.sub(s, "tasks").put(String.valueOf(task), entry);
            return null;
        });
    }

    private void unassignIfMine(String connector, int task) {
        store.update(d -> {
            Map<String, Object> s = ClusterStore.subOrNull(ClusterStore.sub(d, "status"), connector);
            Map<String, Object> entry = task < 0 ? ClusterStore.subOrNull(s, "connector") : ClusterStore.subOrNull(ClusterStore.subOrNull(s, "tasks"), String.valueOf(task));
            if (entry != null && w.workerId.equals(entry.get("worker_id")) && !"FAILED".equals(entry.get("state"))) {
                entry.put("state", "UNASSIGNED");
                entry.remove("trace");
            }
            return null;
        });
    }

    /** Graceful leave: stop tasks (they commit offsets), mark our work UNASSIGNED, leave the group. */
    public synchronized void stop() {
        running = false;
        if (loop != null) loop.interrupt();
        for (Map.Entry<String, Local> e : tasks.entrySet()) e.getValue().task.stop(5000);
        store.update(d -> {
            Map<String, Object> status = ClusterStore.sub(d, "status");
            for (Object v : status.values()) {
                Map<String, Object> s = Json.asObject(v);
                List<Map<String, Object>> entries = new ArrayList<>();
                if (s.get("connector") != null) entries.add(Json.asObject(s.get("connector")));
                Map<String, Object> ts = ClusterStore.subOrNull(s, "tasks");
                if (ts != null) for (Object t : ts.values()) entries.add(Json.asObject(t));
                for (Map<String, Object> en : entries) {
                    if (w.workerId.equals(en.get("worker_id")) && !"FAILED".equals(en.get("state"))) {
                        en.put("state", "UNASSIGNED");
                        en.remove("trace");
                    }
                }
            }
            Map<String, Object> me = ClusterStore.subOrNull(ClusterStore.sub(d, "workers"), w.workerId);
            if (me != null) me.put("left", true);
            return null;
        });
        tasks.clear();
        LOG.info("Worker " + w.workerId + " left the Connect cluster");
    }

    /** What the worker offers a task: statuses (only while the task is current), offsets, DB epoch, Kafka. */
    private final class Host implements TaskHost {
        final String connector;
        final int id;
        final String item;
        WorkerTask task;

        Host(String connector, int id, String item) {
            this.connector = connector;
            this.id = id;
            this.item = item;
        }

        @Override
        public WorkerConfig worker() { return w; }

        @Override
        public void status(String state, String trace) {
            if (task != null && task.stopping() && !"FAILED".equals(state)) return;
            setStatus(connector, id, state, trace);
        }

        @Override
        public Map<String, Object> readOffset(Map<String, Object> partition) {
            List<Object> list = Json.asList(ClusterStore.sub(store.read(), "offsets").get(connector));
            if (list == null) return null;
            for (Object o : list) {
                Map<String, Object> e = Json.asObject(o);
                if (Objects.equals(Json.write(e.get("partition")), Json.write(partition))) return Json.asObject(e.get("offset"));
            }
            return null;
        }

        @Override
        public void writeOffset(Map<String, Object> partition, Map<String, Object> offset) {
            store.update(d -> {
                Map<String, Object> offsets = ClusterStore.sub(d, "offsets");
                List<Object> list = Json.asList(offsets.get(connector));
                if (list == null) {
                    list = new ArrayList<>();
                    offsets.put(connector, list);
                }
                String key = Json.write(partition);
                list.removeIf(o -> key.equals(Json.write(Json.asObject(o).get("partition"))));
                list.add(Json.obj("partition", partition, "offset", offset));
                return null;
            });
        }

        @Override
        public long databaseEpoch() {
            long now = System.currentTimeMillis();
            return store.update(d -> {
                Map<String, Object> db = ClusterStore.sub(ClusterStore.sub(d, "databases"), connector);
                if (!db.containsKey("epoch_ms")) db.put("epoch_ms", now);
                return ClusterStore.num(db.get("epoch_ms"), now);
            });
        }

        @Override
        public KafkaClient kafka(String clientId) { return new KafkaClient(w.bootstrap, clientId, 30_000); }
    }
}
