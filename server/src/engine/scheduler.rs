//! The scheduler: runs backups on the schedule in force through exactly the same job as
//! "Back up now" (kind `scheduled`, actor `scheduler`), with retries, a single catch-up
//! at start-up for a slot missed while Lifeboat was down (a slot is recorded once handled,
//! so one whose backup a stop interrupted is caught up too), and retention after each
//! successful scheduled backup. Also keeps the schedule changed on the Settings page.

use super::backup::{self, StartError};
use super::{pruning, Engine};
use crate::schedule::{is_stale, missed_slot, Current, Live, Schedule, Settings};
use crate::store::audit::Origin;
use crate::store::backups::BackupKind;
use crate::store::jobs::JobStatus;
use crate::store::settings;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tracing::Instrument;

/// Who scheduled backups are attributed to.
pub const ACTOR: &str = "scheduler";

/// Where the time of the last slot the scheduler handled is kept.
const LAST_SLOT_KEY: &str = "schedule.last_slot";
/// A schedule changed on the Settings page (JSON ScheduleUpdate); wins over the
/// environment.
const OVERRIDE_KEY: &str = "schedule.override";

/// Applies a schedule saved from the Settings page, if any (at start-up).
pub async fn load_override(db: &sqlx::SqlitePool, live: &Live) -> anyhow::Result<()> {
    let Some(v) = settings::get(db, OVERRIDE_KEY).await? else {
        return Ok(());
    };
    let update: app::api::ScheduleUpdate = serde_json::from_str(&v)?;
    match parse_update(&update) {
        Ok(schedule) => {
            live.send_replace(Current {
                schedule,
                source: "settings page",
            });
        }
        Err(e) => tracing::warn!(
            "the schedule saved from the Settings page is not valid ({e}); using the environment's"
        ),
    }
    Ok(())
}

fn parse_update(u: &app::api::ScheduleUpdate) -> Result<Option<Schedule>, String> {
    match u.expression.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(e) => Schedule::parse(e, u.zone.as_deref()).map(Some),
    }
}

/// Raises the `schedule_off` alert when scheduled backups are off and that was not said to
/// be on purpose (`how`: what turned them off).
pub fn alert_if_off(engine: &Engine, how: &str) {
    if !engine.schedule_off_unacknowledged() {
        return;
    }
    engine.alerts().send(crate::alerts::Alert {
        event: crate::alerts::event::SCHEDULE_OFF,
        database: engine.database(),
        title: "Scheduled backups are off".into(),
        text: format!(
            "{how}: no backup is taken unless someone starts one. Set a schedule on the Settings page, or set LIFEBOAT_SCHEDULE_OFF_OK=true if this instance is unscheduled on purpose."
        ),
    });
}

/// Whether `u` is a valid update that turns scheduled backups off.
pub fn turns_off(u: &app::api::ScheduleUpdate) -> bool {
    matches!(parse_update(u), Ok(None))
}

/// Validates, saves and applies a schedule from the Settings page.
pub async fn update(
    db: &sqlx::SqlitePool,
    live: &Live,
    u: &app::api::ScheduleUpdate,
) -> Result<Option<Schedule>, String> {
    let schedule = parse_update(u)?;
    let text = serde_json::to_string(u).map_err(|e| e.to_string())?;
    settings::set(db, OVERRIDE_KEY, &text)
        .await
        .map_err(|e| format!("cannot save the schedule: {e}"))?;
    live.send_replace(Current {
        schedule: schedule.clone(),
        source: "settings page",
    });
    Ok(schedule)
}

/// When the scheduler started handling slots here (its baseline), if it ever did.
pub async fn baseline(db: &sqlx::SqlitePool) -> sqlx::Result<Option<DateTime<Utc>>> {
    last_slot(db).await
}

async fn last_slot(db: &sqlx::SqlitePool) -> sqlx::Result<Option<DateTime<Utc>>> {
    let v = settings::get(db, LAST_SLOT_KEY).await?;
    Ok(v.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.with_timezone(&Utc)))
}

async fn record_slot(db: &sqlx::SqlitePool, slot: DateTime<Utc>) -> sqlx::Result<()> {
    settings::set(db, LAST_SLOT_KEY, &slot.to_rfc3339()).await
}

/// How long the scheduler waits before trying again after an error of its own.
const RETRY_AFTER_ERROR: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether the scheduler task is running, and the error it last hit (cleared once what
/// failed works again). The status strip and `/readyz` show both.
#[derive(Default)]
pub struct Health {
    running: AtomicBool,
    problem: Mutex<Option<String>>,
}

impl Health {
    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// The scheduler's last error, while it has not recovered from it.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().map(|p| p.clone()).unwrap_or(None)
    }

    /// Sets or clears the problem; true when there was none before.
    fn set_problem(&self, problem: Option<String>) -> bool {
        match self.problem.lock() {
            Ok(mut p) => {
                let first = p.is_none();
                *p = problem;
                first
            }
            Err(_) => false,
        }
    }
}

/// Marks the scheduler stopped however its task ends (returned, panicked, aborted).
struct Running(std::sync::Arc<Health>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

/// An error of the scheduler's own (not a backup's): logged, kept for the status strip and
/// `/readyz`, and alerted once until it recovers. The scheduler goes on.
fn trouble(engine: &Engine, what: String) {
    tracing::error!("scheduler: {what}");
    if engine.scheduler_health().set_problem(Some(what.clone())) {
        engine.alerts.send(crate::alerts::Alert {
            event: crate::alerts::event::SCHEDULER_ERROR,
            database: engine.database(),
            title: "The backup scheduler hit an error".into(),
            text: format!(
                "{what}. The scheduler keeps running and tries again; scheduled backups still run. Lifeboat's log has the details."
            ),
        });
    }
}

/// Records the slot being handled; an error is [`trouble`], never the scheduler's end.
async fn remember_slot(engine: &Engine, slot: DateTime<Utc>) {
    match record_slot(&engine.db, slot).await {
        Ok(()) => {
            engine.scheduler_health().set_problem(None);
        }
        Err(e) => trouble(
            engine,
            format!("cannot record the scheduled slot of {slot} in Lifeboat's database: {e}"),
        ),
    }
}

/// Starts the scheduler (when there is a target). It follows the live schedule: turned
/// off, it waits; changed, it recomputes the next run. No single error ends it.
pub fn spawn(engine: Engine, settings: Settings) -> Option<tokio::task::JoinHandle<()>> {
    engine.target.as_ref()?;
    let health = engine.scheduler_health().clone();
    health.running.store(true, Ordering::SeqCst);
    Some(tokio::spawn(
        async move {
            let _running = Running(health);
            run(engine, settings).await;
            tracing::info!("the backup scheduler stopped");
        }
        .instrument(tracing::info_span!("scheduler")),
    ))
}

async fn run(engine: Engine, settings: Settings) {
    let mut rx = engine.schedule.subscribe();
    let last = loop {
        match last_slot(&engine.db).await {
            Ok(last) => break last,
            Err(e) => {
                trouble(
                    &engine,
                    format!("cannot read the last scheduled slot from Lifeboat's database: {e}"),
                );
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
            }
        }
    };
    let now = Utc::now();
    let current = rx.borrow_and_update().schedule.clone();
    if let Some(schedule) = &current {
        match missed_slot(schedule, last, now) {
            Some(slot) if settings.catch_up => {
                tracing::info!("catching up the scheduled backup missed at {slot}");
                run_slot(&engine, &settings).await;
                remember_slot(&engine, slot).await;
            }
            _ => {
                // First start in this data directory, or nothing missed: from now on.
                if last.is_none() {
                    remember_slot(&engine, now).await;
                }
            }
        }
    }
    loop {
        let current = rx.borrow_and_update().schedule.clone();
        let Some(schedule) = current else {
            // Off: wait for a change.
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        let Some(next) = schedule.next_after(Utc::now()) else {
            tracing::warn!(
                "the schedule `{}` has no next run; waiting for a new one",
                schedule.expression
            );
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        tracing::info!("next scheduled backup at {next}");
        tokio::select! {
            _ = sleep_until_wall_clock(next) => {
                // Recorded once handled: a stop during the slot's backup leaves it
                // unrecorded, so the next start catches it up (and alerts it).
                run_slot(&engine, &settings).await;
                remember_slot(&engine, next).await;
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
                tracing::info!("the schedule changed");
            }
        }
    }
}

/// The longest the scheduler sleeps before looking at the wall clock again.
const WALL_CLOCK_CHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Sleeps until the wall clock reaches `at`. Tokio's timers follow the monotonic clock,
/// which a change of the wall clock (NTP stepping it, a suspended machine) does not move:
/// sleeping in bounded steps and looking at the wall clock after each one keeps a slot
/// from running hours late or early.
async fn sleep_until_wall_clock(at: DateTime<Utc>) {
    loop {
        let left = (at - Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(WALL_CLOCK_CHECK)).await;
    }
}

/// How often a slot that found its database busy looks again.
const BUSY_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the slot's backup; while another job holds the database (a restore, a backup
/// started by hand), waits for it to end rather than failing: a slot that falls during a
/// restore runs once the restore is over.
async fn start_when_free(
    engine: &Engine,
    origin: &Origin,
) -> Result<(app::api::StartedJob, tokio::task::JoinHandle<app::api::Job>), StartError> {
    let mut waiting_for = None;
    loop {
        match backup::start(engine, engine.target(), BackupKind::Scheduled, origin).await {
            Err(StartError::Busy(busy)) => {
                if waiting_for != Some(busy.job_id) {
                    tracing::info!(
                        job = ?busy.job_id,
                        "the scheduled backup waits for the job holding {} to end",
                        busy.database
                    );
                    waiting_for = Some(busy.job_id);
                }
                tokio::time::sleep(BUSY_POLL).await;
            }
            other => return other,
        }
    }
}

/// One slot: up to `attempts` backups, `retry_delay` apart, each its own journal row;
/// retention after a success.
pub async fn run_slot(engine: &Engine, settings: &Settings) -> Option<app::api::Job> {
    let origin = Origin::default().with_actor(ACTOR);
    let attempts = settings.attempts.max(1);
    // Why the last attempt could not even start, when that was the case.
    let mut not_started = None;
    for attempt in 1..=attempts {
        let started = start_when_free(engine, &origin).await;
        let outcome = match started {
            Ok((_, task)) => match task.await {
                Ok(job) => Ok(job),
                Err(e) => Err(format!("the backup task failed: {e}")),
            },
            Err(StartError::InvalidConfiguration { job, .. }) => Ok(*job),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(job) if job.status == JobStatus::Succeeded.as_str() => {
                // LIFEBOAT_TEST_RESTORE_EVERY=after-backup: prove this backup restores.
                if let (true, Some(id)) = (engine.test_restore_after_backup, job.backup_id) {
                    match super::test_restore::start(engine, Some(id), &origin).await {
                        Ok((_, task)) => {
                            let _ = task.await;
                        }
                        Err(e) => {
                            tracing::warn!("the test restore of backup {id} did not start: {e}")
                        }
                    }
                }
                let pruned =
                    pruning::prune(engine, engine.target(), &settings.retention, &origin, false)
                        .await;
                match pruned {
                    Ok(deleted) if !deleted.is_empty() => tracing::info!(
                        "retention deleted {} backup(s) after the scheduled backup",
                        deleted.len()
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("retention after the scheduled backup failed: {e:#}"),
                }
                // The databases swap restores kept aside go the same way once older
                // than LIFEBOAT_KEEP_OLD_DATABASES.
                match super::restore::kept::prune_kept(engine, engine.target(), &origin).await {
                    Ok(dropped) if !dropped.is_empty() => tracing::info!(
                        "dropped {} kept database(s) older than the keep period: {}",
                        dropped.len(),
                        dropped.join(", ")
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("dropping old kept databases failed: {e}"),
                }
                return Some(job);
            }
            Ok(job) => {
                not_started = None;
                tracing::warn!(
                    "scheduled backup attempt {attempt} of {attempts} {}: {}",
                    job.status,
                    job.message.clone().unwrap_or_default()
                )
            }
            // Lifeboat's own trouble (its database locked or full, a lock file it cannot
            // create), not the backup's: there is no journal row to read it from, so it
            // is the scheduler's error, alerted once until a slot goes through again.
            Err(why) => {
                trouble(
                    engine,
                    format!(
                        "scheduled backup attempt {attempt} of {attempts} could not start: {why}"
                    ),
                );
                not_started = Some(why);
            }
        }
        if attempt < attempts {
            tokio::time::sleep(settings.retry_delay).await;
        }
    }
    let database = engine.target.as_ref().map(|t| t.database());
    engine.alerts.send(crate::alerts::Alert {
        event: crate::alerts::event::BACKUP_FAILED,
        title: format!(
            "Scheduled backup of {} failed after {attempts} attempt(s)",
            database.as_deref().unwrap_or("the database")
        ),
        text: match not_started {
            Some(why) => format!("The last attempt of the scheduled backup could not start: {why}. The next scheduled run will try again."),
            None => "Every attempt of the scheduled backup failed; the reasons are in the Backups history. The next scheduled run will try again.".into(),
        },
        database,
    });
    None
}

/// Whether the last success (or, without one, the start of scheduling here) is older
/// than the schedule in force allows. Never stale when scheduled backups are off.
pub async fn stale(engine: &Engine, last_success_at: Option<DateTime<Utc>>) -> sqlx::Result<bool> {
    let Some(schedule) = engine.schedule.borrow().schedule.clone() else {
        return Ok(false);
    };
    let reference = match last_success_at {
        Some(t) => Some(t),
        None => baseline(&engine.db).await?,
    };
    Ok(reference.is_some_and(|r| is_stale(&schedule, r, Utc::now())))
}
