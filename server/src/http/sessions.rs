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
/// The session key holding the Unix milliseconds of the person's last request (not
/// background polling). Writing it is what saves the session, and so what pushes the idle
/// timeout back: nothing else is saved on an ordinary request.
pub const ACTIVE_KEY: &str = "last_active_at";
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
    /// Where the sign-in came from, for the list of sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// A background request (the SPA's polling) carries this header set to `1`; it does not
/// count as activity, so it does not push the idle timeout back. Event streams never do.
pub const BACKGROUND_HEADER: &str = "x-lifeboat-background";

/// A live signed-in session, read from the store.
#[derive(Clone, Debug)]
pub struct LiveSession {
    /// The session id: the cookie's value, a secret never shown (see [`LiveSession::handle`]).
    pub id: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub auth: SessionAuth,
    pub last_active_at: Option<i64>,
}

impl LiveSession {
    /// The name of this session in the API: a digest of its id, which cannot be turned
    /// back into the cookie.
    pub fn handle(&self) -> String {
        handle_of(&self.id)
    }
}

pub fn handle_of(id: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(id.as_bytes())[..12])
}

fn auth_of(data: &[u8]) -> Option<(tower_sessions::session::Record, SessionAuth)> {
    let record = rmp_serde::from_slice::<tower_sessions::session::Record>(data).ok()?;
    let auth = record
        .data
        .get(AUTH_KEY)
        .cloned()
        .and_then(|v| serde_json::from_value::<SessionAuth>(v).ok())?;
    Some((record, auth))
}

/// The live signed-in sessions of account `user_id` (everyone's with `None`).
pub async fn live_of(db: &SqlitePool, user_id: Option<i64>) -> sqlx::Result<Vec<LiveSession>> {
    let mut live = vec![];
    for (id, data) in rows::live(db).await? {
        let Some((record, auth)) = auth_of(&data) else {
            continue;
        };
        if user_id.is_some_and(|u| u != auth.user_id) {
            continue;
        }
        let expires_at = chrono::DateTime::from_timestamp(record.expiry_date.unix_timestamp(), 0)
            .unwrap_or_default();
        let last_active_at = record.data.get(ACTIVE_KEY).and_then(|v| v.as_i64());
        live.push(LiveSession {
            id,
            expires_at,
            auth,
            last_active_at,
        });
    }
    live.sort_by_key(|s| std::cmp::Reverse(s.auth.signed_in_at));
    Ok(live)
}

/// Ends every session of account `user_id` but the one whose id is `except` (the
/// caller's own); returns how many ended.
pub async fn end_all_of(
    db: &SqlitePool,
    user_id: i64,
    except: Option<&str>,
) -> sqlx::Result<usize> {
    let mut ended = 0;
    for s in live_of(db, Some(user_id)).await? {
        if Some(s.id.as_str()) != except {
            rows::delete(db, &s.id).await?;
            ended += 1;
        }
    }
    Ok(ended)
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
        if let Some((_, auth)) = auth_of(data) {
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
