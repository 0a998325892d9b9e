package kroll.lab.kafka;

/** A Kafka protocol error (code from the protocol's error table, -1 for client-side problems). */
public class KafkaException extends RuntimeException {
    public final int code;

    public KafkaException(int code, String msg) {
        super(msg);
        this.code = code;
    }

    public KafkaException(int code, String msg, Throwable cause) {
        super(msg, cause);
        this.code = code;
    }

    /** Errors after which a retry (usually with fresh metadata) can succeed. */
    public boolean retriable() { return Errors.retriable(code); }
}
