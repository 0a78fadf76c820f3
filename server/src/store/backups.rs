//! The `backups` table: the journal, one row per backup attempt. Every read and write of
//! it is here; the rest of the server sees typed rows and statuses.

use app::api::{BackupDetail, BackupPage, PhaseTiming};
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

/// Where a backup stands (the `status` column; a CHECK constraint keeps it to these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum BackupStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
    /// Removed by retention or by hand; the row stays with the reason.
    Deleted,
    /// `lifeboat verify` found the file changed: no longer a restore point.
    Corrupted,
}

impl BackupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::Running => "running",
            BackupStatus::Succeeded => "succeeded",
            BackupStatus::Failed => "failed",
            BackupStatus::Cancelled => "cancelled",
            BackupStatus::Interrupted => "interrupted",
            BackupStatus::Deleted => "deleted",
            BackupStatus::Corrupted => "corrupted",
        }
    }
}

impl std::fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a backup was taken (the `kind` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum BackupKind {
    Manual,
    Scheduled,
    /// Taken before a restore; pinned.
    Safety,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Manual => "manual",
            BackupKind::Scheduled => "scheduled",
            BackupKind::Safety => "safety",
        }
    }
}

/// The offsite copy's state (the `offsite_status` column; `NULL`: no offsite storage).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum OffsiteStatus {
    Pending,
    Copied,
    /// Retried on the next run.
    Failed,
    /// Removed by offsite retention.
    Deleted,
}

/// One journal row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Backup {
    pub id: i64,
    pub job_id: Option<i64>,
    pub database: String,
    pub kind: BackupKind,
    pub status: BackupStatus,
    pub file_name: Option<String>,
    /// Relative to the data directory: `backups/<db>/<file>`.
    pub location: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub actor: Option<String>,
    pub message: Option<String>,
    pub pinned: bool,
    pub offsite_status: Option<OffsiteStatus>,
    pub offsite_message: Option<String>,
    /// The pg_dump that made it and why; the compression it used (`gzip:1`).
    pub client: Option<String>,
    pub compression: Option<String>,
}

/// How far ahead of the clock a timestamp may be before it is taken for a wrong clock.
pub const CLOCK_TOLERANCE: chrono::Duration = chrono::Duration::seconds(60);

impl Backup {
    /// Whether the row is stamped in the future: the wall clock was wrong when it was
    /// written, or is now. Its age cannot be known.
    pub fn stamped_in_future(&self, now: DateTime<Utc>) -> bool {
        let latest = self
            .finished_at
            .unwrap_or(self.started_at)
            .max(self.started_at);
        latest > now + CLOCK_TOLERANCE
    }

    /// The row as the API sends it.
    pub fn to_wire(&self) -> app::api::Backup {
        app::api::Backup {
            id: self.id,
            job_id: self.job_id,
            database: self.database.clone(),
            kind: self.kind.as_str().into(),
            status: self.status.as_str().into(),
            file_name: self.file_name.clone(),
            location: self.location.clone(),
            size_bytes: self.size_bytes,
            sha256: self.sha256.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            duration_ms: self.duration_ms,
            actor: self.actor.clone(),
            message: self.message.clone(),
            pinned: self.pinned,
            offsite_status: self.offsite_status.map(|s| {
                match s {
                    OffsiteStatus::Pending => "pending",
                    OffsiteStatus::Copied => "copied",
                    OffsiteStatus::Failed => "failed",
                    OffsiteStatus::Deleted => "deleted",
                }
                .into()
            }),
            client: self.client.clone(),
            compression: self.compression.clone(),
            offsite_message: self.offsite_message.clone(),
            restorable: None,
        }
    }
}

/// The columns of [`Backup`], in a SELECT with the rest of the statement appended at
/// compile time.
macro_rules! select_backups {
    ($rest:literal) => {
        concat!(
            "SELECT id, job_id, database, kind, status, file_name, location, size_bytes, sha256, started_at, finished_at, duration_ms, actor, message, pinned, offsite_status, offsite_message, client, compression FROM backups ",
            $rest
        )
    };
}

pub async fn list(db: &SqlitePool, limit: i64, offset: i64) -> sqlx::Result<BackupPage> {
    let items: Vec<Backup> = sqlx::query_as(select_backups!("ORDER BY id DESC LIMIT ? OFFSET ?"))
        .bind(limit.clamp(1, 500))
        .bind(offset.max(0))
        .fetch_all(db)
        .await?;
    let total = sqlx::query_scalar("SELECT COUNT(*) FROM backups")
        .fetch_one(db)
        .await?;
    let ids: Vec<i64> = items.iter().map(|b| b.id).collect();
    let mut proven = super::test_restores::newest_of(db, &ids).await?;
    Ok(BackupPage {
        items: items
            .iter()
            .map(|b| app::api::Backup {
                restorable: proven.remove(&b.id),
                ..b.to_wire()
            })
            .collect(),
        total,
    })
}

pub async fn get(db: &SqlitePool, id: i64) -> sqlx::Result<Option<Backup>> {
    sqlx::query_as(select_backups!("WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn detail(db: &SqlitePool, id: i64) -> sqlx::Result<Option<BackupDetail>> {
    let Some(backup) = get(db, id).await? else {
        return Ok(None);
    };
    #[derive(sqlx::FromRow)]
    struct More {
        tool_output: Option<String>,
        exit_status: Option<String>,
        server_version: Option<String>,
        pg_dump_version: Option<String>,
        archive_version: Option<String>,
        timings: String,
    }
    let more: More = sqlx::query_as(
        "SELECT tool_output, exit_status, server_version, pg_dump_version, archive_version, timings FROM backups WHERE id = ?",
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    let restorable = super::test_restores::newest_of(db, &[id])
        .await?
        .remove(&id);
    Ok(Some(BackupDetail {
        backup: app::api::Backup {
            restorable,
            ..backup.to_wire()
        },
        tool_output: more.tool_output,
        exit_status: more.exit_status,
        server_version: more.server_version,
        pg_dump_version: more.pg_dump_version,
        archive_version: more.archive_version,
        timings: serde_json::from_str(&more.timings).unwrap_or_default(),
    }))
}

/// The newest attempt to back up `database`, whatever its outcome.
pub async fn newest(db: &SqlitePool, database: &str) -> sqlx::Result<Option<Backup>> {
    sqlx::query_as(select_backups!(
        "WHERE database = ? ORDER BY id DESC LIMIT 1"
    ))
    .bind(database)
    .fetch_optional(db)
    .await
}

/// The newest successful backup of `database`, by the journal's own sequence (its row
/// id): the wall clock that stamped `finished_at` may have been wrong.
pub async fn last_success(db: &SqlitePool, database: &str) -> sqlx::Result<Option<Backup>> {
    sqlx::query_as(select_backups!(
        "WHERE database = ? AND status = 'succeeded' ORDER BY id DESC LIMIT 1"
    ))
    .bind(database)
    .fetch_optional(db)
    .await
}

/// Bytes and count of stored (succeeded) backups.
pub async fn usage(db: &SqlitePool) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(size_bytes), 0), COUNT(*) FROM backups WHERE status = 'succeeded'",
    )
    .fetch_one(db)
    .await
}

/// The ids of every stored backup, newest (by sequence) first.
pub async fn succeeded_ids(db: &SqlitePool) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM backups WHERE status = 'succeeded' ORDER BY id DESC")
        .fetch_all(db)
        .await
}

/// Where the journal says files are (relative to the data directory).
pub async fn known_locations(db: &SqlitePool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT location FROM backups WHERE location IS NOT NULL")
        .fetch_all(db)
        .await
}

/// A new attempt, `running`.
pub struct NewBackup<'a> {
    pub job_id: i64,
    pub database: &'a str,
    pub kind: BackupKind,
    pub started_at: DateTime<Utc>,
    pub actor: Option<&'a str>,
    pub pinned: bool,
}

pub async fn insert(db: &SqlitePool, b: &NewBackup<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO backups (job_id, database, kind, status, started_at, actor, pinned) VALUES (?, ?, ?, 'running', ?, ?, ?) RETURNING id",
    )
    .bind(b.job_id)
    .bind(b.database)
    .bind(b.kind)
    .bind(b.started_at)
    .bind(b.actor)
    .bind(b.pinned)
    .fetch_all(db)
    .await
    .and_then(super::first)
}

/// The stored file of a successful attempt.
pub struct StoredFile {
    pub file_name: String,
    pub location: String,
    pub size: i64,
    pub sha256: String,
}

/// How an attempt ended, with everything that explains it.
pub struct Outcome<'a> {
    pub status: BackupStatus,
    pub message: &'a str,
    pub duration_ms: i64,
    pub stored: Option<&'a StoredFile>,
    pub tool_output: Option<&'a str>,
    pub exit_status: Option<&'a str>,
    pub server_version: Option<&'a str>,
    pub pg_dump_version: Option<&'a str>,
    pub client: Option<&'a str>,
    pub compression: Option<&'a str>,
    pub archive_version: Option<&'a str>,
    pub timings: &'a [PhaseTiming],
    /// The rows per table, as JSON (`pgtools::rows::to_json`).
    pub row_counts: Option<&'a str>,
}

pub async fn finish(db: &SqlitePool, id: i64, o: &Outcome<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backups SET status = ?, message = ?, finished_at = ?, duration_ms = ?, file_name = ?, location = ?, size_bytes = ?, sha256 = ?, tool_output = ?, exit_status = ?, server_version = ?, pg_dump_version = ?, archive_version = ?, timings = ?, row_counts = ?, client = ?, compression = ? WHERE id = ?",
    )
    .bind(o.status)
    .bind(o.message)
    .bind(Utc::now())
    .bind(o.duration_ms)
    .bind(o.stored.map(|s| s.file_name.as_str()))
    .bind(o.stored.map(|s| s.location.as_str()))
    .bind(o.stored.map(|s| s.size))
    .bind(o.stored.map(|s| s.sha256.as_str()))
    .bind(o.tool_output)
    .bind(o.exit_status)
    .bind(o.server_version)
    .bind(o.pg_dump_version)
    .bind(o.archive_version)
    .bind(serde_json::to_string(o.timings).unwrap_or_else(|_| "[]".into()))
    .bind(o.row_counts)
    .bind(o.client)
    .bind(o.compression)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// A running attempt whose process died.
pub async fn mark_interrupted(db: &SqlitePool, id: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backups SET status = 'interrupted', message = ?, finished_at = ? WHERE id = ? AND status = 'running'",
    )
    .bind(message)
    .bind(Utc::now())
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// A stored backup whose file is gone: the row keeps the reason.
pub async fn mark_deleted(db: &SqlitePool, id: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE backups SET status = 'deleted', location = NULL, message = ? WHERE id = ?")
        .bind(format!("deleted: {reason}"))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// A stored backup whose file no longer matches: only a row still `succeeded` changes
/// (one deleted or re-marked meanwhile keeps its status). Returns whether it changed.
pub async fn mark_corrupted(db: &SqlitePool, id: i64, message: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backups SET status = 'corrupted', message = ? WHERE id = ? AND status = 'succeeded'",
    )
    .bind(message)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a backup's sidecar says of a stored file the journal never recorded.
pub struct Adopted<'a> {
    pub stored: &'a StoredFile,
    pub message: &'a str,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: Option<i64>,
    pub server_version: Option<&'a str>,
    pub pg_dump_version: Option<&'a str>,
    pub archive_version: Option<&'a str>,
    pub timings: &'a str,
    pub row_counts: Option<&'a str>,
}

/// Records a complete, verified file whose end was never journaled (the process died, or
/// the journal write failed, after it was moved into place): only a row still `running`
/// or `interrupted` becomes `succeeded`. Returns whether it did.
pub async fn adopt(db: &SqlitePool, id: i64, a: &Adopted<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backups SET status = 'succeeded', message = ?, finished_at = ?, duration_ms = ?, file_name = ?, location = ?, size_bytes = ?, sha256 = ?, server_version = COALESCE(?, server_version), pg_dump_version = COALESCE(?, pg_dump_version), archive_version = ?, timings = ?, row_counts = ? WHERE id = ? AND status IN ('running', 'interrupted')",
    )
    .bind(a.message)
    .bind(a.finished_at)
    .bind(a.duration_ms)
    .bind(&a.stored.file_name)
    .bind(&a.stored.location)
    .bind(a.stored.size)
    .bind(&a.stored.sha256)
    .bind(a.server_version)
    .bind(a.pg_dump_version)
    .bind(a.archive_version)
    .bind(a.timings)
    .bind(a.row_counts)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_pinned(db: &SqlitePool, id: i64, pinned: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE backups SET pinned = ? WHERE id = ?")
        .bind(pinned)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// What retention needs to know of a row (`retention::Candidate`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RetentionRow {
    pub id: i64,
    pub kind: BackupKind,
    pub status: BackupStatus,
    pub pinned: bool,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Every row of `database`, as retention weighs them.
pub async fn retention_candidates(
    db: &SqlitePool,
    database: &str,
) -> sqlx::Result<Vec<RetentionRow>> {
    sqlx::query_as("SELECT id, kind, status, pinned, finished_at FROM backups WHERE database = ?")
        .bind(database)
        .fetch_all(db)
        .await
}

/// The last outcomes of `database` (newest by sequence first, safety backups aside): id, whether
/// it succeeded, and its size.
pub async fn recent_outcomes(
    db: &SqlitePool,
    database: &str,
) -> sqlx::Result<Vec<(i64, bool, Option<i64>)>> {
    let rows: Vec<(i64, BackupStatus, Option<i64>)> = sqlx::query_as(
        "SELECT id, status, size_bytes FROM backups WHERE database = ? AND kind != 'safety' AND status IN ('succeeded', 'failed', 'interrupted') ORDER BY id DESC LIMIT 50",
    )
    .bind(database)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, s, size)| (id, s == BackupStatus::Succeeded, size))
        .collect())
}

// ---------------------------------------------------------------------------------------
// Offsite copies
// ---------------------------------------------------------------------------------------

/// A stored backup waiting for its offsite copy.
#[derive(sqlx::FromRow)]
pub struct PendingCopy {
    pub id: i64,
    pub file_name: String,
    pub location: String,
    pub sha256: String,
    /// `failed` when an earlier copy failed (the file is checked again before a retry).
    pub offsite_status: Option<String>,
}

/// The newest stored backups of `database` not offsite yet (new, or whose copy failed).
pub async fn pending_copies(
    db: &SqlitePool,
    database: &str,
    limit: i64,
) -> sqlx::Result<Vec<PendingCopy>> {
    sqlx::query_as(
        "SELECT id, file_name, location, sha256, offsite_status FROM backups WHERE database = ? AND status = 'succeeded' AND location IS NOT NULL AND sha256 IS NOT NULL AND (offsite_status IS NULL OR offsite_status IN ('pending', 'failed')) ORDER BY id DESC LIMIT ?",
    )
    .bind(database)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Offsite storage is configured: the copy of this new backup is due.
pub async fn offsite_pending(db: &SqlitePool, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backups SET offsite_status = 'pending' WHERE id = ? AND offsite_status IS NULL",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn offsite_copied(
    db: &SqlitePool,
    id: i64,
    key: &str,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE backups SET offsite_status = 'copied', offsite_key = ?, offsite_message = ? WHERE id = ?")
        .bind(key)
        .bind(message)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// A failed (or failed-to-verify) copy, retried on the next run.
pub async fn offsite_failed(db: &SqlitePool, id: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE backups SET offsite_status = 'failed', offsite_message = ? WHERE id = ?")
        .bind(message)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn offsite_deleted(db: &SqlitePool, id: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE backups SET offsite_status = 'deleted', offsite_message = ? WHERE id = ?")
        .bind(message)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The offsite copies of `database`, newest first: backup id and object key.
/// The job reading backup `id` now (a restore from it, a test restore of it), if any.
pub async fn reading_job(db: &SqlitePool, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT job_id FROM restores WHERE backup_id = ?1 AND status = 'running' AND job_id IS NOT NULL
         UNION ALL
         SELECT job_id FROM test_restores WHERE backup_id = ?1 AND status = 'running' AND job_id IS NOT NULL
         LIMIT 1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// An offsite copy of `database`, as offsite retention weighs it.
#[derive(sqlx::FromRow)]
pub struct OffsiteCopyRow {
    pub id: i64,
    pub offsite_key: String,
    pub kind: BackupKind,
    pub pinned: bool,
}

/// The offsite copies of `database`, newest first.
pub async fn offsite_copies(db: &SqlitePool, database: &str) -> sqlx::Result<Vec<OffsiteCopyRow>> {
    sqlx::query_as(
        "SELECT id, offsite_key, kind, pinned FROM backups WHERE database = ? AND offsite_status = 'copied' AND offsite_key IS NOT NULL ORDER BY id DESC",
    )
    .bind(database)
    .fetch_all(db)
    .await
}

pub async fn offsite_key(db: &SqlitePool, id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT offsite_key FROM backups WHERE id = ?")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Count and bytes of the offsite copies of `database`.
pub async fn offsite_usage(db: &SqlitePool, database: &str) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM backups WHERE database = ? AND offsite_status = 'copied'",
    )
    .bind(database)
    .fetch_one(db)
    .await
}

/// What a job shows of the file its backup produced.
#[derive(sqlx::FromRow)]
pub struct FileColumns {
    pub file_name: Option<String>,
    pub location: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
}

pub async fn file_columns(db: &SqlitePool, id: i64) -> sqlx::Result<Option<FileColumns>> {
    sqlx::query_as("SELECT file_name, location, size_bytes, sha256 FROM backups WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The rows per table backup `id`'s archive holds (JSON), when its backup learnt them.
pub async fn row_counts(db: &SqlitePool, id: i64) -> sqlx::Result<Option<String>> {
    Ok(
        sqlx::query_scalar::<_, Option<String>>("SELECT row_counts FROM backups WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}
