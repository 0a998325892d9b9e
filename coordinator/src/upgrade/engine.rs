//! The upgrade engine: carries out a plan one step at a time, re-deriving the cluster's state
//! from agents and Kafka before every decision (level-triggered), journaling intent and
//! outcome of every step, and halting — with an automatic rollback of the failed node before
//! the IBP bump — at the first failed gate.
//!
//! Per container step: skip when its desired state already holds (an interrupted run resumes
//! without restarting anything twice; a broker found catching up or in log recovery is waited
//! for, never restarted again) → gate before (brokers: [`gates::safe_to_stop`], several
//! consecutive healthy observations) → journal intent → recreate through [`NodeActions`] with a
//! deterministic operation id (a retried call is answered from the agent's record) → gate after
//! (brokers: [`gates::rejoined`] within a limit that scales with the partitions it hosts) →
//! journal done.

use std::time::{Duration, Instant};

use kroll_shared::inventory::{Inventory, ServiceKind};
use kroll_shared::tls::TlsMaterial;

use super::actions::NodeActions;
use super::gates::{self, Stability, Verdict};
use super::journal::{Event, RunDir};
use super::observe::{KafkaProbe, observe};
use super::plan::{Phase, PhaseId, Plan, PlanOptions, Step, plan};
use super::progress::{Progress, Report};
use super::view::{ClusterView, KafkaView};

/// Tunables of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// SIGTERM → SIGKILL for brokers (controlled shutdown needs time).
    pub broker_stop_timeout: Duration,
    /// SIGTERM → SIGKILL for other services.
    pub stop_timeout: Duration,
    /// Time limit of a gate after a start: base …
    pub gate_timeout: Duration,
    /// … plus this much per partition the broker hosts.
    pub gate_timeout_per_partition: Duration,
    /// Pause between observations while a gate waits.
    pub poll: Duration,
    /// Consecutive passing observations a gate needs.
    pub stable_observations: u32,
    /// Roll the failed node back automatically when a step fails before the IBP bump.
    pub auto_rollback: bool,
    /// Do not ask before the IBP bump.
    pub yes: bool,
    /// Let a broker stop although a partition would fall below min.insync.replicas.
    pub allow_min_isr_violation: bool,
    /// Free space a broker's data filesystem must keep, percent.
    pub min_free_disk_percent: f64,
    /// Connect's quiesce/resume are not performed (the operator did it, or there are no
    /// connectors to protect).
    pub skip_connect: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            broker_stop_timeout: Duration::from_secs(300),
            stop_timeout: Duration::from_secs(120),
            gate_timeout: Duration::from_secs(300),
            gate_timeout_per_partition: Duration::from_millis(200),
            poll: Duration::from_millis(50),
            stable_observations: 3,
            auto_rollback: true,
            yes: false,
            allow_min_isr_violation: false,
            min_free_disk_percent: 10.0,
            skip_connect: false,
        }
    }
}

/// Why a run stopped before the end. Nothing further is done; what is said here is also
/// journaled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Halt {
    pub reason: String,
    /// What the operator should do next.
    pub advice: String,
}

impl Halt {
    pub(crate) fn new(reason: impl Into<String>, advice: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            advice: advice.into(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished(Report),
    Halted(Halt, Report),
}

/// Connect's quiesce and resume, provided by the Connect module.
pub trait ConnectPhases: Sync {
    /// Stop sources, wait for sinks to catch up, stop sinks; back up first.
    fn quiesce(
        &self,
        run: &std::path::Path,
    ) -> impl std::future::Future<Output = Result<String, String>> + Send;
    /// Resume what quiesce stopped (sources first), verify they run, guard key schemas.
    fn resume(
        &self,
        run: &std::path::Path,
    ) -> impl std::future::Future<Output = Result<String, String>> + Send;
}

/// Where the engine gets its views of the cluster from.
pub trait Observe: Sync {
    /// One fresh observation of everything (agents and Kafka).
    fn observe(&self) -> impl std::future::Future<Output = ClusterView> + Send;

    /// Kafka's view only (milliseconds, where a full observation asks every agent): what the
    /// broker gates poll.
    fn observe_kafka(&self) -> impl std::future::Future<Output = Result<KafkaView, String>> + Send;

    /// Connect's connectors, tasks and workers for the post-checks (`None`: no Connect).
    fn observe_connect(
        &self,
    ) -> impl std::future::Future<Output = Option<crate::connect::health::ConnectObservation>> + Send
    {
        async { None }
    }
}

/// What a gate needs to see refreshed at each poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Agents and Kafka.
    Full,
    /// Kafka only; the agents' part is from the observation the wait began with.
    Kafka,
}

/// The real cluster: agents, Kafka and ZooKeeper.
#[derive(Debug)]
pub struct Live<'a> {
    pub inv: &'a Inventory,
    pub tls: &'a TlsMaterial,
    pub kafka: &'a KafkaProbe,
    /// The agents' connections, kept for the whole run.
    pub pool: crate::agents::AgentPool,
}

impl<'a> Live<'a> {
    /// The live cluster of `inv`, with a fresh connection pool.
    pub fn new(inv: &'a Inventory, tls: &'a TlsMaterial, kafka: &'a KafkaProbe) -> Self {
        Self {
            inv,
            tls,
            kafka,
            pool: crate::agents::AgentPool::default(),
        }
    }
}

impl Observe for Live<'_> {
    async fn observe(&self) -> ClusterView {
        observe(self.inv, self.tls, self.kafka, &self.pool).await
    }

    async fn observe_kafka(&self) -> Result<KafkaView, String> {
        self.kafka.observe().await
    }

    async fn observe_connect(&self) -> Option<crate::connect::health::ConnectObservation> {
        crate::connect::health::observe_inventory(self.inv).await
    }
}

/// How old an observation may be and still count towards a gate's consecutive passes.
const RECENT: Duration = Duration::from_secs(5);

/// One upgrade run.
pub struct Engine<'a, O, A, C> {
    pub(crate) observer: &'a O,
    pub(crate) actions: &'a A,
    pub(crate) connect: Option<&'a C>,
    pub(crate) opts: PlanOptions,
    pub(crate) settings: Settings,
    pub(crate) run: RunDir,
    pub(crate) progress: Progress,
    pub(crate) report: Report,
    pub(crate) started: Instant,
    /// The IBP bump has begun: no rollback any more.
    pub(crate) bumped: bool,
    /// Kafka observations since the last action, newest last: a gate may count them towards
    /// its consecutive passes (see [`Engine::wait_from`]); cleared before every action.
    pub(crate) recent: std::sync::Mutex<Vec<(Instant, KafkaView)>>,
}

impl<O, A, C> std::fmt::Debug for Engine<'_, O, A, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("run", &self.run.path())
            .finish_non_exhaustive()
    }
}

impl<O: Observe, A: NodeActions, C: ConnectPhases> Engine<'_, O, A, C> {
    /// Carries out the upgrade to the end or to a halt.
    pub async fn run(mut self) -> Outcome {
        let result = self.run_phases().await;
        let seconds = self.started.elapsed().as_secs_f64();
        self.report.total_seconds = seconds;
        match result {
            Ok(()) => {
                self.journal(Event::Finished { seconds });
                self.write_report();
                self.progress.line(&format!(
                    "Upgrade finished in {:.1}s. Report: {}",
                    seconds,
                    self.run.path().join("report.txt").display()
                ));
                Outcome::Finished(self.report)
            }
            Err(h) => {
                self.journal(Event::Halted {
                    reason: h.reason.clone(),
                    advice: h.advice.clone(),
                });
                self.write_report();
                self.progress
                    .line(&format!("HALTED: {}\nWhat to do: {}", h.reason, h.advice));
                Outcome::Halted(h, self.report)
            }
        }
    }

    async fn run_phases(&mut self) -> Result<(), Halt> {
        let view = self.observe().await;
        let plan = plan(&view, &self.opts).map_err(|e| {
            Halt::new(
                e.to_string(),
                "fix the inventory or the cluster, then run again; nothing was touched",
            )
        })?;
        let _ = self.run.write_file(
            "plan.json",
            serde_json::to_string_pretty(&plan)
                .unwrap_or_default()
                .as_bytes(),
        );
        let headline = if self.opts.resuming {
            format!(
                "Resuming the upgrade to {} (run {}); the brokers run {} now",
                plan.to,
                self.run.run_id(),
                plan.from
            )
        } else {
            format!(
                "Upgrade {} → {} (run {})",
                plan.from,
                plan.to,
                self.run.run_id()
            )
        };
        self.progress.line(&headline);
        self.preflight(&view, &plan).await?;
        for phase in plan.phases.iter().filter(|p| p.id != PhaseId::Preflight) {
            self.phase(phase, &plan).await?;
        }
        Ok(())
    }

    async fn phase(&mut self, phase: &Phase, plan: &Plan) -> Result<(), Halt> {
        self.journal(Event::PhaseStarted {
            phase: format!("{:?}", phase.id),
        });
        self.progress.phase(&phase.title);
        match phase.id {
            PhaseId::QuiesceConnect | PhaseId::ResumeConnect => self.connect_phase(phase.id).await,
            PhaseId::PostChecks => self.post_checks(plan).await,
            PhaseId::RollBrokers | PhaseId::BumpIbp => {
                if phase.id == PhaseId::BumpIbp {
                    self.confirm_bump(plan)?;
                }
                self.roll_brokers(phase).await
            }
            _ => {
                for step in &phase.steps {
                    self.step(step).await?;
                }
                Ok(())
            }
        }
    }

    /// Brokers one at a time, the controller last (re-read before every choice).
    async fn roll_brokers(&mut self, phase: &Phase) -> Result<(), Halt> {
        let mut left: Vec<&Step> = phase.steps.iter().collect();
        // Broker ids never change during a run; the controller does (re-read from Kafka, in
        // milliseconds, before every choice).
        let ids = self.observe().await;
        while !left.is_empty() {
            let controller = match self.observer.observe_kafka().await {
                Ok(k) => k.controller,
                Err(_) => None,
            };
            let id_of = |s: &Step| ids.service(&s.container).and_then(|v| v.broker_id);
            let pick = left
                .iter()
                .position(|s| id_of(s) != controller)
                .unwrap_or(0);
            let step = left.remove(pick);
            self.step(step).await?;
        }
        Ok(())
    }

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

    pub(crate) fn journal(&mut self, e: Event) {
        if let Err(err) = self.run.append(e) {
            self.progress
                .line(&format!("WARNING: cannot write the journal: {err}"));
        }
    }

    /// Waits until `check` passes on enough consecutive observations, within `limit`.
    pub(crate) async fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        check: impl Fn(&ClusterView) -> Verdict,
    ) -> Result<(Duration, ClusterView), Halt> {
        self.wait_scoped(what, limit, Scope::Full, check).await
    }

    /// [`Engine::wait_for`], refreshing only what `scope` says at each poll.
    pub(crate) async fn wait_scoped(
        &mut self,
        what: &str,
        limit: Duration,
        scope: Scope,
        check: impl Fn(&ClusterView) -> Verdict,
    ) -> Result<(Duration, ClusterView), Halt> {
        self.wait_from(what, limit, scope, None, check).await
    }

    /// [`Engine::wait_scoped`] starting from `start` (a view the caller just took) instead of
    /// a fresh full observation. `start` is never judged as it is: the first poll refreshes
    /// what `scope` says (with [`Scope::Kafka`], only Kafka's view — milliseconds — while the
    /// agents' part comes from `start`).
    pub(crate) async fn wait_from(
        &mut self,
        what: &str,
        limit: Duration,
        scope: Scope,
        start: Option<ClusterView>,
        check: impl Fn(&ClusterView) -> Verdict,
    ) -> Result<(Duration, ClusterView), Halt> {
        let began = Instant::now();
        let mut stable = Stability::new(self.settings.stable_observations);
        // Kafka-only gates count the observations taken since the last action (the previous
        // gate's, the step's own): N consecutive passes are N consecutive passes, whichever wait
        // took them. The pass that ends the wait is always a fresh one taken here.
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
            stable.observe(&check(&seen));
        }
        loop {
            if !std::mem::take(&mut first) {
                match scope {
                    Scope::Full => view = self.observe().await,
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
            let v = check(&view);
            if let Verdict::Never(why) = &v {
                return Err(Halt::new(
                    format!("{what}: {why}"),
                    "nothing was stopped for this step; fix the cause and run `kroll upgrade --resume`",
                ));
            }
            if stable.observe(&v) {
                return Ok((began.elapsed(), view));
            }
            if began.elapsed() >= limit {
                return Err(Halt::new(
                    format!(
                        "{what} did not pass within {:.0}s: {v}",
                        limit.as_secs_f64()
                    ),
                    String::new(),
                ));
            }
            self.progress.waiting(what, &v, began.elapsed());
            // Once a check passes, its confirmations come at twice the pace: the wait for a
            // broker to catch up is polled calmly, the moment it has is noticed quickly.
            let pause = if stable.confirming() {
                self.settings.poll / 2
            } else {
                self.settings.poll
            };
            tokio::time::sleep(pause).await;
        }
    }

    fn confirm_bump(&mut self, plan: &Plan) -> Result<(), Halt> {
        if self.settings.yes {
            self.journal(Event::BumpConfirmed {
                how: "--yes".into(),
            });
        } else if !super::progress::confirm(&format!(
            "About to set inter.broker.protocol.version={} on every broker. After this, downgrading to {} is impossible. Type `bump` to continue: ",
            plan.to_ibp, plan.from
        )) {
            return Err(Halt::new(
                "the IBP bump (point of no return) was not confirmed",
                "every broker runs the new version with the old IBP (still downgradable); to finish, run `kroll upgrade --resume --yes`",
            ));
        } else {
            self.journal(Event::BumpConfirmed {
                how: "typed at the prompt".into(),
            });
        }
        self.bumped = true;
        Ok(())
    }

    fn write_report(&mut self) {
        if let Ok(entries) = self.run.entries() {
            self.report.fill_from_journal(&entries);
        }
        let json = serde_json::to_string_pretty(&self.report).unwrap_or_default();
        let _ = self.run.write_file("report.json", json.as_bytes());
        let _ = self
            .run
            .write_file("report.txt", self.report.render().as_bytes());
    }

    /// The gate time limit for a broker: base + per hosted partition.
    pub(crate) fn broker_limit(&self, view: &ClusterView, id: i32) -> Duration {
        let hosted = view.kafka.as_ref().map_or(0, |k| {
            k.partitions
                .iter()
                .filter(|p| p.replicas.contains(&id))
                .count()
        });
        self.settings.gate_timeout
            + self.settings.gate_timeout_per_partition * u32::try_from(hosted).unwrap_or(u32::MAX)
    }

    /// Whether a kind's service is rolled with the broker stop timeout.
    pub(crate) fn stop_timeout_of(&self, kind: Option<ServiceKind>) -> Duration {
        if kind == Some(ServiceKind::Broker) {
            self.settings.broker_stop_timeout
        } else {
            self.settings.stop_timeout
        }
    }

    async fn connect_phase(&mut self, id: PhaseId) -> Result<(), Halt> {
        let step = format!("{id:?}");
        if self.settings.skip_connect {
            self.journal(Event::Note {
                step,
                message: "skipped (--skip-connect)".into(),
            });
            return Ok(());
        }
        let Some(connect) = self.connect else {
            return Err(Halt::new(
                "Connect quiesce/resume is not available",
                "pass --skip-connect after quiescing Connect yourself",
            ));
        };
        let dir = self.run.path().to_owned();
        let r = if id == PhaseId::QuiesceConnect {
            connect.quiesce(&dir).await
        } else {
            connect.resume(&dir).await
        };
        match r {
            Ok(message) => {
                self.progress.line(&message);
                self.journal(Event::Note { step, message });
                Ok(())
            }
            Err(e) => Err(Halt::new(
                e,
                "see the message; the run directory holds the backups; fix and run `kroll upgrade --resume`",
            )),
        }
    }

    /// The first observation's checks: agents, containers, Kafka health, disks, images.
    async fn preflight(&mut self, view: &ClusterView, plan: &Plan) -> Result<(), Halt> {
        self.progress.phase("Pre-flight checks");
        let untouched = "nothing was touched; fix it and run again";
        if let Some(s) = view.services.iter().find(|s| !s.running()) {
            return Err(Halt::new(
                format!("container `{}` on node `{}` is not running", s.name, s.node),
                untouched,
            ));
        }
        let limit = self.settings.gate_timeout.min(Duration::from_secs(60));
        self.wait_for(
            "pre-flight: the cluster is healthy",
            limit,
            gates::cluster_healthy,
        )
        .await
        .map_err(|h| Halt::new(h.reason, untouched))?;
        self.check_disks(view)
            .map_err(|r| Halt::new(r, untouched))?;
        self.ensure_images(plan)
            .await
            .map_err(|r| Halt::new(r, untouched))?;
        self.journal(Event::Note {
            step: "preflight".into(),
            message: "passed".into(),
        });
        Ok(())
    }

    fn check_disks(&self, view: &ClusterView) -> Result<(), String> {
        for s in view.brokers() {
            let Some(c) = &s.container else { continue };
            for m in c.mounts.iter().filter(|m| !m.host_mount_point.is_empty()) {
                let Some(state) = view.disks_of(&s.node) else {
                    continue;
                };
                if let Some(d) = state.iter().find(|d| d.mount_point == m.host_mount_point)
                    && d.available_percent() < self.settings.min_free_disk_percent
                {
                    return Err(format!(
                        "node `{}`: {} (holding {}'s {}) has {:.1}% free, below the {:.0}% an upgrade needs",
                        s.node,
                        d.mount_point,
                        s.name,
                        m.destination,
                        d.available_percent(),
                        self.settings.min_free_disk_percent
                    ));
                }
            }
        }
        Ok(())
    }
}
