//! Delivering alerts: the webhook and email channels, retries, and the audit entry of
//! every delivery.

use super::{webhook_payload, Alert, Email, Settings, SmtpSecurity, Webhook};
use crate::followups::FollowUps;
use crate::store::audit::{self, Entry, Origin};
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
            let failed: Vec<String> = me
                .deliver(&alert)
                .await
                .into_iter()
                .filter_map(|d| d.error.map(|e| format!("{}: {e}", d.channel)))
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(format!("not delivered ({})", failed.join("; ")))
            }
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
