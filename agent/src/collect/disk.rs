//! Filesystems: which host filesystem holds each managed container's data, and how full it is.

use std::collections::BTreeSet;

use kroll_shared::model::{Disk, path_is_under};
use sysinfo::Disks;

/// Reads the mounted filesystems and keeps those that hold one of `paths` (the longest mount
/// point that is a prefix of each path), plus the root filesystem. Blocking.
pub fn disks_holding<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<Disk> {
    let all: Vec<Disk> = Disks::new_with_refreshed_list()
        .map(|disks| disks.iter().map(to_disk).collect())
        .unwrap_or_default();
    select(&all, paths)
}

fn to_disk(d: &sysinfo::Disk) -> Disk {
    Disk {
        mount_point: d.mount_point().to_string_lossy().into_owned(),
        filesystem: d.file_system().to_string_lossy().into_owned(),
        device: d.name().to_string_lossy().into_owned(),
        total_bytes: d.total_space(),
        available_bytes: d.available_space(),
    }
}

/// The disks of `all` that hold one of `paths`, and `/` when present; sorted by mount point.
pub fn select<'a>(all: &[Disk], paths: impl IntoIterator<Item = &'a str>) -> Vec<Disk> {
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    if all.iter().any(|d| d.mount_point == "/") {
        wanted.insert("/");
    }
    for path in paths {
        if let Some(d) = holder(all, path) {
            wanted.insert(d.mount_point.as_str());
        }
    }
    let mut out: Vec<Disk> = all
        .iter()
        .filter(|d| wanted.contains(d.mount_point.as_str()))
        .cloned()
        .collect();
    out.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    out.dedup_by(|a, b| a.mount_point == b.mount_point);
    out
}

/// The disk with the longest mount point that holds `path`.
pub fn holder<'d>(all: &'d [Disk], path: &str) -> Option<&'d Disk> {
    all.iter()
        .filter(|d| path_is_under(path, &d.mount_point))
        .max_by_key(|d| d.mount_point.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(m: &str) -> Disk {
        Disk {
            mount_point: m.into(),
            filesystem: "ext4".into(),
            device: "/dev/x".into(),
            total_bytes: 10,
            available_bytes: 5,
        }
    }

    #[test]
    fn only_disks_holding_data_and_root_are_kept() {
        let all = vec![disk("/"), disk("/boot"), disk("/data"), disk("/data/kafka")];
        let got = select(&all, ["/data/kafka/x", "/data/zk"]);
        let mounts: Vec<&str> = got.iter().map(|d| d.mount_point.as_str()).collect();
        assert_eq!(mounts, ["/", "/data", "/data/kafka"]);
    }

    #[test]
    fn the_real_root_filesystem_is_found() {
        let disks = disks_holding(["/tmp"]);
        assert!(
            !disks.is_empty(),
            "sysinfo found no filesystem holding /tmp"
        );
        assert!(disks.iter().all(|d| d.total_bytes >= d.available_bytes));
    }
}
