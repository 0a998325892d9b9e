//! Comparing a [`HeapSample`] with `jstat -gc` output, column by column, at
//! jstat's own precision (KB with one decimal, seconds with three).

use std::collections::HashMap;

use kroll_hsperf::{GcStats, HeapSample, Space};

fn kb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1024.0)
}

/// jstat's figure for one column, as our sample has it.
fn ours(s: &HeapSample, column: &str) -> Option<String> {
    let space =
        |sp: Option<Space>, f: fn(Space) -> u64| Some(sp.map_or("-".to_owned(), |v| kb(f(v))));
    let count = |g: Option<GcStats>| Some(g.map_or("-".to_owned(), |g| g.count.to_string()));
    match column {
        "S0C" => space(s.survivor0, |v| v.committed),
        "S1C" => space(s.survivor1, |v| v.committed),
        "S0U" => space(s.survivor0, |v| v.used),
        "S1U" => space(s.survivor1, |v| v.used),
        "EC" => space(s.eden, |v| v.committed),
        "EU" => space(s.eden, |v| v.used),
        "OC" => space(s.old, |v| v.committed),
        "OU" => space(s.old, |v| v.used),
        "MC" => space(s.metaspace, |v| v.committed),
        "MU" => space(s.metaspace, |v| v.used),
        "CCSC" => space(s.class_space, |v| v.committed),
        "CCSU" => space(s.class_space, |v| v.used),
        "YGC" => count(s.young_gc),
        "FGC" => count(s.full_gc),
        "CGC" => count(s.concurrent_gc),
        _ => None,
    }
}

fn seconds(s: &HeapSample, column: &str) -> Option<Option<f64>> {
    let secs = |g: Option<GcStats>| g.and_then(|g| g.seconds);
    Some(match column {
        "YGCT" => secs(s.young_gc),
        "FGCT" => secs(s.full_gc),
        "CGCT" => secs(s.concurrent_gc),
        "GCT" => Some(
            [s.young_gc, s.full_gc, s.concurrent_gc]
                .into_iter()
                .filter_map(secs)
                .sum(),
        ),
        _ => return None,
    })
}

/// Every mismatch between the sample and jstat's columns (empty when equal).
pub fn mismatches(s: &HeapSample, jstat: &HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (column, theirs) in jstat {
        if let Some(mine) = ours(s, column) {
            if &mine != theirs {
                out.push(format!("{column}: ours {mine} jstat {theirs}"));
            }
        } else if let Some(mine) = seconds(s, column) {
            let theirs_f = theirs.parse::<f64>().ok();
            let equal = match (mine, theirs_f) {
                (Some(a), Some(b)) => (a - b).abs() < 0.0011,
                (None, None) => theirs == "-",
                _ => false,
            };
            if !equal {
                out.push(format!("{column}: ours {mine:?} jstat {theirs}"));
            }
        } else {
            out.push(format!("{column}: unknown jstat column"));
        }
    }
    out.sort();
    out
}
