//! Backups: the journal (history), one backup's detail, the status strip, pinning and
//! retention's deletions.

use super::Job;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

wire_enum! {
    /// Why a backup was taken.
    pub enum BackupKind {
        Manual = "manual",
        Scheduled = "scheduled",
        /// Taken automatically before a restore; pinned.
        Safety = "safety",
    }
    /// Backup kinds as the words the server writes.
    words mod backup_kind {
        MANUAL = Manual,
        SCHEDULED = Scheduled,
        /// Taken automatically before a restore; pinned.
        SAFETY = Safety,
    }
}

impl BackupKind {
    /// How the history names it.
    pub fn label(self) -> &'static str {
        match self {
            BackupKind::Manual => "manual",
            BackupKind::Scheduled => "scheduled",
            BackupKind::Safety => "safety (before a restore)",
        }
    }
}

wire_enum! {
    /// Where a backup stands: its job's status, or deleted (by retention or by hand; its
    /// row stays in the history).
    pub enum BackupState {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        Interrupted = "interrupted",
        Deleted = "deleted",
    }
}

wire_enum! {
    /// Where a backup's offsite copy stands.
    pub enum OffsiteState {
        Pending = "pending",
        Copied = "copied",
        /// Retried on the next run.
        Failed = "failed",
        /// Removed by offsite retention.
        Deleted = "deleted",
    }
}

/// One backup attempt in the journal (history).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Backup {
    pub id: i64,
    pub job_id: Option<i64>,
    /// Name of the database that was backed up.
    pub database: String,
    /// `manual`, `scheduled` or `safety` (see [`BackupKind`]).
    pub kind: String,
    /// See [`BackupState`].
    pub status: String,
    /// e.g. `20261121T093000Z_manual.dump`, once known.
    pub file_name: Option<String>,
    /// Where the file is, relative to the data directory: `backups/<db>/<file>`.
    pub location: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Who triggered it (a username, `os:<user>` for the CLI, `scheduler`).
    pub actor: Option<String>,
    /// The technical result in one line (`pg_dump exited with 1: …`, `verified`, …).
    pub message: Option<String>,
    pub pinned: bool,
    /// The offsite copy: `None` (no offsite storage configured), `pending`, `copied`,
    /// `failed` (retried on the next run) or `deleted` (offsite retention).
    #[serde(default)]
    pub offsite_status: Option<String>,
    /// What happened to the offsite copy, in words (the reason of a failure).
    #[serde(default)]
    pub offsite_message: Option<String>,
    /// The pg_dump that made it and why: `pg_dump 18.6 — newest client found, server is
    /// 15.18` (`None` for backups made before this was recorded).
    #[serde(default)]
    pub client: Option<String>,
    /// How it is compressed: `zstd:1`, `gzip:1`, `none` (LIFEBOAT_COMPRESSION's words).
    #[serde(default)]
    pub compression: Option<String>,
    /// Its last test restore: the proof that it restores (or why it did not).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub restorable: Option<TestRestore>,
}

/// A test restore: a backup restored into a scratch database (on the target's server or a
/// separate verification server), its row counts compared with the archive's, the scratch
/// database dropped. `GET /api/v1/backups` shows each backup's last one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TestRestore {
    pub id: i64,
    pub backup_id: i64,
    pub job_id: Option<i64>,
    /// `running`, `succeeded`, `failed`, `cancelled` or `interrupted` (see [`super::JobStatus`]).
    pub status: String,
    /// `host:port` of the server it was restored on.
    pub server: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The whole test restore: the measured recovery time.
    pub duration_ms: Option<i64>,
    pub tables: Option<i64>,
    pub rows: Option<i64>,
    /// What was proven, or why it failed, in plain words.
    pub message: Option<String>,
}

/// `POST /api/v1/backups/{id}/test-restore` → 202.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StartedTestRestore {
    pub job_id: i64,
    pub test_restore_id: i64,
}

/// `GET /api/v1/backups/{id}`: a backup and everything that explains it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BackupDetail {
    pub backup: Backup,
    /// `pg_dump`'s own messages (stderr), as it printed them.
    pub tool_output: Option<String>,
    /// The child's exit status, or the signal that killed it (`killed by signal 9`).
    pub exit_status: Option<String>,
    pub server_version: Option<String>,
    pub pg_dump_version: Option<String>,
    /// The custom-format archive version from the file header, e.g. `1.14`.
    pub archive_version: Option<String>,
    pub timings: Vec<PhaseTiming>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PhaseTiming {
    pub phase: String,
    pub ms: i64,
}

/// `GET /api/v1/backups?limit=&offset=`: newest first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BackupPage {
    pub items: Vec<Backup>,
    pub total: i64,
}

/// `GET /api/v1/backups/status`: the strip at the top of the Backups page.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BackupStatus {
    pub database: Option<String>,
    pub last_success: Option<Backup>,
    /// Bytes used by stored backups on the local volume.
    pub used_bytes: i64,
    pub backup_count: i64,
    /// Free and total bytes on the volume holding the backups.
    pub free_bytes: Option<i64>,
    pub total_bytes: Option<i64>,
    /// The job running now for the target database, if any (to reattach to it).
    pub running_job: Option<Job>,
    /// Whether "Back up now" asks for confirmation (LIFEBOAT_CONFIRM_BACKUP).
    pub confirm_backup: bool,
    /// When the next scheduled backup runs (`None`: scheduled backups are off).
    #[serde(default)]
    pub next_run: Option<DateTime<Utc>>,
    /// Scheduled backups are off and LIFEBOAT_SCHEDULE_OFF_OK does not say it is on
    /// purpose: warn that nothing backs the database up on its own.
    #[serde(default)]
    pub schedule_off_warning: bool,
    /// The scheduler is not running, or its last error (it keeps going).
    #[serde(default)]
    pub scheduler_problem: Option<String>,
    /// The last successful backup is older than the schedule's interval plus a grace
    /// period (or there is none while scheduled backups are on): show it in red.
    #[serde(default)]
    pub stale: bool,
    /// The last successful backup is stamped in the future: the clock was set wrong when
    /// it was taken, or is wrong now. Its age is unknown (it counts as stale).
    #[serde(default)]
    pub clock_suspect: bool,
    /// Offsite copies held now and their bytes (`None`: offsite storage not configured).
    #[serde(default)]
    pub offsite_count: Option<i64>,
    #[serde(default)]
    pub offsite_bytes: Option<i64>,
    /// The last alert sent (its title) and when.
    #[serde(default)]
    pub last_alert: Option<String>,
    #[serde(default)]
    pub last_alert_at: Option<DateTime<Utc>>,
    /// The last test restore of a backup of the target database (the age of the last
    /// proof that backups restore).
    #[serde(default)]
    pub last_test_restore: Option<TestRestore>,
}

/// One backup retention deletes (or, in a dry run, would delete).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Pruned {
    pub id: i64,
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub reason: String,
}

/// `POST /api/v1/backups/{id}/pin` body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PinRequest {
    pub pinned: bool,
}

impl Backup {
    /// Its state; `None` for a word this build does not know.
    pub fn state(&self) -> Option<BackupState> {
        BackupState::parse(&self.status)
    }

    pub fn succeeded(&self) -> bool {
        self.state() == Some(BackupState::Succeeded)
    }

    /// Its kind; `None` for a word this build does not know.
    pub fn backup_kind(&self) -> Option<BackupKind> {
        BackupKind::parse(&self.kind)
    }

    /// Its offsite copy: `None` when offsite storage is not configured; `Some(None)` for a
    /// word this build does not know.
    pub fn offsite(&self) -> Option<Option<OffsiteState>> {
        self.offsite_status.as_deref().map(OffsiteState::parse)
    }
}
