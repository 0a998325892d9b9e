//! The monitor's async side: tracks managed containers from the event hub (`start` → look for
//! JVMs, `die` → OOM exit?), runs a sampling pass every interval on the blocking pool, and
//! follows the logs of Java containers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kroll_shared::model::{Event, EventKind};
use kroll_shared::time::now_unix_ms;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::JvmMonitor;
use super::oom::{self, oom_exit_evidence};
use crate::allow::Allowlist;
use crate::events::EventHub;
use crate::runtime::ContainerRuntime;

/// How long an OOM exit without a flag waits for its log follower to deliver the last lines.
const LOG_DRAIN: Duration = Duration::from_secs(2);
/// How recent an OutOfMemoryError in the log must be to explain an exit.
const LOG_EVIDENCE: Duration = Duration::from_secs(60);

/// Everything the loop needs.
#[derive(Debug)]
pub struct Ctx<R> {
    pub monitor: Arc<JvmMonitor>,
    pub rt: Arc<R>,
    pub allow: Allowlist,
    pub hub: Arc<EventHub>,
    pub every: Duration,
}

/// Runs until `stop` turns true.
pub async fn run<R: ContainerRuntime>(ctx: Ctx<R>, mut stop: watch::Receiver<bool>) {
    if !ctx.monitor.config().enabled {
        return;
    }
    let mut events = ctx.hub.subscribe();
    let mut followers: HashMap<String, JoinHandle<()>> = HashMap::new();
    resync(&ctx).await;
    let mut tick = tokio::time::interval(ctx.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => sample(&ctx, &mut followers, &stop).await,
            e = events.recv() => match e {
                Ok(e) => on_event(&ctx, &mut followers, e).await,
                Err(broadcast::error::RecvError::Lagged(_)) => resync(&ctx).await,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = stop.changed() => break,
        }
    }
    for (_, f) in followers {
        f.abort();
    }
}

/// Tracks every managed running container not tracked yet (logs from now on), and forgets
/// tracked ones that are gone.
async fn resync<R: ContainerRuntime>(ctx: &Ctx<R>) {
    let Ok(list) = ctx.rt.list().await else {
        tracing::warn!("Cannot list containers to look for JVMs; retrying on the next event.");
        return;
    };
    let tracked = ctx.monitor.tracked_ids();
    let now_s = now_unix_ms() / 1000;
    let mut running = Vec::new();
    for s in list.iter().filter(|s| ctx.allow.allows(&s.name, &s.labels)) {
        if let Ok(i) = ctx.rt.inspect(&s.id).await
            && i.container.is_running()
        {
            running.push(s.id.clone());
            if !tracked.contains(&s.id) {
                ctx.monitor.track(&i, now_s);
            }
        }
    }
    for id in tracked.iter().filter(|id| !running.contains(id)) {
        ctx.monitor.untrack(id);
    }
}

async fn sample<R: ContainerRuntime>(
    ctx: &Ctx<R>,
    followers: &mut HashMap<String, JoinHandle<()>>,
    stop: &watch::Receiver<bool>,
) {
    let m = Arc::clone(&ctx.monitor);
    let Ok(tick) =
        tokio::task::spawn_blocking(move || m.sample_all(Instant::now(), now_unix_ms())).await
    else {
        return;
    };
    for (id, name, kind) in tick.events {
        tracing::info!(container = %name, event = kind.name(), "JVM event.");
        ctx.hub.publish(&id, &name, now_unix_ms(), kind);
    }
    followers.retain(|_, f| !f.is_finished());
    for (id, name, since) in tick.follow_logs {
        let task = oom::follow(
            Arc::clone(&ctx.rt),
            Arc::clone(&ctx.monitor),
            Arc::clone(&ctx.hub),
            (id.clone(), name),
            since,
            stop.clone(),
        );
        if let Some(old) = followers.insert(id, tokio::spawn(task)) {
            old.abort();
        }
    }
}

async fn on_event<R: ContainerRuntime>(
    ctx: &Ctx<R>,
    followers: &mut HashMap<String, JoinHandle<()>>,
    e: Event,
) {
    match e.kind {
        EventKind::Started { .. } => {
            if let Ok(i) = ctx.rt.inspect(&e.container_id).await {
                let since = i.container.started_at_unix_ms / 1000;
                ctx.monitor.track(&i, since);
            }
        }
        EventKind::Died { exit_code, .. } => {
            let Some(d) = ctx.monitor.untrack(&e.container_id) else {
                return;
            };
            let follower = followers.remove(&e.container_id);
            if !d.java || !matches!(exit_code, 3 | 134) {
                return;
            }
            let (monitor, hub) = (Arc::clone(&ctx.monitor), Arc::clone(&ctx.hub));
            tokio::spawn(async move {
                let mut evidence = oom_exit_evidence(exit_code, d.flags, false);
                if evidence.is_none() {
                    // The exit may overtake the last log lines: let the follower drain them.
                    if let Some(f) = follower {
                        let _ = tokio::time::timeout(LOG_DRAIN, f).await;
                    }
                    let seen = monitor.oom_in_log(&e.container_id, LOG_EVIDENCE);
                    evidence = oom_exit_evidence(exit_code, d.flags, seen);
                }
                if let Some(evidence) = evidence {
                    monitor.oom_exit_seen(&d.name);
                    let kind = EventKind::JavaOomExit {
                        exit_code,
                        evidence,
                    };
                    hub.publish(&e.container_id, &d.name, now_unix_ms(), kind);
                }
            });
        }
        _ => {}
    }
}
