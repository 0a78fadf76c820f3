//! The login throttle seen from outside: per account and address, per address, a looser
//! ceiling per account, clients told apart through a trusted proxy, and throttled
//! attempts audited as counts.

use crate::support::*;
use app::api::audit_action;
use std::time::Duration;

/// Lifeboat behind a proxy on this machine: requests come from 127.0.0.1 and name their
/// client in X-Forwarded-For.
async fn behind_a_proxy() -> TestApp {
    spawn_app(Options {
        env: vec![("LIFEBOAT_TRUST_PROXY", "127.0.0.1, ::1".into())],
        ..Default::default()
    })
    .await
}

async fn login_from(app: &TestApp, forwarded: &str, user: &str, password: &str) -> u16 {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded)
        .json(&serde_json::json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn hammering_an_account_from_one_address_does_not_lock_its_owner_out_elsewhere() {
    let app = behind_a_proxy().await;
    app.add_user("admin", PASSWORD).await;
    // Address A guesses until it is held back; the left-most entries are the client's
    // own words and change nothing.
    let mut answers = vec![];
    for i in 0..10 {
        let forwarded = format!("10.9.9.{i}, 198.51.100.1");
        let status = login_from(&app, &forwarded, "admin", "not the password").await;
        answers.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(answers, [401, 401, 401, 401, 429], "A is throttled after 4");
    assert_eq!(
        login_from(&app, "198.51.100.1", "admin", PASSWORD).await,
        429,
        "A itself still waits"
    );
    // The owner, from address B, gets in.
    assert_eq!(
        login_from(&app, "203.0.113.5", "admin", PASSWORD).await,
        200
    );

    let failures: Vec<_> = app
        .audit_with(audit_action::LOGIN)
        .await
        .into_iter()
        .filter(|e| e.details["reason"] == "wrong username or password")
        .collect();
    assert_eq!(failures.len(), 4);
    assert!(
        failures
            .iter()
            .all(|e| e.client_ip.as_deref() == Some("198.51.100.1")),
        "{failures:?}"
    );
}

#[tokio::test]
async fn a_flood_from_many_addresses_reaches_the_accounts_ceiling() {
    let app = behind_a_proxy().await;
    app.add_user("admin", PASSWORD).await;
    // Ten addresses, three wrong passwords each (their free allowance): thirty failures,
    // none of them held back.
    let floods = (1..=10).map(|a| {
        let app = &app;
        async move {
            let mut statuses = vec![];
            for _ in 0..3 {
                let from = format!("192.0.2.{a}");
                statuses.push(login_from(app, &from, "admin", "a wrong guess").await);
            }
            statuses
        }
    });
    let statuses: Vec<u16> = futures::future::join_all(floods)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(statuses, vec![401; 30]);
    assert_eq!(
        login_from(&app, "192.0.2.11", "admin", "a wrong guess").await,
        401
    );
    // Past the account's ceiling: everyone waits, the owner from a fresh address too.
    assert_eq!(
        login_from(&app, "203.0.113.5", "admin", PASSWORD).await,
        429
    );
    // Another account is not affected.
    app.add_user("backup-operator", PASSWORD).await;
    assert_eq!(
        login_from(&app, "203.0.113.5", "backup-operator", PASSWORD).await,
        200
    );
}

#[tokio::test]
async fn throttled_attempts_are_audited_as_counts_not_one_row_each() {
    let app = spawn_app(Options::default()).await;
    app.add_user("alice", PASSWORD).await;
    for _ in 0..4 {
        assert_eq!(app.login("alice", "wrong password!!").await.status(), 401);
    }
    let mut throttled = 0u64;
    let mut retry_after = 1;
    for _ in 0..200 {
        let r = app.login("alice", "wrong password!!").await;
        if r.status() == 429 {
            throttled += 1;
            retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After");
        }
    }
    assert!(throttled >= 150, "only {throttled} of 200 were throttled");
    // The next attempt let through reports the tally before its own outcome.
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(200)).await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);

    let rows: Vec<_> = app
        .audit_with(audit_action::LOGIN)
        .await
        .into_iter()
        .filter(|e| e.details["reason"] == "throttled")
        .collect();
    assert!(
        !rows.is_empty() && rows.len() <= 5,
        "{} rows for {throttled} throttled attempts",
        rows.len()
    );
    let counted: u64 = rows
        .iter()
        .map(|e| e.details["attempts"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted, throttled);
    let last = rows.last().expect("a row");
    assert_eq!(last.target.as_deref(), Some("alice"));
    assert_eq!(last.client_ip.as_deref(), Some("127.0.0.1"));
    let summary = last.details["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("throttled sign-in attempts for alice from 127.0.0.1"),
        "{summary}"
    );
}

#[tokio::test]
async fn x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    // Only 10.0.0.0/8 is trusted; this test connects from 127.0.0.1.
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_TRUST_PROXY", "10.0.0.0/8".into())],
        ..Default::default()
    })
    .await;
    app.add_user("admin", PASSWORD).await;
    assert_eq!(
        login_from(&app, "198.51.100.9", "admin", "not the password").await,
        401
    );
    let failure = app.audit_with(audit_action::LOGIN).await;
    assert_eq!(failure.len(), 1);
    assert_eq!(failure[0].client_ip.as_deref(), Some("127.0.0.1"));
}
