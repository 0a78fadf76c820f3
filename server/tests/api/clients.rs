//! The client versions Lifeboat picks per operation (the newest pg_dump; a pg_restore that
//! reads the archive and suits the server, through psql when the server rejects what it
//! sends first) and LIFEBOAT_COMPRESSION: each backup made, recorded, and restored with
//! the real PostgreSQL 15 cluster and the real PostgreSQL 15 and 18 client tools.

use crate::restores::refusal;
use crate::support::*;
use app::api::{job_status, StartedJob};
use std::path::PathBuf;

/// The PostgreSQL 18 client tools scripts/bootstrap.sh installs.
fn pg18() -> String {
    std::env::var("LIFEBOAT_TEST_PG18_BIN_DIR").expect(
        "LIFEBOAT_TEST_PG18_BIN_DIR: PostgreSQL 18 client tools (scripts/bootstrap.sh installs them)",
    )
}

/// Both versions, as `make run` lists them: the server's own first, then 18.
fn both_versions() -> String {
    format!(
        "{}:{}",
        pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR"),
        pg18()
    )
}

fn options(url: &str, env: Vec<(&'static str, String)>) -> Options {
    Options {
        env,
        target: Some(url.to_string()),
    }
}

/// Backs up, checks the backup succeeded, returns its id.
async fn backed_up(app: &TestApp) -> i64 {
    let r = app.start_backup().await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let s: StartedJob = r.json().await.expect("started");
    let job = app.wait(s.job_id).await;
    assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
    s.backup_id.expect("backup id")
}

/// Restores backup `id` over `database` and checks the job succeeded.
async fn restore_backup(app: &TestApp, id: i64, database: &str) {
    let (_, events) = app
        .restored(serde_json::json!({ "backup_id": id, "confirm": database }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
}

async fn sidecar(app: &TestApp, id: i64) -> serde_json::Value {
    app.client
        .get(app.url(&format!("/api/v1/backups/{id}/metadata")))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("sidecar")
}

/// The compression byte of a format-1.14 archive's header (`PGDMP`, 3 version bytes, int
/// size, offset size, format, then the level as a sign byte and `int size` bytes).
fn gzip_level_in_header(file: &std::path::Path) -> i64 {
    let b = std::fs::read(file).expect("read archive");
    assert_eq!(&b[..5], b"PGDMP");
    let int_size = b[8] as usize;
    let mut v: i64 = 0;
    for i in 0..int_size {
        v |= (b[12 + i] as i64) << (8 * i);
    }
    if b[11] != 0 {
        -v
    } else {
        v
    }
}

#[tokio::test]
async fn backups_without_compression_and_with_gzip_1_are_recorded_and_restore() {
    for (setting, level, db) in [("none", 0, "lb_comp_none"), ("gzip:1", 1, "lb_comp_gzip1")] {
        let url = sample_database(db, 3_000).await;
        let before = table_checksums(&url).await;
        let app = TestApp::signed_in(options(
            &url,
            vec![("LIFEBOAT_COMPRESSION", setting.to_string())],
        ))
        .await;
        let id = backed_up(&app).await;

        // Recorded: the backups API, the detail, the sidecar; and written so in the file.
        let d = app.backup_detail(id).await;
        assert_eq!(d.backup.compression.as_deref(), Some(setting));
        let client = d.backup.client.clone().unwrap_or_default();
        assert!(
            client.starts_with("pg_dump 15.") && client.contains("server is 15."),
            "{client}"
        );
        let page: app::api::BackupPage = app
            .client
            .get(app.url("/api/v1/backups"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("list json");
        assert_eq!(page.items[0].compression.as_deref(), Some(setting));
        let side = sidecar(&app, id).await;
        assert_eq!(side["compression"], setting);
        assert_eq!(side["client"], client.as_str());
        let file = app
            .data_dir
            .path()
            .join(d.backup.location.expect("location"));
        assert_eq!(gzip_level_in_header(&file), level, "{setting}");

        // The Settings page says how backups are compressed.
        let s: app::api::SettingsInfo = app
            .client
            .get(app.url("/api/v1/settings"))
            .send()
            .await
            .expect("settings")
            .json()
            .await
            .expect("settings json");
        assert_eq!(s.compression, setting);
        assert!(
            s.compression_note.contains("LIFEBOAT_COMPRESSION"),
            "{}",
            s.compression_note
        );

        // And it restores: changed data comes back as it was.
        sql(
            &url,
            "UPDATE marker SET v = 'changed'; DELETE FROM orders WHERE id > 10",
        )
        .await;
        assert_ne!(table_checksums(&url).await, before);
        restore_backup(&app, id, db).await;
        assert_eq!(table_checksums(&url).await, before, "{setting}");
    }
}

#[tokio::test]
async fn a_pg_dump_18_backup_of_a_postgresql_15_database_restores_into_it() {
    let url = sample_database("lb_pg18_into_15", 3_000).await;
    let before = table_checksums(&url).await;
    let app = TestApp::signed_in(options(
        &url,
        vec![("LIFEBOAT_PG_BIN_DIR", both_versions())],
    ))
    .await;

    // /readyz names the pg_dump used and why.
    let ready: app::api::ReadyReport = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("report");
    let dump_check = ready
        .checks
        .iter()
        .find(|c| c.name == "pg_dump")
        .expect("pg_dump check");
    assert!(dump_check.ok, "{}", dump_check.detail);
    assert!(
        dump_check.detail.contains("pg_dump 18.")
            && dump_check
                .detail
                .contains("newest client found, server is 15."),
        "{}",
        dump_check.detail
    );

    // The newest client made it: archive format 1.16, which pg_restore 15 cannot read.
    let id = backed_up(&app).await;
    let d = app.backup_detail(id).await;
    assert_eq!(d.archive_version.as_deref(), Some("1.16"));
    let client = d.backup.client.clone().unwrap_or_default();
    assert!(client.starts_with("pg_dump 18."), "{client}");
    assert!(
        client.contains("newest client found, server is 15."),
        "{client}"
    );

    // pg_restore 18 sends `SET transaction_timeout`, which PostgreSQL 15 rejects: the
    // restore still succeeds, in one transaction, and brings the data back.
    sql(
        &url,
        "UPDATE marker SET v = 'changed'; DELETE FROM orders WHERE id > 10",
    )
    .await;
    restore_backup(&app, id, "lb_pg18_into_15").await;
    assert_eq!(table_checksums(&url).await, before);

    // An uploaded pg_dump 18 archive is accepted (a pg_restore that reads it is there)
    // and restores into PostgreSQL 15 too.
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("pg18.dump");
    let status = std::process::Command::new(PathBuf::from(pg18()).join("pg_dump"))
        .arg("--format=custom")
        .arg(format!("--file={}", file.display()))
        .arg(format!("--dbname={url}"))
        .status()
        .expect("pg_dump 18");
    assert!(status.success());
    sql(&url, "UPDATE marker SET v = 'changed again'").await;
    let up = app
        .uploaded("pg18.dump", std::fs::read(&file).expect("read"))
        .await;
    assert_eq!(up.summary.archive_version, "1.16");
    let (_, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_pg18_into_15" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    assert_eq!(table_checksums(&url).await, before);

    // In place too (pg_restore --clean --single-transaction over the live database).
    sql(&url, "UPDATE marker SET v = 'changed in place'").await;
    let (_, events) = app
        .restored(serde_json::json!({ "backup_id": id, "confirm": "lb_pg18_into_15", "strategy": "in_place" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::SUCCEEDED, "{:?}", done.message);
    assert_eq!(table_checksums(&url).await, before);

    // A failure half-way through the script rolls the whole restore back: a table of the
    // archive that cannot be dropped stops psql at that statement.
    sql(
        &url,
        "UPDATE marker SET v = 'kept'; CREATE VIEW keeps_orders AS SELECT * FROM orders;",
    )
    .await;
    let kept = table_checksums(&url).await;
    let (_, events) = app
        .restored(serde_json::json!({ "backup_id": id, "confirm": "lb_pg18_into_15", "strategy": "in_place" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::FAILED, "{:?}", done.message);
    let why = done.message.clone().unwrap_or_default();
    assert!(why.contains("psql"), "psql's error is the reason: {why}");
    assert_eq!(table_checksums(&url).await, kept, "rolled back");
}

#[tokio::test]
async fn a_pg_dump_18_archive_is_refused_only_when_no_pg_restore_reads_it() {
    // With the PostgreSQL 15 tools alone the refusal says what to install (see
    // restores.rs); with 18 listed too the same file is accepted.
    let url = sample_database("lb_pg18_upload", 500).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("pg18.dump");
    let status = std::process::Command::new(PathBuf::from(pg18()).join("pg_dump"))
        .arg("--format=custom")
        .arg(format!("--file={}", file.display()))
        .arg(format!("--dbname={url}"))
        .status()
        .expect("pg_dump 18");
    assert!(status.success());
    let bytes = std::fs::read(&file).expect("read");
    let only15 = TestApp::signed_in(options(&url, vec![])).await;
    let m = refusal(only15.upload("pg18.dump", bytes.clone()).await).await;
    assert!(m.contains("PostgreSQL 17 client tools or newer"), "{m}");
    let both = TestApp::signed_in(options(
        &url,
        vec![("LIFEBOAT_PG_BIN_DIR", both_versions())],
    ))
    .await;
    let up = both.uploaded("pg18.dump", bytes).await;
    assert!(up.summary.compatible, "{:?}", up.summary.compatibility);
}

#[tokio::test]
async fn zstd_is_refused_at_start_up_naming_the_client_that_lacks_it() {
    // Neither the distribution's pg_dump 15 (gzip only) nor this PostgreSQL 18 build has
    // zstd: Lifeboat does not start, and says which client refused.
    for (bin, version) in [
        (
            pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR"),
            "pg_dump 15.",
        ),
        (pg18(), "pg_dump 18."),
    ] {
        let data = tempfile::tempdir().expect("tmp");
        let config = config_for(
            data.path(),
            &Options {
                env: vec![
                    ("LIFEBOAT_COMPRESSION", "zstd".into()),
                    ("LIFEBOAT_PG_BIN_DIR", bin.clone()),
                ],
                target: Some(pg_url()),
            },
        );
        let target = config.target_url.clone();
        let err = match server::startup::start(config, target).await {
            Ok(_) => panic!("started with zstd and {bin}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("LIFEBOAT_COMPRESSION=zstd"), "{err}");
        assert!(err.contains(version), "names the client: {err}");
        assert!(err.contains(&bin), "names its path: {err}");
        assert!(err.to_lowercase().contains("zstd"), "{err}");
    }
    // Without the setting the same clients start, with gzip at level 2.
    let app = spawn_app(options(&pg_url(), vec![("LIFEBOAT_PG_BIN_DIR", pg18())])).await;
    assert_eq!(
        app.server.state.engine.compression().0.to_string(),
        "gzip:2"
    );
}
