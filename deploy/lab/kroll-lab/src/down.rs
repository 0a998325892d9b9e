//! `kroll-lab down`: removes every container, network and volume labelled with the lab, stops
//! the agents recorded in its state file (by PID, only while that PID still runs this lab's
//! agent), and removes the runtime files `lab up` wrote. Safe to run twice.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::docker as lab_docker;
use super::state::{self, LabState, RUNTIME_ENTRIES};
use super::{LabError, Progress, agents};

/// What `lab down` is asked to do.
#[derive(Debug, Clone)]
pub struct DownOptions {
    pub name: String,
    /// The lab directory; default: the one recorded on the lab's network, else the default.
    pub dir: Option<PathBuf>,
    pub progress: Progress,
}

impl DownOptions {
    /// Down lab `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            dir: None,
            progress: Progress::default(),
        }
    }
}

/// What `lab down` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DownReport {
    pub name: String,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// PIDs of the agents stopped.
    pub agents: Vec<u32>,
    pub dir: Option<PathBuf>,
    pub elapsed_ms: u64,
}

/// Removes lab `opts.name` entirely.
pub async fn down(opts: DownOptions) -> Result<DownReport, LabError> {
    let began = Instant::now();
    super::topology::check_name(&opts.name)?;
    let p = &opts.progress;
    let docker = lab_docker::connect().await?;
    let networks = lab_docker::lab_networks(&docker, &opts.name).await?;
    let recorded_dir = networks
        .iter()
        .find_map(|(_, l)| l.get(lab_docker::DIR_LABEL).map(PathBuf::from));
    let dir = opts
        .dir
        .as_deref()
        .map(state::absolute)
        .or(recorded_dir)
        .unwrap_or_else(|| state::default_dir(&opts.name));
    let mut report = DownReport {
        name: opts.name.clone(),
        ..Default::default()
    };
    // A Swarm lab's containers, volumes and networks live in its own engines: they go with them.
    let swarm = super::swarm::down(&dir, p).await?;
    if !swarm.problems.is_empty() {
        return Err(LabError::Swarm(format!(
            "removing lab `{}` left: {}",
            opts.name,
            swarm.problems.join("; ")
        )));
    }
    report.agents = swarm.agents;
    let recorded = LabState::load(&dir)
        .ok()
        .flatten()
        .filter(|s| s.name == opts.name);
    if let Some(s) = &recorded {
        // A Swarm lab's agents were stopped with its engines.
        let left: Vec<_> = (s.agents.iter())
            .filter(|a| !report.agents.contains(&a.pid))
            .collect();
        if !left.is_empty() {
            p.step(&format!("Stopping {} agents…", left.len()));
        }
        for a in left {
            if agents::stop(a).await {
                report.agents.push(a.pid);
            }
        }
    }
    let listing = lab_docker::lab_listing(&docker, &opts.name).await?;
    report.containers = listing.containers;
    p.step(&format!("Removing {} containers…", report.containers.len()));
    futures::future::try_join_all(
        report
            .containers
            .iter()
            .map(|c| lab_docker::remove_container(&docker, c)),
    )
    .await?;
    for (name, _) in &networks {
        lab_docker::remove_network(&docker, name).await?;
        report.networks.push(name.clone());
    }
    report.volumes = lab_docker::lab_volumes(&docker, &opts.name).await?;
    report.volumes.extend(listing.anonymous_volumes);
    p.step(&format!("Removing {} volumes…", report.volumes.len()));
    for v in &report.volumes {
        lab_docker::remove_volume(&docker, v).await?;
    }
    if recorded.as_ref().is_some_and(|s| s.security.is_sasl()) {
        p.step("Removing the JAAS file and kroll's Kafka password file…");
    }
    if recorded.as_ref().is_some_and(|s| s.security.is_tls()) {
        p.step("Removing the lab's Kafka CA, keystore and client certificates…");
    }
    if remove_runtime_files(&dir)? {
        report.dir = Some(dir);
    }
    report.elapsed_ms = began.elapsed().as_millis() as u64;
    p.step(&format!("Lab `{}` is gone.", opts.name));
    Ok(report)
}

/// Removes what `lab up` wrote in `dir`, and `dir` itself when that leaves it empty. Returns
/// whether anything was there.
fn remove_runtime_files(dir: &Path) -> Result<bool, LabError> {
    if !dir.is_dir() {
        return Ok(false);
    }
    for entry in RUNTIME_ENTRIES {
        let p = dir.join(entry);
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else if p.exists() {
            std::fs::remove_file(&p)
        } else {
            Ok(())
        };
        r.map_err(LabError::io(&p))?;
    }
    let empty = std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty {
        std::fs::remove_dir(dir).map_err(LabError::io(dir))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_files_go_and_foreign_files_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lab = dir.path().join("lab");
        std::fs::create_dir_all(lab.join("certs")).expect("mkdir");
        std::fs::create_dir_all(lab.join("secrets")).expect("mkdir");
        std::fs::write(lab.join("secrets/KAFKA_JAAS"), "x").expect("write");
        std::fs::write(lab.join("kafka-password"), "x").expect("write");
        std::fs::write(lab.join("kroll.toml"), "x").expect("write");
        std::fs::write(lab.join("lab.json"), "{}").expect("write");
        std::fs::write(lab.join("certs/ca.pem"), "x").expect("write");
        std::fs::write(lab.join("notes.txt"), "mine").expect("write");
        assert!(remove_runtime_files(&lab).expect("remove"));
        let left: Vec<_> = std::fs::read_dir(&lab)
            .expect("read")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["notes.txt"]);
        std::fs::remove_file(lab.join("notes.txt")).expect("rm");
        std::fs::write(lab.join("lab.json"), "{}").expect("write");
        assert!(remove_runtime_files(&lab).expect("remove"));
        assert!(!lab.exists());
        assert!(!remove_runtime_files(&lab).expect("again"));
    }
}
