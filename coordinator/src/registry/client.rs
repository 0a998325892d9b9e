//! The real Schema Registry client, reached as the inventory's `[schema_registry]` says (CA,
//! client certificate, basic auth).

use kroll_shared::inventory::{Inventory, ServiceKind};
use reqwest::Method;

use crate::registry::api::RegistryApi;
use crate::registry::types::{Compatibility, IdWire, LevelWire, NewSchema, SchemaVersion};
use crate::rest::{
    Access, Call, RestClient, RestError, RestOptions, SetupError, no_extra_transient,
};

/// A Schema Registry at one URL.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    rest: RestClient,
}

fn flag(call: Call, name: &str, on: bool) -> Call {
    if on { call.query(name, "true") } else { call }
}

impl RegistryClient {
    /// A client for the registry at `url`.
    pub fn new(url: &str, options: RestOptions) -> Result<Self, RestError> {
        Self::with_access(url, options, Access::default())
    }

    /// A client for the registry at `url`, reached with `access`.
    pub fn with_access(url: &str, options: RestOptions, access: Access) -> Result<Self, RestError> {
        Ok(Self {
            rest: RestClient::with_access(
                "Schema Registry",
                url,
                options,
                no_extra_transient,
                access,
            )?,
        })
    }

    /// A client for the inventory's `schema-registry` service; the CA, client certificate and
    /// password `[schema_registry]` names are read here.
    pub fn from_inventory(inventory: &Inventory, options: RestOptions) -> Result<Self, SetupError> {
        let url = inventory
            .services()
            .filter(|p| p.service.kind == ServiceKind::SchemaRegistry)
            .find_map(|p| p.service.url.clone())
            .ok_or(SetupError::Missing {
                kind: ServiceKind::SchemaRegistry,
            })?;
        let access =
            Access::from_inventory("[schema_registry]", inventory.schema_registry.as_ref())?;
        Ok(Self::with_access(&url, options, access)?)
    }
}

impl RegistryApi for RegistryClient {
    fn url(&self) -> &str {
        self.rest.url()
    }

    async fn subjects(&self, deleted: bool) -> Result<Vec<String>, RestError> {
        self.rest
            .json(&flag(Call::get(&["subjects"]), "deleted", deleted))
            .await
    }

    async fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, RestError> {
        let call = Call::get(&["subjects", subject, "versions"]);
        self.rest.json(&flag(call, "deleted", deleted)).await
    }

    async fn version(
        &self,
        subject: &str,
        version: i32,
        deleted: bool,
    ) -> Result<SchemaVersion, RestError> {
        let v = version.to_string();
        let call = flag(
            Call::get(&["subjects", subject, "versions", &v]),
            "deleted",
            deleted,
        );
        let mut out: SchemaVersion = self.rest.json(&call).await?;
        out.deleted = false;
        Ok(out)
    }

    async fn latest(&self, subject: &str) -> Result<Option<SchemaVersion>, RestError> {
        let call = Call::get(&["subjects", subject, "versions", "latest"]);
        match self.rest.json::<SchemaVersion>(&call).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn lookup(
        &self,
        subject: &str,
        schema: &NewSchema,
    ) -> Result<Option<SchemaVersion>, RestError> {
        let call = Call::new(Method::POST, &["subjects", subject]).json(schema);
        match self.rest.json::<SchemaVersion>(&call).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn register(&self, subject: &str, schema: &NewSchema) -> Result<i32, RestError> {
        let call = Call::new(Method::POST, &["subjects", subject, "versions"]).json(schema);
        let id: IdWire = self.rest.json(&call).await?;
        Ok(id.id)
    }

    async fn global_compatibility(&self) -> Result<String, RestError> {
        let level: LevelWire = self.rest.json(&Call::get(&["config"])).await?;
        Ok(level.level)
    }

    async fn set_global_compatibility(&self, level: &str) -> Result<(), RestError> {
        let call = Call::new(Method::PUT, &["config"])
            .json(&serde_json::json!({ "compatibility": level }));
        self.rest.send(&call).await.map(drop)
    }

    async fn subject_compatibility(&self, subject: &str) -> Result<Option<String>, RestError> {
        match self
            .rest
            .json::<LevelWire>(&Call::get(&["config", subject]))
            .await
        {
            Ok(level) => Ok(Some(level.level)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn set_subject_compatibility(&self, subject: &str, level: &str) -> Result<(), RestError> {
        let call = Call::new(Method::PUT, &["config", subject])
            .json(&serde_json::json!({ "compatibility": level }));
        self.rest.send(&call).await.map(drop)
    }

    async fn delete_subject_compatibility(&self, subject: &str) -> Result<(), RestError> {
        let call = Call::new(Method::DELETE, &["config", subject]);
        self.rest.send(&call).await.map(drop)
    }

    async fn test_compatibility(
        &self,
        subject: &str,
        schema: &NewSchema,
    ) -> Result<Compatibility, RestError> {
        let call = Call::new(
            Method::POST,
            &["compatibility", "subjects", subject, "versions", "latest"],
        )
        .query("verbose", "true")
        .json(schema);
        self.rest.json(&call).await
    }
}
