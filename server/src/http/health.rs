//! `GET /healthz` (the process answers) and `GET /readyz` (everything a backup needs is
//! in place: 200, or 503 listing what is not).

use crate::pgtools;
use crate::state::AppState;
use crate::target;
use app::api::{ReadyCheck, ReadyReport};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

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

/// Runs every readiness check (concurrently).
/// The last successful backup is recent enough for the schedule in force.
async fn last_backup_check(st: &AppState) -> Result<String, String> {
    let Some(database) = st.engine.target.as_ref().map(|t| t.database()) else {
        return Ok("no target database".into());
    };
    let last = crate::backups::last_success(&st.db, &database)
        .await
        .map_err(|e| format!("cannot read the journal: {e}"))?;
    let at = last.as_ref().and_then(|b| b.finished_at);
    let stale = crate::http::backups::stale(st, at)
        .await
        .map_err(|e| e.to_string())?;
    let schedule = st.engine.schedule.borrow().schedule.clone();
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

pub async fn report(st: &AppState) -> ReadyReport {
    let db = async {
        sqlx::query_scalar::<_, i64>("SELECT 1")
            .fetch_one(&st.db)
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
    let server = async {
        match &st.engine.target {
            None => Err("no target database is configured (LIFEBOAT_TARGET_URL)".to_string()),
            Some(url) => target::server_info(url).await,
        }
    };
    let bin = st.config.pg_bin_dir.as_deref();
    let (db, data_dir, server, dump, restore) = tokio::join!(
        db,
        data_dir,
        server,
        pgtools::find("pg_dump", bin),
        pgtools::find("pg_restore", bin)
    );
    let target_check = match (&server, &st.engine.target) {
        (Ok(info), Some(url)) => Ok(format!(
            "PostgreSQL {} at {}:{}, database {} ({})",
            info.version,
            url.host(),
            url.port(),
            url.database(),
            crate::backups::human_bytes(info.database_size.max(0) as u64)
        )),
        (Err(e), _) => Err(e.clone()),
        (Ok(_), None) => Err("no target".into()),
    };
    let tool_check = |t: Result<pgtools::Tool, String>, name: &str| -> Result<String, String> {
        let t = t?;
        match &server {
            Ok(info) if !pgtools::compatible(t.major, info.major) => Err(format!(
                "{name} {} at {} is older than the target server (PostgreSQL {}); install the PostgreSQL {} client tools or newer and point LIFEBOAT_PG_BIN_DIR at them",
                t.version,
                t.path.display(),
                info.version,
                info.major
            )),
            Ok(info) => Ok(format!(
                "{name} {} at {} (works with PostgreSQL {})",
                t.version,
                t.path.display(),
                info.major
            )),
            Err(_) => Ok(format!(
                "{name} {} at {} (compatibility unknown until the target answers)",
                t.version,
                t.path.display()
            )),
        }
    };
    let last_backup = last_backup_check(st).await;
    let checks = vec![
        check("metadata_db", db),
        check("data_dir", data_dir),
        check("target", target_check),
        check("pg_dump", tool_check(dump, "pg_dump")),
        check("pg_restore", tool_check(restore, "pg_restore")),
        check("last_backup", last_backup),
    ];
    ReadyReport {
        ready: checks.iter().all(|c| c.ok),
        checks,
    }
}

async fn readyz(State(st): State<AppState>) -> Response {
    let r = report(&st).await;
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(r)).into_response()
}
