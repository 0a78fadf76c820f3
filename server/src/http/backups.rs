//! `/api/v1/backups`: the history, the status strip, "back up now", pin and delete,
//! downloads, and test restores.

use super::error::AppError;
use super::extract::{CurrentUser, JsonBody};
use super::roles::{Admin, Operator, Viewer};
use super::state::AppState;
use crate::engine::{backup, pruning, scheduler, test_restore};
use crate::storage;
use crate::store::audit::{self, Entry};
use crate::store::backups::{self as journal, Backup, BackupKind, BackupStatus};
use crate::store::{jobs, test_restores};
use app::api::{audit_action, outcome, BackupDetail, BackupPage, StartedTestRestore, WaitedBackup};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower::ServiceExt;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/backups", get(list).post(start))
        .route("/backups/status", get(status))
        .route("/backups/{id}", get(detail).delete(remove))
        .route("/backups/{id}/pin", post(pin))
        .route("/backups/{id}/test-restore", post(test_restore))
        .route("/backups/{id}/download", get(download))
        .route("/backups/{id}/metadata", get(metadata))
}

#[derive(Deserialize)]
struct Paging {
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
    Query(p): Query<Paging>,
) -> Result<Json<BackupPage>, AppError> {
    let limit = p.limit.unwrap_or(50);
    let offset = p.offset.unwrap_or(0);
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(AppError::BadRequest(
            "limit must be 1–500 and offset 0 or more.".into(),
        ));
    }
    Ok(Json(journal::list(&st.db, limit, offset).await?))
}

async fn status(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
) -> Result<Json<app::api::BackupStatus>, AppError> {
    let database = st.engine.database();
    let last_success = match &database {
        Some(d) => journal::last_success(&st.db, d).await?,
        None => None,
    };
    let (used_bytes, backup_count) = journal::usage(&st.db).await?;
    let last_success_at = last_success.as_ref().and_then(|b| b.finished_at);
    let clock_suspect = last_success
        .as_ref()
        .is_some_and(|b| b.stamped_in_future(chrono::Utc::now()));
    if clock_suspect {
        tracing::warn!(
            "the last successful backup is stamped in the future ({last_success_at:?}): the clock was set wrong when it was taken, or is wrong now"
        );
    }
    let offsite = match (st.engine.offsite(), &database) {
        (Some(_), Some(d)) => Some(journal::offsite_usage(&st.db, d).await?),
        _ => None,
    };
    let last_alert = audit::last_alert(&st.db).await?;
    // Read before any await: the schedule's guard must not be held across one.
    let next_run = st
        .engine
        .schedule()
        .borrow()
        .schedule
        .as_ref()
        .and_then(|s| s.next_after(chrono::Utc::now()));
    let space = storage::volume_space(&storage::backups_root(&st.config.data_dir)).ok();
    let running_job = match &database {
        Some(d) => match jobs::running_for(&st.db, d).await? {
            Some(id) => jobs::load(&st.db, id).await?,
            None => None,
        },
        None => None,
    };
    let last_test_restore = match &database {
        Some(d) => test_restores::newest_for_database(&st.db, d).await?,
        None => None,
    };
    Ok(Json(app::api::BackupStatus {
        database,
        last_success: last_success.as_ref().map(Backup::to_wire),
        used_bytes,
        backup_count,
        free_bytes: space.map(|s| s.0 as i64),
        total_bytes: space.map(|s| s.1 as i64),
        running_job,
        confirm_backup: st.config.confirm_backup,
        next_run,
        schedule_off_warning: st.engine.schedule_off_unacknowledged(),
        scheduler_problem: scheduler_problem(&st, next_run.is_some()),
        stale: scheduler::stale(&st.engine, last_success_at).await?,
        clock_suspect,
        offsite_count: offsite.map(|o| o.0),
        offsite_bytes: offsite.map(|o| o.1),
        last_alert: last_alert.as_ref().map(|a| a.0.clone()),
        last_alert_at: last_alert.map(|a| a.1),
        last_test_restore,
    }))
}

/// What is wrong with the scheduler, for the status strip: not running while a schedule is
/// set, or its last error.
fn scheduler_problem(st: &AppState, scheduled: bool) -> Option<String> {
    let health = st.engine.scheduler_health();
    if scheduled && st.engine.target().is_some() && !health.running() {
        return Some("The scheduler is not running: restart Lifeboat.".into());
    }
    health.problem()
}

/// Starts a test restore of one backup: restored into a scratch database, proven, dropped.
async fn test_restore(
    State(st): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<StartedTestRestore>), AppError> {
    let (started, _task) = test_restore::start(&st.engine, Some(id), &user.origin()).await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

async fn detail(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
    Path(id): Path<i64>,
) -> Result<Json<BackupDetail>, AppError> {
    journal::detail(&st.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("There is no backup {id}.")))
}

#[derive(Deserialize)]
struct StartParams {
    /// Answer when the backup has ended, not when it has started ("back up and wait").
    #[serde(default)]
    wait: bool,
}

/// "Back up now": 202 with the job at once; with `?wait=true`, the backup's end instead —
/// 200 when it succeeded, 500 when it did not (the body says how it ended, with
/// `exit_status` 0 or 1), so that `curl --fail` fails a CI step with it. Such a request
/// is exempt from the request timeout ([`super::limits::waits_for_backup`]); a client
/// that goes away does not stop the backup.
async fn start(
    State(st): State<AppState>,
    Operator(user): Operator,
    Query(p): Query<StartParams>,
) -> Result<Response, AppError> {
    let (started, task) = backup::start(
        &st.engine,
        st.engine.target(),
        BackupKind::Manual,
        &user.origin(),
    )
    .await?;
    if !p.wait {
        return Ok((StatusCode::ACCEPTED, Json(started)).into_response());
    }
    let job = task.await.map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "the backup job {} stopped: {e}",
            started.job_id
        ))
    })?;
    let succeeded = job.status == app::api::job_status::SUCCEEDED;
    let answer = WaitedBackup {
        job_id: job.id,
        backup_id: job.backup_id.or(started.backup_id),
        status: job.status,
        exit_status: if succeeded { 0 } else { 1 },
        message: job.message,
        size_bytes: job.size_bytes,
        sha256: job.sha256,
    };
    let status = if succeeded {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Ok((status, Json(answer)).into_response())
}

async fn stored_backup(st: &AppState, id: i64) -> Result<(Backup, std::path::PathBuf), AppError> {
    let b = journal::get(&st.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no backup {id}.")))?;
    if b.status != BackupStatus::Succeeded {
        return Err(AppError::Conflict(format!(
            "Backup {id} is {}; only successful backups can be downloaded.",
            b.status
        )));
    }
    let path = st
        .engine
        .backup_path(b.location.as_deref())
        .ok_or_else(|| AppError::NotFound(format!("Backup {id} has no file.")))?;
    if !path.is_file() {
        return Err(AppError::NotFound(format!(
            "The file of backup {id} is missing from {}.",
            crate::storage::private::shown(st.engine.data_dir(), &path)
        )));
    }
    Ok((b, path))
}

/// Streams a file from disk (never buffered), with Content-Length and Range support, as
/// an attachment named `name`.
async fn send_file(
    path: std::path::PathBuf,
    name: &str,
    req: Request,
) -> Result<Response, AppError> {
    let resp = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading {}: {e}", path.display())))?;
    let mut resp = resp.map(Body::new);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        name.replace('"', "")
    )) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(resp)
}

async fn audit_download(
    st: &AppState,
    user: &CurrentUser,
    b: &Backup,
    file: &str,
    range: Option<&str>,
    status: StatusCode,
) -> Result<(), AppError> {
    audit::record(
        &st.db,
        &user.origin(),
        Entry {
            action: audit_action::DOWNLOAD,
            target: Some(&b.database),
            outcome: if status.is_success() {
                outcome::SUCCESS
            } else {
                outcome::FAILURE
            },
            details: serde_json::json!({
                "backup_id": b.id,
                "file": file,
                "range": range,
                "status": status.as_u16(),
            }),
        },
    )
    .await?;
    Ok(())
}

/// Which file of a stored backup to send.
#[derive(Clone, Copy)]
enum StoredFile {
    Dump,
    Sidecar,
}

async fn download(
    State(st): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<i64>,
    req: Request,
) -> Result<Response, AppError> {
    send_stored(&st, &user, id, StoredFile::Dump, req).await
}

async fn metadata(
    State(st): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<i64>,
    req: Request,
) -> Result<Response, AppError> {
    send_stored(&st, &user, id, StoredFile::Sidecar, req).await
}

/// Sends a stored backup's dump or sidecar (by backup id only) and audits it.
async fn send_stored(
    st: &AppState,
    user: &CurrentUser,
    id: i64,
    which: StoredFile,
    req: Request,
) -> Result<Response, AppError> {
    let (b, dump) = stored_backup(st, id).await?;
    let dump_name = b
        .file_name
        .clone()
        .unwrap_or_else(|| format!("backup-{id}.dump"));
    let (path, name) = match which {
        StoredFile::Dump => (dump, dump_name),
        StoredFile::Sidecar => (storage::sidecar_path(&dump), format!("{dump_name}.json")),
    };
    if !path.is_file() {
        return Err(AppError::NotFound(format!(
            "The file {name} of backup {id} is missing."
        )));
    }
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Counted as a download until the last byte is sent (or the client goes away): the
    // backup is not deleted meanwhile.
    let downloading = st.engine.downloads().start(id);
    let resp = send_file(path, &name, req).await?;
    audit_download(st, user, &b, &name, range.as_deref(), resp.status()).await?;
    Ok(resp.map(|body| {
        Body::from_stream(futures::StreamExt::map(
            body.into_data_stream(),
            move |chunk| {
                let _held = &downloading;
                chunk
            },
        ))
    }))
}

/// Deletes a stored backup by hand (the rules are the engine's).
async fn remove(
    State(st): State<AppState>,
    Admin(user): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    pruning::delete_by_hand(&st.engine, id, user.confirmed(&st)?.origin()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pin(
    State(st): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<app::api::PinRequest>,
) -> Result<Json<app::api::Backup>, AppError> {
    // Unpinning lets retention delete the backup: it asks for the password again.
    let origin = match req.pinned {
        true => user.origin(),
        false => user.confirmed(&st)?.origin().clone(),
    };
    let b = pruning::pin(&st.engine, id, req.pinned, &origin).await?;
    Ok(Json(b.to_wire()))
}
