package kroll.lab.kafka;

/** The Kafka error codes the lab clients react to. */
public final class Errors {
    private Errors() {}

    public static final int NONE = 0;
    public static final int OFFSET_OUT_OF_RANGE = 1;
    public static final int CORRUPT_MESSAGE = 2;
    public static final int UNKNOWN_TOPIC_OR_PARTITION = 3;
    public static final int LEADER_NOT_AVAILABLE = 5;
    public static final int NOT_LEADER_OR_FOLLOWER = 6;
    public static final int REQUEST_TIMED_OUT = 7;
    public static final int NETWORK_EXCEPTION = 13;
    public static final int COORDINATOR_LOAD_IN_PROGRESS = 14;
    public static final int COORDINATOR_NOT_AVAILABLE = 15;
    public static final int NOT_COORDINATOR = 16;
    public static final int NOT_ENOUGH_REPLICAS = 19;
    public static final int NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20;
    public static final int ILLEGAL_GENERATION = 22;
    public static final int UNKNOWN_MEMBER_ID = 25;
    public static final int REBALANCE_IN_PROGRESS = 27;
    public static final int UNSUPPORTED_VERSION = 35;
    public static final int TOPIC_ALREADY_EXISTS = 36;
    public static final int NOT_CONTROLLER = 41;
    public static final int KAFKA_STORAGE_ERROR = 56;
    public static final int FENCED_LEADER_EPOCH = 74;
    public static final int UNKNOWN_LEADER_EPOCH = 75;
    public static final int OFFSET_NOT_AVAILABLE = 78;
    public static final int THROTTLING_QUOTA_EXCEEDED = 89;
    /** Client side: connection refused / reset / timed out. */
    public static final int CLIENT_NETWORK = -2;

    public static boolean retriable(int code) {
        switch (code) {
            case CORRUPT_MESSAGE: case UNKNOWN_TOPIC_OR_PARTITION: case LEADER_NOT_AVAILABLE: case NOT_LEADER_OR_FOLLOWER:
            case REQUEST_TIMED_OUT: case NETWORK_EXCEPTION: case COORDINATOR_LOAD_IN_PROGRESS: case COORDINATOR_NOT_AVAILABLE:
            case NOT_COORDINATOR: case NOT_ENOUGH_REPLICAS: case NOT_ENOUGH_REPLICAS_AFTER_APPEND: case REBALANCE_IN_PROGRESS:
            case NOT_CONTROLLER: case KAFKA_STORAGE_ERROR: case FENCED_LEADER_EPOCH: case UNKNOWN_LEADER_EPOCH:
            case OFFSET_NOT_AVAILABLE: case THROTTLING_QUOTA_EXCEEDED: case CLIENT_NETWORK:
                return true;
            default:
                return false;
        }
    }

    /** Errors that mean the cached metadata (leader / coordinator) is stale. */
    public static boolean staleMetadata(int code) {
        return code == UNKNOWN_TOPIC_OR_PARTITION || code == LEADER_NOT_AVAILABLE || code == NOT_LEADER_OR_FOLLOWER
                || code == NOT_COORDINATOR || code == COORDINATOR_NOT_AVAILABLE || code == FENCED_LEADER_EPOCH
                || code == UNKNOWN_LEADER_EPOCH || code == CLIENT_NETWORK || code == NETWORK_EXCEPTION;
    }

    public static String name(int code) {
        switch (code) {
            case NONE: return "NONE";
            case UNKNOWN_TOPIC_OR_PARTITION: return "UNKNOWN_TOPIC_OR_PARTITION";
            case LEADER_NOT_AVAILABLE: return "LEADER_NOT_AVAILABLE";
            case NOT_LEADER_OR_FOLLOWER: return "NOT_LEADER_OR_FOLLOWER";
            case REQUEST_TIMED_OUT: return "REQUEST_TIMED_OUT";
            case COORDINATOR_LOAD_IN_PROGRESS: return "COORDINATOR_LOAD_IN_PROGRESS";
            case COORDINATOR_NOT_AVAILABLE: return "COORDINATOR_NOT_AVAILABLE";
            case NOT_COORDINATOR: return "NOT_COORDINATOR";
            case NOT_ENOUGH_REPLICAS: return "NOT_ENOUGH_REPLICAS";
            case NOT_ENOUGH_REPLICAS_AFTER_APPEND: return "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
            case UNSUPPORTED_VERSION: return "UNSUPPORTED_VERSION";
            case TOPIC_ALREADY_EXISTS: return "TOPIC_ALREADY_EXISTS";
            case CLIENT_NETWORK: return "NETWORK (client)";
            default: return "ERROR_" + code;
        }
    }
}
