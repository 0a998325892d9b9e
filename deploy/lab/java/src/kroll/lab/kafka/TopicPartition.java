package kroll.lab.kafka;

import java.util.Objects;

public final class TopicPartition implements Comparable<TopicPartition> {
    public final String topic;
    public final int partition;

    public TopicPartition(String topic, int partition) {
        this.topic = topic;
        this.partition = partition;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TopicPartition && ((TopicPartition) o).topic.equals(topic) && ((TopicPartition) o).partition == partition;
    }

    @Override
    public int hashCode() { return Objects.hash(topic, partition); }

    @Override
    public int compareTo(TopicPartition o) {
        int c = topic.compareTo(o.topic);
        return c != 0 ? c : Integer.compare(partition, o.partition);
    }

    @Override
    public String toString() { return topic + "-" + partition; }
}
