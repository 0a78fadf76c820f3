//! `/api/v1/restores`: start one; read its journal row; roll a swap back; the databases
//! kept aside by swaps (listed, backed up, dropped).

use super::error::AppError;
use super::extract::JsonBody;
use super::roles::{Admin, Operator, Viewer};
use super::state::AppState;
use crate::engine::restore::{self, kept, rollback};
use crate::store::restores as journal;
use app::api::{
    KeptDatabase, Restore, RestorePlan, RestoreRequest, RestoreStart, StartedJob, StartedRestore,
    StartedRollback,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/restores", post(start))
        .route("/restores/plan", get(plan))
        .route("/restores/kept-databases", get(kept))
        .route("/restores/kept-databases/{name}", delete(drop_kept))
        .route(
            "/restores/kept-databases/{name}/final-backup",
            post(final_backup),
        )
        .route("/restores/{id}", get(detail))
        .route("/restores/{id}/rollback", post(roll_back))
}

async fn start(
    State(st): State<AppState>,
    Operator(user): Operator,
    JsonBody(req): JsonBody<RestoreStart>,
) -> Result<(StatusCode, Json<StartedRestore>), AppError> {
    let (started, _task) = restore::start(
        &st.engine,
        st.engine.target(),
        user.confirmed(&st)?.origin(),
        &req,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

async fn detail(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
    Path(id): Path<i64>,
) -> Result<Json<Restore>, AppError> {
    journal::get(&st.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("There is no restore {id}.")))
}

async fn roll_back(
    State(st): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<StartedRollback>), AppError> {
    let (started, _task) = rollback::start(
        &st.engine,
        st.engine.target(),
        user.confirmed(&st)?.origin(),
        id,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

async fn kept(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
) -> Result<Json<Vec<KeptDatabase>>, AppError> {
    Ok(Json(
        kept::kept_databases(&st.engine, st.engine.target()).await?,
    ))
}

async fn drop_kept(
    State(st): State<AppState>,
    Admin(user): Admin,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    kept::drop_kept(
        &st.engine,
        st.engine.target(),
        user.confirmed(&st)?.origin(),
        &name,
        "dropped by hand",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn final_backup(
    State(st): State<AppState>,
    Operator(user): Operator,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<StartedJob>), AppError> {
    let started = kept::final_backup(&st.engine, st.engine.target(), &user.origin(), &name).await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// `?backup_id=` or `?upload_id=`: the file to restore, for the in-place estimate.
#[derive(serde::Deserialize)]
struct PlanQuery {
    backup_id: Option<i64>,
    upload_id: Option<String>,
}

async fn plan(
    State(st): State<AppState>,
    Operator(_user): Operator,
    Query(q): Query<PlanQuery>,
) -> Result<Json<RestorePlan>, AppError> {
    let source = (q.backup_id.is_some() || q.upload_id.is_some()).then(|| RestoreRequest {
        upload_id: q.upload_id,
        backup_id: q.backup_id,
        confirm: String::new(),
        options: Default::default(),
    });
    Ok(Json(
        restore::plan(&st.engine, st.engine.target(), source.as_ref()).await?,
    ))
}
