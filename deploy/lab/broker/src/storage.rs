//! The log directory: `meta.properties`, the clean-shutdown marker, the high-watermark
//! checkpoint and one sub-directory per partition (`<topic>-<partition>`), as Kafka lays it out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::BrokerError;

/// Kafka's clean shutdown marker file name.
pub const CLEAN_SHUTDOWN: &str = ".kafka_cleanshutdown";
/// Kafka's high-watermark checkpoint file name.
pub const HW_CHECKPOINT: &str = "replication-offset-checkpoint";

/// The broker's log directory.
#[derive(Debug, Clone)]
pub struct Storage {
    dir: PathBuf,
}

impl Storage {
    /// Opens `dir`, checks `meta.properties` against the broker id and cluster id (writing it on
    /// first start) and consumes the clean-shutdown marker. Returns whether the last stop was clean.
    pub fn open(dir: &Path, broker_id: i32, cluster_id: &str) -> Result<(Self, bool), BrokerError> {
        std::fs::create_dir_all(dir).map_err(BrokerError::io("creating log directory", dir))?;
        let storage = Self {
            dir: dir.to_path_buf(),
        };
        storage.check_meta(broker_id, cluster_id)?;
        let marker = dir.join(CLEAN_SHUTDOWN);
        let has_data = !storage.partitions()?.is_empty();
        let clean = marker.exists() || !has_data;
        if marker.exists() {
            std::fs::remove_file(&marker)
                .map_err(BrokerError::io("removing clean shutdown marker", &marker))?;
        }
        Ok((storage, clean))
    }

    fn check_meta(&self, broker_id: i32, cluster_id: &str) -> Result<(), BrokerError> {
        let path = self.dir.join("meta.properties");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let get = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(str::trim))
            };
            if let Some(stored) = get("broker.id").filter(|s| *s != broker_id.to_string()) {
                return Err(BrokerError::Storage(format!(
                    "Configured broker.id {broker_id} doesn't match stored broker.id Some({stored}) in meta.properties. \
                     If you moved your data, make sure your configured broker.id matches. If you intend to create a new \
                     broker, you should remove all data in your data directories (log.dirs)."
                )));
            }
            if let Some(stored) = get("cluster.id").filter(|s| *s != cluster_id) {
                return Err(BrokerError::Storage(format!(
                    "The Cluster ID {cluster_id} doesn't match stored clusterId Some({stored}) in meta.properties. \
                     The broker is trying to join the wrong cluster. Configured zookeeper.connect may be wrong."
                )));
            }
            return Ok(());
        }
        let text = format!(
            "#\n#{}\nbroker.id={broker_id}\nversion=0\ncluster.id={cluster_id}\n",
            crate::logging::now_ms()
        );
        std::fs::write(&path, text).map_err(BrokerError::io("writing", &path))
    }

    /// Directory of a partition's log.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.dir.join(format!("{topic}-{partition}"))
    }

    /// Partitions that have a log here.
    pub fn partitions(&self) -> Result<Vec<(String, i32)>, BrokerError> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .map_err(BrokerError::io("listing log directory", &self.dir))?;
        for entry in entries.flatten() {
            if !entry.path().is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some((topic, p)) = name.rsplit_once('-')
                && let Ok(p) = p.parse()
            {
                out.push((topic.to_string(), p));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Reads the high-watermark checkpoint.
    pub fn read_hw(&self) -> BTreeMap<(String, i32), i64> {
        let text = std::fs::read_to_string(self.dir.join(HW_CHECKPOINT)).unwrap_or_default();
        text.lines()
            .skip(2)
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((
                    (it.next()?.to_string(), it.next()?.parse().ok()?),
                    it.next()?.parse().ok()?,
                ))
            })
            .collect()
    }

    /// Writes the high-watermark checkpoint (atomically, through a temp file).
    pub fn write_hw(&self, hws: &BTreeMap<(String, i32), i64>) -> Result<(), BrokerError> {
        let mut text = format!("0\n{}\n", hws.len());
        for ((topic, p), hw) in hws {
            text.push_str(&format!("{topic} {p} {hw}\n"));
        }
        let tmp = self.dir.join(format!("{HW_CHECKPOINT}.tmp"));
        std::fs::write(&tmp, text).map_err(BrokerError::io("writing", &tmp))?;
        let path = self.dir.join(HW_CHECKPOINT);
        std::fs::rename(&tmp, &path).map_err(BrokerError::io("renaming", &path))
    }

    /// Writes the clean-shutdown marker (last step of a controlled shutdown).
    pub fn mark_clean(&self) -> Result<(), BrokerError> {
        let path = self.dir.join(CLEAN_SHUTDOWN);
        std::fs::write(&path, b"").map_err(BrokerError::io("writing", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_properties_pin_broker_and_cluster() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (storage, clean) = Storage::open(dir.path(), 1, "c1").expect("first open");
        assert!(clean);
        std::fs::create_dir_all(storage.partition_dir("t", 0)).expect("mkdir");
        assert!(
            !Storage::open(dir.path(), 1, "c1").expect("reopen").1,
            "data without marker = unclean"
        );
        storage.mark_clean().expect("marker");
        assert!(Storage::open(dir.path(), 1, "c1").expect("reopen").1);
        let err = Storage::open(dir.path(), 2, "c1")
            .expect_err("other id")
            .to_string();
        assert!(
            err.contains("doesn't match stored broker.id Some(1)"),
            "{err}"
        );
        assert!(
            Storage::open(dir.path(), 1, "c2")
                .expect_err("other cluster")
                .to_string()
                .contains("wrong cluster")
        );
    }

    #[test]
    fn hw_checkpoint_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (storage, _) = Storage::open(dir.path(), 1, "c").expect("open");
        let hws: BTreeMap<_, _> = [(("a-b".to_string(), 0), 5), (("t".to_string(), 2), 9)].into();
        storage.write_hw(&hws).expect("write");
        assert_eq!(storage.read_hw(), hws);
        assert_eq!(
            storage.partitions().expect("list"),
            Vec::<(String, i32)>::new()
        );
    }
}
