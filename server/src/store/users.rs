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

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr;

    /// The rebuild of `users` (20261201000011) keeps every account and its id, and from
    /// then on a removed account's id is never given to the next one.
    #[tokio::test]
    async fn user_ids_are_kept_by_the_rebuild_and_never_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let options = SqliteConnectOptions::from_str("sqlite://")
            .expect("options")
            .filename(dir.path().join("lifeboat.db"))
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("open");
        let (before, rest): (Vec<_>, Vec<_>) = super::super::MIGRATOR
            .iter()
            .partition(|m| m.version < 20261201000011);
        for m in before {
            sqlx::raw_sql(&m.sql).execute(&pool).await.expect("earlier");
        }
        let now = Utc::now();
        for name in ["alice", "bob"] {
            insert_admin(&pool, name, "$argon2id$x", now)
                .await
                .expect("insert");
        }
        for m in rest {
            let mut tx = pool.begin().await.expect("begin");
            sqlx::raw_sql(&m.sql)
                .execute(&mut *tx)
                .await
                .expect("the rebuild");
            tx.commit().await.expect("the rebuild commits");
        }
        let bob = find(&pool, "BOB").await.expect("find").expect("bob kept");
        assert_eq!(bob.id, 2);
        assert_eq!(
            credentials(&pool, "alice").await.expect("creds"),
            Some((1, "$argon2id$x".to_string()))
        );
        assert!(
            insert_admin(&pool, "Alice", "h", now).await.is_err(),
            "names stay unique, whatever their case"
        );

        sqlx::query("DELETE FROM users WHERE id = 2")
            .execute(&pool)
            .await
            .expect("delete");
        let carol = insert_admin(&pool, "carol", "h", now).await.expect("carol");
        assert_eq!(carol.id, 3, "bob's id is not given to carol");
        pool.close().await;
    }
}
