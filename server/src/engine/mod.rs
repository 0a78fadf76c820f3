//! The engine: the jobs Lifeboat runs (backups, restores, upload validation, verification,
//! scheduled runs, retention, offsite copies) and what they need, independent of the web
//! edge so that the CLI and the tests drive exactly the same code. Nothing here knows
//! about HTTP or the UI.
//!
//! The engine is built from values (the settings below, the database to protect), never
//! from the configuration; the job entry points take the target database they work on
//! as a parameter.

pub mod adopt;
pub mod backup;
pub mod checks;
pub mod dump_progress;
pub mod fault;
pub mod offsite_sync;
pub mod preflight;
pub mod pruning;
pub mod read_back;
pub mod recovery;
pub mod restore;
pub mod run;
pub mod scheduler;
pub mod test_restore;
pub mod upload;
pub mod verify;
pub mod watchdog;

use crate::alerts::Alerter;
use crate::pgtools::compression::Compression;
use crate::schedule::{self, Schedule};
use crate::storage::offsite::Offsite;
use crate::target::TargetUrl;
use run::JobRegistry;
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the engine is built from.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Lifeboat's data directory: the backups live under it.
    pub data_dir: PathBuf,
    /// Where pg_dump/pg_restore are; `None`: PATH and /usr/lib/postgresql/*/bin.
    pub pg_bin_dir: Option<PathBuf>,
    /// How pg_dump compresses backups, as resolved at start-up (see
    /// [`crate::pgtools::compression::resolve`]), and why, in words.
    pub compression: Compression,
    pub compression_note: String,
    /// The largest upload accepted.
    pub upload_max_bytes: u64,
    /// How long a validated upload is kept if it is never restored.
    pub upload_ttl: Duration,
    /// `pg_restore --jobs` of a restore into a new database.
    pub restore_jobs: u32,
    /// How long a database kept aside by a swap restore is kept.
    pub keep_old_databases: Duration,
    /// How often the newest backup is test-restored (`None`: not on a schedule).
    pub test_restore_every: Option<Duration>,
    /// Whether every successful scheduled backup is test-restored.
    pub test_restore_after_backup: bool,
    /// The server test restores go to (`None`: the target's own server).
    pub verify_url: Option<TargetUrl>,
    /// pg_dump's lock wait limit and the stall watchdog's limit.
    pub timeouts: watchdog::Timeouts,
    pub alerts: crate::alerts::Settings,
    /// Offsite storage, when configured.
    pub offsite: Option<Offsite>,
    /// The backup schedule from the environment (the Settings page may replace it).
    pub schedule: Option<Schedule>,
    /// Scheduled backups may be off on purpose (LIFEBOAT_SCHEDULE_OFF_OK).
    pub schedule_off_ok: bool,
}

#[derive(Clone)]
pub struct Engine {
    db: SqlitePool,
    data_dir: PathBuf,
    pg_bin_dir: Option<PathBuf>,
    compression: Compression,
    compression_note: String,
    /// The database being protected (`None`: nothing configured).
    target: Option<TargetUrl>,
    jobs: Arc<JobRegistry>,
    upload_max_bytes: u64,
    upload_ttl: Duration,
    restore_jobs: u32,
    keep_old_databases: Duration,
    test_restore_every: Option<Duration>,
    test_restore_after_backup: bool,
    verify_url: Option<TargetUrl>,
    timeouts: watchdog::Timeouts,
    alerts: Alerter,
    offsite: Option<Offsite>,
    /// The backup schedule in force (environment, or the Settings page).
    schedule: schedule::Live,
    schedule_off_ok: bool,
    /// Whether the scheduler runs, and its last error.
    scheduler_health: Arc<scheduler::Health>,
    /// The backups being downloaded (not deleted meanwhile).
    downloads: Arc<pruning::Downloads>,
}

impl Engine {
    pub fn new(db: SqlitePool, settings: Settings, target: Option<TargetUrl>) -> Engine {
        Engine {
            alerts: Alerter::new(settings.alerts, db.clone()),
            offsite: settings.offsite,
            schedule: schedule::live(settings.schedule),
            schedule_off_ok: settings.schedule_off_ok,
            scheduler_health: Arc::default(),
            downloads: Arc::default(),
            db,
            data_dir: settings.data_dir,
            pg_bin_dir: settings.pg_bin_dir,
            compression: settings.compression,
            compression_note: settings.compression_note,
            target,
            jobs: Arc::new(JobRegistry::default()),
            upload_max_bytes: settings.upload_max_bytes,
            upload_ttl: settings.upload_ttl,
            restore_jobs: settings.restore_jobs,
            keep_old_databases: settings.keep_old_databases,
            test_restore_every: settings.test_restore_every,
            test_restore_after_backup: settings.test_restore_after_backup,
            verify_url: settings.verify_url,
            timeouts: settings.timeouts,
        }
    }

    /// How backups are compressed (`gzip:1`, `zstd:1`, `none` …) and why.
    pub fn compression(&self) -> (&Compression, &str) {
        (&self.compression, &self.compression_note)
    }

    pub fn db(&self) -> &SqlitePool {
        &self.db
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database this engine protects, if any.
    pub fn target(&self) -> Option<&TargetUrl> {
        self.target.as_ref()
    }

    /// How often the newest backup is test-restored (`None`: not on a schedule).
    pub fn test_restore_every(&self) -> Option<Duration> {
        self.test_restore_every
    }

    /// The name of the protected database, if any.
    pub fn database(&self) -> Option<String> {
        self.target.as_ref().map(TargetUrl::database)
    }

    /// The jobs running in this process.
    pub fn jobs(&self) -> &JobRegistry {
        &self.jobs
    }

    pub fn alerts(&self) -> &Alerter {
        &self.alerts
    }

    /// What the jobs started that outlives them (offsite copies, alert deliveries): the
    /// web console lets it run, a command-line run waits for it before exiting.
    pub fn followups(&self) -> &crate::followups::FollowUps {
        self.alerts.followups()
    }

    /// The backups being downloaded right now.
    pub fn downloads(&self) -> &Arc<pruning::Downloads> {
        &self.downloads
    }

    pub fn offsite(&self) -> Option<&Offsite> {
        self.offsite.as_ref()
    }

    /// The schedule in force, shared with the scheduler.
    pub fn schedule(&self) -> &schedule::Live {
        &self.schedule
    }

    /// Whether the scheduler runs, and its last error.
    pub fn scheduler_health(&self) -> &Arc<scheduler::Health> {
        &self.scheduler_health
    }

    /// Scheduled backups are off and nobody said that was on purpose: nothing makes new
    /// recovery points while nobody looks (an alert, a warning, a failed readiness check).
    pub fn schedule_off_unacknowledged(&self) -> bool {
        !self.schedule_off_ok && self.schedule.borrow().schedule.is_none()
    }

    /// The absolute path of a stored backup's file (`location` is relative to the data
    /// directory).
    pub fn backup_path(&self, location: Option<&str>) -> Option<PathBuf> {
        location.map(|l| self.data_dir.join(l))
    }
}
