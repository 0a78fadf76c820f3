//! The readiness checks' last result, kept between runs: `/readyz` answers from it, so a
//! flood of requests never reaches the target database, the data directory or the
//! PostgreSQL tools. The checks run in the background every interval (the first at
//! start-up); a signed-in user may ask for a fresh run, at most one per `min_spacing`.

use app::api::ReadyReport;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

/// One run of the checks.
#[derive(Clone, Debug)]
pub struct Checked {
    pub report: ReadyReport,
    /// When the run started (runs are spaced by it).
    pub started: Instant,
    /// When it ended, for the answer.
    pub at: DateTime<Utc>,
}

pub struct Readiness {
    latest: watch::Sender<Option<Arc<Checked>>>,
    /// Held while a run is going on or waiting for its turn: one run at a time.
    turn: Mutex<()>,
    min_spacing: Duration,
}

impl Readiness {
    pub fn new(min_spacing: Duration) -> Readiness {
        Readiness {
            latest: watch::Sender::new(None),
            turn: Mutex::new(()),
            min_spacing,
        }
    }

    /// The latest result; before the first run has ended, waits for it.
    pub async fn latest(&self) -> Arc<Checked> {
        let mut rx = self.latest.subscribe();
        loop {
            if let Some(c) = rx.borrow_and_update().clone() {
                return c;
            }
            // The sender lives as long as `self`: this cannot fail while we wait.
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// A result of a run that started after this call: joins the next run, or starts one
    /// itself once `min_spacing` has passed since the previous run started.
    pub async fn fresh<F, Fut>(&self, run: F) -> Arc<Checked>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ReadyReport>,
    {
        let asked = Instant::now();
        let _turn = self.turn.lock().await;
        let previous = self.latest.borrow().clone();
        if let Some(p) = &previous {
            if p.started >= asked {
                return p.clone();
            }
            tokio::time::sleep_until(p.started + self.min_spacing).await;
        }
        let started = Instant::now();
        let report = run().await;
        let checked = Arc::new(Checked {
            report,
            started,
            at: Utc::now(),
        });
        self.latest.send_replace(Some(checked.clone()));
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn report(ready: bool) -> ReadyReport {
        ReadyReport {
            ready,
            checks: vec![],
            checked_at: None,
        }
    }

    #[tokio::test]
    async fn fresh_runs_are_spaced_and_shared() {
        let r = Arc::new(Readiness::new(Duration::from_millis(500)));
        let runs = Arc::new(AtomicUsize::new(0));
        let run = |runs: Arc<AtomicUsize>| async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            report(true)
        };
        let first = r.fresh(|| run(runs.clone())).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(r.latest().await.started == first.started);
        // Asked right away again: waits out the spacing, then runs once for all askers.
        let t0 = Instant::now();
        let mut asks = vec![];
        for _ in 0..10 {
            let (r, runs) = (r.clone(), runs.clone());
            asks.push(tokio::spawn(
                async move { r.fresh(|| run(runs)).await.started },
            ));
        }
        let mut started = vec![];
        for a in asks {
            started.push(a.await.expect("join"));
        }
        assert!(started.iter().all(|s| *s >= t0));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(Instant::now() - t0 >= Duration::from_millis(400));
    }

    #[tokio::test]
    async fn latest_waits_for_the_first_run() {
        let r = Arc::new(Readiness::new(Duration::from_millis(100)));
        let waiting = {
            let r = r.clone();
            tokio::spawn(async move { r.latest().await.report.ready })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        r.fresh(|| async { report(false) }).await;
        assert!(!waiting.await.expect("join"));
    }
}
