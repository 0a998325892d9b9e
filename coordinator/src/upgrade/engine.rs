//! The upgrade engine: a thin loop — observe the cluster (agents, Kafka, ZooKeeper), plan from
//! that observation, fold the journal into a [`RunState`], ask [`decide::next`] what to do,
//! carry it out, journal it, and ask again. Nothing is remembered between turns but the
//! journal, so a coordinator restarted at any point continues from what it sees.
//!
//! The carrying out: waiting on a gate (`wait`: consecutive passing observations within a time
//! limit; broker gates poll Kafka only), recreating a container through
//! [`NodeActions`] under the step's operation id (the intent is journaled first — a failed
//! journal write halts before anything is touched), rolling a failed node back, Connect's
//! phases, the bump confirmation and the post-checks (`steps`).

use std::time::{Duration, Instant};

use kroll_shared::inventory::Inventory;
use kroll_shared::tls::TlsMaterial;

use super::actions::NodeActions;
pub use super::decide::Halt;
use super::decide::{self, Next, Policy};
use super::gates::{self, Verdict};
use super::journal::{Event, RunDir};
use super::observe::{KafkaProbe, observe};
use super::plan::{PhaseId, Plan, PlanOptions, plan};
use super::progress::{Progress, Report};
use super::run_state::RunState;
use super::stack_file::StackKeeper;
use super::timeline::Timeline;
use super::view::{ClusterView, KafkaView};

/// Advice for a pre-flight refusal: nothing was acted on.
const PREFLIGHT_UNTOUCHED: &str = "nothing was touched; fix it and run again";

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

impl Settings {
    /// The decisions' share of the settings.
    pub fn policy(&self) -> Policy {
        Policy {
            broker_stop_timeout: self.broker_stop_timeout,
            stop_timeout: self.stop_timeout,
            gate_timeout: self.gate_timeout,
            gate_timeout_per_partition: self.gate_timeout_per_partition,
            allow_min_isr_violation: self.allow_min_isr_violation,
            auto_rollback: self.auto_rollback,
            skip_connect: self.skip_connect,
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

    /// The Swarm stack's services as a manager's agent describes them (environment values as
    /// MACs), for the stack-file check.
    fn describe_stack(
        &self,
        stack: &str,
    ) -> impl std::future::Future<Output = Result<crate::agents::DescribedStack, String>> + Send
    {
        let why = format!("no Swarm manager to describe stack `{stack}`");
        async move { Err(why) }
    }

    /// Connect's connectors, tasks and workers for the post-checks (`None`: no Connect).
    fn observe_connect(
        &self,
    ) -> impl std::future::Future<Output = Option<crate::connect::health::ConnectObservation>> + Send
    {
        async { None }
    }
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

    async fn describe_stack(&self, stack: &str) -> Result<crate::agents::DescribedStack, String> {
        let Some(swarm) = &self.inv.swarm else {
            return Err("the inventory has no [swarm] section".into());
        };
        super::actions::on_manager(self.inv, self.tls, swarm, |mut m| async move {
            m.describe_stack(stack).await
        })
        .await
        .map_err(|e| e.to_string())
    }
}

/// One upgrade run (or `kroll rollback` of one).
pub struct Engine<'a, O, A, C> {
    pub(crate) observer: &'a O,
    pub(crate) actions: &'a A,
    pub(crate) connect: Option<&'a C>,
    pub(crate) opts: PlanOptions,
    pub(crate) settings: Settings,
    pub(crate) run: RunDir,
    pub(crate) cluster: String,
    pub(crate) progress: Progress,
    pub(crate) report: Report,
    pub(crate) started: Instant,
    /// Kafka observations since the last action, newest last: a gate may count them towards
    /// its consecutive passes (see [`Engine::wait_from`]); cleared before every action.
    pub(crate) recent: std::sync::Mutex<Vec<(Instant, KafkaView)>>,
    /// The Swarm stack file kept true (`[swarm] stack_file`).
    pub(crate) stack: Option<StackKeeper>,
    /// The stack file matched the services at pre-flight: from then on it is rewritten.
    pub(crate) stack_checked: bool,
}

impl<O, A, C> std::fmt::Debug for Engine<'_, O, A, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("run", &self.run.path())
            .finish_non_exhaustive()
    }
}

/// What an engine is made of (its one constructor, [`Engine::new`]).
#[derive(Debug)]
pub struct Parts<'a, O, A, C> {
    pub observer: &'a O,
    pub actions: &'a A,
    /// `None`: Connect's phases are not available (`--skip-connect`, `kroll rollback`).
    pub connect: Option<&'a C>,
    pub run: RunDir,
    pub opts: PlanOptions,
    pub settings: Settings,
    /// The inventory's cluster name (journaled).
    pub cluster: String,
    /// No progress lines (JSON output).
    pub quiet: bool,
    /// The Swarm stack file to keep true.
    pub stack: Option<StackKeeper>,
}

impl<'a, O: Observe, A: NodeActions, C: ConnectPhases> Engine<'a, O, A, C> {
    /// An engine over `parts`.
    pub fn new(parts: Parts<'a, O, A, C>) -> Self {
        let report = Report {
            run_id: parts.run.run_id(),
            ..Report::default()
        };
        // The file's Connect rewrite is computed towards the run's target.
        let stack = parts.stack.map(|k| k.towards(parts.opts.to));
        Self {
            observer: parts.observer,
            actions: parts.actions,
            connect: parts.connect,
            opts: parts.opts,
            settings: parts.settings,
            run: parts.run,
            cluster: parts.cluster,
            progress: Progress::new(parts.quiet),
            report,
            started: Instant::now(),
            recent: Default::default(),
            stack,
            stack_checked: false,
        }
    }

    /// The run directory.
    pub fn run_dir(&self) -> &std::path::Path {
        self.run.path()
    }

    /// Carries out the upgrade to the end or to a halt.
    pub async fn run(mut self) -> Outcome {
        let result = self.run_loop().await;
        let seconds = self.started.elapsed().as_secs_f64();
        self.report.total_seconds = seconds;
        let result = match result {
            Ok(()) => self.journal(Event::Finished { seconds }).map_err(|h| {
                Halt::new(
                    format!("the upgrade is done, but {}", h.reason),
                    "run `kroll upgrade --resume` once the run directory can be written (it re-checks and closes the run)",
                )
            }),
            Err(h) => Err(h),
        };
        match result {
            Ok(()) => {
                self.write_report();
                self.progress.line(&format!(
                    "Upgrade finished in {:.1}s. Report: {}",
                    seconds,
                    self.run.path().join("report.txt").display()
                ));
                Outcome::Finished(self.report)
            }
            Err(h) => {
                // What the run changed is in the services: the stack file says so too, so a
                // redeploy during the halt does not undo it.
                if self.stack_checked
                    && let Err(e) = self.keep_stack_file_observed().await
                {
                    self.progress.warn(&e.reason);
                }
                if let Err(e) = self.journal(Event::Halted {
                    reason: h.reason.clone(),
                    advice: h.advice.clone(),
                }) {
                    self.progress.warn(&e.reason);
                }
                self.write_report();
                self.progress
                    .line(&format!("HALTED: {}\nWhat to do: {}", h.reason, h.advice));
                Outcome::Halted(h, self.report)
            }
        }
    }

    /// Observe → decide → act → journal, until finished or halted.
    async fn run_loop(&mut self) -> Result<(), Halt> {
        let view = if self.opts.resuming {
            // The container a killed coordinator was recreating may be between its stop and its
            // start (its agent finishes the operation, and it may be absent for a moment):
            // waited for before anything is planned from it.
            self.wait_for(
                "pre-flight: every container running",
                self.preflight_limit(),
                gates::all_running,
            )
            .await
            .map_err(|h| Halt::new(h.reason, PREFLIGHT_UNTOUCHED))?
            .1
        } else {
            self.observe().await
        };
        // Targets named by a tag that moves are pinned before anything is planned (a resumed
        // run has them from its journal; one without gets the answer its first pull recorded).
        self.resolve_targets(&view).await?;
        let first = plan(&view, &self.opts).map_err(|e| {
            Halt::new(
                e.to_string(),
                "fix the inventory or the cluster, then run again; nothing was touched",
            )
        })?;
        self.start(&first)?;
        self.preflight(&view, &first).await?;
        // From here on every container may be done while the run is not.
        let opts = PlanOptions {
            resuming: true,
            ..self.opts.clone()
        };
        let policy = self.settings.policy();
        let mut phase = None;
        loop {
            let view = self.observe().await;
            let plan = plan(&view, &opts).map_err(|e| {
                Halt::new(
                    e.to_string(),
                    "no further action was taken; bring back what is missing (`kroll status` shows it), then `kroll upgrade --resume` (the run re-reads every node's real state)",
                )
            })?;
            let state = self.run_state("kroll upgrade --resume")?;
            let next = decide::next(&plan, &view, &state, &policy);
            self.announce_phase(&plan, &view, &next, &mut phase)?;
            match next {
                Next::Finished => return self.keep_stack_file(&plan, &view, false),
                Next::Halt(h) => return Err(h),
                Next::Settle { step, gate, limit } => {
                    self.settle(&step, &gate, limit, view).await?;
                }
                Next::Recreate(r) => self.recreate(&r, view).await?,
                Next::RollBack(r) => {
                    let failure = state.failed.map(|f| f.error).unwrap_or_default();
                    return Err(self.roll_back(&r, failure).await);
                }
                Next::ConnectPhase(id) => self.connect_phase(id).await?,
                Next::ConfirmBump => self.confirm_bump(&plan)?,
                Next::PostChecks => self.post_checks(&plan, &policy).await?,
            }
        }
    }

    /// Journals the run's (re)start and writes its plan: both or a halt before anything acts.
    fn start(&mut self, plan: &Plan) -> Result<(), Halt> {
        let images = self
            .opts
            .images
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.journal(Event::RunStarted {
            run_id: self.run.run_id(),
            cluster: self.cluster.clone(),
            from: plan.from.to_string(),
            to: self.opts.to.to_string(),
            pin_ibp: self.opts.pin_ibp,
            images,
            resumed: self.opts.resuming,
        })?;
        let json = serde_json::to_string_pretty(plan).map_err(|e| {
            Halt::new(
                format!("the plan cannot be written: {e}"),
                "report this as a bug",
            )
        })?;
        self.run.write_file("plan.json", json.as_bytes()).map_err(|e| {
            Halt::new(
                format!("the plan cannot be written to the run directory: {e}"),
                "nothing was touched; fix the run directory (space, permissions), then run again",
            )
        })?;
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
        if !plan.bumped.is_empty() {
            self.progress.line(&format!(
                "The point of no return is behind: {} already run inter.broker.protocol.version {}; only the rest of the bump remains.",
                plan.bumped.join(", "),
                plan.to_ibp
            ));
        }
        Ok(())
    }

    /// Prints (and journals) the phase a decision belongs to when it changes.
    fn announce_phase(
        &mut self,
        plan: &Plan,
        view: &ClusterView,
        next: &Next,
        current: &mut Option<PhaseId>,
    ) -> Result<(), Halt> {
        let id = match next {
            Next::Settle { step, .. } => plan.phase_of(&step.id),
            Next::Recreate(r) => plan.phase_of(&r.step.id),
            Next::ConnectPhase(id) => Some(*id),
            Next::ConfirmBump => Some(PhaseId::BumpIbp),
            Next::PostChecks => Some(PhaseId::PostChecks),
            Next::RollBack(_) | Next::Finished | Next::Halt(_) => None,
        };
        let Some(id) = id.filter(|id| *current != Some(*id)) else {
            return Ok(());
        };
        if current.is_some() {
            // A phase ended: the stack file learns what the phases done changed.
            self.keep_stack_file(plan, view, true)?;
        }
        *current = Some(id);
        if let Some(p) = plan.phase(id) {
            self.progress.phase(&p.title);
        }
        self.journal(Event::PhaseStarted { phase: id })
    }

    /// The run so far, folded from its journal (`retry`: the command to run once it reads).
    pub(crate) fn run_state(&self, retry: &str) -> Result<RunState, Halt> {
        let entries = self.run.entries().map_err(|e| {
            Halt::new(
                format!("the journal cannot be read: {e}"),
                format!("fix the run directory, then `{retry}`"),
            )
        })?;
        Ok(RunState::fold(&self.run.run_id(), &entries))
    }

    /// Appends to the journal (fsynced); a failed write is a halt — nothing acts unjournaled.
    pub(crate) fn journal(&mut self, e: Event) -> Result<(), Halt> {
        self.run.append(e).map(|_| ()).map_err(|err| {
            Halt::new(
                format!("the journal cannot be written ({err}); stopped before acting"),
                "make the run directory writable (space, permissions), then `kroll upgrade --resume`",
            )
        })
    }

    fn confirm_bump(&mut self, plan: &Plan) -> Result<(), Halt> {
        let how = if self.settings.yes {
            "--yes"
        } else if super::progress::confirm(&format!(
            "About to set inter.broker.protocol.version={} on every broker. After this, downgrading to {} is impossible. Type `bump` to continue: ",
            plan.to_ibp, plan.from
        )) {
            "typed at the prompt"
        } else {
            return Err(Halt::new(
                "the IBP bump (point of no return) was not confirmed",
                "every broker runs the new version with the old IBP (still downgradable); to finish, run `kroll upgrade --resume --yes`",
            ));
        };
        self.journal(Event::BumpConfirmed { how: how.into() })
    }

    /// Writes `report.json`, `report.txt` and `report.html`, or says why they could not be
    /// written.
    pub fn write_report(&mut self) {
        let entries = self.run.entries().unwrap_or_default();
        self.report.fill_from_journal(&entries);
        let written = serde_json::to_string_pretty(&self.report)
            .map_err(|e| e.to_string())
            .and_then(|json| {
                self.run
                    .write_file("report.json", json.as_bytes())
                    .map_err(|e| e.to_string())
            })
            .and_then(|_| {
                self.run
                    .write_file("report.txt", self.report.render().as_bytes())
                    .map_err(|e| e.to_string())
            })
            .and_then(|_| {
                let samples = super::journal::read_samples(self.run.path());
                let timeline = Timeline::from_journal(&entries).with_samples(&samples);
                let page = super::report_html::render(&timeline);
                self.run
                    .write_file("report.html", page.as_bytes())
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            self.progress
                .warn(&format!("the report could not be written: {e}"));
            self.report.not_written = Some(e);
        }
    }

    async fn connect_phase(&mut self, id: PhaseId) -> Result<(), Halt> {
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
                self.journal(Event::PhaseDone { phase: id, message })
            }
            Err(e) => Err(Halt::new(
                e,
                "see the message; the run directory holds the backups; fix and run `kroll upgrade --resume`",
            )),
        }
    }

    /// How long pre-flight waits for a container or the cluster's health to settle.
    fn preflight_limit(&self) -> Duration {
        self.settings.gate_timeout.min(Duration::from_secs(60))
    }

    /// The first observation's checks: agents, containers, Kafka health, disks, images.
    async fn preflight(&mut self, view: &ClusterView, plan: &Plan) -> Result<(), Halt> {
        self.progress.phase("Pre-flight checks");
        let untouched = PREFLIGHT_UNTOUCHED;
        let limit = self.preflight_limit();
        // A resumed run waited for every container before it planned (`run_loop`).
        if let Verdict::Wait(why) = gates::all_running(view) {
            return Err(Halt::new(why.join("; "), untouched));
        }
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
        self.check_stack_file().await?;
        self.journal(Event::Note {
            step: PhaseId::Preflight.slug(),
            message: "passed".into(),
        })
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
