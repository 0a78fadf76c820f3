//! Delivering alerts: the webhook and email channels, retries, and the audit entry of
//! every delivery.

use super::{webhook_payload, Alert, Email, Settings, SmtpSecurity, Webhook};
use crate::followups::FollowUps;
use crate::store::audit::{self, Entry, Origin};
use crate::store::pending_alerts::{self, NewPending};
use app::api::{audit_action, outcome};
use chrono::Utc;
use sqlx::SqlitePool;
use std::sync::Arc;
use std::time::Duration;

/// Sends alerts.
#[derive(Clone)]
pub struct Alerter {
    settings: Arc<Settings>,
    db: SqlitePool,
    /// Each delivery is follow-up work a command-line run waits for.
    followups: FollowUps,
}

/// How delivery went on one channel.
pub use app::api::AlertDelivery as Delivery;

impl Alerter {
    pub fn new(settings: Settings, db: SqlitePool) -> Alerter {
        Alerter {
            settings: Arc::new(settings),
            db,
            followups: FollowUps::default(),
        }
    }

    /// The follow-up work of this process (alert deliveries, and what the engine adds).
    pub fn followups(&self) -> &FollowUps {
        &self.followups
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn configured(&self) -> bool {
        self.settings.webhook.is_some() || self.settings.email.is_some()
    }

    /// Sends in the background; the caller never waits (a command-line run waits for
    /// [`Alerter::followups`] before it exits).
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
        let what = format!("alert \"{}\"", alert.title);
        self.followups.spawn(what, async move {
            let deliveries = me.deliver(&alert).await;
            let failed: Vec<&Delivery> = deliveries.iter().filter(|d| !d.ok).collect();
            if failed.is_empty() {
                return Ok(());
            }
            let (channels, error) = describe(&failed);
            // Kept, to be delivered again after a restart and periodically.
            let kept = pending_alerts::insert(
                &me.db,
                NewPending {
                    event: alert.event,
                    database: alert.database.as_deref(),
                    title: &alert.title,
                    text: &alert.text,
                    channels: &channels,
                    error: &error,
                },
            )
            .await;
            match kept {
                Ok(_) => Err(format!(
                    "not delivered ({error}); kept, delivered again when Lifeboat runs"
                )),
                Err(e) => {
                    tracing::error!("cannot keep an undelivered alert: {e}");
                    Err(format!("not delivered ({error})"))
                }
            }
        });
    }

    /// Delivers on every configured channel, with retries, and audits each outcome.
    pub async fn deliver(&self, alert: &Alert) -> Vec<Delivery> {
        self.deliver_on(alert, None, &self.settings.retry_delays)
            .await
    }

    /// Delivers on the configured channels among `only` (all when `None`), retrying
    /// after each of `delays`.
    async fn deliver_on(
        &self,
        alert: &Alert,
        only: Option<&[&str]>,
        delays: &[Duration],
    ) -> Vec<Delivery> {
        let wanted = |c: &str| only.is_none_or(|o| o.contains(&c));
        let mut out = vec![];
        if let Some(w) = self.settings.webhook.as_ref().filter(|_| wanted("webhook")) {
            out.push(
                self.with_retries("webhook", alert, delays, || post_webhook(w, alert))
                    .await,
            );
        }
        if let Some(e) = self.settings.email.as_ref().filter(|_| wanted("email")) {
            out.push(
                self.with_retries("email", alert, delays, || send_email(e, alert))
                    .await,
            );
        }
        out
    }

    /// Delivers the alerts kept undelivered (one attempt each): after a start-up and
    /// then every `every`. At most [`PENDING_KEPT`] are kept, none older than
    /// [`PENDING_MAX_AGE_DAYS`] days; what is dropped is logged.
    pub fn spawn_pending_retries(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.retry_pending().await {
                    tracing::warn!("undelivered alerts: {e}");
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// One pass over the alerts kept undelivered.
    pub async fn retry_pending(&self) -> sqlx::Result<()> {
        let oldest = Utc::now() - chrono::Duration::days(PENDING_MAX_AGE_DAYS);
        for title in pending_alerts::trim(&self.db, PENDING_KEPT, oldest).await? {
            tracing::warn!(
                "an undelivered alert is dropped (over {PENDING_KEPT} waiting, or {PENDING_MAX_AGE_DAYS} days old): {title}"
            );
        }
        if !self.configured() {
            return Ok(());
        }
        for p in pending_alerts::list(&self.db).await? {
            let alert = Alert {
                event: super::known_event(&p.event),
                database: p.database.clone(),
                title: p.title.clone(),
                text: p.text.clone(),
            };
            let channels: Vec<&str> = p.channels.split(',').map(str::trim).collect();
            let deliveries = self.deliver_on(&alert, Some(&channels), &[]).await;
            let failed: Vec<&Delivery> = deliveries.iter().filter(|d| !d.ok).collect();
            if failed.is_empty() {
                tracing::info!(
                    "alert delivered after {} earlier attempt(s): {}",
                    p.attempts,
                    p.title
                );
                pending_alerts::delete(&self.db, p.id).await?;
            } else {
                let (channels, error) = describe(&failed);
                pending_alerts::failed_again(&self.db, p.id, &channels, &error).await?;
            }
        }
        Ok(())
    }

    async fn with_retries<F, Fut>(
        &self,
        channel: &str,
        alert: &Alert,
        delays: &[Duration],
        attempt: F,
    ) -> Delivery
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let mut attempts = 0;
        let mut delays = delays.iter();
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

/// Undelivered alerts kept at most.
pub const PENDING_KEPT: i64 = 100;
/// An undelivered alert older than this is dropped.
pub const PENDING_MAX_AGE_DAYS: i64 = 7;

/// The failed channels ("webhook,email") and their errors.
fn describe(failed: &[&Delivery]) -> (String, String) {
    let channels: Vec<&str> = failed.iter().map(|d| d.channel.as_str()).collect();
    let errors: Vec<String> = failed
        .iter()
        .map(|d| format!("{}: {}", d.channel, d.error.clone().unwrap_or_default()))
        .collect();
    (channels.join(","), errors.join("; "))
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
