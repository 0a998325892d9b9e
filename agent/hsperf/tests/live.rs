//! Against real JVMs: heap figures equal `jstat -gc`, the maximum equals
//! `-Xmx`, and the reasons a heap is unknown are the right ones.

use std::time::{Duration, Instant};

use kroll_hsperf::{
    Collector, HeapSample, HeapSetting, JvmProbe, ProbeOptions, Proc, StaleReason, Unreadable,
    read_pid,
};

use crate::jvm::{Jvm, jstat_gc};
use crate::oracle::mismatches;

const MIB: u64 = 1 << 20;

fn sample(pid: u32) -> HeapSample {
    read_pid(pid, &ProbeOptions::default()).unwrap_or_else(|e| panic!("heap unknown: {e}"))
}

/// Reads ours, runs jstat, reads ours again; the JVM is idle after a forced
/// GC, so the two reads agree and jstat must print the same figures.
fn assert_matches_jstat(pid: u32) -> HeapSample {
    let mut last = Vec::new();
    for _ in 0..5 {
        let before = sample(pid);
        let jstat = jstat_gc(pid);
        let after = sample(pid);
        let (a, b) = (mismatches(&before, &jstat), mismatches(&after, &jstat));
        if a.is_empty() && b.is_empty() {
            return after;
        }
        last = a;
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("heap figures differ from jstat -gc: {last:#?}");
}

fn check_gc(args: &[&str], collector: Collector) {
    let jvm = Jvm::start(args);
    let s = assert_matches_jstat(jvm.pid);
    assert_eq!(s.collector, collector);
    assert_eq!(s.max, Some(64 * MIB), "max heap equals -Xmx64m");
    assert_eq!(s.configured_max, Some(HeapSetting::Bytes(64 * MIB)));
    assert!(s.used >= 8 * MIB, "the 8 MiB the fixture keeps: {}", s.used);
    assert!(s.used <= s.committed && s.committed <= 64 * MIB, "{s:?}");
    assert_eq!(s.full_gc.map(|g| g.count), Some(1), "one System.gc()");
    assert_eq!(s.last_cause.as_deref(), Some("System.gc()"));
    assert!(
        s.java_version
            .as_deref()
            .is_some_and(|v| v.starts_with("17")),
        "{:?}",
        s.java_version
    );
    assert!(
        s.java_command
            .as_deref()
            .is_some_and(|c| c.starts_with("Idle")),
        "{:?}",
        s.java_command
    );
    assert!(s.accessible && s.hrt_ticks.is_some() && s.hrt_frequency.is_some());
    assert!(s.metaspace.is_some_and(|m| m.used > 0 && m.max > 0));
}

#[test]
fn g1_heap_matches_jstat_gc() {
    check_gc(&["-Xmx64m", "-XX:+UseG1GC"], Collector::G1);
}

#[test]
fn parallel_heap_matches_jstat_gc() {
    check_gc(&["-Xmx64m", "-XX:+UseParallelGC"], Collector::Parallel);
}

#[test]
fn serial_heap_matches_jstat_gc() {
    check_gc(&["-Xmx64m", "-XX:+UseSerialGC"], Collector::Serial);
}

#[test]
fn perf_data_disabled_is_reported() {
    for flag in ["-XX:-UsePerfData", "-XX:+PerfDisableSharedMem"] {
        let jvm = Jvm::start(&["-Xmx32m", flag]);
        match read_pid(jvm.pid, &ProbeOptions::default()) {
            Err(Unreadable::PerfDataDisabled { flag: f }) => assert_eq!(f, flag),
            other => panic!("{flag}: expected perf data disabled, got {other:?}"),
        }
        let msg = read_pid(jvm.pid, &ProbeOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(msg, format!("perf data disabled ({flag})"));
    }
}

#[test]
fn sigkilled_jvm_leaves_a_stale_file() {
    let mut jvm = Jvm::start(&["-Xmx32m"]);
    let mut probe = JvmProbe::new(jvm.pid, ProbeOptions::default());
    probe.sample(Instant::now()).expect("first sample");
    let leftover = std::path::Path::new("/").join(probe.location().expect("located").rel.clone());
    jvm.kill9();
    let zombie = read_pid(jvm.pid, &ProbeOptions::default());
    assert!(
        matches!(
            zombie,
            Err(Unreadable::Stale(StaleReason::PidNotAlive { .. }))
        ),
        "zombie: {zombie:?}"
    );
    let held = probe.sample(Instant::now());
    assert!(
        matches!(
            held,
            Err(Unreadable::Stale(StaleReason::PidNotAlive { .. }))
        ),
        "probe: {held:?}"
    );
    jvm.reap();
    assert!(
        leftover.exists(),
        "SIGKILL leaves {} behind",
        leftover.display()
    );
    let reaped = read_pid(jvm.pid, &ProbeOptions::default());
    assert!(
        matches!(
            reaped,
            Err(Unreadable::Stale(StaleReason::PidNotAlive { .. }))
        ),
        "reaped: {reaped:?}"
    );
    std::fs::remove_file(&leftover).expect("remove the file our JVM left");
    let gone = read_pid(jvm.pid, &ProbeOptions::default());
    assert!(
        matches!(gone, Err(Unreadable::NoProcess { .. })),
        "no file left: {gone:?}"
    );
}

#[test]
fn frozen_jvm_ticks_stall_then_recover() {
    let jvm = Jvm::start(&["-Xmx32m"]);
    let opts = ProbeOptions {
        stall_after: Duration::from_millis(400),
        ..ProbeOptions::default()
    };
    let mut probe = JvmProbe::new(jvm.pid, opts);
    let first = probe.sample(Instant::now()).expect("first sample");
    std::thread::sleep(Duration::from_millis(200));
    let second = probe.sample(Instant::now()).expect("second sample");
    assert!(
        second.hrt_ticks > first.hrt_ticks,
        "ticks advance while the JVM runs"
    );
    jvm.signal("STOP");
    let deadline = Instant::now() + Duration::from_secs(10);
    let stalled = loop {
        match probe.sample(Instant::now()) {
            Err(Unreadable::Stale(StaleReason::TicksStalled { since })) => break since,
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("expected stalled ticks, got {other:?}"),
        }
    };
    assert!(stalled >= Duration::from_millis(400));
    jvm.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while probe.sample(Instant::now()).is_err() {
        assert!(
            Instant::now() < deadline,
            "ticks did not resume after SIGCONT"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn jvm_in_its_own_pid_namespace_and_tmp_is_read_by_nspid() {
    let jvm = Jvm::start_namespaced(&["-Xmx48m", "-XX:+UseG1GC"]);
    assert_eq!(jvm.inner_pid, 1, "the JVM is pid 1 of its namespace");
    let mut probe = JvmProbe::new(
        jvm.pid,
        ProbeOptions {
            skip_host_tmp: true,
            ..ProbeOptions::default()
        },
    );
    let s = probe
        .sample(Instant::now())
        .unwrap_or_else(|e| panic!("heap unknown: {e}"));
    assert_eq!(s.max, Some(48 * MIB));
    assert!(
        probe.location().is_some_and(|l| l.rel.ends_with("1")),
        "{:?}",
        probe.location()
    );
    assert!(
        !std::path::Path::new("/")
            .join(&probe.location().expect("located").rel)
            .exists(),
        "private /tmp"
    );
    let javas = Proc::host()
        .java_processes_in_namespace_of(jvm.pid)
        .expect("scan /proc");
    assert_eq!(javas, vec![jvm.pid], "only the JVM lives in that namespace");
}

#[test]
fn host_tmp_is_skipped_only_when_asked_and_java_processes_are_found() {
    let jvm = Jvm::start(&["-Xmx32m"]);
    sample(jvm.pid);
    let skip = ProbeOptions {
        skip_host_tmp: true,
        ..ProbeOptions::default()
    };
    assert!(matches!(
        read_pid(jvm.pid, &skip),
        Err(Unreadable::HostTmp { .. })
    ));
    let javas = Proc::host()
        .java_processes_in_namespace_of(std::process::id())
        .expect("scan /proc");
    assert!(javas.contains(&jvm.pid), "{javas:?} lacks {}", jvm.pid);
    assert!(
        !javas.contains(&std::process::id()),
        "the test itself is not java"
    );
}
