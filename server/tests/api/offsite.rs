//! Offsite copies against a real S3-compatible server on loopback (moto's server): copy
//! and verify, offsite retention, and a failed copy that leaves the local backup good.

use crate::support::*;
use app::api::{job_status, Backup, StartedJob};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) struct S3 {
    child: Child,
    pub(crate) endpoint: String,
}

impl S3 {
    pub(crate) async fn start() -> S3 {
        let pythonpath = std::env::var("LIFEBOAT_TEST_PYTHONPATH")
            .expect("LIFEBOAT_TEST_PYTHONPATH: moto (scripts/bootstrap.sh --test installs it)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("PYTHONPATH", pythonpath)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        // Up to a minute: moto (a Python server) takes seconds to import on a loaded machine.
        for _ in 0..600 {
            if client.get(&endpoint).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The bucket (moto accepts any credentials).
        let r = client
            .put(format!("{endpoint}/offsite-test"))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success());
        S3 { child, endpoint }
    }

    /// Reads an object with signed requests, as any S3 client would.
    pub(crate) async fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.client().read(key).await.ok()
    }

    /// A client of the bucket (no prefix).
    pub(crate) fn client(&self) -> server::storage::offsite::Offsite {
        server::storage::offsite::Offsite::new(server::storage::offsite::Settings {
            bucket: "offsite-test".into(),
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            prefix: String::new(),
            access_key_id: server::secret::Secret::new("test-key".into()),
            secret_access_key: server::secret::Secret::new("test-secret".into()),
            keep: 1,
            request_timeout: Duration::from_secs(30),
            min_bytes_per_second: 500_000,
        })
        .expect("client")
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn s3_env(endpoint: &str, keep: u32) -> Vec<(&'static str, String)> {
    vec![
        ("LIFEBOAT_S3_BUCKET", "offsite-test".into()),
        ("LIFEBOAT_S3_ENDPOINT", endpoint.into()),
        ("LIFEBOAT_S3_PREFIX", "nightly".into()),
        ("LIFEBOAT_S3_ACCESS_KEY_ID", "test-key".into()),
        ("LIFEBOAT_S3_SECRET_ACCESS_KEY", "test-secret".into()),
        ("LIFEBOAT_OFFSITE_KEEP", keep.to_string()),
    ]
}

impl TestApp {
    async fn backup_until_offsite(&self) -> Backup {
        let s: StartedJob = self.start_backup().await.json().await.expect("started");
        let job = self.wait(s.job_id).await;
        assert_eq!(job.status, job_status::SUCCEEDED);
        let id = job.backup_id.expect("id");
        for _ in 0..300 {
            let b = self.backup_detail(id).await.backup;
            if matches!(b.offsite_status.as_deref(), Some("copied") | Some("failed")) {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the offsite copy of backup {id} did not end within 30 s");
    }
}

#[tokio::test]
async fn backups_are_copied_offsite_verified_and_pruned() {
    let s3 = S3::start().await;
    // Big enough for several multipart parts.
    let url = sample_database("lb_offsite", 150_000).await;
    let app = TestApp::signed_in(Options {
        env: s3_env(&s3.endpoint, 2),
        target: Some(url),
    })
    .await;
    let mut made = vec![];
    for _ in 0..3 {
        let b = app.backup_until_offsite().await;
        assert_eq!(
            b.offsite_status.as_deref(),
            Some("copied"),
            "{:?}",
            b.offsite_message
        );
        made.push(b);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    // The newest two are offsite, byte for byte; the oldest was removed by offsite
    // retention, while the local file stays (local retention is separate).
    for b in &made[1..] {
        let key = format!("nightly/lb_offsite/{}", b.file_name.clone().expect("name"));
        let remote = s3.object(&key).await.expect("object offsite");
        let local = std::fs::read(app.data_dir.path().join(b.location.clone().expect("loc")))
            .expect("local");
        assert_eq!(remote.len(), local.len());
        assert!(remote == local, "the offsite copy is identical");
        let sidecar = s3
            .object(&format!("{key}.json"))
            .await
            .expect("sidecar offsite");
        let v: serde_json::Value = serde_json::from_slice(&sidecar).expect("json");
        assert_eq!(v["sha256"], b.sha256.clone().expect("sha").as_str());
    }
    let oldest = app.backup_detail(made[0].id).await.backup;
    assert_eq!(oldest.offsite_status.as_deref(), Some("deleted"));
    let key = format!(
        "nightly/lb_offsite/{}",
        made[0].file_name.clone().expect("name")
    );
    assert!(s3.object(&key).await.is_none(), "deleted offsite");
    assert!(app
        .data_dir
        .path()
        .join(made[0].location.clone().expect("loc"))
        .exists());
}

#[tokio::test]
async fn a_failed_offsite_copy_keeps_the_local_backup_good() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = sample_database("lb_offsite_down", 500).await;
    let app = TestApp::signed_in(Options {
        env: s3_env(&format!("http://127.0.0.1:{port}"), 7),
        target: Some(url),
    })
    .await;
    let b = app.backup_until_offsite().await;
    assert_eq!(b.status, job_status::SUCCEEDED, "the backup itself is fine");
    assert_eq!(b.offsite_status.as_deref(), Some("failed"));
    assert!(
        !b.offsite_message.clone().unwrap_or_default().is_empty(),
        "the reason is kept"
    );
    // The credentials never appear in what is shown.
    assert!(!b
        .offsite_message
        .unwrap_or_default()
        .contains("test-secret"));
}

#[tokio::test]
async fn verify_marks_a_damaged_backup_and_a_lost_offsite_copy() {
    let s3 = S3::start().await;
    let url = sample_database("lb_verify", 3_000).await;
    let env = s3_env(&s3.endpoint, 7);
    let app = TestApp::signed_in(Options {
        env: env.clone(),
        target: Some(url.clone()),
    })
    .await;
    let a = app.backup_until_offsite().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = app.backup_until_offsite().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let c = app.backup_until_offsite().await;
    // a: one flipped byte in the local file; b: its offsite copy is gone; c: intact.
    let path = app.data_dir.path().join(a.location.clone().expect("loc"));
    let mut bytes = std::fs::read(&path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&path, bytes).expect("write");
    let offsite = server::storage::offsite::Offsite::new(server::storage::offsite::Settings {
        bucket: "offsite-test".into(),
        endpoint: Some(s3.endpoint.clone()),
        region: "us-east-1".into(),
        prefix: String::new(),
        access_key_id: server::secret::Secret::new("k".into()),
        secret_access_key: server::secret::Secret::new("s".into()),
        keep: 1,
        request_timeout: Duration::from_secs(30),
        min_bytes_per_second: 500_000,
    })
    .expect("client");
    offsite
        .delete(&format!(
            "nightly/lb_verify/{}",
            b.file_name.clone().expect("name")
        ))
        .await
        .expect("delete");

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    cmd.args(["verify", "--all", "--json"])
        .env("LIFEBOAT_DATA_DIR", app.data_dir.path())
        .env("LIFEBOAT_TARGET_URL", &url)
        .env("LIFEBOAT_PG_BIN_DIR", pg_bin_dir().expect("bin"));
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("verify");
    assert!(
        !out.status.success(),
        "a corrupted backup fails the command"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let by_id = |id: i64| {
        v["results"]
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .expect("result")
    };
    assert_eq!(by_id(a.id)["ok"], false);
    assert_eq!(by_id(b.id)["ok"], false);
    assert_eq!(by_id(c.id)["ok"], true, "{}", by_id(c.id));
    assert_eq!(app.backup_detail(a.id).await.backup.status, "corrupted");
    let b_now = app.backup_detail(b.id).await.backup;
    assert_eq!(b_now.status, "succeeded", "the local file is fine");
    assert_eq!(b_now.offsite_status.as_deref(), Some("failed"));
    let audits = app.audit_with(app::api::audit_action::BACKUP_VERIFY).await;
    assert_eq!(audits.len(), 3);
    assert_eq!(v["failed"], 2);
}

impl TestApp {
    /// One scheduled slot, as the scheduler runs it, until its backup's offsite copy ended.
    async fn scheduled_until_offsite(&self) -> Backup {
        let settings = one_attempt_slot();
        let job = server::engine::scheduler::run_slot(&self.server.state.engine, &settings)
            .await
            .expect("a scheduled backup");
        assert_eq!(job.status, job_status::SUCCEEDED, "{:?}", job.message);
        self.offsite_state(job.backup_id.expect("id"), &["copied", "failed"])
            .await
    }

    /// The backup once its offsite state is one of `states` (within 30 s).
    async fn offsite_state(&self, id: i64, states: &[&str]) -> Backup {
        for _ in 0..300 {
            let b = self.backup_detail(id).await.backup;
            if states.contains(&b.offsite_status.as_deref().unwrap_or("")) {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the offsite copy of backup {id} did not become {states:?} within 30 s");
    }
}

#[tokio::test]
async fn offsite_retention_lets_only_the_schedule_push_copies_out() {
    let s3 = S3::start().await;
    let url = sample_database("lb_offsite_rules", 300).await;
    let app = TestApp::signed_in(Options {
        env: s3_env(&s3.endpoint, 1),
        target: Some(url),
    })
    .await;
    let object = |b: &Backup| {
        format!(
            "nightly/lb_offsite_rules/{}",
            b.file_name.clone().expect("name")
        )
    };
    let first = app.scheduled_until_offsite().await;
    assert_eq!(first.offsite_status.as_deref(), Some("copied"));
    // A burst of manual backups with "keep 1": the scheduled copy stays offsite.
    let mut manual = vec![];
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let b = app.backup_until_offsite().await;
        assert_eq!(b.offsite_status.as_deref(), Some("copied"));
        manual.push(b);
    }
    let r = app
        .client
        .post(app.url(&format!("/api/v1/backups/{}/pin", manual[0].id)))
        .json(&serde_json::json!({ "pinned": true }))
        .send()
        .await
        .expect("pin");
    assert!(r.status().is_success(), "{}", r.status());
    for b in std::iter::once(&first).chain(&manual) {
        let now = app.backup_detail(b.id).await.backup;
        assert_eq!(
            now.offsite_status.as_deref(),
            Some("copied"),
            "backup {} ({}) after a burst of manual backups: {:?}",
            b.id,
            b.kind,
            now.offsite_message
        );
        assert!(s3.object(&object(b)).await.is_some(), "{} offsite", b.id);
    }
    // The next scheduled copy pushes out the earlier one and the manual copies taken
    // since, except the pinned one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let next = app.scheduled_until_offsite().await;
    assert_eq!(next.offsite_status.as_deref(), Some("copied"));
    for b in [&first, &manual[1], &manual[2]] {
        let gone = app.offsite_state(b.id, &["deleted"]).await;
        assert!(
            gone.offsite_message
                .as_deref()
                .is_some_and(|m| m.contains("offsite retention")),
            "{:?}",
            gone.offsite_message
        );
        assert!(s3.object(&object(b)).await.is_none(), "{} deleted", b.id);
    }
    let pinned = app.backup_detail(manual[0].id).await.backup;
    assert_eq!(pinned.offsite_status.as_deref(), Some("copied"));
    assert!(s3.object(&object(&manual[0])).await.is_some());
}

#[tokio::test]
async fn a_damaged_local_file_never_replaces_its_offsite_copy() {
    let s3 = S3::start().await;
    let url = sample_database("lb_offsite_damaged", 2_000).await;
    let app = TestApp::signed_in(Options {
        env: s3_env(&s3.endpoint, 7),
        target: Some(url),
    })
    .await;
    let first = app.backup_until_offsite().await;
    assert_eq!(first.offsite_status.as_deref(), Some("copied"));
    let key = format!(
        "nightly/lb_offsite_damaged/{}",
        first.file_name.clone().expect("name")
    );
    let good = s3.object(&key).await.expect("offsite");
    // The local file is damaged (same size), and its copy is due again (fault injection:
    // as after an earlier copy that failed).
    let local = app
        .data_dir
        .path()
        .join(first.location.clone().expect("loc"));
    let mut bytes = std::fs::read(&local).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&local, &bytes).expect("damage");
    sqlx::query("UPDATE backups SET offsite_status = 'failed' WHERE id = ?")
        .bind(first.id)
        .execute(&app.server.state.db)
        .await
        .expect("due again");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The next backup's sync copies it again.
    let second = app.backup_until_offsite().await;
    assert_eq!(second.offsite_status.as_deref(), Some("copied"));
    let mut now = app.backup_detail(first.id).await.backup;
    for _ in 0..100 {
        if now.status == "corrupted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = app.backup_detail(first.id).await.backup;
    }
    assert_eq!(now.status, "corrupted", "{:?}", now.message);
    assert!(
        now.message.as_deref().unwrap_or("").contains("has changed"),
        "{:?}",
        now.message
    );
    let offsite = s3.object(&key).await.expect("still offsite");
    assert!(
        offsite == good,
        "the offsite copy is the good one, untouched"
    );
}

/// `lifeboat backup` with these settings (it waits for the offsite copy).
async fn cli_backup(
    data: &std::path::Path,
    url: &str,
    env: &[(&'static str, String)],
) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("backup")
        .env("LIFEBOAT_DATA_DIR", data)
        .env("LIFEBOAT_TARGET_URL", url)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    if let Some(b) = pg_bin_dir() {
        cmd.env("LIFEBOAT_PG_BIN_DIR", b);
    }
    // The throttling proxy runs on this test's runtime: the command is awaited.
    tokio::process::Command::from(cmd)
        .output()
        .await
        .expect("run lifeboat backup")
}

#[tokio::test]
async fn a_large_copy_over_a_slow_link_is_copied_and_a_damaged_file_is_not_sent_again() {
    let s3 = S3::start().await;
    // 4 MB/s to the store: the 3 parts of a 24 MiB dump, sent at once, take about 6 s
    // per request, and its read-back 2 s per 8 MiB range (6 s as one request).
    let proxy = throttled_proxy(s3.endpoint.trim_start_matches("http://").into(), 4_000_000).await;
    let url = create_database("lb_offsite_slow").await;
    // 24 rows of 1 MiB of random bytes: the dump does not compress.
    sql(
        &url,
        "CREATE TABLE blobs (id int PRIMARY KEY, b bytea);
         INSERT INTO blobs SELECT g, (SELECT decode(string_agg(md5(random()::text || g || x), ''), 'hex')
                                      FROM generate_series(1, 65536) x)
         FROM generate_series(1, 24) g;",
    )
    .await;
    let data = tempfile::tempdir().expect("tmp");
    let mut env = s3_env(&format!("http://{proxy}"), 5);
    env.push(("LIFEBOAT_S3_REQUEST_TIMEOUT", "1s".into()));

    // A fixed per-request timeout shorter than a part's transfer (the speed allowance
    // made negligible): the copy fails every time.
    let mut fixed = env.clone();
    fixed.push(("LIFEBOAT_S3_MIN_SPEED", "100GB".into()));
    let out = cli_backup(data.path(), &url, &fixed).await;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("error: offsite copy of backup 1: "),
        "{stderr}"
    );
    let db = server::store::open(data.path()).await.expect("store");
    let first = server::store::backups::get(&db, 1)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        first.offsite_status,
        Some(server::store::backups::OffsiteStatus::Failed)
    );
    let first_path = data.path().join(first.location.clone().expect("loc"));
    let first_good = std::fs::read(&first_path).expect("read");
    assert!(first_good.len() > 20 << 20, "{} bytes", first_good.len());

    // The last good copy of backup 1 is offsite (put there directly), then its local
    // file is damaged: the retry must not replace the good copy.
    let key1 = format!(
        "nightly/lb_offsite_slow/{}",
        first.file_name.clone().expect("name")
    );
    s3.client()
        .put_small(&key1, first_good.clone())
        .await
        .expect("put the good copy");
    let mut damaged = first_good.clone();
    damaged[first_good.len() / 3] ^= 0x01;
    std::fs::write(&first_path, &damaged).expect("damage");

    // Timeouts scaled for 2 MB/s (half the real speed): the new backup is copied and
    // verified through the slow link.
    let mut scaled = env.clone();
    scaled.push(("LIFEBOAT_S3_MIN_SPEED", "2MB".into()));
    let started = std::time::Instant::now();
    let out = cli_backup(data.path(), &url, &scaled).await;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("offsite… "), "progress is shown: {stderr}");
    eprintln!("copied through the slow link in {:?}", started.elapsed());
    let second = server::store::backups::get(&db, 2)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        second.offsite_status,
        Some(server::store::backups::OffsiteStatus::Copied),
        "{:?}",
        second.offsite_message
    );
    let key2 = format!(
        "nightly/lb_offsite_slow/{}",
        second.file_name.expect("name")
    );
    let local2 = std::fs::read(data.path().join(second.location.expect("loc"))).expect("read");
    assert!(s3.object(&key2).await.expect("copy 2") == local2);

    // Backup 1 was checked before it was sent again: corrupted, and its good offsite
    // copy untouched.
    let first = server::store::backups::get(&db, 1)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        first.status,
        server::store::backups::BackupStatus::Corrupted
    );
    assert_eq!(
        first.offsite_status,
        Some(server::store::backups::OffsiteStatus::Failed)
    );
    assert!(
        first
            .offsite_message
            .clone()
            .unwrap_or_default()
            .contains("has changed since it was backed up"),
        "{:?}",
        first.offsite_message
    );
    assert!(s3.object(&key1).await.expect("copy 1") == first_good);
}
