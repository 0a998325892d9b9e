//! What to do at start-up about an action the agent died in the middle of (pure).
//!
//! The audit log says an operation began and never ended. Recovery brings it to a known end
//! and records that end; it never changes a container's definition on its own:
//!
//! - a **restart** touches only its own container: a stopped one is started again (on the
//!   definition it had), a running one is left alone. A kept `-kroll-prev` of an earlier
//!   recreate is never used.
//! - a **recreate** is finished only when its new container is in place and running; otherwise
//!   everything it did is undone with what *it* kept (the previous container is renamed back,
//!   its restart policy restored, started). A kept container of an earlier recreate is never
//!   restored by the recovery of a later operation.
//! - a **rollback** leaves the container under the name running: the previous definition when
//!   the rollback had already removed the current one, else the current one.
//!
//! Before deciding, the executor waits for a stop Docker may still be carrying out for the dead
//! agent (its `kill` seen without a `die` yet), until the stop's own deadline.

use crate::kept::Kept;

/// An operation the audit log says began but never ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub operation_id: String,
    /// `restart`, `recreate` or `rollback`.
    pub action: String,
    /// The service's container name.
    pub container: String,
    pub began_unix_ms: i64,
    /// When a stop the action asked for is over at the latest (its timeout plus Docker's
    /// grace); 0 when unknown.
    pub stop_deadline_unix_ms: i64,
}

/// One container as recovery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: String,
    pub running: bool,
    pub started_at_unix_ms: i64,
}

/// The containers of a service: under its name, kept, created-not-placed; and the record of
/// what is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scene {
    pub current: Option<Found>,
    pub kept: Option<Found>,
    pub next: Option<Found>,
    pub record: Option<Kept>,
}

/// One repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Remove `<name>-kroll-next` (created by the interrupted recreate, never started).
    RemoveNext,
    /// Remove the container under the name (a new one that never came up); volumes stay.
    RemoveCurrent,
    /// Rename `<name>-kroll-prev` back to `<name>`.
    KeptBack,
    /// Give container `id` back the restart policy the record remembers, and forget the record.
    RestorePolicy { id: String },
    /// Start container `id`.
    Start { id: String },
}

/// What recovery does and how the outcome reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub fixes: Vec<Fix>,
    pub outcome: String,
}

fn plan(fixes: Vec<Fix>, outcome: impl Into<String>) -> Plan {
    Plan {
        fixes,
        outcome: outcome.into(),
    }
}

/// Decides the repairs of `what` from the `scene` observed after any pending stop finished.
/// `Err` says why nothing can be done (nothing under the name and nothing kept).
pub fn decide(what: &Interrupted, s: &Scene) -> Result<Plan, String> {
    let name = what.container.as_str();
    match what.action.as_str() {
        "restart" => restart(name, what.began_unix_ms, s),
        "recreate" => recreate(name, &what.operation_id, s),
        "rollback" => rollback(name, s),
        other => Err(format!("unknown action `{other}`; nothing done")),
    }
}

fn restart(name: &str, began: i64, s: &Scene) -> Result<Plan, String> {
    match &s.current {
        None => Err(format!("`{name}` no longer exists; nothing done")),
        Some(c) if c.running && c.started_at_unix_ms >= began => Ok(plan(
            vec![],
            format!("the restart had completed: `{name}` runs since it"),
        )),
        Some(c) if c.running => Ok(plan(
            vec![],
            format!("the restart never stopped `{name}`: it runs as before"),
        )),
        Some(c) => Ok(plan(
            vec![Fix::Start { id: c.id.clone() }],
            format!(
                "`{name}` had been stopped by the restart; started again on the definition it had"
            ),
        )),
    }
}

fn recreate(name: &str, op: &str, s: &Scene) -> Result<Plan, String> {
    let mut fixes = Vec::new();
    if s.next.is_some() {
        fixes.push(Fix::RemoveNext);
    }
    let ours = s
        .record
        .as_ref()
        .filter(|r| !op.is_empty() && r.operation_id == op);
    let Some(record) = ours else {
        // Killed before the old container was kept: it is still under its name.
        return match &s.current {
            None => Err(format!("`{name}` no longer exists; nothing done")),
            Some(c) if c.running => Ok(plan(
                fixes,
                format!("the recreate never stopped `{name}`: it runs as before"),
            )),
            Some(c) => {
                fixes.push(Fix::Start { id: c.id.clone() });
                Ok(plan(
                    fixes,
                    format!(
                        "`{name}` had been stopped for a recreate that never happened; started again on the definition it had"
                    ),
                ))
            }
        };
    };
    let old = record.container_id.as_str();
    match (&s.current, &s.kept) {
        (Some(c), _) if c.id == old => {
            fixes.push(Fix::RestorePolicy { id: c.id.clone() });
            fixes.push(Fix::Start { id: c.id.clone() });
            Ok(plan(
                fixes,
                format!(
                    "the recreate never replaced `{name}`; started again on the definition it had"
                ),
            ))
        }
        (Some(c), _) if c.running => Ok(plan(
            fixes,
            format!(
                "the recreate had completed: the new `{name}` runs (its previous definition is kept)"
            ),
        )),
        (current, Some(k)) if k.id == old => {
            if current.is_some() {
                fixes.push(Fix::RemoveCurrent);
            }
            fixes.push(Fix::KeptBack);
            fixes.push(Fix::RestorePolicy { id: k.id.clone() });
            fixes.push(Fix::Start { id: k.id.clone() });
            Ok(plan(
                fixes,
                format!(
                    "the new `{name}` never came up; the previous container was put back under its name and started"
                ),
            ))
        }
        (Some(c), _) => {
            fixes.push(Fix::Start { id: c.id.clone() });
            Ok(plan(
                fixes,
                format!("the previous container of `{name}` is gone; the new one was started"),
            ))
        }
        (None, _) => Err(format!(
            "neither `{name}` nor the container the recreate kept exists; nothing done"
        )),
    }
}

fn rollback(name: &str, s: &Scene) -> Result<Plan, String> {
    let kept_id = s.record.as_ref().map(|r| r.container_id.as_str());
    match (&s.current, &s.kept) {
        (Some(c), _) if c.running => Ok(plan(
            vec![],
            format!("`{name}` runs; the rollback changed nothing more"),
        )),
        (Some(c), _) => {
            let mut fixes = Vec::new();
            if kept_id == Some(c.id.as_str()) {
                fixes.push(Fix::RestorePolicy { id: c.id.clone() });
            }
            fixes.push(Fix::Start { id: c.id.clone() });
            Ok(plan(
                fixes,
                format!("`{name}` had been stopped by the rollback; started again"),
            ))
        }
        (None, Some(k)) => Ok(plan(
            vec![
                Fix::KeptBack,
                Fix::RestorePolicy { id: k.id.clone() },
                Fix::Start { id: k.id.clone() },
            ],
            format!(
                "the rollback had removed the current `{name}`; its previous definition was put back under the name and started"
            ),
        )),
        (None, None) => Err(format!(
            "neither `{name}` nor a kept previous definition exists; nothing done"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGAN: i64 = 1_000;

    fn run(id: &str, started: i64) -> Option<Found> {
        Some(Found {
            id: id.into(),
            running: true,
            started_at_unix_ms: started,
        })
    }

    fn stopped(id: &str) -> Option<Found> {
        Some(Found {
            id: id.into(),
            running: false,
            started_at_unix_ms: 10,
        })
    }

    fn record(op: &str, id: &str) -> Option<Kept> {
        Some(Kept {
            restart_policy: "unless-stopped".into(),
            maximum_retry_count: None,
            operation_id: op.into(),
            container_id: id.into(),
        })
    }

    fn what(action: &str) -> Interrupted {
        Interrupted {
            operation_id: "op".into(),
            action: action.into(),
            container: "kafka-01".into(),
            began_unix_ms: BEGAN,
            stop_deadline_unix_ms: BEGAN + 5_000,
        }
    }

    fn fixes(action: &str, s: Scene) -> Vec<Fix> {
        decide(&what(action), &s).expect("a plan").fixes
    }

    fn start(id: &str) -> Fix {
        Fix::Start { id: id.into() }
    }

    fn policy(id: &str) -> Fix {
        Fix::RestorePolicy { id: id.into() }
    }

    #[test]
    fn an_interrupted_restart_touches_only_its_own_container_never_a_kept_one() {
        // Each row: current, kept (an earlier recreate's), record → fixes.
        let rows: Vec<(Scene, Vec<Fix>)> = vec![
            // Killed while Docker stopped it; the stop finished: start it, ignore the kept one.
            (
                Scene {
                    current: stopped("new"),
                    kept: stopped("old"),
                    record: record("earlier", "old"),
                    ..Scene::default()
                },
                vec![start("new")],
            ),
            // Killed after the start: nothing to do.
            (
                Scene {
                    current: run("new", BEGAN + 10),
                    kept: stopped("old"),
                    ..Scene::default()
                },
                vec![],
            ),
            // Killed before the stop reached Docker: nothing to do.
            (
                Scene {
                    current: run("new", 5),
                    ..Scene::default()
                },
                vec![],
            ),
        ];
        for (scene, want) in rows {
            assert_eq!(fixes("restart", scene.clone()), want, "{scene:?}");
        }
        assert!(
            decide(&what("restart"), &Scene::default()).is_err(),
            "nothing to act on"
        );
    }

    #[test]
    fn an_interrupted_recreate_is_finished_only_when_its_new_container_runs_else_undone() {
        let rows: Vec<(&str, Scene, Vec<Fix>)> = vec![
            (
                "killed before keeping anything, old still stopping then stopped",
                Scene {
                    current: stopped("old"),
                    kept: stopped("older"),
                    next: stopped("next"),
                    record: record("earlier", "older"),
                },
                vec![Fix::RemoveNext, start("old")],
            ),
            (
                "killed before keeping anything, old still runs",
                Scene {
                    current: run("old", 5),
                    next: stopped("next"),
                    ..Scene::default()
                },
                vec![Fix::RemoveNext],
            ),
            (
                "recorded but not yet renamed",
                Scene {
                    current: stopped("old"),
                    next: stopped("next"),
                    record: record("op", "old"),
                    ..Scene::default()
                },
                vec![Fix::RemoveNext, policy("old"), start("old")],
            ),
            (
                "renamed, new not yet in place",
                Scene {
                    kept: stopped("old"),
                    next: stopped("next"),
                    record: record("op", "old"),
                    ..Scene::default()
                },
                vec![Fix::RemoveNext, Fix::KeptBack, policy("old"), start("old")],
            ),
            (
                "new in place, never started",
                Scene {
                    current: stopped("new"),
                    kept: stopped("old"),
                    record: record("op", "old"),
                    ..Scene::default()
                },
                vec![
                    Fix::RemoveCurrent,
                    Fix::KeptBack,
                    policy("old"),
                    start("old"),
                ],
            ),
            (
                "new in place and running: done as asked",
                Scene {
                    current: run("new", BEGAN + 1),
                    kept: stopped("old"),
                    record: record("op", "old"),
                    ..Scene::default()
                },
                vec![],
            ),
        ];
        for (why, scene, want) in rows {
            assert_eq!(fixes("recreate", scene), want, "{why}");
        }
    }

    #[test]
    fn an_interrupted_rollback_leaves_a_container_running_under_the_name() {
        let rows: Vec<(Scene, Vec<Fix>)> = vec![
            (
                Scene {
                    current: run("new", 5),
                    kept: stopped("old"),
                    ..Scene::default()
                },
                vec![],
            ),
            (
                Scene {
                    current: stopped("new"),
                    kept: stopped("old"),
                    record: record("r", "old"),
                    ..Scene::default()
                },
                vec![start("new")],
            ),
            (
                Scene {
                    kept: stopped("old"),
                    record: record("r", "old"),
                    ..Scene::default()
                },
                vec![Fix::KeptBack, policy("old"), start("old")],
            ),
            (
                Scene {
                    current: stopped("old"),
                    record: record("r", "old"),
                    ..Scene::default()
                },
                vec![policy("old"), start("old")],
            ),
        ];
        for (scene, want) in rows {
            assert_eq!(fixes("rollback", scene.clone()), want, "{scene:?}");
        }
    }
}
