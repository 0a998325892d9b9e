//! `jstat -gc <host pid>` — the JDK's own reader of the same counters — as the oracle for the
//! agent's heap figures, compared at jstat's precision (KB with one decimal, counts).

use std::collections::HashMap;
use std::process::Command;

use kroll_shared::jvm::{GcCount, Heap, Space};

/// jstat's columns and values for one JVM (by host pid: jstat finds a container's JVM
/// through `/proc/<pid>/root`).
pub fn jstat_gc(pid: u32) -> HashMap<String, String> {
    let out = Command::new("jstat")
        .args(["-gc", &pid.to_string()])
        .output()
        .expect("jstat not found: install openjdk-17-jdk-headless");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "jstat -gc {pid} failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().split_whitespace();
    let values = lines.next().unwrap_or_default().split_whitespace();
    header
        .map(String::from)
        .zip(values.map(String::from))
        .collect()
}

fn kb(b: u64) -> String {
    format!("{:.1}", b as f64 / 1024.0)
}

/// Every column where the agent's heap differs from jstat's (empty = equal).
pub fn mismatches(h: &Heap, jstat: &HashMap<String, String>) -> Vec<String> {
    let space = |s: Option<Space>, f: fn(Space) -> u64| s.map_or("-".to_owned(), |v| kb(f(v)));
    let count = |g: Option<GcCount>| g.map_or("-".to_owned(), |g| g.count.to_string());
    let ours: [(&str, String); 15] = [
        ("S0C", space(h.survivor0, |s| s.committed_bytes)),
        ("S1C", space(h.survivor1, |s| s.committed_bytes)),
        ("S0U", space(h.survivor0, |s| s.used_bytes)),
        ("S1U", space(h.survivor1, |s| s.used_bytes)),
        ("EC", space(h.eden, |s| s.committed_bytes)),
        ("EU", space(h.eden, |s| s.used_bytes)),
        ("OC", space(h.old, |s| s.committed_bytes)),
        ("OU", space(h.old, |s| s.used_bytes)),
        ("MC", space(h.metaspace, |s| s.committed_bytes)),
        ("MU", space(h.metaspace, |s| s.used_bytes)),
        ("CCSC", space(h.class_space, |s| s.committed_bytes)),
        ("CCSU", space(h.class_space, |s| s.used_bytes)),
        ("YGC", count(h.young_gc)),
        ("FGC", count(h.full_gc)),
        ("CGC", count(h.concurrent_gc)),
    ];
    let mut out = Vec::new();
    for (column, mine) in ours {
        match jstat.get(column) {
            Some(theirs) if *theirs == mine => {}
            Some(theirs) => out.push(format!("{column}: agent {mine}, jstat {theirs}")),
            None => out.push(format!("{column}: not in jstat's output")),
        }
    }
    out
}
