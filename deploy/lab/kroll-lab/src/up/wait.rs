//! The waits of `lab up`, in order: brokers registered → seed topics → full ISR → REST
//! services answering (a SASL lab's logged in, and refusing a request without credentials) →
//! seed connectors running, schemas registered, sinks committing → (a SASL lab) kroll logging
//! in over every `SASL_EXT` → every agent reporting its node's containers.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use kroll_shared::inventory::{Inventory, ServiceKind};

use super::UpOptions;
use crate::http::Http;
use crate::security::{Credentials, SaslAccess};
use crate::topology::{LabSpec, Services};
use crate::{LabError, Progress, ready, seed};

const MINUTE: Duration = Duration::from_secs(60);
/// The topic that gives a lab of a bigger [`crate::topology::Shape`] its partition count.
pub const LOAD_TOPIC: &str = "load";

/// Waits until the lab's Kafka cluster (and, for a full lab, its services and seed data) are
/// healthy; `mark` records phase timings. `login` is what a SASL lab's Connect, Schema
/// Registry and REST proxy are asked as (HTTP basic auth).
pub(crate) async fn until_healthy(
    spec: &LabSpec,
    opts: &UpOptions,
    p: &Progress,
    mark: &mut dyn FnMut(&str),
    login: Option<&Credentials>,
) -> Result<(), LabError> {
    let bootstrap = spec.bootstrap();
    let nodes = spec.shape.nodes;
    p.step(&format!("Waiting for the {nodes} brokers to register…"));
    ready::brokers(&bootstrap, usize::from(nodes), 2 * MINUTE).await?;
    mark("brokers");
    let full = spec.services == Services::Full;
    let seeding = full && opts.seed;
    let mut topics: Vec<String> = if seeding {
        p.step("Creating the seed topics (RF 3, min.insync.replicas 2)…");
        let b = &bootstrap;
        ready::until("the seed topics to be created", MINUTE, || async move {
            seed::create_topics(b).await
        })
        .await?;
        seed::topics().into_iter().map(|(t, _)| t).collect()
    } else {
        Vec::new()
    };
    let load = spec.shape.load_partitions;
    if opts.seed && load > 0 {
        p.step(&format!(
            "Creating the topic `{LOAD_TOPIC}` ({load} partitions, RF 3, min.insync.replicas 2)…"
        ));
        let partitions = i32::try_from(load).unwrap_or(i32::MAX);
        let b = &bootstrap;
        ready::until(
            &format!("the topic `{LOAD_TOPIC}` to be created"),
            MINUTE,
            || async move { crate::kafka::create_topic(b, LOAD_TOPIC, partitions).await },
        )
        .await?;
        topics.push(LOAD_TOPIC.to_owned());
    }
    p.step("Waiting for every partition to be in full ISR…");
    ready::full_isr(&bootstrap, &topics, MINUTE).await?;
    mark("isr");
    if !full {
        return Ok(());
    }
    let anonymous = Http::new().map_err(LabError::Seed)?;
    let http = match login {
        Some(l) => anonymous.with_login(l),
        None => anonymous.clone(),
    };
    services_answer(spec, &http, &anonymous, p).await?;
    if login.is_some() {
        refuse_anonymous(spec, &anonymous).await?;
    }
    mark("services");
    if seeding {
        seed_connectors(spec, &http, p).await?;
        mark("seed");
    }
    Ok(())
}

/// A REST service's URL to ask whether it answers, and whether it requires a login
/// (Kafdrop never does).
fn health_checks(spec: &LabSpec) -> Vec<(String, String, bool)> {
    spec.containers()
        .into_iter()
        .filter_map(|c| {
            let (path, secured) = match c.kind {
                ServiceKind::Connect | ServiceKind::RestProxy => ("/", true),
                ServiceKind::SchemaRegistry => ("/subjects", true),
                ServiceKind::Kafdrop => ("/actuator/health", false),
                ServiceKind::Zookeeper | ServiceKind::Broker => return None,
            };
            Some((c.service, format!("{}{path}", c.url?), secured))
        })
        .collect()
}

/// A SASL lab's Connect workers, Schema Registry and REST proxy answer 401 to a request
/// without credentials: the lab is what it says.
async fn refuse_anonymous(spec: &LabSpec, anonymous: &Http) -> Result<(), LabError> {
    for (what, url, secured) in health_checks(spec) {
        if !secured {
            continue;
        }
        match anonymous.get(&url).await {
            Ok((401, _)) => {}
            Ok((status, _)) => {
                return Err(LabError::Security(format!(
                    "{what} at {url} answered {status} to a request without credentials; it should require HTTP basic auth (401)"
                )));
            }
            Err(e) => {
                return Err(LabError::Security(format!(
                    "{what} at {url}: asking without credentials whether it requires a login: {e}"
                )));
            }
        }
    }
    Ok(())
}

/// Schema Registry, REST proxy, Kafdrop and every Connect worker answer over HTTP (`http`
/// logged in where a service requires it, `anonymous` for Kafdrop).
async fn services_answer(
    spec: &LabSpec,
    http: &Http,
    anonymous: &Http,
    p: &Progress,
) -> Result<(), LabError> {
    p.step("Waiting for Connect, Schema Registry, REST proxy and Kafdrop to answer…");
    let checks = health_checks(spec);
    futures::future::try_join_all(checks.iter().map(|(what, url, secured)| {
        let client = if *secured { http } else { anonymous };
        ready::http_ok(client, what, url, 3 * MINUTE)
    }))
    .await?;
    Ok(())
}

/// Creates the seed connectors and waits until they run, their schemas are registered and
/// the sinks have committed offsets.
async fn seed_connectors(spec: &LabSpec, http: &Http, p: &Progress) -> Result<(), LabError> {
    let urls: Vec<String> = spec
        .containers()
        .into_iter()
        .filter(|c| c.kind == ServiceKind::Connect)
        .filter_map(|c| c.url)
        .collect();
    let (Some(connect), Some(registry)) = (
        urls.first(),
        spec.container("schema-registry").and_then(|c| c.url),
    ) else {
        return Ok(());
    };
    p.step("Creating the seed connectors (CDC and CT sources, a sink each)…");
    ready::until("the seed connectors to be created", MINUTE, || async move {
        seed::create_connectors(http, connect, spec).await
    })
    .await?;
    for s in seed::sources() {
        for name in [&s.name, &s.sink] {
            ready::connector_running(http, connect, name, MINUTE).await?;
        }
    }
    p.step("Waiting for the connectors' schemas and the sinks' first commits…");
    ready::subjects(http, &registry, &seed::subjects(), MINUTE).await?;
    let bootstrap = spec.bootstrap();
    for s in seed::sources() {
        let group = format!("connect-{}", s.sink);
        ready::group_committed(&bootstrap, &group, &s.topics, MINUTE).await?;
    }
    Ok(())
}

/// kroll logs in over every broker's `SASL_EXT` listener and its ACLs let it see every broker
/// (Metadata as `User:kroll`, asked of each broker alone).
pub(crate) async fn sasl_login(access: &SaslAccess, nodes: u8) -> Result<(), LabError> {
    let login = vec![
        ("security.protocol", access.security_protocol.to_owned()),
        ("sasl.mechanism", access.sasl_mechanism.to_owned()),
        ("sasl.username", access.kroll.username.clone()),
        ("sasl.password", access.kroll.password.expose().to_owned()),
    ];
    let login = &login;
    ready::until(
        "kroll to log in over every broker's SASL_EXT",
        MINUTE,
        || async move {
            for b in &access.bootstrap {
                let md = crate::kafka::metadata_with(
                    std::slice::from_ref(b),
                    Duration::from_secs(3),
                    login.clone(),
                )
                .await?;
                if md.brokers.len() != usize::from(nodes) {
                    return Err(format!("{b} as kroll sees brokers {:?}", md.brokers));
                }
            }
            Ok(())
        },
    )
    .await
}

/// Every agent answers over mutual TLS and reports the containers the inventory places on its
/// node.
pub(crate) async fn agents_report(spec: &LabSpec, inventory: &Path) -> Result<(), LabError> {
    let inv = Inventory::load(inventory).map_err(|e| LabError::Usage(e.to_string()))?;
    let tls = inv.tls.load().map_err(|e| LabError::Agent {
        node: "-".into(),
        detail: format!("certificates of lab {}: {e}", spec.name),
    })?;
    let (inv, tls) = (&inv, &tls);
    ready::until(
        "every agent to report its node's containers",
        MINUTE,
        || async move {
            let mut problems = Vec::new();
            for r in kroll::agents::query_all(inv, tls).await {
                match r.state {
                    Err(e) => problems.push(e.to_string()),
                    Ok(state) => {
                        let seen: BTreeSet<&str> =
                            state.containers.iter().map(|c| c.name.as_str()).collect();
                        problems.extend(
                            r.node
                                .services
                                .iter()
                                .filter(|s| !seen.contains(s.container.as_str()))
                                .map(|s| format!("{} does not see {}", r.node.name, s.container)),
                        );
                    }
                }
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("; "))
            }
        },
    )
    .await
}
