//! Deterministic tests on hsperfdata files captured from live JVMs
//! (`tests/data/`, 32 KiB each, JDK 17.0.15 and Temurin 25, `-Xmx64m`), next
//! to what `jcmd PerfCounter.print` and `jstat -gc` printed for the same JVM.

use std::collections::HashMap;
use std::path::PathBuf;

use kroll_hsperf::parse::Variability;
use kroll_hsperf::{ByteOrder, Collector, HeapSample, MaxRule, PerfData, Value};

use crate::jvm::parse_jstat;
use crate::oracle::mismatches;

const MIB: u64 = 1 << 20;

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn captured_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(data(""))
        .expect("tests/data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hsperf"))
        .map(|p| {
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "captured files missing from tests/data");
    files
}

fn sample(name: &str) -> HeapSample {
    HeapSample::from_bytes(&std::fs::read(data(name)).expect("read")).expect("parse")
}

#[test]
fn every_collector_reports_the_xmx_as_max_without_double_counting() {
    let cases = [
        ("jdk17-g1.hsperf", Collector::G1, MaxRule::OldGeneration),
        (
            "jdk17-parallel.hsperf",
            Collector::Parallel,
            MaxRule::SumOfGenerations,
        ),
        (
            "jdk17-serial.hsperf",
            Collector::Serial,
            MaxRule::SumOfGenerations,
        ),
        (
            "jdk17-shenandoah.hsperf",
            Collector::Shenandoah,
            MaxRule::OldGeneration,
        ),
        ("jdk17-z.hsperf", Collector::Z, MaxRule::OldGeneration),
        ("jdk25-g1.hsperf", Collector::G1, MaxRule::OldGeneration),
        // Generational ZGC: both generations claim the whole heap.
        ("jdk25-z.hsperf", Collector::Z, MaxRule::OldGeneration),
    ];
    for (file, collector, rule) in cases {
        let s = sample(file);
        assert_eq!((s.collector, s.max_rule), (collector, rule), "{file}");
        assert_eq!(s.max, Some(64 * MIB), "{file}");
        assert!(
            s.used > 0 && s.used <= s.committed && s.committed <= 64 * MIB,
            "{file}: {s:?}"
        );
        assert!(
            s.vm_args.as_deref().is_some_and(|a| a.contains("-Xmx64m")),
            "{file}"
        );
        assert_eq!(s.used_ratio(), Some(s.used as f64 / (64 * MIB) as f64));
    }
}

#[test]
fn jdk17_g1_file_matches_jcmd_counters() {
    let buf = std::fs::read(data("jdk17-g1.hsperf")).expect("read");
    let perf = PerfData::parse(&buf).expect("parse");
    assert_eq!(perf.header().byte_order, ByteOrder::Little);
    assert!(perf.header().accessible);
    let dump = std::fs::read_to_string(data("jdk17-g1.counters.txt")).expect("read");
    let jcmd: HashMap<&str, &str> = dump.lines().filter_map(|l| l.split_once('=')).collect();
    assert!(perf.entries().len() > 150);
    let mut constants = 0;
    for e in perf.entries() {
        let theirs = jcmd
            .get(e.name)
            .unwrap_or_else(|| panic!("{} not in the jcmd dump", e.name));
        if e.variability != Variability::Constant {
            continue;
        }
        let ours = match e.value {
            Value::Long(v) => v.to_string(),
            Value::String(s) => format!("\"{}\"", String::from_utf8_lossy(s)),
            _ => continue,
        };
        assert_eq!(&ours, theirs, "{}", e.name);
        constants += 1;
    }
    assert!(constants > 50, "{constants}");
}

#[test]
fn captured_files_match_the_jstat_captured_with_them() {
    for name in ["jdk17-g1", "jdk17-parallel"] {
        let s = sample(&format!("{name}.hsperf"));
        let jstat = parse_jstat(
            &std::fs::read_to_string(data(&format!("{name}.jstat.txt"))).expect("read"),
        );
        assert_eq!(mismatches(&s, &jstat), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn big_endian_copy_of_a_real_file_parses_the_same() {
    let buf = std::fs::read(data("jdk17-g1.hsperf")).expect("read");
    let be = to_big_endian(&buf);
    let (a, b) = (
        PerfData::parse(&buf).expect("le"),
        PerfData::parse(&be).expect("be"),
    );
    assert_eq!(b.header().byte_order, ByteOrder::Big);
    assert_eq!(a.entries().len(), b.entries().len());
    for (x, y) in a.entries().iter().zip(b.entries()) {
        assert_eq!((x.name, x.value), (y.name, y.value));
    }
    assert_eq!(HeapSample::from_perf(&a), HeapSample::from_perf(&b));
}

/// Rewrites a little-endian file as big-endian, field by field.
fn to_big_endian(le: &[u8]) -> Vec<u8> {
    let mut b = le.to_vec();
    let swap = |b: &mut [u8], at: usize, n: usize| b[at..at + n].reverse();
    b[4] = 0;
    for at in [8, 12, 24, 28] {
        swap(&mut b, at, 4);
    }
    swap(&mut b, 16, 8);
    let perf = PerfData::parse(le).expect("parse");
    for e in perf.entries() {
        let at = e.offset;
        let data_offset = i32::from_le_bytes(le[at + 16..at + 20].try_into().expect("4")) as usize;
        for field in [0, 4, 8, 16] {
            swap(&mut b, at + field, 4);
        }
        if matches!(e.value, Value::Long(_)) {
            swap(&mut b, at + data_offset, 8);
        }
    }
    b
}
