//! Signed-in sessions on top of tower-sessions (SQLite store): what a session holds, and
//! the purge of expired sessions, each of which is audited as `session.expired`. The
//! `CurrentUser` extractor that enforces the absolute timeout is in `extract`.

use crate::store::audit::{self, Entry, Origin};
use crate::store::sessions as rows;
use app::api::{audit_action, outcome};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;

/// The session key holding [`SessionAuth`].
pub const AUTH_KEY: &str = "auth";
/// Name of the session cookie.
pub const COOKIE_NAME: &str = "lifeboat_session";
/// Its name over HTTPS: the `__Host-` prefix makes browsers refuse it unless it is
/// `Secure`, for the whole host and set by it (no subdomain can plant or read one).
pub const SECURE_COOKIE_NAME: &str = "__Host-lifeboat_session";

/// What a signed-in session remembers.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SessionAuth {
    pub user_id: i64,
    pub username: String,
    /// Unix milliseconds of the login, for the absolute timeout.
    pub signed_in_at: i64,
    /// Unix milliseconds of the last time the password was given again ("confirm it's
    /// you"); until then the login's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_checked_at: Option<i64>,
}

/// The session key of a sign-in waiting for its second factor.
pub const PENDING_KEY: &str = "pending_sign_in";
/// How long a pending sign-in waits for its code.
pub const PENDING_FOR: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct PendingSignIn {
    pub user_id: i64,
    pub username: String,
    /// Unix milliseconds of the password check.
    pub at: i64,
    /// No second factor yet, and one is required: enrol first.
    pub enrol: bool,
}

/// Deletes sessions whose idle timeout has passed, auditing each signed-in one as
/// `session.expired`. Returns how many were removed.
pub async fn purge_expired(db: &SqlitePool) -> anyhow::Result<usize> {
    let expired = rows::expired(db).await?;
    for (id, data) in &expired {
        let auth = rmp_serde::from_slice::<tower_sessions::session::Record>(data)
            .ok()
            .and_then(|r| r.data.get(AUTH_KEY).cloned())
            .and_then(|v| serde_json::from_value::<SessionAuth>(v).ok());
        if let Some(auth) = auth {
            audit::record(
                db,
                &Origin::default().with_actor(auth.username.clone()),
                Entry {
                    action: audit_action::SESSION_EXPIRED,
                    target: Some(&auth.username),
                    outcome: outcome::SUCCESS,
                    details: serde_json::json!({ "reason": "idle timeout" }),
                },
            )
            .await?;
        }
        rows::delete(db, id).await?;
    }
    Ok(expired.len())
}

/// Runs [`purge_expired`] every `interval` until the process ends.
pub fn spawn_purger(db: SqlitePool, interval: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            match purge_expired(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("purged {n} expired session(s)"),
                Err(e) => tracing::warn!("purging expired sessions failed: {e:#}"),
            }
        }
    });
}
