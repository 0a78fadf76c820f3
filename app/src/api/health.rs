//! `GET /readyz`: whether Lifeboat can protect the target database, check by check.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

wire_enum! {
    /// The readiness checks, by their stable names.
    pub enum CheckName {
        MetadataDb = "metadata_db",
        DataDir = "data_dir",
        Target = "target",
        PgDump = "pg_dump",
        PgRestore = "pg_restore",
        /// The last successful backup is recent enough for the schedule.
        LastBackup = "last_backup",
        /// The last test restore did not fail.
        LastTestRestore = "last_test_restore",
    }
}

/// One readiness check of `GET /readyz`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReadyCheck {
    /// Stable name: `metadata_db`, `data_dir`, `target`, `pg_dump`, `pg_restore`,
    /// `last_backup`, `last_test_restore` (see [`CheckName`]).
    pub name: String,
    pub ok: bool,
    /// What was found, or what is wrong and how to fix it. Only for a signed-in session:
    /// without one it is left out (it names the server, database, versions and paths).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl ReadyCheck {
    pub fn check(&self) -> Option<CheckName> {
        CheckName::parse(&self.name)
    }
}

/// `GET /readyz` (200 when `ready`, 503 otherwise): the last run of the checks, which run
/// in the background (`GET /readyz?refresh=1` in a signed-in session runs them anew).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReadyReport {
    pub ready: bool,
    pub checks: Vec<ReadyCheck>,
    /// When the checks ran (signed-in sessions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
}

impl ReadyReport {
    pub fn failed(&self) -> impl Iterator<Item = &ReadyCheck> {
        self.checks.iter().filter(|c| !c.ok)
    }
}
