//! Alerts: delivered to a real SMTP server (aiosmtpd) and to a local HTTP receiver, with
//! the messages' content checked; consecutive failures raise one; delivery failures are
//! retried and audited.

use crate::support::*;
use app::api::{audit_action, outcome};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A local HTTP receiver: records every JSON body posted to it, answers `status`.
pub(crate) async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    receiver_on(listener, status)
}

/// [`receiver`] on a listener of the caller's.
fn receiver_on(
    listener: tokio::net::TcpListener,
    status: u16,
) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use axum::routing::post;
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("lock").push(v);
                axum::http::StatusCode::from_u16(status).expect("status")
            }
        }),
    );
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), got)
}

/// aiosmtpd on a free loopback port, printing each message it receives.
struct Smtp {
    child: Child,
    port: u16,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Smtp {
    fn start() -> Smtp {
        let pythonpath = std::env::var("LIFEBOAT_TEST_PYTHONPATH")
            .expect("LIFEBOAT_TEST_PYTHONPATH: aiosmtpd (scripts/bootstrap.sh --test installs it)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("mail.txt");
        let child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
            ])
            .env("PYTHONPATH", pythonpath)
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        // Up to a minute: the Python receiver takes seconds to start on a loaded machine.
        for _ in 0..1200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    fn received(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_test_alert_reaches_the_webhook_and_the_mailbox() {
    let url = sample_database("lb_alert_test", 100).await;
    let (hook, got) = receiver(200).await;
    let smtp = Smtp::start();
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
            ("LIFEBOAT_ALERT_WEBHOOK_FORMAT", "generic".into()),
            ("LIFEBOAT_SMTP_HOST", "127.0.0.1".into()),
            ("LIFEBOAT_SMTP_PORT", smtp.port.to_string()),
            ("LIFEBOAT_SMTP_SECURITY", "none".into()),
            (
                "LIFEBOAT_ALERT_EMAIL_FROM",
                "Lifeboat <lifeboat@example.com>".into(),
            ),
            (
                "LIFEBOAT_ALERT_EMAIL_TO",
                "ops@example.com, dba@example.com".into(),
            ),
        ],
        target: Some(url),
    })
    .await;
    let r = app
        .client
        .post(app.url("/api/v1/alerts/test"))
        .send()
        .await
        .expect("test alert");
    assert_eq!(r.status(), 200);
    let deliveries: Vec<server::alerts::Delivery> = r.json().await.expect("json");
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.ok), "{deliveries:?}");

    let hooks = got.lock().expect("lock").clone();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["event"], "test");
    assert_eq!(hooks[0]["title"], "Test alert");
    assert_eq!(hooks[0]["database"], "lb_alert_test");
    assert!(hooks[0]["text"]
        .as_str()
        .unwrap_or("")
        .contains("admin sent this test"));

    let mut mail = String::new();
    for _ in 0..50 {
        mail = smtp.received();
        if mail.contains("Test alert") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(mail.contains("Subject: [Lifeboat] Test alert"), "{mail}");
    assert!(
        mail.contains("ops@example.com") && mail.contains("dba@example.com"),
        "{mail}"
    );
    assert!(mail.contains("admin sent this test"), "{mail}");

    let audits = app.audit_with(audit_action::ALERT).await;
    assert_eq!(audits.len(), 2);
    assert!(audits.iter().all(|a| a.outcome == outcome::SUCCESS));
}

#[tokio::test]
async fn consecutive_failed_backups_raise_an_alert() {
    let url = sample_database("lb_alert_failures", 100).await;
    let (hook, got) = receiver(200).await;
    let broken = fake_pg_dump("echo 'pg_dump: error: disk on fire' >&2; exit 1");
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
            ("LIFEBOAT_ALERT_WEBHOOK_FORMAT", "slack".into()),
            ("LIFEBOAT_PG_BIN_DIR", broken.path().display().to_string()),
        ],
        target: Some(url),
    })
    .await;
    for _ in 0..2 {
        let s: app::api::StartedJob = app.start_backup().await.json().await.expect("started");
        assert_eq!(app.wait(s.job_id).await.status, "failed");
    }
    // Only this event (a nearly full disk where the tests run adds a low-space alert).
    let failures = |all: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        all.into_iter()
            .filter(|h| h["text"].as_str().unwrap_or("").contains("in a row"))
            .collect()
    };
    let mut hooks = vec![];
    for _ in 0..100 {
        hooks = failures(got.lock().expect("lock").clone());
        if !hooks.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    hooks = failures(got.lock().expect("lock").clone());
    assert_eq!(hooks.len(), 1, "one alert at the second failure: {hooks:?}");
    let text = hooks[0]["text"].as_str().unwrap_or("");
    assert!(
        text.starts_with("*2 backups of lb_alert_failures failed in a row*"),
        "{text}"
    );
}

#[tokio::test]
async fn an_undeliverable_alert_is_retried_then_audited_as_failed() {
    let url = sample_database("lb_alert_retry", 100).await;
    let (hook, got) = receiver(500).await;
    let app = spawn_app(Options {
        env: vec![],
        target: Some(url),
    })
    .await;
    let settings = server::alerts::Settings {
        webhook: Some(server::alerts::Webhook {
            url: server::secret::Secret::new(hook),
            format: server::alerts::WebhookFormat::Generic,
        }),
        retry_delays: vec![Duration::from_millis(50), Duration::from_millis(100)],
        ..Default::default()
    };
    let alerter = server::alerts::Alerter::new(settings, app.server.state.db.clone());
    let d = alerter
        .deliver(&server::alerts::Alert {
            event: server::alerts::event::TEST,
            database: None,
            title: "unreachable".into(),
            text: "x".into(),
        })
        .await;
    assert_eq!(d.len(), 1);
    assert!(!d[0].ok);
    assert_eq!(d[0].attempts, 3);
    assert!(d[0].error.clone().unwrap_or_default().contains("500"));
    assert_eq!(
        got.lock().expect("lock").len(),
        3,
        "three attempts reached the receiver"
    );
    let audits: Vec<_> = app.audit_with(audit_action::ALERT).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].outcome, outcome::FAILURE);
    assert_eq!(audits[0].details["attempts"], 3);
}

#[tokio::test]
async fn scheduled_backups_turned_off_raise_an_alert_and_a_warning_unless_on_purpose() {
    let url = sample_database("lb_schedule_off", 100).await;
    let (hook, got) = receiver(200).await;
    let app = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
            ("LIFEBOAT_SCHEDULE", "0 2 * * *".into()),
            ("LIFEBOAT_SCHEDULE_OFF_OK", "false".into()),
        ],
        target: Some(url.clone()),
    })
    .await;
    let off_alerts = |got: &Arc<Mutex<Vec<serde_json::Value>>>| -> Vec<serde_json::Value> {
        got.lock()
            .expect("lock")
            .iter()
            .filter(|h| h["event"] == "schedule_off")
            .cloned()
            .collect()
    };
    let status = || async {
        let s: app::api::BackupStatus = app.backup_status().await;
        s
    };
    assert!(!status().await.schedule_off_warning, "a schedule is set");
    let r = app
        .client
        .put(app.url("/api/v1/schedule"))
        .json(&serde_json::json!({ "expression": null }))
        .send()
        .await
        .expect("off");
    assert!(r.status().is_success(), "{}", r.status());
    assert!(status().await.schedule_off_warning);
    // /readyz says so by name, to strangers too (a fresh run of the checks is asked for).
    let schedule_ok = |base: &TestApp, path: &'static str| {
        let (client, url) = (base.client.clone(), base.url(path));
        async move {
            let r: app::api::ReadyReport = client
                .get(url)
                .send()
                .await
                .expect("readyz")
                .json()
                .await
                .expect("json");
            r.checks
                .iter()
                .find(|c| c.name == "schedule")
                .map(|c| c.ok)
                .expect("a schedule check")
        }
    };
    assert!(!schedule_ok(&app, "/readyz?refresh=1").await);
    let anonymous: app::api::ReadyReport = reqwest::get(app.url("/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert!(!anonymous.ready);
    assert!(anonymous
        .checks
        .iter()
        .any(|c| c.name == "schedule" && !c.ok));
    let mut alerts = vec![];
    for _ in 0..100 {
        alerts = off_alerts(&got);
        if !alerts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let text = alerts[0]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("admin turned scheduled backups off"),
        "{text}"
    );
    assert!(text.contains("LIFEBOAT_SCHEDULE_OFF_OK"), "{text}");

    // Started with the schedule off: alerted at start-up too.
    let (hook, got) = receiver(200).await;
    let _unscheduled = TestApp::signed_in(Options {
        env: vec![
            ("LIFEBOAT_ALERT_WEBHOOK_URL", hook),
            ("LIFEBOAT_SCHEDULE_OFF_OK", "false".into()),
        ],
        target: Some(url.clone()),
    })
    .await;
    for _ in 0..100 {
        if !off_alerts(&got).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(off_alerts(&got).len(), 1);

    // Off on purpose: no alert, no warning.
    let (hook, got) = receiver(200).await;
    let quiet = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_ALERT_WEBHOOK_URL", hook)],
        target: Some(url),
    })
    .await;
    let s: app::api::BackupStatus = quiet.backup_status().await;
    assert!(!s.schedule_off_warning);
    assert!(schedule_ok(&quiet, "/readyz?refresh=1").await);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(off_alerts(&got).is_empty());
}

#[tokio::test]
async fn an_undelivered_alert_is_kept_and_delivered_after_a_restart() {
    let data = tempfile::tempdir().expect("tmp");
    // The receiver is down: nothing listens on its port yet.
    let port = server::dev::pgcluster::free_port().expect("port");
    let opts = Options {
        env: vec![(
            "LIFEBOAT_ALERT_WEBHOOK_URL",
            format!("http://127.0.0.1:{port}/hook"),
        )],
        target: Some(pg_url()),
    };
    let start = |opts: &Options| {
        let mut config = config_for(data.path(), opts);
        config.alerts.retry_delays = vec![Duration::from_millis(50)];
        let target = config.target_url.clone();
        server::startup::start(config, target)
    };
    let first = start(&opts).await.expect("start");
    let engine = first.state.engine.clone();
    engine.alerts().send(server::alerts::Alert {
        event: server::alerts::event::BACKUP_FAILED,
        database: Some("shop".into()),
        title: "Backup of shop failed".into(),
        text: "pg_dump exited with 1".into(),
    });
    let failures = engine.followups().wait(|_| {}).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("kept, delivered again"),
        "{failures:?}"
    );
    let kept = server::store::pending_alerts::list(engine.db())
        .await
        .expect("list");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].channels, "webhook");
    first.stop().await.expect("stop");

    // The receiver is up again on the same address; Lifeboat restarts.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the receiver's port");
    let (_, got) = receiver_on(listener, 200);
    let second = start(&opts).await.expect("restart");
    let mut delivered = vec![];
    for _ in 0..100 {
        delivered = got.lock().expect("lock").clone();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["event"], "backup_failed");
    assert_eq!(delivered[0]["title"], "Backup of shop failed");
    let mut left = vec![];
    for _ in 0..50 {
        left = server::store::pending_alerts::list(&second.state.db)
            .await
            .expect("list");
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(left.is_empty(), "delivered alerts are no longer kept");
    second.stop().await.expect("stop");
}
