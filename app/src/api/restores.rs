//! Uploads of `.dump` files and restores.

use super::PhaseTiming;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

wire_enum! {
    /// How a restore replaces the database's contents.
    pub enum RestoreStrategy {
        /// Restore into a new database, prove it, then swap names (seconds offline); the
        /// old database is kept as the instant roll-back point.
        Swap = "swap",
        /// `pg_restore --clean --single-transaction` over the live database, with the
        /// application kept out from the safety backup's start to the end.
        InPlace = "in_place",
        /// Restore into a new database of a chosen name; the live one is not touched.
        Copy = "copy",
    }
}

/// `POST /api/v1/restores`: a [`RestoreRequest`] and how to carry it out. Without a
/// `strategy` the server picks `swap` when it can, else `in_place`, and says why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RestoreStart {
    #[serde(flatten)]
    pub request: RestoreRequest,
    #[serde(default)]
    pub strategy: Option<RestoreStrategy>,
    /// The database a `copy` is restored into (must not exist yet).
    #[serde(default)]
    pub new_database: Option<String>,
}

impl From<RestoreRequest> for RestoreStart {
    fn from(request: RestoreRequest) -> Self {
        RestoreStart {
            request,
            strategy: None,
            new_database: None,
        }
    }
}

/// What a restore without a chosen strategy would do here, for the confirmation dialog:
/// `GET /api/v1/restores/plan`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RestorePlan {
    pub database: String,
    /// `swap` or `in_place` (see [`RestoreStrategy`]).
    pub strategy: String,
    /// Why, in plain words.
    pub reason: String,
    /// The live database's size (`pg_database_size`): what a swap keeps aside on the
    /// database server.
    pub database_size_bytes: Option<i64>,
    /// How long a database set aside by a swap is kept (`LIFEBOAT_KEEP_OLD_DATABASES`).
    pub keep_old_databases_secs: u64,
    /// With the file to restore given: how long an in-place restore would keep the
    /// application out (its safety backup and the restore), estimated from this database's
    /// last backup and restore; `None` before any backup.
    #[serde(default)]
    pub in_place_offline_ms: Option<i64>,
    /// What the estimate is based on, in words.
    #[serde(default)]
    pub in_place_offline_basis: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StartedRestore {
    pub job_id: i64,
    pub restore_id: i64,
    /// The strategy that runs (see [`RestoreStrategy`]).
    #[serde(default)]
    pub strategy: Option<String>,
    /// Why that strategy, in plain words.
    #[serde(default)]
    pub strategy_reason: Option<String>,
}

/// The proof of one table: the rows the archive holds and the rows found after the
/// restore.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TableProof {
    /// `schema.table`
    pub table: String,
    pub archive_rows: i64,
    /// `None`: the table is missing from the restored database.
    pub restored_rows: Option<i64>,
}

/// `POST /api/v1/restores/{id}/rollback` → 202.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StartedRollback {
    pub job_id: i64,
}

/// A database a swap restore (or its roll back) set aside on the database server:
/// `GET /api/v1/restores/kept-databases`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KeptDatabase {
    pub name: String,
    /// `pg_database_size`, bytes.
    pub size_bytes: i64,
    /// When it was set aside (from its name).
    pub created_at: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    /// `before` (the contents before a restore) or `rolledback` (a restore undone).
    pub role: String,
    /// The restore it belongs to.
    pub restore_id: Option<i64>,
    /// When it is dropped unless the admin does it first (never before its final backup
    /// has succeeded).
    pub drop_after: Option<DateTime<Utc>>,
    /// The backup of its last state that Lifeboat takes once it is set aside (kind
    /// `safety`, pinned, journaled under this database's name); `None` until one started.
    #[serde(default)]
    pub final_backup_id: Option<i64>,
    /// That backup's status (`running`, `succeeded`, `failed`, …).
    #[serde(default)]
    pub final_backup_status: Option<String>,
    /// Why it may not be dropped yet (it is the only copy of its state until its final
    /// backup succeeded); `None` when it may.
    #[serde(default)]
    pub drop_refusal: Option<String>,
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
    /// `swap`, `in_place` or `copy` (see [`RestoreStrategy`]).
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub strategy_reason: Option<String>,
    /// The database restored into, when it is not the live one (swap before the swap,
    /// copy).
    #[serde(default)]
    pub new_database: Option<String>,
    /// Swap: the name the earlier database was kept under.
    #[serde(default)]
    pub kept_database: Option<String>,
    /// Swap: how long the application could not use its database.
    #[serde(default)]
    pub offline_ms: Option<i64>,
    /// Row counts of the archive against the restored database.
    #[cfg_attr(feature = "ssr", sqlx(json))]
    #[serde(default)]
    pub proof: Vec<TableProof>,
    #[serde(default)]
    pub rolled_back_at: Option<DateTime<Utc>>,
    /// The name the restored database was set aside under by the roll back.
    #[serde(default)]
    pub rolled_back_database: Option<String>,
    #[serde(default)]
    pub rollback_offline_ms: Option<i64>,
}
