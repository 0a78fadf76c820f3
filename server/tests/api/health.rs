//! `/healthz`, `/readyz` and the security headers.

use crate::support::*;
use app::api::ReadyReport;

#[tokio::test]
async fn healthz_answers() {
    let app = spawn_app(Options::default()).await;
    let r = reqwest::get(app.url("/healthz")).await.expect("healthz");
    assert_eq!(r.status(), 200);
}

async fn ready(app: &TestApp) -> (u16, ReadyReport) {
    let r = reqwest::get(app.url("/readyz")).await.expect("readyz");
    let status = r.status().as_u16();
    (status, r.json().await.expect("report"))
}

fn check<'a>(r: &'a ReadyReport, name: &str) -> &'a app::api::ReadyCheck {
    r.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {r:?}"))
}

#[tokio::test]
async fn readyz_is_200_when_everything_is_in_place() {
    let app = spawn_app(Options::default()).await;
    let (status, report) = ready(&app).await;
    assert_eq!(status, 200, "{report:?}");
    assert!(report.ready);
    let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "metadata_db",
            "data_dir",
            "target",
            "pg_dump",
            "pg_restore",
            "last_backup",
            "last_test_restore"
        ]
    );
    assert!(check(&report, "target").detail.contains("PostgreSQL"));
    let text = serde_json::to_string(&report).expect("json");
    let password = url::Url::parse(&pg_url())
        .ok()
        .and_then(|u| u.password().map(str::to_string))
        .expect("test url has a password");
    assert!(
        !text.contains(&password),
        "the target password leaked: {text}"
    );
}

#[tokio::test]
async fn readyz_is_503_when_the_target_is_unreachable() {
    // A port nothing listens on.
    let port = server::dev::pgcluster::free_port().expect("port");
    let app = spawn_app(Options {
        target: Some(format!(
            "postgres://lifeboat:secret-pw@127.0.0.1:{port}/postgres"
        )),
        ..Default::default()
    })
    .await;
    let (status, report) = ready(&app).await;
    assert_eq!(status, 503);
    assert!(!report.ready);
    let t = check(&report, "target");
    assert!(!t.ok);
    assert!(t.detail.contains("cannot connect"), "{}", t.detail);
    assert!(!t.detail.contains("secret-pw"));
    assert!(check(&report, "metadata_db").ok);
}

#[tokio::test]
async fn readyz_is_503_with_a_wrong_password() {
    let mut url = url::Url::parse(&pg_url()).expect("url");
    url.set_password(Some("definitely-wrong"))
        .expect("set password");
    let app = spawn_app(Options {
        target: Some(url.to_string()),
        ..Default::default()
    })
    .await;
    let (status, report) = ready(&app).await;
    assert_eq!(status, 503);
    let t = check(&report, "target");
    assert!(
        t.detail.contains("password authentication failed"),
        "{}",
        t.detail
    );
}

#[tokio::test]
async fn readyz_is_503_when_pg_dump_is_missing() {
    let empty = tempfile::tempdir().expect("tmp");
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_PG_BIN_DIR", empty.path().display().to_string())],
        ..Default::default()
    })
    .await;
    let (status, report) = ready(&app).await;
    assert_eq!(status, 503);
    let d = check(&report, "pg_dump");
    assert!(!d.ok);
    assert!(d.detail.contains("pg_dump not found"), "{}", d.detail);
    assert!(!check(&report, "pg_restore").ok);
    assert!(check(&report, "target").ok);
}

#[tokio::test]
async fn readyz_is_503_when_pg_dump_is_older_than_the_server() {
    // A pg_dump that claims to be PostgreSQL 9.6 cannot dump the test server.
    let dir = tempfile::tempdir().expect("tmp");
    for tool in ["pg_dump", "pg_restore"] {
        let p = dir.path().join(tool);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n"),
        )
        .expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_PG_BIN_DIR", dir.path().display().to_string())],
        ..Default::default()
    })
    .await;
    let (status, report) = ready(&app).await;
    assert_eq!(status, 503);
    assert!(check(&report, "pg_dump")
        .detail
        .contains("older than the target server"));
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_api_responses_the_strict_headers() {
    let app = spawn_app(Options::default()).await;
    let page = reqwest::get(app.url("/login")).await.expect("page");
    assert_eq!(page.status(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("csp")
        .to_string();
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline'; script")
            && !csp.contains("script-src 'self' 'unsafe-inline'")
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("nonce in csp")
        .to_string();
    let html = page.text().await.expect("html");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "hydration script carries the nonce"
    );

    let api = reqwest::get(app.url("/api/v1/auth/me")).await.expect("api");
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}
