//! The `lifeboat` binary: `user add`, and configuration errors at start-up.

use crate::support::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn lifeboat() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            c.env_remove(k);
        }
    }
    c
}

fn run_with_stdin(mut cmd: Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lifeboat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

#[tokio::test]
async fn user_add_creates_an_admin_who_can_log_in() {
    let data = tempfile::tempdir().expect("tmp");
    let mut cmd = lifeboat();
    cmd.args(["user", "add", "carol", "--password-stdin", "--json"])
        .env("LIFEBOAT_DATA_DIR", data.path());
    let out = run_with_stdin(cmd, &format!("{PASSWORD}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(json["username"], "carol");

    // The same data directory, served: carol signs in with that password.
    let config = config_for(data.path(), &Options::default());
    let target = config.target_url.clone();
    let server = server::startup::start(config, target).await.expect("start");
    assert!(server.setup_url.is_none());
    let base = format!("http://{}", server.addr);
    let resp = client_for(&base)
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "carol", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 200);
    let created = server::store::audit::list(
        &server.state.db,
        &server::store::audit::Query {
            limit: 10,
            offset: 0,
            action: Some("user.created".into()),
            outcome: None,
        },
    )
    .await
    .expect("audit");
    assert_eq!(created.total, 1);
    assert!(created.items[0]
        .actor
        .as_deref()
        .unwrap_or("")
        .starts_with("os:"));
    server.stop().await.expect("stop");
}

#[test]
fn user_add_refuses_a_short_password_and_a_duplicate() {
    let data = tempfile::tempdir().expect("tmp");
    let mut cmd = lifeboat();
    cmd.args(["user", "add", "dave", "--password-stdin"])
        .env("LIFEBOAT_DATA_DIR", data.path());
    let out = run_with_stdin(cmd, "short\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));

    let mut ok = lifeboat();
    ok.args(["user", "add", "dave", "--password-stdin"])
        .env("LIFEBOAT_DATA_DIR", data.path());
    assert!(run_with_stdin(ok, PASSWORD).status.success());
    let mut dup = lifeboat();
    dup.args(["user", "add", "DAVE", "--password-stdin"])
        .env("LIFEBOAT_DATA_DIR", data.path());
    let out = run_with_stdin(dup, PASSWORD);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn invalid_configuration_is_reported_one_line_per_problem() {
    let out = lifeboat()
        .args(["serve"])
        .env("LIFEBOAT_ADDR", "not-an-address")
        .env("LIFEBOAT_TARGET_URL", "http://example.com/db")
        .env("LIFEBOAT_SESSION_IDLE_TIMEOUT", "forever")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("invalid configuration: LIFEBOAT_")),
        "{err}"
    );
}

#[tokio::test]
async fn backup_command_runs_the_same_job_and_reports_json() {
    let url = sample_database("lb_cli_backup", 5_000).await;
    let data = tempfile::tempdir().expect("tmp");
    let mut cmd = lifeboat();
    cmd.args(["backup", "--json"])
        .env("LIFEBOAT_DATA_DIR", data.path())
        .env("LIFEBOAT_TARGET_URL", &url);
    if let Some(b) = pg_bin_dir() {
        cmd.env("LIFEBOAT_PG_BIN_DIR", b);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: app::api::Job = serde_json::from_slice(&out.stdout).expect("job json on stdout");
    assert_eq!(job.status, "succeeded");
    let file = data.path().join(job.location.expect("location"));
    assert_eq!(sha256_file(&file), job.sha256.expect("sha"));

    // Journal and audit are the same ones the web console shows, with the OS user as actor.
    let db = server::store::open(data.path()).await.expect("store");
    let page = server::store::backups::list(&db, 10, 0)
        .await
        .expect("list");
    assert_eq!(page.total, 1);
    assert!(page.items[0]
        .actor
        .as_deref()
        .unwrap_or("")
        .starts_with("os:"));
    let audit = server::store::audit::list(
        &db,
        &server::store::audit::Query {
            limit: 10,
            offset: 0,
            action: Some("backup.run".into()),
            outcome: Some("success".into()),
        },
    )
    .await
    .expect("audit");
    assert_eq!(audit.total, 1);

    // A failure exits non-zero with the reason.
    let port = server::dev::pgcluster::free_port().expect("port");
    let out = lifeboat()
        .args(["backup"])
        .env("LIFEBOAT_DATA_DIR", data.path())
        .env(
            "LIFEBOAT_TARGET_URL",
            format!("postgres://x:y@127.0.0.1:{port}/db"),
        )
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid configuration: cannot connect"));
}

#[tokio::test]
async fn lifeboat_killed_mid_dump_is_marked_interrupted_at_the_next_start() {
    let url = sample_database("lb_cli_killed", 1_000).await;
    let data = tempfile::tempdir().expect("tmp");
    let marker = format!("lifeboat-killed-test-{}", std::process::id());
    // A pg_dump that writes part of its file and then hangs (until the test ends it).
    let fake = fake_pg_dump(&format!(
        "head -c 200000 /dev/urandom > \"$OUT\"\nexec -a {marker} sleep 60"
    ));
    let mut child = lifeboat()
        .args(["backup"])
        .env("LIFEBOAT_DATA_DIR", data.path())
        .env("LIFEBOAT_TARGET_URL", &url)
        .env("LIFEBOAT_PG_BIN_DIR", fake.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let db_path = data.path().join("lifeboat.db");
    let mut seen_dump = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if !db_path.exists() {
            continue;
        }
        let db = server::store::open(data.path()).await.expect("store");
        let phase: Option<String> =
            sqlx::query_scalar("SELECT phase FROM jobs WHERE status = 'running'")
                .fetch_optional(&db)
                .await
                .expect("query");
        let tmp_exists = std::fs::read_dir(data.path().join("backups/lb_cli_killed"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.path().to_string_lossy().ends_with(".tmp"))
            })
            .unwrap_or(false);
        if phase.as_deref() == Some("dump") && tmp_exists {
            seen_dump = true;
            break;
        }
    }
    assert!(seen_dump, "the backup reached the dump phase");
    child.kill().expect("kill -9 lifeboat");
    let _ = child.wait();
    let _ = Command::new("pkill").args(["-f", &marker]).status();

    // The next start finds the job, marks it interrupted, removes the temporary file.
    let config = config_for(
        data.path(),
        &Options {
            env: vec![],
            target: Some(url.clone()),
        },
    );
    let server = server::startup::start(config, server::target::TargetUrl::parse(&url).ok())
        .await
        .expect("start");
    let db = &server.state.db;
    let (status, message): (String, String) =
        sqlx::query_as("SELECT status, message FROM backups ORDER BY id DESC LIMIT 1")
            .fetch_one(db)
            .await
            .expect("backup row");
    assert_eq!(status, "interrupted");
    assert!(message.contains("interrupted"));
    let job_status: String = sqlx::query_scalar("SELECT status FROM jobs ORDER BY id DESC LIMIT 1")
        .fetch_one(db)
        .await
        .expect("job row");
    assert_eq!(job_status, "interrupted");
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("backups/lb_cli_killed"))
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(leftovers.is_empty(), "nothing left behind: {leftovers:?}");
    let audit = server::store::audit::list(
        db,
        &server::store::audit::Query {
            limit: 10,
            offset: 0,
            action: Some("backup.run".into()),
            outcome: Some("failure".into()),
        },
    )
    .await
    .expect("audit");
    assert_eq!(audit.total, 1);
    assert_eq!(audit.items[0].details["status"], "interrupted");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn cli_backup_and_restore_wait_for_their_offsite_copy_and_alert() {
    let s3 = crate::offsite::S3::start().await;
    let url = sample_database("lb_cli_followups", 20_000).await;
    let data = tempfile::tempdir().expect("tmp");
    let (hook, got) = crate::alerts::receiver(200).await;
    let command = |args: &[&str]| {
        let mut cmd = lifeboat();
        cmd.args(args)
            .env("LIFEBOAT_DATA_DIR", data.path())
            .env("LIFEBOAT_TARGET_URL", &url)
            .env("LIFEBOAT_ALERT_WEBHOOK_URL", &hook)
            .envs(crate::offsite::s3_env(&s3.endpoint, 5))
            .stdin(Stdio::null());
        if let Some(b) = pg_bin_dir() {
            cmd.env("LIFEBOAT_PG_BIN_DIR", b);
        }
        // The webhook receiver runs on this test's runtime: the command is awaited.
        tokio::process::Command::from(cmd)
    };

    let out = command(&["backup", "--json"]).output().await.expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let job: app::api::Job = serde_json::from_slice(&out.stdout).expect("job json on stdout");
    let id = job.backup_id.expect("backup id");
    // When the command has exited, the copy is offsite, verified and journaled.
    let db = server::store::open(data.path()).await.expect("store");
    let b = server::store::backups::get(&db, id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        b.offsite_status,
        Some(server::store::backups::OffsiteStatus::Copied),
        "{:?} / {stderr}",
        b.offsite_message
    );
    let key = format!("nightly/lb_cli_followups/{}", b.file_name.expect("name"));
    let local = std::fs::read(data.path().join(b.location.expect("loc"))).expect("local");
    assert!(s3.object(&key).await.expect("object offsite") == local);

    // The restore's alert has reached the receiver when the command has exited.
    // (The backup's own checks may have alerted already: a small file, little space.)
    let out = command(&["restore", "--backup", &id.to_string(), "--yes", "--json"])
        .output()
        .await
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = got.lock().expect("lock").clone();
    let restores: Vec<_> = alerts.iter().filter(|a| a["event"] == "restore").collect();
    assert_eq!(restores.len(), 1, "{alerts:?}");
    assert!(restores[0]["title"]
        .as_str()
        .unwrap_or("")
        .starts_with("Restore of lb_cli_followups succeeded"));
}

#[tokio::test]
async fn cli_backup_exits_3_when_its_offsite_copy_fails_and_alerts_once_per_run() {
    let url = sample_database("lb_cli_offsite_down", 1_000).await;
    let data = tempfile::tempdir().expect("tmp");
    let (hook, got) = crate::alerts::receiver(200).await;
    // Nothing listens there: the store is down.
    let port = server::dev::pgcluster::free_port().expect("port");
    let run = || {
        let mut cmd = lifeboat();
        cmd.args(["backup"])
            .env("LIFEBOAT_DATA_DIR", data.path())
            .env("LIFEBOAT_TARGET_URL", &url)
            .env("LIFEBOAT_ALERT_WEBHOOK_URL", &hook)
            .envs(crate::offsite::s3_env(
                &format!("http://127.0.0.1:{port}"),
                5,
            ))
            .stdin(Stdio::null());
        if let Some(b) = pg_bin_dir() {
            cmd.env("LIFEBOAT_PG_BIN_DIR", b);
        }
        tokio::process::Command::from(cmd)
    };
    let out = run().output().await.expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("backup 1 succeeded"),
        "the backup itself is fine"
    );
    assert!(
        stderr.contains("error: offsite copy of backup 1: "),
        "{stderr}"
    );

    // A second run with two copies waiting: one alert for the run, listing both.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let out = run().output().await.expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = got.lock().expect("lock").clone();
    let offsite: Vec<_> = alerts
        .iter()
        .filter(|a| a["event"] == "offsite_failed")
        .collect();
    assert_eq!(offsite.len(), 2, "one per run: {alerts:?}");
    let text = offsite[1]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("Waiting for their offsite copy: backups 2, 1."),
        "{text}"
    );
}
