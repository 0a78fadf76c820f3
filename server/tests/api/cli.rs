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
    let created = server::audit::list(
        &server.state.db,
        &server::audit::Query {
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
