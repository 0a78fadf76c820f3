//! `pending_alerts`: alerts not delivered yet, delivered again after a restart and
//! periodically (`alerts::Alerter::retry_pending`).

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PendingAlert {
    pub id: i64,
    pub event: String,
    pub database: Option<String>,
    pub title: String,
    pub text: String,
    /// The channels still owed this alert, comma-separated ("webhook,email").
    pub channels: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
}

/// What an alert that failed on `channels` needs to be delivered later.
pub struct NewPending<'a> {
    pub event: &'a str,
    pub database: Option<&'a str>,
    pub title: &'a str,
    pub text: &'a str,
    pub channels: &'a str,
    pub error: &'a str,
}

pub async fn insert(db: &SqlitePool, p: NewPending<'_>) -> sqlx::Result<i64> {
    let r = sqlx::query(
        "INSERT INTO pending_alerts (event, database, title, text, channels, created_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(p.event)
    .bind(p.database)
    .bind(p.title)
    .bind(p.text)
    .bind(p.channels)
    .bind(Utc::now())
    .bind(p.error)
    .execute(db)
    .await?;
    Ok(r.last_insert_rowid())
}

/// Oldest first.
pub async fn list(db: &SqlitePool) -> sqlx::Result<Vec<PendingAlert>> {
    sqlx::query_as(
        "SELECT id, event, database, title, text, channels, created_at, attempts FROM pending_alerts ORDER BY id",
    )
    .fetch_all(db)
    .await
}

pub async fn delete(db: &SqlitePool, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM pending_alerts WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Another attempt failed: the channels still owed it, and why.
pub async fn failed_again(
    db: &SqlitePool,
    id: i64,
    channels: &str,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE pending_alerts SET attempts = attempts + 1, channels = ?, last_error = ? WHERE id = ?",
    )
    .bind(channels)
    .bind(error)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Drops the alerts created before `older_than` and all but the newest `keep`; returns
/// the titles dropped.
pub async fn trim(
    db: &SqlitePool,
    keep: i64,
    older_than: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    let dropped: Vec<(String,)> = sqlx::query_as(
        "DELETE FROM pending_alerts WHERE created_at < ? OR id NOT IN (SELECT id FROM pending_alerts ORDER BY id DESC LIMIT ?) RETURNING title",
    )
    .bind(older_than)
    .bind(keep)
    .fetch_all(db)
    .await?;
    Ok(dropped.into_iter().map(|(t,)| t).collect())
}
