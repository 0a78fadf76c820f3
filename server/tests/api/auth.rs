//! Login, logout, sessions, throttling and CSRF.

use crate::support::*;
use app::api::{audit_action, outcome, Me};
use std::time::Duration;

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_me_answers() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;

    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 401, "not signed in yet");

    let resp = app.login("alice", PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lifeboat_session="))
        .expect("session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    assert!(
        resp.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );
    let body: Me = resp.json().await.expect("me body");
    assert_eq!(body.username, "alice");

    let me: Me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("me json");
    assert_eq!(me.username, "alice");

    let logins = app.audit_with(audit_action::LOGIN).await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].outcome, outcome::SUCCESS);
    assert_eq!(logins[0].actor.as_deref(), Some("alice"));
    assert_eq!(logins[0].client_ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn session_cookie_is_secure_when_served_over_https() {
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_PUBLIC_URL", "https://backups.example.com".into())],
        ..Default::default()
    })
    .await;
    app.add_user("alice", PASSWORD).await;
    let client = reqwest::Client::new();
    let resp = client
        .post(app.url("/api/v1/auth/login"))
        .header("x-requested-with", "lifeboat")
        .header("origin", "https://backups.example.com")
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.starts_with("__Host-lifeboat_session="), "{cookie}");
    assert_eq!(
        resp.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
}

#[tokio::test]
async fn session_id_changes_at_login() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;
    let first = app.login("alice", PASSWORD).await;
    let id1 = session_cookie(&first);
    let second = app.login("alice", PASSWORD).await;
    let id2 = session_cookie(&second);
    assert!(!id1.is_empty() && !id2.is_empty());
    assert_ne!(id1, id2, "logging in again must issue a new session id");
    // The old id no longer works.
    let old = reqwest::Client::new()
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("lifeboat_session={id1}"))
        .send()
        .await
        .expect("me");
    assert_eq!(old.status(), 401);
}

fn session_cookie(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("lifeboat_session="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer_and_are_audited() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;

    let wrong = app.login("alice", "not the password at all").await;
    let status_wrong = wrong.status();
    let body_wrong = wrong.text().await.expect("body");
    let unknown = app.login("mallory", "not the password at all").await;
    let status_unknown = unknown.status();
    let body_unknown = unknown.text().await.expect("body");
    assert_eq!(status_wrong, 401);
    assert_eq!(status_unknown, 401);
    assert_eq!(body_wrong, body_unknown, "no user enumeration");

    let failures: Vec<_> = app
        .audit_with(audit_action::LOGIN)
        .await
        .into_iter()
        .filter(|e| e.outcome == outcome::FAILURE)
        .collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].details["username_tried"], "alice");
    assert_eq!(failures[1].details["username_tried"], "mallory");
    let all = serde_json::to_string(&app.audit().await).expect("json");
    assert!(
        !all.contains("not the password"),
        "a password reached the audit log"
    );
}

#[tokio::test]
async fn a_huge_username_is_kept_only_as_a_short_marked_prefix() {
    let app = spawn_app(Options::default()).await;
    let huge = "u".repeat(1_000_000);
    for _ in 0..3 {
        assert_eq!(app.login(&huge, "whatever it is").await.status(), 401);
    }
    let failures = app.audit_with(audit_action::LOGIN).await;
    assert_eq!(failures.len(), 3);
    for e in &failures {
        let tried = e.details["username_tried"].as_str().unwrap_or_default();
        let target = e.target.clone().unwrap_or_default();
        assert!(
            tried.len() < 120 && target.len() < 120,
            "{} {}",
            tried.len(),
            target.len()
        );
        assert!(tried.ends_with("(cut: 1000000 bytes in all)"), "{tried}");
    }
    // Three attempts with it, not three megabytes: the whole log stays small.
    let all = serde_json::to_string(&app.audit().await).expect("json");
    assert!(all.len() < 10_000, "{} bytes", all.len());
}

#[tokio::test]
async fn parallel_guesses_cannot_all_pass_the_throttle() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;
    let guesses = (0..40).map(|i| {
        let client = client_for(&app.base);
        let url = app.url("/api/v1/auth/login");
        async move {
            client
                .post(url)
                .json(&serde_json::json!({ "username": "alice", "password": format!("guess number {i}") }))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + throttled, 40, "{statuses:?}");
    assert!(
        checked <= 4,
        "{checked} passwords were checked: {statuses:?}"
    );
}

#[tokio::test]
async fn repeated_failures_are_throttled_then_allowed_again() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;
    for _ in 0..4 {
        assert_eq!(app.login("alice", "wrong password!!").await.status(), 401);
    }
    // The 4th consecutive failure starts a delay: even the right password must wait.
    let throttled = app.login("alice", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    let retry: u64 = throttled
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(200)).await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);

    let throttled_events: Vec<_> = app
        .audit_with(audit_action::LOGIN)
        .await
        .into_iter()
        .filter(|e| e.details["reason"] == "throttled")
        .collect();
    assert_eq!(throttled_events.len(), 1);
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_header_and_our_origin() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;
    let body = serde_json::json!({ "username": "alice", "password": PASSWORD });
    let bare = reqwest::Client::new();

    let no_header = bare
        .post(app.url("/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(no_header.status(), 403);
    let err: app::api::ApiError = no_header.json().await.expect("error body");
    assert_eq!(err.error, "csrf");

    let foreign = bare
        .post(app.url("/api/v1/auth/login"))
        .header("x-requested-with", "lifeboat")
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(foreign.status(), 403);

    let cross_site = bare
        .post(app.url("/api/v1/auth/logout"))
        .header("x-requested-with", "lifeboat")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("post");
    assert_eq!(cross_site.status(), 403);

    // Neither refused attempt reached the login handler.
    assert!(app.audit_with(audit_action::LOGIN).await.is_empty());

    let same_origin = bare
        .post(app.url("/api/v1/auth/login"))
        .header("x-requested-with", "lifeboat")
        .header("origin", app.base.clone())
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(same_origin.status(), 200);
}

#[tokio::test]
async fn logout_invalidates_the_session_on_the_server() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;
    let resp = app.login("alice", PASSWORD).await;
    let id = session_cookie(&resp);
    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 204);
    // Replaying the old cookie by hand must not work.
    let replay = reqwest::Client::new()
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("lifeboat_session={id}"))
        .send()
        .await
        .expect("me");
    assert_eq!(replay.status(), 401);
    let outs = app.audit_with(audit_action::LOGOUT).await;
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].actor.as_deref(), Some("alice"));
}

#[tokio::test]
async fn idle_sessions_expire_and_are_audited_when_purged() {
    let app = spawn_app(Options {
        env: vec![
            ("LIFEBOAT_SESSION_IDLE_TIMEOUT", "2s".into()),
            ("LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT", "1h".into()),
            ("LIFEBOAT_SESSION_PURGE_INTERVAL", "1s".into()),
        ],
        ..Default::default()
    })
    .await;
    app.add_user("alice", PASSWORD).await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 401, "the idle timeout has passed");

    let mut expired = vec![];
    for _ in 0..40 {
        expired = app.audit_with(audit_action::SESSION_EXPIRED).await;
        if !expired.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(expired.len(), 1, "the purge audits the expired session");
    assert_eq!(expired[0].target.as_deref(), Some("alice"));
    assert_eq!(expired[0].details["reason"], "idle timeout");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions")
        .fetch_one(&app.server.state.db)
        .await
        .expect("count");
    assert_eq!(left, 0, "expired sessions are deleted");
}

#[tokio::test]
async fn activity_keeps_a_session_alive_until_its_absolute_timeout() {
    let app = spawn_app(Options {
        env: vec![
            ("LIFEBOAT_SESSION_IDLE_TIMEOUT", "3s".into()),
            ("LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT", "5s".into()),
        ],
        ..Default::default()
    })
    .await;
    app.add_user("alice", PASSWORD).await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
    let signed_in = std::time::Instant::now();
    let mut statuses = vec![];
    // A request every second: the idle timeout (3 s) never passes, the absolute one (5 s)
    // does.
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let s = app
            .client
            .get(app.url("/api/v1/auth/me"))
            .send()
            .await
            .expect("me")
            .status()
            .as_u16();
        statuses.push((signed_in.elapsed().as_secs_f64(), s));
    }
    let before: Vec<_> = statuses.iter().filter(|(t, _)| *t < 4.5).collect();
    assert!(before.len() >= 3, "{statuses:?}");
    assert!(
        before.iter().all(|(_, s)| *s == 200),
        "activity keeps it alive: {statuses:?}"
    );
    assert_eq!(statuses.last().map(|(_, s)| *s), Some(401), "{statuses:?}");
    let expired = app.audit_with(audit_action::SESSION_EXPIRED).await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].details["reason"], "absolute timeout");
}
