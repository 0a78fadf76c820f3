//! `/api/v1/jobs/{id}`: a job's state, its live progress as server-sent events, cancel.

use super::error::AppError;
use super::extract::CurrentUser;
use super::roles::{Operator, Viewer};
use super::state::AppState;
use crate::store::audit::{self, Entry};
use crate::store::{jobs, sessions};
use app::api::{audit_action, job_status, outcome, Job};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use futures::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs/{id}", get(get_job).delete(cancel))
        .route("/jobs/{id}/events", get(events))
}

async fn get_job(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
    Path(id): Path<i64>,
) -> Result<Json<Job>, AppError> {
    current(&st, id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(id))
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("There is no job {id}."))
}

/// The freshest state: live from the registry while it runs here, else the row.
async fn current(st: &AppState, id: i64) -> Result<Option<Job>, AppError> {
    if let Some(rx) = st.engine.jobs().subscribe(id) {
        return Ok(Some(with_elapsed(rx.borrow().clone())));
    }
    Ok(jobs::load(&st.db, id).await?)
}

fn with_elapsed(mut j: Job) -> Job {
    if j.finished_at.is_none() {
        j.elapsed_ms = (Utc::now() - j.started_at).num_milliseconds().max(0);
    }
    j
}

/// The stream's state between events.
enum Follow {
    /// Running in this process: wake on every change, and at least every second.
    Live(watch::Receiver<Job>, bool),
    /// Not running here (finished, or run by another `lifeboat` process): read the row
    /// every second until it is final.
    Row,
    Done,
}

fn event(job: &Job) -> Event {
    Event::default()
        .event("job")
        .json_data(job)
        .unwrap_or_else(|_| Event::default().event("job").data("{}"))
}

async fn events(
    State(st): State<AppState>,
    Viewer(user): Viewer,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if current(&st, id).await?.is_none() {
        return Err(not_found(id));
    }
    let session_id = session
        .id()
        .map(|i| i.to_string())
        .ok_or_else(AppError::unauthenticated)?;
    // Held by the stream: freed when it ends or the client goes away.
    let slot = st.limits.event_stream(&session_id)?;
    let ended = session_ended(&st, &user, session_id);
    let start = match st.engine.jobs().subscribe(id) {
        Some(rx) => Follow::Live(rx, true),
        None => Follow::Row,
    };
    let db = st.db.clone();
    let stream = stream::unfold((start, db), move |(state, db)| async move {
        match state {
            Follow::Done => None,
            Follow::Live(mut rx, first) => {
                if !first {
                    if let Ok(Err(_)) =
                        tokio::time::timeout(Duration::from_secs(1), rx.changed()).await
                    {
                        // The job ended and left the registry: its row has the outcome.
                        let job = jobs::load(&db, id).await.ok().flatten();
                        return job.map(|j| (Ok(event(&j)), (Follow::Done, db)));
                    }
                }
                let job = with_elapsed(rx.borrow_and_update().clone());
                let next = if job_status::is_terminal(&job.status) {
                    Follow::Done
                } else {
                    Follow::Live(rx, false)
                };
                Some((Ok::<Event, Infallible>(event(&job)), (next, db)))
            }
            Follow::Row => {
                let job = jobs::load(&db, id).await.ok().flatten()?;
                if job_status::is_terminal(&job.status) {
                    Some((Ok(event(&job)), (Follow::Done, db)))
                } else {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Some((Ok(event(&with_elapsed(job))), (Follow::Row, db)))
                }
            }
        }
    });
    // The stream lasts no longer than the session it was opened with.
    let stream = stream.take_until(ended).map(move |e| {
        let _open = &slot;
        e
    });
    let mut resp = sse(stream).into_response();
    // Reverse proxies must pass events through as they come.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// Resolves when the session `id` of `user` has ended: signed out (its row is gone), past
/// its idle timeout (the row has expired) or past its absolute lifetime.
fn session_ended(
    st: &AppState,
    user: &CurrentUser,
    id: String,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let db = st.db.clone();
    let lifetime = chrono::Duration::from_std(st.config.session_absolute_timeout)
        .unwrap_or(chrono::Duration::MAX);
    let left = (user.signed_in_at + lifetime - Utc::now())
        .to_std()
        .unwrap_or_default();
    async move {
        let checking = async {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match sessions::is_live(&db, &id).await {
                    Ok(false) => return,
                    Ok(true) => {}
                    Err(e) => tracing::warn!("cannot read the session of an event stream: {e}"),
                }
            }
        };
        tokio::select! {
            _ = checking => {}
            _ = tokio::time::sleep(left) => {}
        }
    }
}

fn sse<S: Stream<Item = Result<Event, Infallible>> + Send + 'static>(
    s: S,
) -> Sse<axum::response::sse::KeepAliveStream<S>> {
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn cancel(
    State(st): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let job = current(&st, id).await?.ok_or_else(|| not_found(id))?;
    if job_status::is_terminal(&job.status) {
        return Err(AppError::Conflict(format!(
            "Job {id} is already {}.",
            job.status
        )));
    }
    if !st.engine.jobs().cancel(id) {
        return Err(AppError::Conflict(format!(
            "Job {id} is run by another Lifeboat process; cancel it there."
        )));
    }
    audit::record(
        &st.db,
        &user.origin(),
        Entry {
            action: audit_action::BACKUP_CANCEL,
            target: Some(&job.database),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "job_id": id, "backup_id": job.backup_id }),
        },
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}
