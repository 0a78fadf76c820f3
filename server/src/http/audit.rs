//! `GET /api/v1/audit`: the audit log, newest first, paginated and filtered.

use super::error::AppError;
use super::roles::Viewer;
use super::state::AppState;
use crate::store::audit;
use app::api::AuditPage;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

#[derive(Deserialize)]
struct Params {
    limit: Option<i64>,
    offset: Option<i64>,
    action: Option<String>,
    outcome: Option<String>,
}

async fn list(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
    Query(p): Query<Params>,
) -> Result<Json<AuditPage>, AppError> {
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let q = audit::Query {
        limit: p.limit.unwrap_or(50),
        offset: p.offset.unwrap_or(0),
        action: nonempty(p.action),
        outcome: nonempty(p.outcome),
    };
    if q.limit < 1 || q.limit > 500 || q.offset < 0 {
        return Err(AppError::BadRequest(
            "limit must be 1–500 and offset 0 or more.".into(),
        ));
    }
    Ok(Json(audit::list(&st.db, &q).await?))
}
