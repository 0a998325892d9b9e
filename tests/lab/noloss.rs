//! No acknowledged write is lost — proven by clients nobody here wrote. confluent-kafka
//! (librdkafka 2.x, `enable.idempotence=true`) and kafka-python produce with `acks=all` to an
//! RF 3 / `min.insync.replicas=2` topic and consume it in groups while the lab is disturbed:
//! by a full `kroll upgrade --to 7.7.1` (both rolls, Connect included) or, as the control, by a
//! plain `docker restart` of every broker in turn, twice. Afterwards every partition is read from
//! offset 0 on its leader and each replica's log file is read from its container:
//! 0 acknowledged-but-missing, 0 duplicates from the idempotent producer, every acknowledged
//! message consumed by each group, committed offsets as the consumers last committed them,
//! and replica logs byte-identical up to the high watermark.
//!
//! The clients are `tests/clients/noloss.py`, run in the virtualenv `deploy/clients-venv.sh`
//! installs from PyPI with pinned versions (`deploy/setup.sh` calls it; so does this test, which
//! fails with what to install when Python is missing).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kroll_lab::topology::Services;
use serde_json::Value;

use super::{TestLab, clients_python as python, repo};
use crate::upgrade::{FAST, Started, kroll, kroll_cmd, text};

const TOPIC: &str = "noloss";
const PARTITIONS: usize = 6;
/// Messages per second each producer sends.
const RATE: &str = "100";
const GROUPS: [(&str, &str); 2] = [("confluent", "noloss-ck"), ("kafka-python", "noloss-kp")];
const MINUTE: Duration = Duration::from_secs(60);

/// The client processes of one run and the directory they write to.
struct Clients {
    python: PathBuf,
    dir: PathBuf,
    bootstrap: String,
    running: Vec<(String, Started)>,
}

impl Clients {
    fn cmd(&self, role: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(&self.python);
        c.arg(repo().join("tests/clients/noloss.py"))
            .arg(role)
            .args(["--bootstrap", &self.bootstrap, "--topic", TOPIC])
            .arg("--dir")
            .arg(&self.dir)
            .args(extra)
            .stdin(Stdio::null());
        c
    }

    /// Creates the topic and starts both producers and both group consumers.
    fn start(lab: &TestLab, dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).expect("clients dir");
        let mut clients = Self {
            python: python(),
            dir,
            bootstrap: lab.handle.bootstrap.join(","),
            running: Vec::new(),
        };
        let created = clients
            .cmd("create", &["--partitions", &PARTITIONS.to_string()])
            .output()
            .expect("noloss.py create");
        assert!(
            created.status.success(),
            "creating the topic: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        for (client, group) in GROUPS {
            clients.spawn(
                &format!("produce-{client}"),
                "produce",
                &["--client", client, "--rate", RATE],
            );
            clients.spawn(
                &format!("consume-{group}"),
                "consume",
                &["--client", client, "--group", group],
            );
        }
        clients
    }

    fn spawn(&mut self, name: &str, role: &str, extra: &[&str]) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).expect("log file");
        let child = self
            .cmd(role, extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting noloss.py");
        self.running.push((name.to_owned(), Started(child)));
    }

    fn lines(&self, file: &str) -> usize {
        std::fs::read_to_string(self.dir.join(file)).map_or(0, |t| t.lines().count())
    }

    /// Waits until every producer had acknowledgements and every group consumed something.
    async fn flowing(&self) {
        super::poll("every client to move data", MINUTE, async || {
            let counts: Vec<(String, usize)> = GROUPS
                .iter()
                .flat_map(|(client, group)| {
                    [
                        format!("acked-{client}.jsonl"),
                        format!("consumed-{group}.jsonl"),
                    ]
                })
                .map(|f| (f.clone(), self.lines(&f)))
                .collect();
            if counts.iter().all(|(_, n)| *n > 0) {
                Ok(())
            } else {
                Err(format!("{counts:?}; logs: {}", self.logs()))
            }
        })
        .await;
    }

    fn logs(&self) -> String {
        self.running
            .iter()
            .map(|(name, _)| {
                let text = std::fs::read_to_string(self.dir.join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                format!(
                    "\n[{name}] {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect()
    }

    /// Stops the producers (they flush), lets every group consume all that was acknowledged,
    /// then stops the consumers (final commit); each client must exit 0.
    async fn stop(&mut self) {
        std::fs::write(self.dir.join("stop-produce"), b"").expect("stop file");
        self.wait_exit("produce-");
        super::poll(
            "every group to consume all acknowledged messages",
            2 * MINUTE,
            async || {
                let acked = self.values(|n| n.starts_with("acked-") && n.ends_with(".jsonl"));
                let behind: Vec<(&str, usize)> = GROUPS
                    .iter()
                    .map(|(_, g)| {
                        let file = format!("consumed-{g}.jsonl");
                        (*g, acked.difference(&self.values(|n| n == file)).count())
                    })
                    .filter(|(_, n)| *n > 0)
                    .collect();
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(format!("not yet consumed: {behind:?}"))
                }
            },
        )
        .await;
        std::fs::write(self.dir.join("stop-consume"), b"").expect("stop file");
        self.wait_exit("consume-");
        println!("client logs:{}", self.logs());
        self.running.clear();
    }

    /// Waits for every client whose name starts with `prefix` to exit 0.
    fn wait_exit(&mut self, prefix: &str) {
        let deadline = Instant::now() + 4 * MINUTE;
        for (name, child) in self
            .running
            .iter_mut()
            .filter(|(n, _)| n.starts_with(prefix))
        {
            let status = loop {
                if let Some(s) = child.0.try_wait().expect("wait") {
                    break s;
                }
                assert!(Instant::now() < deadline, "{name} did not finish");
                std::thread::sleep(Duration::from_millis(200));
            };
            if !status.success() {
                let log = std::fs::read_to_string(self.dir.join(format!("{name}.log")))
                    .unwrap_or_default();
                panic!("{name} exited {status}: {log}");
            }
        }
    }

    /// The `"v"` values of the JSON-lines files of the clients' directory whose name `matches`.
    fn values(&self, matches: impl Fn(&str) -> bool) -> BTreeSet<String> {
        std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| matches(&n.to_string_lossy())))
            .flat_map(|f| {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                text.lines()
                    .filter_map(|l| {
                        serde_json::from_str::<Value>(l).ok()?["v"]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn summary(&self, file: &str) -> Value {
        let text = std::fs::read_to_string(self.dir.join(file)).expect(file);
        serde_json::from_str(&text).expect("summary JSON")
    }

    /// DescribeCluster through both clients (`noloss.py describe`). Every answer must decode to
    /// the 5 brokers; kafka-python's admin call may fail only with its own KeyError on a
    /// version-0 response (Kafka 3.1 serves DescribeCluster v0 only, which has no endpoint
    /// type; kafka-python reads it unconditionally) — and must work when `v1_served`.
    fn assert_describe(&self, v1_served: bool) {
        let out = self
            .cmd("describe", &[])
            .output()
            .expect("noloss.py describe");
        assert!(
            out.status.success(),
            "describe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("describe JSON");
        println!("DescribeCluster through both clients: {v}");
        assert_eq!(v["confluent"]["brokers"], 5, "{v}");
        assert_eq!(v["kafka-python-raw"]["brokers"], 5, "{v}");
        assert_eq!(
            v["kafka-python-raw"]["version"],
            i32::from(v1_served),
            "{v}"
        );
        let admin = &v["kafka-python"];
        if v1_served {
            assert_eq!(admin["brokers"], 5, "{v}");
        } else {
            assert!(
                admin["brokers"] == 5 || admin["error"] == "KeyError('endpoint_type')",
                "{v}"
            );
        }
    }

    /// Reads every partition from offset 0 and compares with what was acknowledged.
    fn verify(&self) -> Value {
        let groups: Vec<&str> = GROUPS.iter().map(|(_, g)| *g).collect();
        let out = self
            .cmd("verify", &["--groups", &groups.join(",")])
            .output()
            .expect("noloss.py verify");
        assert!(
            out.status.success(),
            "verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("verify JSON")
    }
}

/// The record batches of a partition's log file in a broker's container: (base offset, last
/// offset, bytes).
fn replica_batches(container: &str, partition: usize) -> Vec<(i64, i64, Vec<u8>)> {
    let path = format!("/var/lib/kafka/data/{TOPIC}-{partition}/00000000000000000000.log");
    let out = Command::new("docker")
        .args(["exec", container, "cat", &path])
        .output()
        .expect("docker exec");
    assert!(
        out.status.success(),
        "reading {path} in {container}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = out.stdout;
    let mut batches = Vec::new();
    let mut at = 0;
    while data.len() - at >= 61 {
        let int = |i: usize| i32::from_be_bytes(data[i..i + 4].try_into().expect("4 bytes"));
        let base = i64::from_be_bytes(data[at..at + 8].try_into().expect("8 bytes"));
        let len = 12 + usize::try_from(int(at + 8)).expect("batch length");
        let last = base + i64::from(int(at + 23));
        batches.push((base, last, data[at..at + len].to_vec()));
        at += len;
    }
    batches
}

/// Each replica's log up to the high watermark must be byte-identical to the leader's.
/// Returns the partitions that differ, with what differs.
async fn replica_divergence(lab: &TestLab, high: &BTreeMap<usize, i64>) -> Vec<String> {
    let md = kroll_lab::kafka::metadata(&lab.handle.bootstrap, Duration::from_secs(5))
        .await
        .expect("metadata");
    let mut diverged = Vec::new();
    for p in &md.topics[TOPIC] {
        let partition = usize::try_from(p.id).expect("partition id");
        let hw = high[&partition];
        let below_hw = |broker: i32| -> Vec<(i64, i64, Vec<u8>)> {
            replica_batches(&format!("{}-kafka-{broker:02}", lab.name()), partition)
                .into_iter()
                .filter(|(_, last, _)| *last < hw)
                .collect()
        };
        let leader = below_hw(p.leader);
        let covered = leader.last().map_or(0, |b| b.1 + 1);
        if covered != hw {
            diverged.push(format!(
                "{TOPIC}-{partition}: leader {} holds offsets up to {covered}, high watermark {hw}",
                p.leader
            ));
        }
        for r in p.replicas.iter().filter(|r| **r != p.leader) {
            let theirs = below_hw(*r);
            if theirs != leader {
                let first = leader
                    .iter()
                    .zip(&theirs)
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("leader batch {}..{} vs {}..{}", a.0, a.1, b.0, b.1));
                diverged.push(format!(
                    "{TOPIC}-{partition}: replica {r} differs from leader {} below hw {hw} ({} vs {} batches; first difference: {first:?})",
                    p.leader,
                    theirs.len(),
                    leader.len()
                ));
            }
        }
    }
    diverged
}

/// Checks the verdict and prints the figures; `what` names the disturbance.
async fn assert_nothing_lost(lab: &TestLab, clients: &Clients, what: &str, secs: f64) {
    kroll_lab::ready::full_isr(&lab.handle.bootstrap, &[TOPIC.to_owned()], 2 * MINUTE)
        .await
        .expect("full ISR after the run");
    let v = clients.verify();
    let high: BTreeMap<usize, i64> = v["partitions"]
        .as_object()
        .expect("partitions")
        .iter()
        .map(|(p, x)| {
            (
                p.parse().expect("index"),
                x["high_watermark"].as_i64().expect("hw"),
            )
        })
        .collect();
    let diverged = replica_divergence(lab, &high).await;
    let mut failures = Vec::new();
    for (client, group) in GROUPS {
        let produced = clients.summary(&format!("produce-{client}.json"));
        let consumed = clients.summary(&format!("consume-{group}.json"));
        let c = &v["clients"][client];
        let g = &v["groups"][group];
        println!(
            "FIGURE no-loss ({what}, {client}): {} sent, {} acked, {} failed {}, {} missing, {} duplicates; group {group} consumed {} (first after {} s), {} acked not consumed; {secs:.0} s",
            produced["sent"],
            c["acked"],
            produced["failed"],
            produced["errors"],
            c["missing"],
            c["duplicates"],
            consumed["consumed"],
            consumed["first_record_after_s"],
            g["acked_not_consumed"]
        );
        if c["acked"].as_u64().unwrap_or(0) == 0 {
            failures.push(format!("{client}: nothing acknowledged ({produced})"));
        }
        if c["missing"] != 0 {
            failures.push(format!(
                "{client}: {} acknowledged but missing, e.g. {}",
                c["missing"], c["missing_sample"]
            ));
        }
        if client == "confluent" && c["duplicates"] != 0 {
            failures.push(format!(
                "{client} (idempotent): {} duplicates, e.g. {}",
                c["duplicates"], c["duplicate_sample"]
            ));
        }
        if g["acked_not_consumed"] != 0 {
            failures.push(format!(
                "group {group}: {} acknowledged messages never consumed, e.g. {}",
                g["acked_not_consumed"], g["sample"]
            ));
        }
        let last_commits = consumed["committed"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if last_commits.len() != PARTITIONS {
            failures.push(format!("group {group}: committed only {last_commits:?}"));
        }
        for (p, offset) in &last_commits {
            let now = &v["committed"][group][p];
            if now != offset {
                failures.push(format!(
                    "group {group} partition {p}: last commit {offset}, committed offset now {now}"
                ));
            }
        }
    }
    if v["holes"] != 0 {
        failures.push(format!(
            "{} offsets missing (holes) below the high watermarks",
            v["holes"]
        ));
    }
    failures.extend(diverged);
    assert!(
        failures.is_empty(),
        "{what}: {}\nverify: {v}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_while_kroll_upgrades_the_full_lab() {
    let lab = TestLab::up("nl", Services::Full, true).await;
    kroll_tests::lab_platform_images("7.7.1").await;
    let inv = lab.handle.inventory.clone();
    let runs = lab.handle.dir.join("runs").display().to_string();
    let mut clients = Clients::start(&lab, lab.handle.dir.join("clients"));
    clients.flowing().await;
    let began = Instant::now();
    let mut args = vec!["upgrade", "--to", "7.7.1", "--yes", "--runs", &runs];
    args.extend(FAST);
    // The lab's connectors are the journal's: the run halts before resuming Connect (exit 1)
    // until the operator accepts Debezium 3.0's value schemas, as the demo does.
    let first = kroll(&inv, &args);
    let said = text(&first);
    assert!(
        first.status.code() == Some(1)
            && said.contains("HALTED")
            && said.contains("would refuse the Debezium 3.0 value schema"),
        "the only expected halt is the value-schema refusal before Connect resumes: {said}"
    );
    let mut resume = vec![
        "upgrade",
        "--resume",
        "--yes",
        "--runs",
        &runs,
        "--allow-incompatible-values",
    ];
    resume.extend(FAST);
    let second = kroll_cmd(&inv, &resume)
        .stdin(Stdio::null())
        .output()
        .expect("kroll upgrade --resume");
    assert!(second.status.success(), "{}", text(&second));
    let upgrade_secs = began.elapsed().as_secs_f64();
    clients.assert_describe(true);
    tokio::time::sleep(Duration::from_secs(5)).await;
    clients.stop().await;
    assert_nothing_lost(&lab, &clients, "kroll upgrade --to 7.7.1", upgrade_secs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_while_docker_restarts_every_broker() {
    let lab = TestLab::up("nr", Services::Kafka, false).await;
    let mut clients = Clients::start(&lab, lab.handle.dir.join("clients"));
    clients.flowing().await;
    clients.assert_describe(false);
    let began = Instant::now();
    for broker in (1..=5).chain(1..=5) {
        let container = format!("{}-kafka-{broker:02}", lab.name());
        kroll_tests::docker_cli(&["restart", &container]);
        kroll_lab::ready::full_isr(&lab.handle.bootstrap, &[TOPIC.to_owned()], 2 * MINUTE)
            .await
            .unwrap_or_else(|e| panic!("after restarting {container}: {e}"));
    }
    let secs = began.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(5)).await;
    clients.stop().await;
    assert_nothing_lost(&lab, &clients, "docker restart of every broker", secs).await;
}
