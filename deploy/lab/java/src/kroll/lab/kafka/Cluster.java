package kroll.lab.kafka;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A Metadata response: brokers, controller, cluster id, topics with leaders/replicas/ISR. */
public final class Cluster {
    public static final class Node {
        public final int id;
        public final String host;
        public final int port;
        public final String rack;

        public Node(int id, String host, int port, String rack) {
            this.id = id;
            this.host = host;
            this.port = port;
            this.rack = rack;
        }

        public String address() { return host + ":" + port; }
    }

    public static final class Partition {
        public final int error;
        public final int partition;
        public final int leader;
        public final int[] replicas;
        public final int[] isr;

        public Partition(int error, int partition, int leader, int[] replicas, int[] isr) {
            this.error = error;
            this.partition = partition;
            this.leader = leader;
            this.replicas = replicas;
            this.isr = isr;
        }
    }

    public static final class Topic {
        public final int error;
        public final String name;
        public final boolean internal;
        public final List<Partition> partitions = new ArrayList<>();

        public Topic(int error, String name, boolean internal) {
            this.error = error;
            this.name = name;
            this.internal = internal;
        }

        public Partition partition(int p) {
            for (Partition x : partitions) if (x.partition == p) return x;
            return null;
        }
    }

    public final String clusterId;
    public final int controllerId;
    public final Map<Integer, Node> brokers = new LinkedHashMap<>();
    public final Map<String, Topic> topics = new LinkedHashMap<>();

    public Cluster(String clusterId, int controllerId) {
        this.clusterId = clusterId;
        this.controllerId = controllerId;
    }
}
