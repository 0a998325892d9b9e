//! Recovery of an interrupted action on the Docker engine: wait for a stop Docker still carries
//! out for the dead agent, observe the service's containers, then carry out what
//! [`crate::recovery::decide`] says.

use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::EventsOptions;
use futures::StreamExt;
use kroll_shared::time::{now_unix_ms, parse_rfc3339_ms};

use crate::docker::{DockerRuntime, classify};
use crate::kept::{next_name, previous_name};
use crate::recovery::{Found, Interrupted, Scene, decide};
use crate::runtime::RuntimeError;

fn found(c: &ContainerInspectResponse) -> Found {
    let st = c.state.clone().unwrap_or_default();
    Found {
        id: c.id.clone().unwrap_or_default(),
        running: st.running.unwrap_or(false),
        started_at_unix_ms: st.started_at.as_deref().map_or(0, parse_rfc3339_ms),
    }
}

impl DockerRuntime {
    pub(crate) async fn recover_container(
        &self,
        what: &Interrupted,
    ) -> Result<String, RuntimeError> {
        let name = what.container.as_str();
        let waited = self.await_pending_stop(what).await?;
        let scene = Scene {
            current: self.find(name).await?.as_ref().map(found),
            kept: self.find(&previous_name(name)).await?.as_ref().map(found),
            next: self.find(&next_name(name)).await?.as_ref().map(found),
            record: self.kept.recall(name)?,
        };
        let plan = decide(what, &scene).map_err(RuntimeError::Refused)?;
        for fix in &plan.fixes {
            self.apply(name, fix).await?;
        }
        Ok(match waited {
            Some(d) => format!(
                "waited {} ms for the stop Docker was still carrying out; {}",
                d.as_millis(),
                plan.outcome
            ),
            None => plan.outcome,
        })
    }

    async fn apply(&self, name: &str, fix: &crate::recovery::Fix) -> Result<(), RuntimeError> {
        use crate::recovery::Fix;
        use bollard::query_parameters::RenameContainerOptions;
        match fix {
            Fix::RemoveNext => self.remove_if_exists(&next_name(name)).await,
            Fix::RemoveCurrent => self.remove_if_exists(name).await,
            Fix::KeptBack => self
                .docker
                .rename_container(
                    &previous_name(name),
                    RenameContainerOptions {
                        name: name.to_owned(),
                    },
                )
                .await
                .map_err(|e| classify(e, name)),
            Fix::RestorePolicy { id } => self.restore_policy(name, id).await,
            Fix::Start { id } => self.start_container(id).await,
        }
    }

    /// When the container under the name runs and Docker has sent it a stop signal since the
    /// action began without it having died yet, waits until it stops or the stop's deadline
    /// passes. Says how long it waited, if it did.
    async fn await_pending_stop(
        &self,
        what: &Interrupted,
    ) -> Result<Option<Duration>, RuntimeError> {
        let Some(c) = self.find(&what.container).await? else {
            return Ok(None);
        };
        let f = found(&c);
        if !f.running || f.started_at_unix_ms >= what.began_unix_ms {
            return Ok(None);
        }
        if !self.stop_pending(&f.id, what.began_unix_ms).await? {
            return Ok(None);
        }
        let began = std::time::Instant::now();
        let deadline = what
            .stop_deadline_unix_ms
            .max(now_unix_ms() + crate::docker_recreate::STOP_GRACE.as_millis() as i64);
        tracing::info!(container = %what.container, operation_id = %what.operation_id, "Waiting for the stop Docker is still carrying out.");
        loop {
            let running = self
                .find(&what.container)
                .await?
                .is_some_and(|c| found(&c).running);
            if !running || now_unix_ms() >= deadline {
                return Ok(Some(began.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether Docker sent container `id` a signal (`kill`) since `since_unix_ms` that no `die`
    /// followed yet.
    async fn stop_pending(&self, id: &str, since_unix_ms: i64) -> Result<bool, RuntimeError> {
        let filters = std::collections::HashMap::from([
            ("container".to_owned(), vec![id.to_owned()]),
            ("type".to_owned(), vec!["container".to_owned()]),
        ]);
        let secs = |ms: i64| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
        let opts = EventsOptions {
            since: Some(secs(since_unix_ms - 1000)),
            until: Some(secs(now_unix_ms())),
            filters: Some(filters),
        };
        let mut events = self.docker.events(Some(opts));
        let mut pending = false;
        while let Some(e) = events.next().await {
            match e.map_err(|e| classify(e, "events"))?.action.as_deref() {
                Some("kill") => pending = true,
                Some("die") => pending = false,
                _ => {}
            }
        }
        Ok(pending)
    }
}
