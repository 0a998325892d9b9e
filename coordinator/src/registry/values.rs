//! Value-schema compatibility across the Debezium 1.9 → 3.0 migration, and its safe remedy.
//!
//! Before the connectors resume, kroll predicts the 3.0 envelope of every `<topic>-value`
//! subject from its latest (1.9) version — the transaction block becomes the named record
//! `event.block` (1.9's was unnamed: `io.confluent.connect.avro.ConnectDefault`), the envelope
//! and source block gain optional `ts_us`/`ts_ns`, the envelope `connect.version` 2 — and asks the
//! registry whether it would accept it. What cannot be predicted is said: MySQL `FLOAT` columns
//! become Avro `float` in 3.0 (`double` in 1.9), which the schema alone does not reveal.
//!
//! The remedy for a subject that would refuse the new envelope (HTTP 409, task FAILED) is the
//! journal's without its "delete all subjects": that one subject's compatibility is set to
//! `NONE`, the connector registers its schema, and the subject goes back to the level it had
//! (its own, or the global one). Nothing is deleted.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::progress::Progress;
use crate::registry::api::{RegistryApi, restore_subject_level};
use crate::registry::types::NewSchema;
use crate::rest::RestError;

/// What the registry would say to the connector's first 3.0 registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "prediction")]
pub enum ValuePrediction {
    /// Accepted.
    Compatible,
    /// Refused (409): the connector's task would fail.
    Incompatible { messages: Vec<String> },
    /// No subject yet: the first registration is always accepted.
    NewSubject,
    /// kroll cannot predict the new schema.
    NotPredictable { reason: String },
}

/// One value subject's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueCheck {
    pub connector: String,
    pub subject: String,
    #[serde(flatten)]
    pub prediction: ValuePrediction,
}

/// What no prediction can see.
pub const FLOAT_CAVEAT: &str = "MySQL FLOAT columns become Avro float in Debezium 3.0 (double in 1.9), which the registry refuses under BACKWARD; the schema does not say which double fields were FLOAT columns, so such subjects fail only when the connector registers — resume reports the 409 with the subject";

fn optional_long(name: &str) -> Value {
    json!({"name": name, "type": ["null", "long"], "default": null})
}

fn add_fields(record: &mut Map<String, Value>, names: &[&str]) {
    if let Some(Value::Array(fields)) = record.get_mut("fields") {
        for name in names {
            if !fields.iter().any(|f| f.get("name") == Some(&json!(name))) {
                fields.push(optional_long(name));
            }
        }
    }
}

/// The record inside a `["null", {record}]` union field named `field`.
fn union_record<'a>(
    record: &'a mut Map<String, Value>,
    field: &str,
) -> Option<&'a mut Map<String, Value>> {
    let fields = record.get_mut("fields")?.as_array_mut()?;
    let f = fields
        .iter_mut()
        .find(|f| f.get("name") == Some(&json!(field)))?;
    match f.get_mut("type")? {
        Value::Array(branches) => branches.iter_mut().find_map(Value::as_object_mut),
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// Debezium 3.0's envelope for a topic whose latest value schema is a 1.9 envelope.
pub fn predict_v30_envelope(schema: &str) -> Result<String, String> {
    let mut root: Value = serde_json::from_str(schema).map_err(|e| format!("not JSON: {e}"))?;
    let envelope = root.as_object_mut().ok_or("not an Avro record")?;
    let names: Vec<&str> = envelope
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(|x| x.get("name")?.as_str()).collect())
        .unwrap_or_default();
    if !["before", "after", "source", "op"]
        .iter()
        .all(|n| names.contains(n))
    {
        return Err("not a Debezium change-event envelope (no before/after/source/op)".into());
    }
    if let Some(block) = union_record(envelope, "transaction") {
        block.remove("namespace");
        block.insert("name".into(), json!("event.block"));
        block.insert("connect.version".into(), json!(1));
        block.insert("connect.name".into(), json!("event.block"));
    }
    if let Some(source) = union_record(envelope, "source") {
        add_fields(source, &["ts_us", "ts_ns"]);
    }
    add_fields(envelope, &["ts_us", "ts_ns"]);
    envelope.insert("connect.version".into(), json!(2));
    Ok(root.to_string())
}

/// Predicts, for every `<topic>-value` subject, whether the 3.0 envelope will be accepted.
pub async fn check_value_compatibility(
    registry: &impl RegistryApi,
    topics: &[(String, String)],
) -> Result<Vec<ValueCheck>, RestError> {
    let mut out = Vec::with_capacity(topics.len());
    for (connector, topic) in topics {
        let subject = format!("{topic}-value");
        let prediction = match registry.latest(&subject).await? {
            None => ValuePrediction::NewSubject,
            Some(v) if v.schema_type.as_deref().is_some_and(|t| t != "AVRO") => {
                ValuePrediction::NotPredictable {
                    reason: format!("{} schema, not Avro", v.schema_type.unwrap_or_default()),
                }
            }
            Some(v) => match predict_v30_envelope(&v.schema) {
                Err(reason) => ValuePrediction::NotPredictable { reason },
                Ok(predicted) => {
                    let c = registry
                        .test_compatibility(&subject, &NewSchema::avro(predicted))
                        .await?;
                    if c.is_compatible {
                        ValuePrediction::Compatible
                    } else {
                        ValuePrediction::Incompatible {
                            messages: c.messages,
                        }
                    }
                }
            },
        };
        out.push(ValueCheck {
            connector: connector.clone(),
            subject,
            prediction,
        });
    }
    Ok(out)
}

/// One subject under the remedy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemedySubject {
    pub subject: String,
    /// Its own level before (`None`: it followed the global level).
    pub previous_level: Option<String>,
    /// Its latest id before; a different one means the connector registered.
    pub id_before: Option<i32>,
    /// The id the connector registered, once it did and the level is back.
    pub closed_with: Option<i32>,
}

/// Subjects temporarily at `NONE` so the connectors can register their 3.0 envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueRemedy {
    pub subjects: Vec<RemedySubject>,
}

/// The run-directory file of an open remedy.
pub const REMEDY_FILE: &str = "value-remedy.json";

impl ValueRemedy {
    /// Subjects still at `NONE`.
    pub fn open(&self) -> Vec<&str> {
        self.subjects
            .iter()
            .filter(|s| s.closed_with.is_none())
            .map(|s| s.subject.as_str())
            .collect()
    }
}

/// Why the remedy could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RemedyError {
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The record of the levels could not be saved; no level was changed.
    #[error("cannot save the value remedy record, no compatibility level was changed: {0}")]
    Save(String),
}

/// Records each subject's level and latest id, has `save` persist that record, and only then
/// sets each subject's compatibility to `NONE`.
pub async fn open_value_remedy(
    registry: &impl RegistryApi,
    subjects: &[String],
    save: impl FnOnce(&ValueRemedy) -> Result<(), String>,
) -> Result<ValueRemedy, RemedyError> {
    let mut out = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let previous_level = registry.subject_compatibility(subject).await?;
        let id_before = registry.latest(subject).await?.map(|v| v.id);
        out.push(RemedySubject {
            subject: subject.clone(),
            previous_level,
            id_before,
            closed_with: None,
        });
    }
    let remedy = ValueRemedy { subjects: out };
    save(&remedy).map_err(RemedyError::Save)?;
    for s in &remedy.subjects {
        registry
            .set_subject_compatibility(&s.subject, "NONE")
            .await?;
    }
    Ok(remedy)
}

/// Waits (bounded) for the connectors to register a new version of each subject, putting each
/// subject's level back as soon as it did. Subjects without a registration stay at `NONE`
/// (listed by [`ValueRemedy::open`]); call again later.
pub async fn close_value_remedy(
    registry: &impl RegistryApi,
    remedy: &mut ValueRemedy,
    timeout: Duration,
    poll: Duration,
    progress: Progress<'_>,
) -> Result<(), RestError> {
    let deadline = Instant::now() + timeout;
    loop {
        for s in remedy
            .subjects
            .iter_mut()
            .filter(|s| s.closed_with.is_none())
        {
            let latest = registry.latest(&s.subject).await?.map(|v| v.id);
            if latest.is_some() && latest != s.id_before {
                restore_subject_level(registry, &s.subject, s.previous_level.as_deref()).await?;
                s.closed_with = latest;
            }
        }
        let open = remedy.open().len();
        if open == 0 || Instant::now() >= deadline {
            return Ok(());
        }
        progress(&format!(
            "Waiting for the connectors to register {open} value schema(s) under NONE…"
        ));
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V19: &str = r#"{"type":"record","name":"Envelope","namespace":"p.db.t","fields":[
        {"name":"before","type":["null",{"type":"record","name":"Value","fields":[{"name":"id","type":"long"}]}],"default":null},
        {"name":"after","type":["null","Value"],"default":null},
        {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.mysql","fields":[{"name":"version","type":"string"}]}},
        {"name":"op","type":"string"},
        {"name":"ts_ms","type":["null","long"],"default":null},
        {"name":"transaction","type":["null",{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[{"name":"id","type":"string"}]}],"default":null}]}"#;

    #[test]
    fn the_30_envelope_names_the_transaction_block_and_adds_timestamps() {
        let predicted: Value =
            serde_json::from_str(&predict_v30_envelope(V19).expect("envelope")).expect("json");
        let fields = predicted["fields"].as_array().expect("fields");
        let tx = fields
            .iter()
            .find(|f| f["name"] == "transaction")
            .expect("transaction");
        assert_eq!(tx["type"][1]["name"], "event.block");
        assert!(tx["type"][1].get("namespace").is_none());
        let names: Vec<&str> = fields.iter().filter_map(|f| f["name"].as_str()).collect();
        assert!(names.ends_with(&["ts_us", "ts_ns"]), "{names:?}");
        let source = fields
            .iter()
            .find(|f| f["name"] == "source")
            .expect("source");
        assert_eq!(
            source["type"]["fields"]
                .as_array()
                .expect("source fields")
                .len(),
            3
        );
        assert_eq!(predicted["connect.version"], 2);
        // Predicting twice changes nothing more.
        let again = predict_v30_envelope(&predicted.to_string()).expect("again");
        assert_eq!(
            serde_json::from_str::<Value>(&again).expect("json"),
            predicted
        );
    }

    #[test]
    fn schemas_that_are_not_envelopes_are_not_predicted() {
        let err = predict_v30_envelope(
            r#"{"type":"record","name":"Key","fields":[{"name":"id","type":"long"}]}"#,
        )
        .expect_err("a key schema");
        assert!(
            err.contains("not a Debezium change-event envelope"),
            "{err}"
        );
        assert!(predict_v30_envelope("\"string\"").is_err());
    }
}
