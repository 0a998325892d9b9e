//! Table tests of the planner on the journal's lab shape.

use std::collections::BTreeMap;

use kroll_shared::inventory::ServiceKind;
use kroll_shared::model::Container;

use super::*;
use crate::upgrade::view::{ClusterView, KafkaView, ServiceView};

fn container(name: &str, image: &str, env: &[(&str, &str)], keys: &[&str]) -> Container {
    Container {
        hostname: name.trim_start_matches("lab-").into(),
        ..crate::upgrade::fixtures::container(name, image, env, keys)
    }
}

fn svc(node: usize, kind: ServiceKind, name: &str, c: Container) -> ServiceView {
    ServiceView {
        node: format!("rhodrylab-0{node}"),
        kind,
        name: name.into(),
        broker_id: (kind == ServiceKind::Broker).then(|| {
            name.chars()
                .last()
                .and_then(|d| d.to_digit(10))
                .unwrap_or(0) as i32
        }),
        zookeeper_id: (kind == ServiceKind::Zookeeper).then_some(1),
        container: Some(c),
        agent_reachable: true,
    }
}

const REG: &str = "kroll-lab.local/rhodry";
const CONNECT_KEYS: [&str; 9] = [
    "BOOTSTRAP_SERVERS",
    "GROUP_ID",
    "CONFIG_STORAGE_TOPIC",
    "OFFSET_STORAGE_TOPIC",
    "STATUS_STORAGE_TOPIC",
    "KEY_CONVERTER",
    "VALUE_CONVERTER",
    "CONNECT_KEY_CONVERTER_SCHEMA_REGISTRY_URL",
    "PATH",
];

/// The journal's lab on `broker_versions[i]` per broker, controller = broker 3.
fn lab(broker_versions: [&str; 5], ibp: [Option<&str>; 5]) -> ClusterView {
    let mut services = vec![svc(
        1,
        ServiceKind::Zookeeper,
        "lab-zookeeper-01",
        container(
            "lab-zookeeper-01",
            &format!("{REG}/zookeeper:7.1.1"),
            &[],
            &[],
        ),
    )];
    for i in 1..=5 {
        let name = format!("lab-kafka-0{i}");
        let id = i.to_string();
        let mut env = vec![("KAFKA_BROKER_ID", id.as_str())];
        if let Some(v) = ibp[i - 1] {
            env.push((IBP_ENV, v));
        }
        services.push(svc(
            i,
            ServiceKind::Broker,
            &name,
            container(
                &name,
                &format!("{REG}/kafka:{}", broker_versions[i - 1]),
                &env,
                &[],
            ),
        ));
        let cname = format!("lab-connect-0{i}");
        let adv = format!("connect-0{i}");
        services.push(svc(
            i,
            ServiceKind::Connect,
            &cname,
            container(
                &cname,
                &format!("{REG}/connect:7.1.1"),
                &[
                    ("ADVERTISED_HOST_NAME", adv.as_str()),
                    ("HEAP_OPTS", "-Xmx256m"),
                ],
                &CONNECT_KEYS,
            ),
        ));
    }
    services.push(svc(
        1,
        ServiceKind::SchemaRegistry,
        "lab-schema-registry",
        container(
            "lab-schema-registry",
            &format!("{REG}/schema-registry:7.1.1"),
            &[],
            &[],
        ),
    ));
    ClusterView {
        services,
        kafka: Some(KafkaView {
            controller: Some(3),
            default_min_isr: 2,
            ..Default::default()
        }),
        unreachable: BTreeMap::new(),
        kafka_error: None,
        disks: BTreeMap::new(),
    }
}

fn opts(to: &str) -> PlanOptions {
    PlanOptions {
        to: to.parse().expect("version"),
        images: BTreeMap::new(),
        pin_ibp: true,
        resuming: false,
    }
}

const FRESH: [Option<&str>; 5] = [None; 5];

#[test]
fn a_fresh_plan_pins_ibp_puts_the_controller_last_and_marks_the_bump() {
    let p = plan(&lab(["7.1.1"; 5], FRESH), &opts("7.7.1")).expect("plan");
    assert_eq!(
        (p.from.to_string(), p.from_ibp.ibp(), p.to_ibp.ibp()),
        ("7.1.1".into(), "3.1".into(), "3.7".into())
    );
    let ids: Vec<PhaseId> = p.phases.iter().map(|ph| ph.id).collect();
    assert_eq!(
        ids,
        [
            PhaseId::Preflight,
            PhaseId::QuiesceConnect,
            PhaseId::RollZookeeper,
            PhaseId::RollBrokers,
            PhaseId::RollSchemaRegistry,
            PhaseId::RollConnect,
            PhaseId::BumpIbp,
            PhaseId::ResumeConnect,
            PhaseId::PostChecks
        ]
    );
    let roll1 = p.phase(PhaseId::RollBrokers).expect("roll 1");
    let order: Vec<&str> = roll1.steps.iter().map(|s| s.container.as_str()).collect();
    assert_eq!(
        order,
        [
            "lab-kafka-01",
            "lab-kafka-02",
            "lab-kafka-04",
            "lab-kafka-05",
            "lab-kafka-03"
        ]
    );
    for s in &roll1.steps {
        let c = s.change.as_ref().expect("change");
        assert_eq!(c.image, format!("{REG}/kafka:7.7.1"));
        assert_eq!(c.env.set.get(IBP_ENV).map(String::as_str), Some("3.1"));
        assert!(!s.done);
    }
    let bump = p.phase(PhaseId::BumpIbp).expect("bump");
    assert!(bump.point_of_no_return);
    assert_eq!(
        bump.steps.last().map(|s| s.container.as_str()),
        Some("lab-kafka-03")
    );
    assert!(bump.steps.iter().all(|s| {
        s.change
            .as_ref()
            .and_then(|c| c.env.set.get(IBP_ENV))
            .map(String::as_str)
            == Some("3.7")
    }));
}

#[test]
fn connect_workers_get_the_journals_environment_rewrite() {
    let p = plan(&lab(["7.1.1"; 5], FRESH), &opts("7.7.1")).expect("plan");
    let step = &p.phase(PhaseId::RollConnect).expect("connect").steps[0];
    let c = step.change.as_ref().expect("change");
    assert_eq!(c.image, format!("{REG}/connect:7.7.1"));
    assert_eq!(
        c.env.rename.get("BOOTSTRAP_SERVERS").map(String::as_str),
        Some("CONNECT_BOOTSTRAP_SERVERS")
    );
    assert_eq!(
        c.env.rename.get("ADVERTISED_HOST_NAME").map(String::as_str),
        Some("CONNECT_REST_ADVERTISED_HOST_NAME")
    );
    assert_eq!(
        c.env.rename.get("HEAP_OPTS").map(String::as_str),
        Some("KAFKA_HEAP_OPTS"),
        "the journal's OOM cause"
    );
    assert_eq!(
        c.env.set.get("CONNECT_LISTENERS").map(String::as_str),
        Some("http://0.0.0.0:8083")
    );
    assert!(
        !c.env.rename.contains_key("PATH")
            && !c
                .env
                .rename
                .contains_key("CONNECT_KEY_CONVERTER_SCHEMA_REGISTRY_URL")
    );
    assert_eq!(c.hostname.as_deref(), Some("connect-01"));
}

#[test]
fn an_interrupted_roll_is_planned_from_where_it_stands() {
    let p = plan(
        &lab(
            ["7.7.1", "7.7.1", "7.1.1", "7.1.1", "7.1.1"],
            [Some("3.1"), Some("3.1"), None, None, None],
        ),
        &opts("7.7.1"),
    )
    .expect("plan");
    assert_eq!(p.from.to_string(), "7.1.1");
    let roll1 = p.phase(PhaseId::RollBrokers).expect("roll 1");
    let done: Vec<(&str, bool)> = roll1
        .steps
        .iter()
        .map(|s| (s.container.as_str(), s.done))
        .collect();
    assert_eq!(
        done,
        [
            ("lab-kafka-01", true),
            ("lab-kafka-02", true),
            ("lab-kafka-04", false),
            ("lab-kafka-05", false),
            ("lab-kafka-03", false)
        ]
    );
    let before_bump = plan(&lab(["7.7.1"; 5], [Some("3.1"); 5]), &opts("7.7.1")).expect("plan");
    assert_eq!(before_bump.from_ibp.ibp(), "3.1");
    assert!(
        before_bump
            .phase(PhaseId::RollBrokers)
            .is_some_and(|b| b.steps.iter().all(|s| s.done))
    );
    assert!(
        before_bump
            .phase(PhaseId::BumpIbp)
            .is_some_and(|b| b.steps.iter().all(|s| !s.done))
    );
    let mut done = lab(["7.7.1"; 5], [Some("3.7"); 5]);
    for s in done
        .services
        .iter_mut()
        .filter(|s| s.kind != ServiceKind::Broker)
    {
        if let Some(c) = s.container.as_mut() {
            c.image = c.image.replace("7.1.1", "7.7.1");
            let renamed = CONNECT_KEYS.iter().filter(|k| **k != "PATH").map(|k| {
                if k.starts_with("CONNECT_") {
                    (*k).to_owned()
                } else {
                    format!("CONNECT_{k}")
                }
            });
            c.env_keys = renamed
                .chain(
                    [
                        "CONNECT_LISTENERS",
                        "CONNECT_REST_ADVERTISED_HOST_NAME",
                        "KAFKA_HEAP_OPTS",
                        "PATH",
                    ]
                    .map(String::from),
                )
                .collect();
            c.env.clear();
        }
    }
    let err = plan(&done, &opts("7.7.1")).expect_err("nothing left");
    assert!(err.to_string().contains("nothing to upgrade"), "{err}");
    let err = plan(&lab(["7.1.1"; 5], FRESH), &opts("7.1.1")).expect_err("same version");
    assert!(err.to_string().contains("nothing to upgrade"), "{err}");
}

#[test]
fn illegal_paths_and_disagreeing_inventories_are_refused_with_the_reason() {
    let err = plan(&lab(["7.1.1"; 5], FRESH), &opts("8.0.0")).unwrap_err();
    assert!(err.to_string().contains("KRaft"), "{err}");
    let err = plan(&lab(["7.7.1"; 5], [Some("3.7"); 5]), &opts("7.1.1")).unwrap_err();
    assert!(err.to_string().contains("downgrade"), "{err}");
    let err = plan(&lab(["7.1.1"; 5], FRESH), &opts("7.9.9")).expect("7.9 is known");
    assert_eq!(err.to_ibp.ibp(), "3.9");
    let err = plan(&lab(["7.1.1"; 5], FRESH), &opts("9.0.0")).unwrap_err();
    assert!(err.to_string().contains("unknown to kroll"), "{err}");

    let mut missing = lab(["7.1.1"; 5], FRESH);
    missing.services[3].container = None;
    let err = plan(&missing, &opts("7.7.1")).unwrap_err();
    assert!(
        err.to_string()
            .contains("container `lab-kafka-02` (broker) on node `rhodrylab-02` is not there"),
        "{err}"
    );

    let mut unreachable = lab(["7.1.1"; 5], FRESH);
    unreachable
        .unreachable
        .insert("rhodrylab-04".into(), "connection refused".into());
    let err = plan(&unreachable, &opts("7.7.1")).unwrap_err();
    assert!(
        err.to_string()
            .contains("node `rhodrylab-04`'s agent cannot be asked"),
        "{err}"
    );

    let err = plan(
        &lab(["7.1.1", "7.1.1", "7.4.0", "7.1.1", "7.1.1"], FRESH),
        &opts("7.7.1"),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Mixed { .. }), "{err}");
    let err = plan(
        &lab(["7.1.1", "latest", "7.1.1", "7.1.1", "7.1.1"], FRESH),
        &opts("7.7.1"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("tag `latest`"), "{err}");
}

#[test]
fn the_ibp_pin_can_only_be_forgotten_on_purpose() {
    let mut o = opts("7.7.1");
    o.pin_ibp = false;
    let p = plan(&lab(["7.1.1"; 5], FRESH), &o).expect("plan");
    assert!(p.phase(PhaseId::RollBrokers).is_some_and(|r| {
        r.steps
            .iter()
            .all(|s| s.change.as_ref().is_some_and(|c| c.env.is_empty()))
    }));
    assert_eq!(p.warnings.len(), 1);
    let text = render(&p, "lab");
    assert!(
        text.starts_with("Upgrade plan for lab: Confluent 7.1.1 → 7.7.1"),
        "{text}"
    );
    assert!(text.contains("POINT OF NO RETURN"), "{text}");
}

#[test]
fn explicit_images_override_the_tag_convention() {
    let mut o = opts("7.7.1");
    o.images.insert(
        ServiceKind::Connect,
        "registry-git.example.com/bi/rhodry/connect:7.7.1-3.5.0-dev".into(),
    );
    let p = plan(&lab(["7.1.1"; 5], FRESH), &o).expect("plan");
    let c = &p.phase(PhaseId::RollConnect).expect("connect").steps[0];
    assert_eq!(
        c.change.as_ref().map(|c| c.image.as_str()),
        Some("registry-git.example.com/bi/rhodry/connect:7.7.1-3.5.0-dev")
    );
    assert_eq!(
        target_image("reg:5000/kafka:7.1.1", ServiceKind::Broker, &opts("7.8.0")),
        "reg:5000/kafka:7.8.0"
    );
}

#[test]
fn untagged_images_target_their_own_name_which_is_pinned_to_a_checked_digest() {
    let o = opts("7.7.1");
    for (current, target, mutable) in [
        ("reg:5000/kafka:7.1.1", "reg:5000/kafka:7.7.1", false),
        ("reg:5000/kafka", "reg:5000/kafka", true),
        ("reg:5000/kafka:latest", "reg:5000/kafka", true),
        ("reg:5000/kafka:latest@sha256:ab", "reg:5000/kafka", true),
        ("reg:5000/kafka@sha256:ab", "reg:5000/kafka", true),
    ] {
        let t = target_image(current, ServiceKind::Broker, &o);
        assert_eq!(t, target, "{current}");
        assert_eq!(is_mutable(&t), mutable, "{t}");
    }
    assert!(!is_mutable("reg:5000/kafka@sha256:ab"));
    let labels = |release: &str| -> BTreeMap<String, String> {
        [("io.confluent.docker", "true"), ("release", release)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let digests = vec![
        "other:5000/kafka@sha256:00".to_owned(),
        "reg:5000/kafka@sha256:77".to_owned(),
    ];
    let to: Platform = "7.7.1".parse().expect("v");
    assert_eq!(
        pin_target("reg:5000/kafka", &digests, &labels("7.7.1"), to),
        Ok("reg:5000/kafka@sha256:77".to_owned())
    );
    for (digests, labels, refusal) in [
        (digests.clone(), labels("7.1.1"), "is 7.1.1, not 7.7.1"),
        (digests.clone(), BTreeMap::new(), "has no version label"),
        (vec![], labels("7.7.1"), "no registry digest"),
    ] {
        let e = pin_target("reg:5000/kafka", &digests, &labels, to).expect_err("refused");
        assert!(e.contains(refusal), "{e}");
    }
}

#[test]
fn a_version_label_outranks_the_tag() {
    let mut view = lab(["7.1.1"; 5], FRESH);
    for s in &mut view.services {
        if let Some(c) = &mut s.container {
            c.image = c.image.replace(":7.1.1", "");
            c.labels.insert("io.confluent.docker".into(), "true".into());
            c.labels.insert("release".into(), "7.1.1".into());
        }
    }
    let p = plan(&view, &opts("7.7.1")).expect("plan from labels");
    assert_eq!(p.from.to_string(), "7.1.1");
    // The untagged targets are named in the plan: they are resolved when the run starts.
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("named by a tag that moves") && w.contains("/kafka")),
        "{:?}",
        p.warnings
    );
    // Without the labels an untagged image says nothing: refused, naming what is missing.
    for s in &mut view.services {
        if let Some(c) = &mut s.container {
            c.labels.clear();
        }
    }
    let e = plan(&view, &opts("7.7.1"))
        .expect_err("no version")
        .to_string();
    assert!(e.contains("no version label"), "{e}");
}

/// Brokers 1 and 4 bumped to 3.7, the others still on 3.1: the point of no return is behind.
fn half_bumped() -> ClusterView {
    lab(
        ["7.7.1"; 5],
        [
            Some("3.7"),
            Some("3.1"),
            Some("3.1"),
            Some("3.7"),
            Some("3.1"),
        ],
    )
}

#[test]
fn a_half_bumped_cluster_plans_exactly_the_remaining_bump_steps_and_never_a_lower_ibp() {
    let view = half_bumped();
    for resuming in [false, true] {
        let o = PlanOptions {
            resuming,
            ..opts("7.7.1")
        };
        let p = plan(&view, &o).expect("plan");
        let pending: Vec<(PhaseId, &str)> = p
            .phases
            .iter()
            .flat_map(|ph| ph.steps.iter().map(move |s| (ph.id, s)))
            .filter(|(_, s)| s.change.is_some() && !s.done)
            .map(|(id, s)| (id, s.container.as_str()))
            .collect();
        assert!(
            pending.iter().all(|(id, _)| *id != PhaseId::RollBrokers),
            "Roll 1 is behind this cluster: {pending:?}"
        );
        let bump: Vec<&str> = pending
            .iter()
            .filter(|(id, _)| *id == PhaseId::BumpIbp)
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(bump, ["lab-kafka-02", "lab-kafka-05", "lab-kafka-03"]);
        // Whatever a step is marked, none may ask a broker for an IBP below 3.7 any more.
        for s in p.phases.iter().flat_map(|ph| &ph.steps) {
            let ibp = s.change.as_ref().and_then(|c| c.env.set.get(IBP_ENV));
            assert!(
                ibp.is_none_or(|v| v == "3.7"),
                "{} asks for IBP {ibp:?} after the point of no return",
                s.id
            );
        }
        assert!(
            render(&p, "lab").contains("point of no return is behind"),
            "{}",
            render(&p, "lab")
        );
    }
}
