//! `/api/v1/schedule`, `/api/v1/settings`, `/api/v1/retention/plan` and
//! `/api/v1/alerts/test`: what the Settings page shows and changes.

use super::error::AppError;
use super::extract::JsonBody;
use super::roles::{Admin, Viewer};
use super::state::AppState;
use crate::engine::{pruning, scheduler};
use crate::storage;
use crate::store::audit::{self, Entry};
use crate::store::backups as journal;
use app::api::{audit_action, outcome};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/retention/plan", get(retention_plan))
        .route("/schedule", get(schedule).put(update_schedule))
        .route("/alerts/test", post(test_alert))
        .route("/settings", get(settings))
}

/// What retention would delete now (nothing is deleted).
async fn retention_plan(
    State(st): State<AppState>,
    Admin(user): Admin,
) -> Result<Json<Vec<app::api::Pruned>>, AppError> {
    let plan = pruning::prune(
        &st.engine,
        st.engine.target(),
        &st.config.scheduler.retention,
        &user.origin(),
        true,
    )
    .await?;
    Ok(Json(plan))
}

fn schedule_info(st: &AppState) -> app::api::ScheduleInfo {
    let s = &st.config.scheduler;
    let current = st.engine.schedule().borrow().clone();
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

async fn schedule(
    State(st): State<AppState>,
    Viewer(_user): Viewer,
) -> Json<app::api::ScheduleInfo> {
    Json(schedule_info(&st))
}

async fn update_schedule(
    State(st): State<AppState>,
    Admin(user): Admin,
    JsonBody(u): JsonBody<app::api::ScheduleUpdate>,
) -> Result<Json<app::api::ScheduleInfo>, AppError> {
    let before = st
        .engine
        .schedule()
        .borrow()
        .schedule
        .as_ref()
        .map(|s| s.expression.clone());
    // Turning the schedule off stops new recovery points: it asks for the password again.
    let origin = match scheduler::turns_off(&u) {
        true => user.confirmed(&st)?.origin().clone(),
        false => user.origin(),
    };
    let result = scheduler::update(&st.db, st.engine.schedule(), &u).await;
    audit::record(
        &st.db,
        &origin,
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
        Ok(_) => {
            // /readyz's `schedule` check learns of it now, not at the next interval.
            let checked = st.clone();
            tokio::spawn(async move {
                checked
                    .readiness
                    .fresh(|| super::health::report(&checked))
                    .await;
            });
            if scheduler::turns_off(&u) {
                scheduler::alert_if_off(
                    &st.engine,
                    &format!(
                        "{} turned scheduled backups off on the Settings page",
                        user.username
                    ),
                );
            }
            Ok(Json(schedule_info(&st)))
        }
        Err(m) => Err(AppError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_schedule",
            message: m,
            job_id: None,
        }),
    }
}

/// Files in the backup folders that the journal does not know (temporary files aside).
async fn unknown_files(st: &AppState) -> Result<Vec<app::api::UnknownFile>, AppError> {
    let known: std::collections::HashSet<String> = journal::known_locations(&st.db)
        .await?
        .into_iter()
        .flat_map(|l| [format!("{l}.json"), l])
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
            let rel = storage::relative(&data_dir, &p);
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
    Admin(_user): Admin,
) -> Result<Json<app::api::SettingsInfo>, AppError> {
    let a = st.engine.alerts().settings();
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
        offsite: st.engine.offsite().map(|o| o.describe()),
        offsite_keep: st.engine.offsite().map(|o| o.keep() as u32),
        alert_channels,
        unknown_files: unknown_files(&st).await?,
    }))
}

/// Sends a test alert on every configured channel and says how each went (audited).
async fn test_alert(
    State(st): State<AppState>,
    Admin(user): Admin,
) -> Result<Json<Vec<crate::alerts::Delivery>>, AppError> {
    if !st.engine.alerts().configured() {
        return Err(AppError::BadRequest(
            "No alert channel is configured: set LIFEBOAT_ALERT_WEBHOOK_URL, or LIFEBOAT_SMTP_HOST with LIFEBOAT_ALERT_EMAIL_FROM and LIFEBOAT_ALERT_EMAIL_TO.".into(),
        ));
    }
    let alert = crate::alerts::Alert {
        event: crate::alerts::event::TEST,
        database: st.engine.database(),
        title: "Test alert".into(),
        text: format!(
            "{} sent this test from Lifeboat at {}: alerts reach you.",
            user.username,
            st.config.base_url()
        ),
    };
    Ok(Json(st.engine.alerts().deliver(&alert).await))
}
