//! The real Connect client: every worker of the cluster, failing over between them, reached
//! as the inventory's `[connect]` says (CA, client certificate, basic auth).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;
use kroll_migrate::Config;
use kroll_shared::inventory::{Inventory, ServiceKind};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::connect::api::{ConnectApi, WorkerProbe};
use crate::connect::types::{
    ConfigWire, Connector, ConnectorStatus, ExpandedWire, TargetState, TaskConfig, Validation,
    ValidationWire, WorkerInfo,
};
use crate::rest::{Access, Call, RestClient, RestError, RestFailure, RestOptions, SetupError};

/// Connect's answers that mean "try again in a moment": a rebalance or a concurrent config change.
pub fn connect_transient(status: StatusCode, body: &str) -> bool {
    status == StatusCode::CONFLICT
        && [
            "rebalance",
            "stale configuration",
            "conflicting operation",
            "momentarily",
        ]
        .iter()
        .any(|hint| body.contains(hint))
}

/// Every Connect worker of the cluster. Calls go to the worker that answered last and fail over
/// to the next when one cannot be reached (any worker answers for any connector).
#[derive(Debug)]
pub struct ConnectClients {
    workers: Vec<RestClient>,
    preferred: AtomicUsize,
}

impl ConnectClients {
    /// Clients for `(label, url)` workers.
    pub fn new(workers: &[(String, String)], options: RestOptions) -> Result<Self, RestError> {
        Self::with_access(workers, options, &Access::default())
    }

    /// Clients for `(label, url)` workers, all reached with `access`.
    pub fn with_access(
        workers: &[(String, String)],
        options: RestOptions,
        access: &Access,
    ) -> Result<Self, RestError> {
        let workers = workers
            .iter()
            .map(|(label, url)| {
                RestClient::with_access(
                    &format!("Connect worker {label}"),
                    url,
                    options,
                    connect_transient,
                    access.clone(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            workers,
            preferred: AtomicUsize::new(0),
        })
    }

    /// Clients for every `connect` service of the inventory that has a URL; the CA, client
    /// certificate and password `[connect]` names are read here.
    pub fn from_inventory(inventory: &Inventory, options: RestOptions) -> Result<Self, SetupError> {
        let workers: Vec<(String, String)> = inventory
            .services()
            .filter(|p| p.service.kind == ServiceKind::Connect)
            .filter_map(|p| Some((p.service.container.clone(), p.service.url.clone()?)))
            .collect();
        if workers.is_empty() {
            return Err(SetupError::Missing {
                kind: ServiceKind::Connect,
            });
        }
        let access = Access::from_inventory("[connect]", inventory.connect.as_ref())?;
        Ok(Self::with_access(&workers, options, &access)?)
    }

    /// Sends `call` to a worker that answers; returns which one did and the body.
    async fn answer(&self, call: &Call) -> Result<(usize, Vec<u8>), RestError> {
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..self.workers.len() {
            let index = (first + i) % self.workers.len();
            match self.workers[index].send(call).await {
                Err(e) if e.is_unreachable() => last = Some(e),
                other => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return other.map(|body| (index, body));
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            RestFailure::BadUrl {
                service: "Connect".into(),
                url: String::new(),
                reason: "no Connect worker configured".into(),
            }
            .into()
        }))
    }

    async fn send(&self, call: &Call) -> Result<(), RestError> {
        self.answer(call).await.map(drop)
    }

    async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, RestError> {
        let (index, body) = self.answer(call).await?;
        self.workers[index].decode(call, &body)
    }
}

fn connector_call(method: Method, name: &str, tail: &[&str]) -> Call {
    let mut segments = vec!["connectors", name];
    segments.extend_from_slice(tail);
    Call::new(method, &segments)
}

impl ConnectApi for ConnectClients {
    async fn workers(&self) -> Vec<WorkerProbe> {
        join_all(self.workers.iter().map(|w| async move {
            let info = w.json::<WorkerInfo>(&Call::get(&[])).await;
            WorkerProbe {
                worker: w.service().trim_start_matches("Connect worker ").to_owned(),
                url: w.url().to_owned(),
                info: info.map_err(|e| e.to_string()),
            }
        }))
        .await
    }

    async fn connectors(&self) -> Result<BTreeMap<String, Connector>, RestError> {
        let call = Call::get(&["connectors"])
            .query("expand", "info")
            .query("expand", "status");
        let wire: BTreeMap<String, ExpandedWire> = self.json(&call).await?;
        Ok(wire
            .into_iter()
            .map(|(name, e)| {
                let kind = match e.info.kind {
                    crate::connect::types::ConnectorType::Unknown => e.status.kind,
                    known => known,
                };
                let connector = Connector {
                    name: name.clone(),
                    kind,
                    config: e.info.config,
                    status: e.status,
                };
                (name, connector)
            })
            .collect())
    }

    async fn status(&self, name: &str) -> Result<ConnectorStatus, RestError> {
        self.json(&connector_call(Method::GET, name, &["status"]))
            .await
    }

    async fn config(&self, name: &str) -> Result<Config, RestError> {
        let wire: ConfigWire = self
            .json(&connector_call(Method::GET, name, &["config"]))
            .await?;
        Ok(wire.0)
    }

    async fn tasks(&self, name: &str) -> Result<Vec<TaskConfig>, RestError> {
        self.json(&connector_call(Method::GET, name, &["tasks"]))
            .await
    }

    async fn put_config(&self, name: &str, config: &Config) -> Result<(), RestError> {
        let call = connector_call(Method::PUT, name, &["config"]).json(config);
        self.send(&call).await
    }

    async fn create(
        &self,
        name: &str,
        config: &Config,
        initial: Option<TargetState>,
    ) -> Result<(), RestError> {
        let mut body = serde_json::json!({ "name": name, "config": config });
        if let Some(state) = initial {
            body["initial_state"] = serde_json::Value::String(state.to_string());
        }
        let call = Call::new(Method::POST, &["connectors"]).json(&body);
        match self.send(&call).await {
            Ok(_) => Ok(()),
            // A retried POST whose first attempt went through: the same config is there.
            Err(e)
                if e.status() == Some(409)
                    && self.config(name).await.ok().as_ref() == Some(config) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn pause(&self, name: &str) -> Result<(), RestError> {
        self.send(&connector_call(Method::PUT, name, &["pause"]))
            .await
    }

    async fn resume(&self, name: &str) -> Result<(), RestError> {
        self.send(&connector_call(Method::PUT, name, &["resume"]))
            .await
    }

    async fn stop(&self, name: &str) -> Result<(), RestError> {
        self.send(&connector_call(Method::PUT, name, &["stop"]))
            .await
    }

    async fn validate(&self, class: &str, config: &Config) -> Result<Validation, RestError> {
        let call = Call::new(
            Method::PUT,
            &["connector-plugins", class, "config", "validate"],
        )
        .json(config);
        let wire: ValidationWire = self.json(&call).await?;
        Ok(wire.into())
    }
}
