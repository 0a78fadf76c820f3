//! "Confirm it's you": an action that destroys a recovery point or replaces data (delete or
//! unpin a backup, turn the schedule off, restore, roll back, drop a kept database) asks
//! for the password again when the session last checked it more than
//! `LIFEBOAT_CONFIRM_PASSWORD_AFTER` ago. A session taken over by someone else (an
//! unlocked laptop, a stolen cookie) cannot erase the recovery points without it.

use super::error::AppError;
use super::extract::{CurrentUser, JsonBody};
use super::roles::Viewer;
use super::sessions::{SessionAuth, AUTH_KEY};
use super::state::AppState;
use crate::secret::Secret;
use crate::store::audit::{self, Entry, Origin};
use crate::users;
use app::api::{audit_action, outcome, ConfirmRequest, CONFIRM_REQUIRED};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use std::time::Instant;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new().route("/auth/confirm", post(confirm))
}

/// Proof that the password was given recently enough for a destructive action.
pub struct Confirmed {
    origin: Origin,
}

impl Confirmed {
    /// Who acts, with the time of the password check (written into the audit events).
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

impl CurrentUser {
    /// The proof [`Confirmed`], or 403 `confirm_required` when the password was last
    /// checked longer ago than the configured window.
    pub fn confirmed(&self, st: &AppState) -> Result<Confirmed, AppError> {
        let window = chrono::Duration::from_std(st.config.confirm_password_after)
            .unwrap_or(chrono::Duration::MAX);
        if Utc::now().signed_duration_since(self.password_checked_at) > window {
            return Err(AppError::Refused {
                status: StatusCode::FORBIDDEN,
                code: CONFIRM_REQUIRED,
                message: "Confirm it's you: enter your password again to do this.".into(),
                job_id: None,
            });
        }
        let mut origin = self.origin();
        origin.password_confirmed_at = Some(self.password_checked_at);
        Ok(Confirmed { origin })
    }
}

async fn confirm(
    State(st): State<AppState>,
    Viewer(user): Viewer,
    session: Session,
    JsonBody(req): JsonBody<ConfirmRequest>,
) -> Result<StatusCode, AppError> {
    let origin = user.origin();
    let record = |result: &'static str, details: serde_json::Value| {
        let (db, origin, name) = (st.db.clone(), origin.clone(), user.username.clone());
        async move {
            audit::record(
                &db,
                &origin,
                Entry {
                    action: audit_action::PASSWORD_CONFIRM,
                    target: Some(&name),
                    outcome: result,
                    details,
                },
            )
            .await
        }
    };
    // Guessing here is guessing a password: the login's throttle counts it (refusals are
    // tallied and audited as the login's are).
    match st
        .throttle
        .attempt(&user.username, user.client.ip, Instant::now())
    {
        Err(wait) => {
            let retry_after = wait.as_secs_f64().ceil() as u64;
            return Err(AppError::Throttled {
                retry_after,
                message: format!("Too many failed attempts. Try again in {retry_after} s."),
            });
        }
        Ok(Some(throttled)) => {
            super::auth::record_throttled(&st.db, &throttled, Instant::now()).await?
        }
        Ok(None) => {}
    }
    let ok = req.password.len() <= 4096
        && users::authenticate(&st.db, &user.username, Secret::new(req.password))
            .await?
            .is_some();
    if !ok {
        st.throttle
            .failed(&user.username, user.client.ip, Instant::now());
        record(
            outcome::FAILURE,
            serde_json::json!({ "reason": "wrong password" }),
        )
        .await?;
        return Err(AppError::Forbidden("Wrong password.".into()));
    }
    st.throttle.success(&user.username, user.client.ip);
    let now: DateTime<Utc> = Utc::now();
    let Some(mut auth) = session.get::<SessionAuth>(AUTH_KEY).await? else {
        return Err(AppError::unauthenticated());
    };
    auth.password_checked_at = Some(now.timestamp_millis());
    session.insert(AUTH_KEY, auth).await?;
    record(outcome::SUCCESS, serde_json::json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}
