//! Signed-in sessions on top of tower-sessions (SQLite store): what a session holds, the
//! `CurrentUser` extractor (which enforces the absolute timeout), and the purge of expired
//! sessions, each of which is audited as `session.expired`.

use crate::audit::{self, Entry, Origin};
use crate::http::client_info::ClientInfo;
use crate::http::error::AppError;
use crate::state::AppState;
use app::api::{audit_action, outcome};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use tower_sessions::Session;

/// The session key holding [`SessionAuth`].
pub const AUTH_KEY: &str = "auth";
/// Name of the session cookie.
pub const COOKIE_NAME: &str = "lifeboat_session";

/// What a signed-in session remembers.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SessionAuth {
    pub user_id: i64,
    pub username: String,
    /// Unix milliseconds of the login, for the absolute timeout.
    pub signed_in_at: i64,
}

/// The signed-in administrator making the request. Extracting it fails with 401 when
/// there is no session, and ends (and audits) a session past its absolute lifetime.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub signed_in_at: DateTime<Utc>,
    pub client: ClientInfo,
}

impl CurrentUser {
    pub fn origin(&self) -> Origin {
        self.client.origin(Some(&self.username))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::unauthenticated())?;
        let client = ClientInfo::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|e| match e {});
        let Some(auth) = session.get::<SessionAuth>(AUTH_KEY).await? else {
            return Err(AppError::unauthenticated());
        };
        let signed_in_at = Utc
            .timestamp_millis_opt(auth.signed_in_at)
            .single()
            .unwrap_or_else(Utc::now);
        let age = Utc::now().signed_duration_since(signed_in_at);
        let limit = chrono::Duration::from_std(state.config.session_absolute_timeout)
            .unwrap_or(chrono::Duration::MAX);
        if age > limit {
            session.flush().await?;
            audit::record(
                &state.db,
                &client.origin(Some(&auth.username)),
                Entry {
                    action: audit_action::SESSION_EXPIRED,
                    target: Some(&auth.username),
                    outcome: outcome::SUCCESS,
                    details: serde_json::json!({
                        "reason": "absolute timeout",
                        "signed_in_at": signed_in_at.to_rfc3339(),
                    }),
                },
            )
            .await?;
            return Err(AppError::Unauthorized(
                "Your session has ended; sign in again.".into(),
            ));
        }
        // The account may have been removed since the login.
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = ?")
            .bind(auth.user_id)
            .fetch_optional(&state.db)
            .await?;
        let Some(role) = role else {
            session.flush().await?;
            return Err(AppError::unauthenticated());
        };
        Ok(CurrentUser {
            id: auth.user_id,
            username: auth.username,
            role,
            signed_in_at,
            client,
        })
    }
}

/// Deletes sessions whose idle timeout has passed, auditing each signed-in one as
/// `session.expired`. Returns how many were removed.
pub async fn purge_expired(db: &SqlitePool) -> anyhow::Result<usize> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT id, data FROM tower_sessions WHERE datetime(expiry_date) < datetime('now')",
    )
    .fetch_all(db)
    .await?;
    for (id, data) in &rows {
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
        sqlx::query("DELETE FROM tower_sessions WHERE id = ?")
            .bind(id)
            .execute(db)
            .await?;
    }
    Ok(rows.len())
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
