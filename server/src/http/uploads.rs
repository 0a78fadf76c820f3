//! `/api/v1/uploads`: a `.dump` streamed in as the raw request body, validated, kept for a
//! restore.

use super::error::AppError;
use super::limits;
use super::roles::Operator;
use super::state::AppState;
use crate::engine::upload;
use app::api::Upload;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    // The only route without the 2 MB body cap: the size limit is
    // LIFEBOAT_UPLOAD_MAX_SIZE, enforced while streaming (and `limits::UPLOADS_PATH`).
    Router::new().route("/uploads", post(receive).layer(DefaultBodyLimit::disable()))
}

#[derive(Deserialize)]
struct UploadQuery {
    filename: Option<String>,
}

async fn receive(
    State(st): State<AppState>,
    Operator(user): Operator,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<Upload>), AppError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Held until the upload has ended, however it ends (refused before any byte is read).
    let slot = st.limits.upload()?;
    let name = q.filename.unwrap_or_default();
    let engine = st.engine.clone();
    let origin = user.origin();
    // A body that stops coming ends the upload (it is not bound by the request timeout).
    let body = Box::pin(limits::idle_timeout(
        req.into_body().into_data_stream(),
        st.limits.serving().upload_idle_timeout,
    ));
    // In its own task: a client that goes away mid-upload ends the body stream with an
    // error, and the upload is still journaled, audited and its file removed.
    let task = tokio::spawn(async move {
        let received =
            upload::receive(&engine, engine.target(), &origin, &name, declared, body).await;
        drop(slot);
        received
    });
    let received = task
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("upload task: {e}")))??;
    Ok((StatusCode::CREATED, Json(received)))
}
