//! The JVM monitor: every Java process of every managed running container, sampled from its
//! hsperfdata each `sampling.interval_ms`, and the JVM events (OutOfMemoryError in the log,
//! OOM exits, heap pressure, hung JVMs) published on the agent's event hub.
//!
//! JVMs are found when a container starts (or, for containers already running, when the
//! agent starts), with a backing-off rescan until one appears — never by scanning `/proc`
//! every sample. The monitor observes and reports; it never acts on a container (an agent
//! restarts nothing unless the coordinator asks).
//!
//! # Layout
//! - `mod.rs`: [`JvmMonitor`] — the registry of tracked containers, the blocking sampling pass
//!   and the report `GetNodeState` merges into each container.
//! - [`run`]: the async loop — tracking containers from the event hub, sampling ticks, log
//!   followers, OOM exits.
//! - [`watch`]: heap pressure and hung JVMs (pure).
//! - [`oom`]: OutOfMemoryError in logs and exit codes.
//! - [`config`]: the `[jvm]` section.

pub mod config;
pub mod oom;
pub mod run;
pub mod watch;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kroll_hsperf::{JvmProbe, ProbeOptions, StaleReason, Unreadable};
use kroll_shared::jvm::{HeapLimit, JavaReport, Jvm, Liveness};
use kroll_shared::model::EventKind;

use crate::collect::jvm::{self as collect, Found, OomFlags};
use crate::runtime::Inspected;
use config::JvmConfig;
use watch::JvmWatch;

/// Rescan delays after a container starts, until a JVM is found; then every `LAST`.
const SCAN_DELAYS_MS: [u64; 9] = [0, 250, 500, 1000, 2000, 4000, 8000, 16_000, 32_000];
const SCAN_LAST: Duration = Duration::from_secs(300);

/// What the sampling pass asks the async side to do.
#[derive(Debug, Default)]
pub struct Tick {
    /// Events to publish: (container id, container name, kind).
    pub events: Vec<(String, String, EventKind)>,
    /// Containers whose first JVM was just found: follow their logs from this Unix second.
    pub follow_logs: Vec<(String, String, i64)>,
}

/// Facts about a container that died, for the OOM-exit decision.
#[derive(Debug, Clone)]
pub struct Departed {
    pub name: String,
    /// A JVM was found in it.
    pub java: bool,
    /// OOM flags of its JVMs (command line, `vmArgs`, `JAVA_TOOL_OPTIONS`).
    pub flags: OomFlags,
}

#[derive(Debug)]
struct TrackedJvm {
    found: Found,
    probe: JvmProbe,
    report: Option<Jvm>,
    watch: JvmWatch,
    vm_flags: OomFlags,
    /// The process exited (its container still runs).
    gone: bool,
}

#[derive(Debug)]
struct Tracked {
    name: String,
    main_pid: u32,
    configured: Option<HeapLimit>,
    env_settings: Vec<HeapLimit>,
    /// OOM flags of the environment and of every JVM seen (kept when a JVM exits: the
    /// container's exit is judged by them after its JVMs are gone).
    flags: OomFlags,
    jvms: Vec<TrackedJvm>,
    scans: usize,
    next_scan: Option<Instant>,
    log_since: i64,
    java: bool,
    logs_followed: bool,
}

/// Counters that outlive containers (for `/metrics`), by container name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OomCounts {
    /// OutOfMemoryError lines seen in the log.
    pub log_lines: u64,
    /// OOM exits recognised.
    pub exits: u64,
}

#[derive(Debug, Default)]
struct Registry {
    containers: HashMap<String, Tracked>,
    counts: HashMap<String, OomCounts>,
    /// When an OutOfMemoryError was last seen in a container's log, by container id.
    last_oom_line: HashMap<String, Instant>,
}

/// JVMs of the managed containers, their latest samples and their event state.
#[derive(Debug)]
pub struct JvmMonitor {
    config: JvmConfig,
    probe: ProbeOptions,
    state: Mutex<Registry>,
}

impl JvmMonitor {
    /// A monitor with these thresholds.
    pub fn new(config: JvmConfig) -> Self {
        let probe = ProbeOptions {
            proc: config.proc(),
            stall_after: config.hung_after(),
            ..ProbeOptions::default()
        };
        Self {
            config,
            probe,
            state: Mutex::new(Registry::default()),
        }
    }

    /// The thresholds.
    pub fn config(&self) -> &JvmConfig {
        &self.config
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts tracking a running container (replacing an earlier run of the same id); its
    /// JVMs are looked for at the next sampling pass. Logs, once a JVM is found, are followed
    /// from `log_since` (Unix seconds).
    pub fn track(&self, i: &Inspected, log_since: i64) {
        let c = &i.container;
        let Ok(main_pid) = u32::try_from(c.pid) else {
            return;
        };
        if main_pid == 0 || !c.is_running() {
            return;
        }
        let mut reg = self.registry();
        if reg
            .containers
            .get(&c.id)
            .is_some_and(|t| t.main_pid == main_pid)
        {
            return;
        }
        let (configured, env_settings) = collect::env_heap(&i.raw_env);
        reg.containers.insert(
            c.id.clone(),
            Tracked {
                name: c.name.clone(),
                main_pid,
                configured,
                env_settings,
                flags: collect::env_flags(&i.raw_env),
                jvms: Vec::new(),
                scans: 0,
                next_scan: Some(Instant::now()),
                log_since,
                java: false,
                logs_followed: false,
            },
        );
    }

    /// Stops tracking a container that died, and says what is known about it.
    pub fn untrack(&self, id: &str) -> Option<Departed> {
        let t = self.registry().containers.remove(id)?;
        let flags = t.jvms.iter().fold(t.flags, |f, j| f.or(j.vm_flags));
        Some(Departed {
            name: t.name,
            java: t.java,
            flags,
        })
    }

    /// Whether an OutOfMemoryError appeared in the log of `id` within `within`.
    pub fn oom_in_log(&self, id: &str, within: Duration) -> bool {
        self.registry()
            .last_oom_line
            .get(id)
            .is_some_and(|at| at.elapsed() < within)
    }

    /// Ids of the containers tracked now.
    pub fn tracked_ids(&self) -> Vec<String> {
        self.registry().containers.keys().cloned().collect()
    }

    /// The Java side of a container for `GetNodeState`; `None` when no JVM was found in it.
    pub fn report(&self, id: &str) -> Option<JavaReport> {
        let reg = self.registry();
        let t = reg.containers.get(id)?;
        if t.jvms.is_empty() {
            return None;
        }
        Some(JavaReport {
            configured_heap: t.configured.clone(),
            env_heap_settings: t.env_settings.clone(),
            jvms: t.jvms.iter().filter_map(|j| j.report.clone()).collect(),
        })
    }

    /// OOM counters by container name.
    pub fn oom_counts(&self) -> Vec<(String, OomCounts)> {
        let reg = self.registry();
        let mut v: Vec<_> = reg.counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// An OutOfMemoryError line was seen in the log of `id`.
    pub fn oom_line_seen(&self, id: &str, name: &str) {
        let mut reg = self.registry();
        reg.counts.entry(name.to_owned()).or_default().log_lines += 1;
        reg.last_oom_line.insert(id.to_owned(), Instant::now());
    }

    /// An OOM exit of `name` was recognised.
    pub fn oom_exit_seen(&self, name: &str) {
        self.registry()
            .counts
            .entry(name.to_owned())
            .or_default()
            .exits += 1;
    }

    /// One sampling pass (blocking: `/proc` and hsperfdata reads): due rescans, then one
    /// sample of every JVM, and the events they cause.
    pub fn sample_all(&self, now: Instant, now_ms: i64) -> Tick {
        let mut tick = Tick::default();
        let mut reg = self.registry();
        for (id, t) in reg.containers.iter_mut() {
            if t.next_scan.is_some_and(|at| at <= now) {
                self.rescan(t, now);
            }
            for j in &mut t.jvms {
                for kind in self.sample_one(j, now, now_ms) {
                    tick.events.push((id.clone(), t.name.clone(), kind));
                }
                t.flags = t.flags.or(j.vm_flags);
            }
            if t.jvms.iter().any(|j| j.gone) {
                // A JVM exited while the container runs: look again soon.
                t.jvms.retain(|j| !j.gone);
                t.scans = 1;
                t.next_scan = Some(now + Duration::from_millis(SCAN_DELAYS_MS[1]));
            }
            if t.java && !t.logs_followed {
                t.logs_followed = true;
                tick.follow_logs
                    .push((id.clone(), t.name.clone(), t.log_since));
            }
        }
        tick
    }

    fn rescan(&self, t: &mut Tracked, now: Instant) {
        let found = collect::find_jvms(&self.probe.proc, t.main_pid).unwrap_or_default();
        for f in found {
            t.flags = t.flags.or(f.flags);
            if !t.jvms.iter().any(|j| j.found.pid == f.pid) {
                t.jvms.push(TrackedJvm {
                    probe: JvmProbe::new(f.pid, self.probe.clone()),
                    found: f,
                    report: None,
                    watch: JvmWatch::default(),
                    vm_flags: OomFlags::default(),
                    gone: false,
                });
            }
        }
        t.java |= !t.jvms.is_empty();
        t.scans += 1;
        t.next_scan = if t.jvms.is_empty() {
            let delay = SCAN_DELAYS_MS
                .get(t.scans)
                .map_or(SCAN_LAST, |ms| Duration::from_millis(*ms));
            Some(now + delay)
        } else {
            None
        };
    }

    fn sample_one(&self, j: &mut TrackedJvm, now: Instant, now_ms: i64) -> Vec<EventKind> {
        let pid = j.found.pid;
        match j.probe.sample(now) {
            Ok(s) => {
                if let Some(args) = &s.vm_args {
                    j.vm_flags = OomFlags::from_args(args.split_whitespace());
                }
                let liveness = match &j.report {
                    Some(r) if r.heap.is_some() => Liveness::Advancing,
                    _ => Liveness::Unknown,
                };
                let report = collect::report_of(&j.found, &s, liveness, now_ms);
                let events = report
                    .heap
                    .as_ref()
                    .map(|h| j.watch.observe(&self.config, pid, h, now))
                    .unwrap_or_default();
                j.report = Some(report);
                events
            }
            Err(why) => {
                let events = match &why {
                    Unreadable::Stale(StaleReason::TicksStalled { since }) => {
                        j.watch.stalled(pid, *since)
                    }
                    Unreadable::NoProcess { .. }
                    | Unreadable::Stale(StaleReason::PidNotAlive { .. }) => {
                        j.gone = true;
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
                j.report = Some(collect::unreadable_report(
                    &j.found,
                    &why,
                    j.report.as_ref(),
                    now_ms,
                ));
                events
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kroll_shared::model::{Container, ContainerStatus, Health};

    use super::*;

    fn inspected(pid: i64, env: &[&str]) -> Inspected {
        Inspected {
            container: Container {
                id: "c1".into(),
                name: "connect-01".into(),
                image: "i".into(),
                image_id: "sha256:1".into(),
                status: ContainerStatus::Running,
                health: Health::None,
                started_at_unix_ms: 1,
                finished_at_unix_ms: 0,
                exit_code: 0,
                oom_killed: false,
                restart_count: 0,
                labels: BTreeMap::new(),
                env_keys: vec![],
                env: BTreeMap::new(),
                mounts: vec![],
                hostname: "h".into(),
                pid,
                java: None,
            },
            raw_env: env.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    #[test]
    fn a_container_without_java_has_no_report_and_is_rescanned_with_backoff() {
        let m = JvmMonitor::new(JvmConfig::default());
        // This test process: running, not Java.
        m.track(
            &inspected(i64::from(std::process::id()), &["HEAP_OPTS=-Xmx1g"]),
            0,
        );
        let t0 = Instant::now();
        let tick = m.sample_all(t0, 0);
        assert!(tick.events.is_empty() && tick.follow_logs.is_empty());
        assert_eq!(m.report("c1"), None, "no JVM, no report");
        let next = m.registry().containers["c1"]
            .next_scan
            .expect("rescheduled");
        assert_eq!(next, t0 + Duration::from_millis(SCAN_DELAYS_MS[1]));
        let departed = m.untrack("c1").expect("tracked");
        assert!(!departed.java);
        assert!(m.tracked_ids().is_empty());
    }

    #[test]
    fn stopped_containers_are_not_tracked_and_counts_outlive_containers() {
        let m = JvmMonitor::new(JvmConfig::default());
        m.track(&inspected(0, &[]), 0);
        assert!(m.tracked_ids().is_empty());
        m.oom_line_seen("gone", "connect-01");
        m.oom_exit_seen("connect-01");
        assert_eq!(
            m.oom_counts(),
            vec![(
                "connect-01".to_owned(),
                OomCounts {
                    log_lines: 1,
                    exits: 1
                }
            )]
        );
    }
}
