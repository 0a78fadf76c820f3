//! Fault test 2: the metadata database locked across a scheduled slot, and a full disk
//! shared by `lifeboat.db` and the backups (the documented layout: both under the data
//! directory). In each case the scheduler keeps running, the failure is alerted, and the
//! slot after the fault is over produces a succeeded backup.

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

    /// Waits (up to 10 s) for the status strip to show no scheduler problem: it clears
    /// once the slot is recorded, just after the slot's backup and retention.
    async fn scheduler_problem_clears(&self) {
        let mut problem = None;
        for _ in 0..100 {
            let status: BackupStatus = self.backup_status().await;
            problem = status.scheduler_problem;
            if problem.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the scheduler's problem stays shown: {problem:?}");
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
    app.scheduler_problem_clears().await;
    let (ok, detail) = app.schedule_check().await;
    assert!(ok, "{detail}");
    app.nothing_left_running().await;
}

/// A tmpfs mounted for one test, unmounted when dropped, even after a panic (lazily: the
/// server may still hold its files open then).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (after saying so) when the test does not run as root; a mount that fails as
    /// root fails the test.
    fn mount(size_mib: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m,mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .output();
        match mounted {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            _ if !running_as_root() => {
                eprintln!("skipped: needs root to mount a tmpfs");
                None
            }
            other => panic!("cannot mount a tmpfs although running as root: {other:?}"),
        }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_bytes(path: &std::path::Path) -> u64 {
    server::storage::volume_space(path).expect("free space").0
}

/// Writes a filler file until at most `leave` bytes are free (0: until the disk is full).
fn fill(path: &std::path::Path, leave: u64) {
    use std::io::Write;
    let dir = path.parent().expect("parent");
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0x5au8; 1 << 20];
    loop {
        let free = free_bytes(dir);
        if free <= leave {
            break;
        }
        let n = ((free - leave) as usize).min(chunk.len());
        match f.write_all(&chunk[..n]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    let _ = f.sync_all();
}

/// Every file left in the backups folder whose name says it is unfinished.
fn partial_files(data_dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with(".tmp") {
                out.push(p);
            }
        }
    }
    let mut out = vec![];
    walk(&data_dir.join("backups"), &mut out);
    out
}

/// Turns the schedule on (every 2 s) or off in memory only: saving it would be a write
/// to the very database the test fills the disk under.
fn schedule_every_2s(app: &TestApp, on: bool) {
    let schedule =
        on.then(|| server::schedule::Schedule::parse("*/2 * * * * *", Some("UTC")).expect("cron"));
    app.server
        .state
        .engine
        .schedule()
        .send_replace(server::schedule::Current {
            schedule,
            source: "settings page",
        });
}

async fn wait_idle(app: &TestApp) {
    for _ in 0..600 {
        let running: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
                .fetch_one(&app.server.state.db)
                .await
                .expect("running jobs");
        if running == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("a job is still running after a minute");
}

#[tokio::test]
async fn a_full_disk_fails_the_backup_clearly_and_the_next_slot_succeeds_once_space_is_back() {
    let Some(disk) = Tmpfs::mount(192) else {
        return;
    };
    let data_dir = disk.path().join("data");
    // About 32 MB of incompressible rows (kept uncompressed in the table too): the archive
    // is about as large, more than the space left for it below.
    let url = create_database("lb_full_disk").await;
    sql(
        &url,
        "CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL);
         INSERT INTO blobs SELECT g, (SELECT string_agg(decode(md5(g || ':' || i || ':' || random()), 'hex'), ''::bytea) FROM generate_series(1, 64) i) FROM generate_series(1, 32000) g;",
    )
    .await;
    let (hook, got) = crate::alerts::receiver(200).await;
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_DATA_DIR", data_dir.display().to_string()),
            ("LIFEBOAT_SCHEDULE_ATTEMPTS", "1".into()),
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
        ],
        target: Some(url.clone()),
    })
    .await;
    let db = app.server.state.db.clone();

    // 1. The backups' disk fills during the dump. The preflight lets it start (for a
    // first backup it expects half the database's size; more than that is left free).
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let size: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .expect("size")
        .get(0);
    let filler = disk.path().join("filler");
    fill(&filler, size as u64 / 2 + (4 << 20));
    // The journal's next writes need new room on the disk, as after any checkpoint.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&db)
        .await
        .expect("checkpoint");
    let t0 = Utc::now();
    schedule_every_2s(&app, true);
    let failed = app.scheduled_after(t0, job_status::FAILED, 60).await;
    schedule_every_2s(&app, false);
    let message = failed.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("no space left on the disk holding the backups"),
        "{message}"
    );
    assert!(message.contains("No space left on device"), "{message}");
    assert_eq!(failed.file_name, None, "{failed:?}");
    assert_eq!(partial_files(&data_dir), Vec::<std::path::PathBuf>::new());
    let a = alert(&got, "backup_failed", 10).await;
    assert!(
        a["title"]
            .as_str()
            .unwrap_or_default()
            .contains("lb_full_disk"),
        "{a}"
    );
    assert!(
        alerts_of(&got, "journal_failed").is_empty(),
        "the failure was journaled: {:?}",
        got.lock().expect("lock")
    );
    assert!(app.server.state.engine.scheduler_health().running());
    wait_idle(&app).await;
    app.nothing_left_running().await;

    // Space is back: the next slot succeeds.
    std::fs::remove_file(&filler).expect("free the space");
    let t1 = Utc::now();
    schedule_every_2s(&app, true);
    let ok = app.scheduled_after(t1, job_status::SUCCEEDED, 60).await;
    schedule_every_2s(&app, false);
    let stored = data_dir.join(ok.location.clone().expect("location"));
    assert!(stored.is_file(), "{}", stored.display());

    // 2. Now the disk is full for Lifeboat's database itself: its writes fail with
    // SQLITE_FULL. The server answers, the scheduler keeps running and says what failed.
    wait_idle(&app).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&db)
        .await
        .expect("checkpoint");
    fill(&filler, 0);
    let t2 = Utc::now();
    schedule_every_2s(&app, true);
    let a = alert(&got, "scheduler_error", 30).await;
    let text = a["text"].as_str().unwrap_or_default();
    assert!(text.contains("database or disk is full"), "{a}");
    let health = reqwest::get(app.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    // A slot or two more pass on the full disk.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(app.server.state.engine.scheduler_health().running());
    assert_eq!(
        reqwest::get(app.url("/healthz"))
            .await
            .expect("healthz")
            .status(),
        200
    );

    // Space is back: everything works again, with nothing left half-done.
    std::fs::remove_file(&filler).expect("free the space");
    let t3 = Utc::now();
    let ok = app.scheduled_after(t3, job_status::SUCCEEDED, 60).await;
    assert!(ok.started_at > t2);
    schedule_every_2s(&app, false);
    wait_idle(&app).await;
    assert_eq!(alerts_of(&got, "scheduler_error").len(), 1, "alerted once");
    app.scheduler_problem_clears().await;
    let (ok, detail) = app.schedule_check().await;
    assert!(ok, "{detail}");
    app.nothing_left_running().await;
    assert_eq!(partial_files(&data_dir), Vec::<std::path::PathBuf>::new());
    let TestApp { server, .. } = app;
    server.stop().await.expect("stop");
    drop(disk);
}
