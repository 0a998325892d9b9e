//! Kafka error codes used by the lab.
#![allow(missing_docs)]

pub const UNKNOWN_SERVER_ERROR: i16 = -1;
pub const NONE: i16 = 0;
pub const OFFSET_OUT_OF_RANGE: i16 = 1;
pub const CORRUPT_MESSAGE: i16 = 2;
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub const LEADER_NOT_AVAILABLE: i16 = 5;
pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
pub const REQUEST_TIMED_OUT: i16 = 7;
pub const MESSAGE_TOO_LARGE: i16 = 10;
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub const NOT_COORDINATOR: i16 = 16;
pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
pub const NOT_ENOUGH_REPLICAS: i16 = 19;
pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
pub const INVALID_REQUIRED_ACKS: i16 = 21;
pub const ILLEGAL_GENERATION: i16 = 22;
pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
pub const UNKNOWN_MEMBER_ID: i16 = 25;
pub const REBALANCE_IN_PROGRESS: i16 = 27;
pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
pub const ILLEGAL_SASL_STATE: i16 = 34;
pub const UNSUPPORTED_VERSION: i16 = 35;
pub const TOPIC_ALREADY_EXISTS: i16 = 36;
pub const INVALID_PARTITIONS: i16 = 37;
pub const INVALID_REPLICATION_FACTOR: i16 = 38;
pub const INVALID_CONFIG: i16 = 40;
pub const NOT_CONTROLLER: i16 = 41;
pub const INVALID_REQUEST: i16 = 42;
pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
pub const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
pub const KAFKA_STORAGE_ERROR: i16 = 56;
pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
pub const FENCED_LEADER_EPOCH: i16 = 74;
pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
pub const MEMBER_ID_REQUIRED: i16 = 79;
pub const UNKNOWN_TOPIC_ID: i16 = 100;

/// Kafka's exception name and message for a code (for log lines).
pub fn describe(code: i16) -> String {
    let text = match code {
        UNSUPPORTED_VERSION => {
            "org.apache.kafka.common.errors.UnsupportedVersionException: The version of API is not supported"
        }
        NOT_LEADER_OR_FOLLOWER => {
            "org.apache.kafka.common.errors.NotLeaderOrFollowerException: This server is not the leader for that topic-partition"
        }
        OFFSET_OUT_OF_RANGE => {
            "org.apache.kafka.common.errors.OffsetOutOfRangeException: The requested offset is not within the range of offsets maintained by the server"
        }
        UNKNOWN_TOPIC_ID => {
            "org.apache.kafka.common.errors.UnknownTopicIdException: This server does not host this topic ID"
        }
        UNKNOWN_TOPIC_OR_PARTITION => {
            "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition"
        }
        FENCED_LEADER_EPOCH => {
            "org.apache.kafka.common.errors.FencedLeaderEpochException: The leader epoch in the request is older than the epoch on the broker"
        }
        _ => return format!("error code {code}"),
    };
    text.to_string()
}
