//! Restore: uploads (every refusal the issue names), the restore job with its safety
//! backup, roll back, failures half-way, and the CLI — each against real PostgreSQL
//! tools and a real cluster, comparing table checksums before and after.

use crate::support::*;
use app::api::{
    audit_action, backup_kind, job_status, outcome, phase, ApiError, Restore, StartedRestore,
    Upload,
};
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn bin(tool: &str) -> PathBuf {
    PathBuf::from(pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR")).join(tool)
}

/// `pg_dump -Fc` (or `format`) of `url` into `out`, with the tools in `bin_dir`.
fn dump_with(bin_dir: &Path, url: &str, out: &Path, format: &str) {
    let status = Command::new(bin_dir.join("pg_dump"))
        .arg(format!("--format={format}"))
        .arg(format!("--file={}", out.display()))
        .arg(format!("--dbname={url}"))
        .status()
        .expect("run pg_dump");
    assert!(status.success(), "pg_dump failed");
}

pub(crate) fn dump(url: &str, out: &Path) {
    dump_with(
        bin("pg_dump").parent().expect("bin dir"),
        url,
        out,
        "custom",
    );
}

pub(crate) fn with_target(url: &str) -> Options {
    Options {
        env: vec![],
        target: Some(url.to_string()),
    }
}

impl TestApp {
    pub(crate) async fn upload(&self, name: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.client
            .post(self.url(&format!(
                "/api/v1/uploads?filename={}",
                urlencoding::encode(name)
            )))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .expect("upload")
    }

    pub(crate) async fn uploaded(&self, name: &str, bytes: Vec<u8>) -> Upload {
        let r = self.upload(name, bytes).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        r.json().await.expect("upload json")
    }

    pub(crate) async fn restore(&self, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/restores"))
            .json(&body)
            .send()
            .await
            .expect("restore")
    }

    pub(crate) async fn restored(
        &self,
        body: serde_json::Value,
    ) -> (StartedRestore, Vec<app::api::Job>) {
        let r = self.restore(body).await;
        assert_eq!(r.status(), 202, "{:?}", r.text().await);
        let s: StartedRestore = r.json().await.expect("started");
        let events = self.follow(s.job_id).await;
        (s, events)
    }

    pub(crate) async fn restore_row(&self, id: i64) -> Restore {
        self.client
            .get(self.url(&format!("/api/v1/restores/{id}")))
            .send()
            .await
            .expect("restore row")
            .json()
            .await
            .expect("restore json")
    }

    fn upload_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.data_dir.path().join("uploads"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

pub(crate) async fn refusal(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 422, "refused with 422");
    let e: ApiError = r.json().await.expect("error json");
    e.message
}

#[tokio::test]
async fn an_archive_smaller_than_the_first_bytes_checked_is_received() {
    // A few rows: the whole archive is shorter than the 4 kB an upload checks first, so
    // the body has ended before the rest is read (the upload task panicked on it).
    let url = create_database("lb_up_tiny").await;
    sql(
        &url,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3);",
    )
    .await;
    let app = TestApp::signed_in(with_target(&url)).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("tiny.dump");
    dump(&url, &file);
    let bytes = std::fs::read(&file).expect("read");
    assert!(bytes.len() < 4096, "{} bytes", bytes.len());
    let up = app.uploaded("tiny.dump", bytes.clone()).await;
    assert_eq!(up.size_bytes, bytes.len() as i64);
}

#[tokio::test]
async fn uploads_that_cannot_be_restored_are_refused_with_the_reason() {
    let url = sample_database("lb_up_refused", 20_000).await;
    let app = TestApp::signed_in(with_target(&url)).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let good = tmp.path().join("good.dump");
    dump(&url, &good);
    let bytes = std::fs::read(&good).expect("read dump");

    // A plain SQL dump.
    let sql = tmp.path().join("shop.sql");
    dump_with(bin("pg_dump").parent().expect("dir"), &url, &sql, "plain");
    let m = refusal(
        app.upload("shop.sql", std::fs::read(&sql).expect("sql"))
            .await,
    )
    .await;
    assert!(m.contains(".sql text files are not accepted"), "{m}");
    assert!(m.contains("pg_dump -Fc"), "{m}");

    // A zip renamed .dump.
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.extend(std::iter::repeat_n(7u8, 5000));
    let m = refusal(app.upload("backup.dump", zip).await).await;
    assert!(m.contains("zip archive"), "{m}");

    // Random bytes.
    let random: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    let m = refusal(app.upload("random.dump", random).await).await;
    assert!(m.contains("does not start with PGDMP"), "{m}");

    // A tar-format archive.
    let tar = tmp.path().join("shop.tar");
    dump_with(bin("pg_dump").parent().expect("dir"), &url, &tar, "tar");
    let m = refusal(
        app.upload("shop.dump", std::fs::read(&tar).expect("tar"))
            .await,
    )
    .await;
    assert!(
        m.contains("tar archive") && m.contains("only custom-format dumps"),
        "{m}"
    );

    // Truncated: its table of contents is intact, its data is not.
    let m = refusal(
        app.upload("cut.dump", bytes[..bytes.len() * 2 / 3].to_vec())
            .await,
    )
    .await;
    assert!(m.contains("damaged or truncated"), "{m}");

    // Flipped bytes in the compressed data.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let m = refusal(app.upload("flipped.dump", flipped).await).await;
    assert!(m.contains("damaged or truncated"), "{m}");

    // Every refusal is journaled and audited, and leaves no file.
    let audits = app.audit_with(audit_action::UPLOAD).await;
    assert_eq!(audits.len(), 6, "{audits:?}");
    assert!(audits.iter().all(|a| a.outcome == outcome::FAILURE));
    assert!(app.upload_files().is_empty(), "{:?}", app.upload_files());
}

#[tokio::test]
async fn a_dump_from_a_newer_postgresql_is_refused_saying_what_made_it() {
    let pg18 = PathBuf::from(std::env::var("LIFEBOAT_TEST_PG18_BIN_DIR").expect(
        "LIFEBOAT_TEST_PG18_BIN_DIR: PostgreSQL 18 client tools (scripts/bootstrap.sh --test installs them)",
    ));
    let url = sample_database("lb_up_newer", 1_000).await;
    let app = TestApp::signed_in(with_target(&url)).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let newer = tmp.path().join("newer.dump");
    dump_with(&pg18, &url, &newer, "custom");
    let m = refusal(
        app.upload("newer.dump", std::fs::read(&newer).expect("read"))
            .await,
    )
    .await;
    assert!(
        m.contains("pg_dump 18"),
        "names the pg_dump that made it: {m}"
    );
    assert!(m.contains("PostgreSQL 17 client tools or newer"), "{m}");
    assert!(app.upload_files().is_empty());
}

#[tokio::test]
async fn an_upload_cut_off_mid_way_leaves_no_file() {
    let url = sample_database("lb_up_cut", 20_000).await;
    let app = TestApp::signed_in(with_target(&url)).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let good = tmp.path().join("good.dump");
    dump(&url, &good);
    let bytes = std::fs::read(&good).expect("read dump");
    let half = bytes[..bytes.len() / 2].to_vec();
    // The body stream fails after half the file: the client drops the connection.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(half), Err(std::io::Error::other("the client went away"))];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = app
        .client
        .post(app.url("/api/v1/uploads?filename=cut.dump"))
        .header("content-length", bytes.len().to_string())
        .body(body)
        .send()
        .await;
    assert!(r.is_err() || r.is_ok_and(|r| !r.status().is_success()));
    // The server notices, journals it as cancelled and removes the file.
    let mut audits = vec![];
    for _ in 0..100 {
        audits = app.audit_with(audit_action::UPLOAD).await;
        if !audits.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0].details["status"], "cancelled");
    assert!(app.upload_files().is_empty(), "{:?}", app.upload_files());
}

#[tokio::test]
async fn restore_replaces_the_database_after_a_safety_backup_and_rolls_back() {
    let source = sample_database("lb_rs_source", 30_000).await;
    sql(&source, "UPDATE marker SET v = 'from-the-dump'").await;
    let target = sample_database("lb_rs_target", 5_000).await;
    sql(
        &target,
        "UPDATE marker SET v = 'before-the-restore'; CREATE TABLE extra_in_target (x int); INSERT INTO customers VALUES (5000001, 'only in target');",
    )
    .await;
    let before = table_checksums(&target).await;
    let app = TestApp::signed_in(with_target(&target)).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("source.dump");
    dump(&source, &file);
    let bytes = std::fs::read(&file).expect("read");

    let up = app.uploaded("source.dump", bytes.clone()).await;
    assert_eq!(up.database.as_deref(), Some("lb_rs_target"));
    assert_eq!(up.size_bytes as usize, bytes.len());
    assert_eq!(up.sha256, sha256_file(&file));
    let s = &up.summary;
    assert_eq!(s.source_database.as_deref(), Some("lb_rs_source"));
    assert!(s.compatible, "{:?}", s.compatibility);
    assert_eq!(s.tables, 3);
    for t in ["public.customers", "public.orders", "public.marker"] {
        assert!(
            s.table_names.iter().any(|n| n == t),
            "{t} in {:?}",
            s.table_names
        );
    }
    assert!(s.other >= 6, "constraints, data, sequences: {s:?}");
    assert_eq!(s.compression.as_deref(), Some("gzip"));
    assert!(s.server_version.is_some() && s.pg_dump_version.is_some());

    // The wrong name is refused and changes nothing.
    let wrong = app
        .restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_rs_targe" }))
        .await;
    let m = refusal(wrong).await;
    assert!(m.contains("lb_rs_target"), "{m}");
    assert_eq!(table_checksums(&target).await, before);

    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_rs_target" }))
        .await;
    let phases: Vec<&str> = events.iter().map(|j| j.phase.as_str()).collect();
    let first = |p: &str| phases.iter().position(|x| *x == p);
    let (safety, restore, analyze) = (
        first(phase::SAFETY_BACKUP).expect("safety backup phase"),
        first(phase::RESTORE).expect("restore phase"),
        first(phase::ANALYZE).expect("analyze phase"),
    );
    assert!(safety < restore && restore < analyze, "{phases:?}");
    assert!(
        events.iter().any(|j| j.phase == phase::RESTORE
            && j.current_item
                .as_deref()
                .is_some_and(|c| c.contains("orders"))),
        "the object being restored is shown"
    );
    let percents: Vec<f64> = events.iter().map(|j| j.percent).collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);

    // The database now holds the dump's contents (objects only in the target and not in
    // the dump are kept: pg_restore --clean drops what it restores).
    let mut after = table_checksums(&target).await;
    after.retain(|(t, _)| t != "extra_in_target");
    assert_eq!(after, table_checksums(&source).await);

    // The safety backup: kind safety, pinned, verified, in the history.
    let r = app.restore_row(started.restore_id).await;
    assert_eq!(r.status, job_status::SUCCEEDED);
    assert_eq!(r.sha256.as_deref(), Some(up.sha256.as_str()));
    let safety_id = r.safety_backup_id.expect("safety backup id");
    assert_eq!(done.backup_id, Some(safety_id));
    let d = app.backup_detail(safety_id).await;
    assert_eq!(d.backup.kind, backup_kind::SAFETY);
    assert!(d.backup.pinned);
    assert_eq!(d.backup.status, job_status::SUCCEEDED);

    // Audited: who, which file and checksum, over which database, the safety backup.
    let audit = app.audit_with(audit_action::RESTORE).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, outcome::SUCCESS);
    assert_eq!(audit[0].actor.as_deref(), Some("admin"));
    assert_eq!(audit[0].target.as_deref(), Some("lb_rs_target"));
    assert_eq!(audit[0].details["file"], "source.dump");
    assert_eq!(audit[0].details["sha256"], up.sha256.as_str());
    assert_eq!(audit[0].details["safety_backup_id"], safety_id);

    // The upload is spent.
    let again = app
        .restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_rs_target" }))
        .await;
    assert_eq!(again.status(), 404);
    assert!(app.upload_files().is_empty());

    // Roll back: restore the safety backup through the same flow.
    let (_, events) = app
        .restored(serde_json::json!({ "backup_id": safety_id, "confirm": "lb_rs_target" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    assert_eq!(table_checksums(&target).await, before);
}

#[tokio::test]
async fn a_restore_failing_half_way_leaves_the_database_as_it_was() {
    // The dump has a table owned by a role that no longer exists when it is restored:
    // pg_restore fails at that statement, after it already dropped and created objects.
    // In place, explicitly: the transaction is what undoes it (the swap's own failure
    // test is in swap.rs).
    let source = sample_database("lb_rs_half_src", 10_000).await;
    sql(
        &pg_url(),
        "DROP ROLE IF EXISTS lb_ghost; CREATE ROLE lb_ghost;",
    )
    .await;
    sql(
        &source,
        "CREATE TABLE zz_owned (x int); INSERT INTO zz_owned VALUES (1); ALTER TABLE zz_owned OWNER TO lb_ghost;",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("half.dump");
    dump(&source, &file);
    sql(&source, "DROP TABLE zz_owned").await;
    sql(&pg_url(), "DROP ROLE lb_ghost").await;

    let target = sample_database("lb_rs_half_dst", 5_000).await;
    sql(&target, "UPDATE marker SET v = 'untouched'").await;
    let before = table_checksums(&target).await;
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("half.dump", std::fs::read(&file).expect("read"))
        .await;
    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_rs_half_dst", "strategy": "in_place" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::FAILED);
    let msg = done.message.clone().unwrap_or_default();
    assert!(msg.contains("lb_ghost"), "{msg}");
    assert!(msg.contains("rolled back"), "{msg}");
    let r = app.restore_row(started.restore_id).await;
    assert!(
        r.tool_output
            .unwrap_or_default()
            .contains("role \"lb_ghost\" does not exist"),
        "pg_restore's exact messages are kept"
    );
    assert_eq!(table_checksums(&target).await, before, "nothing changed");
    let audit = app.audit_with(audit_action::RESTORE).await;
    assert_eq!(audit[0].outcome, outcome::FAILURE);
    // The safety backup was still taken and kept.
    assert!(r.safety_backup_id.is_some());
}

#[tokio::test]
async fn a_failed_safety_backup_means_nothing_is_restored() {
    let source = sample_database("lb_rs_safety_src", 2_000).await;
    let target = sample_database("lb_rs_safety_dst", 2_000).await;
    sql(&target, "UPDATE marker SET v = 'keep me'").await;
    let before = table_checksums(&target).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("s.dump");
    dump(&source, &file);
    let broken = fake_pg_dump("echo 'pg_dump: error: connection to server lost' >&2; exit 1");
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_PG_BIN_DIR", broken.path().display().to_string())],
        target: Some(target.clone()),
    })
    .await;
    let up = app
        .uploaded("s.dump", std::fs::read(&file).expect("read"))
        .await;
    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_rs_safety_dst" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::FAILED);
    let msg = done.message.clone().unwrap_or_default();
    assert!(
        msg.contains("the safety backup failed, so nothing was restored"),
        "{msg}"
    );
    assert!(msg.contains("connection to server lost"), "{msg}");
    assert!(
        !events.iter().any(|j| j.phase == phase::RESTORE),
        "pg_restore never ran"
    );
    assert_eq!(table_checksums(&target).await, before);
    let r = app.restore_row(started.restore_id).await;
    let safety = app
        .backup_detail(r.safety_backup_id.expect("safety row"))
        .await;
    assert_eq!(safety.backup.status, job_status::FAILED);
    assert!(app
        .backup_files()
        .iter()
        .all(|f| !f.to_string_lossy().ends_with(".tmp")));
}

#[tokio::test]
async fn a_backup_whose_file_changed_is_not_restored() {
    let target = sample_database("lb_rs_changed", 2_000).await;
    let app = TestApp::signed_in(with_target(&target)).await;
    let r = app.start_backup().await;
    assert_eq!(r.status(), 202);
    let s: app::api::StartedJob = r.json().await.expect("started");
    let job = app.wait(s.job_id).await;
    assert_eq!(job.status, job_status::SUCCEEDED);
    let id = job.backup_id.expect("backup");
    let path = app.data_dir.path().join(job.location.expect("location"));
    let mut bytes = std::fs::read(&path).expect("read");
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&path, bytes).expect("write");
    sql(&target, "UPDATE marker SET v = 'current'").await;
    let before = table_checksums(&target).await;

    let (_, events) = app
        .restored(serde_json::json!({ "backup_id": id, "confirm": "lb_rs_changed" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::FAILED);
    let msg = done.message.clone().unwrap_or_default();
    assert!(msg.contains("has changed since it was recorded"), "{msg}");
    assert!(done.backup_id.is_none(), "no safety backup was needed");
    assert_eq!(table_checksums(&target).await, before);
}

#[tokio::test]
async fn restore_requests_are_checked() {
    let target = sample_database("lb_rs_checks", 100).await;
    let app = TestApp::signed_in(with_target(&target)).await;
    let neither = app
        .restore(serde_json::json!({ "confirm": "lb_rs_checks" }))
        .await;
    assert!(refusal(neither).await.contains("upload_id or backup_id"));
    let unknown = app
        .restore(serde_json::json!({ "upload_id": "nope", "confirm": "lb_rs_checks" }))
        .await;
    assert_eq!(unknown.status(), 404);
    let anonymous = reqwest::Client::new()
        .post(app.url("/api/v1/uploads?filename=x.dump"))
        .header("x-requested-with", "lifeboat")
        .body(b"PGDMP".to_vec())
        .send()
        .await
        .expect("anonymous");
    assert_eq!(anonymous.status(), 401);
    let limited = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_UPLOAD_MAX_SIZE", "1KB".into())],
        target: Some(target),
    })
    .await;
    let big = limited.upload("big.dump", vec![b'P'; 5000]).await;
    assert_eq!(big.status(), 413);
    assert!(limited.upload_files().is_empty());
}

fn lifeboat() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            c.env_remove(k);
        }
    }
    c
}

#[tokio::test]
async fn the_cli_restores_a_file_and_a_backup_with_confirmation() {
    let source = sample_database("lb_cli_rs_src", 3_000).await;
    sql(&source, "UPDATE marker SET v = 'cli-dump'").await;
    let target = sample_database("lb_cli_rs_dst", 1_000).await;
    let before = table_checksums(&target).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("cli.dump");
    dump(&source, &file);
    let data = tempfile::tempdir().expect("data");
    let run = |args: &[&str]| {
        let mut c = lifeboat();
        c.args(args)
            .env("LIFEBOAT_DATA_DIR", data.path())
            .env("LIFEBOAT_TARGET_URL", &target)
            .env("LIFEBOAT_PG_BIN_DIR", pg_bin_dir().expect("bin"))
            .stdin(std::process::Stdio::null());
        c.output().expect("run lifeboat")
    };

    // Without --yes and without a terminal to type the name in: refused.
    let out = run(&["restore", file.to_str().expect("path")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(table_checksums(&target).await, before);

    let out = run(&["restore", file.to_str().expect("path"), "--yes", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["job"]["status"], "succeeded");
    assert_eq!(
        table_checksums(&target).await,
        table_checksums(&source).await
    );
    let safety = v["restore"]["safety_backup_id"]
        .as_i64()
        .expect("safety id");

    // A swap is rolled back from the terminal in seconds, then restored again.
    assert_eq!(v["restore"]["strategy"], "swap");
    let restore_id = v["restore"]["id"].as_i64().expect("restore id");
    let out = run(&["rollback", &restore_id.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(table_checksums(&target).await, before);
    let out = run(&["rollback", &restore_id.to_string()]);
    assert!(!out.status.success(), "a second roll back is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already rolled back"));

    // Roll back from the terminal.
    let out = run(&["restore", "--backup", &safety.to_string(), "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(table_checksums(&target).await, before);
}

#[tokio::test]
async fn a_backup_being_restored_cannot_be_deleted_until_the_restore_ends() {
    let url = sample_database("lb_del_reading", 500).await;
    // Every pg_dump takes 3 s more: the restore (its safety backup first) runs a while.
    let slow = fake_pg_dump("sleep 3\nexec \"$REAL\" \"$@\"");
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string())],
        target: Some(url),
    })
    .await;
    let mut ids = vec![];
    for _ in 0..2 {
        let s: app::api::StartedJob = app.start_backup().await.json().await.expect("started");
        let job = app.wait(s.job_id).await;
        assert_eq!(job.status, job_status::SUCCEEDED);
        ids.push(job.backup_id.expect("id"));
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let older = ids[0];
    let r = app
        .restore(serde_json::json!({ "backup_id": older, "confirm": "lb_del_reading" }))
        .await;
    assert_eq!(r.status(), 202);
    let restore: StartedRestore = r.json().await.expect("started");
    let delete = || {
        app.client
            .delete(app.url(&format!("/api/v1/backups/{older}")))
            .send()
    };
    let refused = delete().await.expect("delete");
    assert_eq!(refused.status(), 409);
    let e: ApiError = refused.json().await.expect("error");
    assert!(e.message.contains("being read"), "{}", e.message);
    let done = app.wait(restore.job_id).await;
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    assert!(delete().await.expect("delete").status().is_success());
}

#[tokio::test]
async fn an_upload_being_restored_from_does_not_expire_until_the_restore_ends() {
    let url = sample_database("lb_upload_expiry", 500).await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("shop.dump");
    dump(&url, &file);
    // Every pg_dump takes 3 s more: the restore (its safety backup first) outlives the
    // upload's 3 s lifetime.
    let slow = fake_pg_dump("sleep 3\nexec \"$REAL\" \"$@\"");
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string()),
            ("LIFEBOAT_UPLOAD_TTL", "3s".into()),
        ],
        target: Some(url),
    })
    .await;
    let up = app
        .uploaded("shop.dump", std::fs::read(&file).expect("read"))
        .await;
    let r = app
        .restore(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_upload_expiry" }))
        .await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let restore: StartedRestore = r.json().await.expect("started");
    // Past its expiry, while the restore still runs: the sweep leaves it.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let running = app.job(restore.job_id).await;
    assert_eq!(running.status, job_status::RUNNING, "{:?}", running.message);
    let swept = server::engine::upload::sweep(&app.server.state.engine, false)
        .await
        .expect("sweep");
    assert_eq!(swept, 0, "an upload being restored from was swept");
    let done = app.wait(restore.job_id).await;
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
}
