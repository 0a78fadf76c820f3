//! What the jobs work with: the data directory, the database to protect, the PostgreSQL
//! client tools, and uploads.

use super::parse::parse_size;
use super::sources::Values;
use crate::pgtools::compression::Compression;
use crate::target::TargetUrl;
use std::path::PathBuf;
use std::time::Duration;

/// 50 GiB.
pub const DEFAULT_UPLOAD_MAX_BYTES: u64 = 50 << 30;

pub(super) struct Jobs {
    pub data_dir: PathBuf,
    pub db_busy_timeout: Duration,
    pub target_url: Option<TargetUrl>,
    pub pg_bin_dir: Option<PathBuf>,
    pub compression: Option<Compression>,
    pub upload_max_bytes: u64,
    pub upload_ttl: Duration,
    pub restore_jobs: u32,
    pub keep_old_databases: Duration,
    pub test_restore_every: Option<Duration>,
    pub test_restore_after_backup: bool,
    pub verify_url: Option<TargetUrl>,
    pub timeouts: crate::engine::watchdog::Timeouts,
}

pub(super) fn load(v: &mut Values) -> Jobs {
    let data_dir = v
        .value("LIFEBOAT_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"));
    // A write to Lifeboat's own database waits this long for a lock held elsewhere.
    let db_busy_timeout = v.duration(
        "LIFEBOAT_DB_BUSY_TIMEOUT",
        crate::store::DEFAULT_BUSY_TIMEOUT,
    );
    // Every query Lifeboat itself sends the target gives up after this (ANALYZE excepted).
    let statement_timeout = v.duration(
        "LIFEBOAT_STATEMENT_TIMEOUT",
        crate::target::DEFAULT_STATEMENT_TIMEOUT,
    );
    let target_url = v
        .parse("LIFEBOAT_TARGET_URL", TargetUrl::parse)
        .map(|t| t.with_statement_timeout(statement_timeout));
    // One folder, or several separated by `:` (each version found is used where it fits).
    let pg_bin_dir = v.parse("LIFEBOAT_PG_BIN_DIR", |s| {
        let p = PathBuf::from(s);
        let dirs = crate::pgtools::bin_dirs(&p);
        match dirs.iter().find(|d| !d.is_dir()) {
            None if !dirs.is_empty() => Ok(p),
            None => Err(
                "no folder given; point it at the folder holding pg_dump and pg_restore"
                    .to_string(),
            ),
            Some(d) => Err(format!(
                "{} is not a directory; point it at the folder holding pg_dump and pg_restore",
                d.display()
            )),
        }
    });
    let compression = v.parse("LIFEBOAT_COMPRESSION", |s| s.parse::<Compression>());
    let upload_max_bytes = v.parse_or(
        "LIFEBOAT_UPLOAD_MAX_SIZE",
        DEFAULT_UPLOAD_MAX_BYTES,
        parse_size,
    );
    let upload_ttl = v.duration("LIFEBOAT_UPLOAD_TTL", Duration::from_secs(24 * 3600));
    let restore_jobs = v.count("LIFEBOAT_RESTORE_JOBS", 4, "parallel pg_restore jobs");
    let keep_old_databases = v.duration(
        "LIFEBOAT_KEEP_OLD_DATABASES",
        Duration::from_secs(7 * 24 * 3600),
    );
    // A test restore of the newest backup this often, or of every scheduled backup
    // (`after-backup`), or never on a schedule (`off`).
    let (test_restore_every, test_restore_after_backup) = v.parse_or(
        "LIFEBOAT_TEST_RESTORE_EVERY",
        (Some(Duration::from_secs(7 * 24 * 3600)), false),
        |s| match s.trim() {
            "off" | "never" => Ok((None, false)),
            "after-backup" => Ok((None, true)),
            other => super::parse::parse_duration(other).and_then(|d| {
                if d.is_zero() {
                    Err("a test restore interval must be longer than 0 (or `off`, or `after-backup`)".to_string())
                } else {
                    Ok((Some(d), false))
                }
            }),
        },
    );
    // Test restores go to this server when given, else to the target's own server.
    let verify_url = v
        .parse("LIFEBOAT_VERIFY_URL", TargetUrl::parse)
        .map(|t| t.with_statement_timeout(statement_timeout));
    let defaults = crate::engine::watchdog::Timeouts::default();
    let timeouts = crate::engine::watchdog::Timeouts {
        lock_wait: v.duration("LIFEBOAT_LOCK_WAIT_TIMEOUT", defaults.lock_wait),
        stall: v.duration("LIFEBOAT_STALL_TIMEOUT", defaults.stall),
    };
    Jobs {
        timeouts,
        test_restore_every,
        test_restore_after_backup,
        verify_url,
        restore_jobs,
        keep_old_databases,
        data_dir,
        db_busy_timeout,
        target_url,
        pg_bin_dir,
        compression,
        upload_max_bytes,
        upload_ttl,
    }
}
