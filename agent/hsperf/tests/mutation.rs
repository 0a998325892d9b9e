//! A bounded, seeded mutation fuzz of the parser and the derivation that runs
//! under plain `cargo test` on stable: the captured real files plus random
//! garbage, mutated structurally (header and entry fields set to edge values,
//! truncation, extension, splicing, bit flips).
//!
//! Default budget: 2 s or 200 000 inputs, whichever ends first. Longer run:
//!
//! ```text
//! HSPERF_FUZZ_SECS=600 HSPERF_FUZZ_SEED=7 cargo test -p kroll-hsperf --release --test tests mutation
//! ```

use std::time::{Duration, Instant};

use kroll_hsperf::{HeapSample, PerfData};

use crate::captured::captured_files;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const EDGE_I32: [i32; 12] = [
    0,
    1,
    -1,
    4,
    19,
    20,
    21,
    32,
    0x7fff_ffff,
    i32::MIN,
    32768,
    65536,
];

/// Offsets of fields worth hitting: header fields and the first entries'.
fn field_offsets(buf: &[u8]) -> Vec<usize> {
    let mut at: Vec<usize> = vec![4, 5, 7, 8, 12, 16, 24, 28];
    if let Ok(p) = PerfData::parse(buf) {
        for e in p.entries().iter().take(64) {
            at.extend([0, 4, 8, 12, 13, 14, 16].map(|f| e.offset + f));
        }
    }
    at
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8], fields: &[usize]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = b.len().max(1);
        match rng.below(7) {
            0 => {
                let at = fields[rng.below(fields.len())];
                let v = EDGE_I32[rng.below(EDGE_I32.len())];
                let bytes = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                if let Some(dst) = b.get_mut(at..at + 4) {
                    dst.copy_from_slice(&bytes);
                }
            }
            1 => {
                let at = rng.below(len);
                if let Some(x) = b.get_mut(at) {
                    *x ^= 1 << rng.below(8);
                }
            }
            2 => b.truncate(rng.below(len)),
            3 => b.extend((0..rng.below(4096)).map(|_| rng.next() as u8)),
            4 => splice(rng, &mut b, other),
            5 => {
                let at = rng.below(len);
                if let Some(x) = b.get_mut(at) {
                    *x = [0, 0xff, 0x7f, 0x80, b'J', b'B'][rng.below(6)];
                }
            }
            _ => {
                let at = rng.below(len);
                let v = rng.next().to_le_bytes();
                let end = (at + 8).min(b.len());
                if at < end {
                    b[at..end].copy_from_slice(&v[..end - at]);
                }
            }
        }
    }
    b
}

/// Copies a random slice of `other` over a random place in `b`.
fn splice(rng: &mut Rng, b: &mut [u8], other: &[u8]) {
    let (at, from) = (rng.below(b.len().max(1)), rng.below(other.len().max(1)));
    let src = other
        .get(from..(from + rng.below(512)).min(other.len()))
        .unwrap_or_default();
    let end = (at + src.len()).min(b.len());
    if at < end {
        b[at..end].copy_from_slice(&src[..end - at]);
    }
}

/// Parses and derives; checks the invariants the parser promises.
fn exercise(buf: &[u8]) -> bool {
    let Ok(perf) = PerfData::parse(buf) else {
        return false;
    };
    let used = perf.header().used as usize;
    assert!(used <= buf.len());
    for e in perf.entries() {
        assert!(e.offset + 20 <= used && e.offset % 4 == 0 && !e.name.is_empty());
    }
    let _ = HeapSample::from_perf(&perf);
    true
}

fn garbage(rng: &mut Rng) -> Vec<u8> {
    let mut b: Vec<u8> = (0..rng.below(4096)).map(|_| rng.next() as u8).collect();
    if b.len() >= 8 && rng.below(2) == 0 {
        b[..4].copy_from_slice(&0xcafe_c0c0u32.to_be_bytes());
        b[4] = rng.below(2) as u8;
        b[5] = 2;
    }
    b
}

#[test]
fn mutation_fuzz_never_panics() {
    let secs = std::env::var("HSPERF_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    let seed = std::env::var("HSPERF_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let (budget, max_inputs) = match secs {
        Some(s) => (Duration::from_secs(s), u64::MAX),
        None => (Duration::from_secs(2), 200_000),
    };
    let seeds: Vec<Vec<u8>> = captured_files().into_iter().map(|(_, b)| b).collect();
    let fields: Vec<Vec<usize>> = seeds.iter().map(|s| field_offsets(s)).collect();
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let (mut inputs, mut parsed) = (0u64, 0u64);
    while start.elapsed() < budget && inputs < max_inputs {
        let i = rng.below(seeds.len());
        let input = match rng.below(10) {
            0 => garbage(&mut rng),
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, &seeds[i], other, &fields[i])
            }
        };
        parsed += u64::from(exercise(&input));
        inputs += 1;
    }
    eprintln!(
        "mutation fuzz: {inputs} inputs, {parsed} parsed, seed {seed}, {:?}",
        start.elapsed()
    );
    assert!(inputs > 1000, "the loop ran: {inputs}");
    assert!(
        parsed > inputs / 20,
        "mutations too destructive to reach the entry walk: {parsed}/{inputs}"
    );
}
