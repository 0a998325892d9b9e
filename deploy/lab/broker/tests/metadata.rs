//! The brokers' metadata copies (`metadata.rs`) follow ZooKeeper through a ZooKeeper restart and
//! a rolling restart of brokers — the first two phases of an upgrade: a leader's cached
//! partition-state version stays ZooKeeper's, so its ISR writes are not refused and a restarted
//! broker is back in every ISR seconds after it registered, not after a full reload.

use std::time::{Duration, Instant};

use crate::support::{Lab, produce, wait_for};

const MINUTE: Duration = Duration::from_secs(60);

/// Guards the incremental metadata copy against lost watch events. zookeeper-client 0.11.2 does
/// not register persistent watches again when it reconnects a session, so after a ZooKeeper
/// restart a copy that only read what watch events named went blind: leaders kept the state
/// version of before, and their ISR writes were refused ("Cached zkVersion … not equal to that
/// in zookeeper") until the next full reload — roll 1 of an upgrade, right after the ZooKeeper
/// phase, took ~25 s per broker instead of ~2 s.
#[test]
fn after_a_zookeeper_restart_leaders_take_a_restarted_broker_back_at_once() {
    // Full reloads (every 30 refresh periods) come a minute apart: a copy that misses changes
    // shows. The session outlasts the ZooKeeper restart (the server caps it at 10 s).
    let mut lab = Lab::start(
        5,
        "3.1.1",
        &[
            ("LAB_METADATA_REFRESH_MS", "2000"),
            ("KAFKA_ZOOKEEPER_SESSION_TIMEOUT_MS", "10000"),
        ],
    );
    crate::create_topic(&lab, "orders", 50);
    produce(&lab.bootstrap(), "orders", 500, 100, &[]).expect("produce");
    lab.restart_zookeeper();

    for id in [1, 2] {
        lab.stop(id);
        wait_for(
            &format!("ZooKeeper: broker {id} out of every ISR"),
            MINUTE,
            || {
                lab.zk_isr("orders")
                    .filter(|ps| ps.iter().all(|(_, isr)| !isr.contains(&id)))
            },
        );
        wait_for(
            &format!("the brokers' copies: broker {id} out of every ISR"),
            Duration::from_secs(10),
            || {
                lab.partitions("orders")
                    .filter(|ps| ps.iter().all(|p| !p.3.contains(&id)))
            },
        );
        lab.launch(id);
        lab.broker(id).wait_event("registered", MINUTE);
        let back = Instant::now();
        wait_for(
            &format!("ZooKeeper: broker {id} back in every ISR within 10 s of registering"),
            Duration::from_secs(10),
            || {
                lab.zk_isr("orders")
                    .filter(|ps| ps.iter().all(|(_, isr)| isr.len() == 3))
            },
        );
        eprintln!(
            "broker {id} back in every ISR {:?} after it registered",
            back.elapsed()
        );
        lab.wait_isr("orders", 3, Duration::from_secs(10));
        let refused: Vec<String> = lab
            .brokers
            .values()
            .flat_map(|b| b.output())
            .filter(|l| l.contains("Cached zkVersion"))
            .collect();
        assert!(
            refused.is_empty(),
            "ISR writes refused on a stale state version around broker {id}'s restart:\n{}",
            refused.join("\n")
        );
    }
}
