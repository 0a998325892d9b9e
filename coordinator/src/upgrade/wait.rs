//! Waiting on gates: observations (full, or Kafka's only — milliseconds — for broker gates),
//! the recent Kafka observations a gate may count towards its consecutive passes, and the
//! polling loop around [`GatePoll`] (the stability window within a time limit).

use std::time::{Duration, Instant};

use super::actions::NodeActions;
use super::decide::Halt;
use super::engine::{ConnectPhases, Engine, Observe};
use super::gates::{Gate, GatePoll, Polled, Scope, Verdict};
use super::journal::Sample;
use super::view::{ClusterView, KafkaView};

/// How old an observation may be and still count towards a gate's consecutive passes.
const RECENT: Duration = Duration::from_secs(5);

impl<O: Observe, A: NodeActions, C: ConnectPhases> Engine<'_, O, A, C> {
    pub(crate) async fn observe(&self) -> ClusterView {
        let view = self.observer.observe().await;
        self.remember(view.kafka.as_ref());
        view
    }

    /// Records a Kafka observation (or a failed one, which breaks every chain of passes).
    fn remember(&self, kafka: Option<&KafkaView>) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        match kafka {
            Some(k) => {
                // The report's partition chart; a sample that cannot be written is only a
                // figure missing from a picture.
                let _ = self.run.append_sample(&Sample {
                    time_unix_ms: kroll_shared::time::now_unix_ms(),
                    partitions: k.partitions.len(),
                    under_replicated: k.under_replicated().count(),
                    offline: k.offline().count(),
                });
                recent.push((Instant::now(), k.clone()));
                let keep = self.settings.stable_observations as usize;
                let excess = recent.len().saturating_sub(keep);
                recent.drain(..excess);
            }
            None => recent.clear(),
        }
    }

    /// Forgets every observation: the cluster is about to change.
    pub(crate) fn forget_observations(&self) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.clear();
        }
    }

    /// Waits until `gate` passes on enough consecutive observations, within `limit`.
    /// Kafka-only gates start from `start` (the agents' part of the view); others observe
    /// everything at each poll.
    pub(crate) async fn wait_on(
        &mut self,
        gate: &Gate,
        limit: Duration,
        start: ClusterView,
    ) -> Result<(Duration, ClusterView), Halt> {
        let scope = gate.scope();
        let start = (scope == Scope::Kafka).then_some(start);
        self.wait_from(&gate.to_string(), limit, scope, start, |v| gate.verdict(v))
            .await
    }

    /// Waits until `check` passes on enough consecutive full observations, within `limit`.
    pub(crate) async fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        check: impl Fn(&ClusterView) -> Verdict,
    ) -> Result<(Duration, ClusterView), Halt> {
        self.wait_from(what, limit, Scope::Full, None, check).await
    }

    /// Polls `check` within `limit`, refreshing what `scope` says at each poll, starting from
    /// `start` (a view the caller just took; never judged as it is) or a fresh observation.
    /// Kafka-only gates count the observations taken since the last action (the previous
    /// gate's, the step's own): N consecutive passes are N consecutive passes, whichever wait
    /// took them; the pass that ends the wait is always a fresh one taken here.
    pub(crate) async fn wait_from(
        &mut self,
        what: &str,
        limit: Duration,
        scope: Scope,
        start: Option<ClusterView>,
        check: impl Fn(&ClusterView) -> Verdict,
    ) -> Result<(Duration, ClusterView), Halt> {
        let began = Instant::now();
        let mut poll = GatePoll::new(limit, self.settings.stable_observations);
        let seeds: Vec<KafkaView> = if scope == Scope::Kafka {
            self.recent
                .lock()
                .map(|r| {
                    r.iter()
                        .filter(|(at, _)| at.elapsed() <= RECENT)
                        .map(|(_, k)| k.clone())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut first = start.is_none();
        let mut view = match start {
            Some(v) => v,
            None => self.observe().await,
        };
        let mut seen = view.clone();
        for k in seeds {
            seen.kafka = Some(k);
            seen.kafka_error = None;
            poll.seed(&check(&seen));
        }
        loop {
            if !std::mem::take(&mut first) {
                self.refresh(&mut view, scope).await;
            }
            let v = check(&view);
            tracing::debug!(what, verdict = %v, "gate observed");
            let confirming = match poll.judge(&v, began.elapsed()) {
                Polled::Passed => return Ok((began.elapsed(), view)),
                Polled::Never(why) => {
                    return Err(Halt::new(
                        format!("{what}: can never pass: {why}"),
                        "nothing was stopped for this step; fix the cause and run `kroll upgrade --resume`",
                    ));
                }
                Polled::TimedOut(why) => {
                    return Err(Halt::new(
                        format!("{what} {why}"),
                        "fix the cause and run `kroll upgrade --resume`",
                    ));
                }
                Polled::Waiting { confirming } => confirming,
            };
            self.progress.waiting(what, &v, began.elapsed());
            // Once a check passes, its confirmations come at twice the pace: the wait for a
            // broker to catch up is polled calmly, the moment it has is noticed quickly.
            let pause = if confirming {
                self.settings.poll / 2
            } else {
                self.settings.poll
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Refreshes what `scope` says of `view`.
    async fn refresh(&mut self, view: &mut ClusterView, scope: Scope) {
        match scope {
            Scope::Full => *view = self.observe().await,
            Scope::Kafka => match self.observer.observe_kafka().await {
                Ok(k) => {
                    self.remember(Some(&k));
                    view.kafka = Some(k);
                    view.kafka_error = None;
                }
                Err(e) => {
                    self.remember(None);
                    view.kafka = None;
                    view.kafka_error = Some(e);
                }
            },
        }
    }
}
