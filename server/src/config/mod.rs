//! Lifeboat's configuration: environment variables `LIFEBOAT_*`, optionally layered over a
//! TOML file (`LIFEBOAT_CONFIG` or `--config`), parsed once into one typed [`Config`].
//! Every invalid setting is collected and reported on a line of its own, saying what is
//! wrong and how to fix it; secrets are redacted wherever the config is printed.
//!
//! One loader per section (`web`, `jobs`, `scheduler`, `alerts`, `offsite`) builds that
//! section's settings from the raw values; the domains never read the configuration.

mod alerts;
mod jobs;
mod offsite;
pub mod parse;
mod scheduler;
mod serving;
pub mod sources;
mod web;

pub use jobs::DEFAULT_UPLOAD_MAX_BYTES;
pub use parse::{parse_duration, parse_size};
pub use serving::Serving;
pub use sources::{ConfigErrors, ConfigProblem, Sources, SETTINGS};

use crate::secret::Secret;
use crate::target::TargetUrl;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    /// Lifeboat's own SQLite database and the backups live here (the persistent volume).
    pub data_dir: PathBuf,
    /// How long a write to Lifeboat's own database waits for a lock held elsewhere before
    /// it fails (`LIFEBOAT_DB_BUSY_TIMEOUT`, default 10 s).
    pub db_busy_timeout: Duration,
    /// The database to protect. `None`: `lifeboat serve` starts the demo database.
    pub target_url: Option<TargetUrl>,
    pub addr: SocketAddr,
    /// The address users reach Lifeboat at (`https://…` makes the session cookie `Secure`
    /// and is the origin accepted on state-changing requests).
    pub public_url: Option<url::Url>,
    pub session_idle_timeout: Duration,
    pub session_absolute_timeout: Duration,
    /// How often expired sessions are purged (and audited as expired).
    pub session_purge_interval: Duration,
    /// How long after the last password check a destructive action asks for the
    /// password again (default 10 minutes).
    pub confirm_password_after: Duration,
    /// Bootstraps the first administrator for automated deployments.
    pub admin_user: String,
    pub admin_password: Option<Secret<String>>,
    /// Directory holding pg_dump/pg_restore; otherwise PATH and /usr/lib/postgresql/*/bin.
    pub pg_bin_dir: Option<PathBuf>,
    /// How pg_dump compresses backups (`None`: zstd when the client has it, else gzip:2).
    pub compression: Option<crate::pgtools::compression::Compression>,
    /// The built web assets (cargo-leptos' site directory).
    pub site_dir: PathBuf,
    /// The reverse proxies whose `X-Forwarded-For` gives the client's address.
    pub trust_proxy: crate::proxies::TrustedProxies,
    /// How long the first-run setup link works after start-up (default 1 h).
    pub setup_link_ttl: Duration,
    /// How long an invitation or password-reset link works (default 72 h).
    pub invitation_link_ttl: Duration,
    /// tracing filter, e.g. `info` or `lifeboat=debug,info`.
    pub log: String,
    /// Whether "Back up now" asks for confirmation in the web console.
    pub confirm_backup: bool,
    /// Scheduled backups are off on purpose: no alert, warning or failed readiness check.
    pub schedule_off_ok: bool,
    /// Everyone must sign in with a second factor (TOTP); a person without one enrols
    /// right after the password, before getting a session.
    pub require_2fa: bool,
    /// The largest `.dump` accepted by an upload (default 50 GiB).
    pub upload_max_bytes: u64,
    /// How long a validated upload is kept if it is never restored (default 24h).
    pub upload_ttl: Duration,
    /// `pg_restore --jobs` of a restore into a new database (default 4).
    pub restore_jobs: u32,
    /// How long the databases a swap restore keeps aside are kept (default 7 days).
    pub keep_old_databases: Duration,
    /// How often the newest backup is test-restored (default 7 days; `None`: off).
    pub test_restore_every: Option<Duration>,
    /// Whether every successful scheduled backup is test-restored (`after-backup`).
    pub test_restore_after_backup: bool,
    /// The server test restores go to (`None`: the target's own server).
    pub verify_url: Option<crate::target::TargetUrl>,
    /// pg_dump's lock wait limit and the stall watchdog's limit.
    pub timeouts: crate::engine::watchdog::Timeouts,
    /// Scheduled backups, their retries, and retention.
    pub scheduler: crate::schedule::Settings,
    /// Alert channels and thresholds.
    pub alerts: crate::alerts::Settings,
    /// Offsite copies to S3-compatible storage (`None`: not configured).
    pub offsite: Option<crate::storage::offsite::Offsite>,
    /// The web server's timeouts and caps, and the readiness checks' interval.
    pub serving: Serving,
}

impl Config {
    /// Reads every setting; returns all problems at once.
    pub fn load(sources: &Sources) -> Result<Config, ConfigErrors> {
        let mut v = sources::Values::new(sources);
        let jobs = jobs::load(&mut v);
        let web = web::load(&mut v);
        let scheduler = scheduler::load(&mut v);
        let alerts = alerts::load(&mut v);
        let offsite = offsite::load(&mut v);
        let serving = serving::load(&mut v);
        v.finish()?;
        Ok(Config {
            data_dir: jobs.data_dir,
            db_busy_timeout: jobs.db_busy_timeout,
            target_url: jobs.target_url,
            addr: web.addr,
            public_url: web.public_url,
            session_idle_timeout: web.session_idle_timeout,
            session_absolute_timeout: web.session_absolute_timeout,
            session_purge_interval: web.session_purge_interval,
            confirm_password_after: web.confirm_password_after,
            admin_user: web.admin_user,
            admin_password: web.admin_password,
            pg_bin_dir: jobs.pg_bin_dir,
            compression: jobs.compression,
            site_dir: web.site_dir,
            trust_proxy: web.trust_proxy,
            setup_link_ttl: web.setup_link_ttl,
            invitation_link_ttl: web.invitation_link_ttl,
            log: web.log,
            confirm_backup: web.confirm_backup,
            schedule_off_ok: web.schedule_off_ok,
            require_2fa: web.require_2fa,
            upload_max_bytes: jobs.upload_max_bytes,
            upload_ttl: jobs.upload_ttl,
            restore_jobs: jobs.restore_jobs,
            keep_old_databases: jobs.keep_old_databases,
            test_restore_every: jobs.test_restore_every,
            test_restore_after_backup: jobs.test_restore_after_backup,
            verify_url: jobs.verify_url,
            timeouts: jobs.timeouts,
            scheduler,
            alerts,
            offsite,
            serving,
        })
    }

    /// Whether the session cookie must be `Secure` (served over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }

    /// The URL to print for people: the public URL, or the listen address.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.as_str().trim_end_matches('/').to_string(),
            None => {
                let host = if self.addr.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else if self.addr.is_ipv6() {
                    format!("[{}]", self.addr.ip())
                } else {
                    self.addr.ip().to_string()
                };
                format!("http://{host}:{}", self.addr.port())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        Config::load(&Sources::new(env(pairs), None)?)
    }

    #[test]
    fn defaults_are_sensible() {
        let c = load(&[]).expect("defaults load");
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert!(c.target_url.is_none());
        assert_eq!(c.session_idle_timeout, Duration::from_secs(1800));
        assert_eq!(c.session_absolute_timeout, Duration::from_secs(8 * 3600));
        assert!(!c.secure_cookies());
        assert_eq!(c.timeouts.lock_wait, Duration::from_secs(120));
        assert_eq!(c.timeouts.stall, Duration::from_secs(300));
    }

    #[test]
    fn the_hang_limits_are_read_and_reach_the_target_url() {
        let c = load(&[
            ("LIFEBOAT_LOCK_WAIT_TIMEOUT", "30s"),
            ("LIFEBOAT_STALL_TIMEOUT", "10m"),
            ("LIFEBOAT_STATEMENT_TIMEOUT", "90s"),
            ("LIFEBOAT_TARGET_URL", "postgres://u:p@db/shop"),
        ])
        .expect("loads");
        assert_eq!(c.timeouts.lock_wait, Duration::from_secs(30));
        assert_eq!(c.timeouts.stall, Duration::from_secs(600));
        let target = c.target_url.expect("target");
        assert_eq!(target.statement_timeout(), Duration::from_secs(90));
        assert_eq!(
            target.with_database("other").statement_timeout(),
            Duration::from_secs(90)
        );
        let err = load(&[("LIFEBOAT_STALL_TIMEOUT", "0")]).expect_err("zero");
        assert!(err.to_string().contains("LIFEBOAT_STALL_TIMEOUT"), "{err}");
    }

    #[test]
    fn every_bad_setting_is_reported_on_its_own_line() {
        let err = load(&[
            ("LIFEBOAT_ADDR", "nope"),
            ("LIFEBOAT_TARGET_URL", "mysql://x/y"),
            ("LIFEBOAT_SESSION_IDLE_TIMEOUT", "10 parsecs"),
            ("LIFEBOAT_ADMIN_PASSWORD", "short"),
        ])
        .expect_err("must fail");
        let text = err.to_string();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.contains("LIFEBOAT_ADDR: `nope` is not HOST:PORT"),
            "{text}"
        );
        assert!(
            text.contains("LIFEBOAT_TARGET_URL: scheme `mysql`"),
            "{text}"
        );
        assert!(text.contains("LIFEBOAT_SESSION_IDLE_TIMEOUT"), "{text}");
        assert!(
            text.contains("LIFEBOAT_ADMIN_PASSWORD: the password is shorter"),
            "{text}"
        );
        assert!(
            !text.contains("short\n") && !text.contains("`short`"),
            "password echoed: {text}"
        );
    }

    #[test]
    fn target_password_is_redacted_everywhere_it_is_printed() {
        let c = load(&[(
            "LIFEBOAT_TARGET_URL",
            "postgres://app:s3cr%40t@db.internal:5433/shop",
        )])
        .expect("loads");
        let t = c.target_url.clone().expect("target");
        assert_eq!(t.password().as_deref(), Some("s3cr@t"));
        assert_eq!(t.database(), "shop");
        assert_eq!(t.port(), 5433);
        let printed = format!("{c:?} {t}");
        assert!(!printed.contains("s3cr"), "{printed}");
        assert!(
            printed.contains("postgres://app:***@db.internal:5433/shop"),
            "{printed}"
        );
    }

    #[test]
    fn admin_password_is_redacted_in_debug() {
        let c = load(&[("LIFEBOAT_ADMIN_PASSWORD", "correct horse battery")]).expect("loads");
        assert!(!format!("{c:?}").contains("horse"));
    }

    #[test]
    fn toml_file_is_read_and_environment_wins() {
        let dir = std::env::temp_dir().join(format!("lifeboat-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let file = dir.join("lifeboat.toml");
        std::fs::write(
            &file,
            "addr = \"0.0.0.0:8080\"\nsession_idle_timeout = \"10m\"\n",
        )
        .expect("write");
        let src = Sources::new(env(&[("LIFEBOAT_ADDR", "127.0.0.1:9999")]), Some(&file))
            .expect("file parses");
        let c = Config::load(&src).expect("loads");
        assert_eq!(c.addr.to_string(), "127.0.0.1:9999");
        assert_eq!(c.session_idle_timeout, Duration::from_secs(600));

        std::fs::write(&file, "adress = \"x\"\n").expect("write");
        let err = Sources::new(env(&[]), Some(&file))
            .err()
            .expect("unknown key refused");
        assert!(err.to_string().contains("unknown setting"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_schedule_defaults_to_02_00_and_can_be_turned_off() {
        let c = load(&[]).expect("defaults");
        let s = c.scheduler.schedule.expect("on by default");
        assert_eq!(s.expression, "0 2 * * *");
        assert_eq!(c.scheduler.attempts, 3);
        assert_eq!(c.scheduler.retention.keep_last, 30);
        let off = load(&[("LIFEBOAT_SCHEDULE", "off")]).expect("off");
        assert!(off.scheduler.schedule.is_none());
        let bad = load(&[
            ("LIFEBOAT_SCHEDULE", "0 25 * * *"),
            ("LIFEBOAT_RETENTION_KEEP", "0"),
        ])
        .expect_err("invalid");
        let text = bad.to_string();
        assert!(text.contains("LIFEBOAT_SCHEDULE:"), "{text}");
        assert!(text.contains("LIFEBOAT_RETENTION_KEEP"), "{text}");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("50GiB"), Ok(50 << 30));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("0").is_err());
        assert!(parse_size("ten GB").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(parse_size("1.5 GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("2tib"), Ok(2 << 40));
        assert!(parse_size("99999999999TB").is_err());
        assert_eq!(load(&[]).expect("defaults").upload_max_bytes, 50 << 30);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m").ok(), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("8h").ok(), Some(Duration::from_secs(28800)));
        assert!(parse_duration("0s").is_err());
        // Weeks are a unit people use for retention; a unit nobody means is refused.
        assert_eq!(
            parse_duration("2w").ok(),
            Some(Duration::from_secs(14 * 86400))
        );
        assert_eq!(
            parse_duration("1h 30m").ok(),
            Some(Duration::from_secs(5400))
        );
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("").is_err());
    }
}
