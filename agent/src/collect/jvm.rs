//! JVMs of a container: finding them (when the container starts, never every sample), the
//! heap its environment asks for, and turning one hsperfdata sample into the report.
//!
//! Everything here that touches `/proc` or files is blocking: call it on the blocking pool.
//! Nothing read here leaves the node raw: command lines, `vmArgs` and environment values are
//! reduced to sizes, flags and variable names.

use std::io;

use kroll_hsperf::opts::perf_data_disabled;
use kroll_hsperf::{
    Collector, GcStats, HeapSample, Proc, Space as HsSpace, Unreadable, max_heap_from_args,
    max_heap_from_env,
};
use kroll_shared::jvm::{Float, GcCount, Heap, HeapLimit, HeapSetting, Jvm, Liveness, Space};

use crate::config::looks_secret;

/// How a JVM was started to behave on `OutOfMemoryError`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OomFlags {
    /// `-XX:+ExitOnOutOfMemoryError`: exits with code 3.
    pub exit: bool,
    /// `-XX:+CrashOnOutOfMemoryError`: aborts (exit 134) with an hs_err file.
    pub crash: bool,
}

impl OomFlags {
    /// The flags set by these arguments, the last mention of each winning.
    pub fn from_args<'a>(args: impl IntoIterator<Item = &'a str>) -> Self {
        let mut f = Self::default();
        for a in args {
            match a {
                "-XX:+ExitOnOutOfMemoryError" => f.exit = true,
                "-XX:-ExitOnOutOfMemoryError" => f.exit = false,
                "-XX:+CrashOnOutOfMemoryError" => f.crash = true,
                "-XX:-CrashOnOutOfMemoryError" => f.crash = false,
                _ => {}
            }
        }
        f
    }

    /// Either set in `self` or in `other`.
    pub fn or(self, other: Self) -> Self {
        Self {
            exit: self.exit || other.exit,
            crash: self.crash || other.crash,
        }
    }
}

/// A Java process found in a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Host pid.
    pub pid: u32,
    /// Pid in the container's namespace.
    pub nspid: u32,
    /// The maximum heap its command line sets.
    pub cmdline_max: Option<HeapSetting>,
    pub flags: OomFlags,
    /// The option that disabled perf data, when the command line has one.
    pub perf_disabled: Option<&'static str>,
}

/// The Java processes in the pid namespace of `main_pid` (a container's main process).
/// Blocking: one `/proc` scan (≈ 25 µs per host process).
pub fn find_jvms(proc: &Proc, main_pid: u32) -> io::Result<Vec<Found>> {
    let mut out = Vec::new();
    for pid in proc.java_processes_in_namespace_of(main_pid)? {
        let Ok(status) = proc.status(pid) else {
            continue; // Gone meanwhile.
        };
        let args = proc.cmdline(pid).unwrap_or_default();
        let refs = || args.iter().map(String::as_str);
        out.push(Found {
            pid,
            nspid: status.nspid,
            cmdline_max: max_heap_from_args(refs()).map(to_setting),
            flags: OomFlags::from_args(refs()),
            perf_disabled: perf_data_disabled(refs()),
        });
    }
    Ok(out)
}

/// The domain form of an hsperf heap setting.
pub fn to_setting(s: kroll_hsperf::HeapSetting) -> HeapSetting {
    match s {
        kroll_hsperf::HeapSetting::Bytes(b) => HeapSetting::Bytes(b),
        kroll_hsperf::HeapSetting::Percentage(p) => HeapSetting::PercentOfRam(Float(p)),
    }
}

/// `KEY=value` entries as pairs, without the variables whose names look secret.
fn non_secret(raw_env: &[String]) -> impl Iterator<Item = (&str, &str)> {
    raw_env
        .iter()
        .map(|e| e.split_once('=').unwrap_or((e.as_str(), "")))
        .filter(|(k, _)| !looks_secret(k))
}

/// What the environment asks for (the variable the JVM sees last) and every variable that
/// sets a maximum heap, sorted by name. Secret-looking variables are never read.
pub fn env_heap(raw_env: &[String]) -> (Option<HeapLimit>, Vec<HeapLimit>) {
    let limit = |e: kroll_hsperf::EnvHeap| HeapLimit {
        setting: to_setting(e.setting),
        source: e.var,
    };
    let winner = max_heap_from_env(non_secret(raw_env)).map(limit);
    let mut all: Vec<HeapLimit> = non_secret(raw_env)
        .filter_map(|kv| max_heap_from_env([kv]).map(limit))
        .collect();
    all.sort_by(|a, b| a.source.cmp(&b.source));
    (winner, all)
}

/// OOM flags set through `JAVA_TOOL_OPTIONS` / `JDK_JAVA_OPTIONS` (not on the command line).
pub fn env_flags(raw_env: &[String]) -> OomFlags {
    non_secret(raw_env)
        .filter(|(k, _)| matches!(*k, "JAVA_TOOL_OPTIONS" | "JDK_JAVA_OPTIONS"))
        .map(|(_, v)| OomFlags::from_args(v.split_whitespace()))
        .fold(OomFlags::default(), OomFlags::or)
}

fn space(s: Option<HsSpace>) -> Option<Space> {
    s.map(|s| Space {
        used_bytes: s.used,
        committed_bytes: s.committed,
        max_bytes: s.max,
    })
}

fn gc(g: Option<GcStats>) -> Option<GcCount> {
    g.map(|g| GcCount {
        count: g.count,
        seconds: g.seconds.map(Float),
    })
}

/// The heap figures of a sample.
pub fn heap_of(s: &HeapSample) -> Heap {
    Heap {
        used_bytes: s.used,
        committed_bytes: s.committed,
        max_bytes: s.max,
        eden: space(s.eden),
        survivor0: space(s.survivor0),
        survivor1: space(s.survivor1),
        old: space(s.old),
        metaspace: space(s.metaspace),
        class_space: space(s.class_space),
        young_gc: gc(s.young_gc),
        full_gc: gc(s.full_gc),
        concurrent_gc: gc(s.concurrent_gc),
        last_gc_cause: s.last_cause.clone().unwrap_or_default(),
    }
}

fn collector_name(c: Collector) -> &'static str {
    match c {
        Collector::G1 => "G1",
        Collector::Parallel => "Parallel",
        Collector::Serial => "Serial",
        Collector::Shenandoah => "Shenandoah",
        Collector::Z => "Z",
        Collector::Unknown => "unknown",
    }
}

/// A JVM report from a successful sample. `main` is the first word of `sun.rt.javaCommand`
/// (the main class or jar): its arguments may hold secrets and are dropped.
pub fn report_of(found: &Found, s: &HeapSample, liveness: Liveness, now_ms: i64) -> Jvm {
    let max_heap_setting = match s.configured_max {
        Some(m) => Some(HeapLimit {
            setting: to_setting(m),
            source: "vm_args".into(),
        }),
        None => cmdline_limit(found),
    };
    Jvm {
        pid: found.pid,
        nspid: found.nspid,
        main: first_word(s.java_command.as_deref()),
        java_version: s.java_version.clone().unwrap_or_default(),
        collector: collector_name(s.collector).into(),
        max_heap_setting,
        heap: Some(heap_of(s)),
        unreadable: None,
        liveness,
        sampled_at_unix_ms: now_ms,
    }
}

/// A JVM report when the heap could not be read; keeps what an earlier report knew.
pub fn unreadable_report(
    found: &Found,
    why: &Unreadable,
    earlier: Option<&Jvm>,
    now_ms: i64,
) -> Jvm {
    let liveness = match why {
        Unreadable::Stale(kroll_hsperf::StaleReason::TicksStalled { since }) => Liveness::Stalled {
            stalled_ms: u64::try_from(since.as_millis()).unwrap_or(u64::MAX),
        },
        _ => Liveness::Unknown,
    };
    let keep = |f: fn(&Jvm) -> String| earlier.map(f).unwrap_or_default();
    Jvm {
        pid: found.pid,
        nspid: found.nspid,
        main: keep(|j| j.main.clone()),
        java_version: keep(|j| j.java_version.clone()),
        collector: keep(|j| j.collector.clone()),
        max_heap_setting: earlier
            .and_then(|j| j.max_heap_setting.clone())
            .or_else(|| cmdline_limit(found)),
        heap: None,
        unreadable: Some(format!("heap unknown: {why}")),
        liveness,
        sampled_at_unix_ms: now_ms,
    }
}

fn cmdline_limit(found: &Found) -> Option<HeapLimit> {
    found.cmdline_max.map(|setting| HeapLimit {
        setting,
        source: "command_line".into(),
    })
}

fn first_word(s: Option<&str>) -> String {
    s.and_then(|c| c.split_whitespace().next())
        .unwrap_or_default()
        .chars()
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_flags_follow_the_last_mention() {
        let f = OomFlags::from_args(["-Xmx1g", "-XX:+ExitOnOutOfMemoryError"]);
        assert_eq!(
            f,
            OomFlags {
                exit: true,
                crash: false
            }
        );
        let f = OomFlags::from_args([
            "-XX:+CrashOnOutOfMemoryError",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-ExitOnOutOfMemoryError",
        ]);
        assert_eq!(
            f,
            OomFlags {
                exit: false,
                crash: true
            }
        );
        let env = vec!["JAVA_TOOL_OPTIONS=-XX:+ExitOnOutOfMemoryError".to_owned()];
        assert!(env_flags(&env).exit);
    }

    #[test]
    fn env_heap_names_the_winner_and_every_setter_but_never_reads_secrets() {
        let env: Vec<String> = [
            "HEAP_OPTS=-Xmx12G -Xms12G",
            "KAFKA_OPTS=-Dx=y",
            "SECRET_HEAP_OPTS=-Xmx99G",
            "JAVA_OPTS=-XX:MaxRAMPercentage=75",
            "PATH=/bin",
        ]
        .map(String::from)
        .to_vec();
        let (winner, all) = env_heap(&env);
        assert_eq!(
            winner,
            Some(HeapLimit {
                setting: HeapSetting::Bytes(12 << 30),
                source: "HEAP_OPTS".into()
            })
        );
        let names: Vec<&str> = all.iter().map(|l| l.source.as_str()).collect();
        assert_eq!(
            names,
            ["HEAP_OPTS", "JAVA_OPTS"],
            "SECRET_HEAP_OPTS is never read"
        );
        assert_eq!(env_heap(&["PATH=/bin".to_owned()]), (None, vec![]));
    }

    #[test]
    fn main_is_the_first_word_only() {
        assert_eq!(first_word(Some("Main --password hunter2")), "Main");
        assert_eq!(first_word(None), "");
    }

    #[test]
    fn the_jvms_of_this_test_process_namespace_are_found_without_error() {
        // The test process is not Java: scanning its namespace finds none of it, never fails.
        let found = find_jvms(&Proc::host(), std::process::id()).expect("scan /proc");
        assert!(found.iter().all(|f| f.pid != std::process::id()));
    }
}
