//! The `tower_sessions` table (created by the session store itself): finding and
//! deleting expired sessions, and whether one is still live.

use sqlx::SqlitePool;

/// Sessions past their expiry: id and the encoded record.
pub async fn expired(db: &SqlitePool) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, data FROM tower_sessions WHERE datetime(expiry_date) < datetime('now')",
    )
    .fetch_all(db)
    .await
}

/// Whether the session `id` exists and has not expired (its row is gone once signed out).
pub async fn is_live(db: &SqlitePool, id: &str) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM tower_sessions WHERE id = ? AND datetime(expiry_date) > datetime('now')",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

pub async fn delete(db: &SqlitePool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM tower_sessions WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Every session that has not expired: id and the encoded record.
pub async fn live(db: &SqlitePool) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    // The session store creates its table when the server first starts; a command run
    // before that finds no sessions.
    let table: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tower_sessions'",
    )
    .fetch_optional(db)
    .await?;
    if table.is_none() {
        return Ok(vec![]);
    }
    sqlx::query_as(
        "SELECT id, data FROM tower_sessions WHERE datetime(expiry_date) > datetime('now')",
    )
    .fetch_all(db)
    .await
}
