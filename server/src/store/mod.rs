//! Lifeboat's own database: SQLite in the data directory, with the migrations applied at
//! start-up. A migration that fails stops start-up (it is an error, not a log line).
//!
//! All SQL lives here, one module per table; the rest of the server sees typed rows and
//! statuses.

pub mod audit;
pub mod backups;
pub mod invitations;
pub mod jobs;
pub mod pending_alerts;
pub mod restores;
pub mod second_factor;
pub mod sessions;
pub mod settings;
pub mod test_restores;
pub mod tokens;
pub mod uploads;
pub mod users;

use crate::storage::private;
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// How long a write waits for another connection's write lock before it fails with
/// "database is locked" (`LIFEBOAT_DB_BUSY_TIMEOUT`). The database is in WAL mode: reads
/// never wait, only writes do.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) `DATA_DIR/lifeboat.db` and applies pending migrations, with
/// the default busy timeout.
pub async fn open(data_dir: &Path) -> anyhow::Result<SqlitePool> {
    open_with(data_dir, DEFAULT_BUSY_TIMEOUT).await
}

/// [`open`] with a write waiting at most `busy_timeout` for a lock held elsewhere (another
/// `lifeboat` command, a tool holding the file) before it fails.
pub async fn open_with(data_dir: &Path, busy_timeout: Duration) -> anyhow::Result<SqlitePool> {
    private::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join("lifeboat.db");
    // Created 0600 before SQLite opens it: SQLite gives its WAL, SHM and journal files the
    // mode of the database file.
    private::file_options()
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot create Lifeboat's database {}", path.display()))?;
    let options = SqliteConnectOptions::from_str("sqlite://")
        .context("sqlite options")?
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(busy_timeout);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open Lifeboat's database {}", path.display()))?;
    // Two processes opening one data directory at once (a command-line tool next to the
    // server) must not apply the migrations together: the second waits for the first,
    // then finds nothing left to do. The kernel releases the lock if a process dies.
    let lock_path = data_dir.join("lifeboat.db.lock");
    let migrating = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let f = private::file_options()
            .create(true)
            .truncate(false)
            .open(&lock_path)?;
        f.lock()?;
        Ok(f)
    })
    .await
    .context("waiting for the migration lock")?
    .with_context(|| format!("cannot lock {} for the migrations", path.display()))?;
    let migrated = MIGRATOR.run(&pool).await;
    drop(migrating);
    migrated.with_context(|| {
        format!(
            "applying the database migrations to {} failed; the database was left as it was",
            path.display()
        )
    })?;
    Ok(pool)
}

/// The row an `INSERT … RETURNING` gave back. Such a statement is read to its end
/// (`fetch_all`), never with `fetch_one`: SQLite commits it when it is stepped to its end,
/// and `fetch_one` stops at the first row, so a commit that then fails (the disk full:
/// SQLITE_FULL) would be lost, the row reported inserted while it was rolled back.
pub(crate) fn first<T>(rows: Vec<T>) -> sqlx::Result<T> {
    rows.into_iter().next().ok_or(sqlx::Error::RowNotFound)
}

/// Whether the database answers (for `/readyz`).
pub async fn ping(db: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rebuild of `backups` (20261130000006) keeps every row and the restores that
    /// point at them, and from then on refuses a status the server never writes.
    #[tokio::test]
    async fn the_status_check_migration_keeps_rows_and_references() {
        let dir = std::env::temp_dir().join(format!("lifeboat-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let options = SqliteConnectOptions::from_str("sqlite://")
            .expect("options")
            .filename(dir.join("lifeboat.db"))
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("open");
        // Everything before the rebuild, then a history that uses it, then the rebuild in a
        // transaction, as the migrator runs it.
        let (before, rebuild): (Vec<_>, Vec<_>) =
            MIGRATOR.iter().partition(|m| m.version < 20261130000006);
        for m in before {
            sqlx::raw_sql(&m.sql)
                .execute(&pool)
                .await
                .expect("earlier migration");
        }
        for sql in [
            "INSERT INTO jobs (id, kind, database, status, phase, started_at) VALUES (1, 'backup', 'shop', 'succeeded', 'done', '2026-11-21T09:00:00Z')",
            "INSERT INTO backups (id, job_id, database, kind, status, started_at, sha256, offsite_status) VALUES (7, 1, 'shop', 'manual', 'succeeded', '2026-11-21T09:00:00Z', 'abc', 'copied')",
            "INSERT INTO backups (id, job_id, database, kind, status, started_at) VALUES (8, 1, 'shop', 'safety', 'deleted', '2026-11-21T10:00:00Z')",
            "INSERT INTO restores (id, database, source, backup_id, file_name, safety_backup_id, status, started_at) VALUES (3, 'shop', 'backup', 7, 'a.dump', 8, 'succeeded', '2026-11-21T11:00:00Z')",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        for m in rebuild {
            let mut tx = pool.begin().await.expect("begin");
            sqlx::raw_sql(&m.sql)
                .execute(&mut *tx)
                .await
                .expect("the rebuild");
            tx.commit().await.expect("the rebuild commits");
        }

        let rows: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT id, status, sha256 FROM backups ORDER BY id")
                .fetch_all(&pool)
                .await
                .expect("rows");
        assert_eq!(
            rows,
            vec![
                (7, "succeeded".to_string(), Some("abc".to_string())),
                (8, "deleted".to_string(), None)
            ]
        );
        let broken: Vec<(String,)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(&pool)
            .await
            .expect("fk check");
        assert!(broken.is_empty(), "{broken:?}");
        let restores_sql: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'restores'")
                .fetch_one(&pool)
                .await
                .expect("schema");
        assert!(
            restores_sql.contains("REFERENCES backups (id)"),
            "{restores_sql}"
        );
        let index: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE name = 'backups_by_database_status'",
        )
        .fetch_optional(&pool)
        .await
        .expect("index");
        assert!(index.is_some());
        let refused = sqlx::query(
            "INSERT INTO backups (job_id, database, kind, status, started_at) VALUES (1, 'shop', 'manual', 'lost', '2026-11-21T12:00:00Z')",
        )
        .execute(&pool)
        .await;
        assert!(refused.is_err(), "an unknown status is refused");
        // A parent still cannot vanish from under its restores.
        let orphaning = sqlx::query("DELETE FROM backups WHERE id = 7")
            .execute(&pool)
            .await;
        assert!(orphaning.is_err(), "foreign keys still hold");
        pool.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
