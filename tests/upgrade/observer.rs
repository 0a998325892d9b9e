//! An observer independent of the coordinator: it watches the lab's broker containers (Docker),
//! and the controller and every partition's replicas and ISR (its own ZooKeeper session, reading
//! the znodes Kafka's controller writes — where the ISR is decided, ahead of any broker's
//! metadata cache) every 100 ms while an upgrade runs, and records every breach of the upgrade's
//! invariants — so the tests check the coordinator's behaviour, not its word.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// What the observer saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Broker id → every container id it ran under, in order.
    pub container_ids: BTreeMap<i32, Vec<String>>,
    /// Broker stops in order: (broker, controller at that moment).
    pub stops: Vec<(i32, Option<i32>)>,
    /// The most brokers down (container not running) at once.
    pub max_down: usize,
    /// The broker containers (id → container id, running) when `max_down` was first seen.
    pub max_down_seen: BTreeMap<i32, (String, bool)>,
    /// Breaches of "no stop while a partition would drop below min.insync.replicas".
    pub min_isr_breaches: Vec<String>,
    pub samples: u64,
    /// When each stopped broker was next seen running and in the ISR of every partition it
    /// replicates: (broker, unix ms of that sample), in order.
    pub rejoined: Vec<(i32, i64)>,
    /// When, after that, every partition the broker replicates was first seen with its full
    /// replica set in the ISR (another replica lagging counts against it): (broker, unix ms).
    pub whole: Vec<(i32, i64)>,
    /// Brokers stopped and not yet seen back → whether they were seen out of some ISR since.
    pending: BTreeMap<i32, bool>,
    /// Brokers back whose partitions were not yet all fully replicated.
    pending_whole: std::collections::BTreeSet<i32>,
}

impl Seen {
    /// How many times each broker was (re)created during the observation.
    pub fn restarts(&self) -> BTreeMap<i32, usize> {
        self.container_ids
            .iter()
            .map(|(b, ids)| (*b, ids.len().saturating_sub(1)))
            .collect()
    }
}

/// A running observer; [`Observer::stop`] returns what it saw.
pub struct Observer {
    seen: Arc<Mutex<Seen>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Default)]
struct Sample {
    /// Broker id → (container id, running).
    brokers: BTreeMap<i32, (String, bool)>,
    /// (topic, partition) → (replicas, isr).
    partitions: BTreeMap<(String, i32), (Vec<i32>, Vec<i32>)>,
    controller: Option<i32>,
    /// Unix ms right after the partitions were read.
    at_ms: i64,
}

/// Where the lab's broker containers run: which lab, on which Docker engines.
#[derive(Debug, Clone)]
pub struct Engines {
    /// Containers labelled `kroll.lab=<lab>`, role broker.
    pub lab: String,
    /// `docker -H` hosts to ask (`None`: this machine's engine).
    pub hosts: Vec<Option<String>>,
}

impl Engines {
    /// A lab on this machine's engine.
    pub fn local(lab: &str) -> Self {
        Self {
            lab: lab.to_owned(),
            hosts: vec![None],
        }
    }

    /// A Swarm lab's five engines.
    pub fn swarm(lab: &str, swarm: &kroll_lab::swarm::SwarmState) -> Self {
        Self {
            lab: lab.to_owned(),
            hosts: (1..=kroll_lab::topology::NODES)
                .map(|n| Some(swarm.layout.docker_host(n)))
                .collect(),
        }
    }
}

impl Observer {
    /// Starts watching lab `lab` (containers labelled `kroll.lab=<lab>`, role broker).
    pub async fn start(lab: &str, zookeeper: &str, min_isr: usize) -> Self {
        Self::start_every(
            Engines::local(lab),
            zookeeper,
            min_isr,
            Duration::from_millis(100),
        )
        .await
    }

    /// [`Observer::start`] on Swarm lab `lab`'s five engines.
    #[allow(dead_code)] // kroll-bench shares this file and starts its own.
    pub async fn start_swarm(
        lab: &kroll_lab::LabHandle,
        swarm: &kroll_lab::swarm::SwarmState,
    ) -> Self {
        Self::start_every(
            Engines::swarm(&lab.name, swarm),
            &lab.kafka_zookeeper(),
            2,
            Duration::from_millis(100),
        )
        .await
    }

    /// [`Observer::start`], on `engines`, sampling every `interval` (plus the time a sample
    /// takes).
    pub async fn start_every(
        engines: Engines,
        zookeeper: &str,
        min_isr: usize,
        interval: Duration,
    ) -> Self {
        let zk_connect = zookeeper.to_owned();
        let mut zk = Some(connect_zk(&zk_connect).await);
        // An observer pointed at the server's root instead of Kafka's chroot would see no
        // controller and no partition, and its checks would pass on nothing.
        if let Some(c) = &zk {
            let ids = c.list_children("/brokers/ids").await;
            assert!(
                ids.as_ref().is_ok_and(|ids| !ids.is_empty()),
                "the observer's ZooKeeper {zookeeper} holds no registered broker ({ids:?}): give it Kafka's chroot"
            );
        }
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, mut stopped) = watch::channel(false);
        let seen2 = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut last = Sample::default();
            loop {
                // ZooKeeper itself is rolled during the upgrade: reconnect when the session is lost.
                if zk.is_none() {
                    zk = tokio::time::timeout(Duration::from_secs(2), connect_zk(&zk_connect))
                        .await
                        .ok();
                }
                let now = sample(&engines, zk.as_ref(), &last).await;
                if now.controller.is_none() {
                    zk = None;
                }
                judge(&last, &now, min_isr, &mut seen2.lock().expect("seen"));
                last = now;
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        Self { seen, stop, task }
    }

    /// Stops watching.
    pub async fn stop(self) -> Seen {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.seen.lock().expect("seen").clone()
    }
}

async fn connect_zk(zookeeper: &str) -> zookeeper_client::Client {
    let (hosts, chroot) = zookeeper
        .split_once('/')
        .map_or((zookeeper, None), |(h, c)| (h, Some(format!("/{c}"))));
    let root = zookeeper_client::Client::connect(hosts)
        .await
        .expect("observer's ZooKeeper session");
    match chroot {
        Some(c) => root.chroot(c).unwrap_or_else(|_| panic!("chroot")),
        None => root,
    }
}

async fn sample(engines: &Engines, zk: Option<&zookeeper_client::Client>, last: &Sample) -> Sample {
    let mut s = Sample {
        brokers: broker_containers(engines),
        ..Sample::default()
    };
    let (controller, partitions) = match zk {
        Some(zk) => tokio::join!(controller(zk), partitions(zk)),
        None => (None, None),
    };
    s.at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    s.partitions = partitions.unwrap_or_else(|| last.partitions.clone());
    s.controller = controller;
    s
}

async fn controller(zk: &zookeeper_client::Client) -> Option<i32> {
    let (d, _) = zk.get_data("/controller").await.ok()?;
    serde_json::from_slice::<serde_json::Value>(&d)
        .ok()?
        .get("brokerid")?
        .as_i64()
        .map(|v| v as i32)
}

/// (topic, partition) → (replicas, isr) from `/brokers/topics/<t>` and each partition's
/// `…/partitions/<p>/state`; `None` when ZooKeeper cannot be read (the sample keeps the last).
/// A partition whose state is missing has an empty ISR.
async fn partitions(
    zk: &zookeeper_client::Client,
) -> Option<BTreeMap<(String, i32), (Vec<i32>, Vec<i32>)>> {
    let json = |path: String| async move {
        match zk.get_data(&path).await {
            Ok((d, _)) => Some(serde_json::from_slice::<serde_json::Value>(&d).ok()),
            Err(zookeeper_client::Error::NoNode) => Some(None),
            Err(_) => None,
        }
    };
    let ids = |v: &serde_json::Value| -> Vec<i32> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_i64())
                    .map(|x| x as i32)
                    .collect()
            })
            .unwrap_or_default()
    };
    let topics = zk.list_children("/brokers/topics").await.ok()?;
    let nodes =
        futures::future::join_all(topics.iter().map(|t| json(format!("/brokers/topics/{t}"))))
            .await;
    let mut assigned = Vec::new();
    for (t, node) in topics.into_iter().zip(nodes) {
        for (p, replicas) in node?
            .as_ref()
            .and_then(|n| n["partitions"].as_object())
            .into_iter()
            .flatten()
        {
            assigned.push((t.clone(), p.parse::<i32>().ok()?, ids(replicas)));
        }
    }
    // Every state znode, 500 to a multi-read request: one consistent snapshot per batch, and a
    // few requests per sample even at thousands of partitions (one per znode would load the
    // ZooKeeper the gates read and skew what is measured).
    let mut states = Vec::with_capacity(assigned.len());
    for batch in assigned.chunks(500) {
        let mut reader = zk.new_multi_reader();
        for (t, p, _) in batch {
            reader
                .add_get_data(&format!("/brokers/topics/{t}/partitions/{p}/state"))
                .ok()?;
        }
        for answer in reader.commit().await.ok()? {
            states.push(match answer {
                zookeeper_client::MultiReadResult::Data { data, .. } => {
                    serde_json::from_slice::<serde_json::Value>(&data).ok()
                }
                zookeeper_client::MultiReadResult::Error {
                    err: zookeeper_client::Error::NoNode,
                } => None,
                _ => return None,
            });
        }
    }
    if states.len() != assigned.len() {
        return None;
    }
    let mut out = BTreeMap::new();
    for ((t, p, replicas), state) in assigned.into_iter().zip(states) {
        let isr = state.map(|s| ids(&s["isr"])).unwrap_or_default();
        out.insert((t, p), (replicas, isr));
    }
    Some(out)
}

/// Broker id → (container id, running), from `docker ps -a` on every engine, filtered by the
/// lab's labels. A Swarm task's broker is its service's (`<stack>_kafka-03`); a broker with
/// several containers (a Swarm service's old tasks stay behind, exited) is its running one, else
/// its newest.
fn broker_containers(engines: &Engines) -> BTreeMap<i32, (String, bool)> {
    let mut out: BTreeMap<i32, (String, bool)> = BTreeMap::new();
    for host in &engines.hosts {
        let mut cmd = std::process::Command::new("docker");
        if let Some(h) = host {
            cmd.args(["-H", h]);
        }
        let listed = cmd
            .args([
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                &format!("label=kroll.lab={}", engines.lab),
                "--filter",
                "label=kroll.role=broker",
                "--format",
                "{{.Names}} {{.ID}} {{.State}} {{.Label \"com.docker.swarm.service.name\"}}",
            ])
            .output()
            .expect("docker ps");
        // `docker ps` lists the newest first.
        for l in String::from_utf8_lossy(&listed.stdout).lines() {
            let mut it = l.split_whitespace();
            let (Some(name), Some(id), Some(state)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let name = it.next().unwrap_or(name);
            if name.ends_with("-kroll-prev") {
                continue;
            }
            let Some(broker) = name.rsplit('-').next().and_then(|b| b.parse::<i32>().ok()) else {
                continue;
            };
            let running = state == "running";
            match out.get(&broker) {
                Some((_, true)) => {}
                Some(_) if !running => {}
                _ => {
                    out.insert(broker, (id.to_owned(), running));
                }
            }
        }
    }
    out
}

fn judge(last: &Sample, now: &Sample, min_isr: usize, seen: &mut Seen) {
    seen.samples += 1;
    let down = now.brokers.values().filter(|(_, running)| !running).count()
        + 5usize.saturating_sub(now.brokers.len());
    if down > seen.max_down {
        seen.max_down = down;
        seen.max_down_seen = now.brokers.clone();
    }
    for (b, (id, _)) in &now.brokers {
        let ids = seen.container_ids.entry(*b).or_default();
        if ids.last() != Some(id) {
            ids.push(id.clone());
        }
    }
    // A broker running in the last sample that is now gone (renamed away), stopped, or
    // another container, was stopped in between.
    for (b, (lid, was_running)) in &last.brokers {
        let still = now
            .brokers
            .get(b)
            .is_some_and(|(id, running)| id == lid && *running);
        if *was_running && !still {
            seen.stops.push((*b, last.controller));
            seen.pending.insert(*b, false);
            for ((t, p), (replicas, isr)) in &last.partitions {
                let left = isr.iter().filter(|r| **r != *b).count();
                if replicas.contains(b) && left < min_isr {
                    seen.min_isr_breaches
                        .push(format!("broker {b} stopped while {t}-{p} had isr {isr:?}"));
                }
            }
        }
    }
    let in_every_isr = |b: &i32| {
        now.brokers.get(b).is_some_and(|(_, running)| *running)
            && now
                .partitions
                .values()
                .filter(|(replicas, _)| replicas.contains(b))
                .all(|(_, isr)| isr.contains(b))
    };
    let mut back = Vec::new();
    for (b, seen_out) in &mut seen.pending {
        if !in_every_isr(b) {
            *seen_out = true;
        } else if *seen_out {
            back.push(*b);
        }
    }
    for b in back {
        seen.pending.remove(&b);
        seen.rejoined.push((b, now.at_ms));
        seen.pending_whole.insert(b);
    }
    let whole: Vec<i32> = seen
        .pending_whole
        .iter()
        .copied()
        .filter(|b| {
            now.partitions
                .values()
                .filter(|(replicas, _)| replicas.contains(b))
                .all(|(replicas, isr)| replicas.iter().all(|r| isr.contains(r)))
        })
        .collect();
    for b in whole {
        seen.pending_whole.remove(&b);
        seen.whole.push((b, now.at_ms));
    }
}
