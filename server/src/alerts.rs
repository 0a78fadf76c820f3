//! Alerts: email over SMTP and a JSON webhook (generic, Slack- or Discord-shaped), for the
//! events an operator must hear about — a scheduled backup that failed after its retries,
//! consecutive failed backups, a backup abnormally smaller than the previous ones, low
//! free space on the backup volume, a restore performed.
//!
//! Sending never blocks a job: each alert is delivered by its own task, retried with
//! backoff, and every delivery (or final failure) is audited.

use crate::audit::{self, Entry, Origin};
use crate::config::Secret;
use app::api::{audit_action, outcome};
use chrono::Utc;
use sqlx::SqlitePool;
use std::sync::Arc;
use std::time::Duration;

/// Alert kinds (the `event` field of webhook payloads and of the audit entry).
pub mod event {
    pub const BACKUP_FAILED: &str = "backup_failed";
    pub const CONSECUTIVE_FAILURES: &str = "consecutive_failures";
    pub const SMALL_BACKUP: &str = "small_backup";
    pub const LOW_SPACE: &str = "low_space";
    pub const RESTORE: &str = "restore";
    pub const OFFSITE_FAILED: &str = "offsite_failed";
    pub const VERIFY_FAILED: &str = "verify_failed";
    pub const TEST: &str = "test";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    Generic,
    Slack,
    Discord,
}

#[derive(Clone, Debug)]
pub struct Webhook {
    /// Incoming-webhook URLs carry their token: never logged or shown.
    pub url: Secret<String>,
    pub format: WebhookFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection (a relay on localhost).
    None,
    /// Upgrade with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Clone, Debug)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub user: Option<String>,
    pub password: Option<Secret<String>>,
    pub from: String,
    pub to: Vec<String>,
}

/// The alert settings (all from the environment).
#[derive(Clone, Debug)]
pub struct Settings {
    pub webhook: Option<Webhook>,
    pub email: Option<Email>,
    /// Alert after this many failed backups in a row (default 2).
    pub consecutive_failures: u32,
    /// A backup smaller than this share of the median of the previous 5 (default 0.5)…
    pub small_ratio: f64,
    /// …or smaller than this many bytes (default 1 MB) is suspicious.
    pub small_bytes: u64,
    /// Free space under this percentage (default 10)…
    pub low_space_percent: f64,
    /// …or under this many bytes (default 5 GB) raises an alert.
    pub low_space_bytes: u64,
    /// Delays between delivery attempts.
    pub retry_delays: Vec<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            webhook: None,
            email: None,
            consecutive_failures: 2,
            small_ratio: 0.5,
            small_bytes: 1_000_000,
            low_space_percent: 10.0,
            low_space_bytes: 5_000_000_000,
            retry_delays: vec![
                Duration::from_secs(2),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
        }
    }
}

/// One alert.
#[derive(Clone, Debug)]
pub struct Alert {
    pub event: &'static str,
    pub database: Option<String>,
    pub title: String,
    pub text: String,
}

/// Sends alerts.
#[derive(Clone)]
pub struct Alerter {
    settings: Arc<Settings>,
    db: SqlitePool,
}

/// How delivery went on one channel.
pub use app::api::AlertDelivery as Delivery;

impl Alerter {
    pub fn new(settings: Settings, db: SqlitePool) -> Alerter {
        Alerter {
            settings: Arc::new(settings),
            db,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn configured(&self) -> bool {
        self.settings.webhook.is_some() || self.settings.email.is_some()
    }

    /// Sends in the background; the caller never waits.
    pub fn send(&self, alert: Alert) {
        if !self.configured() {
            tracing::info!(
                event = alert.event,
                "alert (no channel configured): {}",
                alert.title
            );
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.deliver(&alert).await;
        });
    }

    /// Delivers on every configured channel, with retries, and audits each outcome.
    pub async fn deliver(&self, alert: &Alert) -> Vec<Delivery> {
        let mut out = vec![];
        if let Some(w) = &self.settings.webhook {
            out.push(
                self.with_retries("webhook", alert, || post_webhook(w, alert))
                    .await,
            );
        }
        if let Some(e) = &self.settings.email {
            out.push(
                self.with_retries("email", alert, || send_email(e, alert))
                    .await,
            );
        }
        out
    }

    async fn with_retries<F, Fut>(&self, channel: &str, alert: &Alert, attempt: F) -> Delivery
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let mut attempts = 0;
        let mut delays = self.settings.retry_delays.iter();
        let result = loop {
            attempts += 1;
            match attempt().await {
                Ok(()) => break Ok(()),
                Err(e) => match delays.next() {
                    Some(d) => {
                        tracing::warn!(channel, "alert delivery failed (retrying in {d:?}): {e}");
                        tokio::time::sleep(*d).await;
                    }
                    None => break Err(e),
                },
            }
        };
        if let Err(e) = &result {
            tracing::error!(channel, event = alert.event, "alert not delivered: {e}");
        }
        let audited = audit::record(
            &self.db,
            &Origin::default().with_actor("lifeboat"),
            Entry {
                action: audit_action::ALERT,
                target: alert.database.as_deref(),
                outcome: if result.is_ok() {
                    outcome::SUCCESS
                } else {
                    outcome::FAILURE
                },
                details: serde_json::json!({
                    "event": alert.event,
                    "channel": channel,
                    "title": alert.title,
                    "attempts": attempts,
                    "error": result.as_ref().err(),
                }),
            },
        )
        .await;
        if let Err(e) = audited {
            tracing::error!("could not audit an alert: {e}");
        }
        Delivery {
            channel: channel.into(),
            ok: result.is_ok(),
            error: result.err(),
            attempts,
        }
    }
}

/// The webhook body for a format.
pub fn webhook_payload(format: WebhookFormat, alert: &Alert) -> serde_json::Value {
    match format {
        WebhookFormat::Generic => serde_json::json!({
            "source": "lifeboat",
            "event": alert.event,
            "database": alert.database,
            "title": alert.title,
            "text": alert.text,
            "at": Utc::now().to_rfc3339(),
        }),
        WebhookFormat::Slack => serde_json::json!({
            "text": format!("*{}*\n{}", alert.title, alert.text),
        }),
        WebhookFormat::Discord => serde_json::json!({
            "content": format!("**{}**\n{}", alert.title, alert.text),
        }),
    }
}

async fn post_webhook(w: &Webhook, alert: &Alert) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let resp = client
        .post(w.url.expose())
        .json(&webhook_payload(w.format, alert))
        .send()
        .await
        // reqwest errors name the URL: drop it, it carries the webhook's token.
        .map_err(|e| format!("webhook request failed: {}", e.without_url()))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {}", resp.status()))
    }
}

async fn send_email(e: &Email, alert: &Alert) -> Result<(), String> {
    use lettre::message::{header::ContentType, Mailbox, Message};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let from: Mailbox = e
        .from
        .parse()
        .map_err(|err| format!("LIFEBOAT_ALERT_EMAIL_FROM `{}`: {err}", e.from))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(format!("[Lifeboat] {}", alert.title))
        .header(ContentType::TEXT_PLAIN);
    for to in &e.to {
        builder = builder.to(to
            .parse()
            .map_err(|err| format!("LIFEBOAT_ALERT_EMAIL_TO `{to}`: {err}"))?);
    }
    let body = format!(
        "{}\n\nEvent: {}\nDatabase: {}\nAt: {}\n\n-- \nLifeboat",
        alert.text,
        alert.event,
        alert.database.as_deref().unwrap_or("-"),
        Utc::now().to_rfc3339()
    );
    let message = builder
        .body(body)
        .map_err(|err| format!("building the message: {err}"))?;
    let mut transport = match e.security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&e.host),
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&e.host)
            .map_err(|err| format!("SMTP {}: {err}", e.host))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&e.host)
            .map_err(|err| format!("SMTP {}: {err}", e.host))?,
    }
    .port(e.port)
    .timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(password)) = (&e.user, &e.password) {
        transport =
            transport.credentials(Credentials::new(user.clone(), password.expose().clone()));
    }
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|err| format!("SMTP {}:{}: {err}", e.host, e.port))
}

// ----------------------------------------------------------------------------------------
// The checks after a backup
// ----------------------------------------------------------------------------------------

/// What happened to the last backups of a database (newest first): `true` = succeeded.
pub fn consecutive_failures(statuses: &[bool]) -> usize {
    statuses.iter().take_while(|ok| !**ok).count()
}

/// Whether `size` is abnormally small against the previous successful sizes (newest
/// first; the median of up to 5 is the reference).
pub fn abnormally_small(size: u64, previous: &[u64], s: &Settings) -> Option<String> {
    if size < s.small_bytes {
        return Some(format!(
            "the backup is only {size} bytes (under {} bytes)",
            s.small_bytes
        ));
    }
    let mut last: Vec<u64> = previous.iter().take(5).copied().collect();
    if last.is_empty() {
        return None;
    }
    last.sort_unstable();
    let median = last[last.len() / 2];
    (median > 0 && (size as f64) < median as f64 * s.small_ratio).then(|| {
        format!(
            "the backup is {size} bytes, under {:.0}% of the median of the previous {} ({median} bytes)",
            s.small_ratio * 100.0,
            last.len()
        )
    })
}

/// Whether the volume is short of space.
pub fn low_space(free: u64, total: u64, s: &Settings) -> Option<String> {
    let percent = if total > 0 {
        free as f64 * 100.0 / total as f64
    } else {
        100.0
    };
    (percent < s.low_space_percent || free < s.low_space_bytes).then(|| {
        format!(
            "{free} bytes free of {total} ({percent:.1}%): under {}% or {} bytes",
            s.low_space_percent, s.low_space_bytes
        )
    })
}

/// After a backup of `database` ended: consecutive failures, abnormal size, free space.
pub async fn after_backup(
    alerter: &Alerter,
    db: &SqlitePool,
    database: &str,
    backup_id: i64,
    backups_dir: &std::path::Path,
) {
    let s = alerter.settings();
    let rows: Result<Vec<(i64, String, Option<i64>)>, _> = sqlx::query_as(
        "SELECT id, status, size_bytes FROM backups WHERE database = ? AND kind != 'safety' AND status IN ('succeeded', 'failed', 'interrupted') ORDER BY COALESCE(finished_at, started_at) DESC, id DESC LIMIT 50",
    )
    .bind(database)
    .fetch_all(db)
    .await;
    let Ok(rows) = rows else { return };
    let oks: Vec<bool> = rows.iter().map(|r| r.1 == "succeeded").collect();
    let failures = consecutive_failures(&oks);
    if failures as u32 == s.consecutive_failures.max(1) {
        alerter.send(Alert {
            event: event::CONSECUTIVE_FAILURES,
            database: Some(database.into()),
            title: format!("{failures} backups of {database} failed in a row"),
            text: format!(
                "The last {failures} backups of {database} failed. The newest successful backup is getting older: look at the Backups page for the reasons."
            ),
        });
    }
    if let Some((_, status, Some(size))) = rows.iter().find(|r| r.0 == backup_id) {
        if status == "succeeded" {
            let previous: Vec<u64> = rows
                .iter()
                .filter(|r| r.0 != backup_id && r.1 == "succeeded")
                .filter_map(|r| r.2.map(|v| v as u64))
                .collect();
            if let Some(why) = abnormally_small(*size as u64, &previous, s) {
                alerter.send(Alert {
                    event: event::SMALL_BACKUP,
                    database: Some(database.into()),
                    title: format!("Backup {backup_id} of {database} is abnormally small"),
                    text: format!(
                        "{why}. Check that the database was not emptied, and that the backup contains what it should."
                    ),
                });
            }
        }
    }
    if let Ok((free, total)) = crate::storage::volume_space(backups_dir) {
        let why = low_space(free, total, s);
        if why.is_some() && !once_a_day(db, "alert.low_space.last").await {
            return;
        }
        if let Some(why) = why {
            alerter.send(Alert {
                event: event::LOW_SPACE,
                database: Some(database.into()),
                title: "Low free space on the backup volume".into(),
                text: format!(
                    "{}: {why}. Free space or lower retention before backups start failing.",
                    backups_dir.display()
                ),
            });
        }
    }
}

/// `true` at most once per 24 hours for `key` (a repeated condition, such as low space,
/// is not re-sent after every backup).
async fn once_a_day(db: &SqlitePool, key: &str) -> bool {
    let now = Utc::now();
    let last: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_optional(db)
        .await
        .ok()
        .flatten();
    let recent = last
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .is_some_and(|t| now - t.with_timezone(&Utc) < chrono::Duration::hours(24));
    if recent {
        return false;
    }
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(now.to_rfc3339())
    .execute(db)
    .await
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_from_the_newest() {
        assert_eq!(consecutive_failures(&[false, false, true, false]), 2);
        assert_eq!(consecutive_failures(&[true, false]), 0);
        assert_eq!(consecutive_failures(&[]), 0);
    }

    #[test]
    fn small_backups_are_noticed_against_the_median() {
        let s = Settings::default();
        let prev = [100_000_000, 98_000_000, 101_000_000, 5_000_000, 99_000_000];
        assert!(abnormally_small(40_000_000, &prev, &s).is_some());
        assert!(
            abnormally_small(60_000_000, &prev, &s).is_none(),
            "one outlier does not move the median"
        );
        assert!(abnormally_small(500_000, &[], &s).is_some(), "under 1 MB");
        assert!(
            abnormally_small(2_000_000, &[], &s).is_none(),
            "nothing to compare with"
        );
    }

    #[test]
    fn low_space_uses_percent_or_bytes() {
        let s = Settings::default();
        assert!(
            low_space(5_000_000_000, 100_000_000_000, &s).is_some(),
            "5 %"
        );
        assert!(low_space(20_000_000_000, 100_000_000_000, &s).is_none());
        assert!(
            low_space(4_000_000_000, 10_000_000_000, &s).is_some(),
            "under 5 GB"
        );
    }

    #[test]
    fn payloads_fit_slack_and_discord() {
        let a = Alert {
            event: event::TEST,
            database: Some("shop".into()),
            title: "T".into(),
            text: "body".into(),
        };
        assert_eq!(
            webhook_payload(WebhookFormat::Slack, &a)["text"],
            "*T*\nbody"
        );
        assert_eq!(
            webhook_payload(WebhookFormat::Discord, &a)["content"],
            "**T**\nbody"
        );
        let g = webhook_payload(WebhookFormat::Generic, &a);
        assert_eq!(g["event"], "test");
        assert_eq!(g["database"], "shop");
    }
}
