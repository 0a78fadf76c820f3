//! One error type for the web edge, with one mapping to status codes. Internal errors are
//! logged once here and never sent to the client.

use app::api::ApiError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(thiserror::Error, Debug)]
pub enum AppError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Throttled { retry_after: u64, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(anyhow::Error::new(e).context("metadata database"))
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        AppError::Internal(anyhow::Error::new(e).context("session store"))
    }
}

impl AppError {
    pub fn unauthenticated() -> Self {
        AppError::Unauthorized("Sign in first.".into())
    }
}

pub fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: code.into(),
            message: message.into(),
            job_id: None,
        }),
    )
        .into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Unauthorized(m) => json_error(StatusCode::UNAUTHORIZED, "unauthorized", m),
            AppError::Forbidden(m) => json_error(StatusCode::FORBIDDEN, "forbidden", m),
            AppError::BadRequest(m) => json_error(StatusCode::BAD_REQUEST, "bad_request", m),
            AppError::NotFound(m) => json_error(StatusCode::NOT_FOUND, "not_found", m),
            AppError::Conflict(m) => json_error(StatusCode::CONFLICT, "conflict", m),
            AppError::Throttled {
                retry_after,
                message,
            } => {
                let mut r = json_error(StatusCode::TOO_MANY_REQUESTS, "throttled", message);
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            AppError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Lifeboat hit an internal error; the details are in its log.",
                )
            }
        }
    }
}
