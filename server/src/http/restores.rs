//! `/api/v1/uploads` (a `.dump` streamed in as the raw request body) and
//! `/api/v1/restores` (start one; read its journal row).

use crate::http::error::{json_error, AppError};
use crate::restores::{self, RestoreError};
use crate::sessions::CurrentUser;
use crate::state::AppState;
use crate::uploads::{self, UploadError};
use app::api::{ApiError, Restore, RestoreRequest, StartedRestore, Upload};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        // The only route without the 2 MB body cap: the size limit is
        // LIFEBOAT_UPLOAD_MAX_SIZE, enforced while streaming.
        .route("/uploads", post(upload).layer(DefaultBodyLimit::disable()))
        .route("/restores", post(start))
        .route("/restores/{id}", get(detail))
}

#[derive(Deserialize)]
struct UploadQuery {
    filename: Option<String>,
}

async fn upload(
    State(st): State<AppState>,
    user: CurrentUser,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let name = q.filename.unwrap_or_default();
    let engine = st.engine.clone();
    let origin = user.origin();
    let body = req.into_body().into_data_stream();
    // In its own task: a client that goes away mid-upload ends the body stream with an
    // error, and the upload is still journaled, audited and its file removed.
    let task =
        tokio::spawn(
            async move { uploads::receive(&engine, &origin, &name, declared, body).await },
        );
    match task.await {
        Ok(Ok(u)) => (StatusCode::CREATED, Json::<Upload>(u)).into_response(),
        Ok(Err(e)) => upload_error(e),
        Err(e) => AppError::Internal(anyhow::anyhow!("upload task: {e}")).into_response(),
    }
}

fn upload_error(e: UploadError) -> Response {
    let message = e.to_string();
    match e {
        UploadError::Refused(_) => json_error(StatusCode::UNPROCESSABLE_ENTITY, "refused", message),
        UploadError::TooLarge { .. } => {
            json_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
        }
        UploadError::NoSpace(_) => {
            json_error(StatusCode::INSUFFICIENT_STORAGE, "no_space", message)
        }
        UploadError::Interrupted(_) => json_error(StatusCode::BAD_REQUEST, "interrupted", message),
        UploadError::Internal(e) => AppError::Internal(e).into_response(),
    }
}

async fn start(
    State(st): State<AppState>,
    user: CurrentUser,
    Json(req): Json<RestoreRequest>,
) -> Response {
    match restores::start(&st.engine, &user.origin(), &req).await {
        Ok((started, _task)) => {
            (StatusCode::ACCEPTED, Json::<StartedRestore>(started)).into_response()
        }
        Err(RestoreError::Refused(m)) => json_error(StatusCode::UNPROCESSABLE_ENTITY, "refused", m),
        Err(RestoreError::NotFound(m)) => json_error(StatusCode::NOT_FOUND, "not_found", m),
        Err(RestoreError::Busy { database, job_id }) => (
            StatusCode::CONFLICT,
            Json(ApiError {
                error: "busy".into(),
                message: format!(
                    "A backup or restore of {database} is already running; wait for it to finish."
                ),
                job_id,
            }),
        )
            .into_response(),
        Err(RestoreError::Internal(e)) => AppError::Internal(e).into_response(),
    }
}

async fn detail(
    State(st): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Restore>, AppError> {
    restores::get(&st.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("There is no restore {id}.")))
}
