//! What Schema Registry's REST API answers, as kroll reads and writes it.

use serde::{Deserialize, Serialize};

/// A reference from one schema to another (Schema Registry 5.5+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// One version of a subject (`GET /subjects/{s}/versions/{v}`), plus whether it is soft-deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema: String,
    /// `AVRO` when absent (the registry omits it for Avro).
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    /// Soft-deleted (listed only with `?deleted=true`). Not part of the registry's answer.
    #[serde(default)]
    pub deleted: bool,
}

impl SchemaVersion {
    /// The schema as it would be registered again.
    pub fn to_new(&self) -> NewSchema {
        NewSchema {
            schema: self.schema.clone(),
            schema_type: self.schema_type.clone(),
            references: self.references.clone(),
        }
    }
}

/// A schema to register, look up or test (`{"schema": …, "schemaType": …, "references": […]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSchema {
    pub schema: String,
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl NewSchema {
    /// An Avro schema without references.
    pub fn avro(schema: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            schema_type: None,
            references: Vec::new(),
        }
    }
}

/// `POST /compatibility/subjects/{s}/versions/latest?verbose=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compatibility {
    pub is_compatible: bool,
    #[serde(default)]
    pub messages: Vec<String>,
}

/// `{"id": …}` answers.
#[derive(Debug, Deserialize)]
pub(crate) struct IdWire {
    pub id: i32,
}

/// `{"compatibilityLevel": …}` answers (some versions say `compatibility`).
#[derive(Debug, Deserialize)]
pub(crate) struct LevelWire {
    #[serde(rename = "compatibilityLevel", alias = "compatibility")]
    pub level: String,
}
