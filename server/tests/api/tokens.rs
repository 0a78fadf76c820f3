//! Personal API tokens: made by a signed-in person (shown once), sent as a Bearer token
//! without a cookie or the CSRF header, limited by scopes, expiry, revocation and the
//! owner's account, every use audited with the token's name; and "back up and wait".

use crate::support::*;
use app::api::{ApiToken, CreatedToken, WaitedBackup};
use std::time::{Duration, Instant};

async fn create(app: &TestApp, body: serde_json::Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/tokens"))
        .json(&body)
        .send()
        .await
        .expect("create token")
}

async fn created(app: &TestApp, body: serde_json::Value) -> CreatedToken {
    let r = create(app, body).await;
    assert_eq!(r.status(), 201);
    r.json().await.expect("token")
}

/// A client with no cookie jar and no CSRF header: what a CI job's `curl` is.
fn bare() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_token_acts_within_its_scopes_without_the_csrf_header_and_is_audited_by_name() {
    let url = sample_database("lb_token_scopes", 200).await;
    let app = TestApp::signed_in(Options {
        target: Some(url),
        ..Options::default()
    })
    .await;
    let t = created(
        &app,
        serde_json::json!({ "name": "nightly ci", "scopes": ["backups:read", "backups:run"] }),
    )
    .await;
    assert!(t.token.starts_with("lbt_"), "{}", t.token);
    assert_eq!(t.info.role, "admin");
    assert_eq!(t.info.scopes, vec!["backups:read", "backups:run"]);
    let ci = bare();
    let get = |path: &str| ci.get(app.url(path)).bearer_auth(&t.token).send();

    // Reading backups: in scope.
    assert_eq!(get("/api/v1/backups").await.expect("list").status(), 200);
    // The audit log and the settings are not.
    let audit = get("/api/v1/audit").await.expect("audit");
    assert_eq!(audit.status(), 403);
    let settings = ci
        .put(app.url("/api/v1/schedule"))
        .bearer_auth(&t.token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("settings");
    assert_eq!(settings.status(), 403);
    // Tokens never make tokens.
    let more = ci
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&t.token)
        .json(&serde_json::json!({ "name": "child" }))
        .send()
        .await
        .expect("token with token");
    assert_eq!(more.status(), 403);

    // A change with the token needs no CSRF header...
    let started = ci
        .post(app.url("/api/v1/backups"))
        .bearer_auth(&t.token)
        .send()
        .await
        .expect("backup");
    assert_eq!(started.status(), 202);
    let job: app::api::StartedJob = started.json().await.expect("job");
    app.wait(job.job_id).await;
    // ...while a cookie session without it is still refused.
    let cookie_only = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    app.login_with(&cookie_only, "admin", PASSWORD).await;
    let forged = cookie_only
        .post(app.url("/api/v1/backups"))
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), 403);
    assert!(forged
        .text()
        .await
        .expect("body")
        .contains("X-Requested-With"));

    // Listed with its last use, never with the token.
    let list = app
        .client
        .get(app.url("/api/v1/tokens"))
        .send()
        .await
        .expect("list");
    let text = list.text().await.expect("list body");
    assert!(!text.contains(&t.token));
    let tokens: Vec<ApiToken> = serde_json::from_str(&text).expect("tokens");
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].last_used_at.is_some());

    // Audited: made, used (with its name), the backup it started names it too.
    let made = app.audit_with("token.created").await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].target.as_deref(), Some("nightly ci"));
    let used = app.audit_with("token.used").await;
    assert!(
        used.iter()
            .any(|e| e.details["method"] == "POST" && e.target.as_deref() == Some("nightly ci")),
        "{used:?}"
    );
    assert!(used.iter().all(|e| e.actor.as_deref() == Some("admin")));
    let backup_run = app.audit_with("backup.run").await;
    assert!(
        backup_run
            .iter()
            .any(|e| e.details["token"] == "nightly ci"),
        "{backup_run:?}"
    );
    // Reads are audited at most once a minute per token.
    let reads = used.iter().filter(|e| e.details["method"] == "GET").count();
    assert_eq!(reads, 1, "{used:?}");
    for e in app.audit().await {
        assert!(!e.details.to_string().contains(&t.token));
    }

    // Revoked: it stops working at once.
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{}", t.info.id)))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 204);
    assert_eq!(get("/api/v1/backups").await.expect("list").status(), 401);
    assert_eq!(app.audit_with("token.revoked").await.len(), 1);
}

#[tokio::test]
async fn expired_tokens_unknown_roles_and_removed_owners_do_not_work() {
    let app = TestApp::signed_in(Options::default()).await;
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let r = create(
        &app,
        serde_json::json!({ "name": "old", "expires_at": past }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = create(&app, serde_json::json!({ "name": "root", "role": "root" })).await;
    assert_eq!(r.status(), 400);
    let r = create(
        &app,
        serde_json::json!({ "name": "x", "scopes": ["people:write"] }),
    )
    .await;
    assert_eq!(r.status(), 400);

    let soon = chrono::Utc::now() + chrono::Duration::seconds(2);
    let short = created(
        &app,
        serde_json::json!({ "name": "short", "expires_at": soon }),
    )
    .await;
    let long = created(&app, serde_json::json!({ "name": "long" })).await;
    let me = |token: String| {
        bare()
            .get(app.url("/api/v1/backups"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(me(short.token.clone()).await.expect("me").status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = me(short.token).await.expect("me");
    assert_eq!(expired.status(), 401);
    assert!(expired.text().await.expect("body").contains("expired"));
    assert_eq!(
        me("lbt_not-a-token".into()).await.expect("me").status(),
        401
    );

    // The owner's account removed: the token stops working.
    assert_eq!(me(long.token.clone()).await.expect("me").status(), 200);
    sqlx::query("DELETE FROM users WHERE username = 'admin'")
        .execute(&app.server.state.db)
        .await
        .expect("remove the owner");
    assert_eq!(me(long.token).await.expect("me").status(), 401);
}

#[tokio::test]
async fn back_up_and_wait_answers_when_the_backup_has_ended() {
    let url = sample_database("lb_token_wait", 500).await;
    // pg_dump that takes longer than the request timeout: the wait must outlast it.
    // (5 s, not less: signing in, an argon2 hash, must stay under it on a busy machine.)
    let slow = fake_pg_dump("sleep 6\nexec \"$REAL\" \"$@\"");
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_REQUEST_TIMEOUT", "5s".into()),
            ("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string()),
        ],
        target: Some(url),
    })
    .await;
    let t = created(
        &app,
        serde_json::json!({ "name": "ci", "scopes": ["backups:run"] }),
    )
    .await;
    let began = Instant::now();
    let r = bare()
        .post(app.url("/api/v1/backups?wait=true"))
        .bearer_auth(&t.token)
        .send()
        .await
        .expect("back up and wait");
    assert_eq!(r.status(), 200);
    assert!(began.elapsed() > Duration::from_secs(5));
    let done: WaitedBackup = r.json().await.expect("answer");
    assert_eq!(done.status, "succeeded");
    assert_eq!(done.exit_status, 0);
    let id = done.backup_id.expect("backup id");
    let detail = app.backup_detail(id).await;
    assert_eq!(detail.backup.status, "succeeded");
    assert_eq!(done.sha256, detail.backup.sha256);
}

#[tokio::test]
async fn back_up_and_wait_answers_500_with_exit_status_1_when_the_backup_fails() {
    let url = sample_database("lb_token_wait_fail", 10).await;
    let broken = fake_pg_dump("echo 'pg_dump: error: disk on fire' >&2; exit 1");
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_PG_BIN_DIR", broken.path().display().to_string())],
        target: Some(url),
    })
    .await;
    let r = app
        .client
        .post(app.url("/api/v1/backups?wait=true"))
        .send()
        .await
        .expect("back up and wait");
    assert_eq!(r.status(), 500);
    let done: WaitedBackup = r.json().await.expect("answer");
    assert_eq!(done.status, "failed");
    assert_eq!(done.exit_status, 1);
    assert!(
        done.message
            .as_deref()
            .unwrap_or("")
            .contains("disk on fire"),
        "{done:?}"
    );
}

#[tokio::test]
async fn a_token_has_its_role_never_above_its_owners() {
    let app = TestApp::signed_in(Options::default()).await;
    let operator = crate::roles::signed_in_as(&app, "olivia", app::api::Role::Operator).await;
    let above = operator
        .post(app.url("/api/v1/tokens"))
        .json(&serde_json::json!({ "name": "mine", "role": "admin" }))
        .send()
        .await
        .expect("create");
    assert_eq!(above.status(), 403);
    let own: CreatedToken = operator
        .post(app.url("/api/v1/tokens"))
        .json(&serde_json::json!({ "name": "mine" }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("token");
    assert_eq!(own.info.role, "operator");
    // The operator's token is refused what an operator is refused (settings)...
    let settings = bare()
        .get(app.url("/api/v1/settings"))
        .bearer_auth(&own.token)
        .send()
        .await
        .expect("settings");
    assert_eq!(settings.status(), 403);
    // ...and an administrator's viewer token what a viewer is refused (backing up).
    let viewer = created(
        &app,
        serde_json::json!({ "name": "dash", "role": "viewer" }),
    )
    .await;
    let r = bare()
        .post(app.url("/api/v1/backups"))
        .bearer_auth(&viewer.token)
        .send()
        .await
        .expect("backup");
    assert_eq!(r.status(), 403);
    let err: app::api::ApiError = r.json().await.expect("error");
    assert_eq!(err.error, app::api::ROLE_REQUIRED);
    let me: app::api::Me = bare()
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&viewer.token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("me");
    assert_eq!(
        (me.username.as_str(), me.role.as_str()),
        ("admin", "viewer")
    );

    // A disabled owner's token stops working.
    assert_eq!(
        bare()
            .get(app.url("/api/v1/backups"))
            .bearer_auth(&own.token)
            .send()
            .await
            .expect("list")
            .status(),
        200
    );
    sqlx::query("UPDATE users SET disabled_at = '2026-01-01T00:00:00Z' WHERE username = 'olivia'")
        .execute(&app.server.state.db)
        .await
        .expect("disable");
    assert_eq!(
        bare()
            .get(app.url("/api/v1/backups"))
            .bearer_auth(&own.token)
            .send()
            .await
            .expect("list")
            .status(),
        401
    );
}

/// `lifeboat token …` on the server's data directory, as a CLI test would run it.
fn lifeboat_token(app: &TestApp, args: &[&str]) -> serde_json::Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg("token")
        .args(args)
        .arg("--json")
        .env("LIFEBOAT_DATA_DIR", app.data_dir.path())
        .output()
        .expect("run lifeboat token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

#[tokio::test]
async fn the_cli_creates_lists_and_revokes_tokens() {
    let app = TestApp::signed_in(Options::default()).await;
    let made = lifeboat_token(
        &app,
        &[
            "create",
            "--user",
            "admin",
            "--name",
            "from cli",
            "--scope",
            "backups:read",
            "--expires-in",
            "1d",
        ],
    );
    let token = made["token"].as_str().expect("token").to_string();
    assert_eq!(made["scopes"], serde_json::json!(["backups:read"]));
    let list = |token: &str| {
        bare()
            .get(app.url("/api/v1/backups"))
            .bearer_auth(token.to_string())
            .send()
    };
    assert_eq!(list(&token).await.expect("list").status(), 200);
    let listed = lifeboat_token(&app, &["list"]);
    assert_eq!(listed[0]["name"], "from cli");
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(&token));
    let id = made["id"].as_i64().expect("id").to_string();
    let revoked = lifeboat_token(&app, &["revoke", &id]);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_eq!(list(&token).await.expect("list").status(), 401);
    let created = app.audit_with("token.created").await;
    assert!(
        created[0].actor.as_deref().unwrap_or("").starts_with("os:"),
        "{created:?}"
    );
}

#[tokio::test]
async fn a_token_that_never_expires_works_until_revoked() {
    let app = TestApp::signed_in(Options::default()).await;
    let both = create(
        &app,
        serde_json::json!({
            "name": "both",
            "never_expires": true,
            "expires_at": chrono::Utc::now() + chrono::Duration::days(1),
        }),
    )
    .await;
    assert_eq!(both.status(), 400);
    let t = created(
        &app,
        serde_json::json!({ "name": "forever", "never_expires": true }),
    )
    .await;
    assert_eq!(t.info.expires_at, None);
    let listed: Vec<ApiToken> = app
        .client
        .get(app.url("/api/v1/tokens"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("tokens");
    assert_eq!(listed[0].name, "forever");
    assert_eq!(listed[0].expires_at, None);
    let get = || {
        bare()
            .get(app.url("/api/v1/backups"))
            .bearer_auth(t.token.clone())
            .send()
    };
    assert_eq!(get().await.expect("get").status(), 200);
    let created_event = app.audit_with("token.created").await;
    assert_eq!(
        created_event[0].details["expires_at"],
        serde_json::Value::Null
    );
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{}", t.info.id)))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 204);
    assert_eq!(get().await.expect("get").status(), 401);
}
