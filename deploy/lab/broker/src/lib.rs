//! The lab's stand-in Kafka broker.
//!
//! It speaks Kafka's wire protocol (through `kafka-protocol`) to clients nobody here wrote
//! (rdkafka, kcat), registers in a real ZooKeeper with Kafka 3.x's znodes, elects a controller,
//! keeps partitions with leaders and ISR, replicates with Kafka's own Fetch API between brokers at
//! the version the inter-broker protocol version (IBP) implies, and reproduces the timings that make
//! a rolling upgrade dangerous: a controlled shutdown that takes time, log recovery after a hard
//! kill, and a catch-up time that grows with what a restarted broker missed. What is real, simulated
//! or simplified is written down in `deploy/lab/LAB.md`, section "Broker".
//!
//! # Layout
//! - [`config`]: `cp-kafka`-style environment → properties, `LAB_*` knobs.
//! - [`version`]: software version (from the image's version file), IBP, `ApiVersions` ranges.
//! - [`zk`]: ZooKeeper session and Kafka's znode JSON; [`metadata`]: the cached cluster view.
//! - [`controller`]: election through `/controller` and leader/ISR decisions (pure `plan`).
//! - [`log`]: a partition log on disk; [`epoch`]: its leader epochs (KIP-101/279 decisions);
//!   [`producer`]: idempotent producer state ([`producer_ids`]: their ids); [`storage`]: the log directory (markers, checkpoints).
//! - [`partition`]: one replica (log, high watermark); [`replica`]: leader-side high watermark and ISR; [`fetcher`]: follower replication;
//!   [`truncation`]: its truncation against a new leader (OffsetsForLeaderEpoch).
//! - [`topics`]: topic creation and placement; [`group`]: the group coordinator.
//! - [`acl`]: ACLs from ZooKeeper with AclAuthorizer's decisions (checked in `api::authz`).
//! - [`server`] and [`codec`]: listeners, framing, inter-broker client; [`api`]: one module per API family.
//! - [`sasl`]: SASL (PLAIN, SCRAM) on SASL_PLAINTEXT and SASL_SSL listeners (server and
//!   inter-broker PLAIN client); [`jaas`]: the JAAS file PLAIN users come from; [`scram`]:
//!   SCRAM-SHA-256/512 and Kafka's credential znodes.
//! - [`tls`]: SSL and SASL_SSL listeners (rustls), the SSL principal from a client certificate.
//! - [`broker`]: start-up, log recovery, controlled shutdown; [`logging`]: Kafka-like lines and `LAB-EVENT`s.
#![forbid(unsafe_code)]

pub mod acl;
pub mod api;
pub mod broker;
pub mod codec;
pub mod config;
pub mod controller;
pub mod epoch;
pub mod error;
pub mod fetcher;
pub mod group;
pub mod jaas;
pub mod log;
pub mod logging;
pub mod metadata;
pub mod partition;
pub mod producer;
pub mod producer_ids;
pub mod replica;
pub mod sasl;
pub mod scram;
pub mod server;
pub mod storage;
pub mod tls;
pub mod topics;
pub mod truncation;
pub mod version;
pub mod zk;

use std::path::PathBuf;

pub use error::BrokerError;

/// Default location of the software version file in the lab images.
pub const VERSION_FILE: &str = "/opt/lab/KAFKA_VERSION";

/// Reads the software version file.
pub fn read_version(path: &std::path::Path) -> Result<version::SoftwareVersion, BrokerError> {
    let text = std::fs::read_to_string(path)
        .map_err(BrokerError::io("reading the software version file", path))?;
    version::SoftwareVersion::parse(&text)
}

/// Where the version file is: `--version-file PATH` (host-process tests), else
/// [`VERSION_FILE`]. No environment variable can change it: a container's environment must
/// not be able to make the broker claim another software version than its image's.
pub fn version_file(args: &[String]) -> Result<PathBuf, BrokerError> {
    let bad = |key: &str, reason: &str| BrokerError::Config {
        key: key.into(),
        reason: reason.into(),
    };
    match args {
        [] => Ok(PathBuf::from(VERSION_FILE)),
        [flag, path] if flag == "--version-file" => Ok(PathBuf::from(path)),
        [flag] if flag == "--version-file" => Err(bad("--version-file", "needs a path")),
        [arg] if arg.starts_with("--version-file=") => {
            Ok(PathBuf::from(&arg["--version-file=".len()..]))
        }
        [arg, ..] => Err(bad(
            arg,
            "unknown argument (only --version-file PATH is accepted)",
        )),
    }
}
