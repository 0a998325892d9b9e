//! Any byte string: parse never panics; a successful parse derives a sample
//! without panicking, and every entry lies inside the used buffer.
#![no_main]

use kroll_hsperf::{HeapSample, PerfData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(perf) = PerfData::parse(data) {
        let used = perf.header().used as usize;
        assert!(used <= data.len());
        for e in perf.entries() {
            assert!(e.offset + 20 <= used && !e.name.is_empty());
        }
        let _ = HeapSample::from_perf(&perf);
    }
});
