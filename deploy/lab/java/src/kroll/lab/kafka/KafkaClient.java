package kroll.lab.kafka;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import kroll.lab.common.Log;

/**
 * A minimal Kafka client: metadata (with refresh), produce to a partition leader, end/start
 * offsets, consumer-group simple commits and fetches through the group coordinator, topic
 * creation. Connection and "not leader" errors drop the cached metadata/connection so the next
 * call goes to the new leader — the lab's brokers restart under their clients during an upgrade.
 * Methods throw {@link KafkaException}; callers decide whether and when to retry.
 */
public final class KafkaClient implements AutoCloseable {
    private static final Log LOG = Log.get(KafkaClient.class);

    private final List<String[]> bootstrap = new ArrayList<>();
    private final String clientId;
    private final int connectTimeoutMs;
    private final int requestTimeoutMs;
    private final Map<Integer, KafkaConnection> conns = new ConcurrentHashMap<>();
    private KafkaConnection bootstrapConn;
    private volatile Cluster cluster;
    private final Map<String, Integer> coordinators = new ConcurrentHashMap<>();
    private int nextBootstrap;

    public KafkaClient(String bootstrapServers, String clientId, int requestTimeoutMs) {
        for (String s : bootstrapServers.split(",")) {
            s = s.trim();
            if (s.isEmpty()) continue;
            int colon = s.lastIndexOf(':');
            if (colon < 0) throw new IllegalArgumentException("bad bootstrap address " + s);
            bootstrap.add(new String[] {s.substring(0, colon), s.substring(colon + 1)});
        }
        if (bootstrap.isEmpty()) throw new IllegalArgumentException("no bootstrap servers");
        this.clientId = clientId;
        this.connectTimeoutMs = Math.min(5000, requestTimeoutMs);
        this.requestTimeoutMs = requestTimeoutMs;
    }

    public Cluster cachedCluster() { return cluster; }

    // ---- connections ----

    private KafkaConnection anyConnection() {
        if (bootstrapConn != null && !bootstrapConn.isClosed()) return bootstrapConn;
        List<String[]> candidates = new ArrayList<>();
        Cluster c = cluster;
        if (c != null) for (Cluster.Node n : c.brokers.values()) candidates.add(new String[] {n.host, String.valueOf(n.port)});
        candidates.addAll(bootstrap);
        KafkaException last = null;
        for (int i = 0; i < candidates.size(); i++) {
            String[] a = candidates.get((nextBootstrap + i) % candidates.size());
            try {
                bootstrapConn = KafkaConnection.open(a[0], Integer.parseInt(a[1]), clientId, connectTimeoutMs, requestTimeoutMs);
                nextBootstrap = (nextBootstrap + i + 1) % Math.max(1, candidates.size());
                return bootstrapConn;
            } catch (KafkaException e) {
                last = e;
            }
        }
        throw new KafkaException(Errors.CLIENT_NETWORK, "no broker reachable (bootstrap " + bootstrapString() + ")"
                + (last == null ? "" : ": " + last.getMessage()), last);
    }

    private String bootstrapString() {
        StringBuilder b = new StringBuilder();
        for (String[] a : bootstrap) b.append(b.length() == 0 ? "" : ",").append(a[0]).append(':').append(a[1]);
        return b.toString();
    }

    private KafkaConnection node(int id) {
        KafkaConnection c = conns.get(id);
        if (c != null && !c.isClosed()) return c;
        Cluster cl = cluster;
        Cluster.Node n = cl == null ? null : cl.brokers.get(id);
        if (n == null) {
            cl = metadata(null, false);
            n = cl.brokers.get(id);
            if (n == null) throw new KafkaException(Errors.LEADER_NOT_AVAILABLE, "broker " + id + " is not in the cluster metadata");
        }
        c = KafkaConnection.open(n.host, n.port, clientId, connectTimeoutMs, requestTimeoutMs);
        KafkaConnection old = conns.put(id, c);
        if (old != null) old.close();
        return c;
    }

    /** Forgets cached metadata and the connection to a node after an error that calls for it. */
    public synchronized void invalidate(Integer nodeId) {
        cluster = null;
        coordinators.clear();
        if (nodeId != null) {
            KafkaConnection c = conns.remove(nodeId);
            if (c != null) c.close();
        }
        if (bootstrapConn != null) {
            bootstrapConn.close();
            bootstrapConn = null;
        }
    }

    // ---- metadata ----

    /** Fetches metadata for the topics (null = all) and caches it. */
    public synchronized Cluster metadata(Collection<String> topics, boolean autoCreate) {
        KafkaConnection c = anyConnection();
        int v = c.version(ApiKeys.METADATA);
        WireReader r;
        try {
            r = c.send(ApiKeys.METADATA, v, Requests.metadata(v, topics, autoCreate));
        } catch (KafkaException e) {
            bootstrapConn = null;
            throw e;
        }
        Cluster cl = decodeMetadata(v, r);
        Cluster old = cluster;
        if (topics != null && old != null) {
            // keep other topics we knew about
            for (Map.Entry<String, Cluster.Topic> e : old.topics.entrySet()) cl.topics.putIfAbsent(e.getKey(), e.getValue());
        }
        cluster = cl;
        return cl;
    }

    public static Cluster decodeMetadata(int v, WireReader r) {
        if (v >= 3) r.int32(); // throttle
        List<Cluster.Node> nodes = new ArrayList<>();
        int nb = r.arrayLength();
        for (int i = 0; i < nb; i++) {
            int id = r.int32();
            String host = r.string();
            int port = r.int32();
            String rack = v >= 1 ? r.nullableString() : null;
            nodes.add(new Cluster.Node(id, host, port, rack));
        }
        String clusterId = v >= 2 ? r.nullableString() : null;
        int controller = v >= 1 ? r.int32() : -1;
        Cluster cl = new Cluster(clusterId, controller);
        for (Cluster.Node n : nodes) cl.brokers.put(n.id, n);
        int nt = r.arrayLength();
        for (int i = 0; i < nt; i++) {
            int err = r.int16();
            String name = r.string();
            boolean internal = v >= 1 && r.bool();
            Cluster.Topic t = new Cluster.Topic(err, name, internal);
            int np = r.arrayLength();
            for (int j = 0; j < np; j++) {
                int perr = r.int16();
                int p = r.int32();
                int leader = r.int32();
                if (v >= 7) r.int32(); // leader epoch
                int[] replicas = ints(r);
                int[] isr = ints(r);
                if (v >= 5) ints(r);   // offline replicas
                t.partitions.add(new Cluster.Partition(perr, p, leader, replicas, isr));
            }
            t.partitions.sort((a, b) -> Integer.compare(a.partition, b.partition));
            if (v >= 8) r.int32();     // topic authorized operations
            cl.topics.put(name, t);
        }
        if (v >= 8) r.int32();         // cluster authorized operations
        return cl;
    }

    private static int[] ints(WireReader r) {
        int n = r.arrayLength();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = r.int32();
        return out;
    }

    /** The topic's metadata, fetched if not cached; throws if unknown or without partitions. */
    public Cluster.Topic topic(String name, boolean autoCreate) {
        Cluster c = cluster;
        Cluster.Topic t = c == null ? null : c.topics.get(name);
        if (t == null || t.error != Errors.NONE || t.partitions.isEmpty()) {
            t = metadata(List.of(name), autoCreate).topics.get(name);
        }
        if (t == null) throw new KafkaException(Errors.UNKNOWN_TOPIC_OR_PARTITION, "topic " + name + " not in metadata");
        if (t.error != Errors.NONE) throw new KafkaException(t.error, "topic " + name + ": " + Errors.name(t.error));
        if (t.partitions.isEmpty()) throw new KafkaException(Errors.LEADER_NOT_AVAILABLE, "topic " + name + " has no partitions yet");
        return t;
    }

    private int leader(TopicPartition tp) {
        Cluster.Topic t = topic(tp.topic, false);
        Cluster.Partition p = t.partition(tp.partition);
        if (p == null) throw new KafkaException(Errors.UNKNOWN_TOPIC_OR_PARTITION, "no partition " + tp);
        if (p.leader < 0) {
            invalidate(null);
            throw new KafkaException(Errors.LEADER_NOT_AVAILABLE, "no leader for " + tp);
        }
        return p.leader;
    }

    // ---- produce ----

    /** Produces one batch to a partition's leader; returns the base offset. */
    public long produce(String topic, int partition, byte[] batch, int acks, int timeoutMs) {
        int leader = leader(new TopicPartition(topic, partition));
        KafkaConnection c;
        try {
            c = node(leader);
        } catch (KafkaException e) {
            invalidate(leader);
            throw e;
        }
        int v = c.version(ApiKeys.PRODUCE);
        WireReader r;
        try {
            r = c.send(ApiKeys.PRODUCE, v, Requests.produce(v, topic, partition, batch, acks, timeoutMs));
        } catch (KafkaException e) {
            invalidate(leader);
            throw e;
        }
        long base = -1;
        int err = Errors.NONE;
        String msg = null;
        int nt = r.arrayLength();
        for (int i = 0; i < nt; i++) {
            r.string();
            int np = r.arrayLength();
            for (int j = 0; j < np; j++) {
                r.int32();
                err = r.int16();
                base = r.int64();
                if (v >= 2) r.int64();           // log_append_time
                if (v >= 5) r.int64();           // log_start_offset
                if (v >= 8) {
                    int ne = r.arrayLength();
                    for (int k = 0; k < ne; k++) {
                        r.int32();
                        r.nullableString();
                    }
                    msg = r.nullableString();
                }
            }
        }
        if (err != Errors.NONE) {
            if (Errors.staleMetadata(err)) invalidate(leader);
            throw new KafkaException(err, "produce to " + topic + "-" + partition + " failed: " + Errors.name(err) + (msg == null ? "" : " (" + msg + ")"));
        }
        return base;
    }

    // ---- offsets ----

    /** Offsets for timestamps (-1 latest/end, -2 earliest) per partition, asking each leader. */
    public Map<TopicPartition, Long> listOffsets(Map<TopicPartition, Long> timestamps) {
        Map<Integer, Map<TopicPartition, Long>> byLeader = new HashMap<>();
        for (Map.Entry<TopicPartition, Long> e : timestamps.entrySet()) {
            byLeader.computeIfAbsent(leader(e.getKey()), k -> new LinkedHashMap<>()).put(e.getKey(), e.getValue());
        }
        Map<TopicPartition, Long> out = new HashMap<>();
        for (Map.Entry<Integer, Map<TopicPartition, Long>> e : byLeader.entrySet()) {
            int leader = e.getKey();
            WireReader r;
            int v;
            try {
                KafkaConnection c = node(leader);
                v = c.version(ApiKeys.LIST_OFFSETS);
                r = c.send(ApiKeys.LIST_OFFSETS, v, Requests.listOffsets(v, e.getValue()));
            } catch (KafkaException ex) {
                invalidate(leader);
                throw ex;
            }
            if (v >= 2) r.int32();
            int nt = r.arrayLength();
            for (int i = 0; i < nt; i++) {
                String topic = r.string();
                int np = r.arrayLength();
                for (int j = 0; j < np; j++) {
                    int p = r.int32();
                    int err = r.int16();
                    r.int64();                   // timestamp
                    long off = r.int64();
                    if (v >= 4) r.int32();       // leader epoch
                    if (err != Errors.NONE) {
                        if (Errors.staleMetadata(err)) invalidate(leader);
                        throw new KafkaException(err, "ListOffsets " + topic + "-" + p + ": " + Errors.name(err));
                    }
                    out.put(new TopicPartition(topic, p), off);
                }
            }
        }
        return out;
    }

    // ---- consumer groups ----

    private int coordinator(String group) {
        Integer known = coordinators.get(group);
        if (known != null) return known;
        KafkaConnection c = anyConnection();
        int v = c.version(ApiKeys.FIND_COORDINATOR);
        WireReader r;
        try {
            r = c.send(ApiKeys.FIND_COORDINATOR, v, Requests.findCoordinator(v, group));
        } catch (KafkaException e) {
            bootstrapConn = null;
            throw e;
        }
        if (v >= 1) r.int32();
        int err = r.int16();
        if (v >= 1) r.nullableString();
        int node = r.int32();
        String host = r.string();
        int port = r.int32();
        if (err != Errors.NONE) throw new KafkaException(err, "FindCoordinator(" + group + "): " + Errors.name(err));
        Cluster cl = cluster;
        if (cl == null || !cl.brokers.containsKey(node)) {
            cl = metadata(List.of(), false);
            if (!cl.brokers.containsKey(node)) cl.brokers.put(node, new Cluster.Node(node, host, port, null));
        }
        coordinators.put(group, node);
        return node;
    }

    private WireReader groupCall(String group, ApiKeys api, java.util.function.IntFunction<byte[]> body, int[] versionOut) {
        int node = coordinator(group);
        try {
            KafkaConnection c = node(node);
            int v = c.version(api);
            versionOut[0] = v;
            return c.send(api, v, body.apply(v));
        } catch (KafkaException e) {
            coordinators.remove(group);
            invalidate(node);
            throw e;
        }
    }

    /** Commits offsets for a group without joining it (generation -1, like a standalone commit). */
    public void commit(String group, Map<TopicPartition, Long> offsets) {
        if (offsets.isEmpty()) return;
        int[] v = new int[1];
        WireReader r = groupCall(group, ApiKeys.OFFSET_COMMIT, ver -> Requests.offsetCommit(ver, group, offsets), v);
        if (v[0] >= 3) r.int32();
        int nt = r.arrayLength();
        for (int i = 0; i < nt; i++) {
            String topic = r.string();
            int np = r.arrayLength();
            for (int j = 0; j < np; j++) {
                int p = r.int32();
                int err = r.int16();
                if (err != Errors.NONE) {
                    if (Errors.staleMetadata(err) || err == Errors.COORDINATOR_LOAD_IN_PROGRESS) coordinators.remove(group);
                    throw new KafkaException(err, "OffsetCommit " + group + " " + topic + "-" + p + ": " + Errors.name(err));
                }
            }
        }
    }

    /** Committed offsets of a group (-1 where none). */
    public Map<TopicPartition, Long> committed(String group, Collection<TopicPartition> partitions) {
        Map<TopicPartition, Long> out = new HashMap<>();
        if (partitions.isEmpty()) return out;
        int[] v = new int[1];
        WireReader r = groupCall(group, ApiKeys.OFFSET_FETCH, ver -> Requests.offsetFetch(ver, group, partitions), v);
        if (v[0] >= 3) r.int32();
        int nt = r.arrayLength();
        for (int i = 0; i < nt; i++) {
            String topic = r.string();
            int np = r.arrayLength();
            for (int j = 0; j < np; j++) {
                int p = r.int32();
                long off = r.int64();
                if (v[0] >= 5) r.int32();
                r.nullableString();
                int err = r.int16();
                if (err != Errors.NONE && err != Errors.UNKNOWN_TOPIC_OR_PARTITION) {
                    throw new KafkaException(err, "OffsetFetch " + group + " " + topic + "-" + p + ": " + Errors.name(err));
                }
                out.put(new TopicPartition(topic, p), off);
            }
        }
        if (v[0] >= 2) {
            int err = r.int16();
            if (err != Errors.NONE) {
                if (Errors.staleMetadata(err) || err == Errors.COORDINATOR_LOAD_IN_PROGRESS) coordinators.remove(group);
                throw new KafkaException(err, "OffsetFetch " + group + ": " + Errors.name(err));
            }
        }
        return out;
    }

    // ---- admin ----

    /** Creates a topic through the controller; an existing topic is not an error. */
    public void createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs) {
        Cluster cl = metadata(List.of(), false);
        int controller = cl.controllerId >= 0 ? cl.controllerId : cl.brokers.keySet().iterator().next();
        WireReader r;
        int v;
        try {
            KafkaConnection c = node(controller);
            v = c.version(ApiKeys.CREATE_TOPICS);
            r = c.send(ApiKeys.CREATE_TOPICS, v, Requests.createTopic(v, name, partitions, replicationFactor, configs, requestTimeoutMs));
        } catch (KafkaException e) {
            invalidate(controller);
            throw e;
        }
        r.int32(); // throttle (v2+)
        int nt = r.arrayLength();
        for (int i = 0; i < nt; i++) {
            String t = r.string();
            int err = r.int16();
            String msg = r.nullableString(); // v1+
            if (err != Errors.NONE && err != Errors.TOPIC_ALREADY_EXISTS) {
                if (err == Errors.NOT_CONTROLLER) invalidate(controller);
                throw new KafkaException(err, "CreateTopics " + t + ": " + Errors.name(err) + (msg == null ? "" : " (" + msg + ")"));
            }
            if (err == Errors.NONE) LOG.info("Created topic " + t + " (" + partitions + " partitions, replication factor " + replicationFactor + ")");
        }
        cluster = null;
    }

    @Override
    public void close() {
        for (KafkaConnection c : conns.values()) c.close();
        conns.clear();
        if (bootstrapConn != null) bootstrapConn.close();
    }
}
