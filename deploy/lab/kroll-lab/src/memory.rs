//! What a running lab costs in memory: every container's usage as `docker stats` computes it
//! (cgroup usage minus inactive page cache), plus the agents' resident memory.

use std::fmt;

use bollard::query_parameters::StatsOptions;
use futures::StreamExt;
use serde::Serialize;

use super::LabError;
use super::agents::{AgentRecord, rss_bytes};
use super::docker as lab_docker;

/// Memory of a lab, in bytes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryReport {
    /// `(container, bytes)`, by name.
    pub containers: Vec<(String, u64)>,
    pub containers_total: u64,
    /// Resident memory of the agents together.
    pub agents_total: u64,
    pub total: u64,
}

impl fmt::Display for MemoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "{:.0} MiB ({} containers {:.0} MiB + agents {:.0} MiB)",
            mib(self.total),
            self.containers.len(),
            mib(self.containers_total),
            mib(self.agents_total)
        )
    }
}

/// Measures lab `lab` now.
pub async fn memory(lab: &str, agents: &[AgentRecord]) -> Result<MemoryReport, LabError> {
    let docker = lab_docker::connect().await?;
    let mut report = MemoryReport::default();
    for name in lab_docker::lab_containers(&docker, lab).await? {
        let opts = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = docker.stats(&name, Some(opts));
        let Some(stats) = stream.next().await else {
            continue;
        };
        let stats = stats.map_err(|e| LabError::docker(format!("stats of {name}"), e))?;
        let used = stats.memory_stats.map_or(0, |m| {
            let cache = m.stats.as_ref().map_or(0, |s| {
                s.get("inactive_file")
                    .or_else(|| s.get("total_inactive_file"))
                    .copied()
                    .unwrap_or(0)
            });
            m.usage.unwrap_or(0).saturating_sub(cache)
        });
        report.containers_total += used;
        report.containers.push((name, used));
    }
    report.containers.sort();
    report.agents_total = agents.iter().filter_map(|a| rss_bytes(a.pid)).sum();
    report.total = report.containers_total + report.agents_total;
    Ok(report)
}
