//! `kroll watch`'s remediation policy (the inventory's `[remediation]`): restart a JVM container
//! of a listed kind after a Java OutOfMemoryError, at most N times per container per hour,
//! through its agent — which checks the coordinator role and its allowlist and writes the
//! restart to its audit log under an operation id derived from the event, so two watchers (or a
//! replayed event) never restart a container twice for one OutOfMemoryError.
//!
//! The decisions are pure ([`Remediator::decide`]); the watch carries them out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kroll_shared::inventory::{Inventory, ServiceKind};
use kroll_shared::model::{Event, EventKind};
use kroll_shared::remediation::Remediation;
use serde::Serialize;

const HOUR_MS: i64 = 3_600_000;

/// What to do about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not an OutOfMemoryError of a listed kind, or one from before the last restart.
    Ignore,
    /// Restart `container` on `node` under `operation_id`.
    Restart {
        node: String,
        container: String,
        operation_id: String,
        reason: String,
    },
    /// Would restart, but the budget is spent: said once per event.
    Skip {
        node: String,
        container: String,
        reason: String,
    },
}

/// One remediation outcome, as `kroll watch` prints it (`--output json`: one object per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `restarting`, `restarted`, `failed` or `skipped`.
    pub remediation: &'static str,
    pub node: String,
    pub container: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operation_id: String,
    pub reason: String,
    pub time_unix_ms: i64,
}

/// The policy and what it has done so far.
#[derive(Debug)]
pub struct Remediator {
    policy: Remediation,
    /// Container → its kind, from the inventory.
    kinds: BTreeMap<String, ServiceKind>,
    /// Container → times of its automatic restarts (newest last).
    history: BTreeMap<String, VecDeque<i64>>,
    in_flight: BTreeSet<String>,
    /// Container → when its last automatic restart started it again.
    restarted_at: BTreeMap<String, i64>,
}

impl Remediator {
    /// The inventory's policy; `None` when it has no `[remediation]` section.
    pub fn from_inventory(inv: &Inventory) -> Option<Self> {
        let policy = inv.remediation.clone()?;
        let kinds = inv
            .services()
            .map(|p| (p.service.container.clone(), p.service.kind))
            .collect();
        Some(Self {
            policy,
            kinds,
            history: BTreeMap::new(),
            in_flight: BTreeSet::new(),
            restarted_at: BTreeMap::new(),
        })
    }

    /// The policy in one sentence, for the start of `kroll watch`.
    pub fn describe(&self) -> String {
        let kinds: Vec<&str> = self
            .policy
            .restart_on_oom
            .iter()
            .map(|k| k.as_str())
            .collect();
        format!(
            "remediation on: restarting {} containers after a Java OutOfMemoryError, at most {} per container per hour",
            if kinds.is_empty() {
                "no".to_owned()
            } else {
                kinds.join(", ")
            },
            self.policy.max_per_hour
        )
    }

    /// The graceful stop time of a restart.
    pub fn stop_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.policy.stop_timeout_seconds))
    }

    /// Decides about `e`, seen at `now_ms`; a `Restart` is counted against the budget at once.
    pub fn decide(&mut self, e: &Event, now_ms: i64) -> Decision {
        let what = match &e.kind {
            EventKind::JavaOom { .. } => "a Java OutOfMemoryError",
            EventKind::JavaOomExit { .. } => "an exit on OutOfMemoryError",
            _ => return Decision::Ignore,
        };
        let container = &e.container_name;
        let Some(kind) = self.kinds.get(container) else {
            return Decision::Ignore;
        };
        if !self.policy.restart_on_oom.contains(kind) || self.in_flight.contains(container) {
            return Decision::Ignore;
        }
        if self
            .restarted_at
            .get(container)
            .is_some_and(|t| e.time_unix_ms <= *t)
        {
            return Decision::Ignore;
        }
        let history = self.history.entry(container.clone()).or_default();
        while history.front().is_some_and(|t| now_ms - t >= HOUR_MS) {
            history.pop_front();
        }
        let max = self.policy.max_per_hour as usize;
        if history.len() >= max {
            return Decision::Skip {
                node: e.node.clone(),
                container: container.clone(),
                reason: format!(
                    "{what} in {kind} container `{container}`, but it was restarted automatically {} time(s) in the last hour (max_per_hour = {max}): left for an operator",
                    history.len()
                ),
            };
        }
        history.push_back(now_ms);
        self.in_flight.insert(container.clone());
        Decision::Restart {
            node: e.node.clone(),
            container: container.clone(),
            operation_id: format!("remediate/{}/{container}/{}", e.node, e.time_unix_ms),
            reason: format!(
                "{what} in {kind} container `{container}` ({}/{max} this hour)",
                history.len()
            ),
        }
    }

    /// The restart of `container` finished: it runs again since `started_at_unix_ms`.
    pub fn restarted(&mut self, container: &str, started_at_unix_ms: i64) {
        self.in_flight.remove(container);
        self.restarted_at
            .insert(container.to_owned(), started_at_unix_ms);
    }

    /// The restart of `container` failed (it still counts against the budget).
    pub fn failed(&mut self, container: &str) {
        self.in_flight.remove(container);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(policy: &str) -> Inventory {
        let text = format!(
            "[cluster]\nname = \"t\"\n[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n{policy}\n[[nodes]]\nname = \"n1\"\nagent = \"127.0.0.1:1\"\nservices = [{{ kind = \"connect\", container = \"connect-01\" }}, {{ kind = \"schema-registry\", container = \"sr\" }}, {{ kind = \"broker\", container = \"kafka-01\", broker_id = 1 }}]\n"
        );
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("kroll.toml");
        std::fs::write(&p, text).expect("write");
        Inventory::load(&p).expect("inventory")
    }

    fn oom(container: &str, at: i64) -> Event {
        Event {
            seq: 1,
            node: "n1".into(),
            time_unix_ms: at,
            container_id: "id".into(),
            container_name: container.into(),
            kind: EventKind::JavaOom {
                line: "java.lang.OutOfMemoryError: Java heap space".into(),
                repeated: 1,
            },
        }
    }

    #[test]
    fn listed_kinds_are_restarted_within_the_budget_and_each_incident_once() {
        let mut r = Remediator::from_inventory(&inv(
            "[remediation]\nrestart_on_oom = [\"connect\"]\nmax_per_hour = 2",
        ))
        .expect("policy");
        let Decision::Restart { operation_id, .. } = r.decide(&oom("connect-01", 1_000), 1_000)
        else {
            panic!("restart")
        };
        assert_eq!(operation_id, "remediate/n1/connect-01/1000");
        // More lines of the same incident while the restart runs, or from before it: ignored.
        assert_eq!(r.decide(&oom("connect-01", 1_100), 1_100), Decision::Ignore);
        r.restarted("connect-01", 5_000);
        assert_eq!(r.decide(&oom("connect-01", 4_900), 5_100), Decision::Ignore);
        assert!(matches!(
            r.decide(&oom("connect-01", 9_000), 9_000),
            Decision::Restart { .. }
        ));
        r.restarted("connect-01", 12_000);
        let Decision::Skip { reason, .. } = r.decide(&oom("connect-01", 20_000), 20_000) else {
            panic!("budget spent")
        };
        assert!(reason.contains("2 time(s) in the last hour"), "{reason}");
        // An hour after the first restart, one restart is available again.
        assert!(matches!(
            r.decide(&oom("connect-01", HOUR_MS + 1_000), HOUR_MS + 1_000),
            Decision::Restart { .. }
        ));
        // Unlisted kinds, unknown containers and other events are never touched.
        assert_eq!(r.decide(&oom("sr", 30_000), 30_000), Decision::Ignore);
        assert_eq!(r.decide(&oom("stranger", 30_000), 30_000), Decision::Ignore);
        let mut started = oom("connect-01", HOUR_MS * 3);
        started.kind = EventKind::Started { image: "x".into() };
        assert_eq!(r.decide(&started, HOUR_MS * 3), Decision::Ignore);
    }

    #[test]
    fn brokers_and_zookeeper_cannot_be_listed_and_errors_name_the_key() {
        for (policy, says) in [
            (
                "restart_on_oom = [\"connect\", \"broker\"]",
                "restart_on_oom[1]",
            ),
            (
                "restart_on_oom = [\"zookeeper\"]",
                "never restarted automatically",
            ),
            (
                "restart_on_oom = [\"connect\"]\nmax_per_hour = 0",
                "max_per_hour",
            ),
            (
                "restart_on_oom = [\"connect\"]\nrestart_brokers = true",
                "restart_brokers",
            ),
        ] {
            let text = format!(
                "[cluster]\nname = \"t\"\n[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n[remediation]\n{policy}\n[[nodes]]\nname = \"n1\"\nagent = \"127.0.0.1:1\"\n"
            );
            let dir = tempfile::tempdir().expect("tmp");
            let p = dir.path().join("kroll.toml");
            std::fs::write(&p, text).expect("write");
            let err = Inventory::load(&p).expect_err(policy).to_string();
            assert!(
                err.contains(says) && err.contains("kroll.toml"),
                "{policy}: {err}"
            );
        }
    }
}
