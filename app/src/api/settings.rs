//! The Settings page: schedule, offsite copies, alert channels, unknown files.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

wire_enum! {
    /// Where the schedule in force comes from.
    pub enum ScheduleSource {
        /// `LIFEBOAT_SCHEDULE` (or the default).
        Environment = "environment",
        /// Changed in the console, which then wins over the environment.
        SettingsPage = "settings page",
    }
}

/// `GET /api/v1/schedule`: scheduled backups and the retention policy in force.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ScheduleInfo {
    /// The cron expression, `None` when scheduled backups are off.
    pub expression: Option<String>,
    /// The time zone the expression is read in.
    pub zone: String,
    pub next_run: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub retry_delay_secs: u64,
    pub catch_up: bool,
    pub retention_keep: u32,
    pub retention_max_age_secs: Option<u64>,
    /// `environment` (LIFEBOAT_SCHEDULE) or `settings page` (changed in the console,
    /// which then wins over the environment).
    #[serde(default)]
    pub source: String,
}

/// `PUT /api/v1/schedule`: change the schedule from the Settings page (audited).
/// `expression: null` turns scheduled backups off.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ScheduleUpdate {
    pub expression: Option<String>,
    /// IANA time zone name; `None` = the server's zone.
    #[serde(default)]
    pub zone: Option<String>,
}

/// A file in the backup directory the journal does not know (reported, never deleted).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct UnknownFile {
    /// Relative to the data directory.
    pub path: String,
    pub size_bytes: i64,
}

/// `GET /api/v1/settings`: everything the Settings page shows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SettingsInfo {
    pub schedule: ScheduleInfo,
    /// `s3://bucket/prefix`, when offsite copies are configured.
    pub offsite: Option<String>,
    pub offsite_keep: Option<u32>,
    /// e.g. `webhook (slack)`, `email to ops@example.com`.
    pub alert_channels: Vec<String>,
    pub unknown_files: Vec<UnknownFile>,
    /// How backups are compressed (`zstd:1`, `gzip:1`, `none`) and why that way.
    #[serde(default)]
    pub compression: String,
    #[serde(default)]
    pub compression_note: String,
}

/// How a test alert went on one channel (`POST /api/v1/alerts/test`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AlertDelivery {
    pub channel: String,
    pub ok: bool,
    pub error: Option<String>,
    pub attempts: u32,
}

impl ScheduleInfo {
    /// Where the schedule comes from; `None` when unknown (an older server says nothing).
    pub fn schedule_source(&self) -> Option<ScheduleSource> {
        ScheduleSource::parse(&self.source)
    }
}
