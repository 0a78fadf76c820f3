//! Restore strategies against a real cluster: the swap into a new database (no write
//! lost, the proof, the offline time, roll back, the kept databases), its failure
//! leaving the live database untouched, the fallback to in place for a role without
//! CREATEDB, replication tied to the database, and restore as a copy.

use crate::restores::{dump, refusal, with_target};
use crate::support::*;
use app::api::{audit_action, job_status, outcome, phase, KeptDatabase, StartedRollback};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn query_i64s(url: &str, q: &str) -> Vec<i64> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query(q, &[])
        .await
        .expect("query")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub(crate) async fn databases_like(pattern: &str) -> Vec<String> {
    let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
            &[&pattern],
        )
        .await
        .expect("databases")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn on_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("url");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

impl TestApp {
    async fn kept(&self) -> Vec<KeptDatabase> {
        let r = self
            .client
            .get(self.url("/api/v1/restores/kept-databases"))
            .send()
            .await
            .expect("kept");
        assert_eq!(r.status(), 200);
        r.json().await.expect("kept json")
    }

    /// The kept database `name` once its final backup has ended (succeeded or not).
    async fn final_backup_ended(&self, name: &str) -> KeptDatabase {
        for _ in 0..600 {
            let list = self.kept().await;
            let k = list.iter().find(|k| k.name == name).expect("listed");
            if matches!(
                k.final_backup_status.as_deref(),
                Some(s) if s != "running"
            ) {
                return k.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the final backup of {name} did not end within a minute");
    }

    async fn plan(&self) -> app::api::RestorePlan {
        self.plan_of("").await
    }

    /// The plan for a file (`?backup_id=N`, `?upload_id=ID`).
    async fn plan_of(&self, query: &str) -> app::api::RestorePlan {
        let r = self
            .client
            .get(self.url(&format!("/api/v1/restores/plan{query}")))
            .send()
            .await
            .expect("plan");
        assert_eq!(r.status(), 200);
        r.json().await.expect("plan json")
    }

    async fn drop_kept(&self, name: &str) -> reqwest::Response {
        self.client
            .delete(self.url(&format!("/api/v1/restores/kept-databases/{name}")))
            .send()
            .await
            .expect("delete")
    }

    async fn roll_back(&self, id: i64) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/restores/{id}/rollback")))
            .send()
            .await
            .expect("rollback")
    }
}

fn without(mut sums: Vec<(String, String)>, table: &str) -> Vec<(String, String)> {
    sums.retain(|(t, _)| t != table);
    sums
}

#[tokio::test]
async fn a_swap_restore_loses_no_write_proves_its_rows_and_rolls_back_in_seconds() {
    let source = sample_database("lb_sw_src", 20_000).await;
    sql(&source, "UPDATE marker SET v = 'from-the-dump'").await;
    let target = sample_database("lb_sw_dst", 5_000).await;
    sql(
        &target,
        "UPDATE marker SET v = 'before'; CREATE TABLE writes (n bigint PRIMARY KEY); COMMENT ON DATABASE lb_sw_dst IS 'the shop'; ALTER DATABASE lb_sw_dst SET work_mem = '12MB';",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("src.dump");
    dump(&source, &file);
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("src.dump", std::fs::read(&file).expect("read"))
        .await;

    // The confirmation learns what will run and what it keeps aside.
    let plan = app.plan().await;
    assert_eq!(
        (plan.database.as_str(), plan.strategy.as_str()),
        ("lb_sw_dst", "swap")
    );
    assert!(
        plan.reason.contains("may create databases"),
        "{}",
        plan.reason
    );
    assert!(plan.database_size_bytes.is_some_and(|b| b > 1_000_000));
    assert_eq!(plan.keep_old_databases_secs, 7 * 86_400);

    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn(writer(target.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_dst" }))
        .await;
    stop.store(true, Ordering::SeqCst);
    let committed: Vec<i64> = writing
        .await
        .expect("writer")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(started.strategy.as_deref(), Some("swap"));
    assert!(
        started
            .strategy_reason
            .as_deref()
            .is_some_and(|r| r.contains("may create databases")),
        "{:?}",
        started.strategy_reason
    );
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    let phases: Vec<&str> = events.iter().map(|j| j.phase.as_str()).collect();
    let first = |p: &str| phases.iter().position(|x| *x == p).expect(p);
    assert!(first(phase::SAFETY_BACKUP) < first(phase::RESTORE));
    assert!(first(phase::RESTORE) < first(phase::ANALYZE));

    // The live name now holds exactly the archive's contents: the table created after
    // the dump (`writes`) is gone, not left over.
    assert_eq!(
        table_checksums(&target).await,
        table_checksums(&source).await
    );

    // The proof and the offline time are on the journal row.
    let r = app.restore_row(started.restore_id).await;
    assert_eq!(r.strategy.as_deref(), Some("swap"));
    let offline = r.offline_ms.expect("offline_ms");
    eprintln!("swap offline_ms = {offline}");
    assert!((0..5_000).contains(&offline), "{offline}");
    let orders = r
        .proof
        .iter()
        .find(|p| p.table == "public.orders")
        .expect("orders proven");
    assert_eq!(
        (orders.archive_rows, orders.restored_rows),
        (20_000, Some(20_000))
    );
    assert_eq!(r.proof.len(), 3, "{:?}", r.proof);
    assert!(r
        .proof
        .iter()
        .all(|p| p.restored_rows == Some(p.archive_rows)));
    let kept = r.kept_database.clone().expect("kept database");
    assert!(kept.starts_with("lb_sw_dst__lifeboat_before_"), "{kept}");
    assert!(r.safety_backup_id.is_some());

    // Database-level settings and the comment came along.
    let (client, conn) = tokio_postgres::connect(&target, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let comment: Option<String> = client
        .query_one(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .expect("comment")
        .get(0);
    assert_eq!(comment.as_deref(), Some("the shop"));
    let work_mem: String = client
        .query_one("SHOW work_mem", &[])
        .await
        .expect("work_mem")
        .get(0);
    assert_eq!(work_mem, "12MB");

    // No write lost: every row the writer saw committed is in the kept database, and in
    // the final backup Lifeboat takes of it (kind safety, pinned, under its own name).
    assert!(
        committed.len() > 20,
        "the writer wrote: {}",
        committed.len()
    );
    let k = app.final_backup_ended(&kept).await;
    assert_eq!(k.final_backup_status.as_deref(), Some("succeeded"));
    assert_eq!(k.drop_refusal, None);
    let last = app
        .backup_detail(k.final_backup_id.expect("final backup"))
        .await
        .backup;
    assert_eq!((last.kind.as_str(), last.pinned), ("safety", true));
    assert_eq!(last.database, kept);
    let in_final = archived_numbers(
        &app.data_dir.path().join(last.location.expect("location")),
        "writes",
    );
    let missing: Vec<&i64> = committed.iter().filter(|n| !in_final.contains(n)).collect();
    assert!(missing.is_empty(), "not in the final backup: {missing:?}");
    sql(
        &pg_url(),
        &format!("ALTER DATABASE \"{kept}\" ALLOW_CONNECTIONS true"),
    )
    .await;
    let in_kept = query_i64s(
        &on_database(&target, &kept),
        "SELECT n FROM writes ORDER BY n",
    )
    .await;
    let missing: Vec<&i64> = committed.iter().filter(|n| !in_kept.contains(n)).collect();
    assert!(missing.is_empty(), "lost writes: {missing:?}");

    // The kept database is listed with its size and restore.
    let list = app.kept().await;
    let k = list.iter().find(|k| k.name == kept).expect("listed");
    assert_eq!(k.restore_id, Some(started.restore_id));
    assert_eq!(k.role, "before");
    assert!(k.size_bytes > 0);
    assert!(k.drop_after > k.created_at);

    // Roll back: the earlier contents are back, the restored database is set aside.
    let before_rollback_kept = table_checksums(&on_database(&target, &kept)).await;
    let r2 = app.roll_back(started.restore_id).await;
    assert_eq!(r2.status(), 202);
    let s: StartedRollback = r2.json().await.expect("started rollback");
    let events = app.follow(s.job_id).await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    assert_eq!(table_checksums(&target).await, before_rollback_kept);
    assert_eq!(
        query_i64s(
            &target,
            "SELECT v::bigint FROM (SELECT count(*) v FROM writes) s"
        )
        .await,
        [in_kept.len() as i64]
    );
    let r = app.restore_row(started.restore_id).await;
    let back = r.rollback_offline_ms.expect("rollback offline_ms");
    eprintln!("roll back offline_ms = {back}");
    assert!((0..5_000).contains(&back), "{back}");
    let aside = r.rolled_back_database.expect("set aside");
    assert!(
        aside.starts_with("lb_sw_dst__lifeboat_rolledback_"),
        "{aside}"
    );
    assert_eq!(
        databases_like("lb_sw_dst__lifeboat_%").await,
        std::slice::from_ref(&aside),
        "the kept database became the live one again; the restored one is aside"
    );
    let again = app.roll_back(started.restore_id).await;
    assert!(refusal(again).await.contains("already rolled back"));
    let audit = app.audit_with(audit_action::RESTORE_ROLLBACK).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, outcome::SUCCESS);
    assert_eq!(audit[0].details["offline_ms"], back);

    // Dropped by hand once its own final backup succeeded, audited.
    let k = app.final_backup_ended(&aside).await;
    assert_eq!(k.final_backup_status.as_deref(), Some("succeeded"));
    let r = app.drop_kept(&aside).await;
    assert_eq!(r.status(), 204);
    assert!(databases_like("lb_sw_dst__lifeboat_%").await.is_empty());
    assert!(app.kept().await.is_empty());
    let audit = app.audit_with(audit_action::KEPT_DATABASE_DROP).await;
    assert_eq!(audit[0].details["database"], aside.as_str());
    let r = app.drop_kept("postgres").await;
    assert_eq!(r.status(), 404, "only databases Lifeboat kept");
}

#[tokio::test]
async fn a_swap_failing_in_the_new_database_leaves_live_untouched_and_nothing_behind() {
    // A table owned by a role that no longer exists: pg_restore fails in the new database.
    let source = sample_database("lb_sw_fail_src", 3_000).await;
    sql(
        &pg_url(),
        "DROP ROLE IF EXISTS lb_sw_ghost; CREATE ROLE lb_sw_ghost;",
    )
    .await;
    sql(
        &source,
        "CREATE TABLE zz_owned (x int); ALTER TABLE zz_owned OWNER TO lb_sw_ghost;",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("bad.dump");
    dump(&source, &file);
    sql(&source, "DROP TABLE zz_owned").await;
    sql(&pg_url(), "DROP ROLE lb_sw_ghost").await;

    let target = sample_database("lb_sw_fail_dst", 2_000).await;
    sql(&target, "UPDATE marker SET v = 'untouched'").await;
    let before = table_checksums(&target).await;
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("bad.dump", std::fs::read(&file).expect("read"))
        .await;
    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_fail_dst" }))
        .await;
    assert_eq!(started.strategy.as_deref(), Some("swap"));
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::FAILED);
    let msg = done.message.clone().unwrap_or_default();
    assert!(msg.contains("lb_sw_ghost"), "{msg}");
    assert!(msg.contains("was dropped"), "{msg}");
    assert!(msg.contains("lb_sw_fail_dst was not touched"), "{msg}");
    assert_eq!(table_checksums(&target).await, before, "live untouched");
    assert!(
        databases_like("lb_sw_fail_dst_%").await.is_empty(),
        "no stray database"
    );
    let r = app.restore_row(started.restore_id).await;
    assert_eq!(r.offline_ms, None);
    assert_eq!(r.kept_database, None);
}

/// The test cluster's URL for `user` with `password`, on `database`.
fn as_role(user: &str, password: &str, database: &str) -> String {
    let mut u = url::Url::parse(&pg_url()).expect("url");
    u.set_username(user).expect("user");
    u.set_password(Some(password)).expect("password");
    u.set_path(&format!("/{database}"));
    u.to_string()
}

/// Inserts numbered rows into `writes` every few ms, reconnecting whenever it is thrown
/// out, until `stop`; returns the numbers whose INSERT was acknowledged as committed, and
/// when.
async fn writer(url: String, stop: Arc<AtomicBool>) -> Vec<(i64, Instant)> {
    let mut committed = vec![];
    let mut n: i64 = 0;
    let mut client: Option<tokio_postgres::Client> = None;
    while !stop.load(Ordering::SeqCst) {
        let c = match client.take() {
            Some(c) => c,
            None => match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                Ok((c, conn)) => {
                    tokio::spawn(conn);
                    c
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        n += 1;
        if c.execute("INSERT INTO writes VALUES ($1)", &[&n])
            .await
            .is_ok()
        {
            committed.push((n, Instant::now()));
            client = Some(c);
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    committed
}

/// The rows of `table`'s COPY block in an archive.
fn archived_numbers(archive: &std::path::Path, table: &str) -> Vec<i64> {
    let out = std::process::Command::new(crate::restores::bin("pg_restore"))
        .args(["--data-only", &format!("--table={table}"), "--file=-"])
        .arg(archive)
        .output()
        .expect("pg_restore");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut inside = false;
    let mut rows = vec![];
    for line in text.lines() {
        if line.starts_with("COPY ") {
            inside = true;
        } else if line == "\\." {
            inside = false;
        } else if inside {
            rows.push(line.parse().expect("a number"));
        }
    }
    rows
}

#[tokio::test]
async fn a_role_without_createdb_restores_in_place_keeping_the_application_out() {
    let source = sample_database("lb_sw_nocreate_src", 2_000).await;
    sql(&source, "UPDATE marker SET v = 'from-the-dump'").await;
    // (One statement per call: CREATE/DROP DATABASE refuse to run in a transaction.)
    for statement in [
        "DROP DATABASE IF EXISTS lb_sw_nocreate_dst WITH (FORCE)",
        "DROP ROLE IF EXISTS lb_app",
        "DROP ROLE IF EXISTS lb_writer",
        "CREATE ROLE lb_app LOGIN PASSWORD 'app-pw' NOCREATEDB",
        "CREATE ROLE lb_writer LOGIN PASSWORD 'writer-pw'",
        "GRANT pg_signal_backend TO lb_app",
        "CREATE DATABASE lb_sw_nocreate_dst OWNER lb_app",
    ] {
        sql(&pg_url(), statement).await;
    }
    let target = as_role("lb_app", "app-pw", "lb_sw_nocreate_dst");
    sql(
        &target,
        "CREATE TABLE customers (id bigint PRIMARY KEY, name text); CREATE TABLE marker (v text); INSERT INTO marker VALUES ('before'); CREATE TABLE writes (n bigint PRIMARY KEY); GRANT INSERT ON writes TO lb_writer;",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("src.dump");
    dump(&source, &file);
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("src.dump", std::fs::read(&file).expect("read"))
        .await;

    let swap = app
        .restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_nocreate_dst", "strategy": "swap" }))
        .await;
    let m = refusal(swap).await;
    assert!(m.contains("CREATEDB") && m.contains("in_place"), "{m}");
    let plan = app.plan().await;
    assert_eq!(plan.strategy, "in_place");
    assert!(plan.reason.contains("CREATEDB"), "{}", plan.reason);
    // No backup of it yet: nothing to estimate the time offline from.
    let plan = app.plan_of(&format!("?upload_id={}", up.upload_id)).await;
    assert_eq!(plan.in_place_offline_ms, None);

    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn(writer(
        as_role("lb_writer", "writer-pw", "lb_sw_nocreate_dst"),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (started, events) = app
        .restored(serde_json::json!({
            "upload_id": up.upload_id,
            "confirm": "lb_sw_nocreate_dst",
            "options": { "no_owner": true, "no_acl": true }
        }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let committed = writing.await.expect("writer");
    assert_eq!(started.strategy.as_deref(), Some("in_place"));
    let why = started.strategy_reason.clone().unwrap_or_default();
    assert!(why.contains("CREATEDB"), "{why}");
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    assert_eq!(
        without(table_checksums(&target).await, "writes"),
        table_checksums(&source).await
    );
    let r = app.restore_row(started.restore_id).await;
    assert_eq!(r.strategy.as_deref(), Some("in_place"));
    assert_eq!(r.strategy_reason.as_deref(), Some(why.as_str()));
    assert!(r.proof.is_empty() && r.offline_ms.is_none());

    // Every row committed before the block is in the safety backup; the writer was
    // refused from the safety backup's start to the restore's end; what it wrote after
    // (let in again) came later.
    let safety = app.backup_detail(r.safety_backup_id.expect("safety")).await;
    let safety_file = app
        .data_dir
        .path()
        .join(safety.backup.location.expect("location"));
    let saved = archived_numbers(&safety_file, "writes");
    let (kept, later): (Vec<_>, Vec<_>) = committed.iter().partition(|(n, _)| saved.contains(n));
    assert!(
        !kept.is_empty() && !later.is_empty(),
        "{} then {}",
        kept.len(),
        later.len()
    );
    let last_kept = kept.iter().map(|(n, _)| *n).max().expect("kept");
    assert!(
        later.iter().all(|(n, _)| *n > last_kept),
        "a row committed after the safety snapshot but before the restore's end"
    );
    let refused_for = later[0].1 - kept[kept.len() - 1].1;
    let busy: i64 = r
        .timings
        .iter()
        .filter(|t| t.phase == phase::SAFETY_BACKUP || t.phase == phase::RESTORE)
        .map(|t| t.ms)
        .sum();
    assert!(
        refused_for.as_millis() as i64 >= busy,
        "refused for {refused_for:?}, the safety backup and the restore took {busy} ms"
    );
    // Now the estimate of the time offline rests on this database's own backup and restore.
    let plan = app
        .plan_of(&format!("?backup_id={}", safety.backup.id))
        .await;
    let estimate = plan.in_place_offline_ms.expect("an estimate");
    assert!(estimate > 0, "{estimate}");
    let basis = plan.in_place_offline_basis.unwrap_or_default();
    assert!(
        basis.contains("the last restore here went at") && basis.contains("safety backup"),
        "{basis}"
    );
    // And it may connect again.
    sql(
        &as_role("lb_writer", "writer-pw", "lb_sw_nocreate_dst"),
        "INSERT INTO writes VALUES (-1)",
    )
    .await;
}

#[tokio::test]
async fn replication_tied_to_the_database_refuses_the_swap() {
    let source = sample_database("lb_sw_sub_src", 500).await;
    let target = sample_database("lb_sw_sub_dst", 500).await;
    sql(
        &target,
        "CREATE SUBSCRIPTION lb_sw_sub CONNECTION 'dbname=nowhere' PUBLICATION p WITH (connect = false)",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("src.dump");
    dump(&source, &file);
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("src.dump", std::fs::read(&file).expect("read"))
        .await;
    let swap = app
        .restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_sub_dst", "strategy": "swap" }))
        .await;
    let m = refusal(swap).await;
    assert!(
        m.contains("subscription lb_sw_sub") && m.contains("in_place"),
        "{m}"
    );
    assert!(databases_like("lb_sw_sub_dst_%").await.is_empty());
}

#[tokio::test]
async fn a_setting_that_names_the_database_for_an_extension_refuses_the_swap() {
    let source = sample_database("lb_sw_ext_src", 300).await;
    let target = sample_database("lb_sw_ext_dst", 300).await;
    // pg_partman's background worker finds the databases it maintains by name.
    sql(
        &pg_url(),
        "ALTER DATABASE lb_sw_ext_dst SET pg_partman_bgw.dbname = 'other_db, lb_sw_ext_dst'",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("src.dump");
    dump(&source, &file);
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("src.dump", std::fs::read(&file).expect("read"))
        .await;
    let m = refusal(
        app.restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_ext_dst", "strategy": "swap" }))
            .await,
    )
    .await;
    assert!(
        m.contains("setting pg_partman_bgw.dbname") && m.contains("in_place"),
        "{m}"
    );
    // Left to choose, Lifeboat restores in place and says why.
    let plan = app.plan().await;
    assert_eq!(plan.strategy, "in_place");
    assert!(
        plan.reason.contains("pg_partman_bgw.dbname"),
        "{}",
        plan.reason
    );
}

#[tokio::test]
async fn a_copy_restores_into_a_new_database_and_leaves_the_live_one() {
    let source = sample_database("lb_sw_copy_src", 3_000).await;
    sql(&source, "UPDATE marker SET v = 'copied'").await;
    let target = sample_database("lb_sw_copy_dst", 1_000).await;
    sql(
        &pg_url(),
        "DROP DATABASE IF EXISTS lb_sw_copy_new WITH (FORCE)",
    )
    .await;
    let before = table_checksums(&target).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("src.dump");
    dump(&source, &file);
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("src.dump", std::fs::read(&file).expect("read"))
        .await;

    for (name, expect) in [
        ("Bad-Name", "not a usable database name"),
        ("lb_sw_copy_dst", "already exists"),
    ] {
        let r = app
            .restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": name, "strategy": "copy", "new_database": name }))
            .await;
        let m = refusal(r).await;
        assert!(m.contains(expect), "{m}");
    }
    let r = app
        .restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_copy_dst", "strategy": "copy", "new_database": "lb_sw_copy_new" }))
        .await;
    assert!(refusal(r).await.contains("lb_sw_copy_new"));

    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_copy_new", "strategy": "copy", "new_database": "lb_sw_copy_new" }))
        .await;
    assert_eq!(started.strategy.as_deref(), Some("copy"));
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    assert!(
        !events.iter().any(|j| j.phase == phase::SAFETY_BACKUP),
        "a copy replaces nothing and takes no safety backup"
    );
    assert_eq!(table_checksums(&target).await, before, "live untouched");
    assert_eq!(
        table_checksums(&on_database(&target, "lb_sw_copy_new")).await,
        table_checksums(&source).await
    );
    let r = app.restore_row(started.restore_id).await;
    assert_eq!(r.new_database.as_deref(), Some("lb_sw_copy_new"));
    assert_eq!(r.safety_backup_id, None);
    assert_eq!(r.proof.len(), 3);
    let audit = app.audit_with(audit_action::RESTORE).await;
    assert_eq!(audit[0].details["strategy"], "copy");
    assert_eq!(audit[0].details["new_database"], "lb_sw_copy_new");
}

#[tokio::test]
async fn a_kept_database_whose_final_backup_failed_is_never_dropped_until_it_succeeds() {
    let source = sample_database("lb_sw_only_src", 1_000).await;
    let target = sample_database("lb_sw_only_dst", 1_000).await;
    sql(&target, "UPDATE marker SET v = 'only here'").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("src.dump");
    dump(&source, &file);
    // Fault injector: pg_dump fails on kept databases while the flag file exists.
    let flag = tmp.path().join("fail-final-backups");
    std::fs::write(&flag, "").expect("flag");
    let tools = fake_pg_dump(&format!(
        "case \"$*\" in *__lifeboat_*) if [ -e '{}' ]; then echo 'pg_dump: error: injected failure' >&2; exit 1; fi;; esac\nexec \"$REAL\" \"$@\"",
        flag.display()
    ));
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_PG_BIN_DIR", tools.path().display().to_string())],
        target: Some(target.clone()),
    })
    .await;
    let up = app
        .uploaded("src.dump", std::fs::read(&file).expect("read"))
        .await;
    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_sw_only_dst" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    let kept = app
        .restore_row(started.restore_id)
        .await
        .kept_database
        .expect("kept");

    // The final backup failed: the kept database is the only copy of its state.
    let k = app.final_backup_ended(&kept).await;
    assert_eq!(k.final_backup_status.as_deref(), Some("failed"));
    let why = k.drop_refusal.clone().expect("a reason not to drop");
    assert!(
        why.contains("only copy") && why.contains("injected failure"),
        "{why}"
    );
    let m = refusal(app.drop_kept(&kept).await).await;
    assert!(
        m.contains("was not dropped") && m.contains("only copy"),
        "{m}"
    );
    // Not even once older than the keep period: pruning takes the backup again instead.
    let pruned = server::engine::restore::kept::prune_kept(
        &app.server.state.engine,
        app.server.state.engine.target(),
        &server::store::audit::Origin::default().with_actor("test"),
    )
    .await
    .expect("prune");
    assert!(pruned.is_empty());
    assert_eq!(
        databases_like("lb_sw_only_dst__lifeboat_%").await,
        std::slice::from_ref(&kept)
    );
    let again = app.final_backup_ended(&kept).await;
    assert_eq!(again.final_backup_status.as_deref(), Some("failed"));
    assert!(
        again.final_backup_id > k.final_backup_id,
        "taken again: {:?} after {:?}",
        again.final_backup_id,
        k.final_backup_id
    );
    // It refuses connections again once that backup has ended (only its dump may connect).
    let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let mut allowed = true;
    for _ in 0..50 {
        allowed = client
            .query_one(
                "SELECT datallowconn FROM pg_database WHERE datname = $1",
                &[&kept],
            )
            .await
            .expect("datallowconn")
            .get(0);
        if !allowed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!allowed, "{kept} still accepts connections");

    // Once the fault is gone, taking it again by hand succeeds, and the drop goes through.
    std::fs::remove_file(&flag).expect("unflag");
    let r = app
        .client
        .post(app.url(&format!(
            "/api/v1/restores/kept-databases/{kept}/final-backup"
        )))
        .send()
        .await
        .expect("final backup");
    assert_eq!(r.status(), 202);
    let k = app.final_backup_ended(&kept).await;
    assert_eq!(k.final_backup_status.as_deref(), Some("succeeded"));
    let b = app
        .backup_detail(k.final_backup_id.expect("id"))
        .await
        .backup;
    assert_eq!(
        (b.database.as_str(), b.kind.as_str(), b.pinned),
        (kept.as_str(), "safety", true)
    );
    assert_eq!(app.drop_kept(&kept).await.status(), 204);
    assert!(databases_like("lb_sw_only_dst__lifeboat_%")
        .await
        .is_empty());
}
