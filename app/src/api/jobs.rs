//! Jobs: a backup or a restore running (or run) on the server, followed by the UI.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

wire_enum! {
    /// What a job does.
    pub enum JobKind {
        Backup = "backup",
        Restore = "restore",
        /// A backup restored into a scratch database and proven, then dropped.
        TestRestore = "test_restore",
    }
}

wire_enum! {
    /// Where a job (and the backup it produces) stands.
    pub enum JobStatus {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        /// Lifeboat stopped (crash, kill) while the job ran; found at the next start-up.
        Interrupted = "interrupted",
    }
    /// Job statuses as the words the server writes.
    words mod job_status {
        QUEUED = Queued,
        RUNNING = Running,
        SUCCEEDED = Succeeded,
        FAILED = Failed,
        CANCELLED = Cancelled,
        /// Lifeboat stopped (crash, kill) while the job ran; found at the next start-up.
        INTERRUPTED = Interrupted,
        ;
        /// Whether a status word says the job is over (an unknown word: not over).
        pub fn is_terminal(s: &str) -> bool {
            super::JobStatus::parse(s).is_some_and(super::JobStatus::is_terminal)
        }
    }
}

impl JobStatus {
    /// The job is over, whichever way.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded
                | JobStatus::Failed
                | JobStatus::Cancelled
                | JobStatus::Interrupted
        )
    }

    /// It ended badly (failed, or stopped by Lifeboat stopping).
    pub fn is_failure(self) -> bool {
        matches!(self, JobStatus::Failed | JobStatus::Interrupted)
    }
}

wire_enum! {
    /// The steps of a job, in order: a backup runs preflight → dump → verify → store (→
    /// offsite) → done; a restore preflight → safety backup → restore → analyze → done.
    pub enum Phase {
        Preflight = "preflight",
        Dump = "dump",
        Verify = "verify",
        Store = "store",
        /// The offsite copy, when a job reports it as a step of its own.
        Offsite = "offsite",
        /// Restore jobs: the mandatory safety backup (its own dump/verify/store inside)…
        SafetyBackup = "safety_backup",
        /// …then `pg_restore`…
        Restore = "restore",
        /// …then `ANALYZE`.
        Analyze = "analyze",
        Done = "done",
    }
    /// Phases as the words the server writes.
    words mod phase {
        PREFLIGHT = Preflight,
        DUMP = Dump,
        VERIFY = Verify,
        STORE = Store,
        /// Restore jobs: the mandatory safety backup (its own dump/verify/store inside)…
        SAFETY_BACKUP = SafetyBackup,
        /// …then `pg_restore`…
        RESTORE = Restore,
        /// …then `ANALYZE`.
        ANALYZE = Analyze,
        DONE = Done,
    }
}

impl Phase {
    /// The phase as people read it: `safety_backup` → `Safety backup`.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Preflight => "Preflight",
            Phase::Dump => "Dump",
            Phase::Verify => "Verify",
            Phase::Store => "Store",
            Phase::Offsite => "Offsite",
            Phase::SafetyBackup => "Safety backup",
            Phase::Restore => "Restore",
            Phase::Analyze => "Analyze",
            Phase::Done => "Done",
        }
    }
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
    /// `backup` or `restore` (see [`JobKind`]).
    pub kind: String,
    /// See [`JobStatus`].
    pub status: String,
    /// See [`Phase`].
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

impl Job {
    /// What the job does; anything but a restore is shown as a backup.
    pub fn job_kind(&self) -> JobKind {
        JobKind::parse(&self.kind).unwrap_or(JobKind::Backup)
    }

    pub fn is_restore(&self) -> bool {
        self.job_kind() == JobKind::Restore
    }

    /// Its status; `None` for a word this build does not know.
    pub fn state(&self) -> Option<JobStatus> {
        JobStatus::parse(&self.status)
    }

    /// Whether it is over (a status this build does not know counts as still running).
    pub fn is_over(&self) -> bool {
        self.state().is_some_and(JobStatus::is_terminal)
    }

    /// Its current step; `None` for a word this build does not know.
    pub fn step(&self) -> Option<Phase> {
        Phase::parse(&self.phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert!(job_status::is_terminal("succeeded"));
        assert!(job_status::is_terminal("interrupted"));
        assert!(!job_status::is_terminal("running"));
        assert!(!job_status::is_terminal("something new"));
        assert_eq!(JobStatus::parse("cancelled"), Some(JobStatus::Cancelled));
        assert_eq!(phase::SAFETY_BACKUP, "safety_backup");
        assert_eq!(
            Phase::parse("safety_backup").map(Phase::label),
            Some("Safety backup")
        );
    }
}
