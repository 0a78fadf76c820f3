//! The `/api/v1` wire types, shared by the server (which produces them) and the SPA (which
//! consumes them), so the two cannot drift apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The header every state-changing request must carry (CSRF defence: a browser will not
/// add a custom header to a cross-site request without a CORS preflight we never grant).
pub const CSRF_HEADER: &str = "x-requested-with";
/// The value the SPA sends in [`CSRF_HEADER`]; the server accepts any non-empty value.
pub const CSRF_HEADER_VALUE: &str = "lifeboat";

/// Every error response body: a stable machine code and a sentence for a person.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub error: String,
    pub message: String,
    /// With 409 "a backup is already running": the job to follow instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The signed-in user, as `GET /api/v1/auth/me` and a successful login return it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub username: String,
    pub role: String,
    pub signed_in_at: DateTime<Utc>,
}

/// `GET /api/v1/setup`: whether the first administrator still has to be created.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SetupStatus {
    pub needed: bool,
}

/// `POST /api/v1/setup`: creates the first administrator with the one-time token printed
/// in the server's log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SetupRequest {
    pub token: String,
    pub username: String,
    pub password: String,
}

/// Minimum length of an administrator's password.
pub const MIN_PASSWORD_LEN: usize = 12;

/// One row of the append-only audit log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub details: serde_json::Value,
}

/// `GET /api/v1/audit`: one page of events, newest first, and how many match in all.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub total: i64,
}

/// The audit actions Lifeboat writes. Shared so the Audit page's filter offers exactly
/// what the server records.
pub mod audit_action {
    pub const SETUP_COMPLETED: &str = "setup.completed";
    pub const USER_CREATED: &str = "user.created";
    pub const LOGIN: &str = "auth.login";
    pub const LOGOUT: &str = "auth.logout";
    pub const SESSION_EXPIRED: &str = "session.expired";
    pub const BACKUP: &str = "backup.run";
    pub const BACKUP_CANCEL: &str = "backup.cancel";
    pub const DOWNLOAD: &str = "backup.download";
    /// A stored backup deleted (by retention or by hand).
    pub const BACKUP_DELETE: &str = "backup.delete";
    pub const BACKUP_PIN: &str = "backup.pin";
    pub const BACKUP_VERIFY: &str = "backup.verify";
    /// A `.dump` received and validated (or refused).
    pub const UPLOAD: &str = "upload.received";
    pub const RESTORE: &str = "restore.run";
    /// An alert delivered (or not) on one channel.
    pub const ALERT: &str = "alert.sent";
    pub const SETTINGS_CHANGED: &str = "settings.changed";

    pub const ALL: &[&str] = &[
        SETUP_COMPLETED,
        USER_CREATED,
        LOGIN,
        LOGOUT,
        SESSION_EXPIRED,
        BACKUP,
        BACKUP_CANCEL,
        DOWNLOAD,
        BACKUP_DELETE,
        BACKUP_PIN,
        BACKUP_VERIFY,
        UPLOAD,
        RESTORE,
        ALERT,
        SETTINGS_CHANGED,
    ];
}

/// Audit outcomes.
pub mod outcome {
    pub const SUCCESS: &str = "success";
    pub const FAILURE: &str = "failure";

    pub const ALL: &[&str] = &[SUCCESS, FAILURE];
}

/// One readiness check of `GET /readyz`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReadyCheck {
    /// Stable name: `metadata_db`, `data_dir`, `target`, `pg_dump`, `pg_restore`.
    pub name: String,
    pub ok: bool,
    /// What was found, or what is wrong and how to fix it.
    pub detail: String,
}

/// `GET /readyz` (200 when `ready`, 503 otherwise).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReadyReport {
    pub ready: bool,
    pub checks: Vec<ReadyCheck>,
}

impl ReadyReport {
    pub fn failed(&self) -> impl Iterator<Item = &ReadyCheck> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

// ---------------------------------------------------------------------------------------
// Backups and jobs
// ---------------------------------------------------------------------------------------

/// Why a backup was taken.
pub mod backup_kind {
    pub const MANUAL: &str = "manual";
    pub const SCHEDULED: &str = "scheduled";
    /// Taken automatically before a restore; pinned.
    pub const SAFETY: &str = "safety";
}

/// Where a job (and the backup it produces) stands.
pub mod job_status {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
    /// Lifeboat stopped (crash, kill) while the job ran; found at the next start-up.
    pub const INTERRUPTED: &str = "interrupted";

    pub fn is_terminal(s: &str) -> bool {
        matches!(s, SUCCEEDED | FAILED | CANCELLED | INTERRUPTED)
    }
}

/// The steps of a backup job, in order.
pub mod phase {
    pub const PREFLIGHT: &str = "preflight";
    pub const DUMP: &str = "dump";
    pub const VERIFY: &str = "verify";
    pub const STORE: &str = "store";
    /// Restore jobs: the mandatory safety backup (its own dump/verify/store inside)…
    pub const SAFETY_BACKUP: &str = "safety_backup";
    /// …then `pg_restore`…
    pub const RESTORE: &str = "restore";
    /// …then `ANALYZE`.
    pub const ANALYZE: &str = "analyze";
    pub const DONE: &str = "done";
}

/// One backup attempt in the journal (history).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Backup {
    pub id: i64,
    pub job_id: Option<i64>,
    /// Name of the database that was backed up.
    pub database: String,
    /// `manual`, `scheduled` or `safety` (see [`backup_kind`]).
    pub kind: String,
    /// See [`job_status`].
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
    /// The last successful backup is older than the schedule's interval plus a grace
    /// period (or there is none while scheduled backups are on): show it in red.
    #[serde(default)]
    pub stale: bool,
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
}

/// `POST /api/v1/backups` → 202.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StartedJob {
    pub job_id: i64,
    pub backup_id: Option<i64>,
}

/// A job's state: `GET /api/v1/jobs/{id}` and each event of `/api/v1/jobs/{id}/events`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Job {
    pub id: i64,
    /// `backup` or `restore`.
    pub kind: String,
    pub status: String,
    pub phase: String,
    /// 0–100.
    pub percent: f64,
    /// The table (or object) being worked on.
    pub current_item: Option<String>,
    pub bytes_written: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub elapsed_ms: i64,
    pub database: String,
    /// The backup this job makes; for a restore job, its safety backup.
    pub backup_id: Option<i64>,
    /// For a restore job: its row in the restore journal.
    #[serde(default)]
    pub restore_id: Option<i64>,
    pub file_name: Option<String>,
    pub location: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    /// The outcome or the reason for a failure, in plain words.
    pub message: Option<String>,
    pub actor: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Uploads and restores
// ---------------------------------------------------------------------------------------

/// What the table of contents of a custom-format archive says, for a person deciding
/// whether to restore it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ArchiveSummary {
    /// The database the dump was taken from.
    pub source_database: Option<String>,
    /// When pg_dump started, as the archive records it.
    pub created_at: Option<String>,
    /// `Dumped from database version`.
    pub server_version: Option<String>,
    pub pg_dump_version: Option<String>,
    /// The custom-format archive version, e.g. `1.14`.
    pub archive_version: String,
    pub compression: Option<String>,
    pub toc_entries: i64,
    pub schemas: i64,
    pub tables: i64,
    pub indexes: i64,
    pub functions: i64,
    /// Every other object (sequences, constraints, views, comments, …).
    pub other: i64,
    /// `schema.table`, in archive order.
    pub table_names: Vec<String>,
    /// Whether the target server and the bundled pg_restore can take this archive.
    pub compatible: bool,
    /// What was checked about versions, in plain words (warnings included).
    pub compatibility: Vec<String>,
}

/// `POST /api/v1/uploads?filename=NAME` → 201: a validated `.dump`, kept until restored
/// or until it expires.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Upload {
    pub upload_id: String,
    /// The target database a restore of it would replace.
    pub database: Option<String>,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub summary: ArchiveSummary,
    pub expires_at: DateTime<Utc>,
}

/// Options of a restore (the confirmation dialog's advanced section).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RestoreOptions {
    /// `--single-transaction`: a failure leaves the database exactly as it was.
    #[serde(default = "yes")]
    pub single_transaction: bool,
    /// `--no-owner`: objects belong to the restoring user.
    #[serde(default)]
    pub no_owner: bool,
    /// `--no-acl`: skip GRANT/REVOKE.
    #[serde(default)]
    pub no_acl: bool,
    /// End the other sessions connected to the target before restoring (their locks
    /// would otherwise make the restore wait).
    #[serde(default = "yes")]
    pub terminate_sessions: bool,
}

fn yes() -> bool {
    true
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            single_transaction: true,
            no_owner: false,
            no_acl: false,
            terminate_sessions: true,
        }
    }
}

/// `POST /api/v1/restores` → 202 [`StartedRestore`]. Exactly one of `upload_id` and
/// `backup_id`; `confirm` must be the target database's name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RestoreRequest {
    #[serde(default)]
    pub upload_id: Option<String>,
    #[serde(default)]
    pub backup_id: Option<i64>,
    pub confirm: String,
    #[serde(default)]
    pub options: RestoreOptions,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StartedRestore {
    pub job_id: i64,
    pub restore_id: i64,
}

/// One restore in the journal: `GET /api/v1/restores/{id}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Restore {
    pub id: i64,
    pub job_id: Option<i64>,
    /// The database that was (or was to be) replaced.
    pub database: String,
    /// `upload` or `backup`.
    pub source: String,
    pub upload_id: Option<String>,
    pub backup_id: Option<i64>,
    pub file_name: String,
    pub sha256: Option<String>,
    /// The backup of the state before this restore (roll back = restore it).
    pub safety_backup_id: Option<i64>,
    pub status: String,
    pub message: Option<String>,
    /// `pg_restore`'s own messages.
    pub tool_output: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub actor: Option<String>,
    /// How long each phase took (check, safety_backup, restore, analyze).
    #[cfg_attr(feature = "ssr", sqlx(json))]
    #[serde(default)]
    pub timings: Vec<PhaseTiming>,
}

// ---------------------------------------------------------------------------------------
// Schedule and retention
// ---------------------------------------------------------------------------------------

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
}

/// How a test alert went on one channel (`POST /api/v1/alerts/test`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AlertDelivery {
    pub channel: String,
    pub ok: bool,
    pub error: Option<String>,
    pub attempts: u32,
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
