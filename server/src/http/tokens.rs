//! `/api/v1/tokens`: a signed-in person's personal API tokens — make one (shown once),
//! list them with their last use, revoke one. Tokens cannot manage tokens
//! (`bearer::authorize` refuses them here).

use super::error::AppError;
use super::extract::JsonBody;
use super::roles::Viewer;
use super::state::AppState;
use crate::tokens;
use app::api::{ApiToken, CreatedToken, Role, TokenRequest};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

async fn create(
    State(st): State<AppState>,
    Viewer(user): Viewer,
    JsonBody(req): JsonBody<TokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), AppError> {
    let owner = crate::store::users::by_id(&st.db, user.id)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    let (info, token) = tokens::create(&st.db, &user.origin(), &owner, &req).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, info })))
}

/// The signed-in person's tokens, newest first (revoked and expired ones too).
async fn list(
    State(st): State<AppState>,
    Viewer(user): Viewer,
) -> Result<Json<Vec<ApiToken>>, AppError> {
    let rows = crate::store::tokens::list(&st.db, Some(user.id)).await?;
    Ok(Json(rows.iter().map(tokens::to_wire).collect()))
}

/// Revokes one of the signed-in person's tokens (an administrator may revoke anyone's).
async fn revoke(
    State(st): State<AppState>,
    Viewer(user): Viewer,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let whose = (user.role != Role::Admin).then_some(user.id);
    match tokens::revoke(&st.db, &user.origin(), whose, id).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(AppError::NotFound(format!("There is no token {id}."))),
    }
}
