package kroll.lab.connect.sink;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import kroll.lab.connect.TaskHost;
import kroll.lab.connect.WorkerTask;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.KafkaException;
import kroll.lab.kafka.TopicPartition;

/**
 * A sink task that "consumes" without fetching: it reads end offsets and advances the group
 * {@code connect-<name>} (simple commits) by at most {@code lab.records.per.second} records a
 * second, so lag is real, grows when the task is stopped and is measurable through Kafka.
 * Partitions of {@code topics}/{@code topics.regex} are split across tasks (task i takes every
 * tasks.max-th partition). A missing commit starts at the earliest offset (Connect's
 * auto.offset.reset=earliest for sinks).
 */
public final class SinkSimTask extends WorkerTask {
    private final String group;

    public SinkSimTask(TaskHost host, String connector, int id, Map<String, String> config) {
        super(host, connector, id, config);
        this.group = "connect-" + connector;
    }

    private List<TopicPartition> myPartitions(KafkaClient kafka) {
        Cluster c;
        List<String> names = new ArrayList<>();
        String topics = config.get("topics");
        if (topics != null && !topics.isBlank()) {
            for (String t : topics.split(",")) if (!t.isBlank()) names.add(t.trim());
            c = kafka.metadata(names, false);
        } else {
            c = kafka.metadata(null, false);
            Pattern p = Pattern.compile(config.get("topics.regex"));
            for (Cluster.Topic t : c.topics.values()) if (!t.internal && p.matcher(t.name).matches()) names.add(t.name);
        }
        List<TopicPartition> all = new ArrayList<>();
        for (String n : names) {
            Cluster.Topic t = c.topics.get(n);
            if (t == null || t.error != 0) continue;
            for (Cluster.Partition p : t.partitions) all.add(new TopicPartition(n, p.partition));
        }
        all.sort(null);
        int tasks = Math.max(1, Integer.parseInt(config.getOrDefault("tasks.max", "1").trim()));
        List<TopicPartition> mine = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) if (i % tasks == id) mine.add(all.get(i));
        return mine;
    }

    @Override
    protected void execute() throws Exception {
        double rate = Double.parseDouble(config.getOrDefault("lab.records.per.second", "100"));
        long interval = Long.parseLong(config.getOrDefault("lab.poll.interval.ms", "200"));
        KafkaClient kafka = host.kafka("connector-consumer-" + connector + "-" + id);
        host.status("RUNNING", null);
        long last = System.currentTimeMillis();
        double budget = 0;
        long lastWarn = 0;
        try {
            while (!stopping()) {
                if (!awaitUnpaused()) break;
                long now = System.currentTimeMillis();
                budget = Math.min(budget + rate * (now - last) / 1000.0, Math.max(rate, 1) * 10);
                last = now;
                try {
                    List<TopicPartition> parts = myPartitions(kafka);
                    if (!parts.isEmpty()) {
                        Map<TopicPartition, Long> latest = new HashMap<>();
                        Map<TopicPartition, Long> earliest = new HashMap<>();
                        for (TopicPartition tp : parts) {
                            latest.put(tp, -1L);
                            earliest.put(tp, -2L);
                        }
                        Map<TopicPartition, Long> end = kafka.listOffsets(latest);
                        Map<TopicPartition, Long> committed = kafka.committed(group, parts);
                        Map<TopicPartition, Long> commit = new LinkedHashMap<>();
                        Map<TopicPartition, Long> start = null;
                        for (TopicPartition tp : parts) {
                            long c = committed.getOrDefault(tp, -1L);
                            if (c < 0) {
                                if (start == null) start = kafka.listOffsets(earliest);
                                c = start.getOrDefault(tp, 0L);
                            }
                            long e = end.getOrDefault(tp, c);
                            long step = Math.min(e - c, (long) Math.floor(budget));
                            if (step > 0 || committed.getOrDefault(tp, -1L) < 0) {
                                commit.put(tp, c + Math.max(0, step));
                                budget -= Math.max(0, step);
                            }
                        }
                        kafka.commit(group, commit);
                    }
                } catch (KafkaException e) {
                    if (now - lastWarn > 5000) {
                        log.warn("consumer group " + group + ": " + e.getMessage() + " (retrying)");
                        lastWarn = now;
                    }
                }
                if (!pause(interval)) break;
            }
        } finally {
            kafka.close();
        }
    }
}
