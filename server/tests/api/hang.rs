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

// ---------------------------------------------------------------------------------------
// SIGTERM to `lifeboat serve`
// ---------------------------------------------------------------------------------------

/// How long `lifeboat serve` takes at most to exit after SIGTERM (docs/operations.md).
const EXIT_WITHIN: Duration = Duration::from_secs(10);

struct Served {
    child: std::process::Child,
    client: reqwest::Client,
    base: String,
    log: std::path::PathBuf,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn job(&self, id: i64) -> Job {
        self.client
            .get(self.url(&format!("/api/v1/jobs/{id}")))
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("job json")
    }

    /// Sends SIGTERM and waits for the exit; returns how long it took.
    async fn terminate(&mut self) -> Duration {
        let asked = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "exit status {status}:\n{}", self.log());
                return asked.elapsed();
            }
            assert!(
                asked.elapsed() < EXIT_WITHIN + Duration::from_secs(20),
                "lifeboat did not exit:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `lifeboat serve` protecting `url` with `data_dir`, signed in as the admin.
async fn serve(data_dir: &std::path::Path, url: &str) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    cmd.arg("serve");
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            cmd.env_remove(k);
        }
    }
    let log = data_dir.with_extension("log");
    cmd.env("LIFEBOAT_DATA_DIR", data_dir)
        .env("LIFEBOAT_TARGET_URL", url)
        .env("LIFEBOAT_ADDR", format!("127.0.0.1:{port}"))
        .env("LIFEBOAT_SCHEDULE", "off")
        .env("LIFEBOAT_SCHEDULE_OFF_OK", "true")
        .env("LIFEBOAT_TEST_RESTORE_EVERY", "off")
        .env("LIFEBOAT_ADMIN_USER", "admin")
        .env("LIFEBOAT_ADMIN_PASSWORD", PASSWORD)
        .env("LIFEBOAT_PG_BIN_DIR", pg_bin_dir().expect("bin dir"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    let child = cmd.spawn().expect("start lifeboat");
    let base = format!("http://127.0.0.1:{port}");
    let mut served = Served {
        child,
        client: client_for(&base),
        base,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Ok(Some(status)) = served.child.try_wait() {
            panic!("lifeboat exited with {status}:\n{}", served.log());
        }
        assert!(Instant::now() < deadline, "lifeboat did not listen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = served
        .client
        .post(served.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    served
}

/// Every process (anywhere, a child of Lifeboat's or orphaned) named `name` whose command
/// line mentions `marker`.
fn processes_named(name: &str, marker: &std::path::Path) -> Vec<i32> {
    let marker = marker.display().to_string();
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if comm.trim() == name && String::from_utf8_lossy(&cmdline).contains(&marker) {
            found.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    found
}

/// Every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                pending.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The statuses recorded in Lifeboat's database: `(table, id, status)`.
async fn recorded(db: &sqlx::SqlitePool, table: &str) -> Vec<(i64, String)> {
    sqlx::query_as(&format!("SELECT id, status FROM {table} ORDER BY id"))
        .fetch_all(db)
        .await
        .expect("statuses")
}

/// After `lifeboat serve` exited: the statuses are as expected, and stay so when Lifeboat
/// starts again (nothing is found running and turned interrupted).
async fn assert_recorded_after_restart(
    data_dir: &std::path::Path,
    url: &str,
    expected: &[(&str, Vec<(i64, String)>)],
) {
    let db = server::store::open(data_dir).await.expect("store");
    for (table, rows) in expected {
        assert_eq!(&recorded(&db, table).await, rows, "{table} after the exit");
    }
    db.close().await;
    let config = config_for(
        data_dir,
        &Options {
            env: vec![],
            target: Some(url.to_string()),
        },
    );
    let server = server::startup::start(config, server::target::TargetUrl::parse(url).ok())
        .await
        .expect("start again");
    for (table, rows) in expected {
        assert_eq!(
            &recorded(&server.state.db, table).await,
            rows,
            "{table} after the restart"
        );
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn sigterm_during_a_backup_cancels_it_ends_the_event_stream_and_exits_in_time() {
    let url = sample_database("lb_hang_sigterm_backup", 1_000).await;
    let observer = connect(&pg_url()).await;
    let data = tempfile::tempdir().expect("tmp");
    let mut served = serve(data.path(), &url).await;
    // pg_dump waits on the lock for as long as LIFEBOAT_LOCK_WAIT_TIMEOUT (2 min).
    let (holder, _) = lock_orders(&url).await;
    let resp = served
        .client
        .post(served.url("/api/v1/backups"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("start backup");
    let s = started(resp).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tool_sessions(&observer, "lb_hang_sigterm_backup")
        .await
        .iter()
        .any(|(_, wait)| wait.as_deref() == Some("Lock"))
    {
        assert!(Instant::now() < deadline, "pg_dump never waited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served.job(s.job_id).await.status, job_status::RUNNING);
    let mut stream = served
        .client
        .get(served.url(&format!("/api/v1/jobs/{}/events", s.job_id)))
        .send()
        .await
        .expect("events");
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.expect("first event").expect("a chunk");
    assert!(String::from_utf8_lossy(&first).contains("\"running\""));

    let took = served.terminate().await;
    eprintln!(
        "lifeboat serve exited {} ms after SIGTERM",
        took.as_millis()
    );
    assert!(took < EXIT_WITHIN, "exited after {took:?}");
    // The stream carried the outcome, then ended.
    let mut rest = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
        .await
        .expect("the stream ended")
        .unwrap_or(None)
    {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(rest.contains("\"cancelled\""), "{rest}");

    assert_eq!(
        processes_named("pg_dump", data.path()),
        Vec::<i32>::new(),
        "pg_dump left"
    );
    assert_eq!(
        tool_sessions(&observer, "lb_hang_sigterm_backup").await,
        vec![]
    );
    assert_eq!(lifeboat_locks(&observer, "lb_hang_sigterm_backup").await, 0);
    assert_eq!(
        files_under(&data.path().join("backups")),
        Vec::<std::path::PathBuf>::new()
    );
    drop(holder);
    let backup_id = s.backup_id.expect("backup id");
    assert_recorded_after_restart(
        data.path(),
        &url,
        &[
            ("jobs", vec![(s.job_id, "cancelled".into())]),
            ("backups", vec![(backup_id, "cancelled".into())]),
        ],
    )
    .await;
}

#[tokio::test]
async fn sigterm_during_a_restore_cancels_it_leaves_the_database_as_it_was_and_exits_in_time() {
    let url = sample_database("lb_hang_sigterm_restore", 1_000).await;
    let observer = connect(&pg_url()).await;
    let data = tempfile::tempdir().expect("tmp");
    let mut served = serve(data.path(), &url).await;
    let resp = served
        .client
        .post(served.url("/api/v1/backups"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("start backup");
    let backup = started(resp).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = served.job(backup.job_id).await;
        if job_status::is_terminal(&j.status) {
            assert_eq!(j.status, job_status::SUCCEEDED, "{j:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the backup did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let backup_id = backup.backup_id.expect("backup id");
    sql(&url, "UPDATE marker SET v = 'after the backup'").await;
    let before = table_checksums(&url).await;
    // The restore's safety backup waits on this lock.
    let (holder, _) = lock_orders(&url).await;
    let resp = served
        .client
        .post(served.url("/api/v1/restores"))
        .json(&serde_json::json!({ "backup_id": backup_id, "confirm": "lb_hang_sigterm_restore" }))
        .send()
        .await
        .expect("restore");
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    let restore: app::api::StartedRestore = resp.json().await.expect("started");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tool_sessions(&observer, "lb_hang_sigterm_restore")
        .await
        .iter()
        .any(|(_, wait)| wait.as_deref() == Some("Lock"))
    {
        assert!(Instant::now() < deadline, "the safety backup never waited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served.job(restore.job_id).await.phase, phase::SAFETY_BACKUP);

    let took = served.terminate().await;
    eprintln!(
        "lifeboat serve exited {} ms after SIGTERM",
        took.as_millis()
    );
    assert!(took < EXIT_WITHIN, "exited after {took:?}");
    assert_eq!(
        processes_named("pg_dump", data.path()),
        Vec::<i32>::new(),
        "pg_dump left"
    );
    assert_eq!(
        tool_sessions(&observer, "lb_hang_sigterm_restore").await,
        vec![]
    );
    assert_eq!(
        lifeboat_locks(&observer, "lb_hang_sigterm_restore").await,
        0
    );
    drop(holder);
    assert_eq!(
        table_checksums(&url).await,
        before,
        "the database is as it was"
    );
    let files = files_under(&data.path().join("backups"));
    assert_eq!(files.len(), 2, "the backup and its sidecar only: {files:?}");
    assert_recorded_after_restart(
        data.path(),
        &url,
        &[
            (
                "jobs",
                vec![
                    (backup.job_id, "succeeded".into()),
                    (restore.job_id, "cancelled".into()),
                ],
            ),
            ("restores", vec![(restore.restore_id, "cancelled".into())]),
            (
                "backups",
                vec![
                    (backup_id, "succeeded".into()),
                    (backup_id + 1, "cancelled".into()),
                ],
            ),
        ],
    )
    .await;
}
