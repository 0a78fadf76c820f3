//! The `api_tokens` table: personal API tokens, by the SHA-256 of the token.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub owner: String,
    pub name: String,
    pub role: String,
    pub scopes: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "t.id, t.user_id, u.username AS owner, t.name, t.role, t.scopes, t.prefix,
     t.created_at, t.expires_at, t.last_used_at, t.revoked_at
     FROM api_tokens t JOIN users u ON u.id = t.user_id";

pub struct NewRow<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub role: &'a str,
    pub scopes: &'a str,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(db: &SqlitePool, r: &NewRow<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, role, scopes, token_hash, prefix, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(r.user_id)
    .bind(r.name)
    .bind(r.role)
    .bind(r.scopes)
    .bind(r.token_hash)
    .bind(r.prefix)
    .bind(r.created_at)
    .bind(r.expires_at)
    .fetch_all(db)
    .await
    .and_then(super::first)
}

pub async fn get(db: &SqlitePool, id: i64) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} WHERE t.id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn by_hash(db: &SqlitePool, token_hash: &str) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} WHERE t.token_hash = ?"))
        .bind(token_hash)
        .fetch_optional(db)
        .await
}

/// Tokens, newest first: one person's, or everyone's (`None`).
pub async fn list(db: &SqlitePool, user_id: Option<i64>) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} WHERE (?1 IS NULL OR t.user_id = ?1) ORDER BY t.id DESC"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Marks a token revoked; false when it was already.
pub async fn revoke(db: &SqlitePool, id: i64, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the last use to `now`; returns the one before.
pub async fn touch(
    db: &SqlitePool,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let mut tx = db.begin().await?;
    let before: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_tokens WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
    sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(before)
}
