//! Platform versions (Confluent Platform) and the Kafka versions they carry, and which upgrade
//! paths are legal in ZooKeeper mode.
//!
//! Confluent Platform 7.x = Kafka 3.(x−…): 7.0 → 3.0, 7.1 → 3.1, …, 7.7 → 3.7, 7.8 → 3.8,
//! 7.9 → 3.9. Kafka 4.x / Confluent 8.x are KRaft-only: a ZooKeeper-mode cluster must first
//! reach 7.7.1+ and migrate to KRaft — kroll refuses those paths, as it refuses downgrades.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Confluent Platform version like `7.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// A Kafka release line like `3.1` (what `inter.broker.protocol.version` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KafkaLine {
    pub major: u32,
    pub minor: u32,
}

/// Why a version or a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("`{0}` is not a platform version like 7.7.1")]
    Malformed(String),
    #[error("Confluent Platform {0} is unknown to kroll (known: 7.0.x to 7.9.x in ZooKeeper mode)")]
    Unknown(Platform),
    #[error(
        "Confluent Platform {to} (Kafka {kafka}) runs only in KRaft mode; a ZooKeeper-mode cluster must first reach 7.7.1 or later, migrate to KRaft, and only then upgrade — never both at once"
    )]
    KraftOnly { to: Platform, kafka: KafkaLine },
    #[error(
        "{from} → {to} is a downgrade; kroll only upgrades (roll back an unfinished upgrade with `kroll rollback`)"
    )]
    Downgrade { from: Platform, to: Platform },
    #[error("the cluster already runs {0}; nothing to upgrade")]
    Same(Platform),
    #[error("`{0}` is not an inter.broker.protocol.version like 3.1 or 3.1-IV0")]
    BadIbp(String),
}

impl FromStr for Platform {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let core = s.trim().split(['-', '+']).next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
        match (parts.len(), num(0), num(1), num(2)) {
            (3, Some(major), Some(minor), Some(patch)) => Ok(Self {
                major,
                minor,
                patch,
            }),
            _ => Err(VersionError::Malformed(s.to_owned())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl fmt::Display for KafkaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl KafkaLine {
    /// Parses an IBP value: `3.1`, `3.1-IV0`, `3.7-IV4`, `3.1.1`.
    pub fn parse_ibp(s: &str) -> Result<Self, VersionError> {
        let base = s.trim().split('-').next().unwrap_or("");
        let mut it = base.split('.');
        let major = it.next().and_then(|p| p.parse().ok());
        let minor = it.next().and_then(|p| p.parse().ok());
        match (major, minor) {
            (Some(major), Some(minor)) => Ok(Self { major, minor }),
            _ => Err(VersionError::BadIbp(s.to_owned())),
        }
    }

    /// The value to write into `inter.broker.protocol.version`.
    pub fn ibp(self) -> String {
        self.to_string()
    }

    /// Kafka 4 and later run only in KRaft mode.
    pub fn kraft_only(self) -> bool {
        self.major >= 4
    }
}

impl Platform {
    /// The Kafka release line this platform version carries, when kroll knows it.
    pub fn kafka(self) -> Option<KafkaLine> {
        match (self.major, self.minor) {
            (7, m @ 0..=9) => Some(KafkaLine { major: 3, minor: m }),
            (8, m @ 0..=1) => Some(KafkaLine { major: 4, minor: m }),
            _ => None,
        }
    }

    /// Checks `self → to` is an upgrade kroll performs in ZooKeeper mode; returns the Kafka
    /// lines (from, to).
    pub fn upgrade_path(self, to: Platform) -> Result<(KafkaLine, KafkaLine), VersionError> {
        let from_k = self.kafka().ok_or(VersionError::Unknown(self))?;
        let to_k = to.kafka().ok_or(VersionError::Unknown(to))?;
        if to_k.kraft_only() {
            return Err(VersionError::KraftOnly { to, kafka: to_k });
        }
        match self.cmp(&to) {
            Ordering::Greater => Err(VersionError::Downgrade { from: self, to }),
            Ordering::Equal => Err(VersionError::Same(self)),
            Ordering::Less => Ok((from_k, to_k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().expect(s)
    }

    #[test]
    fn platform_versions_map_to_kafka_lines() {
        assert_eq!(p("7.1.1").kafka(), Some(KafkaLine { major: 3, minor: 1 }));
        assert_eq!(
            p("7.7.1").kafka().map(KafkaLine::ibp).as_deref(),
            Some("3.7")
        );
        assert_eq!(
            p("7.8.0").kafka().map(KafkaLine::ibp).as_deref(),
            Some("3.8")
        );
        assert_eq!(p("8.0.0").kafka(), Some(KafkaLine { major: 4, minor: 0 }));
        assert_eq!(p("6.2.0").kafka(), None);
        assert_eq!(
            p("7.7.1-3.5.0-dev"),
            p("7.7.1"),
            "in-house tag suffixes are ignored"
        );
    }

    #[test]
    fn legal_and_illegal_paths() {
        assert_eq!(
            p("7.1.1")
                .upgrade_path(p("7.7.1"))
                .map(|(a, b)| (a.ibp(), b.ibp())),
            Ok(("3.1".into(), "3.7".into()))
        );
        assert!(p("7.1.1").upgrade_path(p("7.8.0")).is_ok());
        let kraft = p("7.1.1").upgrade_path(p("8.0.0")).unwrap_err();
        assert!(kraft.to_string().contains("KRaft"), "{kraft}");
        assert!(matches!(
            p("7.7.1").upgrade_path(p("7.1.1")),
            Err(VersionError::Downgrade { .. })
        ));
        assert!(matches!(
            p("7.1.1").upgrade_path(p("7.1.1")),
            Err(VersionError::Same(_))
        ));
        assert!(matches!(
            p("7.1.1").upgrade_path(p("9.9.9")),
            Err(VersionError::Unknown(_))
        ));
        assert!(matches!(
            "7.7".parse::<Platform>(),
            Err(VersionError::Malformed(_))
        ));
    }

    #[test]
    fn ibp_values_parse() {
        assert_eq!(
            KafkaLine::parse_ibp("3.1-IV0"),
            Ok(KafkaLine { major: 3, minor: 1 })
        );
        assert_eq!(
            KafkaLine::parse_ibp("3.7"),
            Ok(KafkaLine { major: 3, minor: 7 })
        );
        assert!(KafkaLine::parse_ibp("three").is_err());
    }
}
