//! The job runner. A job is a row in `jobs` (see `store::jobs`); while it runs, the
//! [`JobRegistry`] holds its live state (a `watch` channel every follower reads, so a slow
//! follower simply gets the newest state) and its cancellation switch. Progress reaches
//! followers at once and the row at most every [`PERSIST_EVERY`]. A job starts with
//! [`lock`] and [`create`], and [`finish_job`] is the only way it ends.

use super::recovery::remove_quietly;
use super::Engine;
use crate::storage::{self, DatabaseLock};
use crate::store::jobs::{self as rows, JobKind, JobStatus};
use app::api::{Job, PhaseTiming};
use chrono::Utc;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often progress is written to the `jobs` row (followers see every update).
pub const PERSIST_EVERY: Duration = Duration::from_millis(500);

/// The one answer when a job's database is taken.
#[derive(Debug, thiserror::Error)]
#[error(
    "A backup or restore of {database} is already running; follow it instead of starting another."
)]
pub struct Busy {
    pub database: String,
    /// The job to follow instead.
    pub job_id: Option<i64>,
}

/// Why a job could not take its database.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl LockError {
    /// Into a job's own error type, which has a place for both.
    pub fn into_job_error<E: From<Busy> + From<anyhow::Error>>(self) -> E {
        match self {
            LockError::Busy(b) => b.into(),
            LockError::Internal(e) => e.into(),
        }
    }
}

impl From<sqlx::Error> for LockError {
    fn from(e: sqlx::Error) -> Self {
        LockError::Internal(e.into())
    }
}

/// The conversions every job's error type has besides its own: a journal error goes to
/// its `Internal` place, a lock error to `Busy` or `Internal`.
macro_rules! job_error_conversions {
    ($t:ty) => {
        impl From<sqlx::Error> for $t {
            fn from(e: sqlx::Error) -> Self {
                <$t>::from(anyhow::Error::from(e))
            }
        }

        impl From<$crate::engine::run::LockError> for $t {
            fn from(e: $crate::engine::run::LockError) -> Self {
                e.into_job_error()
            }
        }
    };
}
pub(crate) use job_error_conversions;

/// Takes the lock of `database` for a new job: one job per database at a time, across
/// every `lifeboat` process. Holding the lock means no process runs a job for it, so a
/// row still marked running is a leftover of a process that died: it is journaled as
/// interrupted first.
pub async fn lock(engine: &Engine, database: &str) -> Result<DatabaseLock, LockError> {
    let lock = match storage::try_lock_database(&engine.data_dir, database) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return Err(Busy {
                job_id: rows::running_for(&engine.db, database).await?,
                database: database.to_string(),
            }
            .into())
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot take the lock for {database} in {}: {e}",
                engine.data_dir.join("locks").display()
            )
            .into())
        }
    };
    if rows::running_for(&engine.db, database).await?.is_some() {
        super::recovery::recover_interrupted(engine, |d| d == database).await?;
    }
    Ok(lock)
}

struct Live {
    tx: watch::Sender<Job>,
    cancel: watch::Sender<bool>,
}

/// The jobs running in this process.
pub struct JobRegistry {
    live: Mutex<HashMap<i64, Live>>,
    /// How many job tasks are running: a job's task goes on after [`finish_job`] (its
    /// journal row, its audit entry), and a shutdown waits for that too.
    tasks: watch::Sender<usize>,
}

impl Default for JobRegistry {
    fn default() -> Self {
        JobRegistry {
            live: Mutex::default(),
            tasks: watch::Sender::new(0),
        }
    }
}

/// Counts a job task while it lives (see [`JobRegistry::spawn`]).
struct TaskGuard(Arc<JobRegistry>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.tasks.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl JobRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows a running job; `None` when it is not running here (read the row instead).
    pub fn subscribe(&self, id: i64) -> Option<watch::Receiver<Job>> {
        self.lock().get(&id).map(|l| l.tx.subscribe())
    }

    /// Asks a running job to stop. `false` when it is not running here.
    pub fn cancel(&self, id: i64) -> bool {
        match self.lock().get(&id) {
            Some(l) => {
                let _ = l.cancel.send(true);
                true
            }
            None => false,
        }
    }

    fn remove(&self, id: i64) {
        self.lock().remove(&id);
    }

    /// Runs a job's task in the background, counted until it has ended (its outcome
    /// journaled and audited), so that [`JobRegistry::stop_all`] can wait for it.
    pub fn spawn<F>(self: &Arc<Self>, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.send_modify(|n| *n += 1);
        let guard = TaskGuard(self.clone());
        tokio::spawn(async move {
            let _counted = guard;
            work.await
        })
    }

    /// Asks every running job to stop; returns how many were asked.
    pub fn cancel_all(&self) -> usize {
        let live = self.lock();
        for l in live.values() {
            let _ = l.cancel.send(true);
        }
        live.len()
    }

    /// Cancels every running job (and any that starts meanwhile) and waits until their
    /// tasks have ended, at most until `deadline`. Returns whether they all did.
    pub async fn stop_all(&self, deadline: tokio::time::Instant) -> bool {
        let mut tasks = self.tasks.subscribe();
        loop {
            self.cancel_all();
            if *tasks.borrow_and_update() == 0 {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let next = deadline.min(now + Duration::from_millis(100));
            let _ = tokio::time::timeout_at(next, tasks.changed()).await;
        }
    }
}

/// Creates a running job row and registers it. Returns the handle the worker reports
/// progress through.
pub async fn create(
    engine: &Engine,
    kind: JobKind,
    database: &str,
    first_phase: &str,
    actor: Option<&str>,
) -> sqlx::Result<JobHandle> {
    let now = Utc::now();
    let id = rows::insert_running(&engine.db, kind, database, first_phase, now, actor).await?;
    let job = fresh_job(id, kind, JobStatus::Running, database, first_phase, now);
    let job = Job {
        actor: actor.map(str::to_string),
        ..job
    };
    let (tx, _) = watch::channel(job);
    let (cancel_tx, cancel_rx) = watch::channel(false);
    engine.jobs.lock().insert(
        id,
        Live {
            tx: tx.clone(),
            cancel: cancel_tx,
        },
    );
    tracing::info!(job = id, kind = kind.as_str(), database, "job started");
    Ok(JobHandle {
        id,
        kind,
        db: engine.db.clone(),
        data_dir: engine.data_dir.clone(),
        registry: engine.jobs.clone(),
        tx,
        cancel: cancel_rx,
        last_persist: Instant::now(),
        started: Instant::now(),
        span: None,
    })
}

/// A piece of work run inside another job (a restore's safety backup): the inner work
/// reports its own phases and 0–100 %, the job shows them as `phase` between `lo` and
/// `hi` percent.
struct Span {
    phase: String,
    lo: f64,
    hi: f64,
    inner: Job,
}

/// What the worker of a running job holds.
pub struct JobHandle {
    pub id: i64,
    kind: JobKind,
    db: SqlitePool,
    /// Paths inside it are shown relative to it in the job's message.
    data_dir: PathBuf,
    registry: Arc<JobRegistry>,
    tx: watch::Sender<Job>,
    cancel: watch::Receiver<bool>,
    last_persist: Instant,
    started: Instant,
    span: Option<Span>,
}

impl JobHandle {
    /// The tracing span of this job's work: its id and kind on every log line.
    pub fn tracing_span(&self) -> tracing::Span {
        tracing::info_span!("job", id = self.id, kind = self.kind.as_str())
    }

    /// From now on, updates describe inner work shown as `phase` from `lo` to `hi` %.
    pub async fn begin_span(&mut self, phase: &str, lo: f64, hi: f64) {
        let mut inner = self.snapshot();
        inner.percent = 0.0;
        inner.current_item = None;
        self.span = Some(Span {
            phase: phase.into(),
            lo,
            hi,
            inner,
        });
        self.update(|_| {}).await;
    }

    /// Updates describe the job itself again.
    pub fn end_span(&mut self) {
        self.span = None;
    }

    pub fn snapshot(&self) -> Job {
        self.tx.borrow().clone()
    }

    /// A receiver that turns `true` when cancellation is requested.
    pub fn cancel_signal(&self) -> watch::Receiver<bool> {
        self.cancel.clone()
    }

    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Changes the live state; followers see it now, the row within [`PERSIST_EVERY`]
    /// (at once when the phase changed).
    pub async fn update(&mut self, f: impl FnOnce(&mut Job)) {
        let mut phase_changed = false;
        let elapsed = self.started.elapsed().as_millis() as i64;
        if let Some(span) = self.span.as_mut() {
            f(&mut span.inner);
            let (inner, lo, hi) = (&span.inner, span.lo, span.hi);
            self.tx.send_modify(|j| {
                let before = j.phase.clone();
                j.phase = span.phase.clone();
                j.percent = lo + (hi - lo) * inner.percent.clamp(0.0, 100.0) / 100.0;
                j.current_item = inner.current_item.clone();
                j.bytes_written = inner.bytes_written;
                j.backup_id = inner.backup_id;
                j.elapsed_ms = elapsed;
                phase_changed = before != j.phase;
            });
        } else {
            self.tx.send_modify(|j| {
                let before = j.phase.clone();
                f(j);
                j.elapsed_ms = elapsed;
                phase_changed = before != j.phase;
            });
        }
        if phase_changed || self.last_persist.elapsed() >= PERSIST_EVERY {
            self.persist().await;
        }
    }

    async fn persist(&mut self) {
        self.last_persist = Instant::now();
        let j = self.snapshot();
        if let Err(e) = rows::save_progress(&self.db, &j).await {
            // Progress is advisory; the outcome is written by finish_job.
            tracing::warn!(job = j.id, "could not store job progress: {e}");
        }
    }

    /// Removes the temporary file registered by [`JobHandle::set_temp_path`], if any (work
    /// run inside a job that goes on after it).
    pub async fn discard_temp_file(&self) -> sqlx::Result<()> {
        if let Some(p) = rows::temp_path(&self.db, self.id).await? {
            remove_quietly(&PathBuf::from(p));
        }
        self.set_temp_path(None).await
    }

    /// Remembers the temporary file this job may leave behind, so that a crash is cleaned
    /// up at the next start.
    pub async fn set_temp_path(&self, path: Option<&std::path::Path>) -> sqlx::Result<()> {
        rows::set_temp_path(&self.db, self.id, path).await
    }
}

/// The end of a job.
pub struct Outcome {
    pub status: JobStatus,
    pub message: String,
}

/// The one place a job ends: writes its terminal status and message, removes its
/// temporary file, tells its followers (who then see the stream end), and forgets it. The
/// message names files relative to the data directory (a tool's error output may hold
/// absolute paths); the log line keeps it as it was. When the row cannot be written (the
/// metadata database is full or locked), the job still ends for its followers and this
/// process, and the error is returned.
pub async fn finish_job(handle: JobHandle, outcome: Outcome) -> sqlx::Result<Job> {
    match rows::temp_path(&handle.db, handle.id).await {
        Ok(Some(p)) => remove_quietly(&PathBuf::from(p)),
        Ok(None) => {}
        Err(e) => tracing::warn!(job = handle.id, "cannot read the job's temporary file: {e}"),
    }
    let live = handle.snapshot();
    let succeeded = outcome.status == JobStatus::Succeeded;
    let percent = if succeeded { 100.0 } else { live.percent };
    let phase = if succeeded {
        app::api::phase::DONE.to_string()
    } else {
        live.phase.clone()
    };
    let message = storage::private::shown_text(&handle.data_dir, &outcome.message);
    let written = rows::finish(&handle.db, &live, outcome.status, &phase, percent, &message).await;
    let ended = Job {
        status: outcome.status.as_str().into(),
        phase,
        percent,
        message: Some(message),
        finished_at: Some(Utc::now()),
        ..live
    };
    let job = match &written {
        Ok(()) => rows::load(&handle.db, handle.id)
            .await
            .ok()
            .flatten()
            .unwrap_or(ended),
        Err(_) => ended,
    };
    let _ = handle.tx.send(job.clone());
    handle.registry.remove(handle.id);
    match written {
        Ok(()) => tracing::info!(
            job = handle.id,
            kind = handle.kind.as_str(),
            status = outcome.status.as_str(),
            "job finished: {}",
            outcome.message
        ),
        Err(e) => {
            tracing::error!(
                job = handle.id,
                kind = handle.kind.as_str(),
                status = outcome.status.as_str(),
                "job finished ({}), but its row could not be written: {e}",
                outcome.message
            );
            return Err(e);
        }
    }
    Ok(job)
}

/// What a job shows when even its outcome could not be recorded (the database failed
/// under it): failed, pointing at the log.
pub fn unrecorded(id: i64, kind: JobKind, database: &str) -> Job {
    let now = Utc::now();
    Job {
        finished_at: Some(now),
        message: Some("the outcome could not be recorded; see the server log".into()),
        ..fresh_job(
            id,
            kind,
            JobStatus::Failed,
            database,
            app::api::phase::PREFLIGHT,
            now,
        )
    }
}

/// A job as it starts: nothing done yet.
fn fresh_job(
    id: i64,
    kind: JobKind,
    status: JobStatus,
    database: &str,
    phase: &str,
    started_at: chrono::DateTime<Utc>,
) -> Job {
    Job {
        id,
        kind: kind.as_str().into(),
        status: status.as_str().into(),
        phase: phase.into(),
        percent: 0.0,
        current_item: None,
        bytes_written: 0,
        started_at,
        finished_at: None,
        elapsed_ms: 0,
        database: database.into(),
        backup_id: None,
        restore_id: None,
        file_name: None,
        location: None,
        size_bytes: None,
        sha256: None,
        message: None,
        actor: None,
    }
}

/// How long a phase took, for the journal.
pub fn timing(phase: &str, since: Instant) -> PhaseTiming {
    PhaseTiming {
        phase: phase.into(),
        ms: since.elapsed().as_millis() as i64,
    }
}

/// Aborts a task when dropped (its child processes are killed with it).
pub struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
