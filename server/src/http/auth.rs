//! `/api/v1/auth/*` and `/api/v1/setup`: first-run setup, login, logout, who am I.

use super::error::AppError;
use super::extract::{ClientInfo, CurrentUser, JsonBody};
use super::sessions::{SessionAuth, AUTH_KEY};
use super::state::AppState;
use crate::secret::Secret;
use crate::store::audit::{self, Entry};
use crate::users;
use app::api::{audit_action, outcome, LoginRequest, Me, SetupRequest, SetupStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use std::time::Instant;
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
) -> Result<Json<Me>, AppError> {
    // What was tried, bounded before it is stored anywhere (audit log, log file, throttle
    // key): no username is longer than 64 characters, so a longer one is kept as a marked
    // prefix, and a flood of huge names cannot fill the disk or the memory.
    let username = bounded_username(req.username.trim());
    let origin = client.origin(None);
    let failure =
        |reason: &str| serde_json::json!({ "username_tried": username, "reason": reason });
    // Counted before the password is checked: parallel guesses cannot all get through.
    if let Err(wait) = st.throttle.attempt(&username, client.ip, Instant::now()) {
        let retry_after = wait.as_secs_f64().ceil() as u64;
        audit::record(
            &st.db,
            &origin,
            Entry {
                action: audit_action::LOGIN,
                target: Some(&username),
                outcome: outcome::FAILURE,
                details: failure("throttled"),
            },
        )
        .await?;
        return Err(AppError::Throttled {
            retry_after,
            message: format!("Too many failed attempts. Try again in {retry_after} s."),
        });
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
    st.throttle.success(&username, client.ip);
    // A fresh id at login: a session id planted before login is worthless afterwards.
    session.cycle_id().await?;
    let now = Utc::now();
    session
        .insert(
            AUTH_KEY,
            SessionAuth {
                user_id: user.id,
                username: user.username.clone(),
                signed_in_at: now.timestamp_millis(),
                password_checked_at: None,
            },
        )
        .await?;
    audit::record(
        &st.db,
        &client.origin(Some(&user.username)),
        Entry {
            action: audit_action::LOGIN,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(Json(Me {
        username: user.username,
        role: user.role,
        signed_in_at: now,
    }))
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

async fn me(user: CurrentUser) -> Json<Me> {
    Json(Me {
        username: user.username,
        role: user.role,
        signed_in_at: user.signed_in_at,
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
        .as_deref()
        .is_some_and(|t| same_token(t, req.token.trim()));
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
