//! `/api/v1/restores`: start one; read its journal row.

use super::error::AppError;
use super::extract::{CurrentUser, JsonBody};
use super::state::AppState;
use crate::engine::restore;
use crate::store::restores as journal;
use app::api::{Restore, RestoreRequest, StartedRestore};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/restores", post(start))
        .route("/restores/{id}", get(detail))
}

async fn start(
    State(st): State<AppState>,
    user: CurrentUser,
    JsonBody(req): JsonBody<RestoreRequest>,
) -> Result<(StatusCode, Json<StartedRestore>), AppError> {
    let (started, _task) =
        restore::start(&st.engine, st.engine.target(), &user.origin(), &req).await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

async fn detail(
    State(st): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Restore>, AppError> {
    journal::get(&st.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("There is no restore {id}.")))
}
