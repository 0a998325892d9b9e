package kroll.lab.kafka;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Request body encoders, one per API, for every version in {@link ApiKeys}' ranges. */
public final class Requests {
    private Requests() {}

    /** Metadata v1..v8; {@code topics == null} asks for all topics. */
    public static byte[] metadata(int v, Collection<String> topics, boolean autoCreate) {
        WireWriter w = new WireWriter();
        if (topics == null) {
            w.int32(-1);
        } else {
            w.int32(topics.size());
            for (String t : topics) w.string(t);
        }
        if (v >= 4) w.bool(autoCreate);
        if (v >= 8) w.bool(false).bool(false);
        return w.toBytes();
    }

    /** Produce v3..v8 for one partition. */
    public static byte[] produce(int v, String topic, int partition, byte[] batch, int acks, int timeoutMs) {
        WireWriter w = new WireWriter(batch.length + 64);
        w.nullableString(null);      // transactional_id (v3+)
        w.int16(acks).int32(timeoutMs);
        w.int32(1).string(topic);
        w.int32(1).int32(partition).bytes(batch);
        return w.toBytes();
    }

    /** ListOffsets v1..v5; timestamp -1 = latest, -2 = earliest. */
    public static byte[] listOffsets(int v, Map<TopicPartition, Long> timestamps) {
        WireWriter w = new WireWriter();
        w.int32(-1);                 // replica_id
        if (v >= 2) w.int8(0);       // isolation_level READ_UNCOMMITTED
        Map<String, List<TopicPartition>> topics = new TreeMap<>();
        for (TopicPartition tp : timestamps.keySet()) topics.computeIfAbsent(tp.topic, k -> new ArrayList<>()).add(tp);
        w.int32(topics.size());
        for (Map.Entry<String, List<TopicPartition>> e : topics.entrySet()) {
            w.string(e.getKey()).int32(e.getValue().size());
            for (TopicPartition tp : e.getValue()) {
                w.int32(tp.partition);
                if (v >= 4) w.int32(-1); // current_leader_epoch
                w.int64(timestamps.get(tp));
            }
        }
        return w.toBytes();
    }

    /** FindCoordinator v0..v2 for a consumer group. */
    public static byte[] findCoordinator(int v, String group) {
        WireWriter w = new WireWriter();
        w.string(group);
        if (v >= 1) w.int8(0);       // key_type GROUP
        return w.toBytes();
    }

    /** OffsetCommit v2..v7 as a "simple" commit (generation -1, empty member id). */
    public static byte[] offsetCommit(int v, String group, Map<TopicPartition, Long> offsets) {
        WireWriter w = new WireWriter();
        w.string(group).int32(-1).string("");
        if (v >= 7) w.nullableString(null);      // group_instance_id
        if (v <= 4) w.int64(-1L);                // retention_time_ms: broker default
        Map<String, List<TopicPartition>> topics = new TreeMap<>();
        for (TopicPartition tp : offsets.keySet()) topics.computeIfAbsent(tp.topic, k -> new ArrayList<>()).add(tp);
        w.int32(topics.size());
        for (Map.Entry<String, List<TopicPartition>> e : topics.entrySet()) {
            w.string(e.getKey()).int32(e.getValue().size());
            for (TopicPartition tp : e.getValue()) {
                w.int32(tp.partition).int64(offsets.get(tp));
                if (v >= 6) w.int32(-1);         // committed_leader_epoch
                w.nullableString("");            // committed_metadata
            }
        }
        return w.toBytes();
    }

    /** OffsetFetch v1..v5. */
    public static byte[] offsetFetch(int v, String group, Collection<TopicPartition> partitions) {
        WireWriter w = new WireWriter();
        w.string(group);
        Map<String, List<Integer>> topics = new TreeMap<>();
        for (TopicPartition tp : partitions) topics.computeIfAbsent(tp.topic, k -> new ArrayList<>()).add(tp.partition);
        w.int32(topics.size());
        for (Map.Entry<String, List<Integer>> e : topics.entrySet()) {
            w.string(e.getKey()).int32(e.getValue().size());
            for (int p : e.getValue()) w.int32(p);
        }
        return w.toBytes();
    }

    /** CreateTopics v2..v4, one topic. */
    public static byte[] createTopic(int v, String name, int partitions, int replicationFactor, Map<String, String> configs, int timeoutMs) {
        WireWriter w = new WireWriter();
        w.int32(1).string(name).int32(partitions).int16(replicationFactor);
        w.int32(0);                  // assignments
        w.int32(configs.size());
        for (Map.Entry<String, String> e : configs.entrySet()) w.string(e.getKey()).nullableString(e.getValue());
        w.int32(timeoutMs).bool(false);
        return w.toBytes();
    }
}
