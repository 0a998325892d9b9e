//! The key-schema drift check and the value remedy against the in-memory registry and Kafka.

use std::num::NonZeroU32;
use std::time::Duration;

use kroll_migrate::partition::{confluent_key_bytes, key_moves};

use super::drift::*;
use super::fake::FakeRegistry;
use super::values::*;
use crate::kafka::fake::FakeKafka;
use crate::kafka::{KeySample, TopicEnd};
use crate::progress::quiet;

fn entry(topic: &str, id: Option<i32>) -> KeyIdEntry {
    KeyIdEntry {
        connector: "c".into(),
        topic: topic.into(),
        subject: format!("{topic}-key"),
        id,
        end_offset: Some(0),
        partitions: Some(3),
    }
}

fn ids(entries: Vec<KeyIdEntry>) -> KeyIds {
    KeyIds {
        recorded_unix_ms: 0,
        entries,
    }
}

#[test]
fn only_a_changed_id_of_an_existing_key_subject_is_drift() {
    let cases: [(Option<i32>, Option<i32>, bool); 4] = [
        (Some(1), Some(1), false),
        (Some(1), Some(2), true),
        (None, Some(5), false), // first registration
        (Some(1), None, false), // subject gone: not a new id
    ];
    for (before, after, drift) in cases {
        let result = verify_key_ids(
            &ids(vec![entry("t", before)]),
            &ids(vec![entry("t", after)]),
        );
        assert_eq!(result.is_err(), drift, "{before:?} → {after:?}");
    }
}

fn key_schema(namespace: &str) -> String {
    format!(
        r#"{{"type":"record","name":"Key","namespace":"{namespace}","fields":[{{"name":"id","type":"long"}}]}}"#
    )
}

fn setup(topics: &[&str]) -> (FakeRegistry, FakeKafka) {
    let registry = FakeRegistry::new();
    let kafka = FakeKafka::default();
    for t in topics {
        registry.seed(&format!("{t}-key"), &key_schema("ct_shop"));
        kafka.ends.lock().expect("lock").insert(
            (*t).to_owned(),
            TopicEnd {
                partitions: 3,
                end_sum: 10,
            },
        );
    }
    (registry, kafka)
}

fn topics(names: &[&str]) -> Vec<KeyTopic> {
    names
        .iter()
        .map(|t| KeyTopic {
            connector: "ct-x".into(),
            topic: (*t).to_owned(),
        })
        .collect()
}

fn fast() -> DriftCheckOptions {
    DriftCheckOptions {
        produce_timeout: Duration::from_millis(100),
        poll: Duration::from_millis(1),
        sample: 100,
    }
}

#[tokio::test]
async fn a_new_key_schema_id_is_named_with_the_keys_it_moves() {
    let (registry, mut kafka) = setup(&["ct.shop.orders", "ct.shop.lines"]);
    let avro: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i.wrapping_mul(2)]).collect();
    let framed = avro.iter().map(|a| confluent_key_bytes(1, a)).collect();
    kafka.samples.insert(
        "ct.shop.orders".into(),
        KeySample {
            partitions: 3,
            keys: framed,
        },
    );
    let before = record_key_ids(
        &registry,
        &kafka,
        &topics(&["ct.shop.orders", "ct.shop.lines"]),
    )
    .await
    .expect("record");
    assert_eq!(
        before.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        [Some(1), Some(1)],
        "one id per distinct schema"
    );
    // The upgraded connector registers a dashed key schema and produces.
    let new_id = registry.seed("ct.shop.orders-key", &key_schema("ct-shop"));
    kafka
        .ends
        .lock()
        .expect("lock")
        .values_mut()
        .for_each(|e| e.end_sum += 5);
    let err = check_key_drift(&registry, &kafka, &before, &fast(), &quiet)
        .await
        .expect_err("drift");
    let DriftCheckError::Drift(drift) = err else {
        panic!("{err}")
    };
    assert_eq!(drift.topics.len(), 1);
    let expected = key_moves(
        1,
        u32::try_from(new_id).expect("id"),
        &avro,
        NonZeroU32::new(3).expect("3"),
    );
    assert_eq!(drift.topics[0].moves, Some(expected));
    assert!(expected.moved > 100, "most keys move: {expected:?}");
    let text = drift.to_string();
    assert!(text.contains(&format!("ct.shop.orders (connector ct-x, subject ct.shop.orders-key): id 1 → {new_id}; {} of 200 sampled keys move to another of 3 partitions", expected.moved)), "{text}");
}

#[tokio::test]
async fn unchanged_ids_verify_and_quiet_topics_stay_unverified() {
    let (registry, kafka) = setup(&["ct.shop.orders", "ct.shop.idle"]);
    let before = record_key_ids(
        &registry,
        &kafka,
        &topics(&["ct.shop.orders", "ct.shop.idle"]),
    )
    .await
    .expect("record");
    kafka
        .ends
        .lock()
        .expect("lock")
        .get_mut("ct.shop.orders")
        .expect("orders")
        .end_sum += 1;
    let check = check_key_drift(&registry, &kafka, &before, &fast(), &quiet)
        .await
        .expect("no drift");
    assert_eq!(
        (check.verified, check.unverified),
        (
            vec!["ct.shop.orders".to_owned()],
            vec!["ct.shop.idle".to_owned()]
        )
    );
}

const ENVELOPE_19: &str = r#"{"type":"record","name":"Envelope","fields":[{"name":"before","type":["null","string"]},{"name":"after","type":["null","string"]},{"name":"source","type":"string"},{"name":"op","type":"string"}]}"#;

#[tokio::test]
async fn value_subjects_are_predicted_compatible_refused_new_or_unpredictable() {
    let registry = FakeRegistry::new();
    registry.seed("a-value", ENVELOPE_19);
    registry.seed("b-value", &ENVELOPE_19.replace("Envelope", "Other"));
    registry.seed("c-value", &key_schema("x"));
    registry.with(|s| s.refuse.insert("b-value".into()));
    let topics: Vec<(String, String)> = ["a", "b", "c", "d"]
        .iter()
        .map(|t| ("conn".to_owned(), (*t).to_owned()))
        .collect();
    let checks = check_value_compatibility(&registry, &topics)
        .await
        .expect("checks");
    let got: Vec<&str> = checks
        .iter()
        .map(|c| match c.prediction {
            ValuePrediction::Compatible => "compatible",
            ValuePrediction::Incompatible { .. } => "incompatible",
            ValuePrediction::NewSubject => "new",
            ValuePrediction::NotPredictable { .. } => "unpredictable",
        })
        .collect();
    assert_eq!(got, ["compatible", "incompatible", "unpredictable", "new"]);
}

#[tokio::test]
async fn the_remedy_opens_only_after_its_record_is_saved_and_puts_each_level_back() {
    let registry = FakeRegistry::new();
    registry.seed("x-value", ENVELOPE_19);
    registry.seed("y-value", ENVELOPE_19);
    registry.with(|s| {
        s.subjects
            .get_mut("y-value")
            .map(|y| y.level = Some("FULL".into()))
    });
    let subjects = vec!["x-value".to_owned(), "y-value".to_owned()];
    let err = open_value_remedy(&registry, &subjects, |_| Err("disk full".into()))
        .await
        .expect_err("unsaved");
    assert!(
        err.to_string()
            .contains("no compatibility level was changed"),
        "{err}"
    );
    assert!(registry.with(|s| s.calls.iter().all(|c| !c.starts_with("level"))));
    let mut remedy = open_value_remedy(&registry, &subjects, |_| Ok(()))
        .await
        .expect("opened");
    let level = |s: &str| registry.with(|r| r.subjects[s].level.clone());
    assert_eq!(
        (level("x-value"), level("y-value")),
        (Some("NONE".into()), Some("NONE".into()))
    );
    let x_id = registry.seed("x-value", &ENVELOPE_19.replace("\"op\"", "\"op2\""));
    close_value_remedy(
        &registry,
        &mut remedy,
        Duration::from_millis(30),
        Duration::from_millis(1),
        &quiet,
    )
    .await
    .expect("closed x");
    assert_eq!((level("x-value"), remedy.open()), (None, vec!["y-value"]));
    assert_eq!(remedy.subjects[0].closed_with, Some(x_id));
    registry.seed("y-value", &ENVELOPE_19.replace("\"op\"", "\"op3\""));
    close_value_remedy(
        &registry,
        &mut remedy,
        Duration::from_millis(30),
        Duration::from_millis(1),
        &quiet,
    )
    .await
    .expect("closed y");
    assert_eq!(
        (level("y-value"), remedy.open().len()),
        (Some("FULL".into()), 0)
    );
}
