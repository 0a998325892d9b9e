//! Handing migrated connectors their new configuration for real. Connect's tasks do not run
//! the connector config: they run *task configurations* the connector generates from it, and
//! only while it runs. A config changed while the connector is paused (the upgrade migrates
//! paused connectors) therefore leaves the tasks on the old one, and a plain resume starts them
//! on it first — a Debezium 1.9 config on a 3.0 worker, failing — before the connector
//! regenerates them.
//!
//! So before resuming, every migrated connector whose task configurations are not the migrated
//! ones is stopped (Kafka 3.5+, KIP-875: stopping empties its task configurations), and kroll
//! waits until none is left on the old config; after resuming, its tasks count as running only
//! once `GET /connectors/{n}/tasks` carries the migrated config. [`judge`] is the pure part.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use kroll_migrate::Config;
use serde::{Deserialize, Serialize};

use crate::connect::api::{ConnectApi, lowest_version};
use crate::connect::migrate::{MIGRATION_FILE, MigrationPlan};
use crate::connect::types::TaskConfig;
use crate::files::{FileError, read_json_if_present};
use crate::progress::Progress;
use crate::rest::RestError;

/// A connector kroll migrated: the config it replaced and the one it applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migrated {
    pub name: String,
    pub before: Config,
    pub after: Config,
}

impl Migrated {
    /// The keys the migration changed, added or removed.
    pub fn changed_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .before
            .keys()
            .chain(self.after.keys())
            .map(String::as_str)
            .filter(|k| self.before.get(*k) != self.after.get(*k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// The connectors the run's applied migration plan (`migration.json`) changed.
pub fn load_migrated(dir: &Path) -> Result<Vec<Migrated>, FileError> {
    let path = dir.join(MIGRATION_FILE);
    let Some(plan) =
        read_json_if_present::<MigrationPlan>(&path, |e| format!("not a migration plan: {e}"))?
    else {
        return Ok(Vec::new());
    };
    Ok(plan
        .to_apply()
        .map(|c| Migrated {
            name: c.name.clone(),
            before: c.before.clone(),
            after: c.migration.config.clone(),
        })
        .collect())
}

/// Where a migrated connector's task configurations stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskConfigs {
    /// Every task carries the migrated config.
    Migrated,
    /// No task configurations (stopped): a resume generates them from the migrated config.
    Empty,
    /// A task carries something else on these keys (the old config, or a newer change).
    Stale { task: i32, keys: Vec<String> },
}

/// Whether `tasks` carry `m`'s migrated config: every key the migration changed has its
/// migrated value (or is absent where the migration removed it) in every task. Keys the
/// migration did not touch, and what the worker adds (`task.class`), are not compared.
pub fn judge(m: &Migrated, tasks: &[TaskConfig]) -> TaskConfigs {
    if tasks.is_empty() {
        return TaskConfigs::Empty;
    }
    let changed = m.changed_keys();
    for t in tasks {
        let keys: Vec<String> = changed
            .iter()
            .filter(|k| t.config.get(**k) != m.after.get(**k))
            .map(|k| (*k).to_owned())
            .collect();
        if !keys.is_empty() {
            return TaskConfigs::Stale {
                task: t.id.task,
                keys,
            };
        }
    }
    TaskConfigs::Migrated
}

/// Why the migrated configs could not be handed to the tasks.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The workers cannot stop connectors (Kafka < 3.5), so the old task configs cannot be
    /// cleared before a resume.
    #[error(
        "connector {connector}: its tasks still carry the config from before the migration (task {task}: {keys}) and the workers cannot stop connectors (Kafka < 3.5) to clear them; nothing was resumed. Upgrade the Connect workers first, then run `kroll upgrade --resume`"
    )]
    StopUnsupported {
        connector: String,
        task: i32,
        keys: String,
    },
    /// Task configurations did not reach the expected state in time.
    #[error("{}", describe_stale(.timeout, .connectors, .resumed))]
    Stale {
        timeout: Duration,
        /// `(connector, task, keys)`.
        connectors: Vec<(String, i32, Vec<String>)>,
        /// Whether the connectors had been resumed already.
        resumed: bool,
    },
}

fn describe_stale(
    timeout: &Duration,
    connectors: &[(String, i32, Vec<String>)],
    resumed: &bool,
) -> String {
    let mut out = if *resumed {
        format!(
            "the tasks of migrated connector(s) do not carry the migrated config {timeout:?} after resume:"
        )
    } else {
        format!(
            "the old task configurations of migrated connector(s) were not cleared within {timeout:?} of stopping them; nothing was resumed:"
        )
    };
    for (name, task, keys) in connectors {
        let _ = write!(out, "\n  {name} task {task}: {}", keys.join(", "));
    }
    out.push_str("\nCheck with GET /connectors/{name}/tasks, then run `kroll upgrade --resume`.");
    out
}

/// Before resuming: stops every migrated connector (of `names`, the ones kroll will resume)
/// whose tasks still carry another config, and waits until none does. Returns the connectors
/// it stopped.
pub async fn clear_stale_tasks(
    connect: &impl ConnectApi,
    migrated: &[&Migrated],
    timeout: Duration,
    poll: Duration,
    progress: Progress<'_>,
) -> Result<Vec<String>, HandoverError> {
    let mut stopped = Vec::new();
    for m in migrated {
        let TaskConfigs::Stale { task, keys } = judge(m, &connect.tasks(&m.name).await?) else {
            continue;
        };
        let (lowest, _) = lowest_version(&connect.workers().await);
        if !lowest.is_some_and(|v| v.supports_stop()) {
            return Err(HandoverError::StopUnsupported {
                connector: m.name.clone(),
                task,
                keys: keys.join(", "),
            });
        }
        connect.stop(&m.name).await?;
        progress(&format!(
            "Stopped {} so that its tasks start on the migrated config (they still carried the old one).",
            m.name
        ));
        stopped.push(m.name.clone());
    }
    wait_task_configs(connect, migrated, false, timeout, poll).await?;
    Ok(stopped)
}

/// Waits until every connector of `migrated` has task configurations and they carry its
/// migrated config (`resumed`), or until none carries anything else (before resuming).
pub async fn wait_task_configs(
    connect: &impl ConnectApi,
    migrated: &[&Migrated],
    resumed: bool,
    timeout: Duration,
    poll: Duration,
) -> Result<(), HandoverError> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut waiting = Vec::new();
        for m in migrated {
            match judge(m, &connect.tasks(&m.name).await?) {
                TaskConfigs::Migrated => {}
                TaskConfigs::Empty if !resumed => {}
                TaskConfigs::Empty => waiting.push((
                    m.name.clone(),
                    -1,
                    vec!["no task configurations yet".to_owned()],
                )),
                TaskConfigs::Stale { task, keys } => waiting.push((m.name.clone(), task, keys)),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(HandoverError::Stale {
                timeout,
                connectors: waiting,
                resumed,
            });
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::fake::config;
    use crate::connect::types::TaskId;

    fn task(i: i32, pairs: &[(&str, &str)]) -> TaskConfig {
        TaskConfig {
            id: TaskId {
                connector: "c".into(),
                task: i,
            },
            config: config(pairs),
        }
    }

    fn migrated() -> Migrated {
        Migrated {
            name: "c".into(),
            before: config(&[
                ("database.server.name", "p"),
                ("tasks.max", "1"),
                ("acks", "all"),
            ]),
            after: config(&[
                ("topic.prefix", "p"),
                ("tasks.max", "1"),
                ("schema.name.adjustment.mode", "avro"),
            ]),
        }
    }

    #[test]
    fn task_configs_are_judged_on_the_keys_the_migration_changed() {
        let m = migrated();
        assert_eq!(
            m.changed_keys(),
            [
                "acks",
                "database.server.name",
                "schema.name.adjustment.mode",
                "topic.prefix"
            ]
        );
        let new = [
            ("topic.prefix", "p"),
            ("tasks.max", "1"),
            ("schema.name.adjustment.mode", "avro"),
            ("task.class", "X"),
        ];
        let old = [
            ("database.server.name", "p"),
            ("tasks.max", "1"),
            ("acks", "all"),
            ("task.class", "X"),
        ];
        let every_changed_key: Vec<String> =
            m.changed_keys().into_iter().map(String::from).collect();
        let cases: Vec<(&str, Vec<TaskConfig>, TaskConfigs)> = vec![
            ("stopped: none", vec![], TaskConfigs::Empty),
            (
                "regenerated (task.class added)",
                vec![task(0, &new)],
                TaskConfigs::Migrated,
            ),
            (
                "untouched keys may differ",
                vec![task(
                    0,
                    &[
                        ("topic.prefix", "p"),
                        ("schema.name.adjustment.mode", "avro"),
                        ("tasks.max", "3"),
                    ],
                )],
                TaskConfigs::Migrated,
            ),
            (
                "paused through the change: the old config",
                vec![task(0, &old)],
                TaskConfigs::Stale {
                    task: 0,
                    keys: every_changed_key.clone(),
                },
            ),
            (
                "one of two tasks still old",
                vec![task(0, &new), task(1, &old)],
                TaskConfigs::Stale {
                    task: 1,
                    keys: every_changed_key.clone(),
                },
            ),
            (
                "a removed key still present",
                vec![task(
                    0,
                    &[
                        ("topic.prefix", "p"),
                        ("schema.name.adjustment.mode", "avro"),
                        ("acks", "all"),
                    ],
                )],
                TaskConfigs::Stale {
                    task: 0,
                    keys: vec!["acks".into()],
                },
            ),
        ];
        for (what, tasks, expected) in cases {
            assert_eq!(judge(&m, &tasks), expected, "{what}");
        }
    }
}
