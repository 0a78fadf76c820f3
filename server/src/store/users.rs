//! The `users` table: people, their roles and password hashes.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    /// Set when the account is disabled: it cannot sign in and its sessions end.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Whether a password is set (an invited account has none until the link is used).
    pub has_password: bool,
}

const COLUMNS: &str =
    "id, username, role, created_at, disabled_at, password_hash IS NOT NULL AS has_password";

pub async fn count(db: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await
}

pub async fn find(db: &SqlitePool, username: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
        .bind(username)
        .fetch_optional(db)
        .await
}

pub async fn by_id(db: &SqlitePool, id: i64) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Every account, oldest first.
pub async fn all(db: &SqlitePool) -> sqlx::Result<Vec<User>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users ORDER BY id"))
        .fetch_all(db)
        .await
}

/// The id and password hash of `username`, when it may sign in (it has a password and is
/// not disabled).
pub async fn credentials(db: &SqlitePool, username: &str) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, password_hash FROM users
         WHERE username = ? AND password_hash IS NOT NULL AND disabled_at IS NULL",
    )
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
    insert(db, username, Some(password_hash), "admin", now).await
}

/// A new account with `role`, without a password when it is invited; a taken name fails
/// with the UNIQUE constraint.
pub async fn insert(
    db: &SqlitePool,
    username: &str,
    password_hash: Option<&str>,
    role: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<User> {
    sqlx::query_as(&format!(
        "INSERT INTO users (username, password_hash, role, created_at, password_changed_at)
         VALUES (?, ?, ?, ?, ?) RETURNING {COLUMNS}"
    ))
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .bind(now)
    .bind(now)
    .fetch_all(db)
    .await
    .and_then(super::first)
}

/// The password hash of account `id`, whatever its state.
pub async fn password_hash(db: &SqlitePool, id: i64) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(row.and_then(|r| r.0))
}

pub async fn set_password(
    db: &SqlitePool,
    id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the other accounts (all but `id`) include an active administrator: one that
/// is not disabled. The last one cannot be removed, disabled or demoted.
pub async fn another_active_admin(db: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE id <> ? AND role = 'admin' AND disabled_at IS NULL",
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    Ok(n > 0)
}

/// Removes the password of account `id` (a reset: only the new link can set one).
pub async fn clear_password(db: &SqlitePool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = NULL WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_role(db: &SqlitePool, id: i64, role: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET role = ? WHERE id = ?")
        .bind(role)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables (`Some(now)`) or enables (`None`) account `id`.
pub async fn set_disabled(
    db: &SqlitePool,
    id: i64,
    at: Option<DateTime<Utc>>,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET disabled_at = ? WHERE id = ?")
        .bind(at)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(db: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
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
            // The columns of that time (today's `insert_admin` names later ones).
            sqlx::query(
                "INSERT INTO users (username, password_hash, created_at, password_changed_at)
                 VALUES (?, '$argon2id$x', ?, ?)",
            )
            .bind(name)
            .bind(now)
            .bind(now)
            .execute(&pool)
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

    /// The roles migration (20261202000012) keeps every account as an administrator, its
    /// id, and the counter past the ids of accounts removed before it.
    #[tokio::test]
    async fn accounts_from_before_roles_become_administrators_and_keep_their_ids() {
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
            .partition(|m| m.version < 20261202000012);
        for m in before {
            sqlx::raw_sql(&m.sql).execute(&pool).await.expect("earlier");
        }
        for name in ["alice", "bob", "carol"] {
            sqlx::query(
                "INSERT INTO users (username, password_hash, created_at, password_changed_at)
                 VALUES (?, '$argon2id$x', '2026-11-30T00:00:00Z', '2026-11-30T00:00:00Z')",
            )
            .bind(name)
            .execute(&pool)
            .await
            .expect("insert");
        }
        sqlx::query("DELETE FROM users WHERE username = 'carol'")
            .execute(&pool)
            .await
            .expect("delete");
        for m in rest {
            sqlx::raw_sql(&m.sql)
                .execute(&pool)
                .await
                .expect("migration");
        }
        let users = all(&pool).await.expect("all");
        let seen: Vec<_> = users
            .iter()
            .map(|u| (u.id, u.username.as_str(), u.role.as_str(), u.has_password))
            .collect();
        assert_eq!(
            seen,
            vec![(1, "alice", "admin", true), (2, "bob", "admin", true)]
        );
        let dave = insert(&pool, "dave", None, "viewer", Utc::now())
            .await
            .expect("dave");
        assert_eq!(dave.id, 4, "carol's id is not given out again");
        assert!(!dave.has_password);
        assert!(
            insert(&pool, "erin", None, "root", Utc::now())
                .await
                .is_err(),
            "only the three roles"
        );
        pool.close().await;
    }
}
