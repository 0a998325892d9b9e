//! The `[jvm]` section of the agent's configuration: thresholds of the JVM events.
//!
//! ```toml
//! [jvm]
//! enabled = true                 # sample JVM heaps and follow Java containers' logs
//! pressure_old_percent = 90      # old generation ≥ this share of the max heap after a full GC
//! pressure_full_gcs = 3          # … or this many full GCs within the window
//! pressure_window_seconds = 60
//! hung_after_ms = 10000          # tick counter still for this long = hung JVM
//! oom_repeat_seconds = 10        # OOM log lines within this after an event fold into the next
//! proc_root = "/proc"            # the HOST's proc: "/host/proc" when the agent runs in a
//!                                # container without the host's pid namespace (a Swarm global
//!                                # service: bind-mount /proc read-only there, add SYS_PTRACE)
//! ```

use std::path::PathBuf;
use std::time::Duration;

use kroll_shared::config::{ConfigError, Document, KeyPath};
use serde::Deserialize;

/// JVM monitoring settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JvmConfig {
    /// Sample JVM heaps and follow the logs of Java containers.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Heap pressure when the old generation is at least this share (percent) of the maximum
    /// heap right after a full GC.
    #[serde(default = "default_old_percent")]
    pub pressure_old_percent: f64,
    /// Heap pressure when at least this many full GCs happen within the window.
    #[serde(default = "default_full_gcs")]
    pub pressure_full_gcs: u32,
    #[serde(default = "default_window_s")]
    pub pressure_window_seconds: u32,
    /// A JVM whose tick counter has not moved for this long is hung.
    #[serde(default = "default_hung_ms")]
    pub hung_after_ms: u64,
    /// OutOfMemoryError log lines within this time after an event are folded into the next
    /// event (a JVM out of heap often prints many).
    #[serde(default = "default_repeat_s")]
    pub oom_repeat_seconds: u32,
    /// Where the host's proc filesystem is: Docker reports a container's main process by its
    /// host pid, and each JVM's hsperfdata is found through `<proc_root>/<pid>` (its `NSpid`
    /// names the file). `/proc` for an agent on the host (or `--pid host`); the bind-mounted
    /// host proc for an agent in a container of its own pid namespace.
    #[serde(default = "default_proc_root")]
    pub proc_root: PathBuf,
}

fn default_proc_root() -> PathBuf {
    PathBuf::from("/proc")
}

fn yes() -> bool {
    true
}
fn default_old_percent() -> f64 {
    90.0
}
fn default_full_gcs() -> u32 {
    3
}
fn default_window_s() -> u32 {
    60
}
fn default_hung_ms() -> u64 {
    10_000
}
fn default_repeat_s() -> u32 {
    10
}

impl Default for JvmConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            pressure_old_percent: default_old_percent(),
            pressure_full_gcs: default_full_gcs(),
            pressure_window_seconds: default_window_s(),
            hung_after_ms: default_hung_ms(),
            oom_repeat_seconds: default_repeat_s(),
            proc_root: default_proc_root(),
        }
    }
}

impl JvmConfig {
    /// Checks the values; errors name the file, line and key under `at` (the `[jvm]` table).
    pub fn validate(&self, doc: &Document, at: &KeyPath) -> Result<(), ConfigError> {
        let p = self.pressure_old_percent;
        if !(p > 0.0 && p <= 100.0) {
            return Err(doc.invalid(
                &at.key("pressure_old_percent"),
                format!("{p} is not a percentage in (0, 100]"),
            ));
        }
        if self.pressure_full_gcs == 0 {
            return Err(doc.invalid(&at.key("pressure_full_gcs"), "must be at least 1"));
        }
        if !(1..=3600).contains(&self.pressure_window_seconds) {
            return Err(doc.invalid(
                &at.key("pressure_window_seconds"),
                "must be between 1 and 3600",
            ));
        }
        if !(500..=3_600_000).contains(&self.hung_after_ms) {
            return Err(doc.invalid(
                &at.key("hung_after_ms"),
                "must be between 500 and 3600000 (an hour)",
            ));
        }
        if self.oom_repeat_seconds > 3600 {
            return Err(doc.invalid(&at.key("oom_repeat_seconds"), "must be at most 3600"));
        }
        if self.enabled {
            check_proc_root(&self.proc_root)
                .map_err(|why| doc.invalid(&at.key("proc_root"), why))?;
        }
        Ok(())
    }

    /// The proc filesystem JVMs are found in.
    pub fn proc(&self) -> kroll_hsperf::Proc {
        kroll_hsperf::Proc::at(&self.proc_root)
    }

    /// The pressure window.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.pressure_window_seconds.into())
    }

    /// The hung limit.
    pub fn hung_after(&self) -> Duration {
        Duration::from_millis(self.hung_after_ms)
    }

    /// The folding time of OOM log lines.
    pub fn oom_repeat(&self) -> Duration {
        Duration::from_secs(self.oom_repeat_seconds.into())
    }
}

/// Is `root` the host's proc filesystem? It must hold pid 1's `status` (a host proc seen from
/// a container of its own pid namespace has no `self`, so that cannot be the test).
fn check_proc_root(root: &std::path::Path) -> Result<(), String> {
    let status = root.join("1").join("status");
    match std::fs::read_to_string(&status) {
        Ok(s) if s.contains("NSpid:") || s.contains("Pid:") => Ok(()),
        Ok(_) => Err(format!(
            "{} is not a proc filesystem ({} has no Pid line)",
            root.display(),
            status.display()
        )),
        Err(e) => Err(format!(
            "{} is not a readable proc filesystem ({}: {e}); for an agent in a container, bind-mount the host's /proc there read-only",
            root.display(),
            status.display()
        )),
    }
}

#[cfg(test)]
mod proc_root_tests {
    use super::*;

    #[test]
    fn the_hosts_proc_is_accepted_and_anything_else_refused_naming_the_path() {
        assert_eq!(check_proc_root(std::path::Path::new("/proc")), Ok(()));
        let dir = tempfile::tempdir().expect("tmp");
        let err = check_proc_root(dir.path()).expect_err("an empty directory");
        assert!(
            err.contains(&dir.path().display().to_string()) && err.contains("bind-mount"),
            "{err}"
        );
        std::fs::create_dir(dir.path().join("1")).expect("1");
        std::fs::write(dir.path().join("1/status"), "hello").expect("status");
        let err = check_proc_root(dir.path()).expect_err("not proc");
        assert!(err.contains("not a proc filesystem"), "{err}");
    }
}
