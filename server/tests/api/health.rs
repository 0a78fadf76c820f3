//! `/healthz`, `/readyz` and the security headers.

use crate::support::*;
use app::api::ReadyReport;

#[tokio::test]
async fn healthz_answers() {
    let app = spawn_app(Options::default()).await;
    let r = reqwest::get(app.url("/healthz")).await.expect("healthz");
    assert_eq!(r.status(), 200);
}

/// `/readyz` as the signed-in `app.client` sees it (with each check's detail).
async fn ready(app: &TestApp) -> (u16, ReadyReport) {
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
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
    let app = TestApp::signed_in(Options::default()).await;
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
            "last_test_restore",
            "schedule"
        ]
    );
    assert!(check(&report, "target").detail.contains("PostgreSQL"));
    assert!(report.checked_at.is_some());
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
    let app = TestApp::signed_in(Options {
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
    let app = TestApp::signed_in(Options {
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
    let app = TestApp::signed_in(Options {
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
    let app = TestApp::signed_in(Options {
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

/// Connections to `database` on the test cluster right now.
async fn connections_to(admin: &tokio_postgres::Client, database: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
            &[&database],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}

#[tokio::test]
async fn a_burst_of_anonymous_readyz_calls_never_reaches_the_target_nor_learns_about_it() {
    let url = create_database("lb_readyz_burst").await;
    let app = spawn_app(Options {
        target: Some(url),
        ..Default::default()
    })
    .await;
    let (admin, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(conn);
    // The check at start-up has run (the first answer waits for it) and its connection
    // is gone.
    let first = reqwest::get(app.url("/readyz")).await.expect("readyz");
    assert_eq!(first.status(), 200);
    let mut before = connections_to(&admin, "lb_readyz_burst").await;
    for _ in 0..100 {
        if before == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        before = connections_to(&admin, "lb_readyz_burst").await;
    }
    // The most connections seen while the burst runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut most = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                most = most.max(connections_to(&admin, "lb_readyz_burst").await);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            most
        })
    };
    let stranger = reqwest::Client::new();
    let calls = (0..300).map(|_| {
        let (c, u) = (stranger.clone(), app.url("/readyz"));
        async move {
            let r = c.get(u).send().await.expect("readyz");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    });
    let answers = futures::future::join_all(calls).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let most = watcher.await.expect("watcher");
    eprintln!("connections to the target: {before} before, at most {most} during 300 calls");
    assert!(
        most <= before + 1,
        "the burst opened connections to the target: {before} before, up to {most} during"
    );

    let data_dir = app.data_dir.path().display().to_string();
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        let report: ReadyReport = serde_json::from_str(&body).expect("report");
        assert!(report.ready);
        assert_eq!(report.checks.len(), 8, "{body}");
        for leak in [
            "127.0.0.1",
            "lb_readyz_burst",
            "PostgreSQL",
            "pg_dump ",
            &data_dir,
        ] {
            assert!(
                !body.contains(leak),
                "the anonymous answer names {leak}: {body}"
            );
        }
        assert!(report.checks.iter().all(|c| c.detail.is_empty()));
        assert!(report.checked_at.is_none());
    }
}

#[tokio::test]
async fn strangers_learn_which_checks_failed_by_name_only() {
    let empty = tempfile::tempdir().expect("tmp");
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_PG_BIN_DIR", empty.path().display().to_string())],
        ..Default::default()
    })
    .await;
    let r = reqwest::get(app.url("/readyz?refresh=1"))
        .await
        .expect("readyz");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let report: ReadyReport = r.json().await.expect("report");
    let failed: Vec<_> = report.failed().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["pg_dump", "pg_restore"]);
    assert!(
        report.checks.iter().all(|c| c.detail.is_empty()),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_signed_in_refresh_runs_the_checks_again() {
    let app = TestApp::signed_in(Options::default()).await;
    let (_, first) = ready(&app).await;
    let (_, again) = ready(&app).await;
    assert_eq!(
        first.checked_at, again.checked_at,
        "served from the last run"
    );
    let asked = chrono::Utc::now();
    let r = app
        .client
        .get(app.url("/readyz?refresh=1"))
        .send()
        .await
        .expect("refresh");
    assert_eq!(r.status(), 200);
    let fresh: ReadyReport = r.json().await.expect("report");
    assert!(
        fresh.checked_at.expect("checked_at") > asked,
        "{fresh:?} not checked after {asked}"
    );
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
