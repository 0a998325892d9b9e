//! Integration tests: a real ZooKeeper and real lab broker processes, driven by clients nobody
//! here wrote (rdkafka, kcat).

mod metadata;
mod sasl;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;

use support::{Lab, kcat, produce, spawn_broker, wait_for};

const MINUTE: Duration = Duration::from_secs(60);

fn admin(lab: &Lab) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", lab.bootstrap())
        .create()
        .expect("admin client")
}

fn create_topic(lab: &Lab, name: &str, partitions: i32) {
    let admin = admin(lab);
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(3));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results =
        futures::executor::block_on(admin.create_topics([&topic], &opts)).expect("create_topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}"));
    }
    lab.wait_isr(name, 3, MINUTE);
}

fn kcat_metadata(lab: &Lab, topic: &str) -> Value {
    serde_json::from_str(&lab.kcat(&["-L", "-J", "-t", topic], ""))
        .expect("kcat -L -J output is JSON")
}

fn t_ms(event: &Value) -> u64 {
    event["t_ms"].as_u64().expect("t_ms")
}

/// kcat and rdkafka (clients nobody here wrote) see brokers, topics with leader/replicas/ISR,
/// round-trip messages, read watermarks, broker and topic configs, and a group's committed offsets.
#[test]
fn kcat_and_rdkafka_use_the_cluster_like_kafka() {
    let lab = Lab::start(
        3,
        "3.1.1",
        &[
            ("KAFKA_INTER_BROKER_PROTOCOL_VERSION", "3.1"),
            ("KAFKA_CONFLUENT_SUPPORT_CUSTOMER_ID", "anonymous"),
        ],
    );
    create_topic(&lab, "orders", 3);

    let md = kcat_metadata(&lab, "orders");
    assert_eq!(md["brokers"].as_array().map(Vec::len), Some(3), "{md}");
    let partitions = md["topics"][0]["partitions"]
        .as_array()
        .expect("partitions")
        .clone();
    assert_eq!(partitions.len(), 3);
    for p in &partitions {
        assert_eq!(p["replicas"].as_array().map(Vec::len), Some(3), "{p}");
        assert_eq!(p["isrs"].as_array().map(Vec::len), Some(3), "{p}");
        assert!(
            p["leader"].as_i64().is_some_and(|l| (1..=3).contains(&l)),
            "{p}"
        );
    }

    let input: String = (0..10).map(|i| format!("message-{i}\n")).collect();
    lab.kcat(&["-P", "-t", "orders", "-X", "acks=all"], &input);
    let out = lab.kcat(&["-C", "-t", "orders", "-o", "beginning", "-e", "-q"], "");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    let mut want: Vec<String> = (0..10).map(|i| format!("message-{i}")).collect();
    want.sort();
    assert_eq!(got, want);

    let consumer = lab.consumer(&[
        ("group.id", "sink"),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
    ]);
    let high: i64 = (0..3)
        .map(|p| {
            consumer
                .fetch_watermarks("orders", p, Duration::from_secs(5))
                .expect("watermarks")
                .1
        })
        .sum();
    assert_eq!(high, 10);

    consumer.subscribe(&["orders"]).expect("subscribe");
    let mut seen = 0;
    wait_for("the group consumer to read 10 messages", MINUTE, || {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            assert!(m.payload().is_some());
            seen += 1;
        }
        (seen == 10).then_some(())
    });
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit");
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition("orders", p);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    // Sticky partitioning may put every message in one partition; an empty partition has no commit.
    let total: i64 = committed
        .elements()
        .iter()
        .map(|e| e.offset().to_raw().filter(|o| *o >= 0).unwrap_or(0))
        .sum();
    assert_eq!(total, 10, "committed offsets = end offsets (lag 0)");

    let admin = admin(&lab);
    let opts = AdminOptions::new();
    let resources = [
        ResourceSpecifier::Broker(1),
        ResourceSpecifier::Topic("orders"),
    ];
    let configs = futures::executor::block_on(admin.describe_configs(&resources, &opts))
        .expect("describe_configs");
    let broker = configs[0].as_ref().expect("broker configs");
    let ibp = broker
        .get("inter.broker.protocol.version")
        .expect("IBP visible");
    assert_eq!(
        (ibp.value.as_deref(), &ibp.source),
        (Some("3.1"), &ConfigSource::StaticBroker)
    );
    let rf = broker.get("default.replication.factor").expect("rf");
    assert_eq!(rf.value.as_deref(), Some("3"));
    assert!(
        broker.get("confluent.support.customer.id").is_some(),
        "any KAFKA_* env is shown"
    );
    let lag = broker.get("replica.lag.time.max.ms").expect("lag");
    assert_eq!(
        (lag.value.as_deref(), &lag.source),
        (Some("2000"), &ConfigSource::StaticBroker)
    );
    let topic = configs[1].as_ref().expect("topic configs");
    let min_isr = topic.get("min.insync.replicas").expect("min isr");
    assert_eq!(
        (min_isr.value.as_deref(), &min_isr.source),
        (Some("2"), &ConfigSource::StaticBroker)
    );
    let retention = topic.get("retention.ms").expect("retention");
    assert_eq!(retention.source, ConfigSource::Default);

    lab.kcat(&["-P", "-t", "auto-created"], "hello\n");
    let auto = lab.partitions("auto-created").expect("auto-created topic");
    assert_eq!(auto.len(), 3);
    assert!(auto.iter().all(|p| p.2.len() == 3));
}

/// SIGTERM: a controlled shutdown that takes time and leaves partitions under-replicated; a
/// restarted broker registers at once but rejoins the ISR only after a catch-up that grows with
/// what it missed; stopping the controller elects another one.
#[test]
fn restart_catch_up_grows_with_missed_data_and_controller_fails_over() {
    let mut lab = Lab::start(3, "3.1.1", &[("LAB_REPLICA_FETCH_BYTES_PER_SEC", "100000")]);
    create_topic(&lab, "events", 3);
    produce(&lab.bootstrap(), "events", 10, 100, &[]).expect("produce");

    let mut catch_up = Vec::new();
    for missed_kb in [150usize, 600] {
        lab.stop(3);
        let begin = lab.broker(3).wait_event("shutdown_begin", MINUTE);
        let end = lab.broker(3).wait_event("shutdown_end", MINUTE);
        assert!(
            t_ms(&end) - t_ms(&begin) >= 300,
            "controlled shutdown takes time: {begin} → {end}"
        );
        let ps = wait_for("partitions of broker 3 under-replicated", MINUTE, || {
            lab.partitions("events")
                .filter(|ps| ps.iter().all(|p| p.3.len() == 2 && !p.3.contains(&3)))
        });
        assert!(
            ps.iter().all(|p| p.2.len() == 3 && p.1 != 3),
            "replicas stay, leadership moved: {ps:?}"
        );
        produce(&lab.bootstrap(), "events", missed_kb, 1000, &[])
            .expect("acks=all works with 2 in-sync replicas");

        lab.launch(3);
        let registered = lab.broker(3).wait_event("registered", MINUTE);
        wait_for(
            "broker 3 listed in metadata",
            Duration::from_secs(10),
            || lab.registered().contains(&3).then_some(()),
        );
        let ps = lab.partitions("events").expect("metadata");
        assert!(
            ps.iter().any(|p| !p.3.contains(&3)),
            "registered is not caught up: {ps:?}"
        );
        let caught_up = lab.broker(3).wait_event("caught_up", MINUTE);
        lab.wait_isr("events", 3, MINUTE);
        assert!(
            lab.broker(3).events("recovery_begin").is_empty(),
            "a clean restart does no log recovery"
        );
        catch_up.push(t_ms(&caught_up) - t_ms(&registered));
    }
    assert!(
        catch_up[0] >= 700,
        "150 kB at 100 kB/s takes time: {catch_up:?}"
    );
    assert!(
        catch_up[1] > catch_up[0] + 1500,
        "missing 4x more takes longer: {catch_up:?}"
    );

    let controller = kcat_metadata(&lab, "events")["controllerid"]
        .as_i64()
        .expect("controller id") as i32;
    lab.stop(controller);
    let new = wait_for("another controller", MINUTE, || {
        let id = kcat(&lab.bootstrap(), &["-L", "-J"], "");
        let id = serde_json::from_str::<Value>(&id).ok()?["controllerid"].as_i64()? as i32;
        (id > 0 && id != controller).then_some(id)
    });
    lab.broker(new).wait_event("controller_elected", MINUTE);
}

/// SIGKILL: on restart the broker is registered but recovers its log first (not in the ISR),
/// then catches up. With two replicas gone, acks=all gets NOT_ENOUGH_REPLICAS.
#[test]
fn hard_kill_forces_log_recovery_before_rejoining() {
    let mut lab = Lab::start(3, "3.1.1", &[("LAB_RECOVERY_BYTES_PER_SEC", "100000")]);
    create_topic(&lab, "ledger", 3);
    produce(&lab.bootstrap(), "ledger", 200, 1000, &[]).expect("produce");

    lab.brokers.get_mut(&2).expect("broker 2").sigkill();
    wait_for(
        "broker 2 gone from the ISR after its session expired",
        MINUTE,
        || {
            lab.partitions("ledger")
                .filter(|ps| ps.iter().all(|p| !p.3.contains(&2)))
                .map(|_| ())
        },
    );
    assert!(!lab.registered().contains(&2));

    lab.stop(3);
    wait_for("ISR down to broker 1", MINUTE, || {
        lab.partitions("ledger")
            .filter(|ps| ps.iter().all(|p| p.3 == vec![1]))
            .map(|_| ())
    });
    let refused = produce(
        &lab.bootstrap(),
        "ledger",
        1,
        10,
        &[("retries", "0"), ("message.timeout.ms", "5000")],
    );
    assert_eq!(
        refused.err(),
        Some(KafkaError::MessageProduction(
            RDKafkaErrorCode::NotEnoughReplicas
        ))
    );

    lab.launch(2);
    let begin = lab.broker(2).wait_event("recovery_begin", MINUTE);
    assert!(
        begin["bytes"].as_u64().is_some_and(|b| b > 100_000),
        "{begin}"
    );
    wait_for("broker 2 registered during recovery", MINUTE, || {
        assert!(
            lab.broker(2).events("recovery_end").is_empty(),
            "recovery ended before broker 2 was seen registered"
        );
        lab.registered().contains(&2).then_some(())
    });
    let ps = lab.partitions("ledger").expect("metadata");
    assert!(
        ps.iter().all(|p| !p.3.contains(&2)),
        "not in ISR during recovery: {ps:?}"
    );
    let end = lab.broker(2).wait_event("recovery_end", MINUTE);
    assert!(
        end["duration_ms"].as_u64().is_some_and(|d| d >= 1500),
        "recovery takes the lab's time: {end}"
    );
    let caught_up = lab.broker(2).wait_event("caught_up", MINUTE);
    assert!(t_ms(&caught_up) >= t_ms(&end));
    lab.launch(3);
    lab.wait_isr("ledger", 3, MINUTE);
    assert!(lab.broker(3).events("recovery_begin").is_empty());
}

/// IBP rules: a 3.1 broker refuses IBP 3.7; a 3.7 broker without the pin cannot replicate from
/// 3.1 leaders (UNSUPPORTED_VERSION), with IBP pinned to 3.1 it catches up.
#[test]
fn unpinned_ibp_blocks_replication_and_pinning_it_unblocks() {
    let mut lab = Lab::start(3, "3.1.1", &[]);
    let mut env: BTreeMap<String, String> = lab.specs[&1].env.clone();
    env.insert("KAFKA_BROKER_ID".into(), "9".into());
    env.insert("KAFKA_INTER_BROKER_PROTOCOL_VERSION".into(), "3.7".into());
    env.insert("KAFKA_LISTENERS".into(), "PLAINTEXT://127.0.0.1:1".into());
    env.insert(
        "KAFKA_ADVERTISED_LISTENERS".into(),
        "PLAINTEXT://127.0.0.1:1".into(),
    );
    let mut refused = spawn_broker(lab.dir.path(), 9, "3.1.1", &env);
    assert!(!refused.wait_exit(MINUTE).success());
    let out = refused.output().join("\n");
    assert!(
        out.contains("inter.broker.protocol.version")
            && out.contains("3.7")
            && out.contains("3.1.1"),
        "{out}"
    );

    create_topic(&lab, "cdc", 3);
    produce(&lab.bootstrap(), "cdc", 20, 100, &[]).expect("produce");
    lab.stop(3);
    lab.specs.get_mut(&3).expect("spec").version = "3.7.1";
    lab.launch(3);
    lab.broker(3).wait_event("started", MINUTE);
    wait_for(
        "UnsupportedVersionException from the 3.1 leaders",
        MINUTE,
        || {
            lab.broker(3)
                .output()
                .iter()
                .any(|l| l.contains("UnsupportedVersionException"))
                .then_some(())
        },
    );
    // Stuck, not slow: for longer than replica.lag.time.max.ms (2 s) broker 3 stays out of every ISR.
    support::hold_for(
        "broker 3 out of the ISR, partitions under-replicated",
        Duration::from_secs(4),
        || {
            lab.partitions("cdc").is_some_and(|ps| {
                ps.iter()
                    .all(|p| !p.3.contains(&3) && p.3.len() < p.2.len())
            })
        },
    );
    assert!(lab.broker(3).events("caught_up").is_empty());

    lab.stop(3);
    lab.specs
        .get_mut(&3)
        .expect("spec")
        .env
        .insert("KAFKA_INTER_BROKER_PROTOCOL_VERSION".into(), "3.1".into());
    lab.launch(3);
    lab.broker(3).wait_event("caught_up", MINUTE);
    lab.wait_isr("cdc", 3, MINUTE);
}

/// Data, watermarks and group offsets survive stopping and restarting every broker.
#[test]
fn data_and_group_offsets_survive_a_full_restart() {
    let mut lab = Lab::start(3, "3.1.1", &[]);
    create_topic(&lab, "durable", 3);
    produce(&lab.bootstrap(), "durable", 30, 50, &[]).expect("produce");
    let consumer = lab.consumer(&[("group.id", "keeper"), ("enable.auto.commit", "false")]);
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset("durable", p, Offset::Offset(i64::from(p) + 1))
            .expect("offset");
    }
    consumer.commit(&tpl, CommitMode::Sync).expect("commit");
    let before: Vec<i64> = (0..3)
        .map(|p| {
            consumer
                .fetch_watermarks("durable", p, Duration::from_secs(5))
                .expect("watermarks")
                .1
        })
        .collect();
    drop(consumer);

    for id in [1, 2, 3] {
        lab.stop(id);
    }
    for id in [1, 2, 3] {
        lab.launch(id);
    }
    lab.wait_brokers(3);
    lab.wait_isr("durable", 3, MINUTE);
    let consumer = lab.consumer(&[("group.id", "keeper")]);
    let after: Vec<i64> = (0..3)
        .map(|p| {
            consumer
                .fetch_watermarks("durable", p, Duration::from_secs(5))
                .expect("watermarks")
                .1
        })
        .collect();
    assert_eq!(before, after);
    assert_eq!(after.iter().sum::<i64>(), 30);
    let mut wanted = TopicPartitionList::new();
    for p in 0..3 {
        wanted.add_partition("durable", p);
    }
    let committed = consumer
        .committed_offsets(wanted, Duration::from_secs(10))
        .expect("committed");
    let offsets: Vec<i64> = committed
        .elements()
        .iter()
        .map(|e| e.offset().to_raw().unwrap_or(-1))
        .collect();
    assert_eq!(offsets, vec![1, 2, 3]);
    let out = lab.kcat(&["-C", "-t", "durable", "-o", "beginning", "-e", "-q"], "");
    assert_eq!(out.lines().count(), 30);
}

/// Bad configuration exits non-zero with a line naming the problem, before binding anything.
#[test]
fn bad_configuration_exits_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = [
        ("KAFKA_BROKER_ID", "1"),
        ("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://127.0.0.1:1"),
        ("KAFKA_ZOOKEEPER_CONNECT", "127.0.0.1:1/kafka"),
    ];
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        (&[("KAFKA_ZOOKEEPER_CONNECT", "")], "3.1.1", "zookeeper"),
        (
            &[("KAFKA_INTER_BROKER_PROTOCOL_VERSION", "9.9")],
            "3.8.0",
            "Version 9.9 is not a valid version",
        ),
        (
            &[("KAFKA_INTER_BROKER_PROTOCOL_VERSION", "3.8")],
            "3.7.1",
            "above this broker's software version 3.7.1",
        ),
        (&[], "3.6.0", "unsupported Kafka software version"),
    ];
    for (i, (overrides, version, expected)) in cases.into_iter().enumerate() {
        let mut env: BTreeMap<String, String> = base
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in overrides {
            if v.is_empty() {
                env.remove(*k);
            } else {
                env.insert(k.to_string(), v.to_string());
            }
        }
        let mut b = spawn_broker(dir.path(), i as i32, version, &env);
        let status = b.wait_exit(MINUTE);
        let out = b.output().join("\n");
        assert!(!status.success(), "case {i} must fail: {out}");
        assert!(
            out.to_lowercase().contains(&expected.to_lowercase()),
            "case {i}: expected `{expected}` in: {out}"
        );
    }
}

/// Regression: the version must come from the image's file only — an environment variable
/// (a container's env is user-controlled) cannot point the broker at another version file.
#[test]
fn the_version_file_cannot_be_redirected_through_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("KAFKA_VERSION");
    std::fs::write(&fake, "3.8.0").expect("version file");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kroll-lab-broker"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LAB_VERSION_FILE", &fake)
        .env("KAFKA_BROKER_ID", "1")
        .env("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://127.0.0.1:1")
        .env("KAFKA_ZOOKEEPER_CONNECT", "127.0.0.1:1/kafka")
        .output()
        .expect("run kroll-lab-broker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(kroll_lab_broker::VERSION_FILE),
        "the broker must read {} (and fail here, on the host): {text}",
        kroll_lab_broker::VERSION_FILE
    );
}
