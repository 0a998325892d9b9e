//! Software version, inter-broker protocol version (IBP) and the API version ranges each
//! Kafka release answers in `ApiVersions`.

use std::fmt;

use crate::error::BrokerError;

/// The Kafka release a broker process runs (read from the image's `KAFKA_VERSION` file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SoftwareVersion {
    /// Major version (3).
    pub major: u16,
    /// Minor version (1, 7, 8).
    pub minor: u16,
    /// Patch version.
    pub patch: u16,
}

impl SoftwareVersion {
    /// Parses `3.1.1`, `3.7.1`, `3.8.0` (only 3.1.x, 3.7.x and 3.8.x are supported).
    pub fn parse(text: &str) -> Result<Self, BrokerError> {
        let text = text.trim();
        let bad = || {
            BrokerError::Version(format!(
                "unsupported Kafka software version `{text}` (supported: 3.1.x, 3.7.x, 3.8.x)"
            ))
        };
        let mut parts = text.split('.');
        let mut next = || {
            parts
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(bad)
        };
        let version = Self {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        match (version.major, version.minor) {
            (3, 1) | (3, 7) | (3, 8) => Ok(version),
            _ => Err(bad()),
        }
    }

    /// The newest IBP this release knows (its default when `inter.broker.protocol.version` is unset).
    pub fn latest_ibp(self) -> Ibp {
        match self.minor {
            1 => Ibp::named("3.1-IV0"),
            7 => Ibp::named("3.7-IV4"),
            _ => Ibp::named("3.8-IV0"),
        }
    }

    /// The `ApiVersions` ranges of this release (ZooKeeper-mode broker), for the APIs the lab serves.
    pub fn api_ranges(self) -> &'static [(i16, i16, i16)] {
        match self.minor {
            1 => KAFKA_3_1,
            7 => KAFKA_3_7,
            _ => KAFKA_3_8,
        }
    }

    /// The version range of one API, if this release (as served by the lab) has it.
    pub fn api_range(self, key: i16) -> Option<(i16, i16)> {
        self.api_ranges()
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, lo, hi)| (*lo, *hi))
    }
}

impl fmt::Display for SoftwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Every IBP (`MetadataVersion` in Kafka) up to 3.8, oldest first. The index orders them.
const IBPS: &[&str] = &[
    "0.8.0",
    "0.8.1",
    "0.8.2",
    "0.9.0",
    "0.10.0-IV0",
    "0.10.0-IV1",
    "0.10.1-IV0",
    "0.10.1-IV1",
    "0.10.1-IV2",
    "0.10.2-IV0",
    "0.11.0-IV0",
    "0.11.0-IV1",
    "0.11.0-IV2",
    "1.0-IV0",
    "1.1-IV0",
    "2.0-IV0",
    "2.0-IV1",
    "2.1-IV0",
    "2.1-IV1",
    "2.1-IV2",
    "2.2-IV0",
    "2.2-IV1",
    "2.3-IV0",
    "2.3-IV1",
    "2.4-IV0",
    "2.4-IV1",
    "2.5-IV0",
    "2.6-IV0",
    "2.7-IV0",
    "2.7-IV1",
    "2.7-IV2",
    "2.8-IV0",
    "2.8-IV1",
    "3.0-IV0",
    "3.0-IV1",
    "3.1-IV0",
    "3.2-IV0",
    "3.3-IV0",
    "3.3-IV1",
    "3.3-IV2",
    "3.3-IV3",
    "3.4-IV0",
    "3.5-IV0",
    "3.5-IV1",
    "3.5-IV2",
    "3.6-IV0",
    "3.6-IV1",
    "3.6-IV2",
    "3.7-IV0",
    "3.7-IV1",
    "3.7-IV2",
    "3.7-IV3",
    "3.7-IV4",
    "3.8-IV0",
];

/// An inter-broker protocol version such as `3.1-IV0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ibp(usize);

impl Ibp {
    fn named(name: &str) -> Self {
        Self(IBPS.iter().position(|n| *n == name).unwrap_or(0))
    }

    /// Parses a value of `inter.broker.protocol.version` as a broker of `software` would:
    /// `3.1`, `3.1-IV0`, `3.7`, `3.7-IV4`, `3.8`, `2.8.1` (extra segments ignored, like Kafka).
    /// A value newer than `software` knows is the error Kafka gives for it.
    pub fn parse(value: &str, software: SoftwareVersion) -> Result<Self, BrokerError> {
        let latest = software.latest_ibp().0;
        match Self::lookup(value, &IBPS[..=latest]) {
            Some(index) => Ok(Self(index)),
            None => Err(BrokerError::Ibp {
                value: value.to_string(),
                software,
                newer_than_software: Self::lookup(value, IBPS).is_some_and(|index| index > latest),
            }),
        }
    }

    fn lookup(value: &str, known: &[&str]) -> Option<usize> {
        let segments: Vec<&str> = value.split('.').collect();
        let keep = if value.starts_with("0.") { 3 } else { 2 };
        let key = if segments.len() > keep {
            segments[..keep].join(".")
        } else {
            value.to_string()
        };
        let exact = known.iter().position(|n| *n == key);
        exact.or_else(|| {
            known
                .iter()
                .rposition(|n| n.split('-').next() == Some(key.as_str()))
        })
    }

    /// Fetch request version the replica fetcher sends for this IBP (Kafka's `fetchRequestVersion`).
    pub fn fetch_version(self) -> i16 {
        let at_least = |name: &str| self >= Self::named(name);
        if at_least("3.7-IV4") {
            16
        } else if at_least("3.5-IV1") {
            15
        } else if at_least("3.5-IV0") {
            14
        } else if at_least("3.1-IV0") {
            13
        } else if at_least("2.7-IV1") {
            12
        } else {
            11
        }
    }

    /// OffsetsForLeaderEpoch version the replica fetcher sends for this IBP (Kafka's
    /// `offsetForLeaderEpochRequestVersion`; the lab's codec knows v2 and up).
    pub fn offsets_for_leader_epoch_version(self) -> i16 {
        if self >= Self::named("2.8-IV0") {
            4
        } else if self >= Self::named("2.3-IV1") {
            3
        } else {
            2
        }
    }

    /// The full name, e.g. `3.7-IV4`.
    pub fn name(self) -> &'static str {
        IBPS[self.0]
    }
}

impl fmt::Display for Ibp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// API keys the lab serves.
pub mod keys {
    #![allow(missing_docs)]
    pub const PRODUCE: i16 = 0;
    pub const FETCH: i16 = 1;
    pub const LIST_OFFSETS: i16 = 2;
    pub const METADATA: i16 = 3;
    pub const OFFSET_COMMIT: i16 = 8;
    pub const OFFSET_FETCH: i16 = 9;
    pub const FIND_COORDINATOR: i16 = 10;
    pub const JOIN_GROUP: i16 = 11;
    pub const HEARTBEAT: i16 = 12;
    pub const LEAVE_GROUP: i16 = 13;
    pub const SYNC_GROUP: i16 = 14;
    pub const LIST_GROUPS: i16 = 16;
    pub const SASL_HANDSHAKE: i16 = 17;
    pub const API_VERSIONS: i16 = 18;
    pub const CREATE_TOPICS: i16 = 19;
    pub const INIT_PRODUCER_ID: i16 = 22;
    pub const OFFSET_FOR_LEADER_EPOCH: i16 = 23;
    pub const DESCRIBE_CONFIGS: i16 = 32;
    pub const SASL_AUTHENTICATE: i16 = 36;
    pub const DESCRIBE_CLUSTER: i16 = 60;
}

use keys::*;

/// Kafka 3.1 (Confluent 7.1), ZooKeeper-mode broker.
const KAFKA_3_1: &[(i16, i16, i16)] = &[
    (PRODUCE, 0, 9),
    (FETCH, 0, 13),
    (LIST_OFFSETS, 0, 7),
    (METADATA, 0, 12),
    (OFFSET_COMMIT, 0, 8),
    (OFFSET_FETCH, 0, 8),
    (FIND_COORDINATOR, 0, 4),
    (JOIN_GROUP, 0, 7),
    (HEARTBEAT, 0, 4),
    (LEAVE_GROUP, 0, 4),
    (SYNC_GROUP, 0, 5),
    (LIST_GROUPS, 0, 4),
    (API_VERSIONS, 0, 3),
    (INIT_PRODUCER_ID, 0, 4),
    (OFFSET_FOR_LEADER_EPOCH, 0, 4),
    (CREATE_TOPICS, 0, 7),
    (DESCRIBE_CONFIGS, 0, 4),
    (SASL_HANDSHAKE, 0, 1),
    (SASL_AUTHENTICATE, 0, 2),
    (DESCRIBE_CLUSTER, 0, 0),
];

/// Kafka 3.7 (Confluent 7.7), ZooKeeper-mode broker.
const KAFKA_3_7: &[(i16, i16, i16)] = &[
    (PRODUCE, 0, 10),
    (FETCH, 0, 16),
    (LIST_OFFSETS, 0, 8),
    (METADATA, 0, 12),
    (OFFSET_COMMIT, 0, 9),
    (OFFSET_FETCH, 0, 9),
    (FIND_COORDINATOR, 0, 4),
    (JOIN_GROUP, 0, 9),
    (HEARTBEAT, 0, 4),
    (LEAVE_GROUP, 0, 5),
    (SYNC_GROUP, 0, 5),
    (LIST_GROUPS, 0, 4),
    (API_VERSIONS, 0, 3),
    (INIT_PRODUCER_ID, 0, 4),
    (OFFSET_FOR_LEADER_EPOCH, 0, 4),
    (CREATE_TOPICS, 0, 7),
    (DESCRIBE_CONFIGS, 0, 4),
    (SASL_HANDSHAKE, 0, 1),
    (SASL_AUTHENTICATE, 0, 2),
    (DESCRIBE_CLUSTER, 0, 1),
];

/// Kafka 3.8 (Confluent 7.8), ZooKeeper-mode broker.
const KAFKA_3_8: &[(i16, i16, i16)] = &[
    (PRODUCE, 0, 11),
    (FETCH, 0, 16),
    (LIST_OFFSETS, 0, 8),
    (METADATA, 0, 12),
    (OFFSET_COMMIT, 0, 9),
    (OFFSET_FETCH, 0, 9),
    (FIND_COORDINATOR, 0, 5),
    (JOIN_GROUP, 0, 9),
    (HEARTBEAT, 0, 4),
    (LEAVE_GROUP, 0, 5),
    (SYNC_GROUP, 0, 5),
    (LIST_GROUPS, 0, 5),
    (API_VERSIONS, 0, 3),
    (INIT_PRODUCER_ID, 0, 4),
    (OFFSET_FOR_LEADER_EPOCH, 0, 4),
    (CREATE_TOPICS, 0, 7),
    (DESCRIBE_CONFIGS, 0, 4),
    (SASL_HANDSHAKE, 0, 1),
    (SASL_AUTHENTICATE, 0, 2),
    (DESCRIBE_CLUSTER, 0, 1),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> SoftwareVersion {
        SoftwareVersion::parse(text).expect("version")
    }

    #[test]
    fn software_versions_outside_3_1_3_7_3_8_are_rejected() {
        assert!(SoftwareVersion::parse("3.6.0").is_err());
        assert!(SoftwareVersion::parse("junk").is_err());
        assert_eq!(v("3.7.1").to_string(), "3.7.1");
    }

    #[test]
    fn ibp_short_names_map_to_latest_internal_version() {
        assert_eq!(
            Ibp::parse("3.1", v("3.1.1")).expect("ibp").name(),
            "3.1-IV0"
        );
        assert_eq!(
            Ibp::parse("3.7", v("3.7.1")).expect("ibp").name(),
            "3.7-IV4"
        );
        assert_eq!(
            Ibp::parse("3.7-IV2", v("3.8.0")).expect("ibp").name(),
            "3.7-IV2"
        );
        assert_eq!(
            Ibp::parse("3.8", v("3.8.0")).expect("ibp").name(),
            "3.8-IV0"
        );
        assert_eq!(
            Ibp::parse("2.8.1", v("3.1.1")).expect("ibp").name(),
            "2.8-IV1"
        );
        assert_eq!(
            Ibp::parse("0.10.2", v("3.1.1")).expect("ibp").name(),
            "0.10.2-IV0"
        );
    }

    #[test]
    fn ibp_above_software_version_is_refused() {
        match Ibp::parse("3.7", v("3.1.1")) {
            Err(BrokerError::Ibp {
                newer_than_software: true,
                ..
            }) => {}
            other => panic!("expected refusal, got {other:?}"),
        }
        assert!(Ibp::parse("3.8-IV0", v("3.7.1")).is_err());
        match Ibp::parse("banana", v("3.8.0")) {
            Err(BrokerError::Ibp {
                newer_than_software: false,
                ..
            }) => {}
            other => panic!("expected unknown, got {other:?}"),
        }
    }

    #[test]
    fn replica_fetch_version_follows_ibp() {
        assert_eq!(
            Ibp::parse("3.1", v("3.8.0")).expect("ibp").fetch_version(),
            13
        );
        assert_eq!(
            Ibp::parse("3.5-IV1", v("3.8.0"))
                .expect("ibp")
                .fetch_version(),
            15
        );
        assert_eq!(v("3.7.1").latest_ibp().fetch_version(), 16);
        assert_eq!(v("3.1.1").api_range(keys::FETCH), Some((0, 13)));
    }
}
