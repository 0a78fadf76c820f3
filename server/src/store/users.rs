//! The `users` table: administrators and their password hashes.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

pub async fn count(db: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await
}

pub async fn find(db: &SqlitePool, username: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as("SELECT id, username, role, created_at FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(db)
        .await
}

pub async fn by_id(db: &SqlitePool, id: i64) -> sqlx::Result<Option<User>> {
    sqlx::query_as("SELECT id, username, role, created_at FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The id and password hash of `username`.
pub async fn credentials(db: &SqlitePool, username: &str) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT id, password_hash FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// A new administrator; a taken name fails with the UNIQUE constraint.
pub async fn insert_admin(
    db: &SqlitePool,
    username: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<User> {
    sqlx::query_as(
        "INSERT INTO users (username, password_hash, role, created_at, password_changed_at)
         VALUES (?, ?, 'admin', ?, ?) RETURNING id, username, role, created_at",
    )
    .bind(username)
    .bind(password_hash)
    .bind(now)
    .bind(now)
    .fetch_one(db)
    .await
}
