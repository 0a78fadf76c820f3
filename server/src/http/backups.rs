//! `/api/v1/backups`: the history, the status strip, "back up now", and downloads.

use crate::audit::{self, Entry};
use crate::backups::{self, StartError};
use crate::http::error::AppError;
use crate::jobs;
use crate::sessions::CurrentUser;
use crate::state::AppState;
use crate::storage;
use app::api::{
    audit_action, backup_kind, job_status, outcome, ApiError, Backup, BackupDetail, BackupPage,
    BackupStatus, StartedJob,
};
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
        .route("/retention/plan", get(retention_plan))
        .route("/schedule", get(schedule).put(update_schedule))
        .route("/alerts/test", post(test_alert))
        .route("/settings", get(settings))
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
    _user: CurrentUser,
    Query(p): Query<Paging>,
) -> Result<Json<BackupPage>, AppError> {
    let limit = p.limit.unwrap_or(50);
    let offset = p.offset.unwrap_or(0);
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(AppError::BadRequest(
            "limit must be 1–500 and offset 0 or more.".into(),
        ));
    }
    Ok(Json(backups::list(&st.db, limit, offset).await?))
}

async fn status(
    State(st): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<BackupStatus>, AppError> {
    let database = st.engine.target.as_ref().map(|t| t.database());
    let last_success = match &database {
        Some(d) => backups::last_success(&st.db, d).await?,
        None => None,
    };
    let (used_bytes, backup_count) = backups::usage(&st.db).await?;
    let last_success_at = last_success.as_ref().and_then(|b| b.finished_at);
    let offsite: Option<(i64, i64)> = match (&st.engine.offsite, &database) {
        (Some(_), Some(d)) => Some(
            sqlx::query_as(
                "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM backups WHERE database = ? AND offsite_status = 'copied'",
            )
            .bind(d)
            .fetch_one(&st.db)
            .await?,
        ),
        _ => None,
    };
    let last_alert: Option<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT COALESCE(json_extract(details, '$.title'), ''), at FROM audit_events WHERE action = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(audit_action::ALERT)
    .fetch_optional(&st.db)
    .await?;
    let space = storage::volume_space(&storage::backups_root(&st.config.data_dir)).ok();
    let running_job = match &database {
        Some(d) => match jobs::running_for(&st.db, d).await? {
            Some(id) => jobs::load(&st.db, id).await?,
            None => None,
        },
        None => None,
    };
    Ok(Json(BackupStatus {
        database,
        last_success,
        used_bytes,
        backup_count,
        free_bytes: space.map(|s| s.0 as i64),
        total_bytes: space.map(|s| s.1 as i64),
        running_job,
        confirm_backup: st.config.confirm_backup,
        next_run: current_schedule(&st).and_then(|s| s.next_after(chrono::Utc::now())),
        stale: stale(&st, last_success_at).await?,
        offsite_count: offsite.map(|o| o.0),
        offsite_bytes: offsite.map(|o| o.1),
        last_alert: last_alert.as_ref().map(|a| a.0.clone()),
        last_alert_at: last_alert.map(|a| a.1),
    }))
}

async fn detail(
    State(st): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<BackupDetail>, AppError> {
    backups::detail(&st.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("There is no backup {id}.")))
}

async fn start(State(st): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    match backups::start(&st.engine, backup_kind::MANUAL, &user.origin()).await {
        Ok((started, _task)) => Ok((StatusCode::ACCEPTED, Json::<StartedJob>(started)).into_response()),
        Err(StartError::Busy { database, job_id }) => Ok((
            StatusCode::CONFLICT,
            Json(ApiError {
                error: "busy".into(),
                message: format!("A backup or restore of {database} is already running; follow it instead of starting another."),
                job_id,
            }),
        )
            .into_response()),
        Err(StartError::InvalidConfiguration { job, message }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ApiError {
                error: "invalid_configuration".into(),
                message: format!("invalid configuration: {message}"),
                job_id: Some(job.id),
            }),
        )
            .into_response()),
        Err(StartError::Internal(e)) => Err(AppError::Internal(e)),
    }
}

async fn stored_backup(st: &AppState, id: i64) -> Result<(Backup, std::path::PathBuf), AppError> {
    let b = backups::get(&st.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no backup {id}.")))?;
    if b.status != job_status::SUCCEEDED {
        return Err(AppError::Conflict(format!(
            "Backup {id} is {}; only successful backups can be downloaded.",
            b.status
        )));
    }
    let path = backups::file_path(&st.engine, &b)
        .ok_or_else(|| AppError::NotFound(format!("Backup {id} has no file.")))?;
    if !path.is_file() {
        return Err(AppError::NotFound(format!(
            "The file of backup {id} is missing from {}.",
            path.display()
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
    user: CurrentUser,
    Path(id): Path<i64>,
    req: Request,
) -> Result<Response, AppError> {
    send_stored(&st, &user, id, StoredFile::Dump, req).await
}

async fn metadata(
    State(st): State<AppState>,
    user: CurrentUser,
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
    let resp = send_file(path, &name, req).await?;
    audit_download(st, user, &b, &name, range.as_deref(), resp.status()).await?;
    Ok(resp)
}

/// Deletes a stored backup by hand. Refused for the newest successful backup (the last
/// good restore point), for pinned backups (unpin first), and for anything not stored.
async fn remove(
    State(st): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let b = backups::get(&st.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no backup {id}.")))?;
    if b.status != job_status::SUCCEEDED {
        return Err(AppError::Conflict(format!(
            "Backup {id} is {}: there is no stored file to delete.",
            b.status
        )));
    }
    if b.pinned {
        return Err(AppError::Conflict(format!(
            "Backup {id} is pinned: unpin it first."
        )));
    }
    let newest = backups::last_success(&st.db, &b.database).await?;
    if newest.is_some_and(|n| n.id == id) {
        return Err(AppError::Conflict(format!(
            "Backup {id} is the newest successful backup of {}: it cannot be deleted.",
            b.database
        )));
    }
    crate::retention::delete(&st.engine, &b, "deleted by hand", &user.origin()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pin(
    State(st): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Json(req): axum::Json<app::api::PinRequest>,
) -> Result<Json<Backup>, AppError> {
    let b = backups::get(&st.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no backup {id}.")))?;
    sqlx::query("UPDATE backups SET pinned = ? WHERE id = ?")
        .bind(req.pinned)
        .bind(id)
        .execute(&st.db)
        .await?;
    audit::record(
        &st.db,
        &user.origin(),
        Entry {
            action: audit_action::BACKUP_PIN,
            target: Some(&b.database),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "backup_id": id, "pinned": req.pinned, "file": b.file_name }),
        },
    )
    .await?;
    backups::get(&st.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("There is no backup {id}.")))
}

/// What retention would delete now (nothing is deleted).
async fn retention_plan(
    State(st): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<app::api::Pruned>>, AppError> {
    let plan = crate::retention::prune(
        &st.engine,
        &st.config.scheduler.retention,
        &user.origin(),
        true,
    )
    .await?;
    Ok(Json(plan))
}

fn current_schedule(st: &AppState) -> Option<crate::schedule::Schedule> {
    st.engine.schedule.borrow().schedule.clone()
}

/// Whether the last success (or, without one, the start of scheduling here) is older
/// than the schedule allows. Never stale when scheduled backups are off.
pub async fn stale(
    st: &AppState,
    last_success_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<bool, AppError> {
    let Some(schedule) = current_schedule(st) else {
        return Ok(false);
    };
    let reference = match last_success_at {
        Some(t) => Some(t),
        None => crate::schedule::baseline(&st.db).await?,
    };
    Ok(reference.is_some_and(|r| crate::schedule::is_stale(&schedule, r, chrono::Utc::now())))
}

fn schedule_info(st: &AppState) -> app::api::ScheduleInfo {
    let s = &st.config.scheduler;
    let current = st.engine.schedule.borrow().clone();
    app::api::ScheduleInfo {
        expression: current.schedule.as_ref().map(|x| x.expression.clone()),
        zone: current
            .schedule
            .as_ref()
            .map(|x| x.zone_name())
            .unwrap_or_else(|| "server time".into()),
        next_run: current
            .schedule
            .as_ref()
            .and_then(|x| x.next_after(chrono::Utc::now())),
        attempts: s.attempts,
        retry_delay_secs: s.retry_delay.as_secs(),
        catch_up: s.catch_up,
        retention_keep: s.retention.keep_last as u32,
        retention_max_age_secs: s.retention.max_age.map(|d| d.as_secs()),
        source: current.source.into(),
    }
}

async fn schedule(State(st): State<AppState>, _user: CurrentUser) -> Json<app::api::ScheduleInfo> {
    Json(schedule_info(&st))
}

async fn update_schedule(
    State(st): State<AppState>,
    user: CurrentUser,
    axum::Json(u): axum::Json<app::api::ScheduleUpdate>,
) -> Result<Response, AppError> {
    let before = st
        .engine
        .schedule
        .borrow()
        .schedule
        .as_ref()
        .map(|s| s.expression.clone());
    let result = crate::schedule::update(&st.db, &st.engine.schedule, &u).await;
    audit::record(
        &st.db,
        &user.origin(),
        Entry {
            action: audit_action::SETTINGS_CHANGED,
            target: Some("schedule"),
            outcome: if result.is_ok() {
                outcome::SUCCESS
            } else {
                outcome::FAILURE
            },
            details: serde_json::json!({
                "setting": "schedule",
                "before": before,
                "expression": u.expression,
                "zone": u.zone,
                "error": result.as_ref().err(),
            }),
        },
    )
    .await?;
    match result {
        Ok(_) => Ok(Json(schedule_info(&st)).into_response()),
        Err(m) => Ok(crate::http::error::json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_schedule",
            m,
        )),
    }
}

/// Files in the backup folders that the journal does not know (temporary files aside).
pub async fn unknown_files(st: &AppState) -> Result<Vec<app::api::UnknownFile>, AppError> {
    let known: Vec<(String,)> =
        sqlx::query_as("SELECT location FROM backups WHERE location IS NOT NULL")
            .fetch_all(&st.db)
            .await?;
    let known: std::collections::HashSet<String> = known
        .into_iter()
        .flat_map(|(l,)| [format!("{l}.json"), l])
        .collect();
    let data_dir = st.config.data_dir.clone();
    let root = storage::backups_root(&data_dir);
    let mut out = vec![];
    for db in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(db.path()).into_iter().flatten().flatten() {
            let p = f.path();
            if !p.is_file() {
                continue;
            }
            if p.extension().is_some_and(|e| e == "tmp" || e == "pgpass") {
                continue;
            }
            let rel = p
                .strip_prefix(&data_dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .to_string();
            if !known.contains(&rel) {
                out.push(app::api::UnknownFile {
                    size_bytes: f.metadata().map(|m| m.len() as i64).unwrap_or(0),
                    path: rel,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

async fn settings(
    State(st): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<app::api::SettingsInfo>, AppError> {
    let a = st.engine.alerts.settings();
    let mut alert_channels = vec![];
    if let Some(w) = &a.webhook {
        alert_channels.push(format!("webhook ({:?})", w.format).to_lowercase());
    }
    if let Some(e) = &a.email {
        alert_channels.push(format!(
            "email to {} via {}:{}",
            e.to.join(", "),
            e.host,
            e.port
        ));
    }
    Ok(Json(app::api::SettingsInfo {
        schedule: schedule_info(&st),
        offsite: st.engine.offsite.as_ref().map(|o| o.describe()),
        offsite_keep: st.engine.offsite.as_ref().map(|o| o.keep() as u32),
        alert_channels,
        unknown_files: unknown_files(&st).await?,
    }))
}

/// Sends a test alert on every configured channel and says how each went (audited).
async fn test_alert(
    State(st): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<crate::alerts::Delivery>>, AppError> {
    if !st.engine.alerts.configured() {
        return Err(AppError::BadRequest(
            "No alert channel is configured: set LIFEBOAT_ALERT_WEBHOOK_URL, or LIFEBOAT_SMTP_HOST with LIFEBOAT_ALERT_EMAIL_FROM and LIFEBOAT_ALERT_EMAIL_TO.".into(),
        ));
    }
    let alert = crate::alerts::Alert {
        event: crate::alerts::event::TEST,
        database: st.engine.target.as_ref().map(|t| t.database()),
        title: "Test alert".into(),
        text: format!(
            "{} sent this test from Lifeboat at {}: alerts reach you.",
            user.username,
            st.config.base_url()
        ),
    };
    Ok(Json(st.engine.alerts.deliver(&alert).await))
}
