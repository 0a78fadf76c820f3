//! Where configuration values come from (the environment, `<VAR>_FILE` secrets, an
//! optional TOML file), the list of known settings, and the problems found in them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem with one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub setting: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration: {}: {}",
            self.setting, self.message
        )
    }
}

/// All problems found, one per line.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
impl std::error::Error for ConfigErrors {}

/// Every setting: its environment variable, its key in the TOML file, and what it is.
/// docs/configuration.example.toml and docs list the same names.
pub const SETTINGS: &[(&str, &str)] = &[
    ("LIFEBOAT_DATA_DIR", "data_dir"),
    ("LIFEBOAT_DB_BUSY_TIMEOUT", "db_busy_timeout"),
    ("LIFEBOAT_TARGET_URL", "target_url"),
    ("LIFEBOAT_ADDR", "addr"),
    ("LIFEBOAT_PUBLIC_URL", "public_url"),
    ("LIFEBOAT_SESSION_IDLE_TIMEOUT", "session_idle_timeout"),
    (
        "LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT",
        "session_absolute_timeout",
    ),
    ("LIFEBOAT_SESSION_PURGE_INTERVAL", "session_purge_interval"),
    ("LIFEBOAT_CONFIRM_PASSWORD_AFTER", "confirm_password_after"),
    ("LIFEBOAT_ADMIN_USER", "admin_user"),
    ("LIFEBOAT_ADMIN_PASSWORD", "admin_password"),
    ("LIFEBOAT_PG_BIN_DIR", "pg_bin_dir"),
    ("LIFEBOAT_COMPRESSION", "compression"),
    ("LIFEBOAT_SITE_DIR", "site_dir"),
    ("LIFEBOAT_TRUST_PROXY", "trust_proxy"),
    ("LIFEBOAT_SCHEDULE_OFF_OK", "schedule_off_ok"),
    ("LIFEBOAT_SETUP_LINK_TTL", "setup_link_ttl"),
    ("LIFEBOAT_INVITATION_LINK_TTL", "invitation_link_ttl"),
    ("LIFEBOAT_LOG", "log"),
    ("LIFEBOAT_CONFIRM_BACKUP", "confirm_backup"),
    ("LIFEBOAT_REQUIRE_2FA", "require_2fa"),
    ("LIFEBOAT_UPLOAD_MAX_SIZE", "upload_max_size"),
    ("LIFEBOAT_UPLOAD_TTL", "upload_ttl"),
    ("LIFEBOAT_RESTORE_JOBS", "restore_jobs"),
    ("LIFEBOAT_KEEP_OLD_DATABASES", "keep_old_databases"),
    ("LIFEBOAT_TEST_RESTORE_EVERY", "test_restore_every"),
    ("LIFEBOAT_VERIFY_URL", "verify_url"),
    ("LIFEBOAT_LOCK_WAIT_TIMEOUT", "lock_wait_timeout"),
    ("LIFEBOAT_STALL_TIMEOUT", "stall_timeout"),
    ("LIFEBOAT_STATEMENT_TIMEOUT", "statement_timeout"),
    ("LIFEBOAT_SCHEDULE", "schedule"),
    ("LIFEBOAT_SCHEDULE_TZ", "schedule_tz"),
    ("LIFEBOAT_SCHEDULE_ATTEMPTS", "schedule_attempts"),
    ("LIFEBOAT_SCHEDULE_RETRY_DELAY", "schedule_retry_delay"),
    ("LIFEBOAT_SCHEDULE_CATCH_UP", "schedule_catch_up"),
    ("LIFEBOAT_RETENTION_KEEP", "retention_keep"),
    ("LIFEBOAT_RETENTION_MAX_AGE", "retention_max_age"),
    ("LIFEBOAT_ALERT_WEBHOOK_URL", "alert_webhook_url"),
    ("LIFEBOAT_ALERT_WEBHOOK_FORMAT", "alert_webhook_format"),
    ("LIFEBOAT_SMTP_HOST", "smtp_host"),
    ("LIFEBOAT_SMTP_PORT", "smtp_port"),
    ("LIFEBOAT_SMTP_SECURITY", "smtp_security"),
    ("LIFEBOAT_SMTP_USER", "smtp_user"),
    ("LIFEBOAT_SMTP_PASSWORD", "smtp_password"),
    ("LIFEBOAT_ALERT_EMAIL_FROM", "alert_email_from"),
    ("LIFEBOAT_ALERT_EMAIL_TO", "alert_email_to"),
    (
        "LIFEBOAT_ALERT_CONSECUTIVE_FAILURES",
        "alert_consecutive_failures",
    ),
    (
        "LIFEBOAT_ALERT_LOW_SPACE_PERCENT",
        "alert_low_space_percent",
    ),
    ("LIFEBOAT_ALERT_LOW_SPACE", "alert_low_space"),
    ("LIFEBOAT_S3_BUCKET", "s3_bucket"),
    ("LIFEBOAT_S3_ENDPOINT", "s3_endpoint"),
    ("LIFEBOAT_S3_REGION", "s3_region"),
    ("LIFEBOAT_S3_PREFIX", "s3_prefix"),
    ("LIFEBOAT_S3_ACCESS_KEY_ID", "s3_access_key_id"),
    ("LIFEBOAT_S3_SECRET_ACCESS_KEY", "s3_secret_access_key"),
    ("LIFEBOAT_OFFSITE_KEEP", "offsite_keep"),
    ("LIFEBOAT_S3_REQUEST_TIMEOUT", "s3_request_timeout"),
    ("LIFEBOAT_S3_MIN_SPEED", "s3_min_speed"),
    ("LIFEBOAT_HEADER_READ_TIMEOUT", "header_read_timeout"),
    ("LIFEBOAT_REQUEST_TIMEOUT", "request_timeout"),
    ("LIFEBOAT_UPLOAD_IDLE_TIMEOUT", "upload_idle_timeout"),
    ("LIFEBOAT_MAX_CONNECTIONS", "max_connections"),
    ("LIFEBOAT_MAX_EVENT_STREAMS", "max_event_streams"),
    ("LIFEBOAT_MAX_UPLOADS", "max_uploads"),
    ("LIFEBOAT_READY_CHECK_INTERVAL", "ready_check_interval"),
];

/// Settings that may instead be read from a file named by `<VAR>_FILE` (for secrets
/// mounted by an orchestrator).
const FILE_SETTINGS: &[&str] = &[
    "LIFEBOAT_TARGET_URL",
    "LIFEBOAT_ADMIN_PASSWORD",
    "LIFEBOAT_ALERT_WEBHOOK_URL",
    "LIFEBOAT_SMTP_PASSWORD",
    "LIFEBOAT_S3_ACCESS_KEY_ID",
    "LIFEBOAT_S3_SECRET_ACCESS_KEY",
];

/// Where configuration values come from: the environment and an optional TOML file.
pub struct Sources {
    pub(super) env: BTreeMap<String, String>,
    file: BTreeMap<String, String>,
    file_name: Option<PathBuf>,
}

impl Sources {
    /// The process environment and the file named by `config_file` or `LIFEBOAT_CONFIG`.
    pub fn from_process(config_file: Option<&Path>) -> Result<Sources, ConfigErrors> {
        Sources::new(std::env::vars().collect(), config_file)
    }

    pub fn new(
        env: BTreeMap<String, String>,
        config_file: Option<&Path>,
    ) -> Result<Sources, ConfigErrors> {
        let file_name = config_file
            .map(Path::to_path_buf)
            .or_else(|| env.get("LIFEBOAT_CONFIG").map(PathBuf::from));
        let mut file = BTreeMap::new();
        if let Some(path) = &file_name {
            let text = std::fs::read_to_string(path).map_err(|e| {
                one_problem(
                    "LIFEBOAT_CONFIG",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                one_problem(
                    "LIFEBOAT_CONFIG",
                    format!("{} is not valid TOML: {}", path.display(), e.message()),
                )
            })?;
            let known: Vec<&str> = SETTINGS.iter().map(|(_, k)| *k).collect();
            let mut problems = vec![];
            for (k, v) in table {
                if !known.contains(&k.as_str()) {
                    problems.push(ConfigProblem {
                        setting: format!("{} key `{k}`", path.display()),
                        message: format!("unknown setting; known keys: {}", known.join(", ")),
                    });
                    continue;
                }
                let s = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        problems.push(ConfigProblem {
                            setting: format!("{} key `{k}`", path.display()),
                            message: format!("expected a string, number or boolean, got {other}"),
                        });
                        continue;
                    }
                };
                file.insert(k, s);
            }
            if !problems.is_empty() {
                return Err(ConfigErrors(problems));
            }
        }
        Ok(Sources {
            env,
            file,
            file_name,
        })
    }

    /// The value of a setting and a name for it in messages. The environment wins over
    /// the file; `<VAR>_FILE` is read for secret settings.
    fn get(&self, var: &str) -> Result<Option<(String, String)>, ConfigProblem> {
        if let Some(v) = self.env.get(var).filter(|v| !v.is_empty()) {
            return Ok(Some((v.clone(), var.to_string())));
        }
        if FILE_SETTINGS.contains(&var) {
            let fvar = format!("{var}_FILE");
            if let Some(path) = self.env.get(&fvar).filter(|v| !v.is_empty()) {
                let v = std::fs::read_to_string(path).map_err(|e| ConfigProblem {
                    setting: fvar.clone(),
                    message: format!("cannot read {path}: {e}"),
                })?;
                return Ok(Some((v.trim_end_matches(['\n', '\r']).to_string(), fvar)));
            }
        }
        let key = SETTINGS
            .iter()
            .find(|(v, _)| *v == var)
            .map(|(_, k)| *k)
            .unwrap_or_default();
        Ok(self.file.get(key).map(|v| {
            let origin = match &self.file_name {
                Some(p) => format!("{} key `{key}`", p.display()),
                None => key.to_string(),
            };
            (v.clone(), origin)
        }))
    }
}

fn one_problem(setting: &str, message: String) -> ConfigErrors {
    ConfigErrors(vec![ConfigProblem {
        setting: setting.into(),
        message,
    }])
}

/// The raw values of every setting, read once, and the problems found so far. The
/// section loaders parse from it; [`Values::finish`] reports every problem at once.
pub(super) struct Values<'a> {
    sources: &'a Sources,
    raw: BTreeMap<&'static str, (String, String)>,
    problems: Vec<ConfigProblem>,
}

impl<'a> Values<'a> {
    pub(super) fn new(sources: &'a Sources) -> Values<'a> {
        let mut raw = BTreeMap::new();
        let mut problems = vec![];
        for (var, _) in SETTINGS {
            match sources.get(var) {
                Ok(Some(v)) => {
                    raw.insert(*var, v);
                }
                Ok(None) => {}
                Err(p) => problems.push(p),
            }
        }
        Values {
            sources,
            raw,
            problems,
        }
    }

    /// An environment variable outside the settings (e.g. `LEPTOS_SITE_ROOT`).
    pub(super) fn env(&self, var: &str) -> Option<&str> {
        self.sources.env.get(var).map(String::as_str)
    }

    /// The value of a setting and where it came from (for messages).
    pub(super) fn get(&self, var: &str) -> Option<(String, String)> {
        self.raw.get(var).cloned()
    }

    /// The value alone.
    pub(super) fn value(&self, var: &str) -> Option<String> {
        self.get(var).map(|(v, _)| v)
    }

    pub(super) fn problem(&mut self, setting: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            setting: setting.into(),
            message: message.into(),
        });
    }

    /// Parses a setting when it is set; a value `parse` refuses is reported under the
    /// name it came from, and gives `None`.
    pub(super) fn parse<T>(
        &mut self,
        var: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (v, origin) = self.get(var)?;
        match parse(&v) {
            Ok(t) => Some(t),
            Err(m) => {
                self.problem(origin, m);
                None
            }
        }
    }

    /// [`Values::parse`], with a default when unset or invalid (an invalid value fails
    /// the whole load anyway).
    pub(super) fn parse_or<T>(
        &mut self,
        var: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        self.parse(var, parse).unwrap_or(default)
    }

    pub(super) fn duration(
        &mut self,
        var: &str,
        default: std::time::Duration,
    ) -> std::time::Duration {
        self.parse_or(var, default, super::parse::parse_duration)
    }

    pub(super) fn bool(&mut self, var: &str, default: bool) -> bool {
        self.parse_or(var, default, super::parse::parse_bool)
    }

    /// A count of at least 1.
    pub(super) fn count(&mut self, var: &str, default: u32, what: &str) -> u32 {
        self.parse_or(var, default, |v| match v.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("`{v}` is not a number of {what} (1 or more)")),
        })
    }

    /// Every problem found, or nothing.
    pub(super) fn finish(self) -> Result<(), ConfigErrors> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.problems))
        }
    }
}
