//! Docker Swarm task containers, seen as the services they run (pure).
//!
//! A Swarm service's containers are its tasks, named `<stack>_<service>.<slot>.<task id>`: the
//! name changes with every update and restart, and exited tasks stay behind as history. An
//! operator — and the inventory — names the service (`<stack>_<service>`), so the agent reports
//! a task container under its service's name (label `com.docker.swarm.service.name`), and of a
//! service's containers on this node only the current one: the running one, else the newest.

use std::collections::BTreeMap;

use crate::runtime::Summary;

/// Label Swarm puts on every task container: the service's name.
pub const SERVICE_LABEL: &str = "com.docker.swarm.service.name";
/// Label Swarm puts on every task container: the task's id.
pub const TASK_LABEL: &str = "com.docker.swarm.task.id";

/// The name a container is reported under: its service's for a Swarm task (both labels set,
/// and named `<service>.<slot>.<task>` as Swarm names them — a plain container that merely
/// carries the labels keeps its own name), else its own.
pub fn display_name(name: &str, labels: &BTreeMap<String, String>) -> String {
    match labels.get(SERVICE_LABEL) {
        Some(service)
            if labels.contains_key(TASK_LABEL)
                && !service.is_empty()
                && name
                    .strip_prefix(service.as_str())
                    .is_some_and(|rest| rest.starts_with('.')) =>
        {
            service.clone()
        }
        _ => name.to_owned(),
    }
}

/// One listed container with what choosing a service's current task needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub summary: Summary,
    pub running: bool,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// Renames task containers to their service and keeps, per service, only the current task
/// (running first, then the newest); other containers pass unchanged, in order.
pub fn current(listed: Vec<Listed>) -> Vec<Summary> {
    let mut best: BTreeMap<String, (bool, i64, usize)> = BTreeMap::new();
    for (i, l) in listed.iter().enumerate() {
        let shown = display_name(&l.summary.name, &l.summary.labels);
        if shown == l.summary.name {
            continue;
        }
        let rank = (l.running, l.created, i);
        let slot = best.entry(shown).or_insert(rank);
        if (rank.0, rank.1) > (slot.0, slot.1) {
            *slot = rank;
        }
    }
    listed
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let shown = display_name(&l.summary.name, &l.summary.labels);
            if shown == l.summary.name {
                return Some(l.summary);
            }
            (best.get(&shown).map(|b| b.2) == Some(i)).then_some(Summary {
                name: shown,
                ..l.summary
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, service: &str, running: bool, created: i64) -> Listed {
        let labels = [
            (SERVICE_LABEL.to_owned(), service.to_owned()),
            (TASK_LABEL.to_owned(), format!("t{created}")),
        ]
        .into_iter()
        .collect();
        Listed {
            summary: Summary {
                id: format!("id-{name}"),
                name: name.to_owned(),
                labels,
            },
            running,
            created,
        }
    }

    fn plain(name: &str) -> Listed {
        Listed {
            summary: Summary {
                id: format!("id-{name}"),
                name: name.to_owned(),
                labels: BTreeMap::new(),
            },
            running: true,
            created: 0,
        }
    }

    #[test]
    fn a_service_is_its_current_task_under_the_services_name() {
        type Case = (Vec<Listed>, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            // One running task among exited history: the running one, however old.
            (
                vec![
                    task("lab_kafka-01.1.aaa", "lab_kafka-01", false, 30),
                    task("lab_kafka-01.1.bbb", "lab_kafka-01", true, 20),
                    task("lab_kafka-01.1.ccc", "lab_kafka-01", false, 10),
                ],
                vec![("lab_kafka-01", "id-lab_kafka-01.1.bbb")],
            ),
            // Nothing running (between stop and start): the newest.
            (
                vec![
                    task("s_zk.1.old", "s_zk", false, 1),
                    task("s_zk.1.new", "s_zk", false, 2),
                ],
                vec![("s_zk", "id-s_zk.1.new")],
            ),
            // Plain containers pass unchanged; two services stay two.
            (
                vec![
                    plain("kafdrop"),
                    task("s_a.1.x", "s_a", true, 1),
                    task("s_b.1.y", "s_b", true, 1),
                ],
                vec![
                    ("kafdrop", "id-kafdrop"),
                    ("s_a", "id-s_a.1.x"),
                    ("s_b", "id-s_b.1.y"),
                ],
            ),
        ];
        for (input, want) in cases {
            let got: Vec<(String, String)> =
                current(input).into_iter().map(|s| (s.name, s.id)).collect();
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn only_a_container_named_like_its_task_is_seen_as_the_service() {
        let service_only: BTreeMap<String, String> =
            [(SERVICE_LABEL.to_owned(), "lab_kafka-01".to_owned())]
                .into_iter()
                .collect();
        let mut both = service_only.clone();
        both.insert(TASK_LABEL.to_owned(), "t".to_owned());
        let cases = [
            ("lab_kafka-01.1.x", &service_only, "lab_kafka-01.1.x"),
            ("lab_kafka-01.1.x", &both, "lab_kafka-01"),
            // A plain container carrying forged labels keeps its own name.
            ("rogue", &both, "rogue"),
            ("lab_kafka-01x.1.x", &both, "lab_kafka-01x.1.x"),
        ];
        for (name, labels, want) in cases {
            assert_eq!(display_name(name, labels), want, "{name}");
        }
    }
}
