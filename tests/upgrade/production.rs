//! The journal's production size (issue 12 item 4): `kroll-lab up --shape production` —
//! 18 brokers, a 3-server ZooKeeper ensemble — with a topic of many partitions at RF 3 / min
//! ISR 2, upgraded 7.1.1 → 7.7.1 by the real `kroll`, watched by the independent observer: never
//! two brokers down, no stop below min ISR, each broker restarted exactly twice, the controller
//! last in each roll, every broker on 7.7.1 with IBP 3.7 afterwards.
//!
//! The suite runs it with [`PARTITIONS`] partitions to stay inside its time budget; the
//! benchmark (`kroll-bench upgrade --shape production --partitions 3000`) runs the full count
//! (BENCHMARKS.md).

use std::time::Instant;

use kroll_lab::topology::{Services, Shape};

use super::observer::Observer;
use super::{FAST, assert_brokers_on_7_7_1, assert_healthy, assert_two_safe_rolls_of, kroll, text};
use crate::lab::TestLab;

/// Partitions of the lab's load topic in the suite.
const PARTITIONS: u32 = 100;

#[tokio::test(flavor = "multi_thread")]
async fn the_production_shape_upgrades_with_the_observers_invariants() {
    let shape = Shape {
        load_partitions: PARTITIONS,
        ..Shape::PRODUCTION
    };
    let began = Instant::now();
    let lab = TestLab::up_shaped("prod", Services::Kafka, shape).await;
    let up = began.elapsed();
    kroll_tests::lab_platform_images("7.7.1").await;
    let inv = lab.handle.inventory.clone();
    let runs = lab.handle.dir.join("runs");
    let status = kroll(&inv, &["--output", "json", "status"]);
    assert!(status.status.success(), "{}", text(&status));
    let observer = Observer::start(lab.name(), &lab.handle.kafka_zookeeper(), 2).await;
    let runs_arg = runs.display().to_string();
    let mut args = vec!["upgrade", "--to", "7.7.1", "--yes", "--runs", &runs_arg];
    args.extend(FAST);
    let upgrade_began = Instant::now();
    let out = kroll(&inv, &args);
    let took = upgrade_began.elapsed();
    let seen = observer.stop().await;
    assert!(
        out.status.success(),
        "kroll upgrade failed:\n{}",
        text(&out)
    );
    assert_two_safe_rolls_of(&seen, 18);
    assert_eq!(assert_brokers_on_7_7_1(lab.name()), 18, "every broker");
    assert_healthy(&inv);
    eprintln!(
        "production shape ({PARTITIONS} partitions): lab up {:.0} s, upgrade {:.0} s, observer samples {}",
        up.as_secs_f64(),
        took.as_secs_f64(),
        seen.samples
    );
}
