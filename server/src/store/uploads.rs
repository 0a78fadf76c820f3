//! The `uploads` table: one row per `.dump` received, whatever became of it.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

/// Where an upload stands (the `status` column, held to these by a CHECK constraint):
/// receiving → validated | refused | cancelled, then restored | expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum UploadStatus {
    Receiving,
    Validated,
    Refused,
    Cancelled,
    Restored,
    Expired,
}

pub struct NewUpload<'a> {
    pub id: &'a str,
    pub file_name: &'a str,
    pub database: Option<&'a str>,
    /// Relative to the data directory.
    pub path: &'a str,
    pub actor: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_receiving(db: &SqlitePool, u: &NewUpload<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO uploads (id, file_name, status, database, path, actor, created_at, expires_at) VALUES (?, ?, 'receiving', ?, ?, ?, ?, ?)",
    )
    .bind(u.id)
    .bind(u.file_name)
    .bind(u.database)
    .bind(u.path)
    .bind(u.actor)
    .bind(u.created_at)
    .bind(u.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn validated(
    db: &SqlitePool,
    id: &str,
    size: i64,
    sha256: &str,
    path: &str,
    summary_json: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE uploads SET status = 'validated', size_bytes = ?, sha256 = ?, path = ?, summary = ? WHERE id = ?",
    )
    .bind(size)
    .bind(sha256)
    .bind(path)
    .bind(summary_json)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// A refused or interrupted upload; its file is gone.
pub async fn refused(
    db: &SqlitePool,
    id: &str,
    status: UploadStatus,
    message: &str,
    size: i64,
    sha256: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE uploads SET status = ?, message = ?, size_bytes = ?, sha256 = ?, path = NULL WHERE id = ?",
    )
    .bind(status)
    .bind(message)
    .bind(size)
    .bind(sha256)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// A validated upload.
#[derive(sqlx::FromRow)]
pub struct Kept {
    pub file_name: String,
    pub status: UploadStatus,
    pub path: Option<String>,
    pub sha256: Option<String>,
    pub size_bytes: i64,
    pub expires_at: DateTime<Utc>,
}

pub async fn get(db: &SqlitePool, id: &str) -> sqlx::Result<Option<Kept>> {
    sqlx::query_as(
        "SELECT file_name, status, path, sha256, size_bytes, expires_at FROM uploads WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn path(db: &SqlitePool, id: &str) -> sqlx::Result<Option<String>> {
    let p: Option<Option<String>> = sqlx::query_scalar("SELECT path FROM uploads WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(p.flatten())
}

/// The file was restored and removed: the row keeps its name and checksum.
pub async fn restored(db: &SqlitePool, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE uploads SET status = 'restored', path = NULL WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Uploads to sweep: validated ones past their expiry, unless a restore is reading them
/// (swept after it), and, with `receiving_too`, uploads still being received (at
/// start-up: their process is gone).
pub async fn to_sweep(
    db: &SqlitePool,
    now: DateTime<Utc>,
    receiving_too: bool,
) -> sqlx::Result<Vec<(String, UploadStatus, Option<String>)>> {
    sqlx::query_as(
        "SELECT id, status, path FROM uploads u WHERE (status = 'validated' AND expires_at <= ? AND NOT EXISTS (SELECT 1 FROM restores r WHERE r.upload_id = u.id AND r.status = 'running')) OR (status = 'receiving' AND ?)",
    )
    .bind(now)
    .bind(receiving_too)
    .fetch_all(db)
    .await
}

pub async fn swept(
    db: &SqlitePool,
    id: &str,
    status: UploadStatus,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE uploads SET status = ?, message = ?, path = NULL WHERE id = ?")
        .bind(status)
        .bind(message)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records the rows per table (JSON) the validation of upload `id` counted.
pub async fn set_row_counts(db: &SqlitePool, id: &str, counts: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE uploads SET row_counts = ? WHERE id = ?")
        .bind(counts)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The rows per table (JSON) upload `id` holds, when its validation counted them.
pub async fn row_counts(db: &SqlitePool, id: &str) -> sqlx::Result<Option<String>> {
    Ok(
        sqlx::query_scalar::<_, Option<String>>("SELECT row_counts FROM uploads WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}
