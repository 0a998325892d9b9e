//! Drift: where the live Swarm services differ from what the stack file says.
//!
//! Pre-flight compares every service of the file with the live service named
//! `<stack>_<service>` and refuses differences kroll did not make (the caller
//! knows which ones it made: those it journaled). Environment differences name
//! the variable only, never its values, which may be secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::duration::DEFAULT_STOP_GRACE_PERIOD;
use crate::error::StackError;
use crate::image::{ImageMatch, STACK_IMAGE_LABEL, compare_images};
use crate::interpolate::Vars;
use crate::spec::StackFile;

/// The label `docker stack deploy` puts on every service of a stack.
pub const STACK_NAMESPACE_LABEL: &str = "com.docker.stack.namespace";

/// What kroll reads of a live service (from `ServiceSpec` of a service inspect).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveService {
    /// The service name, `<stack>_<service>`.
    pub name: String,
    /// `TaskTemplate.ContainerSpec.Image`.
    pub image: String,
    /// `TaskTemplate.ContainerSpec.Env` (`NAME=value` or `NAME`).
    pub env: Vec<String>,
    /// `TaskTemplate.ContainerSpec.Hostname`.
    pub hostname: Option<String>,
    /// `TaskTemplate.ContainerSpec.StopGracePeriod` (`None`: Swarm's default).
    pub stop_grace_period: Option<Duration>,
    /// The service's labels.
    pub labels: BTreeMap<String, String>,
}

/// One difference between the stack file and the live services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// A service of the file runs nowhere.
    NotDeployed {
        /// The file's service name.
        service: String,
    },
    /// A live service of the stack is not in the file.
    NotInFile {
        /// The live service name.
        live: String,
    },
    /// The image differs, or cannot be confirmed without the registry.
    Image {
        /// The file's service name.
        service: String,
        /// The file's image (interpolated).
        file: String,
        /// The live image.
        live: String,
        /// [`ImageMatch::Different`] or [`ImageMatch::Unverifiable`].
        verdict: ImageMatch,
    },
    /// The live service has a variable the file does not.
    EnvAdded {
        /// The file's service name.
        service: String,
        /// The variable.
        name: String,
    },
    /// The file has a variable the live service does not.
    EnvRemoved {
        /// The file's service name.
        service: String,
        /// The variable.
        name: String,
    },
    /// A variable's value differs (values are not shown: they may be secrets).
    EnvChanged {
        /// The file's service name.
        service: String,
        /// The variable.
        name: String,
    },
    /// The hostname differs.
    Hostname {
        /// The file's service name.
        service: String,
        /// The file's hostname.
        file: Option<String>,
        /// The live hostname.
        live: Option<String>,
    },
    /// The stop grace period differs (absent counts as Swarm's 10 s).
    StopGracePeriod {
        /// The file's service name.
        service: String,
        /// The file's period.
        file: Duration,
        /// The live period.
        live: Duration,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotDeployed { service } => {
                write!(f, "{service}: in the stack file but not deployed")
            }
            Self::NotInFile { live } => {
                write!(f, "{live}: deployed in the stack but not in the stack file")
            }
            Self::Image {
                service,
                file,
                live,
                verdict: ImageMatch::Unverifiable,
            } => write!(
                f,
                "{service}: runs {live}; the file names {file} and only the registry could tell whether they are the same"
            ),
            Self::Image {
                service,
                file,
                live,
                ..
            } => write!(f, "{service}: runs {live}, the file names {file}"),
            Self::EnvAdded { service, name } => write!(
                f,
                "{service}: {name} is set on the service but not in the file"
            ),
            Self::EnvRemoved { service, name } => write!(
                f,
                "{service}: {name} is in the file but not set on the service"
            ),
            Self::EnvChanged { service, name } => write!(
                f,
                "{service}: {name} differs between the file and the service"
            ),
            Self::Hostname {
                service,
                file,
                live,
            } => write!(
                f,
                "{service}: hostname {live:?} on the service, {file:?} in the file"
            ),
            Self::StopGracePeriod {
                service,
                file,
                live,
            } => {
                write!(
                    f,
                    "{service}: stop grace period {live:?} on the service, {file:?} in the file"
                )
            }
        }
    }
}

fn parse_env(env: &[String]) -> BTreeMap<String, Option<String>> {
    env.iter()
        .map(|item| match item.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (item.clone(), None),
        })
        .collect()
}

/// Every difference between `file` (interpolated with `vars`) and the live
/// services of `stack`, in file order, then live services the file lacks.
pub fn drift(
    file: &StackFile,
    stack: &str,
    vars: &Vars,
    live: &[LiveService],
) -> Result<Vec<Drift>, StackError> {
    let mut out = Vec::new();
    for spec in file.specs() {
        let service = spec.name.clone();
        let full = format!("{stack}_{service}");
        let Some(have) = live.iter().find(|l| l.name == full) else {
            out.push(Drift::NotDeployed { service });
            continue;
        };
        let Some(want) = file.resolve(&service, vars).transpose()? else {
            continue;
        };
        let want_image = want.image.unwrap_or_default();
        let label = have.labels.get(STACK_IMAGE_LABEL).map(String::as_str);
        let verdict = compare_images(&want_image, &have.image, label);
        if verdict != ImageMatch::Same {
            out.push(Drift::Image {
                service: service.clone(),
                file: want_image,
                live: have.image.clone(),
                verdict,
            });
        }
        let live_env = parse_env(&have.env);
        for (name, value) in &want.env {
            match live_env.get(name) {
                None => out.push(Drift::EnvRemoved {
                    service: service.clone(),
                    name: name.clone(),
                }),
                Some(live_value) if live_value != value => {
                    out.push(Drift::EnvChanged {
                        service: service.clone(),
                        name: name.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        for name in live_env.keys().filter(|name| !want.env.contains_key(*name)) {
            out.push(Drift::EnvAdded {
                service: service.clone(),
                name: name.clone(),
            });
        }
        let live_host = have.hostname.clone().filter(|h| !h.is_empty());
        if want.hostname != live_host {
            out.push(Drift::Hostname {
                service: service.clone(),
                file: want.hostname,
                live: live_host,
            });
        }
        let file_period = want.stop_grace_period.unwrap_or(DEFAULT_STOP_GRACE_PERIOD);
        let live_period = have.stop_grace_period.unwrap_or(DEFAULT_STOP_GRACE_PERIOD);
        if file_period != live_period {
            out.push(Drift::StopGracePeriod {
                service,
                file: file_period,
                live: live_period,
            });
        }
    }
    let prefix = format!("{stack}_");
    for service in live {
        let in_stack = service.labels.get(STACK_NAMESPACE_LABEL).map_or_else(
            || service.name.starts_with(&prefix),
            |namespace| namespace == stack,
        );
        let known = service
            .name
            .strip_prefix(&prefix)
            .is_some_and(|short| file.service(short).is_some());
        if in_stack && !known {
            out.push(Drift::NotInFile {
                live: service.name.clone(),
            });
        }
    }
    Ok(out)
}
