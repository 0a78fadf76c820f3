//! Never hang: a backup stuck on a table someone holds locked is cancelled within 5 s and
//! leaves no lock, no session and no child behind; the stall watchdog fails a stuck dump
//! naming what it waits on; pg_dump's lock wait timeout fails it with a clear message.

use crate::support::*;
use app::api::{audit_action, job_status, outcome, phase, Job, StartedJob};
use std::time::{Duration, Instant};

async fn started(resp: reqwest::Response) -> StartedJob {
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    resp.json().await.expect("started json")
}

fn with_target(url: &str, env: Vec<(&'static str, String)>) -> Options {
    Options {
        env,
        target: Some(url.to_string()),
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// A session holding `orders` in ACCESS EXCLUSIVE mode until it is dropped, and its pid.
async fn lock_orders(url: &str) -> (tokio_postgres::Client, i32) {
    let holder = connect(url).await;
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    holder
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;")
        .await
        .expect("lock");
    (holder, pid)
}

/// The sessions of Lifeboat's tools (`lifeboat job N TOOL`) on `database`, with what
/// they wait on (other tests run their own jobs on other databases).
async fn tool_sessions(
    observer: &tokio_postgres::Client,
    database: &str,
) -> Vec<(String, Option<String>)> {
    observer
        .query(
            "SELECT application_name, wait_event_type FROM pg_stat_activity WHERE application_name LIKE 'lifeboat job %' AND datname = $1",
            &[&database],
        )
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Locks held or awaited by any of Lifeboat's sessions on `database`'s relations.
async fn lifeboat_locks(observer: &tokio_postgres::Client, database: &str) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             JOIN pg_database d ON d.oid = l.database
             WHERE a.application_name LIKE 'lifeboat%' AND l.locktype = 'relation'
               AND d.datname = $1",
            &[&database],
        )
        .await
        .expect("pg_locks")
        .get(0)
}

/// This process's children named `name` (the server under test runs in it) whose command
/// line mentions `marker` (tests running at the same time have children of their own).
fn children_named(name: &str, marker: &std::path::Path) -> Vec<i32> {
    let marker = marker.display().to_string();
    let me = std::process::id().to_string();
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = head.split_once(" (").map(|(_, c)| c).unwrap_or_default();
        let ppid = rest.split_whitespace().nth(1).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if comm == name && ppid == me && String::from_utf8_lossy(&cmdline).contains(&marker) {
            found.push(head.split(' ').next().unwrap_or("0").parse().unwrap_or(0));
        }
    }
    found
}

/// Waits until the job's pg_dump session waits for a lock.
async fn until_dump_waits_on_a_lock(
    app: &TestApp,
    observer: &tokio_postgres::Client,
    database: &str,
    id: i64,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting = tool_sessions(observer, database)
            .await
            .iter()
            .any(|(name, wait)| name.ends_with("pg_dump") && wait.as_deref() == Some("Lock"));
        if waiting {
            return;
        }
        let job = app.job(id).await;
        assert!(
            !job_status::is_terminal(&job.status),
            "the job ended before pg_dump waited: {job:?}"
        );
        assert!(
            Instant::now() < deadline,
            "pg_dump never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn until_terminal(app: &TestApp, id: i64, limit: Duration) -> Job {
    let deadline = Instant::now() + limit;
    loop {
        let job = app.job(id).await;
        if job_status::is_terminal(&job.status) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} still {} after {limit:?}: {job:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The journal row, the audit entry and the files of an attempt that ended as `status`.
async fn assert_ended_cleanly(app: &TestApp, job: &Job, status: &str) {
    let backup_id = job.backup_id.expect("backup id");
    let d = app.backup_detail(backup_id).await;
    assert_eq!(d.backup.status, status);
    assert!(d.backup.location.is_none(), "no file named");
    let audits: Vec<_> = app
        .audit_with(audit_action::BACKUP)
        .await
        .into_iter()
        .filter(|e| e.details["backup_id"] == backup_id)
        .collect();
    assert_eq!(audits.len(), 1, "one audit entry");
    assert_eq!(audits[0].outcome, outcome::FAILURE);
    assert_eq!(audits[0].details["status"], status);
    assert_eq!(app.backup_files(), Vec::<std::path::PathBuf>::new());
}

/// Nothing of Lifeboat's is left on the server or among this process's children.
async fn assert_nothing_left(app: &TestApp, observer: &tokio_postgres::Client, database: &str) {
    // The server may take a moment to clean up a terminated backend.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let sessions = tool_sessions(observer, database).await;
        let locks = lifeboat_locks(observer, database).await;
        if sessions.is_empty() && locks == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left on the server: sessions {sessions:?}, {locks} lock(s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        children_named("pg_dump", app.data_dir.path()),
        Vec::<i32>::new(),
        "pg_dump left"
    );
}

#[tokio::test]
async fn a_backup_waiting_on_a_locked_table_is_cancelled_within_5_s_and_leaves_nothing() {
    let url = sample_database("lb_hang_cancel", 1_000).await;
    let observer = connect(&pg_url()).await;
    let app = TestApp::signed_in(with_target(&url, vec![])).await;
    let (holder, _) = lock_orders(&url).await;
    let s = started(app.start_backup().await).await;
    until_dump_waits_on_a_lock(&app, &observer, "lb_hang_cancel", s.job_id).await;
    assert_eq!(app.job(s.job_id).await.phase, phase::DUMP);
    assert_eq!(
        children_named("pg_dump", app.data_dir.path()).len(),
        1,
        "pg_dump runs"
    );

    let asked = Instant::now();
    let cancel = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{}", s.job_id)))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), 202);
    let job = until_terminal(&app, s.job_id, Duration::from_secs(5)).await;
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(job.status, job_status::CANCELLED, "{job:?}");
    assert_ended_cleanly(&app, &job, job_status::CANCELLED).await;
    // Checked while the lock is still held: no Lifeboat session waits in its queue.
    assert_nothing_left(&app, &observer, "lb_hang_cancel").await;
    drop(holder);
}

#[tokio::test]
async fn a_backup_stuck_before_the_dump_starts_is_cancelled_within_5_s() {
    // The table sizes Lifeboat reads for progress need the lock too: with a long statement
    // timeout and nothing else, that query would wait for as long as the lock is held.
    let url = sample_database("lb_hang_cancel_sizes", 100).await;
    let observer = connect(&pg_url()).await;
    let app = TestApp::signed_in(with_target(&url, vec![])).await;
    let (holder, _) = lock_orders(&url).await;
    let s = started(app.start_backup().await).await;
    // Cancelled as soon as it runs, whatever it waits on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    let cancel = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{}", s.job_id)))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), 202);
    let job = until_terminal(&app, s.job_id, Duration::from_secs(5)).await;
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(job.status, job_status::CANCELLED, "{job:?}");
    assert_ended_cleanly(&app, &job, job_status::CANCELLED).await;
    assert_nothing_left(&app, &observer, "lb_hang_cancel_sizes").await;
    drop(holder);
}

#[tokio::test]
async fn the_stall_watchdog_fails_a_stuck_dump_naming_the_lock_it_waits_on() {
    let url = sample_database("lb_hang_stall", 1_000).await;
    let observer = connect(&pg_url()).await;
    let app = TestApp::signed_in(with_target(
        &url,
        vec![
            ("LIFEBOAT_STALL_TIMEOUT", "3s".into()),
            // Longer than the watchdog: the watchdog must be what ends the wait.
            ("LIFEBOAT_LOCK_WAIT_TIMEOUT", "60s".into()),
        ],
    ))
    .await;
    let (holder, holder_pid) = lock_orders(&url).await;
    let s = started(app.start_backup().await).await;
    let job = until_terminal(&app, s.job_id, Duration::from_secs(30)).await;
    assert_eq!(job.status, job_status::FAILED, "{job:?}");
    let msg = job.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("stalled: pg_dump made no progress for 3 s"),
        "{msg}"
    );
    assert!(msg.contains("waits on Lock/relation"), "{msg}");
    assert!(
        msg.contains("LOCK TABLE") && msg.contains("public.orders"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("blocked by pid {holder_pid}")),
        "{msg}"
    );
    assert!(
        msg.contains("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"),
        "{msg}"
    );
    assert_ended_cleanly(&app, &job, job_status::FAILED).await;
    let d = app.backup_detail(job.backup_id.expect("id")).await;
    assert!(d.backup.message.unwrap_or_default().starts_with("stalled:"));
    assert_nothing_left(&app, &observer, "lb_hang_stall").await;
    drop(holder);
}

#[tokio::test]
async fn the_lock_wait_timeout_fails_the_dump_with_a_clear_message() {
    let url = sample_database("lb_hang_lock_wait", 1_000).await;
    let observer = connect(&pg_url()).await;
    let app = TestApp::signed_in(with_target(
        &url,
        vec![
            ("LIFEBOAT_LOCK_WAIT_TIMEOUT", "1s".into()),
            ("LIFEBOAT_STALL_TIMEOUT", "60s".into()),
        ],
    ))
    .await;
    let (holder, _) = lock_orders(&url).await;
    let s = started(app.start_backup().await).await;
    let job = until_terminal(&app, s.job_id, Duration::from_secs(30)).await;
    assert_eq!(job.status, job_status::FAILED, "{job:?}");
    let msg = job.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with(
            "pg_dump could not lock a table within 1 s (LIFEBOAT_LOCK_WAIT_TIMEOUT): another session holds a conflicting lock"
        ),
        "{msg}"
    );
    assert!(msg.contains("orders"), "{msg}");
    assert_ended_cleanly(&app, &job, job_status::FAILED).await;
    assert_nothing_left(&app, &observer, "lb_hang_lock_wait").await;
    drop(holder);
    // Once the lock is gone, the next backup goes through.
    let s = started(app.start_backup().await).await;
    let job = until_terminal(&app, s.job_id, Duration::from_secs(60)).await;
    assert_eq!(job.status, job_status::SUCCEEDED, "{job:?}");
}
