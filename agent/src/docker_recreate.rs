//! Recreate, rollback, measured stop and pull on the Docker engine.
//!
//! Recreate, in an order where every failure leaves the service's container as it was or as
//! asked: create the new definition as `<name>-kroll-next` with all its networks (Docker
//! validates it; a refusal here changed nothing); stop the old container gracefully; remember
//! its restart policy and the operation ([`crate::kept`]); set its policy to `no`; remove the
//! definition kept by the recreate before; rename the old one to `<name>-kroll-prev` and the new
//! one to `<name>`; start it; it must keep running for [`SETTLE`]. A failure after the stop
//! removes the new container (never volumes) and puts the old one back under its name with its
//! restart policy, started ([`RuntimeError::Restored`]).
//!
//! Rollback: stop and remove the current container (never its volumes), rename the kept one
//! back, restore its restart policy, start it.

use std::time::{Duration, Instant};

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerUpdateBody, NetworkConnectRequest, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, RemoveContainerOptions,
    RenameContainerOptions, StopContainerOptions,
};
use futures::StreamExt;

use crate::docker::{DockerRuntime, classify};
use crate::docker_spec::{Changes, Derived, derive};
use crate::kept::{Kept, next_name, previous_name};
use crate::runtime::{RecreateSpec, Recreated, RolledBack, RuntimeError, Stopped};

/// Extra time granted to a stop request beyond the container's stop timeout.
pub const STOP_GRACE: Duration = Duration::from_secs(30);
/// How long a new container must keep running after its start for a recreate to succeed. It
/// catches a container that dies at once (an exec error, arguments the process refuses: gone
/// within ~100 ms); a service that fails later is the coordinator's after-gate's to judge. It is
/// paid on every step after the service is already up (1.5 s made ~1 s of every IBP-bump
/// step's gate latency in `kroll-bench upgrade`), so it is no longer than that needs.
pub const SETTLE: Duration = Duration::from_millis(500);

impl DockerRuntime {
    /// Stops gracefully and says how long it took and whether Docker had to SIGKILL (exit 137
    /// at or after the timeout).
    pub(crate) async fn stop_measured(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<Stopped, RuntimeError> {
        let t = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let long = self.docker.clone().with_timeout(timeout + STOP_GRACE);
        let began = Instant::now();
        match long
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(t),
                    signal: None,
                }),
            )
            .await
        {
            Ok(())
            | Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            Err(e) => return Err(classify(e, id)),
        }
        let took = began.elapsed();
        let exit = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| classify(e, id))?
            .state
            .and_then(|s| s.exit_code)
            .unwrap_or(0);
        let killed_after_timeout = exit == 137 && took + Duration::from_millis(250) >= timeout;
        Ok(Stopped {
            took,
            killed_after_timeout,
        })
    }

    pub(crate) async fn pull_image(&self, image: &str) -> Result<String, RuntimeError> {
        let (repo, tag) = split_reference(image);
        let opts = CreateImageOptions {
            from_image: Some(repo.to_owned()),
            tag: Some(tag.to_owned()),
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(opts), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| classify(e, image))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(RuntimeError::Refused(format!("pulling {image}: {err}")));
            }
        }
        let i = self
            .docker
            .inspect_image(image)
            .await
            .map_err(|e| classify(e, image))?;
        Ok(i.id.unwrap_or_default())
    }

    pub(crate) async fn recreate_container(
        &self,
        op: &str,
        id: &str,
        spec: &RecreateSpec,
    ) -> Result<Recreated, RuntimeError> {
        let d = &self.docker;
        let old = d
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| unchanged(classify(e, id)))?;
        let name = old
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned();
        let old_id = old.id.clone().unwrap_or_default();
        let old_ref = old
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        let new_ref = spec.image.clone().unwrap_or_else(|| old_ref.clone());
        let old_image_id = old.image.clone().unwrap_or_default();
        let old_image = d
            .inspect_image(&old_image_id)
            .await
            .map_err(|e| unchanged(classify(e, &old_image_id)))?;
        match d.inspect_image(&new_ref).await {
            Ok(_) => {}
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(RuntimeError::Refused(format!(
                    "image {new_ref} is not present on this node; pull it first (nothing was changed)"
                )));
            }
            Err(e) => return Err(unchanged(classify(e, &new_ref))),
        }
        let derived = derive(
            &old,
            &old_image,
            Changes {
                image: &new_ref,
                env: &spec.env,
                hostname: spec.hostname.as_deref(),
            },
        );
        // Docker validates the whole new definition here, before anything is stopped.
        let new_id = self.create_next(&name, derived).await.map_err(unchanged)?;
        let policy = old
            .host_config
            .as_ref()
            .and_then(|h| h.restart_policy.clone())
            .unwrap_or_default();
        let old_c = Old {
            name: &name,
            id: &old_id,
            policy: &policy,
            op,
        };
        match self.put_in_place(&old_c, &new_id, spec.stop_timeout).await {
            Ok(stop) => Ok(Recreated {
                id: new_id,
                previous_image: old_ref,
                stop,
            }),
            Err(cause) => Err(self.put_back(&old_c, cause).await),
        }
    }

    /// Creates the new definition as `<name>-kroll-next` with all its networks (a leftover of an
    /// interrupted attempt is removed first); nothing else is touched.
    async fn create_next(&self, name: &str, derived: Derived) -> Result<String, RuntimeError> {
        let d = &self.docker;
        let next = next_name(name);
        self.remove_if_exists(&next).await?;
        let created = d
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(next.clone()),
                    ..Default::default()
                }),
                derived.body,
            )
            .await
            .map_err(|e| classify(e, name))?;
        for (net, settings) in derived.extra_networks {
            let req = NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(settings),
            };
            if let Err(e) = d.connect_network(&net, req).await {
                let _ = self.remove_if_exists(&created.id).await;
                return Err(classify(e, &net));
            }
        }
        Ok(created.id)
    }

    /// Stops the old container, keeps it, puts the new one under the name and starts it; the
    /// new one must still run after [`SETTLE`].
    async fn put_in_place(
        &self,
        old: &Old<'_>,
        new_id: &str,
        timeout: Duration,
    ) -> Result<Stopped, RuntimeError> {
        let d = &self.docker;
        let stop = self.stop_measured(old.id, timeout).await?;
        self.kept.remember(
            old.name,
            Kept {
                restart_policy: old.policy.name.map(|n| n.to_string()).unwrap_or_default(),
                maximum_retry_count: old.policy.maximum_retry_count,
                operation_id: old.op.to_owned(),
                container_id: old.id.to_owned(),
            },
        )?;
        self.set_restart_policy(old.id, no_restart()).await?;
        let prev = previous_name(old.name);
        self.remove_if_exists(&prev).await?;
        d.rename_container(old.id, RenameContainerOptions { name: prev.clone() })
            .await
            .map_err(|e| classify(e, old.id))?;
        d.rename_container(
            new_id,
            RenameContainerOptions {
                name: old.name.to_owned(),
            },
        )
        .await
        .map_err(|e| classify(e, new_id))?;
        self.start_container(new_id).await?;
        self.settled(new_id).await?;
        Ok(stop)
    }

    /// Fails when the container does not keep running for [`SETTLE`] after its start.
    async fn settled(&self, id: &str) -> Result<(), RuntimeError> {
        let began = Instant::now();
        loop {
            let i = self
                .docker
                .inspect_container(id, None::<InspectContainerOptions>)
                .await
                .map_err(|e| classify(e, id))?;
            let st = i.state.unwrap_or_default();
            let up = st.running.unwrap_or(false)
                && !st.restarting.unwrap_or(false)
                && i.restart_count.unwrap_or(0) == 0;
            if !up {
                let why = st.error.filter(|e| !e.is_empty()).unwrap_or_default();
                return Err(RuntimeError::Refused(format!(
                    "the new container did not stay up (exit code {}{}{})",
                    st.exit_code.unwrap_or(0),
                    if why.is_empty() { "" } else { ": " },
                    why
                )));
            }
            if began.elapsed() >= SETTLE {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// After a failure midway: removes the new container (never volumes), puts the old one back
    /// under its name with its restart policy and starts it.
    async fn put_back(&self, old: &Old<'_>, cause: RuntimeError) -> RuntimeError {
        let cause = cause.to_string();
        match self.try_put_back(old).await {
            Ok(()) => RuntimeError::Restored {
                container: old.name.to_owned(),
                cause,
            },
            Err(e) => RuntimeError::Broken {
                container: old.name.to_owned(),
                cause,
                restore: e.to_string(),
            },
        }
    }

    async fn try_put_back(&self, old: &Old<'_>) -> Result<(), RuntimeError> {
        let d = &self.docker;
        if let Some(current) = self.find(old.name).await?
            && current.id.as_deref() != Some(old.id)
        {
            self.remove_if_exists(current.id.as_deref().unwrap_or(old.name))
                .await?;
        }
        self.remove_if_exists(&next_name(old.name)).await?;
        let at = d
            .inspect_container(old.id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| classify(e, old.id))?;
        if at.name.as_deref().map(|n| n.trim_start_matches('/')) != Some(old.name) {
            d.rename_container(
                old.id,
                RenameContainerOptions {
                    name: old.name.to_owned(),
                },
            )
            .await
            .map_err(|e| classify(e, old.id))?;
        }
        self.set_restart_policy(old.id, old.policy.clone()).await?;
        if self
            .kept
            .recall(old.name)?
            .is_some_and(|k| k.operation_id == old.op)
        {
            self.kept.forget(old.name)?;
        }
        self.start_container(old.id).await
    }

    /// The container named `name`, if there is one.
    pub(crate) async fn find(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, RuntimeError> {
        match self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(c) => Ok(Some(c)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(classify(e, name)),
        }
    }

    pub(crate) async fn rollback_container(
        &self,
        name: &str,
        stop_timeout: Duration,
    ) -> Result<RolledBack, RuntimeError> {
        let d = &self.docker;
        let prev = previous_name(name);
        let Some(kept) = self.find(&prev).await? else {
            return Err(RuntimeError::Refused(format!(
                "no previous definition of `{name}` is kept on this node (nothing to roll back to)"
            )));
        };
        if let Some(current) = self.find(name).await? {
            let cid = current.id.unwrap_or_default();
            self.stop_measured(&cid, stop_timeout).await?;
            self.remove_if_exists(&cid).await?;
        }
        let kept_id = kept.id.clone().unwrap_or_default();
        d.rename_container(
            &kept_id,
            RenameContainerOptions {
                name: name.to_owned(),
            },
        )
        .await
        .map_err(|e| classify(e, &prev))?;
        self.restore_policy(name, &kept_id).await?;
        self.start_container(&kept_id).await?;
        let restored_image = kept.config.and_then(|c| c.image).unwrap_or_default();
        Ok(RolledBack {
            id: kept_id,
            restored_image,
        })
    }

    /// Gives `id` back the restart policy remembered for `name`'s kept definition and forgets
    /// the record.
    pub(crate) async fn restore_policy(&self, name: &str, id: &str) -> Result<(), RuntimeError> {
        if let Some(k) = self.kept.recall(name)? {
            self.set_restart_policy(id, policy_of(&k)).await?;
            self.kept.forget(name)?;
        }
        Ok(())
    }

    pub(crate) async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        use bollard::query_parameters::StartContainerOptions;
        match self
            .docker
            .start_container(id, None::<StartContainerOptions>)
            .await
        {
            Ok(())
            | Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(classify(e, id)),
        }
    }

    pub(crate) async fn remove_if_exists(&self, name: &str) -> Result<(), RuntimeError> {
        let opts = RemoveContainerOptions {
            v: false,
            force: true,
            link: false,
        };
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(())
            | Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(classify(e, name)),
        }
    }

    async fn set_restart_policy(
        &self,
        id: &str,
        policy: RestartPolicy,
    ) -> Result<(), RuntimeError> {
        let body = ContainerUpdateBody {
            restart_policy: Some(policy),
            ..Default::default()
        };
        self.docker
            .update_container(id, body)
            .await
            .map_err(|e| classify(e, id))
    }
}

/// The container a recreate replaces.
struct Old<'a> {
    name: &'a str,
    id: &'a str,
    policy: &'a RestartPolicy,
    op: &'a str,
}

fn no_restart() -> RestartPolicy {
    RestartPolicy {
        name: Some(RestartPolicyNameEnum::NO),
        maximum_retry_count: None,
    }
}

fn policy_of(k: &Kept) -> RestartPolicy {
    RestartPolicy {
        name: match k.restart_policy.as_str() {
            "always" => Some(RestartPolicyNameEnum::ALWAYS),
            "unless-stopped" => Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            "on-failure" => Some(RestartPolicyNameEnum::ON_FAILURE),
            _ => Some(RestartPolicyNameEnum::NO),
        },
        maximum_retry_count: k.maximum_retry_count,
    }
}

/// An error from before the old container was touched, saying so.
fn unchanged(e: RuntimeError) -> RuntimeError {
    match e {
        RuntimeError::Refused(m) => RuntimeError::Refused(format!("{m}; nothing was changed")),
        RuntimeError::Unavailable(m) => {
            RuntimeError::Unavailable(format!("{m}; nothing was changed"))
        }
        other => other,
    }
}

/// Splits `repo[:tag]` (a registry port is not a tag; no tag means `latest`) or
/// `repo[:tag]@digest` (the digest) into what the pull API takes.
pub fn split_reference(image: &str) -> (&str, &str) {
    // `name[:tag]@sha256:…`: pulled by its digest (the API's `tag` takes a digest too).
    if let Some((name, digest)) = image.split_once('@') {
        return (kroll_shared::model::image_repository(name), digest);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], &image[last_slash + i + 1..]),
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(
            split_reference("reg:5000/bi/kafka:7.7.1"),
            ("reg:5000/bi/kafka", "7.7.1")
        );
        assert_eq!(
            split_reference("reg:5000/bi/kafka"),
            ("reg:5000/bi/kafka", "latest")
        );
        assert_eq!(split_reference("kafka"), ("kafka", "latest"));
        assert_eq!(
            split_reference("reg:5000/bi/kafka@sha256:ab12"),
            ("reg:5000/bi/kafka", "sha256:ab12")
        );
        assert_eq!(
            split_reference("reg:5000/bi/kafka:7.7.1@sha256:ab12"),
            ("reg:5000/bi/kafka", "sha256:ab12")
        );
    }
}
