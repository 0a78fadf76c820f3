//! The `tower_sessions` table (created by the session store itself): finding and
//! deleting expired sessions.

use sqlx::SqlitePool;

/// Sessions past their expiry: id and the encoded record.
pub async fn expired(db: &SqlitePool) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, data FROM tower_sessions WHERE datetime(expiry_date) < datetime('now')",
    )
    .fetch_all(db)
    .await
}

pub async fn delete(db: &SqlitePool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM tower_sessions WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
