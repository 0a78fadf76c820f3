//! What the job services (backups; later restores) need, independent of the web edge so
//! that the CLI and the tests drive exactly the same code.

use crate::config::{Config, TargetUrl};
use crate::jobs::JobRegistry;
use sqlx::SqlitePool;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone)]
pub struct Engine {
    pub db: SqlitePool,
    pub data_dir: PathBuf,
    pub pg_bin_dir: Option<PathBuf>,
    /// The database being protected (`None`: nothing configured).
    pub target: Option<TargetUrl>,
    pub jobs: Arc<JobRegistry>,
    pub upload_max_bytes: u64,
    pub upload_ttl: std::time::Duration,
    pub alerts: crate::alerts::Alerter,
    /// Offsite storage, when configured.
    pub offsite: Option<crate::offsite::Offsite>,
    /// The backup schedule in force (environment, or the Settings page).
    pub schedule: crate::schedule::Live,
}

impl Engine {
    pub fn new(db: SqlitePool, config: &Config, target: Option<TargetUrl>) -> Engine {
        Engine {
            alerts: crate::alerts::Alerter::new(config.alerts.clone(), db.clone()),
            offsite: config.offsite.clone(),
            schedule: crate::schedule::live(config.scheduler.schedule.clone()),
            db,
            data_dir: config.data_dir.clone(),
            pg_bin_dir: config.pg_bin_dir.clone(),
            target,
            jobs: Arc::new(JobRegistry::default()),
            upload_max_bytes: config.upload_max_bytes,
            upload_ttl: config.upload_ttl,
        }
    }
}
