//! Concurrent callers of a costly read share one run of it, without getting anything older
//! than their call: a caller is answered with a run that *began after it arrived*. Runs take
//! turns (a fair lock); a caller that arrives while one is under way waits for it to end, then
//! either finds that a later run (begun after its arrival) has already ended and takes its
//! answer, or starts one itself for everybody waiting. However many callers there are, one run
//! is under way at a time and each caller waits at most about two runs.
//!
//! `GetNodeState` goes through this: 64 callers at once cost two Docker inspections of the
//! node, not 64, and a coordinator that reads the node right after an action still sees the
//! action's effect.

use std::sync::atomic::{AtomicU64, Ordering};

/// The last successful run and its number.
#[derive(Debug)]
struct Last<T> {
    number: u64,
    value: Option<T>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Coalesced<T> {
    /// How many runs have begun.
    begun: AtomicU64,
    last: tokio::sync::Mutex<Last<T>>,
}

impl<T: Clone> Coalesced<T> {
    pub fn new() -> Self {
        Self {
            begun: AtomicU64::new(0),
            last: tokio::sync::Mutex::new(Last {
                number: 0,
                value: None,
            }),
        }
    }

    /// A value from a run of `take` that began after this call did. A failed run is answered
    /// to its own caller only; the callers waiting behind it run again.
    pub async fn get<E, F>(&self, take: impl FnOnce() -> F) -> Result<T, E>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let arrived = self.begun.load(Ordering::SeqCst);
        let mut last = self.last.lock().await;
        if last.number > arrived
            && let Some(v) = &last.value
        {
            return Ok(v.clone());
        }
        let number = self.begun.fetch_add(1, Ordering::SeqCst) + 1;
        let v = take().await?;
        *last = Last {
            number,
            value: Some(v.clone()),
        };
        Ok(v)
    }
}

impl<T: Clone> Default for Coalesced<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_runs_that_began_after_they_arrived() {
        let runs = Arc::new(AtomicU64::new(0));
        let c = Arc::new(Coalesced::<u64>::new());
        let take = |runs: Arc<AtomicU64>| async move {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<u64, ()>(n)
        };
        // A run under way: callers arriving now must not get its answer.
        let first = {
            let (c, runs) = (Arc::clone(&c), Arc::clone(&runs));
            tokio::spawn(async move { c.get(|| take(runs)).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let late = futures::future::join_all((0..64).map(|_| {
            let (c, runs) = (Arc::clone(&c), Arc::clone(&runs));
            async move { c.get(|| take(runs)).await }
        }))
        .await;
        assert_eq!(first.await.expect("join"), Ok(1));
        assert!(
            late.iter().all(|v| *v == Ok(2)),
            "64 callers arriving during run 1 share run 2: {late:?}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // A caller after everything ended gets a run of its own.
        assert_eq!(c.get(|| take(Arc::clone(&runs))).await, Ok(3));
    }

    #[tokio::test]
    async fn a_failed_run_is_not_shared() {
        let c = Coalesced::<u64>::new();
        assert_eq!(
            c.get(|| async { Err::<u64, &str>("docker down") }).await,
            Err("docker down")
        );
        assert_eq!(c.get(|| async { Ok::<u64, &str>(7) }).await, Ok(7));
    }
}
