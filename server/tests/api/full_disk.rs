//! Fault test 2: the metadata database locked across a scheduled slot. The scheduler keeps
//! running, the failure is alerted, and the slot's retry after the lock is gone produces a
//! succeeded backup.

use crate::support::*;
use app::api::{backup_kind, job_status, Backup, BackupPage, BackupStatus};
use chrono::{DateTime, Utc};
use sqlx::Connection;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Received = Arc<Mutex<Vec<serde_json::Value>>>;

impl TestApp {
    async fn scheduled(&self) -> Vec<Backup> {
        let page: BackupPage = self
            .client
            .get(self.url("/api/v1/backups?limit=500"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("page");
        page.items
            .into_iter()
            .filter(|b| b.kind == backup_kind::SCHEDULED)
            .collect()
    }

    /// Waits (up to `secs`) for a scheduled backup started after `since` that ended with
    /// `status`.
    async fn scheduled_after(&self, since: DateTime<Utc>, status: &str, secs: u64) -> Backup {
        for _ in 0..secs * 5 {
            if let Some(b) = self
                .scheduled()
                .await
                .into_iter()
                .find(|b| b.started_at > since && b.status == status)
            {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "no {status} scheduled backup started after {since} within {secs} s: {:?}",
            self.scheduled().await
        );
    }

    /// `/readyz?refresh=1`'s `schedule` check: (ok, detail).
    async fn schedule_check(&self) -> (bool, String) {
        let ready: app::api::ReadyReport = self
            .client
            .get(self.url("/readyz?refresh=1"))
            .send()
            .await
            .expect("readyz")
            .json()
            .await
            .expect("json");
        let c = ready
            .checks
            .into_iter()
            .find(|c| c.name == "schedule")
            .expect("a schedule check");
        (c.ok, c.detail)
    }

    /// No job and no journal row is left `running` (checked straight in the store).
    async fn nothing_left_running(&self) {
        let db = &self.server.state.db;
        let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'running'")
            .fetch_one(db)
            .await
            .expect("jobs");
        let backups: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM backups WHERE status = 'running'")
                .fetch_one(db)
                .await
                .expect("backups");
        assert_eq!((jobs, backups), (0, 0), "rows left running");
    }
}

fn alerts_of(got: &Received, event: &str) -> Vec<serde_json::Value> {
    got.lock()
        .expect("lock")
        .iter()
        .filter(|a| a["event"] == event)
        .cloned()
        .collect()
}

/// Waits (up to `secs`) for an alert of `event`.
async fn alert(got: &Received, event: &str, secs: u64) -> serde_json::Value {
    for _ in 0..secs * 10 {
        if let Some(a) = alerts_of(got, event).into_iter().next() {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no {event} alert within {secs} s; got {:?}",
        got.lock().expect("lock")
    );
}

/// Takes SQLite's write lock on `lifeboat.db` from a connection of its own (as another
/// program holding the file would) at a moment no job is running and the last slot is
/// recorded, so that the slot that comes next is the first to need a write: starting its
/// backup.
async fn lock_between_jobs(data_dir: &std::path::Path) -> sqlx::SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data_dir.join("lifeboat.db"))
        .busy_timeout(Duration::from_secs(30));
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("a connection of the test's own");
    for _ in 0..100 {
        sqlx::raw_sql("BEGIN EXCLUSIVE")
            .execute(&mut conn)
            .await
            .expect("begin exclusive");
        let running: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
                .fetch_one(&mut conn)
                .await
                .expect("running jobs");
        let latest: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT MAX(started_at) FROM jobs")
            .fetch_one(&mut conn)
            .await
            .expect("latest job");
        let slot: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = 'schedule.last_slot'")
                .fetch_optional(&mut conn)
                .await
                .expect("last slot");
        let slot = slot.and_then(|s| DateTime::parse_from_rfc3339(&s).ok());
        // Slots fall on whole seconds and their backup starts right after: the latest
        // job's slot is recorded once the recorded slot is within a second before it.
        let recorded = match (latest, slot) {
            (Some(job), Some(slot)) => slot + chrono::Duration::seconds(1) > job,
            _ => false,
        };
        if running == 0 && recorded {
            return conn;
        }
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut conn)
            .await
            .expect("rollback");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("a job was running, or its slot not yet recorded, at every try for 5 s");
}

#[tokio::test]
async fn a_locked_metadata_database_across_a_slot_is_alerted_and_a_retry_then_the_next_slot_run() {
    let url = sample_database("lb_locked_meta", 200).await;
    let (hook, got) = crate::alerts::receiver(200).await;
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_SCHEDULE", "*/2 * * * * *".into()),
            ("LIFEBOAT_SCHEDULE_TZ", "UTC".into()),
            ("LIFEBOAT_SCHEDULE_RETRY_DELAY", "1s".into()),
            ("LIFEBOAT_DB_BUSY_TIMEOUT", "1s".into()),
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
        ],
        target: Some(url),
    })
    .await;
    let start = Utc::now();
    app.scheduled_after(start, job_status::SUCCEEDED, 30).await;

    // Held 3.5 s: the first slot falls within 2 s, so its first attempt waits the 1 s busy
    // timeout and fails while the lock is held; its third attempt (2 s after each failure)
    // comes after the lock is gone.
    let mut holder = lock_between_jobs(app.data_dir.path()).await;
    let locked_at = Utc::now();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("release");
    let released_at = Utc::now();

    // The scheduler said so, once, naming the problem.
    let a = alert(&got, "scheduler_error", 10).await;
    let text = a["text"].as_str().unwrap_or_default();
    assert!(text.contains("could not start"), "{a}");
    assert!(text.contains("database is locked"), "{a}");
    // The slot's backup ran once the lock was gone, then the next slots too.
    let retried = app
        .scheduled_after(locked_at, job_status::SUCCEEDED, 20)
        .await;
    assert!(retried.started_at >= released_at - chrono::Duration::milliseconds(1100));
    let later = app
        .scheduled_after(retried.started_at, job_status::SUCCEEDED, 20)
        .await;
    assert!(later.id > retried.id);
    assert_eq!(alerts_of(&got, "scheduler_error").len(), 1, "alerted once");
    assert!(
        alerts_of(&got, "backup_failed").is_empty(),
        "a retry went through: the slot did not fail"
    );
    // Running, healthy again, and nothing left half-recorded.
    assert!(app.server.state.engine.scheduler_health().running());
    let status: BackupStatus = app.backup_status().await;
    assert_eq!(status.scheduler_problem, None);
    let (ok, detail) = app.schedule_check().await;
    assert!(ok, "{detail}");
    app.nothing_left_running().await;
}
