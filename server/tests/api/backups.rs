//! Back up now: the job, its live progress, cancel, download, and every failure the issue
//! names — each asserting the journal row, the audit entry, the message, and that no
//! partial file is left or listed.

use crate::support::*;
use app::api::{audit_action, job_status, outcome, phase, ApiError, Job, StartedJob};
use std::time::Duration;

async fn started(resp: reqwest::Response) -> StartedJob {
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    resp.json().await.expect("started json")
}

/// A backup of the database at `url` through a `pg_dump` that `body` changes
/// ([`fake_pg_dump`]), followed to its end: the app, how the job started, and the job.
async fn back_up_through(url: &str, body: &str) -> (TestApp, StartedJob, Job) {
    let fake = fake_pg_dump(body);
    let app = TestApp::signed_in(with_target(
        url,
        vec![("LIFEBOAT_PG_BIN_DIR", fake.path().display().to_string())],
    ))
    .await;
    let s = started(app.start_backup().await).await;
    let job = app.wait(s.job_id).await;
    (app, s, job)
}

/// The failure contract: journal row failed with `why`, one failed audit entry, and no
/// file (partial or not) left for that attempt.
async fn assert_failed_cleanly(app: &TestApp, job: &Job, status: &str, why: &str) {
    assert_eq!(job.status, status, "{job:?}");
    let msg = job.message.clone().unwrap_or_default();
    assert!(msg.contains(why), "job message {msg:?} lacks {why:?}");
    let backup_id = job.backup_id.expect("backup id");
    let d = app.backup_detail(backup_id).await;
    assert_eq!(d.backup.status, status);
    assert!(d.backup.message.unwrap_or_default().contains(why));
    assert!(
        d.backup.location.is_none() && d.backup.sha256.is_none(),
        "a failed backup names no file"
    );
    let audits: Vec<_> = app
        .audit_with(audit_action::BACKUP)
        .await
        .into_iter()
        .filter(|e| e.details["backup_id"] == backup_id)
        .collect();
    assert_eq!(audits.len(), 1, "one audit entry per outcome");
    assert_eq!(audits[0].outcome, outcome::FAILURE);
    assert_eq!(audits[0].details["status"], status);
    let files = app.backup_files();
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".tmp")
                && !f.to_string_lossy().ends_with(".pgpass")),
        "temporary files left: {files:?}"
    );
    let listed: app::api::BackupPage = app
        .client
        .get(app.url("/api/v1/backups"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("page");
    let row = listed
        .items
        .iter()
        .find(|b| b.id == backup_id)
        .expect("listed");
    assert_ne!(row.status, job_status::SUCCEEDED);
}

fn with_target(url: &str, env: Vec<(&'static str, String)>) -> Options {
    Options {
        env,
        target: Some(url.to_string()),
    }
}

#[tokio::test]
async fn back_up_now_streams_progress_and_stores_a_verified_file() {
    let url = sample_database("lb_backup_ok", 150_000).await;
    let app = TestApp::signed_in(with_target(&url, vec![])).await;
    let s = started(app.start_backup().await).await;
    let events = app.follow(s.job_id).await;

    assert!(
        events.len() >= 3,
        "several progress events: {}",
        events.len()
    );
    let last = events.last().expect("final event");
    assert_eq!(last.status, job_status::SUCCEEDED, "{last:?}");
    assert_eq!(last.phase, phase::DONE);
    assert_eq!(last.percent, 100.0);
    assert!(
        events.windows(2).all(|w| w[1].percent >= w[0].percent),
        "percent never goes back"
    );
    let phases: Vec<&str> = events.iter().map(|e| e.phase.as_str()).collect();
    for p in [phase::DUMP, phase::DONE] {
        assert!(phases.contains(&p), "phase {p} seen in {phases:?}");
    }
    assert!(
        events
            .iter()
            .any(|e| e.current_item.as_deref() == Some("public.orders")),
        "the current table is reported"
    );

    let d = app.backup_detail(s.backup_id.expect("backup id")).await;
    let b = &d.backup;
    assert_eq!(b.status, job_status::SUCCEEDED);
    assert_eq!(b.database, "lb_backup_ok");
    assert_eq!(b.kind, "manual");
    assert_eq!(b.actor.as_deref(), Some("admin"));
    let location = b.location.clone().expect("location");
    assert!(
        location.starts_with("backups/lb_backup_ok/") && location.ends_with("_manual.dump"),
        "{location}"
    );
    let path = app.data_dir.path().join(&location);
    assert_eq!(sha256_file(&path), b.sha256.clone().expect("sha"));
    assert_eq!(
        std::fs::metadata(&path).expect("file").len() as i64,
        b.size_bytes.expect("size")
    );
    assert_eq!(
        d.archive_version.as_deref().map(|v| v.starts_with("1.")),
        Some(true)
    );
    assert!(d.server_version.is_some() && d.pg_dump_version.is_some());
    assert_eq!(d.exit_status.as_deref(), Some("exited with 0"));
    assert!(d
        .tool_output
        .clone()
        .unwrap_or_default()
        .contains("dumping contents of table"));
    let timed: Vec<String> = d.timings.iter().map(|t| t.phase.clone()).collect();
    assert_eq!(timed, ["preflight", "dump", "verify", "store"]);

    // The sidecar explains the file without Lifeboat's database, and holds no secret.
    let sidecar: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{}.json", path.display())).expect("sidecar"),
    )
    .expect("sidecar json");
    assert_eq!(sidecar["sha256"], serde_json::json!(b.sha256));
    assert_eq!(sidecar["database"], "lb_backup_ok");
    assert_eq!(sidecar["size_bytes"], serde_json::json!(b.size_bytes));
    let password = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
        .expect("pw");
    let sidecar_text = sidecar.to_string();
    assert!(!sidecar_text.contains(&password));
    assert!(!serde_json::to_string(&d.tool_output)
        .unwrap_or_default()
        .contains(&password));

    let audits = app.audit_with(audit_action::BACKUP).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].outcome, outcome::SUCCESS);
    assert_eq!(audits[0].actor.as_deref(), Some("admin"));
    assert_eq!(audits[0].details["sha256"], serde_json::json!(b.sha256));

    // A real pg_restore of the stored file gives back the same data, table by table.
    let copy = create_database("lb_backup_ok_copy").await;
    let out = std::process::Command::new(format!("{}/pg_restore", pg_bin_dir().expect("bin")))
        .arg(format!("--dbname={copy}"))
        .arg("--no-owner")
        .arg(&path)
        .output()
        .expect("pg_restore");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = table_checksums(&url).await;
    assert_eq!(source.len(), 3);
    assert_eq!(source, table_checksums(&copy).await);
}

#[tokio::test]
async fn the_stream_of_a_finished_job_sends_its_final_state_and_ends() {
    let url = sample_database("lb_backup_after", 1_000).await;
    let app = TestApp::signed_in(with_target(&url, vec![])).await;
    let s = started(app.start_backup().await).await;
    let done = app.wait(s.job_id).await;
    let events = app.follow(s.job_id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0], done);
    let missing = app
        .client
        .get(app.url("/api/v1/jobs/999999/events"))
        .send()
        .await
        .expect("events");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_second_backup_while_one_runs_is_refused_with_a_link_to_it() {
    let url = sample_database("lb_backup_busy", 1_000).await;
    let slow = fake_pg_dump("sleep 3\nexec \"$REAL\" \"$@\"");
    let app = TestApp::signed_in(with_target(
        &url,
        vec![("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string())],
    ))
    .await;
    let first = started(app.start_backup().await).await;
    let second = app.start_backup().await;
    assert_eq!(second.status(), 409);
    let err: ApiError = second.json().await.expect("error");
    assert_eq!(err.error, "busy");
    assert_eq!(err.job_id, Some(first.job_id));
    assert!(err.message.contains("already running"));
    let status: app::api::BackupStatus = app.backup_status().await;
    assert_eq!(
        status.running_job.map(|j| j.id),
        Some(first.job_id),
        "a reload reattaches"
    );
    assert_eq!(app.wait(first.job_id).await.status, job_status::SUCCEEDED);
    // Once it is over, the next one may start.
    let third = started(app.start_backup().await).await;
    assert_eq!(app.wait(third.job_id).await.status, job_status::SUCCEEDED);
    assert_ne!(
        app.backup_detail(first.backup_id.expect("id"))
            .await
            .backup
            .file_name,
        app.backup_detail(third.backup_id.expect("id"))
            .await
            .backup
            .file_name
    );
}

#[tokio::test]
async fn cancel_kills_the_dump_and_leaves_nothing_behind() {
    let url = sample_database("lb_backup_cancel", 1_000).await;
    // Writes part of a file, then takes its time.
    let slow = fake_pg_dump("head -c 300000 /dev/urandom > \"$OUT\"\nsleep 30");
    let app = TestApp::signed_in(with_target(
        &url,
        vec![("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string())],
    ))
    .await;
    let s = started(app.start_backup().await).await;
    for _ in 0..100 {
        if app.job(s.job_id).await.bytes_written > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancel = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{}", s.job_id)))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), 202);
    let job = app.wait(s.job_id).await;
    assert_failed_cleanly(&app, &job, job_status::CANCELLED, "cancelled").await;
    let cancels = app.audit_with(audit_action::BACKUP_CANCEL).await;
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].actor.as_deref(), Some("admin"));
    let again = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{}", s.job_id)))
        .send()
        .await
        .expect("cancel");
    assert_eq!(again.status(), 409, "a finished job cannot be cancelled");
}

async fn refused(app: &TestApp, why: &str) {
    let resp = app.start_backup().await;
    assert_eq!(resp.status(), 422);
    let err: ApiError = resp.json().await.expect("error");
    assert_eq!(err.error, "invalid_configuration");
    assert!(
        err.message.starts_with("invalid configuration: "),
        "{}",
        err.message
    );
    assert!(err.message.contains(why), "{} lacks {why}", err.message);
    let job = app.job(err.job_id.expect("journaled job")).await;
    assert_failed_cleanly(app, &job, job_status::FAILED, why).await;
}

#[tokio::test]
async fn an_unreachable_target_is_refused_before_anything_runs() {
    let port = server::dev::pgcluster::free_port().expect("port");
    let app = TestApp::signed_in(with_target(
        &format!("postgres://lifeboat:pw@127.0.0.1:{port}/nowhere"),
        vec![],
    ))
    .await;
    refused(&app, "cannot connect").await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_before_anything_runs() {
    let mut url = url::Url::parse(&pg_url()).expect("url");
    url.set_password(Some("wrong-password")).expect("pw");
    let app = TestApp::signed_in(with_target(url.as_str(), vec![])).await;
    refused(&app, "password authentication failed").await;
}

#[tokio::test]
async fn a_missing_pg_dump_is_refused_before_anything_runs() {
    let empty = tempfile::tempdir().expect("tmp");
    let app = TestApp::signed_in(with_target(
        &pg_url(),
        vec![("LIFEBOAT_PG_BIN_DIR", empty.path().display().to_string())],
    ))
    .await;
    refused(&app, "pg_dump not found").await;
}

#[tokio::test]
async fn pg_dump_killed_mid_dump_fails_the_backup_with_the_signal() {
    let url = sample_database("lb_backup_killed", 1_000).await;
    let (app, s, job) = back_up_through(
        &url,
        "head -c 500000 /dev/urandom > \"$OUT\"\necho 'pg_dump: dumping contents of table \"public.orders\"' >&2\nkill -9 $$",
    )
    .await;
    assert_failed_cleanly(&app, &job, job_status::FAILED, "killed by signal 9").await;
    let d = app.backup_detail(s.backup_id.expect("id")).await;
    assert_eq!(d.exit_status.as_deref(), Some("killed by signal 9"));
}

#[tokio::test]
async fn a_corrupt_dump_is_caught_by_the_verification() {
    let url = sample_database("lb_backup_corrupt", 20_000).await;
    // pg_dump "succeeds" but the file is cut short: verification must refuse it.
    let (app, _, job) = back_up_through(
        &url,
        "\"$REAL\" \"$@\" || exit $?\ntruncate -s 5000 \"$OUT\"",
    )
    .await;
    assert_failed_cleanly(&app, &job, job_status::FAILED, "verification failed").await;
}

#[tokio::test]
async fn garbage_written_by_pg_dump_is_caught_while_it_is_written() {
    let url = sample_database("lb_backup_garbage", 20_000).await;
    // A real archive's first 50 kB (its whole table of contents and the start of the data),
    // then random bytes; pg_dump "succeeds". The size does not change afterwards and the
    // table of contents is intact, so only decoding the data can tell.
    let (app, _, job) = back_up_through(
        &url,
        "\"$REAL\" \"${@/#--file=*/--file=$OUT.real}\" || exit $?\n{ head -c 50000 \"$OUT.real\"; head -c 200000 /dev/urandom; } > \"$OUT\"\nrm -f \"$OUT.real\"",
    )
    .await;
    assert_failed_cleanly(
        &app,
        &job,
        job_status::FAILED,
        "verification failed: the archive",
    )
    .await;
    let msg = job.message.unwrap_or_default();
    assert!(
        !msg.contains("--list"),
        "the data decode caught it, not the TOC check: {msg}"
    );
}

#[tokio::test]
async fn a_write_after_pg_dump_closed_its_file_is_read_back_again() {
    let url = sample_database("lb_backup_rewritten", 5_000).await;
    // pg_dump closes the complete file (the read-back starts then), and a second later,
    // before it ends, one byte of the header changes: the creation time's seconds
    // (a format-1.14 archive: compression int at 11, then the seconds' sign byte at 16 and
    // value at 17), which nothing else checks. The size stays the same.
    let (app, s, job) = back_up_through(
        &url,
        "\"$REAL\" \"$@\" || exit $?\nsleep 1\nb=$(od -An -tu1 -j17 -N1 \"$OUT\" | tr -d ' ')\nif [ \"$b\" = 59 ]; then v='\\072'; else v='\\073'; fi\nprintf \"$v\" | dd of=\"$OUT\" bs=1 seek=17 conv=notrunc status=none",
    )
    .await;
    assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
    let d = app.backup_detail(s.backup_id.expect("id")).await;
    let path = app
        .data_dir
        .path()
        .join(d.backup.location.expect("location"));
    let seconds = std::fs::read(&path).expect("read")[17];
    assert!(
        seconds == 58 || seconds == 59,
        "the byte was rewritten: {seconds}"
    );
    // The checksum recorded is the stored file's, not the one read before the write.
    assert_eq!(sha256_file(&path), d.backup.sha256.expect("sha"));
}

#[tokio::test]
async fn a_table_of_contents_pg_restore_cannot_list_fails_the_backup() {
    let url = sample_database("lb_backup_bad_toc", 5_000).await;
    // After pg_dump closed the file (the read-back and its `pg_restore --list` have run
    // on it by then), the table of contents it rewrote at the end gets a data flag no
    // pg_restore knows, at the first entry that has data (its dependency list's end, -1,
    // then its flag, 2). The decode reads each entry's flag only as "data or not", so only
    // the listing of the final file can catch this.
    let (app, _, job) = back_up_through(
        &url,
        "\"$REAL\" \"$@\" || exit $?\nsleep 1\npython3 - \"$OUT\" <<'PY'\nimport sys\nwith open(sys.argv[1], 'r+b') as f:\n    b = f.read()\n    f.seek(b.index(bytes([1, 1, 0, 0, 0, 2])) + 5)\n    f.write(bytes([7]))\nPY",
    )
    .await;
    assert_failed_cleanly(
        &app,
        &job,
        job_status::FAILED,
        "unexpected data offset flag 7",
    )
    .await;
    let msg = job.message.unwrap_or_default();
    assert!(msg.starts_with("verification failed"), "{msg}");
}

#[tokio::test]
async fn postgres_stopped_mid_dump_fails_the_backup() {
    let bin = server::dev::pgcluster::PgBin::discover().expect("pg binaries");
    let dir = tempfile::tempdir().expect("tmp");
    // The cluster runs as another OS user when we are root: let it in.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let mut cluster = server::dev::pgcluster::Cluster::open_or_init(
        &bin,
        &dir.path().join("pg"),
        "lifeboat",
        "stop-test-pw",
        true,
    )
    .await
    .expect("init");
    cluster
        .start(server::dev::pgcluster::free_port().expect("port"))
        .await
        .expect("start");
    let url = cluster.url("postgres");
    sql(
        &url,
        "CREATE TABLE big AS SELECT g, md5(g::text) AS h FROM generate_series(1, 50000) g",
    )
    .await;
    // pg_dump starts a moment after the job, by which time the server is gone.
    let slow = fake_pg_dump("sleep 2\nexec \"$REAL\" \"$@\"");
    let app = TestApp::signed_in(with_target(
        &url,
        vec![("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string())],
    ))
    .await;
    let s = started(app.start_backup().await).await;
    cluster.stop().await.expect("stop the server");
    let job = app.wait(s.job_id).await;
    assert_failed_cleanly(&app, &job, job_status::FAILED, "pg_dump exited with 1").await;
    assert!(
        job.message.unwrap_or_default().contains("connection"),
        "the reason names the connection"
    );
}

/// Mounts a tmpfs of `size` over the data directory's backups folder (a real small
/// filesystem: ENOSPC is the kernel's, not a simulation). Unmounted on drop.
struct SmallVolume(std::path::PathBuf);
impl SmallVolume {
    fn mount(app: &TestApp, size: &str) -> SmallVolume {
        let backups = app.data_dir.path().join("backups");
        std::fs::create_dir_all(&backups).expect("mkdir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&backups)
            .status()
            .expect("run mount");
        assert!(
            mounted.success(),
            "this test mounts a small tmpfs and must run as root (make test does)"
        );
        SmallVolume(backups)
    }
}
impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn too_little_free_space_is_refused_before_anything_runs() {
    let url = sample_database("lb_backup_nospace", 10).await;
    let app = TestApp::signed_in(with_target(&url, vec![])).await;
    let _volume = SmallVolume::mount(&app, "2m");
    refused(&app, "not enough free space").await;
}

#[tokio::test]
async fn a_full_disk_fails_the_backup_and_keeps_the_previous_one() {
    let url = sample_database("lb_backup_full", 10).await;
    let app = TestApp::signed_in(with_target(&url, vec![])).await;
    let _volume = SmallVolume::mount(&app, "5m");

    let small = started(app.start_backup().await).await;
    let first = app.wait(small.job_id).await;
    assert_eq!(first.status, job_status::SUCCEEDED, "{first:?}");
    // Now the data outgrows the volume; the estimate from the previous backup passes the
    // preflight, and pg_dump meets the full disk.
    sql(&url, "INSERT INTO orders SELECT g, 1, md5(g::text) || md5((g*3)::text) || md5((g*5)::text) FROM generate_series(100, 150000) g").await;
    let big = started(app.start_backup().await).await;
    let job = app.wait(big.job_id).await;
    assert_failed_cleanly(&app, &job, job_status::FAILED, "No space left on device").await;
    // The earlier backup is untouched.
    let d = app.backup_detail(first.backup_id.expect("id")).await;
    let path = app
        .data_dir
        .path()
        .join(d.backup.location.expect("location"));
    assert_eq!(sha256_file(&path), d.backup.sha256.expect("sha"));
}

#[tokio::test]
async fn downloads_stream_the_file_resume_with_ranges_and_are_audited() {
    let url = sample_database("lb_backup_download", 20_000).await;
    let app = TestApp::signed_in(with_target(&url, vec![])).await;
    let s = started(app.start_backup().await).await;
    let job = app.wait(s.job_id).await;
    assert_eq!(job.status, job_status::SUCCEEDED);
    let id = s.backup_id.expect("id");
    let d = app.backup_detail(id).await;
    let size = d.backup.size_bytes.expect("size");

    let whole = app
        .client
        .get(app.url(&format!("/api/v1/backups/{id}/download")))
        .send()
        .await
        .expect("download");
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-length"], size.to_string().as_str());
    let disposition = whole.headers()["content-disposition"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        disposition.contains(&format!(
            "filename=\"{}\"",
            d.backup.file_name.clone().expect("name")
        )),
        "{disposition}"
    );
    let bytes = whole.bytes().await.expect("body");
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        d.backup.sha256.clone().expect("sha")
    );

    // Resuming from byte 1000 (what `curl -C -` sends).
    let part = app
        .client
        .get(app.url(&format!("/api/v1/backups/{id}/download")))
        .header("range", "bytes=1000-")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.expect("part")[..], bytes[1000..]);

    let meta = app
        .client
        .get(app.url(&format!("/api/v1/backups/{id}/metadata")))
        .send()
        .await
        .expect("meta");
    assert_eq!(meta.status(), 200);
    let sidecar: serde_json::Value = meta.json().await.expect("json");
    assert_eq!(sidecar["sha256"], serde_json::json!(d.backup.sha256));

    let downloads = app.audit_with(audit_action::DOWNLOAD).await;
    assert_eq!(downloads.len(), 3);
    assert_eq!(downloads[1].details["range"], "bytes=1000-");

    let anonymous = reqwest::get(app.url(&format!("/api/v1/backups/{id}/download")))
        .await
        .expect("anon");
    assert_eq!(anonymous.status(), 401);
    let missing = app
        .client
        .get(app.url("/api/v1/backups/424242/download"))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_failed_backup_cannot_be_downloaded() {
    let empty = tempfile::tempdir().expect("tmp");
    let app = TestApp::signed_in(with_target(
        &pg_url(),
        vec![("LIFEBOAT_PG_BIN_DIR", empty.path().display().to_string())],
    ))
    .await;
    let err: ApiError = app.start_backup().await.json().await.expect("json");
    let job = app.job(err.job_id.expect("job")).await;
    let id = job.backup_id.expect("backup");
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/backups/{id}/download")))
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), 409);
}

#[tokio::test]
async fn a_backup_being_downloaded_is_not_deleted_until_the_download_ends() {
    // Large enough that the download is still being sent after its first bytes.
    let url = sample_database("lb_del_download", 150_000).await;
    let app = TestApp::signed_in(Options {
        env: vec![],
        target: Some(url),
    })
    .await;
    let mut ids = vec![];
    for _ in 0..2 {
        let s: StartedJob = app.start_backup().await.json().await.expect("started");
        let job = app.wait(s.job_id).await;
        assert_eq!(job.status, job_status::SUCCEEDED);
        ids.push(job.backup_id.expect("id"));
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let older = ids[0];
    let size = app
        .backup_detail(older)
        .await
        .backup
        .size_bytes
        .expect("size") as usize;
    let mut download = app
        .client
        .get(app.url(&format!("/api/v1/backups/{older}/download")))
        .send()
        .await
        .expect("download");
    assert_eq!(download.status(), 200);
    let mut got = download
        .chunk()
        .await
        .expect("first bytes")
        .expect("a chunk")
        .to_vec();
    let delete = || {
        app.client
            .delete(app.url(&format!("/api/v1/backups/{older}")))
            .send()
    };
    let refused = delete().await.expect("delete");
    assert_eq!(refused.status(), 409);
    let e: app::api::ApiError = refused.json().await.expect("error");
    assert!(e.message.contains("being downloaded"), "{}", e.message);
    // Retention leaves it too.
    let deleted = server::engine::pruning::prune(
        &app.server.state.engine,
        app.server.state.engine.target(),
        &server::retention::Policy {
            keep_last: 1,
            max_age: None,
        },
        &server::store::audit::Origin::default(),
        false,
    )
    .await
    .expect("prune");
    assert_eq!(
        deleted.len(),
        0,
        "retention deleted a backup being downloaded"
    );

    // The download finishes, whole.
    while let Some(c) = download.chunk().await.expect("more bytes") {
        got.extend_from_slice(&c);
    }
    assert_eq!(got.len(), size);
    let mut status = 0;
    for _ in 0..50 {
        status = delete().await.expect("delete").status().as_u16();
        if status == 204 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 204, "deleted once the download has ended");
}
