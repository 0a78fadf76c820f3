//! The `invitations` table: one-time links that set an account's password (an invitation
//! or a reset). Only a digest of each token is stored.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Invitation {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A new link for `user_id`; the links it had before stop working.
pub async fn replace(
    db: &SqlitePool,
    user_id: i64,
    token_hash: &str,
    purpose: &str,
    created_by: Option<&str>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE invitations SET used_at = ? WHERE user_id = ? AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO invitations (user_id, token_hash, purpose, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user_id)
    .bind(token_hash)
    .bind(purpose)
    .bind(created_by)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub async fn by_token_hash(db: &SqlitePool, token_hash: &str) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as(
        "SELECT id, user_id, purpose, expires_at, used_at FROM invitations WHERE token_hash = ?",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Marks link `id` used and sets the account's password, at once; `false` when the link
/// was used in the meantime (two uses racing: one wins).
pub async fn use_for_password(
    db: &SqlitePool,
    id: i64,
    user_id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let used = sqlx::query("UPDATE invitations SET used_at = ? WHERE id = ? AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if used.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?")
        .bind(password_hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}
