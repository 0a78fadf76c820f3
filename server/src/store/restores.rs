//! The `restores` table: the restore journal, one row per attempt.

use app::api::{PhaseTiming, Restore, RestoreOptions};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::SqlitePool;

/// Where a restore stands (the `status` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum RestoreStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl RestoreStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreStatus::Running => "running",
            RestoreStatus::Succeeded => "succeeded",
            RestoreStatus::Failed => "failed",
            RestoreStatus::Cancelled => "cancelled",
            RestoreStatus::Interrupted => "interrupted",
        }
    }
}

/// What was restored (the `source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Upload,
    Backup,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Upload => "upload",
            Source::Backup => "backup",
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    job_id: Option<i64>,
    database: String,
    source: Source,
    upload_id: Option<String>,
    backup_id: Option<i64>,
    file_name: String,
    sha256: Option<String>,
    safety_backup_id: Option<i64>,
    status: RestoreStatus,
    message: Option<String>,
    tool_output: Option<String>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    actor: Option<String>,
    timings: Json<Vec<PhaseTiming>>,
}

pub async fn get(db: &SqlitePool, id: i64) -> sqlx::Result<Option<Restore>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, job_id, database, source, upload_id, backup_id, file_name, sha256, safety_backup_id, status, message, tool_output, started_at, finished_at, duration_ms, actor, timings FROM restores WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Restore {
        id: r.id,
        job_id: r.job_id,
        database: r.database,
        source: r.source.as_str().into(),
        upload_id: r.upload_id,
        backup_id: r.backup_id,
        file_name: r.file_name,
        sha256: r.sha256,
        safety_backup_id: r.safety_backup_id,
        status: r.status.as_str().into(),
        message: r.message,
        tool_output: r.tool_output,
        started_at: r.started_at,
        finished_at: r.finished_at,
        duration_ms: r.duration_ms,
        actor: r.actor,
        timings: r.timings.0,
    }))
}

/// A new attempt, `running`.
pub struct NewRestore<'a> {
    pub job_id: i64,
    pub database: &'a str,
    pub source: Source,
    pub upload_id: Option<&'a str>,
    pub backup_id: Option<i64>,
    pub file_name: &'a str,
    pub sha256: &'a str,
    pub options: &'a RestoreOptions,
    pub started_at: DateTime<Utc>,
    pub actor: Option<&'a str>,
}

pub async fn insert(db: &SqlitePool, r: &NewRestore<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO restores (job_id, database, source, upload_id, backup_id, file_name, sha256, status, options, started_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?) RETURNING id",
    )
    .bind(r.job_id)
    .bind(r.database)
    .bind(r.source)
    .bind(r.upload_id)
    .bind(r.backup_id)
    .bind(r.file_name)
    .bind(r.sha256)
    .bind(serde_json::to_string(r.options).unwrap_or_else(|_| "{}".into()))
    .bind(r.started_at)
    .bind(r.actor)
    .fetch_one(db)
    .await
}

pub async fn set_safety_backup(
    db: &SqlitePool,
    id: i64,
    backup_id: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE restores SET safety_backup_id = ? WHERE id = ?")
        .bind(backup_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// How an attempt ended.
pub struct Outcome<'a> {
    pub status: RestoreStatus,
    pub message: &'a str,
    pub tool_output: Option<&'a str>,
    pub safety_backup_id: Option<i64>,
    pub duration_ms: i64,
    pub timings: &'a [PhaseTiming],
}

pub async fn finish(db: &SqlitePool, id: i64, o: &Outcome<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE restores SET status = ?, message = ?, tool_output = ?, safety_backup_id = ?, finished_at = ?, duration_ms = ?, timings = ? WHERE id = ?",
    )
    .bind(o.status)
    .bind(o.message)
    .bind(o.tool_output)
    .bind(o.safety_backup_id)
    .bind(Utc::now())
    .bind(o.duration_ms)
    .bind(serde_json::to_string(o.timings).unwrap_or_else(|_| "[]".into()))
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// The running restore of a job whose process died.
pub async fn mark_interrupted(db: &SqlitePool, job_id: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE restores SET status = 'interrupted', message = ?, finished_at = ? WHERE job_id = ? AND status = 'running'")
        .bind(message)
        .bind(Utc::now())
        .bind(job_id)
        .execute(db)
        .await?;
    Ok(())
}
