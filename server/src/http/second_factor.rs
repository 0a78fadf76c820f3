//! Two-factor sign-in at the web edge: the login's second step
//! (`POST /api/v1/auth/second-factor`), and enrolment, status and turning it off
//! (`/api/v1/auth/totp…`).
//!
//! After a correct password for a person with a second factor (or when one is required
//! and the person has none), the session holds only a pending sign-in, good for five
//! minutes: it gives no access to anything but this step (or the enrolment). Codes are
//! throttled like passwords, each works once.

use super::error::AppError;
use super::extract::{ClientInfo, CurrentUser, JsonBody};
use super::sessions::{PendingSignIn, PENDING_FOR, PENDING_KEY};
use super::state::AppState;
use crate::second_factor::{self, Checked};
use crate::secret::Secret;
use crate::store::audit::{self, Entry, Origin};
use crate::users;
use app::api::{
    audit_action, outcome, Me, RecoveryCodes, SecondFactorRequest, TotpDisableRequest,
    TotpEnrolment, TotpStatus,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use std::time::Instant;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/second-factor", post(second_step))
        .route("/auth/totp", get(status))
        .route("/auth/totp/enrol", post(enrol))
        .route("/auth/totp/confirm", post(confirm))
        .route("/auth/totp/disable", post(disable))
}

async fn pending(session: &Session) -> Result<Option<PendingSignIn>, AppError> {
    let Some(p) = session.get::<PendingSignIn>(PENDING_KEY).await? else {
        return Ok(None);
    };
    if Utc::now().timestamp_millis() - p.at > PENDING_FOR.num_milliseconds() {
        session.remove::<PendingSignIn>(PENDING_KEY).await?;
        return Ok(None);
    }
    Ok(Some(p))
}

/// Ends a pending sign-in with a full session and audits the login.
async fn complete(
    st: &AppState,
    session: &Session,
    client: &ClientInfo,
    p: &PendingSignIn,
    how: &str,
) -> Result<Me, AppError> {
    // The account may have been removed in between.
    let Some(user) = crate::store::users::by_id(&st.db, p.user_id).await? else {
        session.flush().await?;
        return Err(AppError::unauthenticated());
    };
    st.throttle.success(&user.username, client.ip);
    session.remove::<PendingSignIn>(PENDING_KEY).await?;
    super::auth::open_session(
        st,
        session,
        client,
        user,
        Some(p.at),
        serde_json::json!({ "second_factor": how }),
    )
    .await
}

/// Counts an attempt at a code like one at a password; `Err` (429) when it must wait.
async fn throttled(st: &AppState, username: &str, client: &ClientInfo) -> Result<(), AppError> {
    match st.throttle.attempt(username, client.ip, Instant::now()) {
        Err(wait) => {
            let retry_after = wait.as_secs_f64().ceil() as u64;
            Err(AppError::Throttled {
                retry_after,
                message: format!("Too many failed attempts. Try again in {retry_after} s."),
            })
        }
        Ok(Some(t)) => super::auth::record_throttled(&st.db, &t, Instant::now()).await,
        Ok(None) => Ok(()),
    }
}

async fn recovery_code_used(
    st: &AppState,
    origin: &Origin,
    username: &str,
    left: i64,
) -> Result<(), AppError> {
    audit::record(
        &st.db,
        origin,
        Entry {
            action: audit_action::RECOVERY_CODE_USED,
            target: Some(username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "recovery_codes_left": left }),
        },
    )
    .await?;
    Ok(())
}

async fn second_step(
    State(st): State<AppState>,
    client: ClientInfo,
    session: Session,
    JsonBody(req): JsonBody<SecondFactorRequest>,
) -> Result<Json<Me>, AppError> {
    let Some(p) = pending(&session).await?.filter(|p| !p.enrol) else {
        return Err(AppError::Unauthorized(
            "Sign in with your password first (a sign-in waits five minutes for its code).".into(),
        ));
    };
    throttled(&st, &p.username, &client).await?;
    let checked = if req.code.len() > 64 {
        Checked::Wrong
    } else {
        second_factor::check(&st.db, p.user_id, &req.code, true).await?
    };
    let origin = client.origin(Some(&p.username));
    let how = match checked {
        Checked::Code => "totp",
        Checked::RecoveryCode { left } => {
            recovery_code_used(&st, &origin, &p.username, left).await?;
            "recovery code"
        }
        Checked::Reused | Checked::Wrong => {
            st.throttle.failed(&p.username, client.ip, Instant::now());
            let (reason, message) = if checked == Checked::Reused {
                (
                    "second-factor code already used",
                    "This code has been used already; wait for the next one.",
                )
            } else {
                ("wrong second-factor code", "Wrong code.")
            };
            audit::record(
                &st.db,
                &origin,
                Entry {
                    action: audit_action::LOGIN,
                    target: Some(&p.username),
                    outcome: outcome::FAILURE,
                    details: serde_json::json!({ "username_tried": p.username, "reason": reason }),
                },
            )
            .await?;
            return Err(AppError::Unauthorized(message.into()));
        }
    };
    Ok(Json(complete(&st, &session, &client, &p, how).await?))
}

/// Whom an enrolment is for: the signed-in user, or a pending sign-in that must enrol.
async fn enrolling(
    user: Result<CurrentUser, AppError>,
    session: &Session,
) -> Result<(i64, String, Option<PendingSignIn>), AppError> {
    match user {
        Ok(u) => Ok((u.id, u.username, None)),
        Err(e) => match pending(session).await?.filter(|p| p.enrol) {
            Some(p) => Ok((p.user_id, p.username.clone(), Some(p))),
            None => Err(e),
        },
    }
}

async fn status(
    State(st): State<AppState>,
    user: Result<CurrentUser, AppError>,
    session: Session,
) -> Result<Json<TotpStatus>, AppError> {
    let (id, _, _) = enrolling(user, &session).await?;
    let (enabled, recovery_codes_left) = second_factor::status(&st.db, id).await?;
    Ok(Json(TotpStatus {
        enabled,
        required: st.config.require_2fa,
        recovery_codes_left,
    }))
}

async fn enrol(
    State(st): State<AppState>,
    user: Result<CurrentUser, AppError>,
    session: Session,
) -> Result<Json<TotpEnrolment>, AppError> {
    let (id, name, _) = enrolling(user, &session).await?;
    let Some(e) = second_factor::enrol(&st.db, id, &name).await? else {
        return Err(AppError::Conflict(
            "Two-factor sign-in is already on; turn it off first to enrol another app.".into(),
        ));
    };
    Ok(Json(TotpEnrolment {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
        qr_svg: e.qr_svg,
    }))
}

async fn confirm(
    State(st): State<AppState>,
    user: Result<CurrentUser, AppError>,
    client: ClientInfo,
    session: Session,
    JsonBody(req): JsonBody<SecondFactorRequest>,
) -> Result<Json<RecoveryCodes>, AppError> {
    let (id, name, pending) = enrolling(user, &session).await?;
    let origin = client.origin(Some(&name));
    let codes = if req.code.len() > 64 {
        None
    } else {
        second_factor::confirm(&st.db, &origin, id, &name, &req.code).await?
    };
    let Some(recovery_codes) = codes else {
        return Err(AppError::BadRequest(
            "That code does not match: check the app's clock and type the code it shows now."
                .into(),
        ));
    };
    if let Some(p) = pending {
        complete(&st, &session, &client, &p, "enrolled").await?;
    }
    Ok(Json(RecoveryCodes { recovery_codes }))
}

async fn disable(
    State(st): State<AppState>,
    user: CurrentUser,
    JsonBody(req): JsonBody<TotpDisableRequest>,
) -> Result<StatusCode, AppError> {
    if st.config.require_2fa {
        return Err(AppError::Conflict(
            "Two-factor sign-in is required for everyone here (LIFEBOAT_REQUIRE_2FA); it cannot be turned off.".into(),
        ));
    }
    if !second_factor::enabled(&st.db, user.id).await? {
        return Err(AppError::Conflict("Two-factor sign-in is not on.".into()));
    }
    throttled(&st, &user.username, &user.client).await?;
    let origin = user.origin();
    let password_ok = req.password.len() <= 4096
        && users::authenticate(&st.db, &user.username, Secret::new(req.password))
            .await?
            .is_some();
    let checked = match password_ok && req.code.len() <= 64 {
        true => second_factor::check(&st.db, user.id, &req.code, true).await?,
        false => Checked::Wrong,
    };
    match checked {
        Checked::Code => {}
        Checked::RecoveryCode { left } => {
            recovery_code_used(&st, &origin, &user.username, left).await?
        }
        Checked::Reused | Checked::Wrong => {
            st.throttle
                .failed(&user.username, user.client.ip, Instant::now());
            audit::record(
                &st.db,
                &origin,
                Entry {
                    action: audit_action::TOTP_DISABLED,
                    target: Some(&user.username),
                    outcome: outcome::FAILURE,
                    details: serde_json::json!({
                        "reason": if password_ok { "wrong code" } else { "wrong password" }
                    }),
                },
            )
            .await?;
            return Err(AppError::Forbidden(
                "Wrong password or code: both are needed to turn two-factor sign-in off.".into(),
            ));
        }
    }
    st.throttle.success(&user.username, user.client.ip);
    second_factor::disable(&st.db, &origin, user.id, &user.username).await?;
    Ok(StatusCode::NO_CONTENT)
}
