//! What Lifeboat keeps to itself: its files (0600, in 0700 folders), its environment
//! (child processes get none of its secrets) and where it keeps things (messages name
//! files relative to the data directory). The first two run the `lifeboat` binary, as
//! an operator does.

use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `lifeboat serve` in its own process, signed in as `admin`; killed when dropped.
struct Served {
    child: std::process::Child,
    base: String,
    client: reqwest::Client,
    log: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Backs the target up and waits for the job's end; returns the backup's id.
    async fn backup(&self) -> i64 {
        let started: serde_json::Value = self
            .client
            .post(self.url("/api/v1/backups"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("start backup")
            .json()
            .await
            .expect("started json");
        let job_id = started["job_id"].as_i64().expect("job id");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let job: app::api::Job = self
                .client
                .get(self.url(&format!("/api/v1/jobs/{job_id}")))
                .send()
                .await
                .expect("job")
                .json()
                .await
                .expect("job json");
            if app::api::job_status::is_terminal(&job.status) {
                assert_eq!(job.status, "succeeded", "{job:?}\n{}", self.log());
                return job.backup_id.expect("backup id");
            }
            assert!(Instant::now() < deadline, "the backup did not end");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Starts `lifeboat serve` on a free port with `data_dir`, none of this process's
/// LIFEBOAT_* settings but the test cluster's tools, and `env`.
async fn serve(data_dir: &Path, log: PathBuf, env: &[(&str, String)]) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    cmd.arg("serve");
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("LIFEBOAT_DATA_DIR", data_dir)
        .env("LIFEBOAT_ADDR", format!("127.0.0.1:{port}"))
        .env("LIFEBOAT_SCHEDULE", "off")
        .env("LIFEBOAT_TEST_RESTORE_EVERY", "off")
        .env("LIFEBOAT_ADMIN_USER", "admin")
        .env("LIFEBOAT_ADMIN_PASSWORD", PASSWORD)
        .env("LIFEBOAT_PG_BIN_DIR", pg_bin_dir().expect("bin dir"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start lifeboat");
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

/// Every entry under `dir` (itself included) with its mode, and whether it is a folder.
fn walk(dir: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut out = vec![];
    let mut pending = vec![dir.to_path_buf()];
    while let Some(p) = pending.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        out.push((p.clone(), meta.permissions().mode() & 0o7777, meta.is_dir()));
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).expect("read dir").flatten() {
                pending.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// What in `dir` (itself included) is not private: folders other than 0700, files other
/// than 0600.
fn not_private(dir: &Path) -> Vec<String> {
    walk(dir)
        .into_iter()
        .filter(|(_, mode, is_dir)| *mode != if *is_dir { 0o700 } else { 0o600 })
        .map(|(p, mode, _)| format!("{} {mode:o}", p.display()))
        .collect()
}

async fn upload_backup_file(served: &Served, data: &Path) {
    let dump = walk(&data.join("backups"))
        .into_iter()
        .map(|(p, _, _)| p)
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("a backup file");
    let resp = served
        .client
        .post(served.url("/api/v1/uploads?filename=mine.dump"))
        .body(std::fs::read(dump).expect("read backup"))
        .send()
        .await
        .expect("upload");
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn everything_lifeboat_writes_is_private_to_it() {
    let url = sample_database("lb_private_files", 2000).await;
    let outside = tempfile::tempdir().expect("tmp");
    // Lifeboat creates the data directory itself.
    let data = outside.path().join("data");
    let served = serve(
        &data,
        outside.path().join("lifeboat.log"),
        &[("LIFEBOAT_TARGET_URL", url)],
    )
    .await;
    served.backup().await;
    upload_backup_file(&served, &data).await;

    let names: Vec<String> = walk(&data)
        .iter()
        .map(|(p, _, _)| p.strip_prefix(&data).expect("inside").display().to_string())
        .collect();
    for expected in [
        "lifeboat.db",
        "lifeboat.db-wal",
        "backups",
        "uploads",
        "locks",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    assert!(names.iter().any(|n| n.ends_with(".dump.json")), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("uploads/") && n.ends_with(".dump")),
        "{names:?}"
    );
    assert_eq!(not_private(&data), Vec::<String>::new());
    assert!(
        !served
            .log()
            .contains("can be read or written by other users"),
        "{}",
        served.log()
    );
    drop(served);

    // Loosened by hand: the next start says so, with the fix, and changes nothing.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let again = serve(
        &data,
        outside.path().join("lifeboat-2.log"),
        &[("LIFEBOAT_TARGET_URL", pg_url())],
    )
    .await;
    let log = again.log();
    assert!(
        log.contains("can be read or written by other users"),
        "{log}"
    );
    assert!(
        log.contains(&format!("chmod -R go-rwx {}", data.display())),
        "{log}"
    );
    assert_eq!(
        std::fs::metadata(&data).expect("meta").permissions().mode() & 0o777,
        0o755
    );
}

/// The same inside this process, whose umask is not Lifeboat's: the modes are given where
/// the files are created.
#[tokio::test]
async fn files_are_created_private_whatever_the_umask() {
    let url = sample_database("lb_private_modes", 500).await;
    let app = TestApp::signed_in(Options {
        env: vec![],
        target: Some(url),
    })
    .await;
    let started: serde_json::Value = app.start_backup().await.json().await.expect("json");
    let job = app.wait(started["job_id"].as_i64().expect("job id")).await;
    assert_eq!(job.status, "succeeded", "{job:?}");
    let dump = app
        .backup_files()
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("backup file");
    let resp = app
        .client
        .post(app.url("/api/v1/uploads?filename=mine.dump"))
        .body(std::fs::read(dump).expect("read"))
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), 201);
    // The data directory itself is the test's (a temporary directory): what is in it is
    // Lifeboat's.
    let root = format!("{} ", app.data_dir.path().display());
    let mut found = not_private(app.data_dir.path());
    found.retain(|e| !e.starts_with(&root));
    assert_eq!(found, Vec::<String>::new());
}

#[tokio::test]
async fn child_processes_get_none_of_lifeboats_secrets() {
    let url = sample_database("lb_child_env", 500).await;
    let target_password = url::Url::parse(&url)
        .expect("url")
        .password()
        .expect("the test cluster has a password")
        .to_string();
    // Every client tool writes the environment it was given, then does its work.
    let spy = tempfile::tempdir().expect("tmp");
    let seen = spy.path().join("seen");
    std::fs::create_dir(&seen).expect("dir");
    let real = PathBuf::from(pg_bin_dir().expect("bin dir"));
    let tools = spy.path().join("bin");
    std::fs::create_dir(&tools).expect("dir");
    for tool in ["pg_dump", "pg_restore", "psql"] {
        let script = format!(
            "#!/bin/bash\ncat /proc/$$/environ > '{}/{tool}.'$$\nexec '{}' \"$@\"\n",
            seen.display(),
            real.join(tool).display()
        );
        let p = tools.join(tool);
        std::fs::write(&p, script).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let secrets = [
        ("LIFEBOAT_S3_SECRET_ACCESS_KEY", "s3-secret-9f2b7c"),
        ("LIFEBOAT_S3_ACCESS_KEY_ID", "s3-key-id-4d1e8a"),
        ("LIFEBOAT_SMTP_PASSWORD", "smtp-secret-61c0d3"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-2a7f90"),
        ("PGPASSWORD", "pgpassword-secret-83b5e1"),
    ];
    let mut env: Vec<(&str, String)> = secrets.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.extend([
        ("LIFEBOAT_TARGET_URL", url.clone()),
        ("LIFEBOAT_PG_BIN_DIR", tools.display().to_string()),
        ("LIFEBOAT_S3_BUCKET", "lifeboat-test".into()),
        // Nothing listens there: the offsite copy fails, which is not what is tested.
        ("LIFEBOAT_S3_ENDPOINT", "http://127.0.0.1:9".into()),
        ("LIFEBOAT_SMTP_HOST", "127.0.0.1".into()),
        ("LIFEBOAT_SMTP_PORT", "9".into()),
        ("LIFEBOAT_SMTP_USER", "alerts".into()),
        ("LIFEBOAT_ALERT_EMAIL_FROM", "lifeboat@example.com".into()),
        ("LIFEBOAT_ALERT_EMAIL_TO", "ops@example.com".into()),
        // A libpq setting an operator may need: passed on.
        ("PGCONNECT_TIMEOUT", "17".into()),
    ]);
    let data = spy.path().join("data");
    let served = serve(&data, spy.path().join("lifeboat.log"), &env).await;
    let backup_id = served.backup().await;
    // A test restore runs pg_restore with a password file too.
    let resp = served
        .client
        .post(served.url(&format!("/api/v1/backups/{backup_id}/test-restore")))
        .send()
        .await
        .expect("test restore");
    assert_eq!(resp.status(), 202);
    let started: serde_json::Value = resp.json().await.expect("json");
    let job_id = started["job_id"].as_i64().expect("job id");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job: app::api::Job = served
            .client
            .get(served.url(&format!("/api/v1/jobs/{job_id}")))
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("job json");
        if app::api::job_status::is_terminal(&job.status) {
            break;
        }
        assert!(Instant::now() < deadline, "the test restore did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(served);

    let mut files: Vec<PathBuf> = std::fs::read_dir(&seen)
        .expect("seen")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let runs = |tool: &str| {
        files
            .iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{tool}.")))
            })
            .count()
    };
    assert!(runs("pg_dump") >= 1, "{files:?}");
    assert!(runs("pg_restore") >= 1, "{files:?}");
    let mut connected = 0;
    for f in &files {
        let environ = std::fs::read(f).expect("environ");
        let vars: Vec<String> = environ
            .split(|b| *b == 0)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let all = vars.join("\n");
        for (name, secret) in secrets
            .iter()
            .copied()
            .chain([("the target's password", target_password.as_str())])
            .chain([("LIFEBOAT_ADMIN_PASSWORD", PASSWORD)])
        {
            assert!(
                !all.contains(secret),
                "{name} reached {}:\n{all}",
                f.display()
            );
        }
        for v in &vars {
            assert!(
                !v.starts_with("LIFEBOAT_") && !v.starts_with("AWS_"),
                "{v} reached {}",
                f.display()
            );
        }
        assert!(vars.iter().any(|v| v.starts_with("PATH=")), "{all}");
        if vars.iter().any(|v| v.starts_with("PGPASSFILE=")) {
            connected += 1;
            assert!(vars.iter().any(|v| v == "PGCONNECT_TIMEOUT=17"), "{all}");
        }
    }
    assert!(
        connected >= 2,
        "pg_dump and pg_restore connected: {files:?}"
    );
}

#[tokio::test]
async fn messages_name_files_relative_to_the_data_directory() {
    let url = sample_database("lb_shown_paths", 200).await;
    let app = TestApp::signed_in(Options {
        env: vec![],
        target: Some(url),
    })
    .await;
    let started: serde_json::Value = app.start_backup().await.json().await.expect("json");
    let job = app.wait(started["job_id"].as_i64().expect("job id")).await;
    assert_eq!(job.status, "succeeded", "{job:?}");
    let id = job.backup_id.expect("backup id");
    let location = job.location.clone().expect("location");
    std::fs::remove_file(app.data_dir.path().join(&location)).expect("remove the backup");
    let data_dir = app.data_dir.path().display().to_string();

    // Downloading it: 404, naming the file as the data directory holds it.
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/backups/{id}/download")))
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), 404);
    let body: app::api::ApiError = resp.json().await.expect("error json");
    assert!(body.message.contains(&location), "{}", body.message);
    assert!(!body.message.contains(&data_dir), "{}", body.message);

    // Test-restoring it: the job fails, its message says which file cannot be read.
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/backups/{id}/test-restore")))
        .send()
        .await
        .expect("test restore");
    assert_eq!(resp.status(), 202);
    let started: serde_json::Value = resp.json().await.expect("json");
    let job = app.wait(started["job_id"].as_i64().expect("job id")).await;
    assert_eq!(job.status, "failed");
    let message = job.message.unwrap_or_default();
    assert!(message.contains(&location), "{message}");
    assert!(!message.contains(&data_dir), "{message}");
    // The same words in the audit log.
    let audited = app
        .audit_with(app::api::audit_action::TEST_RESTORE)
        .await
        .pop()
        .expect("audited");
    let audited = audited.details["message"].as_str().unwrap_or_default();
    assert!(audited.contains(&location), "{audited}");
    assert!(!audited.contains(&data_dir), "{audited}");
}
