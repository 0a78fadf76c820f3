//! The `restores` table: the restore journal, one row per attempt.

use app::api::{PhaseTiming, Restore, RestoreOptions, TableProof};
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
    strategy: Option<String>,
    strategy_reason: Option<String>,
    new_database: Option<String>,
    kept_database: Option<String>,
    offline_ms: Option<i64>,
    proof: Json<Vec<TableProof>>,
    rolled_back_at: Option<DateTime<Utc>>,
    rolled_back_database: Option<String>,
    rollback_offline_ms: Option<i64>,
}

const COLUMNS: &str = "id, job_id, database, source, upload_id, backup_id, file_name, sha256, safety_backup_id, status, message, tool_output, started_at, finished_at, duration_ms, actor, timings, strategy, strategy_reason, new_database, kept_database, offline_ms, proof, rolled_back_at, rolled_back_database, rollback_offline_ms";

impl From<Row> for Restore {
    fn from(r: Row) -> Restore {
        Restore {
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
            strategy: r.strategy,
            strategy_reason: r.strategy_reason,
            new_database: r.new_database,
            kept_database: r.kept_database,
            offline_ms: r.offline_ms,
            proof: r.proof.0,
            rolled_back_at: r.rolled_back_at,
            rolled_back_database: r.rolled_back_database,
            rollback_offline_ms: r.rollback_offline_ms,
        }
    }
}

pub async fn get(db: &SqlitePool, id: i64) -> sqlx::Result<Option<Restore>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM restores WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(Restore::from))
}

/// The restore that kept (or set aside) the database `name`, if any.
pub async fn by_kept_database(db: &SqlitePool, name: &str) -> sqlx::Result<Option<Restore>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM restores WHERE kept_database = ?1 OR rolled_back_database = ?1 ORDER BY id DESC LIMIT 1"
    ))
    .bind(name)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Restore::from))
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
    pub strategy: &'a str,
    pub strategy_reason: &'a str,
    pub new_database: Option<&'a str>,
}

pub async fn insert(db: &SqlitePool, r: &NewRestore<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO restores (job_id, database, source, upload_id, backup_id, file_name, sha256, status, options, started_at, actor, strategy, strategy_reason, new_database) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?) RETURNING id",
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
    .bind(r.strategy)
    .bind(r.strategy_reason)
    .bind(r.new_database)
    .fetch_all(db)
    .await
    .and_then(super::first)
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

/// The database a restore goes into, when it is not the live one.
pub async fn set_new_database(db: &SqlitePool, id: i64, name: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("UPDATE restores SET new_database = ? WHERE id = ?")
        .bind(name)
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
    pub proof: &'a [TableProof],
    /// Swap: the name the live database was kept under, and the offline time.
    pub kept_database: Option<&'a str>,
    pub offline_ms: Option<i64>,
}

pub async fn finish(db: &SqlitePool, id: i64, o: &Outcome<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE restores SET status = ?, message = ?, tool_output = ?, safety_backup_id = ?, finished_at = ?, duration_ms = ?, timings = ?, proof = ?, kept_database = ?, offline_ms = ? WHERE id = ?",
    )
    .bind(o.status)
    .bind(o.message)
    .bind(o.tool_output)
    .bind(o.safety_backup_id)
    .bind(Utc::now())
    .bind(o.duration_ms)
    .bind(serde_json::to_string(o.timings).unwrap_or_else(|_| "[]".into()))
    .bind(serde_json::to_string(o.proof).unwrap_or_else(|_| "[]".into()))
    .bind(o.kept_database)
    .bind(o.offline_ms)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// A swap restore undone: the restored database was set aside as `set_aside`.
pub async fn rolled_back(
    db: &SqlitePool,
    id: i64,
    set_aside: &str,
    offline_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE restores SET rolled_back_at = ?, rolled_back_database = ?, rollback_offline_ms = ? WHERE id = ?")
        .bind(Utc::now())
        .bind(set_aside)
        .bind(offline_ms)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The GRANT statements an in-place restore must give back while it keeps the
/// application out; `None` once given back.
pub async fn set_gate(db: &SqlitePool, id: i64, grants: Option<&[String]>) -> sqlx::Result<()> {
    sqlx::query("UPDATE restores SET gate = ? WHERE id = ?")
        .bind(grants.map(|g| serde_json::to_string(g).unwrap_or_else(|_| "[]".into())))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// What an interrupted restore of job `job_id` left on the database server: its id, the
/// database it was restoring into (not swapped in) and the rights still taken away.
pub struct Leftovers {
    pub id: i64,
    pub database: String,
    pub new_database: Option<String>,
    pub gate: Vec<String>,
}

pub async fn leftovers(db: &SqlitePool, job_id: i64) -> sqlx::Result<Option<Leftovers>> {
    let row: Option<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, database, CASE WHEN kept_database IS NULL AND status <> 'succeeded' THEN new_database END, gate FROM restores WHERE job_id = ?",
    )
    .bind(job_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, database, new_database, gate)| Leftovers {
        id,
        database,
        new_database,
        gate: gate
            .and_then(|g| serde_json::from_str(&g).ok())
            .unwrap_or_default(),
    }))
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

/// Which swap of names a [`Swap`] row stands for (the `kind` column of `swaps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum SwapKind {
    /// The restored database swapped in; the live one set aside.
    Restore,
    /// A swap restore undone: the kept database swapped back in.
    Rollback,
}

/// A swap of database names in progress, or interrupted: `incoming` is to take the name
/// `live`, whose database is set aside as `aside`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Swap {
    pub id: i64,
    pub restore_id: i64,
    pub kind: SwapKind,
    pub live: String,
    pub incoming: String,
    pub aside: String,
}

/// Writes down a swap before its first statement; returns its id.
pub async fn swap_begins(
    db: &SqlitePool,
    restore_id: i64,
    kind: SwapKind,
    live: &str,
    incoming: &str,
    aside: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO swaps (restore_id, kind, live, incoming, aside, started_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(restore_id)
    .bind(kind)
    .bind(live)
    .bind(incoming)
    .bind(aside)
    .bind(Utc::now())
    .fetch_all(db)
    .await
    .and_then(super::first)
}

/// The swap is over (done or undone).
pub async fn swap_ended(db: &SqlitePool, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM swaps WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Swaps that began and never ended: the process died in between.
pub async fn unfinished_swaps(db: &SqlitePool) -> sqlx::Result<Vec<Swap>> {
    sqlx::query_as("SELECT id, restore_id, kind, live, incoming, aside FROM swaps ORDER BY id")
        .fetch_all(db)
        .await
}

/// A swap found complete after a crash: the restore's (or roll back's) database set aside
/// is recorded as if the job had recorded it (no offline time was measured).
pub async fn swap_completed(db: &SqlitePool, s: &Swap) -> sqlx::Result<()> {
    let q = match s.kind {
        SwapKind::Restore => {
            "UPDATE restores SET kept_database = ? WHERE id = ? AND kept_database IS NULL"
        }
        SwapKind::Rollback => {
            "UPDATE restores SET rolled_back_database = ?, rolled_back_at = ? WHERE id = ? AND rolled_back_database IS NULL"
        }
    };
    let mut query = sqlx::query(q).bind(&s.aside);
    if s.kind == SwapKind::Rollback {
        query = query.bind(Utc::now());
    }
    query.bind(s.restore_id).execute(db).await?;
    Ok(())
}

/// The archive's size and the `restore` phase's time of the last successful restore of
/// `database` that replaced its contents (in place or swap), for estimates.
pub async fn last_restore_speed(
    db: &SqlitePool,
    database: &str,
) -> sqlx::Result<Option<(i64, i64)>> {
    let row: Option<(Option<i64>, String)> = sqlx::query_as(
        "SELECT COALESCE(b.size_bytes, u.size_bytes), r.timings FROM restores r LEFT JOIN backups b ON b.id = r.backup_id LEFT JOIN uploads u ON u.id = r.upload_id WHERE r.database = ? AND r.status = 'succeeded' AND COALESCE(r.strategy, 'in_place') IN ('in_place', 'swap') ORDER BY r.id DESC LIMIT 1",
    )
    .bind(database)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|(bytes, timings)| {
        let phases: Vec<PhaseTiming> = serde_json::from_str(&timings).ok()?;
        let ms = phases.iter().find(|t| t.phase == "restore")?.ms;
        Some((bytes?, ms))
    }))
}
