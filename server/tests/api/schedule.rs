//! Scheduled backups (same pipeline as "Back up now", retries, catch-up once after
//! downtime) and retention (keep the last N, never pinned, safety or the newest; manual
//! deletion; dry run), against a real cluster.

use crate::support::*;
use app::api::{audit_action, backup_kind, job_status, Backup, BackupPage, BackupStatus, Pruned};
use std::time::Duration;

fn with(url: &str, env: Vec<(&'static str, String)>) -> Options {
    Options {
        env,
        target: Some(url.to_string()),
    }
}

impl TestApp {
    async fn history(&self) -> Vec<Backup> {
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
    }

    async fn backup_now(&self) -> Backup {
        let s: app::api::StartedJob = self.start_backup().await.json().await.expect("started");
        let job = self.wait(s.job_id).await;
        assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
        self.backup_detail(job.backup_id.expect("id")).await.backup
    }
}

#[tokio::test]
async fn scheduled_backups_run_through_the_backup_pipeline() {
    let url = sample_database("lb_sched_run", 2_000).await;
    let app = TestApp::signed_in(with(
        &url,
        vec![
            ("LIFEBOAT_SCHEDULE", "*/4 * * * * *".into()),
            ("LIFEBOAT_SCHEDULE_TZ", "UTC".into()),
        ],
    ))
    .await;
    let status: BackupStatus = app.backup_status().await;
    let next = status.next_run.expect("the next run is shown");
    assert!(next > chrono::Utc::now() - chrono::Duration::seconds(1));
    assert!(next <= chrono::Utc::now() + chrono::Duration::seconds(5));

    let mut found = None;
    for _ in 0..300 {
        found = app
            .history()
            .await
            .into_iter()
            .find(|b| b.kind == backup_kind::SCHEDULED && b.status == job_status::SUCCEEDED);
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = found.expect("a scheduled backup succeeded within 30 s");
    assert_eq!(b.actor.as_deref(), Some("scheduler"));
    let path = app.data_dir.path().join(b.location.expect("stored"));
    assert_eq!(sha256_file(&path), b.sha256.expect("sha"));
    let audits = app.audit_with(audit_action::BACKUP).await;
    assert!(audits
        .iter()
        .any(|a| a.actor.as_deref() == Some("scheduler") && a.details["kind"] == "scheduled"));
}

#[tokio::test]
async fn a_failing_scheduled_backup_is_retried_and_each_attempt_journaled() {
    let url = sample_database("lb_sched_retry", 500).await;
    let broken = fake_pg_dump("echo 'pg_dump: error: simulated failure' >&2; exit 1");
    let app = TestApp::signed_in(with(
        &url,
        vec![("LIFEBOAT_PG_BIN_DIR", broken.path().display().to_string())],
    ))
    .await;
    let settings = server::schedule::Settings {
        schedule: None,
        attempts: 3,
        retry_delay: Duration::from_millis(300),
        catch_up: true,
        retention: server::retention::Policy::default(),
    };
    let started = std::time::Instant::now();
    let job = server::engine::scheduler::run_slot(&app.server.state.engine, &settings).await;
    assert!(job.is_none(), "every attempt failed");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "attempts are spaced"
    );
    let rows = app.history().await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|b| b.kind == backup_kind::SCHEDULED
        && b.status == job_status::FAILED
        && b.message
            .clone()
            .unwrap_or_default()
            .contains("simulated failure")));
}

#[tokio::test]
async fn a_slot_missed_while_down_is_caught_up_once_at_start_up() {
    let url = sample_database("lb_sched_catchup", 500).await;
    let data = tempfile::tempdir().expect("data");
    // An earlier run of Lifeboat in this data directory handled the slot of 3 days ago.
    {
        let db = server::store::open(data.path()).await.expect("store");
        sqlx::query("INSERT INTO settings (key, value) VALUES ('schedule.last_slot', ?)")
            .bind((chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339())
            .execute(&db)
            .await
            .expect("seed");
        db.close().await;
    }
    let mut config = config_for(
        data.path(),
        &with(
            &url,
            vec![
                ("LIFEBOAT_SCHEDULE", "0 2 * * *".into()),
                ("LIFEBOAT_SCHEDULE_TZ", "UTC".into()),
            ],
        ),
    );
    config.scheduler.retry_delay = Duration::from_millis(100);
    let target = config.target_url.clone();
    let server = server::startup::start(config, target)
        .await
        .expect("server starts");
    let db = server.state.db.clone();
    let mut rows: Vec<(String, String)> = vec![];
    for _ in 0..300 {
        rows = sqlx::query_as("SELECT kind, status FROM backups")
            .fetch_all(&db)
            .await
            .expect("rows");
        if rows.iter().any(|r| r.1 != "running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        rows,
        vec![("scheduled".to_string(), "succeeded".to_string())],
        "one catch-up, not one per missed day"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backups")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(count, 1);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn retention_keeps_the_last_n_and_never_a_pinned_backup() {
    let url = sample_database("lb_retention", 500).await;
    let app = TestApp::signed_in(with(&url, vec![("LIFEBOAT_RETENTION_KEEP", "2".into())])).await;
    let mut made = vec![];
    for _ in 0..4 {
        made.push(app.backup_now().await);
        // Distinct completion times and file names.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    // Pin the oldest.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/backups/{}/pin", made[0].id)))
        .json(&serde_json::json!({ "pinned": true }))
        .send()
        .await
        .expect("pin");
    assert_eq!(r.status(), 200);
    assert!(r.json::<Backup>().await.expect("json").pinned);

    // The dry run: 4 backups, the oldest pinned, keep 2 → only the second goes.
    let plan: Vec<Pruned> = app
        .client
        .get(app.url("/api/v1/retention/plan"))
        .send()
        .await
        .expect("plan")
        .json()
        .await
        .expect("json");
    assert_eq!(
        plan.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![made[1].id]
    );
    assert!(plan[0].reason.contains("last 2"), "{}", plan[0].reason);
    assert_eq!(app.history().await.len(), 4, "a dry run deletes nothing");

    // The CLI applies it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(["prune", "--json"])
        .env("LIFEBOAT_DATA_DIR", app.data_dir.path())
        .env("LIFEBOAT_TARGET_URL", &url)
        .env("LIFEBOAT_RETENTION_KEEP", "2")
        .output()
        .expect("prune");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["deleted"][0]["id"], made[1].id);
    let gone = app.backup_detail(made[1].id).await.backup;
    assert_eq!(gone.status, "deleted");
    assert!(gone.message.unwrap_or_default().contains("retention"));
    let file = app
        .data_dir
        .path()
        .join(made[1].location.clone().expect("location"));
    assert!(!file.exists(), "the file and its sidecar are deleted");
    assert!(!std::path::PathBuf::from(format!("{}.json", file.display())).exists());
    let audits = app.audit_with(audit_action::BACKUP_DELETE).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].details["backup_id"], made[1].id);

    // Deleting by hand: refused for the newest and for a pinned one.
    let del = |id: i64| {
        let c = app.client.clone();
        let u = app.url(&format!("/api/v1/backups/{id}"));
        async move { c.delete(u).send().await.expect("delete").status() }
    };
    assert_eq!(
        del(made[3].id).await,
        409,
        "the newest successful backup stays"
    );
    assert_eq!(del(made[0].id).await, 409, "pinned");
    assert_eq!(del(made[2].id).await, 204);
    assert!(!app
        .data_dir
        .path()
        .join(made[2].location.clone().expect("location"))
        .exists());
    let audits = app.audit_with(audit_action::BACKUP_DELETE).await;
    assert!(audits
        .iter()
        .any(|a| a.details["backup_id"] == made[2].id && a.details["reason"] == "deleted by hand"));

    // `lifeboat list` shows the journal, deleted rows included.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(["list"])
        .env("LIFEBOAT_DATA_DIR", app.data_dir.path())
        .output()
        .expect("list");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("deleted") && text.contains("succeeded"),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_fails_when_the_last_success_is_older_than_the_schedule_allows() {
    let url = sample_database("lb_sched_stale", 200).await;
    let data = tempfile::tempdir().expect("data");
    {
        let db = server::store::open(data.path()).await.expect("store");
        sqlx::query("INSERT INTO settings (key, value) VALUES ('schedule.last_slot', ?)")
            .bind((chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339())
            .execute(&db)
            .await
            .expect("seed");
        db.close().await;
    }
    let config = config_for(
        data.path(),
        &with(
            &url,
            vec![
                ("LIFEBOAT_SCHEDULE", "0 2 * * *".into()),
                ("LIFEBOAT_SCHEDULE_TZ", "UTC".into()),
                ("LIFEBOAT_SCHEDULE_CATCH_UP", "false".into()),
            ],
        ),
    );
    let target = config.target_url.clone();
    let server = server::startup::start(config, target)
        .await
        .expect("server starts");
    // Signed in: the answer says what each check found.
    let base = format!("http://{}", server.addr);
    server::users::create(
        &server.state.db,
        &server::store::audit::Origin::default().with_actor("test"),
        "admin",
        server::secret::Secret::new(PASSWORD.to_string()),
    )
    .await
    .expect("create user");
    let client = client_for(&base);
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let r = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 503);
    let report: app::api::ReadyReport = r.json().await.expect("json");
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "last_backup")
        .expect("last_backup check");
    assert!(!check.ok);
    assert!(
        check.detail.contains("no successful backup"),
        "{}",
        check.detail
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn the_scheduler_survives_an_error_of_its_own_and_says_so() {
    let url = sample_database("lb_sched_error", 200).await;
    let (hook, got) = crate::alerts::receiver(200).await;
    let app = TestApp::signed_in(with(
        &url,
        vec![
            ("LIFEBOAT_SCHEDULE", "*/2 * * * * *".into()),
            ("LIFEBOAT_SCHEDULE_TZ", "UTC".into()),
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
        ],
    ))
    .await;
    // Fault injection: Lifeboat's own database refuses to record the slot from now on.
    for event in ["INSERT", "UPDATE"] {
        sqlx::query(&format!(
            "CREATE TRIGGER refuse_slot_{event} BEFORE {event} ON settings WHEN NEW.key = 'schedule.last_slot' BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END"
        ))
        .execute(&app.server.state.db)
        .await
        .expect("trigger");
    }
    let injected = chrono::Utc::now();
    let scheduled_since = |h: &[Backup]| {
        h.iter()
            .filter(|b| {
                b.kind == backup_kind::SCHEDULED
                    && b.status == job_status::SUCCEEDED
                    && b.started_at > injected
            })
            .count()
    };
    let mut count = 0;
    for _ in 0..300 {
        count = scheduled_since(&app.history().await);
        if count >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        count >= 3,
        "scheduled backups go on after the error ({count} in 30 s)"
    );
    // Said once (not once per slot), shown in the status strip, ready all the same.
    let alerts: Vec<serde_json::Value> = got
        .lock()
        .expect("lock")
        .iter()
        .filter(|h| h["event"] == "scheduler_error")
        .cloned()
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("cannot record the scheduled slot"),
        "{:?}",
        alerts[0]
    );
    let status: BackupStatus = app.backup_status().await;
    let problem = status.scheduler_problem.expect("a problem shown");
    assert!(problem.contains("injected"), "{problem}");
    let (ok, detail) = app.schedule_check().await;
    assert!(ok, "{detail:?}");
    assert!(detail.contains("keeps going"), "{detail}");

    // Once the slot can be recorded again, the problem is gone.
    for event in ["INSERT", "UPDATE"] {
        sqlx::query(&format!("DROP TRIGGER refuse_slot_{event}"))
            .execute(&app.server.state.db)
            .await
            .expect("drop trigger");
    }
    let mut cleared = false;
    for _ in 0..100 {
        let status: BackupStatus = app.backup_status().await;
        if status.scheduler_problem.is_none() {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cleared, "the problem clears once the slot is recorded");
}

#[tokio::test]
async fn a_slot_that_falls_during_a_restore_runs_once_the_restore_is_over() {
    let url = sample_database("lb_sched_busy", 500).await;
    // Every pg_dump takes 3 s more: the restore's safety backup holds the database a while.
    let slow = fake_pg_dump("sleep 3\nexec \"$REAL\" \"$@\"");
    let (hook, got) = crate::alerts::receiver(200).await;
    let app = TestApp::signed_in(with(
        &url,
        vec![
            ("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string()),
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
        ],
    ))
    .await;
    let backup = app.backup_now().await;
    let r = app
        .client
        .post(app.url("/api/v1/restores"))
        .json(&serde_json::json!({ "backup_id": backup.id, "confirm": "lb_sched_busy" }))
        .send()
        .await
        .expect("restore");
    assert_eq!(r.status(), 202);
    let restore: app::api::StartedRestore = r.json().await.expect("started");
    // The slot falls now, during the restore: one attempt only, so a refusal would fail it.
    let settings = one_attempt_slot();
    let job = server::engine::scheduler::run_slot(&app.server.state.engine, &settings)
        .await
        .expect("the slot's backup ran");
    assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
    let restored = app.job(restore.job_id).await;
    assert_eq!(
        restored.status,
        job_status::SUCCEEDED,
        "{:?}",
        restored.message
    );
    let restore_end = restored.finished_at.expect("restore ended");
    assert!(
        job.started_at >= restore_end,
        "the scheduled backup started at {} after the restore ended at {restore_end}",
        job.started_at
    );
    assert!(
        !got.lock()
            .expect("lock")
            .iter()
            .any(|h| h["event"] == "backup_failed"),
        "no failure alert"
    );
}
