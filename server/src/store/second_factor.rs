//! The `totp_secrets` and `totp_recovery_codes` tables: each person's TOTP secret (pending
//! until its first code, then in force), the last time step used, and the recovery codes'
//! hashes.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TotpSecret {
    pub secret: String,
    pub enabled_at: Option<DateTime<Utc>>,
    pub last_step: Option<i64>,
}

pub async fn get(db: &SqlitePool, user_id: i64) -> sqlx::Result<Option<TotpSecret>> {
    sqlx::query_as("SELECT secret, enabled_at, last_step FROM totp_secrets WHERE user_id = ?")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// A new pending secret, replacing a pending one (never one in force).
pub async fn put_pending(
    db: &SqlitePool,
    user_id: i64,
    secret: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO totp_secrets (user_id, secret, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id) DO UPDATE SET secret = ?2, created_at = ?3, last_step = NULL
         WHERE totp_secrets.enabled_at IS NULL",
    )
    .bind(user_id)
    .bind(secret)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Puts the pending secret in force (its first code's step spent) with new recovery codes.
pub async fn enable(
    db: &SqlitePool,
    user_id: i64,
    step: i64,
    recovery_hashes: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE totp_secrets SET enabled_at = ?, last_step = ? WHERE user_id = ?")
        .bind(now)
        .bind(step)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for h in recovery_hashes {
        sqlx::query("INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES (?, ?)")
            .bind(user_id)
            .bind(h)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Marks `step` used when it is later than the last one used; false when it is not (the
/// code was used already).
pub async fn spend_step(db: &SqlitePool, user_id: i64, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET last_step = ?1
         WHERE user_id = ?2 AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < ?1)",
    )
    .bind(step)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Spends the unused recovery code with this hash; false when there is none.
pub async fn spend_recovery(
    db: &SqlitePool,
    user_id: i64,
    code_hash: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE totp_recovery_codes SET used_at = ?
         WHERE id = (SELECT id FROM totp_recovery_codes
                     WHERE user_id = ? AND code_hash = ? AND used_at IS NULL LIMIT 1)",
    )
    .bind(now)
    .bind(user_id)
    .bind(code_hash)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn recovery_left(db: &SqlitePool, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM totp_recovery_codes WHERE user_id = ? AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Removes the secret and the recovery codes.
pub async fn remove(db: &SqlitePool, user_id: i64) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM totp_secrets WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
