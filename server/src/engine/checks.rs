//! The alerts checked after every backup: consecutive failures, an abnormally small
//! file, low free space. The rules themselves are in `alerts`.

use super::Engine;
use crate::alerts::{abnormally_small, consecutive_failures, event, low_space, Alert, Alerter};
use crate::storage;
use crate::store::{backups, settings};
use chrono::Utc;
use sqlx::SqlitePool;

/// After a backup of `database` ended: checked in the background, never holding up the
/// job (follow-up work: a command-line run waits for it and for the alerts it raises).
pub fn after_backup(engine: &Engine, database: &str, backup_id: i64) {
    let engine = engine.clone();
    let database = database.to_string();
    let followups = engine.followups().clone();
    followups.spawn("checks after the backup", async move {
        let dir = storage::database_dir(&engine.data_dir, &database);
        check(&engine.alerts, &engine.db, &database, backup_id, &dir).await;
        Ok(())
    });
}

async fn check(
    alerter: &Alerter,
    db: &SqlitePool,
    database: &str,
    backup_id: i64,
    backups_dir: &std::path::Path,
) {
    let s = alerter.settings();
    let Ok(rows) = backups::recent_outcomes(db, database).await else {
        return;
    };
    let oks: Vec<bool> = rows.iter().map(|r| r.1).collect();
    let failures = consecutive_failures(&oks);
    if failures as u32 == s.consecutive_failures.max(1) {
        alerter.send(Alert {
            event: event::CONSECUTIVE_FAILURES,
            database: Some(database.into()),
            title: format!("{failures} backups of {database} failed in a row"),
            text: format!(
                "The last {failures} backups of {database} failed. The newest successful backup is getting older: look at the Backups page for the reasons."
            ),
        });
    }
    if let Some((_, succeeded, Some(size))) = rows.iter().find(|r| r.0 == backup_id) {
        if *succeeded {
            let previous: Vec<u64> = rows
                .iter()
                .filter(|r| r.0 != backup_id && r.1)
                .filter_map(|r| r.2.map(|v| v as u64))
                .collect();
            if let Some(why) = abnormally_small(*size as u64, &previous, s) {
                alerter.send(Alert {
                    event: event::SMALL_BACKUP,
                    database: Some(database.into()),
                    title: format!("Backup {backup_id} of {database} is abnormally small"),
                    text: format!(
                        "{why}. Check that the database was not emptied, and that the backup contains what it should."
                    ),
                });
            }
        }
    }
    if let Ok((free, total)) = storage::volume_space(backups_dir) {
        let why = low_space(free, total, s);
        if why.is_some() && !once_a_day(db, "alert.low_space.last").await {
            return;
        }
        if let Some(why) = why {
            alerter.send(Alert {
                event: event::LOW_SPACE,
                database: Some(database.into()),
                title: "Low free space on the backup volume".into(),
                text: format!(
                    "{}: {why}. Free space or lower retention before backups start failing.",
                    backups_dir.display()
                ),
            });
        }
    }
}

/// `true` at most once per 24 hours for `key` (a repeated condition, such as low space,
/// is not re-sent after every backup).
async fn once_a_day(db: &SqlitePool, key: &str) -> bool {
    let now = Utc::now();
    let last = settings::get(db, key).await.ok().flatten();
    let recent = last
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .is_some_and(|t| now - t.with_timezone(&Utc) < chrono::Duration::hours(24));
    if recent {
        return false;
    }
    settings::set(db, key, &now.to_rfc3339()).await.is_ok()
}
