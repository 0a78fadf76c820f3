//! Alert channels (webhook, email) and thresholds.

use super::parse::parse_size;
use super::sources::Values;
use crate::alerts::{Email, Settings, SmtpSecurity, Webhook, WebhookFormat};
use crate::secret::Secret;

pub(super) fn load(v: &mut Values) -> Settings {
    let mut a = Settings {
        consecutive_failures: v.count(
            "LIFEBOAT_ALERT_CONSECUTIVE_FAILURES",
            2,
            "consecutive failures",
        ),
        ..Default::default()
    };
    let format = v.parse_or(
        "LIFEBOAT_ALERT_WEBHOOK_FORMAT",
        WebhookFormat::Generic,
        |s| match s.trim().to_ascii_lowercase().as_str() {
            "generic" | "json" => Ok(WebhookFormat::Generic),
            "slack" => Ok(WebhookFormat::Slack),
            "discord" => Ok(WebhookFormat::Discord),
            _ => Err(format!(
                "`{s}` is not a webhook format; use generic, slack or discord"
            )),
        },
    );
    a.webhook = v.parse("LIFEBOAT_ALERT_WEBHOOK_URL", |s| {
        match url::Url::parse(s.trim()) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(Webhook {
                url: Secret::new(s.trim().to_string()),
                format,
            }),
            // The URL carries the webhook's token: not repeated.
            _ => Err("is not an http(s) URL".into()),
        }
    });
    if let Some(host) = v.value("LIFEBOAT_SMTP_HOST") {
        a.email = email(v, host);
    }
    if let Some(p) = v.parse("LIFEBOAT_ALERT_LOW_SPACE_PERCENT", |s| {
        match s.trim().trim_end_matches('%').parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
            _ => Err(format!("`{s}` is not a percentage (0–100)")),
        }
    }) {
        a.low_space_percent = p;
    }
    if let Some(b) = v.parse("LIFEBOAT_ALERT_LOW_SPACE", parse_size) {
        a.low_space_bytes = b;
    }
    a
}

fn email(v: &mut Values, host: String) -> Option<Email> {
    let security = v.parse_or(
        "LIFEBOAT_SMTP_SECURITY",
        SmtpSecurity::StartTls,
        |s| match s.trim().to_ascii_lowercase().as_str() {
            "starttls" => Ok(SmtpSecurity::StartTls),
            "tls" | "smtps" => Ok(SmtpSecurity::Tls),
            "none" | "plain" => Ok(SmtpSecurity::None),
            _ => Err(format!("`{s}` is not starttls, tls or none")),
        },
    );
    let default_port = match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::None => 25,
    };
    let port = v.parse_or("LIFEBOAT_SMTP_PORT", default_port, |s| {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{s}` is not a port number"))
    });
    let from = v.value("LIFEBOAT_ALERT_EMAIL_FROM");
    let to: Vec<String> = v
        .value("LIFEBOAT_ALERT_EMAIL_TO")
        .map(|s| {
            s.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    match from {
        Some(from) if !to.is_empty() => Some(Email {
            host: host.trim().to_string(),
            port,
            security,
            user: v.value("LIFEBOAT_SMTP_USER"),
            password: v.value("LIFEBOAT_SMTP_PASSWORD").map(Secret::new),
            from,
            to,
        }),
        _ => {
            v.problem(
                "LIFEBOAT_SMTP_HOST",
                "email alerts also need LIFEBOAT_ALERT_EMAIL_FROM and LIFEBOAT_ALERT_EMAIL_TO",
            );
            None
        }
    }
}
