//! Follow-up work: what a job starts that outlives it (the offsite copy after a backup,
//! the alerts it raises). The web console never waits for it; a command-line run does,
//! so that its exit status says whether the copy was made and the alerts were delivered
//! (`FollowUps::wait`). Nothing here knows who waits.

use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;

/// The failures remembered for a waiter (a long-running server never waits: the oldest
/// are dropped).
const KEPT_FAILURES: usize = 50;

/// Follow-up tasks in flight, their failures, and the progress of the current one.
#[derive(Clone)]
pub struct FollowUps(Arc<watch::Sender<State>>);

#[derive(Clone, Debug, Default)]
pub struct State {
    /// Tasks not finished yet.
    pub running: usize,
    /// "offsite copy of backup 3: …", one per failed task, oldest first.
    pub failures: Vec<String>,
    /// What the running work is doing, e.g. "copying offsite… 45 %".
    pub progress: Option<String>,
}

impl Default for FollowUps {
    fn default() -> Self {
        FollowUps(Arc::new(watch::Sender::new(State::default())))
    }
}

/// Counts a task until it ends, however it ends (a panic included).
struct Running(FollowUps, String);

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .failed(format!("{}: stopped by an internal error", self.1));
        }
        self.0 .0.send_modify(|s| {
            s.running = s.running.saturating_sub(1);
            if s.running == 0 {
                s.progress = None;
            }
        });
    }
}

impl FollowUps {
    /// Runs `work` in the background; an `Err` is remembered as "`what`: error".
    pub fn spawn<F>(&self, what: impl Into<String>, work: F)
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let what = what.into();
        self.0.send_modify(|s| s.running += 1);
        let running = Running(self.clone(), what);
        tokio::spawn(async move {
            let result = work.await;
            if let Err(e) = result {
                running.0.failed(format!("{}: {e}", running.1));
            }
            drop(running);
        });
    }

    fn failed(&self, message: String) {
        self.0.send_modify(|s| {
            if s.failures.len() >= KEPT_FAILURES {
                s.failures.remove(0);
            }
            s.failures.push(message);
        });
    }

    /// Says what the running work is doing (shown by a waiting command line).
    pub fn progress(&self, text: impl Into<String>) {
        let text = text.into();
        self.0.send_if_modified(|s| {
            let changed = s.progress.as_deref() != Some(text.as_str());
            s.progress = Some(text);
            changed
        });
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.0.borrow().clone()
    }

    /// Waits until no follow-up work is left (work started meanwhile included), calling
    /// `on_progress` with each new progress text; returns the failures seen since the
    /// process started.
    pub async fn wait(&self, mut on_progress: impl FnMut(&str)) -> Vec<String> {
        let mut rx = self.0.subscribe();
        let mut shown = None;
        loop {
            {
                let s = rx.borrow_and_update();
                if s.running == 0 {
                    return s.failures.clone();
                }
                if s.progress.is_some() && s.progress != shown {
                    shown = s.progress.clone();
                    on_progress(shown.as_deref().unwrap_or_default());
                }
            }
            if rx.changed().await.is_err() {
                return self.state().failures;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiting_covers_work_started_by_work_and_collects_failures() {
        let f = FollowUps::default();
        let inner = f.clone();
        f.spawn("outer", async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            inner.progress("copying… 50 %");
            inner.spawn("alert", async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err("SMTP refused".to_string())
            });
            Ok(())
        });
        let mut seen = vec![];
        let failures = f.wait(|p| seen.push(p.to_string())).await;
        assert_eq!(failures, vec!["alert: SMTP refused".to_string()]);
        assert_eq!(seen, vec!["copying… 50 %".to_string()]);
        assert_eq!(f.state().running, 0);
    }

    #[tokio::test]
    async fn a_panicking_task_does_not_hold_the_wait() {
        let f = FollowUps::default();
        f.spawn("boom", async { panic!("bug") });
        let failures = tokio::time::timeout(Duration::from_secs(5), f.wait(|_| {}))
            .await
            .expect("the wait ends");
        assert_eq!(
            failures,
            vec!["boom: stopped by an internal error".to_string()]
        );
    }
}
