//! "Confirm it's you": actions that destroy a recovery point or replace data ask for the
//! password again when the session last checked it too long ago; the check is audited and
//! recorded with the action.

use crate::support::*;
use app::api::{job_status, StartedJob, CONFIRM_REQUIRED};
use std::time::Duration;

async fn refusal(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (status, body["error"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn destructive_actions_ask_for_the_password_again_after_the_window() {
    let url = sample_database("lb_confirm", 200).await;
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_CONFIRM_PASSWORD_AFTER", "2s".into())],
        target: Some(url),
    })
    .await;
    // Two backups: the older one is the one deleted (the newest never is).
    let mut ids = vec![];
    for _ in 0..2 {
        let started: StartedJob = app.start_backup().await.json().await.expect("started");
        let job = app.wait(started.job_id).await;
        assert_eq!(job.status, job_status::SUCCEEDED);
        ids.push(job.backup_id.expect("backup"));
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let id = ids[0];
    let pin = |pinned: bool| {
        app.client
            .post(app.url(&format!("/api/v1/backups/{id}/pin")))
            .json(&serde_json::json!({ "pinned": pinned }))
            .send()
    };
    // Within the window nothing is asked.
    assert!(pin(true).await.expect("pin").status().is_success());
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Past it: pinning still works, the destructive actions are refused with 403.
    assert!(pin(true).await.expect("pin").status().is_success());
    let confirm_required = (403, CONFIRM_REQUIRED.to_string());
    assert_eq!(
        refusal(pin(false).await.expect("unpin")).await,
        confirm_required
    );
    let delete = || {
        app.client
            .delete(app.url(&format!("/api/v1/backups/{id}")))
            .send()
    };
    assert_eq!(
        refusal(delete().await.expect("delete")).await,
        confirm_required
    );
    let restore = app
        .client
        .post(app.url("/api/v1/restores"))
        .json(&serde_json::json!({ "backup_id": id, "confirm": "lb_confirm" }))
        .send()
        .await
        .expect("restore");
    assert_eq!(refusal(restore).await, confirm_required);
    let schedule = |expression: Option<&str>| {
        app.client
            .put(app.url("/api/v1/schedule"))
            .json(&serde_json::json!({ "expression": expression, "zone": "UTC" }))
            .send()
    };
    assert_eq!(
        refusal(schedule(None).await.expect("schedule off")).await,
        confirm_required
    );
    // Changing the schedule to another time is not destructive.
    assert!(schedule(Some("0 3 * * *"))
        .await
        .expect("on")
        .status()
        .is_success());
    assert!(app.backup_detail(id).await.backup.pinned, "nothing changed");

    // A wrong password does not confirm (and is audited); the right one does.
    let confirm = |password: &str| {
        app.client
            .post(app.url("/api/v1/auth/confirm"))
            .json(&serde_json::json!({ "password": password }))
            .send()
    };
    let wrong = confirm("not the password").await.expect("confirm");
    assert_eq!(wrong.status(), 403);
    assert_eq!(
        refusal(delete().await.expect("delete")).await,
        confirm_required
    );
    assert_eq!(confirm(PASSWORD).await.expect("confirm").status(), 204);
    assert!(pin(false).await.expect("unpin").status().is_success());
    assert!(schedule(None).await.expect("off").status().is_success());
    assert!(delete().await.expect("delete").status().is_success());

    let confirmations = app.audit_with("auth.confirm").await;
    let outcomes: Vec<&str> = confirmations.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, vec!["failure", "success"], "oldest first");
    let deleted = app.audit_with("backup.delete").await;
    assert_eq!(deleted.len(), 1);
    assert!(
        deleted[0].details["password_confirmed_at"].is_string(),
        "{:?}",
        deleted[0].details
    );
    let off = app.audit_with("settings.changed").await;
    assert!(
        off[0].details.get("password_confirmed_at").is_none(),
        "a change to 03:00 needed none"
    );
    assert!(off[1].details["password_confirmed_at"].is_string());

    // The window starts again: past it, the password is asked for again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        refusal(schedule(None).await.expect("schedule off")).await,
        confirm_required
    );
}
