//! Times one heap sample (open + read + parse + derive) against a live JVM,
//! and `jstat -gc` on the same JVM, and prints the ratio.
//!
//! ```text
//! cargo run -p kroll-hsperf --release --example bench            # starts its own JVM
//! cargo run -p kroll-hsperf --release --example bench -- <pid>   # an existing JVM
//! ```
//!
//! Without a pid it starts `java -Xmx64m tests/fixtures/Idle.java` (JDK from
//! `$JAVA_HOME`, the Debian JDK 17, or `PATH`) and kills it at the end.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kroll_hsperf::{HeapSample, JvmProbe, ProbeOptions, Proc, read_pid};

/// Stops the JVM this benchmark started, even on panic: closing its stdin
/// makes it exit (and delete its hsperfdata file); SIGKILL after 5 s.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        for _ in 0..250 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn jdk_bin() -> PathBuf {
    let debian = PathBuf::from("/usr/lib/jvm/java-17-openjdk-amd64/bin");
    match std::env::var_os("JAVA_HOME") {
        Some(home) => PathBuf::from(home).join("bin"),
        None if debian.join("java").is_file() => debian,
        None => PathBuf::new(),
    }
}

fn start_jvm() -> (u32, Guard) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/Idle.java");
    let mut child = Command::new(jdk_bin().join("java"))
        .args(["-Xmx64m", "-XX:+UseG1GC"])
        .arg(&src)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start java (set JAVA_HOME or install a JDK)");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("READY line");
    assert!(line.starts_with("READY"), "JVM did not start: {line:?}");
    (child.id(), Guard(child))
}

/// Runs `f` `n` times; returns the sorted per-call durations.
fn time_n(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

fn pct(v: &[Duration], p: f64) -> Duration {
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, v: &[Duration]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<44} n={:<6} median {:>10.1} µs  p99 {:>10.1} µs  max {:>10.1} µs",
        v.len(),
        us(pct(v, 0.5)),
        us(pct(v, 0.99)),
        us(pct(v, 1.0))
    );
}

fn main() {
    let arg = std::env::args()
        .nth(1)
        .map(|p| p.parse::<u32>().expect("pid"));
    let (pid, _guard) = match arg {
        Some(pid) => (pid, None),
        None => {
            let (pid, g) = start_jvm();
            (pid, Some(g))
        }
    };
    let sample = bench_sampling(pid);
    let procs = Proc::host().pids().map(|p| p.len()).unwrap_or(0);
    let scan = time_n(20, || {
        let _ = Proc::host().java_processes_in_namespace_of(pid);
    });
    report(
        &format!("java_processes_in_namespace_of ({procs} procs)"),
        &scan,
    );

    let jstat_bin = jdk_bin().join("jstat");
    let jstat = time_n(5, || {
        let out = Command::new(&jstat_bin)
            .args(["-gc", &pid.to_string()])
            .output()
            .expect("jstat");
        assert!(out.status.success(), "jstat failed");
    });
    report("jstat -gc <pid>", &jstat);

    let ratio = pct(&jstat, 0.5).as_secs_f64() / pct(&sample, 0.5).as_secs_f64();
    println!("ratio jstat / sample (medians): {ratio:.0}x");
}

/// Times the hsperfdata paths; returns the `JvmProbe::sample` timings.
fn bench_sampling(pid: u32) -> Vec<Duration> {
    let mut probe = JvmProbe::new(pid, ProbeOptions::default());
    let first = probe.sample(Instant::now()).expect("heap sample");
    println!(
        "JVM {pid}: {:?}, used {} of {:?} bytes",
        first.collector, first.used, first.max
    );

    for _ in 0..1000 {
        let _ = probe.sample(Instant::now());
    }
    let sample = time_n(20_000, || {
        probe.sample(Instant::now()).expect("sample");
    });
    report("JvmProbe::sample (open+read+parse+derive)", &sample);

    let opts = ProbeOptions::default();
    let oneshot = time_n(2_000, || {
        read_pid(pid, &opts).expect("read_pid");
    });
    report("read_pid (one-shot, locates the file)", &oneshot);

    let path =
        PathBuf::from(format!("/proc/{pid}/root")).join(&probe.location().expect("located").rel);
    let buf = std::fs::read(&path).expect("read file");
    let parse = time_n(20_000, || {
        std::hint::black_box(HeapSample::from_bytes(std::hint::black_box(&buf)).expect("parse"));
    });
    report("parse + derive only (32 KiB in memory)", &parse);

    sample
}
