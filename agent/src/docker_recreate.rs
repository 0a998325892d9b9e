//! Recreate, rollback, measured stop and pull on the Docker engine.
//!
//! Recreate: stop the old container gracefully, keep it (stopped, restart policy `no`) as
//! `<name>-kroll-prev`, create the new one under the original name from the derived definition
//! ([`crate::docker_spec`]), connect its other networks, start it. Rollback: stop and remove the
//! current container (never its volumes), rename the kept one back, restore its restart policy,
//! start it. The kept container's original restart policy is remembered in
//! `<state dir>/previous.json` (written atomically), because Docker labels cannot be changed.

use std::collections::BTreeMap;
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
use serde::{Deserialize, Serialize};

use crate::docker::{DockerRuntime, classify};
use crate::docker_spec::{Changes, derive};
use crate::runtime::{RecreateSpec, Recreated, RolledBack, RuntimeError, Stopped};

/// Extra time granted to a stop request beyond the container's stop timeout.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// The suffix of the kept previous definition's name.
pub const PREVIOUS_SUFFIX: &str = "-kroll-prev";

/// The name under which the previous definition of `name` is kept.
pub fn previous_name(name: &str) -> String {
    format!("{name}{PREVIOUS_SUFFIX}")
}

/// What is remembered about a kept previous definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Kept {
    restart_policy: String,
    maximum_retry_count: Option<i64>,
}

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
        id: &str,
        spec: &RecreateSpec,
    ) -> Result<Recreated, RuntimeError> {
        let d = &self.docker;
        let old = d
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| classify(e, id))?;
        let name = old
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned();
        let old_image_id = old.image.clone().unwrap_or_default();
        let old_ref = old
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        let new_ref = spec.image.clone().unwrap_or_else(|| old_ref.clone());
        let old_image = d
            .inspect_image(&old_image_id)
            .await
            .map_err(|e| classify(e, &old_image_id))?;
        match d.inspect_image(&new_ref).await {
            Ok(_) => {}
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(RuntimeError::Refused(format!(
                    "image {new_ref} is not present on this node; pull it first (nothing was changed)"
                )));
            }
            Err(e) => return Err(classify(e, &new_ref)),
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
        let prev = previous_name(&name);
        self.remove_if_exists(&prev).await?;
        let stop = self.stop_measured(id, spec.stop_timeout).await?;
        let policy = old
            .host_config
            .as_ref()
            .and_then(|h| h.restart_policy.clone())
            .unwrap_or_default();
        self.remember(&name, &policy)?;
        self.set_restart_policy(
            id,
            RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            },
        )
        .await?;
        d.rename_container(id, RenameContainerOptions { name: prev.clone() })
            .await
            .map_err(|e| classify(e, id))?;
        let created = d
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                derived.body,
            )
            .await
            .map_err(|e| classify(e, &name))?;
        for (net, settings) in derived.extra_networks {
            let req = NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(settings),
            };
            d.connect_network(&net, req)
                .await
                .map_err(|e| classify(e, &net))?;
        }
        self.start_container(&created.id).await?;
        Ok(Recreated {
            id: created.id,
            previous_image: old_ref,
            stop,
        })
    }

    pub(crate) async fn rollback_container(
        &self,
        name: &str,
        stop_timeout: Duration,
    ) -> Result<RolledBack, RuntimeError> {
        let d = &self.docker;
        let prev = previous_name(name);
        let kept = match d
            .inspect_container(&prev, None::<InspectContainerOptions>)
            .await
        {
            Ok(k) => k,
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(RuntimeError::Refused(format!(
                    "no previous definition of `{name}` is kept on this node (nothing to roll back to)"
                )));
            }
            Err(e) => return Err(classify(e, &prev)),
        };
        if let Ok(current) = d
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            let cid = current.id.unwrap_or_default();
            self.stop_measured(&cid, stop_timeout).await?;
            let opts = RemoveContainerOptions {
                v: false,
                force: true,
                link: false,
            };
            d.remove_container(&cid, Some(opts))
                .await
                .map_err(|e| classify(e, name))?;
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
        if let Some(policy) = self.recall(name)? {
            self.set_restart_policy(&kept_id, policy).await?;
        }
        self.start_container(&kept_id).await?;
        self.forget(name)?;
        let restored_image = kept.config.and_then(|c| c.image).unwrap_or_default();
        Ok(RolledBack {
            id: kept_id,
            restored_image,
        })
    }

    pub(crate) async fn recover_container(&self, name: &str) -> Result<String, RuntimeError> {
        let d = &self.docker;
        let prev = previous_name(name);
        let exists = |r: Result<bollard::models::ContainerInspectResponse, BollardError>| match r {
            Ok(c) => Ok(Some(c)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(classify(e, name)),
        };
        let current = exists(
            d.inspect_container(name, None::<InspectContainerOptions>)
                .await,
        )?;
        let kept = exists(
            d.inspect_container(&prev, None::<InspectContainerOptions>)
                .await,
        )?;
        let running = |c: &bollard::models::ContainerInspectResponse| {
            c.state.as_ref().and_then(|s| s.running).unwrap_or(false)
        };
        match (current, kept) {
            (Some(c), _) if running(&c) => Ok(format!("`{name}` is running; nothing to do")),
            (Some(_), Some(_)) | (None, Some(_)) => {
                self.rollback_container(name, Duration::from_secs(30))
                    .await?;
                Ok(format!(
                    "the new `{name}` never came up; its previous definition was restored and started"
                ))
            }
            (Some(c), None) => {
                let id = c.id.unwrap_or_default();
                if let Some(policy) = self.recall(name)? {
                    self.set_restart_policy(&id, policy).await?;
                    self.forget(name)?;
                }
                self.start_container(&id).await?;
                Ok(format!(
                    "`{name}` had been stopped for a recreate that never happened; started again"
                ))
            }
            (None, None) => Err(RuntimeError::NotFound(name.to_owned())),
        }
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
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

    async fn remove_if_exists(&self, name: &str) -> Result<(), RuntimeError> {
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

    fn state_file(&self) -> std::path::PathBuf {
        self.state_dir.join("previous.json")
    }

    fn load_kept(&self) -> Result<BTreeMap<String, Kept>, RuntimeError> {
        match std::fs::read(self.state_file()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RuntimeError::Refused(format!("{}: unreadable: {e}", self.state_file().display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(RuntimeError::Unavailable(format!(
                "{}: {e}",
                self.state_file().display()
            ))),
        }
    }

    fn store_kept(&self, kept: &BTreeMap<String, Kept>) -> Result<(), RuntimeError> {
        use std::io::Write;
        let path = self.state_file();
        let tmp = path.with_extension("json.tmp");
        let io = |e: std::io::Error| RuntimeError::Unavailable(format!("{}: {e}", path.display()));
        std::fs::create_dir_all(&self.state_dir).map_err(io)?;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&serde_json::to_vec_pretty(kept).unwrap_or_default())
            .map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    fn remember(&self, name: &str, policy: &RestartPolicy) -> Result<(), RuntimeError> {
        let mut kept = self.load_kept()?;
        let restart_policy = policy.name.map(|n| n.to_string()).unwrap_or_default();
        kept.insert(
            name.to_owned(),
            Kept {
                restart_policy,
                maximum_retry_count: policy.maximum_retry_count,
            },
        );
        self.store_kept(&kept)
    }

    fn recall(&self, name: &str) -> Result<Option<RestartPolicy>, RuntimeError> {
        Ok(self.load_kept()?.get(name).map(|k| RestartPolicy {
            name: match k.restart_policy.as_str() {
                "always" => Some(RestartPolicyNameEnum::ALWAYS),
                "unless-stopped" => Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                "on-failure" => Some(RestartPolicyNameEnum::ON_FAILURE),
                _ => Some(RestartPolicyNameEnum::NO),
            },
            maximum_retry_count: k.maximum_retry_count,
        }))
    }

    fn forget(&self, name: &str) -> Result<(), RuntimeError> {
        let mut kept = self.load_kept()?;
        if kept.remove(name).is_some() {
            self.store_kept(&kept)?;
        }
        Ok(())
    }
}

/// Splits `repo[:tag]` (a registry port is not a tag); no tag means `latest`.
pub fn split_reference(image: &str) -> (&str, &str) {
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
        assert_eq!(previous_name("kafka-01"), "kafka-01-kroll-prev");
    }
}
