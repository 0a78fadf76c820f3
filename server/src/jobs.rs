//! Jobs: long pieces of work (backups, later restores) that run on the server whatever the
//! browser does. A job is a row in `jobs`; while it runs, the [`JobRegistry`] holds its
//! live state (a `watch` channel every follower reads, so a slow follower simply gets the
//! newest state) and its cancellation switch. Progress reaches followers at once and the
//! row at most every [`PERSIST_EVERY`]. [`finish_job`] is the only way a job ends.

use app::api::{job_status, Job};
use chrono::Utc;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often progress is written to the `jobs` row (followers see every update).
pub const PERSIST_EVERY: Duration = Duration::from_millis(500);

const JOB_COLUMNS: &str = "id, kind, status, phase, percent, current_item, bytes_written, started_at, finished_at, database, backup_id, restore_id, message, actor";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    status: String,
    phase: String,
    percent: f64,
    current_item: Option<String>,
    bytes_written: i64,
    started_at: chrono::DateTime<Utc>,
    finished_at: Option<chrono::DateTime<Utc>>,
    database: String,
    backup_id: Option<i64>,
    restore_id: Option<i64>,
    message: Option<String>,
    actor: Option<String>,
}

impl JobRow {
    fn into_job(self) -> Job {
        let end = self.finished_at.unwrap_or_else(Utc::now);
        Job {
            id: self.id,
            kind: self.kind,
            status: self.status,
            phase: self.phase,
            percent: self.percent,
            current_item: self.current_item,
            bytes_written: self.bytes_written,
            started_at: self.started_at,
            finished_at: self.finished_at,
            elapsed_ms: (end - self.started_at).num_milliseconds().max(0),
            database: self.database,
            backup_id: self.backup_id,
            restore_id: self.restore_id,
            file_name: None,
            location: None,
            size_bytes: None,
            sha256: None,
            message: self.message,
            actor: self.actor,
        }
    }
}

#[derive(sqlx::FromRow)]
struct FileColumns {
    file_name: Option<String>,
    location: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LeftRunning {
    id: i64,
    kind: String,
    backup_id: Option<i64>,
    database: String,
    actor: Option<String>,
    temp_path: Option<String>,
}

/// Reads a job from its row, filling in the backup's file details when there is one.
pub async fn load(db: &SqlitePool, id: i64) -> sqlx::Result<Option<Job>> {
    let row: Option<JobRow> =
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(db)
            .await?;
    let Some(mut job) = row.map(JobRow::into_job) else {
        return Ok(None);
    };
    if let Some(bid) = job.backup_id {
        let b: Option<FileColumns> = sqlx::query_as(
            "SELECT file_name, location, size_bytes, sha256 FROM backups WHERE id = ?",
        )
        .bind(bid)
        .fetch_optional(db)
        .await?;
        if let Some(f) = b {
            job.file_name = f.file_name;
            job.location = f.location;
            job.size_bytes = f.size_bytes;
            job.sha256 = f.sha256;
        }
    }
    Ok(Some(job))
}

/// The job running for `database`, if any.
pub async fn running_for(db: &SqlitePool, database: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM jobs WHERE database = ? AND status IN ('queued', 'running') ORDER BY id DESC LIMIT 1")
        .bind(database)
        .fetch_optional(db)
        .await
}

struct Live {
    tx: watch::Sender<Job>,
    cancel: watch::Sender<bool>,
}

/// The jobs running in this process.
#[derive(Default)]
pub struct JobRegistry {
    live: Mutex<HashMap<i64, Live>>,
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
}

/// Creates a running job row and registers it. Returns the handle the worker reports
/// progress through.
pub async fn create(
    db: &SqlitePool,
    registry: &Arc<JobRegistry>,
    kind: &str,
    database: &str,
    first_phase: &str,
    actor: Option<&str>,
) -> sqlx::Result<JobHandle> {
    let now = Utc::now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, database, status, phase, started_at, actor) VALUES (?, ?, 'running', ?, ?, ?) RETURNING id",
    )
    .bind(kind)
    .bind(database)
    .bind(first_phase)
    .bind(now)
    .bind(actor)
    .fetch_one(db)
    .await?;
    let job = Job {
        id,
        kind: kind.into(),
        status: job_status::RUNNING.into(),
        phase: first_phase.into(),
        percent: 0.0,
        current_item: None,
        bytes_written: 0,
        started_at: now,
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
        actor: actor.map(str::to_string),
    };
    let (tx, _) = watch::channel(job);
    let (cancel_tx, cancel_rx) = watch::channel(false);
    registry.lock().insert(
        id,
        Live {
            tx: tx.clone(),
            cancel: cancel_tx,
        },
    );
    Ok(JobHandle {
        id,
        db: db.clone(),
        registry: registry.clone(),
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
    db: SqlitePool,
    registry: Arc<JobRegistry>,
    tx: watch::Sender<Job>,
    cancel: watch::Receiver<bool>,
    last_persist: Instant,
    started: Instant,
    span: Option<Span>,
}

impl JobHandle {
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
        let r = sqlx::query(
            "UPDATE jobs SET phase = ?, percent = ?, current_item = ?, bytes_written = ?, backup_id = ?, restore_id = ? WHERE id = ? AND status = 'running'",
        )
        .bind(&j.phase)
        .bind(j.percent)
        .bind(&j.current_item)
        .bind(j.bytes_written)
        .bind(j.backup_id)
        .bind(j.restore_id)
        .bind(j.id)
        .execute(&self.db)
        .await;
        if let Err(e) = r {
            // Progress is advisory; the outcome is written by finish_job.
            tracing::warn!(job = j.id, "could not store job progress: {e}");
        }
    }

    /// Removes the temporary file registered by [`JobHandle::set_temp_path`], if any (work
    /// run inside a job that goes on after it).
    pub async fn discard_temp_file(&self) -> sqlx::Result<()> {
        let temp: Option<Option<String>> =
            sqlx::query_scalar("SELECT temp_path FROM jobs WHERE id = ?")
                .bind(self.id)
                .fetch_optional(&self.db)
                .await?;
        if let Some(Some(p)) = temp {
            remove_quietly(&PathBuf::from(p));
        }
        self.set_temp_path(None).await
    }

    /// Remembers the temporary file this job may leave behind, so that a crash is cleaned
    /// up at the next start.
    pub async fn set_temp_path(&self, path: Option<&std::path::Path>) -> sqlx::Result<()> {
        sqlx::query("UPDATE jobs SET temp_path = ? WHERE id = ?")
            .bind(path.map(|p| p.display().to_string()))
            .bind(self.id)
            .execute(&self.db)
            .await?;
        Ok(())
    }
}

/// The end of a job.
pub struct Outcome {
    /// succeeded, failed, cancelled (see [`job_status`]).
    pub status: &'static str,
    pub message: String,
}

/// The one place a job ends: writes its terminal status and message, removes its
/// temporary file, tells its followers (who then see the stream end), and forgets it.
pub async fn finish_job(handle: JobHandle, outcome: Outcome) -> sqlx::Result<Job> {
    let now = Utc::now();
    let temp: Option<Option<String>> =
        sqlx::query_scalar("SELECT temp_path FROM jobs WHERE id = ?")
            .bind(handle.id)
            .fetch_optional(&handle.db)
            .await?;
    if let Some(Some(p)) = temp {
        remove_quietly(&PathBuf::from(p));
    }
    let live = handle.snapshot();
    let percent = if outcome.status == job_status::SUCCEEDED {
        100.0
    } else {
        live.percent
    };
    let phase = if outcome.status == job_status::SUCCEEDED {
        app::api::phase::DONE.to_string()
    } else {
        live.phase.clone()
    };
    sqlx::query(
        "UPDATE jobs SET status = ?, phase = ?, percent = ?, current_item = ?, bytes_written = ?, message = ?, finished_at = ?, backup_id = ?, temp_path = NULL WHERE id = ?",
    )
    .bind(outcome.status)
    .bind(&phase)
    .bind(percent)
    .bind(&live.current_item)
    .bind(live.bytes_written)
    .bind(&outcome.message)
    .bind(now)
    .bind(live.backup_id)
    .bind(handle.id)
    .execute(&handle.db)
    .await?;
    let job = load(&handle.db, handle.id).await?.unwrap_or(live);
    let _ = handle.tx.send(job.clone());
    handle.registry.remove(handle.id);
    Ok(job)
}

fn remove_quietly(p: &std::path::Path) {
    match std::fs::remove_file(p) {
        Ok(()) => tracing::info!("removed temporary file {}", p.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("could not remove temporary file {}: {e}", p.display()),
    }
}

/// A job found `running` at start-up, now marked interrupted.
pub struct Interrupted {
    pub job_id: i64,
    /// `backup` or `restore`.
    pub kind: String,
    pub backup_id: Option<i64>,
    pub database: String,
    pub actor: Option<String>,
}

/// Jobs left `running` by a process that died become `interrupted`, with their temporary
/// files removed. `is_dead(database)` says whether nothing can still be running jobs for
/// that database (its lock is free, or held by the caller). Returns the jobs so their
/// backups can be journaled and audited.
pub async fn sweep_interrupted(
    db: &SqlitePool,
    is_dead: impl Fn(&str) -> bool,
) -> sqlx::Result<Vec<Interrupted>> {
    let rows: Vec<LeftRunning> = sqlx::query_as(
        "SELECT id, kind, backup_id, database, actor, temp_path FROM jobs WHERE status IN ('queued', 'running')",
    )
    .fetch_all(db)
    .await?;
    let mut out = vec![];
    for LeftRunning {
        id,
        kind,
        backup_id,
        database,
        actor,
        temp_path: temp,
    } in rows
    {
        if !is_dead(&database) {
            continue;
        }
        if let Some(p) = temp {
            remove_quietly(&PathBuf::from(p));
        }
        sqlx::query(
            "UPDATE jobs SET status = 'interrupted', finished_at = ?, temp_path = NULL, message = 'Lifeboat stopped while this job was running; its temporary file was removed.' WHERE id = ?",
        )
        .bind(Utc::now())
        .bind(id)
        .execute(db)
        .await?;
        out.push(Interrupted {
            job_id: id,
            kind,
            backup_id,
            database,
            actor,
        });
    }
    Ok(out)
}
