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
    /// The service reads `env_file`s, which kroll does not open: variables the
    /// live service has beyond the stack file's `environment` are not compared.
    EnvFiles {
        /// The file's service name.
        service: String,
        /// The `env_file` entries.
        files: Vec<String>,
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
            Self::EnvFiles { service, files } => write!(
                f,
                "{service}: reads env_file {files:?}, which kroll does not open; variables from it are not compared"
            ),
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
    drift_by(file, stack, vars, live, |file_value, live_value| {
        file_value == live_value
    })
}

/// [`drift`], with an environment value of the file and one of a live service compared by
/// `same(file value, live value)` — for live services described without their values (each
/// value a MAC the caller can compute over the file's).
pub fn drift_by(
    file: &StackFile,
    stack: &str,
    vars: &Vars,
    live: &[LiveService],
    same: impl Fn(&str, &str) -> bool,
) -> Result<Vec<Drift>, StackError> {
    let same_entry =
        |file_value: &Option<String>, live_value: &Option<String>| match (file_value, live_value) {
            (Some(f), Some(l)) => same(f, l),
            (None, None) => true,
            _ => false,
        };
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
                Some(live_value) if !same_entry(value, live_value) => {
                    out.push(Drift::EnvChanged {
                        service: service.clone(),
                        name: name.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        if spec.env_files.is_empty() {
            for name in live_env.keys().filter(|name| !want.env.contains_key(*name)) {
                out.push(Drift::EnvAdded {
                    service: service.clone(),
                    name: name.clone(),
                });
            }
        } else {
            out.push(Drift::EnvFiles {
                service: service.clone(),
                files: spec.env_files.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{JOURNAL, journal, journal_vars as vars};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    /// What `docker stack deploy` of `file` creates: `:latest@digest` added to
    /// untagged images, the file's image text in the stack label, env as `K=V`.
    fn deployed(file: &StackFile, stack: &str) -> Vec<LiveService> {
        file.services()
            .map(|name| {
                let resolved = file
                    .resolve(name, &vars())
                    .expect("service")
                    .expect("resolves");
                let image = resolved.image.unwrap_or_default();
                let live_image = if image
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.contains(':'))
                {
                    format!("{image}@{DIGEST}")
                } else {
                    format!("{image}:latest@{DIGEST}")
                };
                let env = resolved
                    .env
                    .iter()
                    .map(|(k, v)| v.as_ref().map_or_else(|| k.clone(), |v| format!("{k}={v}")))
                    .collect();
                let labels = [
                    (STACK_NAMESPACE_LABEL.to_owned(), stack.to_owned()),
                    (STACK_IMAGE_LABEL.to_owned(), image),
                ]
                .into();
                LiveService {
                    name: format!("{stack}_{name}"),
                    image: live_image,
                    env,
                    hostname: resolved.hostname,
                    stop_grace_period: resolved.stop_grace_period,
                    labels,
                }
            })
            .collect()
    }

    #[test]
    fn a_freshly_deployed_stack_has_no_drift() {
        let file = journal();
        let live = deployed(&file, "rhodry");
        assert_eq!(
            drift(&file, "rhodry", &vars(), &live).expect("resolves"),
            []
        );
    }

    #[test]
    fn every_kind_of_difference_is_reported_by_name() {
        let file = journal();
        type Change = fn(&mut Vec<LiveService>);
        let table: Vec<(&str, Change, Vec<Drift>)> = vec![
            (
                "service update --image behind the file's back",
                |live| live[1].image = format!("registry.example/bi/rhodry/kafka:7.7.1@{DIGEST}"),
                vec![Drift::Image {
                    service: "kafka-01".into(),
                    file: "registry.example/bi/rhodry/kafka".into(),
                    live: format!("registry.example/bi/rhodry/kafka:7.7.1@{DIGEST}"),
                    verdict: ImageMatch::Different,
                }],
            ),
            (
                "an IBP pin added by hand",
                |live| {
                    live[2]
                        .env
                        .push("KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1".into())
                },
                vec![Drift::EnvAdded {
                    service: "kafka-02".into(),
                    name: "KAFKA_INTER_BROKER_PROTOCOL_VERSION".into(),
                }],
            ),
            (
                "a variable dropped and one changed",
                |live| {
                    live[0].env.retain(|e| !e.starts_with("ZOO_MY_ID="));
                    for e in &mut live[0].env {
                        if e.starts_with("ZOO_TICK_TIME=") {
                            *e = "ZOO_TICK_TIME=3000".into();
                        }
                    }
                },
                vec![
                    Drift::EnvRemoved {
                        service: "zookeeper-01".into(),
                        name: "ZOO_MY_ID".into(),
                    },
                    Drift::EnvChanged {
                        service: "zookeeper-01".into(),
                        name: "ZOO_TICK_TIME".into(),
                    },
                ],
            ),
            (
                "hostname and grace period",
                |live| {
                    live[0].hostname = None;
                    live[0].stop_grace_period = Some(Duration::from_secs(120));
                },
                vec![
                    Drift::Hostname {
                        service: "zookeeper-01".into(),
                        file: Some("zookeeper-01".into()),
                        live: None,
                    },
                    Drift::StopGracePeriod {
                        service: "zookeeper-01".into(),
                        file: Duration::from_secs(10),
                        live: Duration::from_secs(120),
                    },
                ],
            ),
            (
                "a service missing and one the file does not know",
                |live| {
                    live.remove(13);
                    live.push(LiveService {
                        name: "rhodry_ksqldb".into(),
                        labels: [(STACK_NAMESPACE_LABEL.to_owned(), "rhodry".to_owned())].into(),
                        ..LiveService::default()
                    });
                    live.push(LiveService {
                        name: "other_kafka-01".into(),
                        ..LiveService::default()
                    });
                },
                vec![
                    Drift::NotDeployed {
                        service: "kafdrop".into(),
                    },
                    Drift::NotInFile {
                        live: "rhodry_ksqldb".into(),
                    },
                ],
            ),
            (
                "a digest-only live image the stack label vouches for",
                |live| {
                    live[1].image = format!("registry.example/bi/rhodry/kafka@{DIGEST}");
                },
                vec![],
            ),
            (
                "a digest-only live image after a label-less update",
                |live| {
                    live[1].image = format!("registry.example/bi/rhodry/kafka@{DIGEST}");
                    live[1].labels.remove(STACK_IMAGE_LABEL);
                },
                vec![Drift::Image {
                    service: "kafka-01".into(),
                    file: "registry.example/bi/rhodry/kafka".into(),
                    live: format!("registry.example/bi/rhodry/kafka@{DIGEST}"),
                    verdict: ImageMatch::Unverifiable,
                }],
            ),
        ];
        for (what, change, want) in table {
            let mut live = deployed(&file, "rhodry");
            change(&mut live);
            assert_eq!(
                drift(&file, "rhodry", &vars(), &live).expect("resolves"),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn variables_from_env_files_are_named_as_not_compared() {
        let text = JOURNAL.replace(
            "  kafka-02:\n    <<: *kafka-common\n",
            "  kafka-02:\n    <<: *kafka-common\n    env_file: [kafka.env]\n",
        );
        let file = StackFile::parse(text, "journal-env-file.yml").expect("parses");
        assert_eq!(
            file.service("kafka-02").expect("kafka-02").env_files,
            ["kafka.env"]
        );
        let mut live = deployed(&file, "rhodry");
        live[2].env.push("FROM_THE_FILE=1".into());
        live[2].env.retain(|e| !e.starts_with("KAFKA_BROKER_ID="));
        assert_eq!(
            drift(&file, "rhodry", &vars(), &live).expect("resolves"),
            [
                Drift::EnvRemoved {
                    service: "kafka-02".into(),
                    name: "KAFKA_BROKER_ID".into()
                },
                Drift::EnvFiles {
                    service: "kafka-02".into(),
                    files: vec!["kafka.env".into()]
                },
            ]
        );
    }

    #[test]
    fn the_file_kroll_emits_matches_the_services_it_updated() {
        // kroll updates the brokers, then writes the file: no drift remains.
        let file = journal();
        let edited = file
            .edit(&[
                crate::Edit::Image {
                    services: (1..=5).map(|i| format!("kafka-0{i}")).collect(),
                    image: "${CI_REGISTRY_IMAGE}/kafka:7.7.1".into(),
                },
                crate::Edit::Env {
                    services: (1..=5).map(|i| format!("kafka-0{i}")).collect(),
                    patch: kroll_migrate::EnvPatch {
                        set: [(
                            "KAFKA_INTER_BROKER_PROTOCOL_VERSION".to_owned(),
                            "3.1".to_owned(),
                        )]
                        .into(),
                        ..kroll_migrate::EnvPatch::default()
                    },
                },
            ])
            .expect("edit");
        let mut live = deployed(&file, "rhodry");
        for service in live
            .iter_mut()
            .filter(|l| l.name.starts_with("rhodry_kafka-"))
        {
            service.image = format!("registry.example/bi/rhodry/kafka:7.7.1@{DIGEST}");
            service
                .env
                .push("KAFKA_INTER_BROKER_PROTOCOL_VERSION=3.1".into());
        }
        assert_eq!(
            drift(&edited, "rhodry", &vars(), &live).expect("resolves"),
            []
        );
        assert_eq!(
            drift(&file, "rhodry", &vars(), &live)
                .expect("resolves")
                .len(),
            10
        );
        let message = drift(&file, "rhodry", &vars(), &live).expect("resolves")[1].to_string();
        assert_eq!(
            message,
            "kafka-01: KAFKA_INTER_BROKER_PROTOCOL_VERSION is set on the service but not in the file"
        );
    }
}
