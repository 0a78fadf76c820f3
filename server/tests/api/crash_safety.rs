//! Crash safety: a backup whose process is killed between moving its file into place and
//! journaling it, or whose journal write fails, is neither lost nor left hanging; a wrong
//! wall clock neither hides a stale backup nor lets retention delete the newest one.

use crate::support::*;
use app::api::{audit_action, job_status, outcome, Backup, BackupStatus, Job, StartedJob};
use std::path::Path;
use std::time::Duration;

/// A Lifeboat on an existing data directory (a restart): `admin` signs in again.
async fn restart(data_dir: tempfile::TempDir, opts: Options) -> TestApp {
    let config = config_for(data_dir.path(), &opts);
    let target = config.target_url.clone();
    let server = server::startup::start(config, target)
        .await
        .expect("server starts again");
    let base = format!("http://{}", server.addr);
    let client = client_for(&base);
    let app = TestApp {
        base,
        server,
        data_dir,
        client,
    };
    assert_eq!(app.login("admin", PASSWORD).await.status(), 200);
    app
}

/// Stops the server, keeping its data directory.
async fn stop(app: TestApp) -> tempfile::TempDir {
    let TestApp {
        server, data_dir, ..
    } = app;
    server.stop().await.expect("stop");
    data_dir
}

async fn backup(app: &TestApp, id: i64) -> Backup {
    app.backup_detail(id).await.backup
}

/// Takes a backup by hand and waits for it to succeed.
async fn stored_backup(app: &TestApp) -> Backup {
    let s: StartedJob = app.start_backup().await.json().await.expect("started");
    let job = app.wait(s.job_id).await;
    assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
    backup(app, job.backup_id.expect("backup id")).await
}

/// The backup files (dump and sidecar) under the data directory's backups folder.
fn dumps_and_sidecars(app: &TestApp) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let files = app.backup_files();
    let dumps = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .cloned()
        .collect();
    let sidecars = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".dump.json"))
        .cloned()
        .collect();
    (dumps, sidecars)
}

/// The audit entries of backup `id`.
async fn backup_audits(app: &TestApp, id: i64) -> Vec<app::api::AuditEvent> {
    app.audit_with(audit_action::BACKUP)
        .await
        .into_iter()
        .filter(|a| a.details["backup_id"] == id)
        .collect()
}

/// Checks what an adopted backup looks like after the restart: succeeded, its file
/// hashed as the journal says, audited once as recovered and never as interrupted.
async fn assert_adopted(app: &TestApp, id: i64, dump: &Path) {
    let b = backup(app, id).await;
    assert_eq!(b.status, "succeeded", "{:?}", b.message);
    assert_eq!(
        b.file_name.as_deref(),
        dump.file_name().and_then(|n| n.to_str())
    );
    assert_eq!(b.sha256.as_deref(), Some(sha256_file(dump).as_str()));
    assert_eq!(
        b.size_bytes,
        Some(std::fs::metadata(dump).expect("dump").len() as i64)
    );
    assert!(
        b.message.as_deref().unwrap_or("").contains("recovered"),
        "{:?}",
        b.message
    );
    let audits = backup_audits(app, id).await;
    let recovered: Vec<_> = audits
        .iter()
        .filter(|a| a.details["recovered"] == true)
        .collect();
    assert_eq!(recovered.len(), 1, "{audits:?}");
    assert_eq!(recovered[0].outcome, outcome::SUCCESS);
    assert!(
        audits.iter().all(|a| a.details["status"] != "interrupted"),
        "{audits:?}"
    );
    // It is a restore point again: the status strip shows it as the last success.
    let status: BackupStatus = app.backup_status().await;
    assert_eq!(status.last_success.map(|b| b.id), Some(id));
}

#[tokio::test]
async fn a_backup_killed_between_moving_its_file_and_journaling_it_is_adopted_at_the_next_start() {
    let url = sample_database("lb_crash_move", 300).await;
    let data_dir = tempfile::tempdir().expect("tmp");
    // The administrator first, so the restarted server has someone to sign in.
    {
        let config = config_for(data_dir.path(), &Options::default());
        let target = config.target_url.clone();
        let server = server::startup::start(config, target).await.expect("start");
        server::users::create(
            &server.state.db,
            &server::store::audit::Origin::default().with_actor("test"),
            "admin",
            server::secret::Secret::new(PASSWORD.to_string()),
        )
        .await
        .expect("admin");
        server.stop().await.expect("stop");
    }
    // `lifeboat backup` with the fault injector: it aborts (as kill -9 would stop it)
    // once the file and sidecar are in place, before the journal row is updated.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("backup")
        .env("LIFEBOAT_DATA_DIR", data_dir.path())
        .env("LIFEBOAT_TARGET_URL", &url)
        .env("LIFEBOAT_SCHEDULE", "off")
        .env("LIFEBOAT_SCHEDULE_OFF_OK", "true")
        .env("LIFEBOAT_FAULT", "after-backup-move");
    if let Some(b) = pg_bin_dir() {
        cmd.env("LIFEBOAT_PG_BIN_DIR", b);
    }
    let out = cmd.output().expect("run lifeboat backup");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(6),
        "aborted by the fault injector: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let app = restart(
        data_dir,
        Options {
            target: Some(url.clone()),
            ..Options::default()
        },
    )
    .await;
    let (dumps, sidecars) = dumps_and_sidecars(&app);
    assert_eq!(dumps.len(), 1, "{:?}", app.backup_files());
    assert_eq!(sidecars.len(), 1, "{:?}", app.backup_files());
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecars[0]).expect("sidecar")).expect("json");
    let id = side["backup_id"]
        .as_i64()
        .expect("the sidecar names its row");
    let job_id = side["job_id"].as_i64().expect("the sidecar names its job");
    assert_adopted(&app, id, &dumps[0]).await;
    // Its job ended (succeeded, saying how), and following it ends at once.
    let job: Job = app.job(job_id).await;
    assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
    assert!(job.message.unwrap_or_default().contains("recovered"));
    let events = app.follow(job_id).await;
    assert_eq!(
        events.last().map(|j| j.status.as_str()),
        Some(job_status::SUCCEEDED)
    );
    // Adopted once: a second start changes nothing.
    let data_dir = stop(app).await;
    let app = restart(
        data_dir,
        Options {
            target: Some(url),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(backup_audits(&app, id).await.len(), 1);
    app.server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_journal_write_that_fails_ends_the_job_with_an_alert_and_the_file_is_adopted_later() {
    let url = sample_database("lb_crash_journal", 300).await;
    let (hook, got) = crate::alerts::receiver(200).await;
    let opts = || Options {
        env: vec![("LIFEBOAT_ALERT_WEBHOOK_URL", hook.clone())],
        target: Some(url.clone()),
    };
    let app = TestApp::signed_in(opts()).await;
    // Fault injection: Lifeboat's database refuses to record a backup as succeeded.
    sqlx::query(
        "CREATE TRIGGER journal_full BEFORE UPDATE ON backups WHEN NEW.status = 'succeeded' BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END",
    )
    .execute(&app.server.state.db)
    .await
    .expect("trigger");
    let s: StartedJob = app.start_backup().await.json().await.expect("started");
    let id = s.backup_id.expect("backup id");
    // The event stream ends, on a failed job that says what happened.
    let events = app.follow(s.job_id).await;
    let last = events.last().expect("events");
    assert_eq!(last.status, job_status::FAILED, "{:?}", last.message);
    let message = last.message.clone().unwrap_or_default();
    assert!(message.contains("stored and verified"), "{message}");
    assert!(message.contains("injected"), "{message}");
    let job = app.job(s.job_id).await;
    assert_eq!(job.status, job_status::FAILED);
    // Alerted.
    let mut alerts = vec![];
    for _ in 0..100 {
        alerts = got
            .lock()
            .expect("lock")
            .iter()
            .filter(|h| h["event"] == "journal_failed")
            .cloned()
            .collect();
        if !alerts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alerts.len(), 1, "{:?}", got.lock().expect("lock"));
    assert!(alerts[0]["text"]
        .as_str()
        .unwrap_or("")
        .contains("stored and verified"));
    // The journal could not say it: the row is still running, the files are there.
    assert_eq!(backup(&app, id).await.status, "running");
    let (dumps, sidecars) = dumps_and_sidecars(&app);
    assert_eq!(
        (dumps.len(), sidecars.len()),
        (1, 1),
        "{:?}",
        app.backup_files()
    );

    // The database works again; the next start adopts the file.
    sqlx::query("DROP TRIGGER journal_full")
        .execute(&app.server.state.db)
        .await
        .expect("drop trigger");
    let data_dir = stop(app).await;
    let app = restart(data_dir, opts()).await;
    assert_adopted(&app, id, &dumps[0]).await;
    // The job keeps its failed outcome (it said the file would be recorded later).
    assert_eq!(app.job(s.job_id).await.status, job_status::FAILED);
    app.server.stop().await.expect("stop");
}

/// Sets a backup's completion time directly in Lifeboat's database.
async fn stamp(app: &TestApp, id: i64, at: chrono::DateTime<chrono::Utc>) {
    sqlx::query("UPDATE backups SET finished_at = ? WHERE id = ?")
        .bind(at)
        .bind(id)
        .execute(&app.server.state.db)
        .await
        .expect("stamp");
}

#[tokio::test]
async fn a_wrong_clock_neither_lets_retention_delete_the_newest_nor_hides_a_stale_backup() {
    let url = sample_database("lb_clock_skew", 200).await;
    let app = TestApp::signed_in(Options {
        env: vec![
            // A schedule in force (staleness needs one) that does not fire during the test.
            ("LIFEBOAT_SCHEDULE", "0 0 1 1 *".into()),
            ("LIFEBOAT_SCHEDULE_TZ", "UTC".into()),
            ("LIFEBOAT_SCHEDULE_CATCH_UP", "false".into()),
        ],
        target: Some(url),
    })
    .await;
    let b1 = stored_backup(&app).await;
    let b2 = stored_backup(&app).await;
    let b3 = stored_backup(&app).await;
    let now = chrono::Utc::now();
    let year = chrono::Duration::days(365);
    // The oldest stamped a year ahead, the newest a year behind.
    stamp(&app, b1.id, now + year).await;
    stamp(&app, b3.id, now - year).await;
    let status: BackupStatus = app.backup_status().await;
    assert_eq!(status.last_success.as_ref().map(|b| b.id), Some(b3.id));
    assert!(!status.clock_suspect);

    // Keep one: the newest by sequence stays, with its file.
    let pruned = server::engine::pruning::prune(
        &app.server.state.engine,
        app.server.state.engine.target(),
        &server::retention::Policy {
            keep_last: 1,
            max_age: Some(Duration::from_secs(30 * 86_400)),
        },
        &server::store::audit::Origin::default(),
        false,
    )
    .await
    .expect("prune");
    let mut deleted: Vec<i64> = pruned.iter().map(|d| d.id).collect();
    deleted.sort();
    assert_eq!(deleted, vec![b1.id, b2.id]);
    assert_eq!(backup(&app, b3.id).await.status, "succeeded");
    assert_eq!(backup(&app, b1.id).await.status, "deleted");
    let (dumps, _) = dumps_and_sidecars(&app);
    assert_eq!(dumps.len(), 1);
    assert_eq!(
        dumps[0].file_name().and_then(|n| n.to_str()),
        b3.file_name.as_deref()
    );

    // The newest stamped a year ahead: its age is unknown, it is not fresh for good.
    stamp(&app, b3.id, now + year).await;
    let status: BackupStatus = app.backup_status().await;
    assert_eq!(status.last_success.as_ref().map(|b| b.id), Some(b3.id));
    assert!(status.clock_suspect);
    assert!(status.stale);
    app.server.stop().await.expect("stop");
}

#[tokio::test]
async fn failures_after_a_success_stamped_in_the_future_still_raise_the_repeated_failure_alert() {
    let url = sample_database("lb_clock_failures", 100).await;
    let (hook, got) = crate::alerts::receiver(200).await;
    let broken = fake_pg_dump("echo 'pg_dump: error: disk on fire' >&2; exit 1");
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
            ("LIFEBOAT_PG_BIN_DIR", broken.path().display().to_string()),
        ],
        target: Some(url),
    })
    .await;
    // A success recorded while the clock was a year ahead.
    let ahead = chrono::Utc::now() + chrono::Duration::days(365);
    sqlx::query(
        "INSERT INTO backups (database, kind, status, started_at, finished_at, file_name, location, size_bytes, sha256) VALUES ('lb_clock_failures', 'manual', 'succeeded', ?, ?, 'x.dump', 'backups/lb_clock_failures/x.dump', 1000, 'ab')",
    )
    .bind(ahead)
    .bind(ahead)
    .execute(&app.server.state.db)
    .await
    .expect("insert");
    for _ in 0..2 {
        let s: StartedJob = app.start_backup().await.json().await.expect("started");
        assert_eq!(app.wait(s.job_id).await.status, job_status::FAILED);
    }
    let failures = |all: &[serde_json::Value]| -> Vec<serde_json::Value> {
        all.iter()
            .filter(|h| h["event"] == "consecutive_failures")
            .cloned()
            .collect()
    };
    let mut hooks = vec![];
    for _ in 0..100 {
        hooks = failures(&got.lock().expect("lock"));
        if !hooks.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.len(), 1, "{:?}", got.lock().expect("lock"));
    assert_eq!(
        hooks[0]["title"],
        "2 backups of lb_clock_failures failed in a row"
    );
    app.server.stop().await.expect("stop");
}

#[tokio::test]
async fn an_upload_moved_into_place_but_never_recorded_is_removed_at_the_next_start() {
    let app = TestApp::signed_in(Options::default()).await;
    let uploads = app.data_dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).expect("uploads");
    // Stopped after the move into place, before its row said so: the row still names the
    // `.part` file, the `.dump` is there.
    let id = "0123456789abcdef0123456789abcdef";
    let now = chrono::Utc::now();
    server::store::uploads::insert_receiving(
        &app.server.state.db,
        &server::store::uploads::NewUpload {
            id,
            file_name: "shop.dump",
            database: None,
            path: &format!("uploads/{id}.part"),
            actor: Some("admin"),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
        },
    )
    .await
    .expect("row");
    std::fs::write(uploads.join(format!("{id}.dump")), b"PGDMP moved in").expect("dump");
    // And a file no row names at all.
    std::fs::write(uploads.join("fedcba9876543210.dump"), b"PGDMP stray").expect("stray");
    let data_dir = stop(app).await;
    let app = restart(data_dir, Options::default()).await;
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .expect("uploads")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let status: String = sqlx::query_scalar("SELECT status FROM uploads WHERE id = ?")
        .bind(id)
        .fetch_one(&app.server.state.db)
        .await
        .expect("row");
    assert_eq!(status, "cancelled");
    app.server.stop().await.expect("stop");
}
