//! kroll's reading of stack files checked against the real Docker CLI:
//! `docker stack config` loads a file exactly as `docker stack deploy` does
//! (merges, typing, interpolation) and prints the result, offline — no daemon,
//! no swarm. The CLI on this machine (28.2) reads with go-yaml v3.
//!
//! These tests need a Docker CLI with `docker stack config` (24.0 or later) on
//! `PATH`; without one they fail saying so.

use std::collections::BTreeMap;
use std::process::Command;

use crate::edit::env_values;
use crate::test_support::{JOURNAL, journal_vars as vars, set};
use crate::{CliYaml, Edit, ErrorKind, ResolvedService, StackFile, parse_duration};

/// `docker stack config` of `text` with exactly `vars` in its environment.
fn docker_stack_config(text: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("stack.yml");
    std::fs::write(&path, text).expect("write stack file");
    let output = Command::new("docker")
        .args(["stack", "config", "-c"])
        .arg(&path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .envs(vars())
        .output()
        .unwrap_or_else(|err| {
            panic!("this test needs the Docker CLI (docker stack config) on PATH: {err}")
        });
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("unknown command") && !stderr.contains("is not a docker command"),
        "this test needs a Docker CLI with `docker stack config` (24.0 or later): {stderr}"
    );
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).expect("UTF-8 output"))
    } else {
        Err(stderr)
    }
}

fn resolved(file: &StackFile) -> BTreeMap<String, ResolvedService> {
    file.services()
        .map(|name| {
            let service = file
                .resolve(name, &vars())
                .expect("service")
                .unwrap_or_else(|err| panic!("{err}"));
            (name.to_owned(), service)
        })
        .collect()
}

/// The services of the CLI's output, taken as they stand: it is already
/// interpolated, so substituting again would read `$$x` twice.
fn printed(file: &StackFile) -> BTreeMap<String, ResolvedService> {
    file.specs()
        .iter()
        .map(|spec| {
            let service = ResolvedService {
                name: spec.name.clone(),
                image: spec.image.as_ref().map(|i| i.value.clone()),
                env: env_values(spec),
                hostname: spec.hostname.as_ref().map(|h| h.value.clone()),
                stop_grace_period: spec
                    .stop_grace_period
                    .as_ref()
                    .and_then(|p| parse_duration(&p.value)),
            };
            (spec.name.clone(), service)
        })
        .collect()
}

/// Asserts that kroll reads `text` (for `reader`) as the CLI does.
fn assert_reads_like_docker(text: &str, reader: CliYaml) {
    let ours =
        StackFile::parse_with(text, "input.yml", reader).unwrap_or_else(|err| panic!("{err}"));
    let printed = docker_stack_config(text).unwrap_or_else(|err| panic!("docker refused: {err}"));
    let theirs = StackFile::parse_with(printed.as_str(), "docker-stack-config.yml", reader)
        .unwrap_or_else(|err| panic!("{err}\n{printed}"));
    assert_eq!(resolved(&ours), self::printed(&theirs), "{printed}");
    for spec in ours.specs() {
        let theirs = theirs.service(&spec.name).expect("service printed");
        assert_eq!(spec.constraints, theirs.constraints, "{}", spec.name);
    }
}

#[test]
fn values_merges_and_interpolation_read_as_docker_stack_config_does() {
    let text = "\
version: '3.7'
x-a: &a
  K: from-a
  A: a
x-b: &b
  K: from-b
  B: b
services:
  typed:
    image: ${CI_REGISTRY_IMAGE}/kafka
    hostname: typed-1
    stop_grace_period: 1m30s
    environment:
      <<: *a
      F1: 3.10
      F2: yes
      F3: 010
      F4: 0x1F
      F5: 1e21
      F6: ~
      F7:
      F8: 08
      F9: 1_000
      F10: 0.00001
      F11: on
      F12: \"quoted 3.10\"
      F13: 'it''s'
      FROM_SHELL:
      F14: -Djava.security.auth.login.config=/run/secrets/KAFKA_JAAS
      F15: $$literal
      F16: ${MAXIMUM_BYTES_ALLOWED_PER_MESSAGE}
  own-first:
    image: reg/x
    environment:
      K: own
      <<: [*b, *a]
  listed:
    image: reg/y:1.2
    deploy:
      placement:
        constraints: [node.hostname == rhodrylab-02]
    environment:
      - A=1
      - NOVALUE
      - FROM_SHELL
      - C=${BOOTSTRAP_SERVERS}
";
    assert_reads_like_docker(text, CliYaml::GoYamlV3);
}

#[test]
fn docker_refuses_the_journals_repeated_merge_keys_at_the_lines_kroll_names() {
    let docker = docker_stack_config(JOURNAL).expect_err("go-yaml v3 refuses a repeated <<");
    assert!(
        docker.contains("line 244: mapping key \"<<\" already defined at line 243"),
        "{docker}"
    );
    let ours = StackFile::parse_with(JOURNAL, "journal-stack.yml", CliYaml::GoYamlV3)
        .expect_err("refused");
    assert_eq!(
        (ours.line, &ours.kind),
        (244, &ErrorKind::DuplicateKey("<<".into()))
    );
}

/// The journal's file with each pair of `<<:` keys written as one list merge,
/// which both go-yaml v2 and v3 accept.
fn journal_with_list_merges() -> String {
    JOURNAL
        .replace(
            "    <<: *network\n    <<: *deploy-on-front\n",
            "    <<: [*network, *deploy-on-front]\n",
        )
        .replace(
            "    <<: *deploy-on-front\n    <<: *network\n",
            "    <<: [*deploy-on-front, *network]\n",
        )
}

#[test]
fn the_journals_upgrade_edits_read_as_docker_reads_them() {
    let text = journal_with_list_merges();
    for reader in [CliYaml::GoYamlV2, CliYaml::GoYamlV3] {
        assert_reads_like_docker(&text, reader);
    }
    let brokers: Vec<String> = (1..=5).map(|i| format!("kafka-0{i}")).collect();
    let file = StackFile::parse_with(text, "journal.yml", CliYaml::GoYamlV3).expect("parses");
    let edited = file
        .edit(&[
            Edit::Image {
                services: brokers.clone(),
                image: "${CI_REGISTRY_IMAGE}/kafka:7.7.1".into(),
            },
            Edit::Env {
                services: brokers.clone(),
                patch: set(&[("KAFKA_INTER_BROKER_PROTOCOL_VERSION", "3.1")]),
            },
            Edit::RaiseStopGracePeriod {
                services: brokers,
                at_least: std::time::Duration::from_secs(120),
            },
        ])
        .expect("roll 1 edits");
    assert_reads_like_docker(edited.text(), CliYaml::GoYamlV3);
    let printed = docker_stack_config(edited.text()).expect("docker reads the edited file");
    let theirs = StackFile::parse(printed, "printed.yml").expect("parses");
    let kafka = theirs
        .resolve("kafka-03", &vars())
        .expect("kafka-03")
        .expect("resolves");
    assert_eq!(
        kafka.image.as_deref(),
        Some("registry.example/bi/rhodry/kafka:7.7.1")
    );
    assert_eq!(
        kafka.env["KAFKA_INTER_BROKER_PROTOCOL_VERSION"].as_deref(),
        Some("3.1")
    );
    assert_eq!(
        kafka.stop_grace_period,
        Some(std::time::Duration::from_secs(120))
    );
}
