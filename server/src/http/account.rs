//! One's own account: change the password, see and end one's sessions; and the one-time
//! links (invitation, reset) that set a password before anyone is signed in.

use super::error::AppError;
use super::extract::{ClientInfo, JsonBody};
use super::people::record_revoked;
use super::roles::Viewer;
use super::sessions::{end_all_of, live_of, SessionAuth, AUTH_KEY};
use super::state::AppState;
use crate::secret::Secret;
use crate::users;
use app::api::{
    describe_user_agent, InvitationAccept, InvitationInfo, InvitationToken, PasswordChange,
    SessionInfo, SessionsEnded,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{TimeZone, Utc};
use std::time::Instant;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/password", post(change_password))
        .route(
            "/auth/sessions",
            get(my_sessions).delete(end_other_sessions),
        )
        .route("/auth/sessions/{id}", delete(end_session))
        .route("/invitations/check", post(check_invitation))
        .route("/invitations/accept", post(accept_invitation))
}

fn this_session(session: &Session) -> Option<String> {
    session.id().map(|id| id.to_string())
}

/// Changes one's password; every other session of the account ends.
async fn change_password(
    State(st): State<AppState>,
    user: Viewer,
    session: Session,
    JsonBody(req): JsonBody<PasswordChange>,
) -> Result<Json<SessionsEnded>, AppError> {
    // A wrong current password is a guess: the login's throttle counts it.
    if let Err(wait) = st
        .throttle
        .attempt(&user.username, user.client.ip, Instant::now())
    {
        let retry_after = wait.as_secs_f64().ceil() as u64;
        return Err(AppError::Throttled {
            retry_after,
            message: format!("Too many failed attempts. Try again in {retry_after} s."),
        });
    }
    let changed = users::change_password(
        &st.db,
        &user.origin(),
        user.id,
        Secret::new(req.current),
        Secret::new(req.new),
    )
    .await;
    if let Err(users::UserError::WrongPassword) = changed {
        st.throttle
            .failed(&user.username, user.client.ip, Instant::now());
    }
    changed?;
    st.throttle.success(&user.username, user.client.ip);
    let current = this_session(&session);
    let ended = end_all_of(&st.db, user.id, current.as_deref()).await?;
    // The password was just given: it counts as a confirmation.
    if let Some(mut auth) = session.get::<SessionAuth>(AUTH_KEY).await? {
        auth.password_checked_at = Some(Utc::now().timestamp_millis());
        session.insert(AUTH_KEY, auth).await?;
    }
    if ended > 0 {
        record_revoked(
            &st.db,
            &user.origin(),
            &user.username,
            ended,
            "password changed",
        )
        .await?;
    }
    Ok(Json(SessionsEnded { ended }))
}

async fn my_sessions(
    State(st): State<AppState>,
    user: Viewer,
    session: Session,
) -> Result<Json<Vec<SessionInfo>>, AppError> {
    let current = this_session(&session);
    let ms = |ms: i64| Utc.timestamp_millis_opt(ms).single();
    let list = live_of(&st.db, Some(user.id))
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            id: s.handle(),
            signed_in_at: ms(s.auth.signed_in_at).unwrap_or_default(),
            last_active_at: s.last_active_at.and_then(ms),
            expires_at: s.expires_at,
            browser: describe_user_agent(s.auth.user_agent.as_deref()),
            client_ip: s.auth.client_ip,
            user_agent: s.auth.user_agent,
            current: current.as_deref() == Some(s.id.as_str()),
        })
        .collect();
    Ok(Json(list))
}

/// "Sign out everywhere else".
async fn end_other_sessions(
    State(st): State<AppState>,
    user: Viewer,
    session: Session,
) -> Result<Json<SessionsEnded>, AppError> {
    let current = this_session(&session);
    let ended = end_all_of(&st.db, user.id, current.as_deref()).await?;
    record_revoked(
        &st.db,
        &user.origin(),
        &user.username,
        ended,
        "signed out everywhere else",
    )
    .await?;
    Ok(Json(SessionsEnded { ended }))
}

/// "Sign out this session": one of one's own sessions, by its handle.
async fn end_session(
    State(st): State<AppState>,
    user: Viewer,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let target = live_of(&st.db, Some(user.id))
        .await?
        .into_iter()
        .find(|s| s.handle() == id)
        .ok_or_else(|| AppError::NotFound("You have no such session.".into()))?;
    if this_session(&session).as_deref() == Some(target.id.as_str()) {
        session.flush().await?;
    } else {
        crate::store::sessions::delete(&st.db, &target.id).await?;
    }
    record_revoked(
        &st.db,
        &user.origin(),
        &user.username,
        1,
        "signed out one session",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_invitation(
    State(st): State<AppState>,
    JsonBody(req): JsonBody<InvitationToken>,
) -> Result<Json<InvitationInfo>, AppError> {
    let (link, user) = users::invitation(&st.db, &req.token).await?;
    Ok(Json(InvitationInfo {
        username: user.username,
        role: user.role,
        expires_at: link.expires_at,
    }))
}

/// Sets the password through a link; the person then signs in with it.
async fn accept_invitation(
    State(st): State<AppState>,
    client: ClientInfo,
    JsonBody(req): JsonBody<InvitationAccept>,
) -> Result<StatusCode, AppError> {
    let user = users::accept_invitation(
        &st.db,
        &client.origin(None),
        &req.token,
        Secret::new(req.password),
    )
    .await?;
    // A reset ends whatever sessions were left (there should be none).
    end_all_of(&st.db, user.id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_session_handle_does_not_show_the_session_id() {
        let h = super::super::sessions::handle_of("secret-session-id");
        assert_eq!(h.len(), 24);
        assert!(!h.contains("secret"));
    }
}
