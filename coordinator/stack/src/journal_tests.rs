//! Golden tests on the journal's stack file (`testdata/journal-stack.yml`, copied
//! byte for byte from the user's upgrade journal).

use std::collections::BTreeMap;

use crate::{Edit, EnvEdit, StackFile, unified_diff};

const JOURNAL: &str = include_str!("../testdata/journal-stack.yml");

fn journal() -> StackFile {
    StackFile::parse(JOURNAL, "journal-stack.yml").expect("the journal's file parses")
}

fn names(prefix: &str) -> Vec<String> {
    (1..=5).map(|i| format!("{prefix}-0{i}")).collect()
}

#[test]
fn print() {
    let file = journal();
    for spec in file.specs() {
        println!("{spec:#?}");
    }
    let roll1 = file
        .edit(&[
            Edit::Image {
                services: names("kafka"),
                image: "${CI_REGISTRY_IMAGE}/kafka:7.7.1".into(),
            },
            Edit::Env {
                services: names("kafka"),
                edit: EnvEdit {
                    set: BTreeMap::from([(
                        "KAFKA_INTER_BROKER_PROTOCOL_VERSION".into(),
                        "3.1".into(),
                    )]),
                    ..Default::default()
                },
            },
        ])
        .expect("roll 1");
    println!("{}", unified_diff(file.text(), roll1.text(), "a", "b"));
}
