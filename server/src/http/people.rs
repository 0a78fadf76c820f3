//! `/api/v1/users`: people and their roles, for administrators. Every change asks for the
//! password when it was last given too long ago ("confirm it's you") and is audited.

use super::error::AppError;
use super::extract::JsonBody;
use super::roles::Admin;
use super::sessions::{end_all_of, live_of};
use super::state::AppState;
use crate::store::audit::{self, Entry, Origin};
use crate::users::{self, Link, User};
use app::api::{
    audit_action, outcome, InvitationLink, Invited, NewPerson, Person, PersonChange,
    SecondFactorReset,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use chrono::Utc;
use sqlx::SqlitePool;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(invite))
        .route("/users/{id}", patch(change).delete(remove))
        .route("/users/{id}/sessions", delete(end_sessions))
        .route("/users/{id}/reset-password", post(reset_password))
        .route("/users/{id}/totp", delete(reset_second_factor))
}

/// An account as the People page shows it.
pub async fn person(db: &SqlitePool, u: User) -> Result<Person, AppError> {
    let sessions = live_of(db, Some(u.id)).await?.len();
    let two_factor = crate::second_factor::enabled(db, u.id).await?;
    Ok(Person {
        id: u.id,
        username: u.username,
        role: u.role,
        created_at: u.created_at,
        disabled: u.disabled_at.is_some(),
        password_pending: !u.has_password,
        sessions,
        two_factor,
    })
}

/// The whole link to give the person: the token rides in the fragment, which browsers do
/// not send to servers or put in `Referer`.
pub fn link_url(base_url: &str, username: &str, link: &Link) -> InvitationLink {
    InvitationLink {
        username: username.to_string(),
        url: format!("{base_url}/invite#token={}", link.token),
        expires_at: link.expires_at,
    }
}

async fn list(State(st): State<AppState>, _admin: Admin) -> Result<Json<Vec<Person>>, AppError> {
    let mut people = vec![];
    for u in users::all(&st.db).await? {
        people.push(person(&st.db, u).await?);
    }
    Ok(Json(people))
}

async fn invite(
    State(st): State<AppState>,
    admin: Admin,
    JsonBody(req): JsonBody<NewPerson>,
) -> Result<(StatusCode, Json<Invited>), AppError> {
    let confirmed = admin.confirmed(&st)?;
    let (user, link) = users::invite(
        &st.db,
        confirmed.origin(),
        req.username.trim(),
        req.role,
        st.config.invitation_link_ttl,
    )
    .await?;
    let invitation = link_url(&st.config.base_url(), &user.username, &link);
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            person: person(&st.db, user).await?,
            invitation,
        }),
    ))
}

async fn change(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<PersonChange>,
) -> Result<Json<Person>, AppError> {
    let confirmed = admin.confirmed(&st)?;
    let mut user = None;
    if let Some(role) = req.role {
        user = Some(users::set_role(&st.db, confirmed.origin(), id, role).await?);
    }
    if let Some(disabled) = req.disabled {
        let u = users::set_disabled(&st.db, confirmed.origin(), id, disabled).await?;
        if disabled {
            end_all_of(&st.db, id, None).await?;
        }
        user = Some(u);
    }
    let user = match user {
        Some(u) => u,
        None => users::by_id(&st.db, id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("There is no account {id}.")))?,
    };
    Ok(Json(person(&st.db, user).await?))
}

async fn remove(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let confirmed = admin.confirmed(&st)?;
    users::delete(&st.db, confirmed.origin(), id).await?;
    end_all_of(&st.db, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_password(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Invited>, AppError> {
    let confirmed = admin.confirmed(&st)?;
    let (user, link) = users::reset_password(
        &st.db,
        confirmed.origin(),
        id,
        st.config.invitation_link_ttl,
    )
    .await?;
    end_all_of(&st.db, id, None).await?;
    let invitation = link_url(&st.config.base_url(), &user.username, &link);
    Ok(Json(Invited {
        person: person(&st.db, user).await?,
        invitation,
    }))
}

/// A person who lost their authenticator app and their recovery codes: an administrator
/// removes their second factor and ends their sessions. They sign in with the password
/// alone, or are taken to enrolment when two-factor sign-in is required.
async fn reset_second_factor(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<SecondFactorReset>, AppError> {
    let confirmed = admin.confirmed(&st)?;
    let user = users::by_id(&st.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no account {id}.")))?;
    // One's own is turned off on the Security page, with a code: a session alone (even an
    // administrator's) must not be enough.
    if user.id == admin.id {
        return Err(AppError::Conflict(
            "Turn your own two-factor sign-in off on the Security page (it asks for a code)."
                .into(),
        ));
    }
    let was_enabled =
        crate::second_factor::reset(&st.db, confirmed.origin(), user.id, &user.username).await?;
    let sessions_ended = end_all_of(&st.db, id, None).await?;
    Ok(Json(SecondFactorReset {
        person: person(&st.db, user).await?,
        was_enabled,
        sessions_ended,
    }))
}

/// An administrator signs someone out everywhere (themselves included: then this session
/// ends too).
async fn end_sessions(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<app::api::SessionsEnded>, AppError> {
    let user = users::by_id(&st.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no account {id}.")))?;
    let ended = end_all_of(&st.db, id, None).await?;
    record_revoked(
        &st.db,
        &admin.origin(),
        &user.username,
        ended,
        "by an administrator",
    )
    .await?;
    Ok(Json(app::api::SessionsEnded { ended }))
}

/// Audits sessions ended by hand (`session.revoked`).
pub async fn record_revoked(
    db: &SqlitePool,
    origin: &Origin,
    whose: &str,
    ended: usize,
    how: &str,
) -> Result<(), AppError> {
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::SESSION_REVOKED,
            target: Some(whose),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "sessions": ended, "how": how, "at": Utc::now().to_rfc3339() }),
        },
    )
    .await?;
    Ok(())
}
