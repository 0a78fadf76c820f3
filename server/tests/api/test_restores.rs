//! Test restores against a real cluster: a backup restored into a scratch database and
//! proven (badge, status strip, /readyz, audit), one that does not prove (a fault
//! injector drops rows: alert, failed badge, not ready), the schedule, and the CLI.

use crate::alerts::receiver;
use crate::restores::with_target;
use crate::support::*;
use crate::swap::databases_like;
use app::api::{
    audit_action, job_status, outcome, BackupStatus, ReadyReport, StartedJob, StartedTestRestore,
    TestRestore,
};
use std::time::Duration;

impl TestApp {
    /// Backs the target up now and returns the backup's id once it succeeded.
    async fn backed_up(&self) -> i64 {
        let r = self.start_backup().await;
        assert_eq!(r.status(), 202);
        let s: StartedJob = r.json().await.expect("started");
        let job = self.wait(s.job_id).await;
        assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
        s.backup_id.expect("backup id")
    }

    async fn test_restore(&self, backup_id: i64) -> (StartedTestRestore, app::api::Job) {
        let r = self
            .client
            .post(self.url(&format!("/api/v1/backups/{backup_id}/test-restore")))
            .send()
            .await
            .expect("test restore");
        assert_eq!(r.status(), 202, "{:?}", r.text().await);
        let s: StartedTestRestore = r.json().await.expect("started");
        let job = self.wait(s.job_id).await;
        (s, job)
    }

    async fn restorable(&self, backup_id: i64) -> TestRestore {
        self.backup_detail(backup_id)
            .await
            .backup
            .restorable
            .expect("a test restore on the backup")
    }

    async fn status(&self) -> BackupStatus {
        self.client
            .get(self.url("/api/v1/backups/status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("status json")
    }

    async fn ready(&self) -> (u16, ReadyReport) {
        let r = self
            .client
            .get(self.url("/readyz?refresh=1"))
            .send()
            .await
            .expect("readyz");
        (r.status().as_u16(), r.json().await.expect("readyz json"))
    }
}

fn check<'a>(r: &'a ReadyReport, name: &str) -> &'a app::api::ReadyCheck {
    r.checks.iter().find(|c| c.name == name).expect(name)
}

#[tokio::test]
async fn a_test_restore_proves_a_backup_restores_and_leaves_nothing_behind() {
    let url = sample_database("lb_tr_ok", 3_000).await;
    let app = TestApp::signed_in(with_target(&url)).await;
    let id = app.backed_up().await;
    let (_, ready) = app.ready().await;
    assert!(check(&ready, "last_test_restore")
        .detail
        .contains("no test restore yet"));

    let (started, job) = app.test_restore(id).await;
    assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
    assert_eq!(job.kind, "test_restore");
    let t = app.restorable(id).await;
    assert_eq!(t.id, started.test_restore_id);
    assert_eq!(t.status, "succeeded");
    // customers 1000 + orders 3000 + marker 1.
    assert_eq!((t.tables, t.rows), (Some(3), Some(4_001)));
    assert!(t.duration_ms.is_some_and(|ms| ms > 0));
    assert!(
        t.message.as_deref().is_some_and(|m| m.contains("restores")),
        "{:?}",
        t.message
    );
    assert!(
        databases_like("lb_tr_ok__lifeboat_test%").await.is_empty(),
        "the scratch database is dropped"
    );
    // The history, the status strip, /readyz and the audit log say so.
    let page: app::api::BackupPage = app
        .client
        .get(app.url("/api/v1/backups"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("page");
    let listed = page.items.iter().find(|b| b.id == id).expect("listed");
    assert_eq!(listed.restorable.as_ref().map(|t| t.id), Some(t.id));
    assert_eq!(
        app.status().await.last_test_restore.map(|t| t.id),
        Some(t.id)
    );
    let (code, ready) = app.ready().await;
    assert_eq!(code, 200, "{ready:?}");
    assert!(check(&ready, "last_test_restore").ok);
    let audit = app.audit_with(audit_action::TEST_RESTORE).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, outcome::SUCCESS);
    assert_eq!(audit[0].details["rows"], 4_001);
    assert_eq!(audit[0].details["backup_id"], id);
}

#[tokio::test]
async fn a_backup_that_does_not_restore_as_it_was_fails_its_test_with_an_alert() {
    let url = sample_database("lb_tr_bad", 2_000).await;
    // Fault injector: pg_restore loses two rows of orders when it restores a scratch database.
    let real = std::path::PathBuf::from(pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR"));
    let tools = tempfile::tempdir().expect("tmp");
    for tool in ["pg_dump", "psql"] {
        std::os::unix::fs::symlink(real.join(tool), tools.path().join(tool)).expect("symlink");
    }
    let script = format!(
        r#"#!/bin/bash
REAL='{real}'
"$REAL/pg_restore" "$@" || exit $?
for a in "$@"; do case "$a" in --host=*) H="${{a#--host=}}";; --port=*) P="${{a#--port=}}";; --username=*) U="${{a#--username=}}";; --dbname=*) D="${{a#--dbname=}}";; esac; done
case "$D" in *__lifeboat_test_*) "$REAL/psql" -X -q --no-password -h "$H" -p "$P" -U "$U" -d "$D" -c 'DELETE FROM orders WHERE id <= 2' || exit 1;; esac
"#,
        real = real.display()
    );
    let fake = tools.path().join("pg_restore");
    std::fs::write(&fake, script).expect("write fake");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (hook, got) = receiver(200).await;
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_PG_BIN_DIR", tools.path().display().to_string()),
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
        ],
        target: Some(url),
    })
    .await;
    let id = app.backed_up().await;
    let (_, job) = app.test_restore(id).await;
    assert_eq!(job.status, job_status::FAILED);
    let t = app.restorable(id).await;
    assert_eq!(t.status, "failed");
    let why = t.message.clone().unwrap_or_default();
    assert!(
        why.contains("not as it was backed up")
            && why.contains("public.orders has 1998 rows, the archive 2000"),
        "{why}"
    );
    assert_eq!(t.rows, None);
    assert!(databases_like("lb_tr_bad__lifeboat_test%").await.is_empty());
    let (code, ready) = app.ready().await;
    assert_eq!(code, 503);
    assert!(!check(&ready, "last_test_restore").ok);
    let audit = app.audit_with(audit_action::TEST_RESTORE).await;
    assert_eq!(audit[0].outcome, outcome::FAILURE);
    for _ in 0..100 {
        if !got.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alerts = got.lock().expect("lock").clone();
    assert!(
        alerts
            .iter()
            .any(|a| a["event"] == "test_restore_failed" && a.to_string().contains("lb_tr_bad")),
        "{alerts:?}"
    );
}

#[tokio::test]
async fn the_newest_backup_is_test_restored_on_schedule() {
    let url = sample_database("lb_tr_sched", 500).await;
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_TEST_RESTORE_EVERY", "2s".into())],
        target: Some(url),
    })
    .await;
    let id = app.backed_up().await;
    let mut last = None;
    for _ in 0..300 {
        last = app
            .status()
            .await
            .last_test_restore
            .filter(|t| t.status == "succeeded");
        if last.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = last.expect("a scheduled test restore within 30 s");
    assert_eq!(t.backup_id, id);
    // The audit entry follows the journal's by a moment.
    let mut audit = vec![];
    for _ in 0..50 {
        audit = app.audit_with(audit_action::TEST_RESTORE).await;
        if !audit.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        audit.last().and_then(|a| a.actor.as_deref()),
        Some("scheduler")
    );
}

#[tokio::test]
async fn lifeboat_verify_restore_proves_a_backup_from_a_terminal() {
    let url = sample_database("lb_tr_cli", 500).await;
    let app = TestApp::signed_in(with_target(&url)).await;
    let id = app.backed_up().await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["verify", "--restore", &id.to_string()])
        .env("LIFEBOAT_DATA_DIR", app.data_dir.path())
        .env("LIFEBOAT_TARGET_URL", &url);
    if let Some(b) = pg_bin_dir() {
        cmd.env("LIFEBOAT_PG_BIN_DIR", b);
    }
    let out = cmd.output().expect("run lifeboat");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("backup {id}: RESTORABLE")),
        "{stdout}"
    );
    assert_eq!(app.restorable(id).await.status, "succeeded");
}

#[tokio::test]
async fn after_backup_test_restores_each_scheduled_backup() {
    let url = sample_database("lb_tr_after", 300).await;
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_TEST_RESTORE_EVERY", "after-backup".into())],
        target: Some(url),
    })
    .await;
    let settings = one_attempt_slot();
    let job = server::engine::scheduler::run_slot(&app.server.state.engine, &settings)
        .await
        .expect("a scheduled backup");
    let id = job.backup_id.expect("backup id");
    // The slot ends once its backup is proven.
    let t = app.restorable(id).await;
    assert_eq!(t.status, "succeeded", "{:?}", t.message);
    let (_, ready) = app.ready().await;
    assert!(
        check(&ready, "last_test_restore")
            .detail
            .contains("succeeded"),
        "{ready:?}"
    );
}

#[tokio::test]
async fn a_role_that_may_not_create_databases_is_told_how_to_test_restore() {
    for statement in [
        "DROP DATABASE IF EXISTS lb_tr_nocreate WITH (FORCE)",
        "DROP ROLE IF EXISTS lb_tr_app",
        "CREATE ROLE lb_tr_app LOGIN PASSWORD 'app-pw' NOCREATEDB",
        "CREATE DATABASE lb_tr_nocreate OWNER lb_tr_app",
    ] {
        sql(&pg_url(), statement).await;
    }
    let mut u = url::Url::parse(&pg_url()).expect("url");
    u.set_username("lb_tr_app").expect("user");
    u.set_password(Some("app-pw")).expect("password");
    u.set_path("/lb_tr_nocreate");
    let target = u.to_string();
    sql(&target, "CREATE TABLE t (x int); INSERT INTO t VALUES (1);").await;
    let app = TestApp::signed_in(with_target(&target)).await;
    let id = app.backed_up().await;
    let (_, job) = app.test_restore(id).await;
    assert_eq!(job.status, job_status::FAILED);
    let why = app.restorable(id).await.message.unwrap_or_default();
    assert!(
        why.contains("may create databases") && why.contains("LIFEBOAT_VERIFY_URL"),
        "{why}"
    );
}

#[tokio::test]
async fn test_restores_go_to_the_verification_server_when_one_is_given() {
    let url = sample_database("lb_tr_verify", 200).await;
    // A verification server that does not answer: the test restore goes there, not to the
    // target's server, and says so.
    let app = TestApp::signed_in(Options {
        env: vec![(
            "LIFEBOAT_VERIFY_URL",
            "postgres://nobody:pw@127.0.0.1:9/postgres".into(),
        )],
        target: Some(url),
    })
    .await;
    let id = app.backed_up().await;
    let (_, job) = app.test_restore(id).await;
    assert_eq!(job.status, job_status::FAILED);
    let t = app.restorable(id).await;
    assert_eq!(t.server, "127.0.0.1:9");
    assert!(databases_like("lb_tr_verify__lifeboat_test%")
        .await
        .is_empty());
}
