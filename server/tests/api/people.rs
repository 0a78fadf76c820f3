//! People: invitation links, roles, the last administrator, passwords, sessions (listed,
//! ended by their owner or an administrator, and not kept alive by background polling),
//! and the audit log's filter by actor.

use crate::roles::signed_in_as;
use crate::support::{client_for, spawn_app, Options, TestApp, PASSWORD};
use app::api::{Invited, Person, Role, SessionInfo, SessionsEnded};
use std::time::Duration;

const NEW_PASSWORD: &str = "a much longer new passphrase";

async fn admin_app(env: Vec<(&'static str, String)>) -> TestApp {
    let app = spawn_app(Options {
        env,
        ..Options::default()
    })
    .await;
    app.add_user("admin", PASSWORD).await;
    assert_eq!(app.login("admin", PASSWORD).await.status(), 200);
    app
}

async fn invite(app: &TestApp, name: &str, role: Role) -> Invited {
    let resp = app
        .client
        .post(app.url("/api/v1/users"))
        .json(&serde_json::json!({ "username": name, "role": role }))
        .send()
        .await
        .expect("invite");
    assert_eq!(resp.status(), 201);
    resp.json().await.expect("invited")
}

fn token_of(invited: &Invited) -> String {
    invited
        .invitation
        .url
        .split_once("/invite#token=")
        .expect("a link with its token in the fragment")
        .1
        .to_string()
}

async fn accept(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    client_for(&app.base)
        .post(app.url("/api/v1/invitations/accept"))
        .json(&serde_json::json!({ "token": token, "password": password }))
        .send()
        .await
        .expect("accept")
}

async fn me_status(app: &TestApp, client: &reqwest::Client) -> u16 {
    client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .expect("me")
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_invitation_link_sets_the_password_once() {
    let app = admin_app(vec![]).await;
    let invited = invite(&app, "olivia", Role::Operator).await;
    assert_eq!(invited.person.role, "operator");
    assert!(invited.person.password_pending);
    let token = token_of(&invited);
    // Until the link is used, the account cannot sign in.
    let olivia = client_for(&app.base);
    assert_eq!(app.login_with(&olivia, "olivia", "").await.status(), 401);

    let check = client_for(&app.base)
        .post(app.url("/api/v1/invitations/check"))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .expect("check");
    assert_eq!(check.status(), 200);
    let info: app::api::InvitationInfo = check.json().await.expect("info");
    assert_eq!(
        (info.username.as_str(), info.role.as_str()),
        ("olivia", "operator")
    );

    assert_eq!(accept(&app, &token, "short").await.status(), 400);
    assert_eq!(accept(&app, &token, PASSWORD).await.status(), 204);
    assert_eq!(
        app.login_with(&olivia, "olivia", PASSWORD).await.status(),
        200
    );
    // Single use.
    let again = accept(&app, &token, NEW_PASSWORD).await;
    assert_eq!(again.status(), 410);
    let err: app::api::ApiError = again.json().await.expect("error");
    assert!(err.message.contains("already been used"), "{}", err.message);
    assert_eq!(accept(&app, "not-a-token", PASSWORD).await.status(), 410);

    let used = app.audit_with("user.invitation_used").await;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].actor.as_deref(), Some("olivia"));
    let created = app.audit_with("user.created").await;
    let last = created.last().expect("user.created");
    assert_eq!(last.actor.as_deref(), Some("admin"));
    assert_eq!(last.details["role"], "operator");
    for e in app.audit().await {
        let text = serde_json::to_string(&e.details).expect("json");
        assert!(!text.contains(&token) && !text.contains(PASSWORD), "{text}");
    }
}

#[tokio::test]
async fn an_invitation_link_expires() {
    let app = admin_app(vec![("LIFEBOAT_INVITATION_LINK_TTL", "1s".into())]).await;
    let invited = invite(&app, "late", Role::Viewer).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resp = accept(&app, &token_of(&invited), PASSWORD).await;
    assert_eq!(resp.status(), 410);
    let err: app::api::ApiError = resp.json().await.expect("error");
    assert!(err.message.contains("expired"), "{}", err.message);
}

#[tokio::test]
async fn a_password_reset_ends_the_old_password_and_sessions_and_gives_a_new_link() {
    let app = admin_app(vec![]).await;
    let victor = signed_in_as(&app, "victor", Role::Viewer).await;
    let id = person(&app, "victor").await.id;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/users/{id}/reset-password")))
        .send()
        .await
        .expect("reset");
    assert_eq!(resp.status(), 200);
    let invited: Invited = resp.json().await.expect("link");
    assert_eq!(me_status(&app, &victor).await, 401);
    assert_eq!(
        app.login_with(&victor, "victor", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        accept(&app, &token_of(&invited), NEW_PASSWORD)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.login_with(&victor, "victor", NEW_PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(app.audit_with("user.password_reset").await.len(), 1);
}

async fn people(app: &TestApp) -> Vec<Person> {
    app.client
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .expect("users")
        .json()
        .await
        .expect("people")
}

async fn person(app: &TestApp, name: &str) -> Person {
    people(app)
        .await
        .into_iter()
        .find(|p| p.username == name)
        .expect("listed")
}

async fn patch(app: &TestApp, id: i64, body: serde_json::Value) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/v1/users/{id}")))
        .json(&body)
        .send()
        .await
        .expect("patch")
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed_disabled_or_demoted() {
    let app = admin_app(vec![]).await;
    let me = person(&app, "admin").await;
    for resp in [
        patch(&app, me.id, serde_json::json!({ "role": "operator" })).await,
        patch(&app, me.id, serde_json::json!({ "disabled": true })).await,
        app.client
            .delete(app.url(&format!("/api/v1/users/{}", me.id)))
            .send()
            .await
            .expect("delete"),
    ] {
        assert_eq!(resp.status(), 409);
        let err: app::api::ApiError = resp.json().await.expect("error");
        assert_eq!(err.error, "last_admin");
        assert!(
            err.message.contains("last active administrator"),
            "{}",
            err.message
        );
    }
    assert_eq!(person(&app, "admin").await.role, "admin");

    // A disabled second administrator does not count.
    let _ada = signed_in_as(&app, "ada", Role::Admin).await;
    let ada = person(&app, "ada").await;
    assert_eq!(
        patch(&app, ada.id, serde_json::json!({ "disabled": true }))
            .await
            .status(),
        200
    );
    assert_eq!(
        patch(&app, me.id, serde_json::json!({ "role": "viewer" }))
            .await
            .status(),
        409
    );
    assert_eq!(
        patch(&app, ada.id, serde_json::json!({ "disabled": false }))
            .await
            .status(),
        200
    );
    // With another active administrator, the first may step down.
    let resp = patch(&app, me.id, serde_json::json!({ "role": "viewer" })).await;
    assert_eq!(resp.status(), 200);
    let updated = app.audit_with("user.updated").await;
    let last = updated.last().expect("audited");
    assert_eq!(last.target.as_deref(), Some("admin"));
    assert_eq!(last.details["role"]["from"], "admin");
    assert_eq!(last.details["role"]["to"], "viewer");
    // Now a viewer: the People routes are refused.
    assert_eq!(
        app.client
            .get(app.url("/api/v1/users"))
            .send()
            .await
            .expect("users")
            .status(),
        403
    );
}

#[tokio::test]
async fn a_disabled_or_deleted_account_is_signed_out_and_cannot_sign_in() {
    let app = admin_app(vec![]).await;
    let olivia = signed_in_as(&app, "olivia", Role::Operator).await;
    let id = person(&app, "olivia").await.id;
    assert_eq!(
        patch(&app, id, serde_json::json!({ "disabled": true }))
            .await
            .status(),
        200
    );
    assert_eq!(me_status(&app, &olivia).await, 401);
    assert_eq!(
        app.login_with(&olivia, "olivia", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        patch(&app, id, serde_json::json!({ "disabled": false }))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login_with(&olivia, "olivia", PASSWORD).await.status(),
        200
    );
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/users/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_eq!(me_status(&app, &olivia).await, 401);
    assert_eq!(app.audit_with("user.deleted").await.len(), 1);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let app = admin_app(vec![]).await;
    let other = client_for(&app.base);
    assert_eq!(
        app.login_with(&other, "admin", PASSWORD).await.status(),
        200
    );
    let change = |current: &str| {
        app.client
            .post(app.url("/api/v1/auth/password"))
            .json(&serde_json::json!({ "current": current, "new": NEW_PASSWORD }))
            .send()
    };
    let wrong = change("not my password at all").await.expect("change");
    assert_eq!(wrong.status(), 403);
    assert_eq!(
        me_status(&app, &other).await,
        200,
        "a refused change ends nothing"
    );
    let done = change(PASSWORD).await.expect("change");
    assert_eq!(done.status(), 200);
    let ended: SessionsEnded = done.json().await.expect("ended");
    assert_eq!(ended.ended, 1);
    assert_eq!(me_status(&app, &other).await, 401);
    assert_eq!(
        me_status(&app, &app.client).await,
        200,
        "this session goes on"
    );
    let fresh = client_for(&app.base);
    assert_eq!(
        app.login_with(&fresh, "admin", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.login_with(&fresh, "admin", NEW_PASSWORD).await.status(),
        200
    );
    let changed = app.audit_with("auth.password_changed").await;
    assert_eq!(
        changed
            .iter()
            .map(|e| e.outcome.as_str())
            .collect::<Vec<_>>(),
        vec!["failure", "success"]
    );
}

async fn sessions(app: &TestApp, client: &reqwest::Client) -> Vec<SessionInfo> {
    client
        .get(app.url("/api/v1/auth/sessions"))
        .send()
        .await
        .expect("sessions")
        .json()
        .await
        .expect("list")
}

#[tokio::test]
async fn sessions_are_listed_and_ended_by_their_owner_or_an_administrator() {
    let app = admin_app(vec![]).await;
    let laptop = signed_in_as(&app, "olivia", Role::Operator).await;
    let phone = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("x-requested-with", "lifeboat".parse().expect("header"));
            h
        })
        .build()
        .expect("client");
    assert_eq!(
        app.login_with(&phone, "olivia", PASSWORD).await.status(),
        200
    );
    let listed = sessions(&app, &laptop).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    let other = listed.iter().find(|s| !s.current).expect("the other");
    assert_eq!(other.browser, "Firefox on Linux");
    assert_eq!(other.client_ip.as_deref(), Some("127.0.0.1"));
    // The handle is not the cookie.
    assert!(listed.iter().all(|s| s.id.len() == 24));

    let end = laptop
        .delete(app.url(&format!("/api/v1/auth/sessions/{}", other.id)))
        .send()
        .await
        .expect("end");
    assert_eq!(end.status(), 204);
    assert_eq!(me_status(&app, &phone).await, 401);
    assert_eq!(me_status(&app, &laptop).await, 200);

    // "Sign out everywhere else".
    assert_eq!(
        app.login_with(&phone, "olivia", PASSWORD).await.status(),
        200
    );
    let ended: SessionsEnded = laptop
        .delete(app.url("/api/v1/auth/sessions"))
        .send()
        .await
        .expect("end others")
        .json()
        .await
        .expect("ended");
    assert_eq!(ended.ended, 1);
    assert_eq!(me_status(&app, &phone).await, 401);
    assert_eq!(me_status(&app, &laptop).await, 200);

    // An administrator ends all of them.
    let id = person(&app, "olivia").await.id;
    assert_eq!(person(&app, "olivia").await.sessions, 1);
    let ended: SessionsEnded = app
        .client
        .delete(app.url(&format!("/api/v1/users/{id}/sessions")))
        .send()
        .await
        .expect("end theirs")
        .json()
        .await
        .expect("ended");
    assert_eq!(ended.ended, 1);
    assert_eq!(me_status(&app, &laptop).await, 401);
    let revoked = app.audit_with("session.revoked").await;
    assert_eq!(revoked.len(), 3);
    let last = revoked.last().expect("by the admin");
    assert_eq!(last.actor.as_deref(), Some("admin"));
    assert_eq!(last.target.as_deref(), Some("olivia"));

    // The audit log filtered by who acted.
    let page: app::api::AuditPage = app
        .client
        .get(app.url("/api/v1/audit?actor=olivia&limit=100"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("page");
    assert!(page.total >= 4, "{}", page.total);
    assert!(page
        .items
        .iter()
        .all(|e| e.actor.as_deref() == Some("olivia")));
}

/// The SPA's polling carries `X-Lifeboat-Background: 1`: it does not keep an idle
/// session alive, while requests the person makes do.
#[tokio::test]
async fn background_polling_does_not_keep_an_idle_session_alive() {
    let app = admin_app(vec![
        ("LIFEBOAT_SESSION_IDLE_TIMEOUT", "3s".into()),
        ("LIFEBOAT_SESSION_PURGE_INTERVAL", "1h".into()),
    ])
    .await;
    let poll = || {
        app.client
            .get(app.url("/api/v1/backups/status"))
            .header("x-lifeboat-background", "1")
            .send()
    };
    // Activity keeps it alive past the timeout.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(me_status(&app, &app.client).await, 200);
    }
    // Polling alone does not.
    let mut statuses = vec![];
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        statuses.push(poll().await.expect("poll").status().as_u16());
    }
    assert_eq!(statuses.first(), Some(&200), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&401), "{statuses:?}");
    assert_eq!(me_status(&app, &app.client).await, 401);
}

pub fn lifeboat(data: &std::path::Path, args: &[&str], stdin: &str) -> (bool, serde_json::Value) {
    use std::io::Write;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIFEBOAT_") && !k.starts_with("LIFEBOAT_TEST_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(args)
        .arg("--json")
        .env("LIFEBOAT_DATA_DIR", data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn lifeboat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin");
    let out = child.wait_with_output().expect("wait");
    // A refusal by the argument parser is plain text (on standard error).
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), json)
}

#[test]
fn the_command_line_manages_people() {
    let data = tempfile::tempdir().expect("tmp");
    let dir = data.path();
    let pw = format!("{PASSWORD}\n");
    let (ok, root) = lifeboat(dir, &["user", "add", "root", "--password-stdin"], &pw);
    assert!(ok, "{root}");
    assert_eq!(root["role"], "admin", "admin by default");
    let (ok, ana) = lifeboat(
        dir,
        &[
            "user",
            "add",
            "ana",
            "--role",
            "operator",
            "--password-stdin",
        ],
        &pw,
    );
    assert!(ok, "{ana}");
    assert_eq!(ana["role"], "operator");
    let (ok, _) = lifeboat(
        dir,
        &["user", "add", "bad", "--role", "owner", "--password-stdin"],
        &pw,
    );
    assert!(!ok, "an unknown role is refused");

    let (ok, viewer) = lifeboat(dir, &["user", "set-role", "ana", "viewer"], "");
    assert!(ok && viewer["role"] == "viewer", "{viewer}");
    let (ok, disabled) = lifeboat(dir, &["user", "disable", "ana"], "");
    assert!(ok && disabled["disabled"] == true, "{disabled}");
    let (ok, enabled) = lifeboat(dir, &["user", "enable", "ana"], "");
    assert!(ok && enabled["disabled"] == false, "{enabled}");
    let (ok, reset) = lifeboat(dir, &["user", "reset-password", "ana"], "");
    assert!(ok, "{reset}");
    assert!(reset["link"]
        .as_str()
        .unwrap_or("")
        .contains("/invite#token="));
    assert_eq!(reset["password_pending"], true);

    // The last active administrator stays one.
    let (ok, refused) = lifeboat(dir, &["user", "set-role", "root", "viewer"], "");
    assert!(!ok);
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or("")
            .contains("last active administrator"),
        "{refused}"
    );
    let (ok, _) = lifeboat(dir, &["user", "delete", "root"], "");
    assert!(!ok);

    let (ok, list) = lifeboat(dir, &["user", "list"], "");
    assert!(ok);
    let names: Vec<_> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap_or(""),
                u["role"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(names, vec![("root", "admin"), ("ana", "viewer")]);
    let (ok, deleted) = lifeboat(dir, &["user", "delete", "ana"], "");
    assert!(ok && deleted["deleted"] == true, "{deleted}");
}
