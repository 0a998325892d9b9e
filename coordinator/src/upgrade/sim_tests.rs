//! The engine against a simulated cluster (fast, deterministic): controller last, never two
//! brokers down, no stop below min ISR, exactly two restarts per broker, halting + rollback when
//! the IBP pin is forgotten, and resuming after the coordinator is killed at every point.
//!
//! The simulation keeps Kafka's rules that matter here: a recreated broker is registered at once
//! but rejoins ISR only a few observations later; a broker whose IBP is newer than a live peer's
//! software never rejoins the partitions it shares with that peer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use kroll_shared::inventory::ServiceKind;

use super::actions::NodeActions;
use super::engine::{ConnectPhases, Engine, Observe, Outcome, Parts, Settings};
use super::fixtures;
use super::journal::RunDir;
use super::plan::{Change, IBP_ENV, PlanOptions};
use super::view::{ClusterView, KafkaView, PartitionView, ServiceView};
use crate::agents::{AgentCallError, Pulled, Recreated, RolledBack};

const REG: &str = "reg/rhodry";

/// The minor version of an IBP like `3.7` (an unset IBP counts as the lowest).
fn ibp_minor(ibp: Option<&str>) -> u32 {
    ibp.and_then(|i| i.split('.').nth(1))
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
struct Broker {
    image: String,
    ibp: Option<String>,
    prev: Option<(String, Option<String>)>,
    /// Observations left until it is back in ISR (None = in ISR).
    catching_up: Option<u32>,
    restarts: u32,
}

#[derive(Debug, Default)]
struct State {
    brokers: BTreeMap<i32, Broker>,
    others: BTreeMap<String, (ServiceKind, String)>,
    ops: BTreeSet<String>,
    violations: Vec<String>,
    /// Order of broker recreates: (broker, controller at that moment).
    order: Vec<(i32, i32)>,
    /// The next recreate of this image fails to start.
    broken_image: Option<String>,
    /// Recreates of any container, replays excluded.
    recreates: usize,
    /// Images run untagged (`reg/rhodry/kafka`), the version in their labels; what a refreshed
    /// pull of a mutable name finds is 7.7.1 unless `latest_is_old`.
    untagged: bool,
    latest_is_old: bool,
    /// A broker whose container is not there for this many more observations (its agent is
    /// between the rename of the old container and the start of the new one).
    absent: Option<(i32, u32)>,
}

/// A 5-broker cluster, partitions RF 3 / min ISR 2 spread over all brokers.
#[derive(Debug)]
struct Sim {
    s: Mutex<State>,
    catch_up: u32,
}

/// The sim's registry digest of every 7.7.1 image pushed under a mutable name.
const DIGEST_7_7_1: &str =
    "@sha256:e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7";

/// The minor platform version an image is (untagged images are 7.1.1 until pinned to the
/// 7.7.1 digest).
fn version_of(image: &str) -> u32 {
    if image.ends_with(DIGEST_7_7_1) {
        return 7;
    }
    if kroll_shared::model::image_repository(image) == image {
        return 1;
    }
    image
        .rsplit(':')
        .next()
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

impl Sim {
    fn new() -> Self {
        let mut st = State::default();
        for id in 1..=5 {
            st.brokers.insert(
                id,
                Broker {
                    image: format!("{REG}/kafka:7.1.1"),
                    ibp: None,
                    prev: None,
                    catching_up: None,
                    restarts: 0,
                },
            );
        }
        st.others.insert(
            "zk".into(),
            (ServiceKind::Zookeeper, format!("{REG}/zookeeper:7.1.1")),
        );
        st.others.insert(
            "sr".into(),
            (
                ServiceKind::SchemaRegistry,
                format!("{REG}/schema-registry:7.1.1"),
            ),
        );
        Self {
            s: Mutex::new(st),
            catch_up: 3,
        }
    }

    /// The cluster run from untagged images, as the journal's is.
    fn untagged() -> Self {
        let sim = Self::new();
        {
            let mut st = sim.s.lock().expect("lock");
            st.untagged = true;
            for b in st.brokers.values_mut() {
                b.image = format!("{REG}/kafka");
            }
            for o in st.others.values_mut() {
                o.1 = kroll_shared::model::image_repository(&o.1).to_owned();
            }
        }
        sim
    }

    fn partitions() -> Vec<(i32, Vec<i32>)> {
        (0..10)
            .map(|p| (p, (0..3).map(|r| (p + r) % 5 + 1).collect()))
            .collect()
    }

    /// Can broker `b` replicate with every other live broker it shares partitions with?
    fn replicates(st: &State, b: i32) -> bool {
        let me = &st.brokers[&b];
        let my_ibp = me
            .ibp
            .as_deref()
            .and_then(|i| i.split('.').nth(1))
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or_else(|| version_of(&me.image));
        st.brokers.values().all(|o| version_of(&o.image) >= my_ibp)
    }

    fn view(&self) -> ClusterView {
        let mut st = self.s.lock().expect("lock");
        for id in st.brokers.keys().copied().collect::<Vec<_>>() {
            let ok = Self::replicates(&st, id);
            if let Some(b) = st.brokers.get_mut(&id)
                && let Some(n) = b.catching_up
            {
                b.catching_up = if n <= 1 && ok {
                    None
                } else {
                    Some(n.saturating_sub(1).max(if ok { 0 } else { 1 }))
                };
            }
        }
        let absent = match st.absent {
            Some((id, n)) if n > 0 => {
                st.absent = Some((id, n - 1));
                Some(id)
            }
            _ => None,
        };
        let in_isr = |id: &i32| st.brokers[id].catching_up.is_none() && absent != Some(*id);
        let partitions = Self::partitions()
            .into_iter()
            .map(|(p, replicas)| {
                let isr: Vec<i32> = replicas.iter().copied().filter(in_isr).collect();
                PartitionView {
                    topic: "t".into(),
                    partition: p,
                    leader: isr.first().copied().unwrap_or(-1),
                    replicas,
                    isr,
                }
            })
            .collect();
        let mut services: Vec<ServiceView> = st
            .brokers
            .iter()
            .map(|(id, b)| {
                let mut env = BTreeMap::from([("KAFKA_BROKER_ID".to_owned(), id.to_string())]);
                if let Some(i) = &b.ibp {
                    env.insert(IBP_ENV.into(), i.clone());
                }
                let mut s = service(
                    ServiceKind::Broker,
                    &format!("kafka-0{id}"),
                    &b.image,
                    env,
                    Some(*id),
                );
                if absent == Some(*id) {
                    s.container = None;
                }
                s
            })
            .collect();
        for (name, (kind, image)) in &st.others {
            let env = if *kind == ServiceKind::Connect {
                [
                    "BOOTSTRAP_SERVERS",
                    "GROUP_ID",
                    "CONFIG_STORAGE_TOPIC",
                    "OFFSET_STORAGE_TOPIC",
                    "STATUS_STORAGE_TOPIC",
                    "KEY_CONVERTER",
                    "VALUE_CONVERTER",
                    "REST_ADVERTISED_HOST_NAME",
                ]
                .into_iter()
                .map(|k| (format!("CONNECT_{k}"), "x".to_owned()))
                .chain([(
                    "CONNECT_LISTENERS".to_owned(),
                    "http://0.0.0.0:8083".to_owned(),
                )])
                .collect()
            } else {
                BTreeMap::new()
            };
            services.push(service(*kind, name, image, env, None));
        }
        if st.untagged {
            for s in &mut services {
                if let Some(c) = &mut s.container {
                    let release = format!("7.{}.1", version_of(&c.image));
                    c.labels
                        .insert(kroll_shared::model::CONFLUENT_LABEL.into(), "true".into());
                    c.labels
                        .insert(kroll_shared::model::CONFLUENT_RELEASE_LABEL.into(), release);
                }
            }
        }
        let controller = st.brokers.keys().copied().find(|id| *id == 3).or(Some(1));
        ClusterView {
            services,
            kafka: Some(KafkaView {
                registered: st.brokers.keys().copied().collect(),
                controller,
                partitions,
                min_isr: BTreeMap::from([("t".to_owned(), 2)]),
                default_min_isr: 1,
            }),
            unreachable: BTreeMap::new(),
            kafka_error: None,
            disks: BTreeMap::new(),
        }
    }
}

fn service(
    kind: ServiceKind,
    name: &str,
    image: &str,
    env: BTreeMap<String, String>,
    broker_id: Option<i32>,
) -> ServiceView {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    fixtures::service(
        kind,
        name,
        fixtures::container(name, image, &env, &[]),
        broker_id,
    )
}

impl Observe for Sim {
    async fn observe(&self) -> ClusterView {
        tokio::task::yield_now().await;
        self.view()
    }

    async fn observe_kafka(&self) -> Result<KafkaView, String> {
        tokio::task::yield_now().await;
        self.view().kafka.ok_or_else(|| "no kafka".into())
    }
}

fn recreated(node: &str) -> Recreated {
    Recreated {
        node: node.into(),
        container: None,
        replayed: false,
        stop_duration_ms: 0,
        killed_after_timeout: false,
        previous_image: String::new(),
    }
}

impl NodeActions for Sim {
    async fn images_present(
        &self,
        _: &str,
        images: &[String],
    ) -> Result<(BTreeMap<String, String>, Vec<String>), AgentCallError> {
        Ok((
            images.iter().map(|i| (i.clone(), "sha".into())).collect(),
            vec![],
        ))
    }

    async fn pull(
        &self,
        _: &str,
        _: &str,
        image: &str,
        refresh: bool,
    ) -> Result<Pulled, AgentCallError> {
        let st = self.s.lock().expect("lock");
        let mut pulled = Pulled {
            image_id: "sha256:1".into(),
            ..Pulled::default()
        };
        if refresh && st.untagged {
            let release = if st.latest_is_old { "7.1.1" } else { "7.7.1" };
            pulled.repo_digests = vec![format!("{image}{DIGEST_7_7_1}")];
            pulled.labels = BTreeMap::from([
                ("io.confluent.docker".to_owned(), "true".to_owned()),
                ("release".to_owned(), release.to_owned()),
            ]);
        }
        Ok(pulled)
    }

    async fn recreate(
        &self,
        node: &str,
        op: &str,
        container: &str,
        change: &Change,
        _: Duration,
    ) -> Result<Recreated, AgentCallError> {
        tokio::task::yield_now().await;
        let mut st = self.s.lock().expect("lock");
        if !st.ops.insert(op.to_owned()) {
            return Ok(Recreated {
                replayed: true,
                ..recreated(node)
            });
        }
        st.recreates += 1;
        let Some(id) = container
            .strip_prefix("kafka-0")
            .and_then(|d| d.parse::<i32>().ok())
        else {
            if let Some(o) = st.others.get_mut(container) {
                o.1 = change.image.clone();
            }
            return Ok(recreated(node));
        };
        let down = st
            .brokers
            .iter()
            .filter(|(b, x)| **b != id && x.catching_up.is_some())
            .map(|(b, _)| *b)
            .collect::<Vec<_>>();
        if !down.is_empty() {
            st.violations
                .push(format!("broker {id} stopped while {down:?} not in ISR"));
        }
        let controller = 3;
        st.order.push((id, controller));
        let broken = st.broken_image.as_deref() == Some(change.image.as_str());
        let b = st.brokers.get_mut(&id).expect("broker");
        b.prev = Some((b.image.clone(), b.ibp.clone()));
        b.image = change.image.clone();
        let mut lowered = None;
        if let Some(v) = change.env.set.get(IBP_ENV) {
            if ibp_minor(b.ibp.as_deref()) > ibp_minor(Some(v)) {
                lowered = Some(format!(
                    "broker {id} recreated with IBP {v} while it ran {:?} (protocol downgrade)",
                    b.ibp
                ));
            }
            b.ibp = Some(v.clone());
        }
        b.restarts += 1;
        b.catching_up = Some(if broken { u32::MAX } else { self.catch_up });
        st.violations.extend(lowered);
        Ok(recreated(node))
    }

    async fn rollback(
        &self,
        node: &str,
        _: &str,
        container: &str,
        _: Duration,
    ) -> Result<RolledBack, AgentCallError> {
        let mut st = self.s.lock().expect("lock");
        let id: i32 = container
            .strip_prefix("kafka-0")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        let b = st.brokers.get_mut(&id).expect("broker");
        let (image, ibp) = b.prev.take().expect("kept definition");
        let lowered = (ibp_minor(b.ibp.as_deref()) > ibp_minor(ibp.as_deref())).then(|| {
            format!(
                "broker {id} rolled back from IBP {:?} to {ibp:?} (protocol downgrade)",
                b.ibp
            )
        });
        b.image = image.clone();
        b.ibp = ibp;
        b.catching_up = Some(self.catch_up);
        st.violations.extend(lowered);
        Ok(RolledBack {
            node: node.into(),
            container: None,
            replayed: false,
            restored_image: image,
        })
    }
}

struct NoConnect;

impl ConnectPhases for NoConnect {
    async fn quiesce(&self, _: &std::path::Path) -> Result<String, String> {
        Ok(String::new())
    }

    async fn resume(&self, _: &std::path::Path) -> Result<String, String> {
        Ok(String::new())
    }
}

fn settings() -> Settings {
    Settings {
        poll: Duration::from_millis(1),
        gate_timeout: Duration::from_secs(2),
        gate_timeout_per_partition: Duration::ZERO,
        yes: true,
        ..Settings::default()
    }
}

fn engine<'a>(sim: &'a Sim, run: RunDir, pin: bool) -> Engine<'a, Sim, Sim, NoConnect> {
    engine_with(sim, run, pin, None)
}

fn engine_with<'a, C: ConnectPhases>(
    sim: &'a Sim,
    run: RunDir,
    pin: bool,
    connect: Option<&'a C>,
) -> Engine<'a, Sim, Sim, C> {
    let resuming = run
        .path()
        .join("journal.jsonl")
        .metadata()
        .is_ok_and(|m| m.len() > 0);
    let opts = PlanOptions {
        to: "7.7.1".parse().expect("v"),
        images: BTreeMap::new(),
        pin_ibp: pin,
        resuming,
    };
    Engine::new(Parts {
        observer: sim,
        actions: sim,
        connect,
        run,
        opts,
        settings: settings(),
        cluster: "sim".into(),
        quiet: true,
        stack: None,
    })
}

fn check_done(sim: &Sim) {
    let st = sim.s.lock().expect("lock");
    assert!(st.violations.is_empty(), "{:?}", st.violations);
    let target = |name: &str| {
        if st.untagged {
            format!("{REG}/{name}{DIGEST_7_7_1}")
        } else {
            format!("{REG}/{name}:7.7.1")
        }
    };
    for (id, b) in &st.brokers {
        assert_eq!(b.image, target("kafka"), "broker {id}");
        assert_eq!(b.ibp.as_deref(), Some("3.7"), "broker {id}");
        assert_eq!(b.restarts, 2, "broker {id} restarted exactly twice");
    }
    assert!(
        st.others.values().all(|(_, i)| i.ends_with(if st.untagged {
            DIGEST_7_7_1
        } else {
            ":7.7.1"
        })),
        "{:?}",
        st.others
    );
    // The controller (3) is the last broker of each roll.
    let rolls: Vec<&[(i32, i32)]> = st.order.chunks(5).collect();
    for roll in rolls {
        assert_eq!(
            roll.last().map(|r| r.0),
            Some(3),
            "controller last: {:?}",
            st.order
        );
    }
}

/// Upgrades `sim` in one run (run directory `r` of the returned directory), which must finish
/// with every check of [`check_done`].
async fn upgrade_to_the_end(sim: &Sim) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let run = RunDir::create(dir.path(), "r").expect("run");
    let outcome = engine(sim, run, true).run().await;
    assert!(matches!(outcome, Outcome::Finished(_)), "{outcome:?}");
    check_done(sim);
    dir
}

#[tokio::test]
async fn a_full_upgrade_rolls_every_broker_twice_controller_last() {
    upgrade_to_the_end(&Sim::new()).await;
}

#[tokio::test]
async fn forgetting_the_ibp_pin_is_caught_by_the_gate_and_rolled_back() {
    let sim = Sim::new();
    let dir = tempfile::tempdir().expect("tmp");
    let run = RunDir::create(dir.path(), "r").expect("run");
    let outcome = engine(&sim, run, false).run().await;
    let Outcome::Halted(h, _) = outcome else {
        panic!("must halt")
    };
    assert!(h.reason.contains("back in service did not pass"), "{h:?}");
    assert!(h.advice.contains("rolled back"), "{h:?}");
    let st = sim.s.lock().expect("lock");
    assert!(
        st.brokers.values().all(|b| b.image.ends_with(":7.1.1")),
        "the failed broker was rolled back"
    );
    assert_eq!(
        st.order.len(),
        1,
        "nothing after the failed broker was touched"
    );
}

#[tokio::test]
async fn a_broken_target_image_halts_and_rolls_back_that_node() {
    let sim = Sim::new();
    sim.s.lock().expect("lock").broken_image = Some(format!("{REG}/kafka:7.7.1"));
    let dir = tempfile::tempdir().expect("tmp");
    let run = RunDir::create(dir.path(), "r").expect("run");
    let Outcome::Halted(h, _) = engine(&sim, run, true).run().await else {
        panic!("must halt")
    };
    assert!(
        h.advice.contains("rolled back to reg/rhodry/kafka:7.1.1"),
        "{h:?}"
    );
    // The rolled-back broker catches up after a few observations: the cluster heals.
    let healed = (0..10).any(|_| super::gates::cluster_healthy(&sim.view()).passed());
    assert!(healed, "the cluster is healthy again after the rollback");
}

#[tokio::test]
async fn killed_at_any_point_the_coordinator_resumes_without_restarting_twice() {
    // Kill the coordinator after k observations, for many k across the whole run.
    for k in (3..160).step_by(7) {
        kill_after_and_resume(&Sim::new(), k).await;
    }
}

/// Runs an upgrade of `sim`, drops (kills) it after `k` polls, resumes it to the end and checks
/// the result.
async fn kill_after_and_resume(sim: &Sim, k: usize) {
    let dir = tempfile::tempdir().expect("tmp");
    let run = RunDir::create(dir.path(), "r").expect("run");
    let mut first = Box::pin(engine(sim, run, true).run());
    let mut finished = false;
    for _ in 0..k {
        if futures::poll!(first.as_mut()).is_ready() {
            finished = true;
            break;
        }
    }
    drop(first);
    if !finished {
        let run = RunDir::open(dir.path(), &dir.path().join("r")).expect("reopen");
        let outcome = engine(sim, run, true).run().await;
        assert!(
            matches!(outcome, Outcome::Finished(_)),
            "k={k}: {outcome:?}"
        );
    }
    check_done(sim);
}

#[tokio::test]
async fn a_resumed_run_waits_for_a_container_its_agent_is_still_recreating() {
    // Killed right after a recreate was sent: the agent finishes it (the container is absent
    // for a few observations, then runs); the resumed run waits instead of refusing to plan.
    let sim = Sim::new();
    let dir = tempfile::tempdir().expect("tmp");
    let run = RunDir::create(dir.path(), "r").expect("run");
    let mut first = Box::pin(engine(&sim, run, true).run());
    for polls in 0.. {
        assert!(polls < 1_000_000, "the first run is stuck");
        assert!(futures::poll!(first.as_mut()).is_pending());
        tokio::time::sleep(Duration::from_micros(50)).await;
        if sim.s.lock().expect("lock").order.len() >= 2 {
            break;
        }
    }
    drop(first);
    let last = sim.s.lock().expect("lock").order.last().map(|o| o.0);
    sim.s.lock().expect("lock").absent = last.map(|id| (id, 5));
    let run = RunDir::open(dir.path(), &dir.path().join("r")).expect("reopen");
    let outcome = engine(&sim, run, true).run().await;
    assert!(matches!(outcome, Outcome::Finished(_)), "{outcome:?}");
    check_done(&sim);
}

#[tokio::test]
async fn an_untagged_cluster_is_upgraded_to_the_digest_its_name_points_at_now() {
    let dir = upgrade_to_the_end(&Sim::untagged()).await;
    // The pinned targets are the run's images: a resume uses the same digests.
    let journal = std::fs::read_to_string(dir.path().join("r/journal.jsonl")).expect("journal");
    assert!(
        journal.contains(&format!("{REG}/kafka{DIGEST_7_7_1}")),
        "{journal}"
    );
    // Killed anywhere, resumed: the same digests, each broker restarted exactly twice.
    for k in (3..120).step_by(13) {
        kill_after_and_resume(&Sim::untagged(), k).await;
    }
}

#[tokio::test]
async fn a_mutable_name_that_still_points_at_the_old_version_is_refused_touching_nothing() {
    let sim = Sim::untagged();
    sim.s.lock().expect("lock").latest_is_old = true;
    let dir = tempfile::tempdir().expect("tmp");
    let run = RunDir::create(dir.path(), "r").expect("run");
    let Outcome::Halted(h, _) = engine(&sim, run, true).run().await else {
        panic!("must refuse")
    };
    assert!(h.reason.contains("is 7.1.1, not 7.7.1"), "{h:?}");
    assert!(h.advice.contains("nothing was touched"), "{h:?}");
    assert_eq!(sim.s.lock().expect("lock").recreates, 0);
}

/// Connect phases whose resume fails until `allow` is set (the value-schema refusal).
struct RefusingConnect {
    allow: std::sync::atomic::AtomicBool,
    resumed: std::sync::atomic::AtomicUsize,
}

impl ConnectPhases for RefusingConnect {
    async fn quiesce(&self, _: &std::path::Path) -> Result<String, String> {
        Ok("quiesced".into())
    }

    async fn resume(&self, _: &std::path::Path) -> Result<String, String> {
        if !self.allow.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("refused, nothing was changed: incompatible value schemas".into());
        }
        self.resumed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok("resumed".into())
    }
}

#[tokio::test]
async fn a_run_halted_after_its_last_container_resumes_its_connect_and_post_check_phases() {
    let sim = Sim::new();
    sim.s.lock().expect("lock").others.insert(
        "connect".into(),
        (ServiceKind::Connect, format!("{REG}/connect:7.1.1")),
    );
    let connect = RefusingConnect {
        allow: false.into(),
        resumed: 0.into(),
    };
    let dir = tempfile::tempdir().expect("tmp");
    let run = RunDir::create(dir.path(), "r").expect("run");
    let Outcome::Halted(h, _) = engine_with(&sim, run, true, Some(&connect)).run().await else {
        panic!("must halt at Connect resume")
    };
    assert!(h.reason.contains("incompatible value schemas"), "{h:?}");
    connect
        .allow
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let run = RunDir::open(dir.path(), &dir.path().join("r")).expect("reopen");
    let outcome = engine_with(&sim, run, true, Some(&connect)).run().await;
    let Outcome::Finished(report) = outcome else {
        panic!("every container done, the rest of the run still runs: {outcome:?}")
    };
    assert_eq!(
        (report.steps.len(), report.invocations),
        (13, 2),
        "the report covers the whole run: {}",
        report.render()
    );
    assert!(
        report.render().contains("13 steps in 2 invocations"),
        "{}",
        report.render()
    );
    assert_eq!(connect.resumed.load(std::sync::atomic::Ordering::SeqCst), 1);
    check_done(&sim);
}

/// Drives a first run until `k` brokers of Roll 2 were recreated with the new IBP and `extra`
/// more polls went by (mid-gate, mid-intent), then drops it: the coordinator died.
async fn kill_in_roll_2(sim: &Sim, runs: &std::path::Path, k: usize, extra: usize) {
    let run = RunDir::create(runs, "r1").expect("run");
    let mut first = Box::pin(engine(sim, run, true).run());
    let mut after = None;
    for polls in 0.. {
        assert!(polls < 1_000_000, "k={k}: the first run is stuck");
        if futures::poll!(first.as_mut()).is_ready() {
            panic!("k={k}: the first run ended before {k} brokers were bumped");
        }
        // Let the runtime's timers (the gates' pauses) advance.
        tokio::time::sleep(Duration::from_micros(50)).await;
        let bumped = sim.s.lock().expect("lock").order.len() >= 5 + k;
        if bumped {
            let left = after.get_or_insert(extra);
            if *left == 0 {
                break;
            }
            *left -= 1;
        }
    }
}

#[tokio::test]
async fn a_new_run_after_a_halt_at_any_step_of_roll_2_never_lowers_the_ibp() {
    for k in 1..=4 {
        for extra in [0, 2, 6] {
            let sim = Sim::new();
            let dir = tempfile::tempdir().expect("tmp");
            kill_in_roll_2(&sim, dir.path(), k, extra).await;
            // Not `--resume`: a new run id, so the agents' record of the first run's operation
            // ids does not protect anything.
            let run = RunDir::create(dir.path(), "r2").expect("second run");
            let outcome = engine(&sim, run, true).run().await;
            assert!(
                matches!(outcome, Outcome::Finished(_)),
                "k={k} extra={extra}: {outcome:?}"
            );
            check_done(&sim);
        }
    }
}

#[tokio::test]
async fn a_journal_that_cannot_be_written_halts_before_any_unjournaled_action() {
    for n in 0..45 {
        let sim = Sim::new();
        let dir = tempfile::tempdir().expect("tmp");
        let mut run = RunDir::create(dir.path(), "r").expect("run");
        run.fail_writes_after(n);
        let outcome = engine(&sim, run, true).run().await;
        let entries = super::journal::read(&dir.path().join("r/journal.jsonl")).expect("read");
        let intents = entries
            .iter()
            .filter(|e| matches!(e.event, super::journal::Event::StepIntent { .. }))
            .count();
        let confirmed = entries
            .iter()
            .any(|e| matches!(e.event, super::journal::Event::BumpConfirmed { .. }));
        let st = sim.s.lock().expect("lock");
        assert_eq!(
            st.recreates, intents,
            "n={n}: every recreate has its intent in the journal"
        );
        if !confirmed {
            assert!(
                st.brokers.values().all(|b| b.ibp.as_deref() != Some("3.7")),
                "n={n}: no bump without its journaled confirmation"
            );
        }
        match outcome {
            Outcome::Halted(h, _) => assert!(
                h.reason.contains("journal cannot be written"),
                "n={n}: {h:?}"
            ),
            Outcome::Finished(_) => assert!(
                entries.len() as u64 <= n,
                "n={n}: finished although a journal write failed"
            ),
        }
    }
}
