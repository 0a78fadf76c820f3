//! The proof of a restore: the row counts learnt while an archive was decoded in full (a
//! backup's decode-while-writing pass, an upload's validation) are kept with it (journal
//! and sidecar) and a restore is proven against them without decoding again. A fault
//! injector that alters the kept counts shows a mismatch stops a swap restore before the
//! swap (live untouched, nothing left behind) and fails a test restore.

use crate::restores::{dump, with_target};
use crate::support::*;
use crate::swap::databases_like;
use app::api::{job_status, phase, StartedJob};

/// The kept counts of backup `id`, as the journal holds them.
async fn kept_counts(app: &TestApp, id: i64) -> serde_json::Value {
    let text: Option<String> = sqlx::query_scalar("SELECT row_counts FROM backups WHERE id = ?")
        .bind(id)
        .fetch_one(app.server.state.engine.db())
        .await
        .expect("row_counts");
    serde_json::from_str(&text.expect("counts kept")).expect("json")
}

fn rows_of(counts: &serde_json::Value, table: &str) -> Option<i64> {
    counts
        .as_array()?
        .iter()
        .find(|e| e["table"] == table && e["schema"] == "public")?["rows"]
        .as_i64()
}

#[tokio::test]
async fn a_restore_is_proven_against_the_counts_learnt_when_its_archive_was_decoded() {
    let url = sample_database("lb_proof", 4_000).await;
    sql(&url, "UPDATE marker SET v = 'live'").await;
    let app = TestApp::signed_in(with_target(&url)).await;
    let r = app.start_backup().await;
    assert_eq!(r.status(), 202);
    let s: StartedJob = r.json().await.expect("started");
    assert_eq!(app.wait(s.job_id).await.status, job_status::SUCCEEDED);
    let id = s.backup_id.expect("backup id");

    // Kept in the journal and in the sidecar.
    let counts = kept_counts(&app, id).await;
    assert_eq!(rows_of(&counts, "orders"), Some(4_000));
    assert_eq!(rows_of(&counts, "customers"), Some(1_000));
    assert_eq!(rows_of(&counts, "marker"), Some(1));
    let sidecar: serde_json::Value = app
        .client
        .get(app.url(&format!("/api/v1/backups/{id}/metadata")))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("sidecar");
    assert_eq!(sidecar["rows"], counts);

    // A restore of it does not decode the archive again to count.
    let (_, events) = app
        .restored(serde_json::json!({ "backup_id": id, "confirm": "lb_proof" }))
        .await;
    assert_eq!(events.last().expect("last").status, job_status::SUCCEEDED);
    assert!(
        !events.iter().any(|j| j
            .current_item
            .as_deref()
            .is_some_and(|i| i.contains("counting the archive's rows"))),
        "counted again"
    );

    // Fault injector: the kept count of orders is one short.
    let altered = counts.to_string().replace("\"rows\":4000", "\"rows\":3999");
    assert_ne!(altered, counts.to_string());
    sqlx::query("UPDATE backups SET row_counts = ? WHERE id = ?")
        .bind(&altered)
        .bind(id)
        .execute(app.server.state.engine.db())
        .await
        .expect("alter");
    sql(&url, "UPDATE marker SET v = 'written after the restore'").await;
    let before = table_checksums(&url).await;
    let (started, events) = app
        .restored(serde_json::json!({ "backup_id": id, "confirm": "lb_proof" }))
        .await;
    let done = events.last().expect("last");
    assert_eq!(done.status, job_status::FAILED);
    let m = done.message.clone().unwrap_or_default();
    assert!(
        m.contains("public.orders has 4000 rows, the archive 3999") && m.contains("was dropped"),
        "{m}"
    );
    assert!(!events
        .iter()
        .any(|j| j.phase == phase::DONE && j.status == job_status::SUCCEEDED));
    assert_eq!(table_checksums(&url).await, before, "live untouched");
    assert!(
        databases_like("lb_proof__lifeboat_restore_%")
            .await
            .is_empty(),
        "no stray database"
    );
    let r = app.restore_row(started.restore_id).await;
    assert_eq!(r.kept_database, None);
    assert!(r.proof.iter().any(|p| p.table == "public.orders"
        && p.archive_rows == 3_999
        && p.restored_rows == Some(4_000)));

    // A test restore of it fails the same way.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/backups/{id}/test-restore")))
        .send()
        .await
        .expect("test restore");
    assert_eq!(r.status(), 202);
    let t: app::api::StartedTestRestore = r.json().await.expect("started");
    assert_eq!(app.wait(t.job_id).await.status, job_status::FAILED);
}

#[tokio::test]
async fn an_upload_keeps_the_counts_its_validation_learnt() {
    let source = sample_database("lb_proof_up_src", 2_500).await;
    let target = sample_database("lb_proof_up_dst", 10).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("src.dump");
    dump(&source, &file);
    let app = TestApp::signed_in(with_target(&target)).await;
    let up = app
        .uploaded("src.dump", std::fs::read(&file).expect("read"))
        .await;
    let text: Option<String> = sqlx::query_scalar("SELECT row_counts FROM uploads WHERE id = ?")
        .bind(&up.upload_id)
        .fetch_one(app.server.state.engine.db())
        .await
        .expect("row_counts");
    let counts: serde_json::Value = serde_json::from_str(&text.expect("counted")).expect("json");
    assert_eq!(rows_of(&counts, "orders"), Some(2_500));
    let (started, events) = app
        .restored(serde_json::json!({ "upload_id": up.upload_id, "confirm": "lb_proof_up_dst" }))
        .await;
    assert_eq!(events.last().expect("last").status, job_status::SUCCEEDED);
    let r = app.restore_row(started.restore_id).await;
    assert!(r
        .proof
        .iter()
        .any(|p| p.table == "public.orders" && p.restored_rows == Some(2_500)));
}

/// Tables whose COPY text is awkward to count: escaped newlines, tabs, carriage returns
/// and backslashes, a value that is `\.` alone, empty strings and NULLs, quoted names with
/// dots and spaces, an empty table, a wide jsonb table, and a large object.
const AWKWARD: &str = r#"
CREATE SCHEMA "odd.schema";
CREATE TABLE "odd.schema"."a ""quoted"" table" (id int, t text, b bytea);
INSERT INTO "odd.schema"."a ""quoted"" table"
  SELECT g, E'line\nnext\ttab\\back\r' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 2500) g;
INSERT INTO "odd.schema"."a ""quoted"" table" VALUES (0, E'\\.', NULL), (-1, '', ''), (-2, NULL, NULL);
CREATE TABLE empty (x int);
CREATE TABLE wide (id int, j jsonb);
INSERT INTO wide SELECT g, jsonb_build_object('k', g, 'v', repeat('x', g % 300)) FROM generate_series(1, 40000) g;
SELECT lo_from_bytea(0, decode(repeat('ab', 50000), 'hex'));
"#;

#[tokio::test]
async fn the_counts_learnt_while_a_backup_is_written_are_pg_restores_for_each_client_and_compression(
) {
    let url = create_database("lb_proof_awkward").await;
    sql(&url, AWKWARD).await;
    let expected = serde_json::json!([
        { "schema": "odd.schema", "table": "a \"quoted\" table", "rows": 2503 },
        { "schema": "public", "table": "empty", "rows": 0 },
        { "schema": "public", "table": "wide", "rows": 40000 },
    ]);
    let pg15 = pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR");
    let pg18 = std::env::var("LIFEBOAT_TEST_PG18_BIN_DIR").expect(
        "LIFEBOAT_TEST_PG18_BIN_DIR: PostgreSQL 18 client tools (scripts/bootstrap.sh installs them)",
    );
    for dir in [pg15, pg18] {
        // gzip is decoded in-process while the file is written; so is no compression.
        for compression in ["gzip:1", "none"] {
            let app = TestApp::signed_in(Options {
                env: vec![
                    ("LIFEBOAT_PG_BIN_DIR", dir.clone()),
                    ("LIFEBOAT_COMPRESSION", compression.to_string()),
                ],
                target: Some(url.clone()),
            })
            .await;
            let r = app.start_backup().await;
            assert_eq!(r.status(), 202);
            let s: StartedJob = r.json().await.expect("started");
            let job = app.wait(s.job_id).await;
            assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
            let id = s.backup_id.expect("backup id");
            let kept = kept_counts(&app, id).await;
            assert_eq!(kept, expected, "{dir} {compression}");

            // pg_restore decoding the stored file counts the same.
            let d = app.backup_detail(id).await;
            let file = app
                .data_dir
                .path()
                .join(d.backup.location.expect("location"));
            let (_, cancel) = tokio::sync::watch::channel(false);
            let counted = server::pgtools::rows::count_rows(
                &std::path::Path::new(&dir).join("pg_restore"),
                &file,
                cancel,
            )
            .await
            .expect("pg_restore counts");
            assert_eq!(
                server::pgtools::rows::to_json(&counted),
                kept,
                "{dir} {compression}"
            );
        }
    }
}

/// `pg_dump -Fc` of `url` (the test cluster's client) into memory.
fn dump_bytes(url: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("full.dump");
    let pg_dump =
        std::path::Path::new(&pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR")).join("pg_dump");
    let status = std::process::Command::new(pg_dump)
        .arg("-Fc")
        .arg(format!("--file={}", out.display()))
        .arg(url)
        .status()
        .expect("pg_dump");
    assert!(status.success());
    std::fs::read(out).expect("read dump")
}

#[tokio::test]
async fn both_decoders_follow_a_growing_file_alike_and_refuse_one_cut_short() {
    use server::pgtools::dump::decode_while_written;
    use std::io::Write;
    let url = sample_database("lb_proof_growing", 20_000).await;
    let bytes = dump_bytes(&url);
    let pg_restore = std::path::Path::new(&pg_bin_dir().expect("bin")).join("pg_restore");
    let dir = tempfile::tempdir().expect("tmp");
    // In-process, then pg_restore (the decoder for lz4, zstd and clients newer than 18).
    for in_process in [true, false] {
        for cut in [None, Some(bytes.len() / 2)] {
            let tmp = dir
                .path()
                .join(format!("growing-{in_process}-{cut:?}.dump"));
            let (written, rx) = tokio::sync::watch::channel(false);
            let decoding = tokio::spawn(decode_while_written(
                tmp.clone(),
                pg_restore.clone(),
                rx,
                in_process,
            ));
            // Written in pieces, as pg_dump does, with the reader waiting at the end.
            let whole = &bytes[..cut.unwrap_or(bytes.len())];
            let mut file = std::fs::File::create(&tmp).expect("create");
            for piece in whole.chunks(64 * 1024) {
                file.write_all(piece).expect("write");
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            drop(file);
            let _ = written.send(true);
            let result = decoding.await.expect("task");
            match cut {
                None => {
                    let (read, rows) = result.expect("decoded");
                    assert_eq!(read, bytes.len() as u64, "in-process {in_process}");
                    let rows = server::pgtools::rows::to_json(&rows);
                    assert_eq!(
                        rows_of(&rows, "orders"),
                        Some(20_000),
                        "in-process {in_process}"
                    );
                    assert_eq!(rows_of(&rows, "customers"), Some(1_000));
                    assert_eq!(rows_of(&rows, "marker"), Some(1));
                }
                Some(at) => {
                    let e = result.expect_err("a file cut short is refused");
                    assert!(!e.is_empty(), "in-process {in_process}, cut at {at}");
                }
            }
        }
    }
}
