//! One error type for the web edge, with one mapping to status codes. Every domain error
//! is turned into an [`AppError`] here, once, with the same words for the same situation.
//! Internal errors are logged once here and never sent to the client.

use crate::engine::backup::StartError;
use crate::engine::pruning::BackupError;
use crate::engine::restore::RestoreError;
use crate::engine::run::Busy;
use crate::engine::upload::UploadError;
use crate::users::UserError;
use app::api::ApiError;
use axum::extract::rejection::JsonRejection;
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
    /// A refusal with its own status and machine-readable code (`busy`, `refused`,
    /// `too_large`, …), and the job it concerns when there is one.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
        job_id: Option<i64>,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn unauthenticated() -> Self {
        AppError::Unauthorized("Sign in first.".into())
    }

    fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Refused {
            status,
            code,
            message: message.into(),
            job_id: None,
        }
    }
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

/// Another job holds the database: 409 with the job to follow instead.
impl From<Busy> for AppError {
    fn from(b: Busy) -> Self {
        AppError::Refused {
            status: StatusCode::CONFLICT,
            code: "busy",
            message: b.to_string(),
            job_id: b.job_id,
        }
    }
}

impl From<StartError> for AppError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Busy(b) => b.into(),
            StartError::InvalidConfiguration { ref job, .. } => AppError::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_configuration",
                job_id: Some(job.id),
                message: e.to_string(),
            },
            StartError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<RestoreError> for AppError {
    fn from(e: RestoreError) -> Self {
        match e {
            RestoreError::Refused(m) => {
                AppError::refused(StatusCode::UNPROCESSABLE_ENTITY, "refused", m)
            }
            RestoreError::NotFound(m) => AppError::NotFound(m),
            RestoreError::Busy(b) => b.into(),
            RestoreError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> Self {
        let message = e.to_string();
        match e {
            UploadError::Refused(_) => {
                AppError::refused(StatusCode::UNPROCESSABLE_ENTITY, "refused", message)
            }
            UploadError::TooLarge { .. } => {
                AppError::refused(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
            }
            UploadError::NoSpace(_) => {
                AppError::refused(StatusCode::INSUFFICIENT_STORAGE, "no_space", message)
            }
            UploadError::Interrupted(_) => {
                AppError::refused(StatusCode::BAD_REQUEST, "interrupted", message)
            }
            UploadError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<BackupError> for AppError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::NotFound(m) => AppError::NotFound(m),
            BackupError::Refused(m) => AppError::Conflict(m),
            BackupError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<UserError> for AppError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(m) => AppError::BadRequest(format!("{}.", capitalise(&m))),
            UserError::Exists(_) => AppError::Conflict(e.to_string()),
            UserError::NotFound(m) => AppError::NotFound(format!("{}.", capitalise(&m))),
            UserError::LastAdmin(m) => AppError::refused(
                StatusCode::CONFLICT,
                "last_admin",
                format!("{}.", capitalise(&m)),
            ),
            UserError::Link(m) => AppError::refused(StatusCode::GONE, "link_invalid", m),
            UserError::WrongPassword => {
                AppError::Forbidden("The current password is wrong.".into())
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<crate::tokens::TokenError> for AppError {
    fn from(e: crate::tokens::TokenError) -> Self {
        use crate::tokens::TokenError;
        match e {
            TokenError::Invalid(m) => AppError::BadRequest(m),
            TokenError::Forbidden(m) => AppError::Forbidden(m),
            TokenError::Db(e) => e.into(),
        }
    }
}

/// A request body that is not the JSON expected: the same `ApiError` shape as every
/// other refusal, with the status axum chose (400, 415 or 422).
impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        AppError::refused(r.status(), "bad_request", r.body_text())
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
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
            AppError::Refused {
                status,
                code,
                message,
                job_id,
            } => (
                status,
                Json(ApiError {
                    error: code.into(),
                    message,
                    job_id,
                }),
            )
                .into_response(),
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
