//! What the `kroll connectors …`, `kroll backup` and `kroll restore` commands share: their
//! clients built from the inventory (a missing service is a usage error, exit 2) and their
//! output (progress on stderr, JSON on stdout).

use std::time::Duration;

use kroll_shared::inventory::Inventory;

use super::UsageError;
use crate::connect::ConnectClients;
use crate::kafka::{Kafka, KafkaConnection};
use crate::registry::RegistryClient;
use crate::rest::RestOptions;

pub(super) fn connect_clients(inv: &Inventory) -> anyhow::Result<ConnectClients> {
    ConnectClients::from_inventory(inv, RestOptions::default())
        .map_err(|e| UsageError(e.to_string()).into())
}

pub(super) fn registry_client(inv: &Inventory) -> anyhow::Result<RegistryClient> {
    RegistryClient::from_inventory(inv, RestOptions::default())
        .map_err(|e| UsageError(e.to_string()).into())
}

pub(super) fn kafka(inv: &Inventory) -> anyhow::Result<Kafka> {
    if inv.cluster.kafka_bootstrap.is_empty() {
        return Err(UsageError(
            "the inventory's [cluster] kafka_bootstrap is empty; kroll measures lag and offsets through Kafka".into(),
        )
        .into());
    }
    let connection = KafkaConnection::from_inventory(inv).map_err(|e| UsageError(e.to_string()))?;
    Ok(Kafka::new(connection, Duration::from_secs(10)))
}

/// Progress lines go to stderr, so `--output json` keeps stdout clean.
pub(super) fn progress(line: &str) {
    eprintln!("{line}");
}

pub(super) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
