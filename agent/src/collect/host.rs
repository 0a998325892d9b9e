//! Host figures: name, uptime, CPU, memory, load (sysinfo).
//!
//! CPU usage is a rate, so it needs two readings: [`HostSampler::sample`] is called every
//! sampling interval by the agent's background task and keeps the latest [`Host`].

use std::sync::{Arc, Mutex};

use kroll_shared::model::Host;
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

/// Keeps a `sysinfo::System` with only CPU and memory loaded (nothing else: no process table),
/// and the last snapshot taken from it.
#[derive(Debug, Clone)]
pub struct HostSampler {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    sys: System,
    last: Host,
}

impl HostSampler {
    /// Loads the static facts and takes a first reading (CPU usage reads 0 until the second).
    pub fn new() -> Result<Self, sysinfo::Error> {
        let kinds = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing().with_usage())
            .with_memory(MemoryRefreshKind::nothing().with_ram());
        let sys = System::new_with_specifics(kinds)?;
        let last = read(&sys);
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner { sys, last })),
        })
    }

    /// Refreshes CPU and memory and stores a new snapshot. Blocking: call from the blocking pool.
    pub fn sample(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sys.refresh_cpu_usage();
        inner
            .sys
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        inner.last = read(&inner.sys);
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Host {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last
            .clone()
    }
}

fn read(sys: &System) -> Host {
    let load = System::load_average().ok();
    Host {
        hostname: System::host_name().unwrap_or_default(),
        uptime_seconds: System::uptime().unwrap_or(0),
        cpu_count: u32::try_from(sys.cpus().len()).unwrap_or(u32::MAX),
        cpu_usage_percent: sys.global_cpu_usage(),
        memory_total_bytes: sys.total_memory(),
        memory_available_bytes: sys.available_memory(),
        load_average: load.map_or([0.0; 3], |l| [l.one, l.five, l.fifteen]),
        kernel_version: System::kernel_version().unwrap_or_default(),
        os: System::long_os_version().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_described_from_the_real_machine() {
        let sampler = HostSampler::new().expect("sysinfo");
        sampler.sample();
        let host = sampler.latest();
        assert!(host.cpu_count >= 1);
        assert!(host.memory_total_bytes >= host.memory_available_bytes);
        assert!(host.memory_total_bytes > 0);
        assert!(host.uptime_seconds > 0);
        assert!((0.0..=100.0).contains(&host.cpu_usage_percent));
    }
}
