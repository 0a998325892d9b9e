//! Table tests of [`next`] over (plan, view, run): a fresh run, controller last, the bump's
//! confirmation, failures before and after the point of no return, a half-bumped cluster met by
//! a new run, a stale plan, and the "satisfied" predicate itself.

use std::collections::BTreeMap;

use kroll_shared::inventory::ServiceKind;
use kroll_shared::model::EnvPatch;

use super::*;
use crate::upgrade::fixtures::{container, service};
use crate::upgrade::journal::{Entry, Event};
use crate::upgrade::plan::{PlanOptions, plan};
use crate::upgrade::run_state::tests::started;
use crate::upgrade::view::{KafkaView, PartitionView};

const REG: &str = "reg/rhodry";

/// ZooKeeper already on 7.7.1; brokers 1–5 on `versions` with `ibps`; partitions RF 3 in ISR.
fn view(versions: [&str; 5], ibps: [Option<&str>; 5], controller: i32) -> ClusterView {
    let mut services = vec![service(
        ServiceKind::Zookeeper,
        "zk",
        container("zk", &format!("{REG}/zookeeper:7.7.1"), &[], &[]),
        None,
    )];
    for i in 1..=5_i32 {
        let name = format!("kafka-0{i}");
        let id = i.to_string();
        let mut env = vec![("KAFKA_BROKER_ID", id.as_str())];
        if let Some(v) = ibps[i as usize - 1] {
            env.push((IBP_ENV, v));
        }
        let image = format!("{REG}/kafka:{}", versions[i as usize - 1]);
        services.push(service(
            ServiceKind::Broker,
            &name,
            container(&name, &image, &env, &[]),
            Some(i),
        ));
    }
    let partitions = (0..5)
        .map(|p| {
            let replicas: Vec<i32> = (0..3).map(|r| (p + r) % 5 + 1).collect();
            PartitionView {
                topic: "t".into(),
                partition: p,
                leader: replicas[0],
                isr: replicas.clone(),
                replicas,
            }
        })
        .collect();
    ClusterView {
        services,
        kafka: Some(KafkaView {
            registered: (1..=5).collect(),
            controller: Some(controller),
            partitions,
            min_isr: BTreeMap::new(),
            default_min_isr: 2,
        }),
        unreachable: BTreeMap::new(),
        kafka_error: None,
        disks: BTreeMap::new(),
    }
}

fn policy() -> Policy {
    Policy {
        broker_stop_timeout: Duration::from_secs(300),
        stop_timeout: Duration::from_secs(120),
        gate_timeout: Duration::from_secs(60),
        gate_timeout_per_partition: Duration::from_secs(1),
        allow_min_isr_violation: false,
        auto_rollback: true,
        skip_connect: false,
    }
}

/// A run whose journal holds a start from `from` and then `events`.
fn run(from: &str, events: Vec<Event>) -> RunState {
    let entries: Vec<Entry> = std::iter::once(started(from))
        .chain(events)
        .map(|event| Entry {
            seq: 0,
            time_unix_ms: 0,
            event,
        })
        .collect();
    RunState::fold("r", &entries)
}

fn settled(steps: &[&str]) -> Vec<Event> {
    steps
        .iter()
        .map(|s| Event::StepSkipped {
            step: (*s).into(),
            reason: "already".into(),
        })
        .collect()
}

fn failed(step: &str, container: &str) -> Vec<Event> {
    vec![
        Event::StepIntent {
            step: step.into(),
            node: format!("node-{container}"),
            container: container.into(),
            op_id: format!("r/{step}"),
            image: "i".into(),
        },
        Event::StepFailed {
            step: step.into(),
            op_id: format!("r/{step}"),
            error: format!("{container} back in service did not pass within 60s"),
            left_as_before: false,
        },
    ]
}

/// Options of a run to 7.7.1 under way (every container may be done).
fn opts() -> PlanOptions {
    PlanOptions {
        to: "7.7.1".parse().expect("v"),
        images: BTreeMap::new(),
        pin_ibp: true,
        resuming: true,
    }
}

fn decide(v: &ClusterView, r: &RunState) -> Next {
    let opts = opts();
    let p = plan(v, &opts).expect("plan");
    next(&p, v, r, &policy())
}

const OLD: [&str; 5] = ["7.1.1"; 5];
const NEW: [&str; 5] = ["7.7.1"; 5];
const UNSET: [Option<&str>; 5] = [None; 5];
const PINNED: [Option<&str>; 5] = [Some("3.1"); 5];
/// Brokers 1 and 4 bumped, the others not yet: the reproduced hazard.
const HALF: [Option<&str>; 5] = [
    Some("3.7"),
    Some("3.1"),
    Some("3.1"),
    Some("3.7"),
    Some("3.1"),
];
const ROLL1: [&str; 4] = [
    "roll-brokers/kafka-01",
    "roll-brokers/kafka-02",
    "roll-brokers/kafka-04",
    "roll-brokers/kafka-05",
];

fn recreated(n: &Next) -> (&str, Option<&str>) {
    match n {
        Next::Recreate(r) => (
            r.step.id.as_str(),
            r.change.env.set.get(IBP_ENV).map(String::as_str),
        ),
        other => panic!("expected a recreate, got {other:?}"),
    }
}

#[test]
fn a_fresh_run_settles_what_is_done_then_recreates_with_gates_limits_and_op_id() {
    let v = view(OLD, UNSET, 3);
    let n = decide(&v, &run("7.1.1", vec![]));
    assert!(
        matches!(&n, Next::Settle { step, gate: Gate::ZookeeperBack { .. }, .. } if step.id == "roll-zookeeper/zk"),
        "{n:?}"
    );
    let n = decide(&v, &run("7.1.1", settled(&["roll-zookeeper/zk"])));
    let Next::Recreate(r) = &n else {
        panic!("{n:?}")
    };
    assert_eq!(r.step.id, "roll-brokers/kafka-01");
    assert_eq!(r.op_id, "r/roll-brokers/kafka-01");
    assert_eq!(
        r.change.env.set.get(IBP_ENV).map(String::as_str),
        Some("3.1")
    );
    assert_eq!(
        r.before,
        Some(Gate::SafeToStop {
            broker: 1,
            allow_min_isr_violation: false
        })
    );
    assert_eq!(r.after, Gate::Rejoined { broker: 1 });
    assert_eq!(r.stop_timeout, Duration::from_secs(300));
    assert_eq!(
        r.limit,
        Duration::from_secs(60 + 3),
        "base + 1s × 3 hosted partitions"
    );
}

#[test]
fn the_controller_goes_last_as_it_is_now() {
    let mut versions = NEW;
    versions[2] = "7.1.1";
    versions[0] = "7.1.1";
    let mut ibps = PINNED;
    ibps[2] = None;
    ibps[0] = None;
    let r = run(
        "7.1.1",
        settled(&[
            "roll-zookeeper/zk",
            "roll-brokers/kafka-02",
            "roll-brokers/kafka-04",
            "roll-brokers/kafka-05",
        ]),
    );
    // Broker 3 was the controller when planned; broker 1 is now: 3 goes first.
    assert_eq!(
        recreated(&decide(&view(versions, ibps, 1), &r)).0,
        "roll-brokers/kafka-03"
    );
    assert_eq!(
        recreated(&decide(&view(versions, ibps, 3), &r)).0,
        "roll-brokers/kafka-01"
    );
}

#[test]
fn the_bump_waits_for_its_confirmation_and_never_lowers_what_runs() {
    let v = view(NEW, PINNED, 3);
    let mut done = vec!["roll-zookeeper/zk", "roll-brokers/kafka-03"];
    done.extend(ROLL1);
    assert_eq!(decide(&v, &run("7.1.1", settled(&done))), Next::ConfirmBump);
    let mut events = settled(&done);
    events.push(Event::BumpConfirmed {
        how: "--yes".into(),
    });
    assert_eq!(
        recreated(&decide(&v, &run("7.1.1", events))),
        ("bump-ibp/kafka-01", Some("3.7"))
    );
}

#[test]
fn a_new_run_on_a_half_bumped_cluster_only_finishes_the_bump() {
    let v = view(NEW, HALF, 3);
    // A new run id: the journal knows nothing; what runs says the bump began.
    let settle_all = [
        "roll-zookeeper/zk",
        "bump-ibp/kafka-01",
        "bump-ibp/kafka-04",
    ];
    assert_eq!(
        decide(&v, &run("7.7.1", settled(&settle_all))),
        Next::ConfirmBump
    );
    let mut events = settled(&settle_all);
    events.push(Event::BumpConfirmed {
        how: "--yes".into(),
    });
    let r = run("7.7.1", events);
    assert_eq!(
        recreated(&decide(&v, &r)),
        ("bump-ibp/kafka-02", Some("3.7"))
    );
    for n in [decide(&v, &run("7.7.1", vec![])), decide(&v, &r)] {
        if let Next::Recreate(r) = n {
            assert!(!r.step.id.starts_with("roll-brokers/"), "{r:?}");
        }
    }
}

#[test]
fn a_failure_before_the_bump_rolls_back_and_then_halts() {
    let v = view(OLD, UNSET, 3);
    let mut events = settled(&["roll-zookeeper/zk"]);
    events.extend(failed("roll-brokers/kafka-01", "kafka-01"));
    let n = decide(&v, &run("7.1.1", events.clone()));
    let Next::RollBack(rb) = &n else {
        panic!("{n:?}")
    };
    assert_eq!(rb.op_id, "r/roll-brokers/kafka-01/rollback");
    assert_eq!(rb.after, Gate::Rejoined { broker: 1 });
    events.push(Event::RolledBack {
        step: "roll-brokers/kafka-01".into(),
        container: "kafka-01".into(),
        image: format!("{REG}/kafka:7.1.1"),
        healed: Some(true),
    });
    let n = decide(&v, &run("7.1.1", events.clone()));
    assert!(
        matches!(&n, Next::Halt(h) if h.advice.contains("rolled back to reg/rhodry/kafka:7.1.1 and the cluster is healthy again")),
        "{n:?}"
    );
    // Resumed (a new invocation): a new attempt, under a new operation id.
    events.push(started("7.7.1"));
    events.extend(settled(&["roll-zookeeper/zk"]));
    let n = decide(&v, &run("7.1.1", events));
    let Next::Recreate(r) = &n else {
        panic!("{n:?}")
    };
    assert_eq!(r.op_id, "r/roll-brokers/kafka-01/attempt-2");
}

#[test]
fn a_recreate_the_agent_left_as_before_halts_without_a_rollback() {
    // Rolling back would bring back the container an *earlier* recreate kept: a downgrade.
    let v = view(OLD, UNSET, 3);
    let mut events = settled(&["roll-zookeeper/zk"]);
    events.extend(failed("roll-brokers/kafka-01", "kafka-01"));
    if let Some(Event::StepFailed { left_as_before, .. }) = events.last_mut() {
        *left_as_before = true;
    }
    let n = decide(&v, &run("7.1.1", events));
    assert!(
        matches!(&n, Next::Halt(h) if h.advice.contains("changed nothing or put it back")),
        "{n:?}"
    );
}

#[test]
fn past_the_point_of_no_return_a_failure_halts_whatever_the_journal_says() {
    let v = view(NEW, HALF, 3);
    // A new run that never journaled a bump confirmation (its own, or a lost one).
    let mut events = settled(&["roll-zookeeper/zk"]);
    events.extend(failed("bump-ibp/kafka-02", "kafka-02"));
    let n = decide(&v, &run("7.7.1", events));
    assert!(
        matches!(&n, Next::Halt(h) if h.advice.contains("left as it is (after the IBP bump a rollback would downgrade the protocol)")),
        "{n:?}"
    );
    let mut events = settled(&["roll-zookeeper/zk"]);
    events.extend(failed("roll-brokers/kafka-01", "kafka-01"));
    let mut p = policy();
    p.auto_rollback = false;
    let v = view(OLD, UNSET, 3);
    let opts = opts();
    let n = next(
        &plan(&v, &opts).expect("plan"),
        &v,
        &run("7.1.1", events),
        &p,
    );
    assert!(
        matches!(&n, Next::Halt(h) if h.advice.contains("automatic rollback is off")),
        "{n:?}"
    );
}

#[test]
fn a_stale_plan_that_would_lower_an_ibp_is_refused() {
    let opts = opts();
    let mut versions = NEW;
    versions[1] = "7.1.1";
    let mut ibps = PINNED;
    ibps[1] = None;
    let stale = plan(&view(versions, ibps, 3), &opts).expect("plan");
    // Meanwhile someone bumped broker 1 by hand.
    let mut now = view(versions, ibps, 3);
    now.services[1] = service(
        ServiceKind::Broker,
        "kafka-01",
        container(
            "kafka-01",
            &format!("{REG}/kafka:7.7.1"),
            &[("KAFKA_BROKER_ID", "1"), (IBP_ENV, "3.7")],
            &[],
        ),
        Some(1),
    );
    let done = [
        "roll-zookeeper/zk",
        "roll-brokers/kafka-01",
        "roll-brokers/kafka-04",
        "roll-brokers/kafka-05",
    ];
    let n = next(&stale, &now, &run("7.1.1", settled(&done)), &policy());
    assert!(
        matches!(&n, Next::Halt(h) if h.reason.contains("refusing to recreate `kafka-02` with inter.broker.protocol.version 3.1: brokers already run 3.7")),
        "{n:?}"
    );
}

#[test]
fn rollback_is_refused_by_the_journal_or_by_what_runs() {
    let before = view(NEW, PINNED, 3);
    assert_eq!(rollback_refusal(&before, &run("7.1.1", vec![])), None);
    let half = view(NEW, HALF, 3);
    let h = rollback_refusal(&half, &run("7.1.1", vec![])).expect("refused");
    assert!(
        h.reason.contains(
            "kafka-01, kafka-04 already run an inter.broker.protocol.version newer than 3.1"
        ),
        "{h:?}"
    );
    let confirmed = run(
        "7.1.1",
        vec![Event::BumpConfirmed {
            how: "--yes".into(),
        }],
    );
    assert!(rollback_refusal(&before, &confirmed).is_some());
}

#[test]
fn unreachable_agents_replayed_steps_and_the_end_are_decided_too() {
    // Planned while every agent answered; kafka-01's is lost before the step (a plan made now
    // would refuse).
    let opts = opts();
    let p = plan(&view(OLD, UNSET, 3), &opts).expect("plan");
    let mut v = view(OLD, UNSET, 3);
    v.services[1].agent_reachable = false;
    v.unreachable
        .insert("node-kafka-01".into(), "connection refused".into());
    let n = next(
        &p,
        &v,
        &run("7.1.1", settled(&["roll-zookeeper/zk"])),
        &policy(),
    );
    assert!(
        matches!(&n, Next::Halt(h) if h.reason.contains("node `node-kafka-01` cannot be reached (connection refused)")),
        "{n:?}"
    );
    let v = view(OLD, UNSET, 3);
    let n = decide(
        &v,
        &run(
            "7.1.1",
            settled(&["roll-zookeeper/zk", "roll-brokers/kafka-01"]),
        ),
    );
    assert!(
        matches!(&n, Next::Halt(h) if h.reason.contains("recorded done but `kafka-01` does not run")),
        "{n:?}"
    );
    let v = view(NEW, [Some("3.7"); 5], 3);
    let mut all = vec![
        "roll-zookeeper/zk",
        "roll-brokers/kafka-03",
        "bump-ibp/kafka-03",
    ];
    all.extend(ROLL1);
    let bumps: Vec<String> = ROLL1
        .iter()
        .map(|s| s.replace("roll-brokers", "bump-ibp"))
        .collect();
    all.extend(bumps.iter().map(String::as_str));
    let mut events = settled(&all);
    assert_eq!(decide(&v, &run("7.1.1", events.clone())), Next::PostChecks);
    events.push(Event::PhaseDone {
        phase: PhaseId::PostChecks,
        message: "passed".into(),
    });
    assert_eq!(decide(&v, &run("7.1.1", events)), Next::Finished);
}

#[test]
fn satisfied_means_the_definition_runs_and_an_ibp_is_never_lowered() {
    let s = service(
        ServiceKind::Broker,
        "kafka-01",
        container(
            "kafka-01",
            "reg/kafka:7.7.1",
            &[(IBP_ENV, "3.7"), ("OLD_NAME", "x")],
            &[],
        ),
        Some(1),
    );
    let change = |image: &str, env: EnvPatch| Change {
        image: image.into(),
        env,
        hostname: None,
    };
    let cases = [
        (
            change("reg/kafka:7.7.1", EnvPatch::setting(IBP_ENV, "3.1")),
            true,
        ),
        (
            change("reg/kafka:7.7.1", EnvPatch::setting(IBP_ENV, "3.7")),
            true,
        ),
        (
            change("reg/kafka:7.7.1", EnvPatch::setting(IBP_ENV, "3.8")),
            false,
        ),
        (change("reg/kafka:7.1.1", EnvPatch::default()), false),
        (
            change(
                "reg/kafka:7.7.1",
                EnvPatch {
                    rename: BTreeMap::from([("OLD_NAME".into(), "NEW_NAME".into())]),
                    ..EnvPatch::default()
                },
            ),
            false,
        ),
        (
            Change {
                hostname: Some("elsewhere".into()),
                ..change("reg/kafka:7.7.1", EnvPatch::default())
            },
            false,
        ),
    ];
    for (c, want) in cases {
        assert_eq!(satisfied(&s, &c), want, "{c:?}");
    }
}
