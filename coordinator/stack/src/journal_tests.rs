//! Golden tests on the journal's stack file (`testdata/journal-stack.yml`, copied
//! byte for byte from the user's upgrade journal): the upgrade's three edits, each
//! asserted as an exact diff (`testdata/*.diff`) and as the effective environment
//! of every service.
//!
//! `KROLL_STACK_BLESS=1 cargo test -p kroll-stack` rewrites the golden diffs;
//! review them before committing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kroll_migrate::{EnvTarget, migrate_connect_env};

use crate::edit::{apply_patch, env_values};
use crate::test_support::{JOURNAL, journal, set};
use crate::{Edit, EnvPatch, StackFile, unified_diff};

const IMAGE_7_7: &str = "${CI_REGISTRY_IMAGE}/kafka:7.7.1";
const IBP: &str = "KAFKA_INTER_BROKER_PROTOCOL_VERSION";

type Env = BTreeMap<String, Option<String>>;

fn names(prefix: &str) -> Vec<String> {
    (1..=5).map(|i| format!("{prefix}-0{i}")).collect()
}

fn envs(file: &StackFile) -> BTreeMap<String, Env> {
    file.specs()
        .iter()
        .map(|spec| (spec.name.clone(), env_values(spec)))
        .collect()
}

/// Asserts that every service's environment after an edit is its environment
/// before, changed by `change` (which gets the service name).
fn assert_envs(before: &StackFile, after: &StackFile, change: impl Fn(&str, &mut Env)) {
    let after = envs(after);
    for (service, env) in envs(before) {
        let mut want = env;
        change(&service, &mut want);
        assert_eq!(after[&service], want, "{service}");
    }
}

/// Compares `diff` with the golden file `name` (or rewrites it when blessing).
fn assert_golden(name: &str, diff: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name);
    if std::env::var_os("KROLL_STACK_BLESS").is_some() {
        std::fs::write(&path, diff).expect("write golden file");
    }
    let golden =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    assert_eq!(diff, golden, "{name} differs from the golden diff");
}

/// Roll 1: the brokers move to the new image with the IBP pinned.
fn roll_one(file: &StackFile) -> StackFile {
    file.edit(&[
        Edit::Image {
            services: names("kafka"),
            image: IMAGE_7_7.into(),
        },
        Edit::Env {
            services: names("kafka"),
            patch: set(&[(IBP, "3.1")]),
        },
    ])
    .expect("roll 1 edit")
}

/// The Connect worker rewrite, computed by kroll-migrate from each worker's env.
fn connect_edit(file: &StackFile) -> EnvPatch {
    let mut patches = Vec::new();
    for name in names("connect") {
        let env = env_values(file.service(&name).expect("connect service"))
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        let migration = migrate_connect_env(&env, EnvTarget::default()).expect("complete env");
        patches.push(migration.patch);
    }
    assert!(
        patches.windows(2).all(|w| w[0] == w[1]),
        "every worker gets the same rewrite"
    );
    patches.swap_remove(0)
}

#[test]
fn the_journal_file_round_trips_byte_identical_when_unedited() {
    let file = journal();
    assert_eq!(file.text(), JOURNAL);
    // Edits that change nothing leave every byte as it was.
    let unchanged = file
        .edit(&[
            Edit::Env {
                services: names("kafka"),
                patch: set(&[("KAFKA_JMX_PORT", "9101")]),
            },
            Edit::Env {
                services: vec!["kafka-01".into()],
                patch: set(&[("KAFKA_BROKER_ID", "1")]),
            },
            Edit::Image {
                services: vec!["schema-registry".into()],
                image: "${CI_REGISTRY_IMAGE}/schema-registry".into(),
            },
            Edit::Env {
                services: names("connect"),
                patch: EnvPatch::default(),
            },
        ])
        .expect("no-op edits");
    assert_eq!(unchanged.text(), JOURNAL);
    assert_eq!(unified_diff(JOURNAL, unchanged.text(), "a", "b"), "");
}

#[test]
fn effective_specs_resolve_anchors_merges_and_definitions() {
    let file = journal();
    assert_eq!(file.services().count(), 14);
    let kafka = file.service("kafka-01").expect("kafka-01");
    let image = kafka.image.as_ref().expect("image");
    assert_eq!(image.value, "${CI_REGISTRY_IMAGE}/kafka");
    assert_eq!(image.defined.anchor.as_deref(), Some("kafka-common"));
    assert_eq!(image.defined.line, 59);
    assert_eq!(kafka.constraints, ["node.hostname == rhodrylab-01"]);
    assert_eq!(kafka.environment.len(), 27);
    let zk = &kafka.environment["KAFKA_ZOOKEEPER_CONNECT"];
    assert_eq!(zk.value.as_deref(), Some("zookeeper-01:12181/kafka"));
    assert_eq!(
        (
            zk.defined.anchor.as_deref(),
            zk.defined.block.as_str(),
            zk.defined.line
        ),
        (Some("kafka-envs"), "x-kafka-envs", 20)
    );
    let id = &kafka.environment["KAFKA_BROKER_ID"];
    assert_eq!(id.value.as_deref(), Some("1"));
    assert_eq!(
        (
            id.defined.anchor.as_deref(),
            id.defined.block.as_str(),
            id.defined.line
        ),
        (None, "services.kafka-01.environment", 115)
    );
    // A plain scalar continued on the next line, and quoted values unquoted.
    assert_eq!(
        kafka.environment["KAFKA_OPTS"].value.as_deref(),
        Some("-Djava.security.auth.login.config=/run/secrets/KAFKA_JAAS")
    );
    assert_eq!(
        kafka.environment["ZOOKEEPER_SASL_ENABLED"].value.as_deref(),
        Some("false")
    );
    assert_eq!(
        kafka.environment["CONFLUENT_SUPPORT_CUSTOMER_ID"]
            .value
            .as_deref(),
        Some("anonymous")
    );
    // Two `<<:` keys in one service: both merge.
    let registry = file.service("schema-registry").expect("schema-registry");
    assert_eq!(registry.constraints, ["node.hostname==rhodrylab-01"]);
    assert_eq!(
        registry.image.as_ref().map(|i| i.defined.block.as_str()),
        Some("services.schema-registry")
    );
    let zookeeper = file.service("zookeeper-01").expect("zookeeper-01");
    assert_eq!(
        zookeeper.hostname.as_ref().map(|h| h.value.as_str()),
        Some("zookeeper-01")
    );
    assert_eq!(
        zookeeper.environment["ZOO_TICK_TIME"].value.as_deref(),
        Some("2000")
    );
    assert_eq!(zookeeper.stop_grace_period, None);
    let connect = file.service("connect-03").expect("connect-03");
    assert_eq!(
        connect.environment["HEAP_OPTS"].value.as_deref(),
        Some("-Xmx12G -Xms12G")
    );
    assert_eq!(
        connect.environment["ADVERTISED_HOST_NAME"].defined.block,
        "services.connect-03.environment"
    );
}

#[test]
fn roll_one_pins_the_ibp_in_the_anchor_and_moves_the_brokers_image() {
    let file = journal();
    let rolled = roll_one(&file);
    assert_golden(
        "roll1.diff",
        &unified_diff(file.text(), rolled.text(), "stack.yml", "stack.yml"),
    );
    assert_envs(&file, &rolled, |service, env| {
        if service.starts_with("kafka-") {
            env.insert(IBP.into(), Some("3.1".into()));
        }
    });
    for spec in rolled.specs() {
        let image = spec.image.as_ref().map(|i| i.value.as_str());
        let old = file
            .service(&spec.name)
            .and_then(|s| s.image.as_ref())
            .map(|i| i.value.as_str());
        let want = if spec.name.starts_with("kafka-") {
            Some(IMAGE_7_7)
        } else {
            old
        };
        assert_eq!(image, want, "{}", spec.name);
    }
}

#[test]
fn connect_rewrite_renames_in_the_anchor_and_in_each_worker() {
    let file = roll_one(&journal());
    let edit = connect_edit(&file);
    assert_eq!(edit.rename.len(), 12);
    let rewritten = file
        .edit(&[Edit::Env {
            services: names("connect"),
            patch: edit.clone(),
        }])
        .expect("connect rewrite");
    assert_golden(
        "connect-env.diff",
        &unified_diff(file.text(), rewritten.text(), "stack.yml", "stack.yml"),
    );
    assert_envs(&file, &rewritten, |service, env| {
        if service.starts_with("connect-") {
            *env = apply_patch(&edit, env);
        }
    });
    let connect = rewritten.service("connect-02").expect("connect-02");
    assert_eq!(
        connect.environment["CONNECT_GROUP_ID"]
            .defined
            .anchor
            .as_deref(),
        Some("connect-envs")
    );
    assert_eq!(
        connect.environment["CONNECT_REST_ADVERTISED_HOST_NAME"]
            .value
            .as_deref(),
        Some("connect-02")
    );
    assert_eq!(
        connect.environment["KAFKA_HEAP_OPTS"].value.as_deref(),
        Some("-Xmx12G -Xms12G")
    );
}

#[test]
fn ibp_bump_edits_the_pin_in_place_keeping_its_quotes() {
    let file = roll_one(&journal());
    let bumped = file
        .edit(&[Edit::Env {
            services: names("kafka"),
            patch: set(&[(IBP, "3.7")]),
        }])
        .expect("bump");
    assert_golden(
        "ibp-3.7.diff",
        &unified_diff(file.text(), bumped.text(), "stack.yml", "stack.yml"),
    );
    assert_envs(&file, &bumped, |service, env| {
        if service.starts_with("kafka-") {
            env.insert(IBP.into(), Some("3.7".into()));
        }
    });
}

#[test]
fn grace_period_is_raised_where_the_brokers_share_it() {
    let file = journal();
    let raised = file
        .edit(&[Edit::RaiseStopGracePeriod {
            services: names("kafka"),
            at_least: Duration::from_secs(120),
        }])
        .expect("raise");
    assert_golden(
        "grace-period.diff",
        &unified_diff(file.text(), raised.text(), "stack.yml", "stack.yml"),
    );
    for spec in raised.specs() {
        let period = spec.stop_grace_period.as_ref().map(|p| p.value.as_str());
        let want = spec.name.starts_with("kafka-").then_some("2m");
        assert_eq!(period, want, "{}", spec.name);
    }
    // Raising again to a shorter period changes nothing.
    let again = raised
        .edit(&[Edit::RaiseStopGracePeriod {
            services: names("kafka"),
            at_least: Duration::from_secs(60),
        }])
        .expect("no-op raise");
    assert_eq!(again.text(), raised.text());
}

#[test]
fn one_broker_alone_gets_an_override_in_its_own_environment() {
    let file = journal();
    let one = file
        .edit(&[
            Edit::Env {
                services: vec!["kafka-02".into()],
                patch: set(&[(IBP, "3.1"), ("KAFKA_JMX_PORT", "9102")]),
            },
            Edit::Image {
                services: vec!["kafka-02".into()],
                image: IMAGE_7_7.into(),
            },
        ])
        .expect("one broker");
    assert_golden(
        "one-broker.diff",
        &unified_diff(file.text(), one.text(), "stack.yml", "stack.yml"),
    );
    assert_envs(&file, &one, |service, env| {
        if service == "kafka-02" {
            env.insert(IBP.into(), Some("3.1".into()));
            env.insert("KAFKA_JMX_PORT".into(), Some("9102".into()));
        }
    });
}

#[test]
fn each_connect_worker_gets_its_own_hostname_after_its_merge() {
    let file = journal();
    let edits: Vec<Edit> = names("connect")
        .into_iter()
        .map(|name| Edit::Hostname {
            services: vec![name.clone()],
            hostname: name,
        })
        .collect();
    let named = file.edit(&edits).expect("hostnames");
    assert_golden(
        "connect-hostname.diff",
        &unified_diff(file.text(), named.text(), "stack.yml", "stack.yml"),
    );
    for name in names("connect") {
        let spec = named.service(&name).expect("connect service");
        assert_eq!(
            spec.hostname.as_ref().map(|h| h.value.as_str()),
            Some(name.as_str())
        );
    }
    assert_envs(&file, &named, |_, _| {});
}
