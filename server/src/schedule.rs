//! Scheduled backups: a cron expression in a time zone, the scheduler task that runs
//! backups through exactly the same job as "Back up now" (kind `scheduled`, actor
//! `scheduler`), retries, a single catch-up at start-up for a slot missed while Lifeboat
//! was down, and retention after each successful scheduled backup.

use crate::audit::Origin;
use crate::backups::{self, StartError};
use crate::engine::Engine;
use crate::retention::{self, Policy};
use app::api::{backup_kind, job_status};
use chrono::{DateTime, Utc};
use croner::Cron;
use std::str::FromStr;
use std::time::Duration;

/// Who scheduled backups are attributed to.
pub const ACTOR: &str = "scheduler";

/// Where the time of the last slot the scheduler handled is kept.
const LAST_SLOT_KEY: &str = "schedule.last_slot";
/// A schedule changed on the Settings page (JSON ScheduleUpdate); wins over the
/// environment.
const OVERRIDE_KEY: &str = "schedule.override";

/// The schedule in force and where it comes from.
#[derive(Clone, Debug)]
pub struct Current {
    pub schedule: Option<Schedule>,
    /// `environment` or `settings page`.
    pub source: &'static str,
}

/// The schedule in force, shared by the scheduler and the web edge: a change on the
/// Settings page reaches the scheduler at once.
pub type Live = std::sync::Arc<tokio::sync::watch::Sender<Current>>;

pub fn live(from_environment: Option<Schedule>) -> Live {
    std::sync::Arc::new(tokio::sync::watch::Sender::new(Current {
        schedule: from_environment,
        source: "environment",
    }))
}

/// Applies a schedule saved from the Settings page, if any (at start-up).
pub async fn load_override(db: &sqlx::SqlitePool, live: &Live) -> anyhow::Result<()> {
    let v: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(OVERRIDE_KEY)
        .fetch_optional(db)
        .await?;
    let Some(v) = v else { return Ok(()) };
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

/// Validates, saves and applies a schedule from the Settings page.
pub async fn update(
    db: &sqlx::SqlitePool,
    live: &Live,
    u: &app::api::ScheduleUpdate,
) -> Result<Option<Schedule>, String> {
    let schedule = parse_update(u)?;
    let text = serde_json::to_string(u).map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(OVERRIDE_KEY)
    .bind(text)
    .execute(db)
    .await
    .map_err(|e| format!("cannot save the schedule: {e}"))?;
    live.send_replace(Current {
        schedule: schedule.clone(),
        source: "settings page",
    });
    Ok(schedule)
}

/// How long after the schedule's interval (plus a grace period: the interval itself, at
/// most an hour) a last success counts as stale. `reference` is the last success, or
/// when scheduling started in this data directory.
pub fn is_stale(schedule: &Schedule, reference: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let Some(prev) = schedule.prev_at_or_before(now) else {
        return false;
    };
    let Some(next) = schedule.next_after(prev) else {
        return false;
    };
    let interval = next - prev;
    let grace = interval.min(chrono::Duration::hours(1));
    now - reference > interval + grace
}

/// When the scheduler started handling slots here (its baseline), if it ever did.
pub async fn baseline(db: &sqlx::SqlitePool) -> sqlx::Result<Option<DateTime<Utc>>> {
    last_slot(db).await
}

#[derive(Clone, Debug)]
pub enum Zone {
    /// The server's own time zone.
    Local,
    Named(chrono_tz::Tz),
}

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub expression: String,
    cron: Cron,
    pub zone: Zone,
}

impl Schedule {
    /// A standard 5-field cron expression (`0 2 * * *`), or 6 fields with seconds first;
    /// `zone` is an IANA name (`Europe/Paris`), or `None` for the server's zone.
    pub fn parse(expression: &str, zone: Option<&str>) -> Result<Schedule, String> {
        let expression = expression.split_whitespace().collect::<Vec<_>>().join(" ");
        let fields = expression.split(' ').count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "`{expression}` has {fields} fields; use 5 (minute hour day month weekday, e.g. `0 2 * * *`) or 6 with seconds first"
            ));
        }
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build();
        let cron = parser
            .parse(&expression)
            .map_err(|e| format!("`{expression}` is not a valid cron expression: {e}"))?;
        let zone = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            None => Zone::Local,
            Some(name) => Zone::Named(chrono_tz::Tz::from_str(name).map_err(|_| {
                format!("`{name}` is not a time zone name; use one like Europe/Paris or UTC")
            })?),
        };
        Ok(Schedule {
            expression,
            cron,
            zone,
        })
    }

    pub fn zone_name(&self) -> String {
        match &self.zone {
            Zone::Local => "server time".into(),
            Zone::Named(tz) => tz.name().into(),
        }
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.zone {
            Zone::Local => self
                .cron
                .find_next_occurrence(&t.with_timezone(&chrono::Local), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }

    /// The last slot at or before `t`.
    pub fn prev_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.zone {
            Zone::Local => self
                .cron
                .find_previous_occurrence(&t.with_timezone(&chrono::Local), true)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_previous_occurrence(&t.with_timezone(tz), true)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }
}

/// Everything the scheduler follows.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `None`: scheduled backups are off.
    pub schedule: Option<Schedule>,
    /// Attempts per slot (at least 1).
    pub attempts: u32,
    pub retry_delay: Duration,
    /// Run once at start-up when a slot was missed while Lifeboat was down.
    pub catch_up: bool,
    pub retention: Policy,
}

/// Whether a slot was missed: the scheduler has run in this data directory before (its
/// last handled slot is recorded) and the latest slot is newer than that.
pub fn missed_slot(
    schedule: &Schedule,
    last_handled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let last = last_handled?;
    let slot = schedule.prev_at_or_before(now)?;
    (slot > last).then_some(slot)
}

async fn last_slot(db: &sqlx::SqlitePool) -> sqlx::Result<Option<DateTime<Utc>>> {
    let v: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(LAST_SLOT_KEY)
        .fetch_optional(db)
        .await?;
    Ok(v.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.with_timezone(&Utc)))
}

async fn record_slot(db: &sqlx::SqlitePool, slot: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(LAST_SLOT_KEY)
    .bind(slot.to_rfc3339())
    .execute(db)
    .await?;
    Ok(())
}

/// Starts the scheduler (when there is a target). It follows the live schedule: turned
/// off, it waits; changed, it recomputes the next run.
pub fn spawn(engine: Engine, settings: Settings) -> Option<tokio::task::JoinHandle<()>> {
    engine.target.as_ref()?;
    Some(tokio::spawn(async move {
        if let Err(e) = run(engine, settings).await {
            tracing::error!("the backup scheduler stopped: {e:#}");
        }
    }))
}

async fn run(engine: Engine, settings: Settings) -> anyhow::Result<()> {
    let mut rx = engine.schedule.subscribe();
    let now = Utc::now();
    let last = last_slot(&engine.db).await?;
    let current = rx.borrow_and_update().schedule.clone();
    if let Some(schedule) = &current {
        match missed_slot(schedule, last, now) {
            Some(slot) if settings.catch_up => {
                tracing::info!("catching up the scheduled backup missed at {slot}");
                record_slot(&engine.db, slot).await?;
                run_slot(&engine, &settings).await;
            }
            _ => {
                // First start in this data directory, or nothing missed: from now on.
                if last.is_none() {
                    record_slot(&engine.db, now).await?;
                }
            }
        }
    }
    loop {
        let current = rx.borrow_and_update().schedule.clone();
        let Some(schedule) = current else {
            // Off: wait for a change.
            if rx.changed().await.is_err() {
                return Ok(());
            }
            continue;
        };
        let Some(next) = schedule.next_after(Utc::now()) else {
            tracing::warn!(
                "the schedule `{}` has no next run; waiting for a new one",
                schedule.expression
            );
            if rx.changed().await.is_err() {
                return Ok(());
            }
            continue;
        };
        tracing::info!("next scheduled backup at {next}");
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                record_slot(&engine.db, next).await?;
                run_slot(&engine, &settings).await;
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                tracing::info!("the schedule changed");
            }
        }
    }
}

/// One slot: up to `attempts` backups, `retry_delay` apart, each its own journal row;
/// retention after a success.
pub async fn run_slot(engine: &Engine, settings: &Settings) -> Option<app::api::Job> {
    let origin = Origin::default().with_actor(ACTOR);
    let attempts = settings.attempts.max(1);
    for attempt in 1..=attempts {
        let outcome = match backups::start(engine, backup_kind::SCHEDULED, &origin).await {
            Ok((_, task)) => match task.await {
                Ok(job) => Ok(job),
                Err(e) => Err(format!("the backup task failed: {e}")),
            },
            Err(StartError::InvalidConfiguration { job, .. }) => Ok(*job),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(job) if job.status == job_status::SUCCEEDED => {
                match retention::prune(engine, &settings.retention, &origin, false).await {
                    Ok(deleted) if !deleted.is_empty() => tracing::info!(
                        "retention deleted {} backup(s) after the scheduled backup",
                        deleted.len()
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("retention after the scheduled backup failed: {e:#}"),
                }
                return Some(job);
            }
            Ok(job) => tracing::warn!(
                "scheduled backup attempt {attempt} of {attempts} {}: {}",
                job.status,
                job.message.clone().unwrap_or_default()
            ),
            Err(why) => tracing::warn!(
                "scheduled backup attempt {attempt} of {attempts} could not start: {why}"
            ),
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
        text: "Every attempt of the scheduled backup failed; the reasons are in the Backups history. The next scheduled run will try again.".into(),
        database,
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn five_and_six_field_expressions_parse_in_a_zone() {
        let s = Schedule::parse("0 2 * * *", Some("Europe/Paris")).expect("parse");
        // 02:00 in Paris in November is 01:00 UTC.
        assert_eq!(
            s.next_after(utc("2026-11-21T12:00:00Z")),
            Some(utc("2026-11-22T01:00:00Z"))
        );
        assert_eq!(
            s.prev_at_or_before(utc("2026-11-21T12:00:00Z")),
            Some(utc("2026-11-21T01:00:00Z"))
        );
        let every_10s = Schedule::parse("*/10 * * * * *", Some("UTC")).expect("seconds");
        assert_eq!(
            every_10s.next_after(utc("2026-11-21T12:00:01Z")),
            Some(utc("2026-11-21T12:00:10Z"))
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(Schedule::parse("0 2 * *", None)
            .expect_err("4 fields")
            .contains("5"));
        assert!(Schedule::parse("61 2 * * *", None)
            .expect_err("minute")
            .contains("not a valid cron"));
        assert!(Schedule::parse("0 2 * * *", Some("Mars/Olympus"))
            .expect_err("zone")
            .contains("time zone"));
    }

    #[test]
    fn staleness_allows_the_interval_and_a_grace_period() {
        let daily = Schedule::parse("0 2 * * *", Some("UTC")).expect("parse");
        let now = utc("2026-11-21T09:00:00Z");
        // Today's 02:00 backup is there.
        assert!(!daily.is_stale_for_test(utc("2026-11-21T02:10:00Z"), now));
        // Only yesterday's: older than a day plus an hour's grace.
        assert!(daily.is_stale_for_test(utc("2026-11-20T02:30:00Z"), now));
        assert!(!daily.is_stale_for_test(utc("2026-11-20T02:30:00Z"), utc("2026-11-21T03:00:00Z")));
        let minutely = Schedule::parse("* * * * *", Some("UTC")).expect("parse");
        assert!(!minutely.is_stale_for_test(now - chrono::Duration::seconds(90), now));
        assert!(minutely.is_stale_for_test(now - chrono::Duration::seconds(150), now));
    }

    impl Schedule {
        fn is_stale_for_test(&self, reference: DateTime<Utc>, now: DateTime<Utc>) -> bool {
            is_stale(self, reference, now)
        }
    }

    #[test]
    fn a_missed_slot_is_caught_up_once() {
        let s = Schedule::parse("0 2 * * *", Some("UTC")).expect("parse");
        let now = utc("2026-11-21T09:00:00Z");
        // Never ran here before: nothing to catch up.
        assert_eq!(missed_slot(&s, None, now), None);
        // Last handled yesterday's slot: today's 02:00 was missed.
        assert_eq!(
            missed_slot(&s, Some(utc("2026-11-20T02:00:00Z")), now),
            Some(utc("2026-11-21T02:00:00Z"))
        );
        // Down for three days: still one catch-up, for the latest slot.
        assert_eq!(
            missed_slot(&s, Some(utc("2026-11-17T02:00:00Z")), now),
            Some(utc("2026-11-21T02:00:00Z"))
        );
        // Today's slot already handled.
        assert_eq!(
            missed_slot(&s, Some(utc("2026-11-21T02:00:00Z")), now),
            None
        );
    }
}
