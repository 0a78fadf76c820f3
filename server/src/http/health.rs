//! `GET /healthz` (the process answers) and `GET /readyz` (everything a backup needs is
//! in place: 200, or 503 listing what is not). `/readyz` answers from the checks' last
//! run ([`super::readiness`]); only a signed-in session sees what each check found.

use super::error::AppError;
use super::extract::CurrentUser;
use super::state::AppState;
use crate::engine::{preflight, scheduler};
use crate::storage::human_bytes;
use app::api::{ReadyCheck, ReadyReport};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

fn check(name: &str, r: Result<String, String>) -> ReadyCheck {
    let (ok, detail) = match r {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    ReadyCheck {
        name: name.into(),
        ok,
        detail,
    }
}

/// The last successful backup is recent enough for the schedule in force.
async fn last_backup_check(st: &AppState) -> Result<String, String> {
    let Some(database) = st.engine.database() else {
        return Ok("no target database".into());
    };
    let last = crate::store::backups::last_success(&st.db, &database)
        .await
        .map_err(|e| format!("cannot read the journal: {e}"))?;
    let at = last.as_ref().and_then(|b| b.finished_at);
    let stale = scheduler::stale(&st.engine, at)
        .await
        .map_err(|e| format!("cannot read the journal: {e}"))?;
    let schedule = st.engine.schedule().borrow().schedule.clone();
    let age = at.map(|t| {
        let mins = (chrono::Utc::now() - t).num_minutes();
        if mins >= 120 {
            format!("{} h ago", mins / 60)
        } else {
            format!("{mins} min ago")
        }
    });
    match (schedule, stale) {
        (None, _) => Ok(match age {
            Some(a) => format!("last successful backup {a}; scheduled backups are off"),
            None => "no successful backup yet; scheduled backups are off".into(),
        }),
        (Some(s), true) => Err(match age {
            Some(a) => format!(
                "the last successful backup of {database} is stale ({a}) for the schedule `{}` ({})",
                s.expression,
                s.zone_name()
            ),
            None => format!(
                "no successful backup of {database} since scheduling started (`{}`)",
                s.expression
            ),
        }),
        (Some(s), false) => Ok(match age {
            Some(a) => format!("last successful backup {a}; schedule `{}`", s.expression),
            None => format!("no backup yet; the first is due by the schedule `{}`", s.expression),
        }),
    }
}

/// The last test restore of a backup of the target database proved it restores (none
/// yet is not a failure: the first one is due by `LIFEBOAT_TEST_RESTORE_EVERY`).
async fn last_test_restore_check(st: &AppState) -> Result<String, String> {
    let Some(database) = st.engine.database() else {
        return Ok("no target database".into());
    };
    let last = crate::store::test_restores::newest_for_database(&st.db, &database)
        .await
        .map_err(|e| format!("cannot read the journal: {e}"))?;
    let every = match st.engine.test_restore_every() {
        Some(d) => format!(
            "every {}",
            crate::retention::human_duration(chrono::Duration::from_std(d).unwrap_or_default())
        ),
        None if st.config.test_restore_after_backup => "after every scheduled backup".into(),
        None => "not on a schedule".into(),
    };
    let Some(t) = last else {
        return Ok(format!("no test restore yet (test restores: {every})"));
    };
    let hours = (chrono::Utc::now() - t.started_at).num_hours();
    let age = if hours >= 48 {
        format!("{} d ago", hours / 24)
    } else {
        format!("{hours} h ago")
    };
    match t.status.as_str() {
        "succeeded" | "running" => Ok(format!(
            "last test restore {age}, {}: {}",
            t.status,
            t.message.unwrap_or_default()
        )),
        other => Err(format!(
            "the last test restore ({age}, backup {}) {other}: {}",
            t.backup_id,
            t.message.unwrap_or_default()
        )),
    }
}

/// Scheduled backups are on, or off on purpose (LIFEBOAT_SCHEDULE_OFF_OK).
fn schedule_check(st: &AppState) -> Result<String, String> {
    let schedule = st.engine.schedule().borrow().schedule.clone();
    match schedule {
        Some(s) if st.engine.target().is_some() && !st.engine.scheduler_health().running() => {
            Err(format!(
                "the backup scheduler is not running, so `{}` runs nothing{}; restart Lifeboat",
                s.expression,
                st.engine
                    .scheduler_health()
                    .problem()
                    .map(|p| format!(" (its last error: {p})"))
                    .unwrap_or_default()
            ))
        }
        Some(s) => Ok(match st.engine.scheduler_health().problem() {
            Some(p) => format!(
                "scheduled backups: {} (the scheduler hit an error and keeps going: {p})",
                s.expression
            ),
            None => format!("scheduled backups: {}", s.expression),
        }),
        None if !st.engine.schedule_off_unacknowledged() => {
            Ok("scheduled backups are off on purpose (LIFEBOAT_SCHEDULE_OFF_OK)".into())
        }
        None => Err(
            "scheduled backups are off: nothing backs the database up on its own; set a schedule, or LIFEBOAT_SCHEDULE_OFF_OK=true if this is on purpose"
                .into(),
        ),
    }
}

/// Runs every readiness check (concurrently).
pub async fn report(st: &AppState) -> ReadyReport {
    let db = async {
        crate::store::ping(&st.db)
            .await
            .map(|_| "SQLite answers".to_string())
            .map_err(|e| format!("Lifeboat's own database does not answer: {e}"))
    };
    let data_dir = async {
        let dir = st.config.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let probe = dir.join(".readyz-probe");
            std::fs::write(&probe, b"ok")
                .and_then(|_| std::fs::remove_file(&probe))
                .map(|_| format!("{} is writable", dir.display()))
                .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
    };
    // The same probe as a backup's preflight: target, pg_dump, pg_restore.
    let probe = preflight::probe(st.engine.target(), st.config.pg_bin_dir.as_deref());
    let (db, data_dir, probe) = tokio::join!(db, data_dir, probe);
    let target_check = match (&probe.server, st.engine.target()) {
        (Ok(info), Some(url)) => Ok(format!(
            "PostgreSQL {} at {}:{}, database {} ({})",
            info.version,
            url.host(),
            url.port(),
            url.database(),
            human_bytes(info.database_size.max(0) as u64)
        )),
        (Err(e), _) => Err(e.clone()),
        (Ok(_), None) => Err("no target".into()),
    };
    let last_backup = last_backup_check(st).await;
    let last_test_restore = last_test_restore_check(st).await;
    let checks = vec![
        check("metadata_db", db),
        check("data_dir", data_dir),
        check("target", target_check),
        check(
            "pg_dump",
            probe.tool_check("pg_dump").map(|t| {
                let (c, why) = st.engine.compression();
                format!("{t}; compression {c} ({why})")
            }),
        ),
        check("pg_restore", probe.tool_check("pg_restore")),
        check("last_backup", last_backup),
        check("last_test_restore", last_test_restore),
        check("schedule", schedule_check(st)),
    ];
    ReadyReport {
        ready: checks.iter().all(|c| c.ok),
        checks,
        checked_at: None,
    }
}

/// Runs the checks now, then every `every`, until the task is aborted.
pub fn spawn_checks(st: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            st.readiness.fresh(|| report(&st)).await;
            tokio::time::sleep(every).await;
        }
    })
}

#[derive(Deserialize)]
struct ReadyQuery {
    /// `refresh=1`: run the checks now (signed-in sessions only; ignored otherwise).
    refresh: Option<String>,
}

/// What anyone may know: ready or not, and which checks failed, by name.
fn anonymous(r: &ReadyReport) -> ReadyReport {
    ReadyReport {
        ready: r.ready,
        checks: r
            .checks
            .iter()
            .map(|c| ReadyCheck {
                name: c.name.clone(),
                ok: c.ok,
                detail: String::new(),
            })
            .collect(),
        checked_at: None,
    }
}

async fn readyz(
    State(st): State<AppState>,
    user: Result<CurrentUser, AppError>,
    Query(q): Query<ReadyQuery>,
) -> Response {
    let signed_in = user.is_ok();
    let refresh = q.refresh.is_some_and(|v| v != "0" && v != "false");
    let checked = if signed_in && refresh {
        st.readiness.fresh(|| report(&st)).await
    } else {
        st.readiness.latest().await
    };
    let body = if signed_in {
        ReadyReport {
            checked_at: Some(checked.at),
            ..checked.report.clone()
        }
    } else {
        anonymous(&checked.report)
    };
    let status = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut resp = (status, Json(body)).into_response();
    // The answer depends on the session: no cache may keep one for another client.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
