//! `inter.broker.protocol.version` in containers: a 7.7.1 broker without the pin beside 3.1
//! brokers cannot replicate from them; pinned to 3.1 it does; a 3.1 broker asked for IBP 3.7
//! refuses to start.

use std::time::Duration;

use kroll_lab::images::{BrokerBinary, ensure_platform};
use kroll_lab::kafka::{create_topic, metadata};
use kroll_lab::topology::{Platform, Services};
use kroll_tests::inspect_json;

use super::{TestLab, container_logs, kcat, poll};

const MINUTE: Duration = Duration::from_secs(60);
const TOPIC: &str = "ibp";
const IBP: &str = "KAFKA_INTER_BROKER_PROTOCOL_VERSION";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inter_broker_protocol_rules_hold_between_broker_containers() {
    let d = kroll_tests::docker().await;
    let p77 = Platform::find("7.7.1").expect("7.7.1");
    let broker = BrokerBinary::beside_this_executable().expect("kroll-lab-broker built");
    let (lab, images) = tokio::join!(
        TestLab::up("ibp", Services::Kafka, false),
        ensure_platform(&d, kroll_lab::images::DEFAULT_REGISTRY, p77, &broker),
    );
    images.expect("7.7.1 images");
    let b = &lab.handle.bootstrap;
    create_topic(b, TOPIC, 5).await.expect("topic");
    kcat(&["-b", &b[0], "-P", "-t", TOPIC], &"m\n".repeat(50));
    kroll_lab::ready::full_isr(b, &[TOPIC.to_owned()], MINUTE)
        .await
        .expect("full ISR");
    let network = lab.handle.spec.network();
    let mut k5 = lab
        .handle
        .spec
        .at_version(p77)
        .container("kafka-05")
        .expect("kafka-05");
    assert!(!k5.env.contains_key(IBP));
    kroll_lab::docker::recreate(&d, &k5, &network)
        .await
        .expect("7.7.1 kafka-05");

    unpinned_37_cannot_follow_31_leaders(&lab, &k5.name).await;

    k5.env.insert(IBP.into(), "3.1".into());
    kroll_lab::docker::recreate(&d, &k5, &network)
        .await
        .expect("pinned kafka-05");
    kroll_lab::ready::full_isr(b, &[TOPIC.to_owned()], MINUTE)
        .await
        .expect("pinned to 3.1, the 3.7 broker replicates");

    ibp_above_the_software_refuses_to_start(&lab, &d).await;
}

/// kafka-05 (3.7, no IBP) logs `UnsupportedVersionException` fetching from 3.1 leaders and,
/// registered all along, stays out of their ISRs.
async fn unpinned_37_cannot_follow_31_leaders(lab: &TestLab, name5: &str) {
    let b = &lab.handle.bootstrap;
    poll(
        "kafka-05 (3.7, no IBP) to fail fetching from a 3.1 leader",
        MINUTE,
        async || {
            let logs = container_logs(name5);
            if logs.contains("UnsupportedVersionException") {
                Ok(())
            } else {
                Err(format!("{} lines", logs.lines().count()))
            }
        },
    )
    .await;
    let began = std::time::Instant::now();
    while began.elapsed() < Duration::from_secs(8) {
        let m = metadata(b, Duration::from_secs(3)).await.expect("metadata");
        assert!(m.brokers.contains(&5), "kafka-05 is registered: {m:?}");
        let shared: Vec<_> = m.topics[TOPIC]
            .iter()
            .filter(|p| p.replicas.contains(&5) && p.leader != 5)
            .collect();
        assert!(!shared.is_empty(), "{m:?}");
        for p in shared {
            assert!(
                !p.isr.contains(&5),
                "3.7 follower of a 3.1 leader in ISR: {p:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// kafka-04 (3.1) recreated with IBP 3.7 exits 1 with Kafka's fatal line.
async fn ibp_above_the_software_refuses_to_start(lab: &TestLab, d: &bollard::Docker) {
    let mut k4 = lab.handle.spec.container("kafka-04").expect("kafka-04");
    k4.env.insert(IBP.into(), "3.7".into());
    kroll_lab::docker::recreate(d, &k4, &lab.handle.spec.network())
        .await
        .expect("kafka-04 with IBP 3.7");
    let n4 = &k4.name;
    poll(
        "the 3.1 broker with IBP 3.7 to exit 1",
        MINUTE,
        async || {
            let c = inspect_json(n4);
            let state = &c["State"];
            let has_exited = state["Restarting"] == true
                || state["Status"] == "exited"
                || c["RestartCount"].as_i64() > Some(0);
            if state["ExitCode"] == 1 && has_exited {
                Ok(())
            } else {
                Err(state.to_string())
            }
        },
    )
    .await;
    let logs = container_logs(n4);
    assert!(
        logs.contains("Exiting Kafka due to fatal exception")
            && logs.contains("Invalid value 3.7 for configuration inter.broker.protocol.version"),
        "{logs}"
    );
}
