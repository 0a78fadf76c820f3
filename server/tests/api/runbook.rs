//! docs/runbooks/database-restore.md: every shell block, run in order against a backup
//! Lifeboat made, checking the database's state after each step that changes it.

use crate::support::*;
use app::api::{job_status, StartedJob};
use std::path::Path;
use std::process::Command;

fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = vec![];
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn run_block(block: &str, dir: &Path, env: &[(&str, String)]) -> std::process::Output {
    let mut c = Command::new("bash");
    c.arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(block)
        .current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run bash")
}

async fn marker(url: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query_one("SELECT v FROM marker", &[])
        .await
        .expect("marker")
        .get(0)
}

/// The databases kept as `<db>__before_…` by the runbook's swap.
async fn kept_before(db: &str) -> Vec<String> {
    crate::swap::databases_like(&format!("{db}\\_\\_before\\_%")).await
}

#[tokio::test]
async fn every_command_of_the_restore_runbook_works() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/runbooks/database-restore.md"),
    )
    .expect("the runbook");
    let blocks = shell_blocks(&text);
    assert_eq!(blocks.len(), 9, "the runbook's steps, in order");

    let url = sample_database("lb_runbook", 2_000).await;
    sql(&url, "UPDATE marker SET v = 'at-backup-time'").await;
    let app = TestApp::signed_in(Options {
        env: vec![],
        target: Some(url.clone()),
    })
    .await;
    let s: StartedJob = app.start_backup().await.json().await.expect("started");
    let job = app.wait(s.job_id).await;
    assert_eq!(job.status, job_status::SUCCEEDED);
    let backup = app.data_dir.path().join(job.location.expect("location"));
    sql(&url, "UPDATE marker SET v = 'after-the-backup'").await;

    let work = tempfile::tempdir().expect("work");
    let bin_dir = pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR");
    let lifeboat_dir = Path::new(env!("CARGO_BIN_EXE_lifeboat"))
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    let env = vec![
        ("BACKUP", backup.display().to_string()),
        ("TARGET_URL", url.clone()),
        (
            "LIFEBOAT_DATA_DIR",
            app.data_dir.path().display().to_string(),
        ),
        ("LIFEBOAT_PG_BIN_DIR", bin_dir.clone()),
        (
            "PATH",
            format!(
                "{bin_dir}:{lifeboat_dir}:{}",
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
    ];
    let ok = |i: usize, out: &std::process::Output| {
        assert!(
            out.status.success(),
            "runbook block {i} failed:\n{}\n--- stdout\n{}\n--- stderr\n{}",
            blocks[i],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // 0: the variables (example values).
    ok(0, &run_block(&blocks[0], work.path(), &env));

    // 1: the checksum matches the sidecar — and a damaged copy is caught.
    let out = run_block(&blocks[1], work.path(), &env);
    ok(1, &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("checksum OK"));
    let damaged = work.path().join("damaged.dump");
    let mut bytes = std::fs::read(&backup).expect("read");
    let n = bytes.len();
    bytes[n / 2] ^= 0x01;
    std::fs::write(&damaged, bytes).expect("write");
    std::fs::copy(
        format!("{}.json", backup.display()),
        format!("{}.json", damaged.display()),
    )
    .expect("sidecar copy");
    let mut bad_env = env.clone();
    bad_env[0].1 = damaged.display().to_string();
    let out = run_block(&blocks[1], work.path(), &bad_env);
    assert!(!out.status.success(), "a damaged file fails the check");
    assert!(String::from_utf8_lossy(&out.stderr).contains("CHECKSUM MISMATCH"));

    // 1b: read in full, list the tables.
    let out = run_block(&blocks[2], work.path(), &env);
    ok(2, &out);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("archive reads in full") && listed.contains("TABLE public marker"));

    // 2: a copy of the current state.
    ok(3, &run_block(&blocks[3], work.path(), &env));

    // 3: restore → the backup's state.
    ok(4, &run_block(&blocks[4], work.path(), &env));
    assert_eq!(marker(&url).await, "at-backup-time");

    // 4: roll back → the state before the restore.
    ok(5, &run_block(&blocks[5], work.path(), &env));
    assert_eq!(marker(&url).await, "after-the-backup");

    // 4b: restore into a new database and swap → the backup's state; the state before
    // is kept under another name.
    ok(6, &run_block(&blocks[6], work.path(), &env));
    assert_eq!(marker(&url).await, "at-backup-time");
    let kept = kept_before("lb_runbook").await;
    assert_eq!(kept.len(), 1, "{kept:?}");

    // 4c: roll the swap back → the state before it; the restored one is set aside.
    ok(7, &run_block(&blocks[7], work.path(), &env));
    assert_eq!(marker(&url).await, "after-the-backup");
    assert!(kept_before("lb_runbook").await.is_empty());

    // 5: a fresh Lifeboat restores the file through its own flow.
    ok(8, &run_block(&blocks[8], work.path(), &env));
    assert_eq!(marker(&url).await, "at-backup-time");
}

/// docs/operations.md lists exactly the variables the code reads.
#[test]
fn the_operations_guide_lists_every_setting() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md"),
    )
    .expect("docs/operations.md");
    for (var, _) in server::config::SETTINGS {
        assert!(
            text.contains(&format!("`{var}`")),
            "{var} is not documented"
        );
    }
    let documented: Vec<&str> = text
        .split('`')
        .filter(|w| w.starts_with("LIFEBOAT_") && !w.contains(' ') && !w.contains('='))
        .map(|w| w.trim_end_matches("_FILE"))
        .collect();
    for var in documented {
        let known = server::config::SETTINGS.iter().any(|(v, _)| *v == var)
            || ["LIFEBOAT_CONFIG", "LIFEBOAT_TOOLS_DIR"].contains(&var);
        assert!(
            known,
            "docs/operations.md names {var}, which the code does not read"
        );
    }
}
