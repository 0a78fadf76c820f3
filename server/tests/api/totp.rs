//! Two-factor sign-in: enrolment with a TOTP app (codes computed here from the secret the
//! server returned), the login's second step, single use of codes and recovery codes,
//! throttling, turning it off, and requiring it for everyone.

use crate::support::*;
use app::api::{LoginAnswer, RecoveryCodes, Role, SecondFactorReset, TotpEnrolment, TotpStatus};
use server::second_factor::{code_at, step_of};

fn now_step() -> i64 {
    step_of(chrono::Utc::now().timestamp())
}

/// Enrols the signed-in client; returns the secret, the step of the code that confirmed
/// it, and the recovery codes.
async fn enrol(app: &TestApp, client: &reqwest::Client) -> (String, i64, Vec<String>) {
    let e: TotpEnrolment = client
        .post(app.url("/api/v1/auth/totp/enrol"))
        .send()
        .await
        .expect("enrol")
        .json()
        .await
        .expect("enrolment");
    assert!(
        e.otpauth_uri.starts_with("otpauth://totp/Lifeboat"),
        "{}",
        e.otpauth_uri
    );
    let step = now_step();
    let r = client
        .post(app.url("/api/v1/auth/totp/confirm"))
        .json(&serde_json::json!({ "code": code_at(&e.secret, step).expect("code") }))
        .send()
        .await
        .expect("confirm");
    assert_eq!(r.status(), 200);
    let codes: RecoveryCodes = r.json().await.expect("codes");
    assert_eq!(codes.recovery_codes.len(), 10);
    (e.secret, step, codes.recovery_codes)
}

async fn second_factor(app: &TestApp, client: &reqwest::Client, code: &str) -> reqwest::Response {
    client
        .post(app.url("/api/v1/auth/second-factor"))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .expect("second factor")
}

/// A new client that has given the right password: it waits for its second factor.
async fn after_password(app: &TestApp) -> reqwest::Client {
    let client = client_for(&app.base);
    let r = app.login_with(&client, "admin", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let answer: LoginAnswer = r.json().await.expect("answer");
    assert!(answer.second_factor && answer.me.is_none(), "{answer:?}");
    client
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
async fn a_valid_code_signs_in_a_used_or_wrong_one_does_not() {
    let app = TestApp::signed_in(Options::default()).await;
    let (secret, step, _) = enrol(&app, &app.client).await;
    assert_eq!(app.audit_with("totp.enabled").await.len(), 1);

    let client = after_password(&app).await;
    // The password alone gives no session.
    assert_eq!(me_status(&app, &client).await, 401);
    let backups = client
        .get(app.url("/api/v1/backups"))
        .send()
        .await
        .expect("get");
    assert_eq!(backups.status(), 401);
    // The code that confirmed the enrolment is spent.
    let used = code_at(&secret, step).expect("code");
    let r = second_factor(&app, &client, &used).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.expect("body").contains("used already"));
    let wrong = if used == "000000" { "111111" } else { "000000" };
    assert_eq!(second_factor(&app, &client, wrong).await.status(), 401);
    assert_eq!(me_status(&app, &client).await, 401);

    // The next step's code is within the window and unused.
    let next = code_at(&secret, step + 1).expect("code");
    let r = second_factor(&app, &client, &next).await;
    assert_eq!(r.status(), 200);
    assert_eq!(me_status(&app, &client).await, 200);

    // The same code again, on another sign-in: refused.
    let other = after_password(&app).await;
    assert_eq!(second_factor(&app, &other, &next).await.status(), 401);
    assert_eq!(me_status(&app, &other).await, 401);

    let logins = app.audit_with("auth.login").await;
    let reasons: Vec<String> = logins
        .iter()
        .map(|e| format!("{} {}", e.outcome, e.details))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("\"second_factor\":\"totp\"")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("already used")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("wrong second-factor code")),
        "{reasons:?}"
    );
    // Never the secret in the log.
    for e in app.audit().await {
        assert!(!e.details.to_string().contains(&secret), "{e:?}");
    }
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = TestApp::signed_in(Options::default()).await;
    let (secret, step, _) = enrol(&app, &app.client).await;
    let client = after_password(&app).await;
    let right = code_at(&secret, step + 1).expect("code");
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(second_factor(&app, &client, wrong).await.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[401, 401, 401], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // Even the right code waits its turn.
    assert_eq!(second_factor(&app, &client, &right).await.status(), 429);
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = TestApp::signed_in(Options::default()).await;
    let (_, _, codes) = enrol(&app, &app.client).await;
    let client = after_password(&app).await;
    let typed = codes[3].to_uppercase();
    assert_eq!(second_factor(&app, &client, &typed).await.status(), 200);
    assert_eq!(me_status(&app, &client).await, 200);
    let used = app.audit_with("totp.recovery_code_used").await;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].details["recovery_codes_left"], 9);
    assert!(!used[0].details.to_string().contains(&codes[3]));

    let again = after_password(&app).await;
    assert_eq!(second_factor(&app, &again, &codes[3]).await.status(), 401);
    assert_eq!(me_status(&app, &again).await, 401);
    let status: TotpStatus = app
        .client
        .get(app.url("/api/v1/auth/totp"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!((status.enabled, status.recovery_codes_left), (true, 9));
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_a_code() {
    let app = TestApp::signed_in(Options::default()).await;
    let (secret, step, _) = enrol(&app, &app.client).await;
    let disable = |password: &str, code: String| {
        app.client
            .post(app.url("/api/v1/auth/totp/disable"))
            .json(&serde_json::json!({ "password": password, "code": code }))
            .send()
    };
    let next = code_at(&secret, step + 1).expect("code");
    let r = disable("not the password", next.clone())
        .await
        .expect("disable");
    assert_eq!(r.status(), 403);
    let wrong = if next == "000000" { "111111" } else { "000000" };
    let r = disable(PASSWORD, wrong.to_string()).await.expect("disable");
    assert_eq!(r.status(), 403);
    let r = disable(PASSWORD, next).await.expect("disable");
    assert_eq!(r.status(), 204);
    assert_eq!(app.audit_with("totp.disabled").await.len(), 3);

    // The password alone signs in again.
    let client = client_for(&app.base);
    let answer: LoginAnswer = app
        .login_with(&client, "admin", PASSWORD)
        .await
        .json()
        .await
        .expect("answer");
    assert!(!answer.second_factor && answer.me.is_some(), "{answer:?}");
    assert_eq!(me_status(&app, &client).await, 200);
}

#[tokio::test]
async fn when_required_a_person_without_one_enrols_before_getting_a_session() {
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_REQUIRE_2FA", "true".into())],
        ..Options::default()
    })
    .await;
    app.add_user("admin", PASSWORD).await;
    let answer: LoginAnswer = app
        .login("admin", PASSWORD)
        .await
        .json()
        .await
        .expect("answer");
    assert!(
        answer.enrolment_required && answer.me.is_none(),
        "{answer:?}"
    );
    assert_eq!(me_status(&app, &app.client).await, 401);
    let backups = app
        .client
        .get(app.url("/api/v1/backups"))
        .send()
        .await
        .expect("get");
    assert_eq!(backups.status(), 401);
    let (secret, step, _) = enrol(&app, &app.client).await;
    assert_eq!(me_status(&app, &app.client).await, 200);
    // It cannot be turned off while required.
    let r = app
        .client
        .post(app.url("/api/v1/auth/totp/disable"))
        .json(&serde_json::json!({
            "password": PASSWORD,
            "code": code_at(&secret, step + 1).expect("code"),
        }))
        .send()
        .await
        .expect("disable");
    assert_eq!(r.status(), 409);
    // The next sign-in asks for a code.
    let client = after_password(&app).await;
    assert_eq!(me_status(&app, &client).await, 401);
}

/// The dark modules an enrolment's SVG draws: one `M{x} {y}h1v1H{x}V{y}` square each.
fn dark_modules(svg: &str) -> std::collections::BTreeSet<(usize, usize)> {
    let path = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the SVG has a path");
    path.split('M')
        .filter(|m| !m.is_empty())
        .map(|m| {
            let (xy, size) = m.split_once('h').expect("a square");
            assert!(size.starts_with("1v1H"), "one module a square: {m}");
            let (x, y) = xy.split_once(' ').expect("x y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect()
}

#[tokio::test]
async fn enrolment_shows_the_otpauth_uri_as_a_qr_code() {
    let app = TestApp::signed_in(Options::default()).await;
    let e: TotpEnrolment = app
        .client
        .post(app.url("/api/v1/auth/totp/enrol"))
        .send()
        .await
        .expect("enrol")
        .json()
        .await
        .expect("enrolment");
    let svg = e.qr_svg.expect("a QR code");
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    // The QR code of the URI returned, drawn here: same size (modules for this URI's
    // length, plus the quiet zone of four) and the same dark modules.
    let code = qrcode::QrCode::new(e.otpauth_uri.as_bytes()).expect("qr");
    let quiet = server::second_factor::QR_QUIET_ZONE;
    let side = code.width() + 2 * quiet;
    assert!(
        svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)),
        "{side} modules a side: {svg}"
    );
    assert!(svg.contains(
        r##"<rect x="0" y="0" width="{side}" height="{side}" fill="#ffffff"/>"##
            .replace("{side}", &side.to_string())
            .as_str()
    ));
    let expected: std::collections::BTreeSet<(usize, usize)> = code
        .to_colors()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == qrcode::Color::Dark)
        .map(|(i, _)| (i % code.width() + quiet, i / code.width() + quiet))
        .collect();
    assert!(expected.len() > 100);
    assert_eq!(dark_modules(&svg), expected);
    // The secret in the URI is the one shown for typing in.
    assert!(e.otpauth_uri.contains(&format!("secret={}&", e.secret)));
}

/// `DELETE /api/v1/users/{id}/totp` by `client`.
async fn reset_second_factor(
    app: &TestApp,
    client: &reqwest::Client,
    id: i64,
) -> reqwest::Response {
    client
        .delete(app.url(&format!("/api/v1/users/{id}/totp")))
        .send()
        .await
        .expect("reset")
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    server::users::find(&app.server.state.db, name)
        .await
        .expect("find")
        .expect("the account")
        .id
}

/// Logs `name` in on a new client and returns the answer.
async fn login_answer(app: &TestApp, name: &str) -> (reqwest::Client, LoginAnswer) {
    let client = client_for(&app.base);
    let r = app.login_with(&client, name, PASSWORD).await;
    assert_eq!(r.status(), 200);
    (client, r.json().await.expect("answer"))
}

#[tokio::test]
async fn an_admin_resets_a_lost_second_factor_and_the_password_alone_signs_in_again() {
    let app = TestApp::signed_in(Options::default()).await;
    let victor = crate::roles::signed_in_as(&app, "victor", Role::Operator).await;
    let (secret, _, codes) = enrol(&app, &victor).await;
    let olivia = crate::roles::signed_in_as(&app, "olivia", Role::Operator).await;
    let id = user_id(&app, "victor").await;
    let (_, answer) = login_answer(&app, "victor").await;
    assert!(answer.second_factor, "{answer:?}");

    // An operator may not; an administrator may not reset their own (a code turns it off).
    assert_eq!(reset_second_factor(&app, &olivia, id).await.status(), 403);
    let own = user_id(&app, "admin").await;
    assert_eq!(
        reset_second_factor(&app, &app.client, own).await.status(),
        409
    );
    assert_eq!(
        reset_second_factor(&app, &app.client, 987_654)
            .await
            .status(),
        404
    );
    // Nor may an administrator's API token (tokens never manage second factors).
    let token: app::api::CreatedToken = app
        .client
        .post(app.url("/api/v1/tokens"))
        .json(&serde_json::json!({ "name": "admin script" }))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token");
    let by_token = reqwest::Client::new()
        .delete(app.url(&format!("/api/v1/users/{id}/totp")))
        .bearer_auth(&token.token)
        .send()
        .await
        .expect("reset with a token");
    assert_eq!(by_token.status(), 403);
    assert!(app.audit_with("totp.reset").await.is_empty());

    let r = reset_second_factor(&app, &app.client, id).await;
    assert_eq!(r.status(), 200);
    let reset: SecondFactorReset = r.json().await.expect("reset");
    assert!(reset.was_enabled && !reset.person.two_factor, "{reset:?}");
    assert!(reset.sessions_ended >= 1, "{reset:?}");
    // Victor's sessions ended.
    assert_eq!(me_status(&app, &victor).await, 401);

    // Audited: who and whose, never the secret or a recovery code.
    let events = app.audit_with("totp.reset").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_deref(), Some("admin"));
    assert_eq!(events[0].target.as_deref(), Some("victor"));
    let row = serde_json::to_string(&events[0]).expect("json");
    assert!(!row.contains(&secret), "{row}");
    assert!(codes.iter().all(|c| !row.contains(c.as_str())), "{row}");

    // The password alone signs in now; the old recovery codes are gone.
    let (client, answer) = login_answer(&app, "victor").await;
    assert!(
        !answer.second_factor && !answer.enrolment_required && answer.me.is_some(),
        "{answer:?}"
    );
    assert_eq!(me_status(&app, &client).await, 200);
    let status: TotpStatus = client
        .get(app.url("/api/v1/auth/totp"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("status");
    assert!(
        !status.enabled && status.recovery_codes_left == 0,
        "{status:?}"
    );
}

#[tokio::test]
async fn after_a_reset_a_required_second_factor_is_enrolled_again_at_the_next_sign_in() {
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_REQUIRE_2FA", "true".into())],
        ..Options::default()
    })
    .await;
    app.add_user("admin", PASSWORD).await;
    app.login("admin", PASSWORD).await;
    enrol(&app, &app.client).await;
    let victor = crate::roles::signed_in_as(&app, "victor", Role::Viewer).await;
    enrol(&app, &victor).await;
    assert_eq!(me_status(&app, &victor).await, 200);

    let id = user_id(&app, "victor").await;
    assert_eq!(
        reset_second_factor(&app, &app.client, id).await.status(),
        200
    );
    assert_eq!(me_status(&app, &victor).await, 401);
    let (client, answer) = login_answer(&app, "victor").await;
    assert!(
        answer.enrolment_required && answer.me.is_none(),
        "{answer:?}"
    );
    assert_eq!(me_status(&app, &client).await, 401);
    enrol(&app, &client).await;
    assert_eq!(me_status(&app, &client).await, 200);
}

#[tokio::test]
async fn the_command_line_resets_a_second_factor() {
    let app = TestApp::signed_in(Options::default()).await;
    let victor = crate::roles::signed_in_as(&app, "victor", Role::Operator).await;
    enrol(&app, &victor).await;
    let (ok, out) =
        crate::people::lifeboat(app.data_dir.path(), &["user", "reset-2fa", "victor"], "");
    assert!(ok, "{out}");
    assert_eq!(out["username"], "victor");
    assert_eq!(out["two_factor_was_enabled"], true, "{out}");
    assert_eq!(out["sessions_ended"], 1, "{out}");
    assert_eq!(me_status(&app, &victor).await, 401);
    let events = app.audit_with("totp.reset").await;
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .actor
            .as_deref()
            .is_some_and(|a| a.starts_with("os:")),
        "{events:?}"
    );
    let (_, answer) = login_answer(&app, "victor").await;
    assert!(answer.me.is_some() && !answer.second_factor, "{answer:?}");
    let (ok, out) =
        crate::people::lifeboat(app.data_dir.path(), &["user", "reset-2fa", "nobody"], "");
    assert!(!ok, "{out}");
}
