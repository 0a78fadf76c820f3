//! Alerts: email over SMTP and a JSON webhook (generic, Slack- or Discord-shaped), for the
//! events an operator must hear about — a scheduled backup that failed after its retries,
//! consecutive failed backups, a backup abnormally smaller than the previous ones, low
//! free space on the backup volume, a restore performed.
//!
//! This module holds the alerts, their settings and the pure rules that decide when one
//! is due; [`deliver`] sends them. Sending never blocks a job: each alert is delivered by
//! its own task, retried with backoff, and every delivery (or final failure) is audited.

mod deliver;

pub use deliver::{Alerter, Delivery};

use crate::secret::Secret;
use chrono::Utc;
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
    pub const TEST_RESTORE_FAILED: &str = "test_restore_failed";
    pub const SCHEDULE_OFF: &str = "schedule_off";
    pub const SCHEDULER_ERROR: &str = "scheduler_error";
    /// A backup's end could not be written to Lifeboat's database.
    pub const JOURNAL_FAILED: &str = "journal_failed";
    /// A scheduled backup was interrupted by a stop of Lifeboat.
    pub const BACKUP_INTERRUPTED: &str = "backup_interrupted";
    pub const TEST: &str = "test";

    /// Every kind, for alerts read back from the database.
    pub const ALL: &[&str] = &[
        BACKUP_FAILED,
        CONSECUTIVE_FAILURES,
        SMALL_BACKUP,
        LOW_SPACE,
        RESTORE,
        OFFSITE_FAILED,
        VERIFY_FAILED,
        TEST_RESTORE_FAILED,
        SCHEDULE_OFF,
        SCHEDULER_ERROR,
        TEST,
    ];
}

/// The kind named `name` (an alert kept in the database); an unknown one (from a newer
/// version) is sent as `alert`.
pub fn known_event(name: &str) -> &'static str {
    event::ALL
        .iter()
        .find(|e| **e == name)
        .copied()
        .unwrap_or("alert")
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
