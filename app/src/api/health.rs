//! `GET /readyz`: whether Lifeboat can protect the target database, check by check.

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
    /// What was found, or what is wrong and how to fix it.
    pub detail: String,
}

impl ReadyCheck {
    pub fn check(&self) -> Option<CheckName> {
        CheckName::parse(&self.name)
    }
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
