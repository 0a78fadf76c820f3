//! `/api/v1/auth/*` and `/api/v1/setup`: first-run setup, login, logout, who am I.

use super::error::AppError;
use super::extract::{ClientInfo, JsonBody};
use super::roles::Viewer;
use super::sessions::{PendingSignIn, SessionAuth, ACTIVE_KEY, AUTH_KEY, PENDING_KEY};
use super::state::AppState;
use super::throttle::{Throttle, ThrottledAttempts};
use crate::secret::Secret;
use crate::store::audit::{self, Entry, Origin};
use crate::users::{self, User};
use app::api::{audit_action, outcome, LoginAnswer, LoginRequest, Me, SetupRequest, SetupStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use sqlx::SqlitePool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/setup", get(setup_status).post(setup))
}

const BAD_CREDENTIALS: &str = "Wrong username or password.";

/// The longest username (`users::validate_username`), in characters.
const MAX_USERNAME_CHARS: usize = 64;

/// `name` as it may be stored: whole when it could be a username, else its first 64
/// characters and a mark saying how long it was.
fn bounded_username(name: &str) -> String {
    if name.chars().count() <= MAX_USERNAME_CHARS {
        return name.to_string();
    }
    let prefix: String = name.chars().take(MAX_USERNAME_CHARS).collect();
    format!("{prefix}… (cut: {} bytes in all)", name.len())
}

async fn login(
    State(st): State<AppState>,
    client: ClientInfo,
    session: Session,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<LoginAnswer>, AppError> {
    // What was tried, bounded before it is stored anywhere (audit log, log file, throttle
    // key): no username is longer than 64 characters, so a longer one is kept as a marked
    // prefix, and a flood of huge names cannot fill the disk or the memory.
    let username = bounded_username(req.username.trim());
    let origin = client.origin(None);
    let failure =
        |reason: &str| serde_json::json!({ "username_tried": username, "reason": reason });
    // Counted before the password is checked: parallel guesses cannot all get through.
    // A refused attempt is only tallied; the tally is audited as one event when the next
    // attempt is let through (here) or a minute after its first ([`spawn_throttle_audit`]).
    match st.throttle.attempt(&username, client.ip, Instant::now()) {
        Err(wait) => {
            let retry_after = wait.as_secs_f64().ceil() as u64;
            return Err(AppError::Throttled {
                retry_after,
                message: format!("Too many failed attempts. Try again in {retry_after} s."),
            });
        }
        Ok(Some(throttled)) => record_throttled(&st.db, &throttled, Instant::now()).await?,
        Ok(None) => {}
    }
    // Over-long input is refused without hashing it (and answered like any bad login).
    let user = if username != req.username.trim() || req.password.len() > 4096 {
        None
    } else {
        users::authenticate(&st.db, &username, Secret::new(req.password)).await?
    };
    let Some(user) = user else {
        st.throttle.failed(&username, client.ip, Instant::now());
        audit::record(
            &st.db,
            &origin,
            Entry {
                action: audit_action::LOGIN,
                target: Some(&username),
                outcome: outcome::FAILURE,
                details: failure("wrong username or password"),
            },
        )
        .await?;
        return Err(AppError::Unauthorized(BAD_CREDENTIALS.into()));
    };
    // A second factor to give (or, when required, to enrol) before a session is had.
    let has_second_factor = crate::second_factor::enabled(&st.db, user.id).await?;
    if has_second_factor || st.config.require_2fa {
        return Ok(Json(
            begin_second_factor(&session, &user, !has_second_factor).await?,
        ));
    }
    st.throttle.success(&username, client.ip);
    let me = open_session(&st, &session, &client, user, None, serde_json::json!({})).await?;
    Ok(Json(LoginAnswer {
        second_factor: false,
        enrolment_required: false,
        me: Some(me),
    }))
}

/// Makes `session` a signed-in one for `user` (after the password, or after the second
/// factor, whose pending sign-in checked the password at `password_checked_at`): a fresh
/// id, so that a session id planted before is worthless afterwards; who and from where;
/// the login audited with `details`.
pub(super) async fn open_session(
    st: &AppState,
    session: &Session,
    client: &ClientInfo,
    user: User,
    password_checked_at: Option<i64>,
    details: serde_json::Value,
) -> Result<Me, AppError> {
    session.cycle_id().await?;
    let now = Utc::now();
    session
        .insert(
            AUTH_KEY,
            SessionAuth {
                user_id: user.id,
                username: user.username.clone(),
                signed_in_at: now.timestamp_millis(),
                password_checked_at,
                client_ip: client.ip.map(|i| i.to_string()),
                user_agent: client.user_agent.clone(),
            },
        )
        .await?;
    session.insert(ACTIVE_KEY, now.timestamp_millis()).await?;
    audit::record(
        &st.db,
        &client.origin(Some(&user.username)),
        Entry {
            action: audit_action::LOGIN,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details,
        },
    )
    .await?;
    Ok(Me {
        username: user.username,
        role: user.role,
        signed_in_at: now,
        idle_timeout_secs: st.config.session_idle_timeout.as_secs(),
    })
}

/// After a correct password: the session (a fresh id) holds a pending sign-in, not a
/// signed-in user. The throttle's count for the password stays until the second factor
/// is given, so that signing in again does not reset the count of wrong codes.
async fn begin_second_factor(
    session: &Session,
    user: &User,
    enrol: bool,
) -> Result<LoginAnswer, AppError> {
    session.cycle_id().await?;
    session.remove::<SessionAuth>(AUTH_KEY).await?;
    session
        .insert(
            PENDING_KEY,
            PendingSignIn {
                user_id: user.id,
                username: user.username.clone(),
                at: Utc::now().timestamp_millis(),
                enrol,
            },
        )
        .await?;
    Ok(LoginAnswer {
        second_factor: !enrol,
        enrolment_required: enrol,
        me: None,
    })
}

/// One audit event for attempts refused by the throttle: how many, for which account,
/// from which address, between when and when.
pub(super) async fn record_throttled(
    db: &SqlitePool,
    t: &ThrottledAttempts,
    now: Instant,
) -> Result<(), AppError> {
    let ago = |at: Instant| {
        let age = chrono::Duration::from_std(now.saturating_duration_since(at))
            .unwrap_or(chrono::Duration::zero());
        (Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let address = t.address_label();
    let account = (!t.username.is_empty()).then_some(t.username.as_str());
    let origin = Origin {
        client_ip: address.clone(),
        ..Origin::default()
    };
    let seconds = t.last.saturating_duration_since(t.first).as_secs();
    let summary = format!(
        "{} throttled sign-in attempt{} for {} from {} in {} s",
        t.count,
        if t.count == 1 { "" } else { "s" },
        account.unwrap_or("several accounts"),
        address.as_deref().unwrap_or("several addresses"),
        seconds.max(1),
    );
    audit::record(
        db,
        &origin,
        Entry {
            action: audit_action::LOGIN,
            target: account,
            outcome: outcome::FAILURE,
            details: serde_json::json!({
                "username_tried": account,
                "reason": "throttled",
                "attempts": t.count,
                "first_at": ago(t.first),
                "last_at": ago(t.last),
                "summary": summary,
            }),
        },
    )
    .await?;
    Ok(())
}

/// How often the throttled-attempt tallies are looked at, and how old a tally is when it is
/// audited without waiting for the next attempt let through.
const THROTTLED_CHECK_EVERY: Duration = Duration::from_secs(10);
const THROTTLED_REPORT_AFTER: Duration = Duration::from_secs(60);

/// Audits each tally of throttled attempts about a minute after its first attempt, for as
/// long as the process runs (a flood gives about one event per account and address per
/// minute, not one per request).
pub fn spawn_throttle_audit(db: SqlitePool, throttle: Arc<Throttle>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(THROTTLED_CHECK_EVERY);
        loop {
            tick.tick().await;
            let now = Instant::now();
            for t in throttle.take_throttled(now, THROTTLED_REPORT_AFTER) {
                if let Err(e) = record_throttled(&db, &t, now).await {
                    tracing::warn!("cannot audit throttled sign-in attempts: {e}");
                }
            }
        }
    });
}

/// Audits every tally not audited yet (when the server stops).
pub async fn flush_throttled(db: &SqlitePool, throttle: &Throttle) {
    let now = Instant::now();
    for t in throttle.take_throttled(now, Duration::ZERO) {
        if let Err(e) = record_throttled(db, &t, now).await {
            tracing::warn!("cannot audit throttled sign-in attempts: {e}");
        }
    }
}

async fn logout(
    State(st): State<AppState>,
    client: ClientInfo,
    session: Session,
) -> Result<StatusCode, AppError> {
    // Logging out twice, or with an already expired session, is not an error.
    let user = session.get::<SessionAuth>(AUTH_KEY).await?;
    session.flush().await?;
    if let Some(user) = user {
        audit::record(
            &st.db,
            &client.origin(Some(&user.username)),
            Entry {
                action: audit_action::LOGOUT,
                target: Some(&user.username),
                outcome: outcome::SUCCESS,
                details: serde_json::json!({}),
            },
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(st): State<AppState>, Viewer(user): Viewer) -> Json<Me> {
    Json(Me {
        username: user.username,
        role: user.role.as_str().into(),
        signed_in_at: user.signed_in_at,
        idle_timeout_secs: st.config.session_idle_timeout.as_secs(),
    })
}

async fn setup_status(State(st): State<AppState>) -> Result<Json<SetupStatus>, AppError> {
    Ok(Json(SetupStatus {
        needed: users::count(&st.db).await? == 0,
    }))
}

/// Compares without stopping at the first differing byte.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn setup(
    State(st): State<AppState>,
    client: ClientInfo,
    JsonBody(req): JsonBody<SetupRequest>,
) -> Result<(StatusCode, Json<Me>), AppError> {
    // Held until the administrator exists, so two submissions cannot both succeed.
    let mut token = st.setup_token.lock().await;
    let valid = token
        .as_ref()
        .is_some_and(|t| same_token(&t.token, req.token.trim()));
    if users::count(&st.db).await? > 0 {
        return Err(AppError::Conflict(
            "Setup is already done; sign in instead.".into(),
        ));
    }
    if !valid {
        return Err(AppError::Forbidden(
            "This setup link is not valid. Use the link Lifeboat printed in its log at start-up."
                .into(),
        ));
    }
    if token.as_ref().is_some_and(|t| Instant::now() >= t.expires) {
        return Err(AppError::Forbidden(format!(
            "This setup link has expired (a link works for {} after Lifeboat starts). Restart Lifeboat: it prints a new link.",
            humantime::format_duration(st.config.setup_link_ttl)
        )));
    }
    let username = req.username.trim();
    let user = users::create(
        &st.db,
        &client.origin(Some(username)),
        username,
        Secret::new(req.password),
    )
    .await?;
    *token = None;
    audit::record(
        &st.db,
        &client.origin(Some(&user.username)),
        Entry {
            action: audit_action::SETUP_COMPLETED,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "method": "setup link" }),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Me {
            username: user.username,
            role: user.role,
            signed_in_at: Utc::now(),
            idle_timeout_secs: st.config.session_idle_timeout.as_secs(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_stored_whole_only_when_it_could_be_one() {
        assert_eq!(bounded_username("admin"), "admin");
        let exactly = "é".repeat(64);
        assert_eq!(bounded_username(&exactly), exactly);
        let huge = "x".repeat(2_000_000);
        let kept = bounded_username(&huge);
        assert!(kept.len() < 120, "{}", kept.len());
        assert!(kept.ends_with("… (cut: 2000000 bytes in all)"), "{kept}");
    }
}
