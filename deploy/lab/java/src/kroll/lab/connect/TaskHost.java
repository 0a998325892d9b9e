package kroll.lab.connect;

import java.util.Map;
import kroll.lab.kafka.KafkaClient;

/** What the worker offers a running task. */
public interface TaskHost {
    WorkerConfig worker();

    /** Records the task's state (RUNNING, PAUSED, FAILED with a trace, ...). */
    void status(String state, String trace);

    /** The committed source offset for a source partition, or null. */
    Map<String, Object> readOffset(Map<String, Object> partition);

    /** Commits a source offset (Connect's offset flush). */
    void writeOffset(Map<String, Object> partition, Map<String, Object> offset);

    /** The epoch of the connector's simulated database (created on first use, shared by workers). */
    long databaseEpoch();

    /** A Kafka client of the task's own (like each task's own producer/consumer). */
    KafkaClient kafka(String clientId);
}
