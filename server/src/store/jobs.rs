//! The `jobs` table: one row per long piece of work, which *is* its state. Every read and
//! write of it is here.

use app::api::Job;
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use std::path::Path;

/// Where a job stands (the `status` column, held to these by a CHECK constraint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Lifeboat stopped while the job ran; found at the next start-up.
    Interrupted,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a job does (the `kind` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum JobKind {
    Backup,
    Restore,
    /// A backup restored into a scratch database and proven.
    #[sqlx(rename = "test_restore")]
    TestRestore,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Restore => "restore",
            JobKind::TestRestore => "test_restore",
        }
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    status: String,
    phase: String,
    percent: f64,
    current_item: Option<String>,
    bytes_written: i64,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
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

/// Reads a job from its row, filling in the backup's file details when there is one.
pub async fn load(db: &SqlitePool, id: i64) -> sqlx::Result<Option<Job>> {
    let row: Option<JobRow> = sqlx::query_as(
        "SELECT id, kind, status, phase, percent, current_item, bytes_written, started_at, finished_at, database, backup_id, restore_id, message, actor FROM jobs WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    let Some(mut job) = row.map(JobRow::into_job) else {
        return Ok(None);
    };
    if let Some(bid) = job.backup_id {
        if let Some(f) = super::backups::file_columns(db, bid).await? {
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

/// A new job, `running` from `started_at`.
pub async fn insert_running(
    db: &SqlitePool,
    kind: JobKind,
    database: &str,
    phase: &str,
    started_at: DateTime<Utc>,
    actor: Option<&str>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, database, status, phase, started_at, actor) VALUES (?, ?, 'running', ?, ?, ?) RETURNING id",
    )
    .bind(kind)
    .bind(database)
    .bind(phase)
    .bind(started_at)
    .bind(actor)
    .fetch_all(db)
    .await
    .and_then(super::first)
}

/// Progress of a running job (advisory: the outcome is written by [`finish`]).
pub async fn save_progress(db: &SqlitePool, j: &Job) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET phase = ?, percent = ?, current_item = ?, bytes_written = ?, backup_id = ?, restore_id = ? WHERE id = ? AND status = 'running'",
    )
    .bind(&j.phase)
    .bind(j.percent)
    .bind(&j.current_item)
    .bind(j.bytes_written)
    .bind(j.backup_id)
    .bind(j.restore_id)
    .bind(j.id)
    .execute(db)
    .await?;
    Ok(())
}

/// The temporary file a job may leave behind.
pub async fn temp_path(db: &SqlitePool, id: i64) -> sqlx::Result<Option<String>> {
    let p: Option<Option<String>> = sqlx::query_scalar("SELECT temp_path FROM jobs WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(p.flatten())
}

pub async fn set_temp_path(db: &SqlitePool, id: i64, path: Option<&Path>) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET temp_path = ? WHERE id = ?")
        .bind(path.map(|p| p.display().to_string()))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The terminal state of a job, from its last live state.
pub async fn finish(
    db: &SqlitePool,
    live: &Job,
    status: JobStatus,
    phase: &str,
    percent: f64,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET status = ?, phase = ?, percent = ?, current_item = ?, bytes_written = ?, message = ?, finished_at = ?, backup_id = ?, temp_path = NULL WHERE id = ?",
    )
    .bind(status)
    .bind(phase)
    .bind(percent)
    .bind(&live.current_item)
    .bind(live.bytes_written)
    .bind(message)
    .bind(Utc::now())
    .bind(live.backup_id)
    .bind(live.id)
    .execute(db)
    .await?;
    Ok(())
}

/// A job still marked running (or queued).
#[derive(sqlx::FromRow)]
pub struct LeftRunning {
    pub id: i64,
    pub kind: JobKind,
    pub backup_id: Option<i64>,
    pub database: String,
    pub actor: Option<String>,
    pub temp_path: Option<String>,
}

pub async fn left_running(db: &SqlitePool) -> sqlx::Result<Vec<LeftRunning>> {
    sqlx::query_as(
        "SELECT id, kind, backup_id, database, actor, temp_path FROM jobs WHERE status IN ('queued', 'running')",
    )
    .fetch_all(db)
    .await
}

/// A job left running by a process that died: only a row still `queued` or `running`
/// changes (one that ended meanwhile keeps its outcome). Returns whether it changed.
pub async fn mark_interrupted(db: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'interrupted', finished_at = ?, temp_path = NULL, message = 'Lifeboat stopped while this job was running; its temporary file was removed.' WHERE id = ? AND status IN ('queued', 'running')",
    )
    .bind(Utc::now())
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A backup job whose process died after its file was stored and before the end was
/// recorded, once the file was adopted at start-up: succeeded, with how it was found.
/// Only a row still `queued` or `running` changes.
pub async fn mark_recovered(db: &SqlitePool, id: i64, message: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'succeeded', phase = 'done', percent = 100, current_item = NULL, finished_at = ?, temp_path = NULL, message = ? WHERE id = ? AND kind = 'backup' AND status IN ('queued', 'running')",
    )
    .bind(Utc::now())
    .bind(message)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
