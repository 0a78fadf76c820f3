//! Lifeboat's configuration: environment variables `LIFEBOAT_*`, optionally layered over a
//! TOML file (`LIFEBOAT_CONFIG` or `--config`), parsed once into one typed [`Config`].
//! Every invalid setting is collected and reported on a line of its own, saying what is
//! wrong and how to fix it; secrets are redacted wherever the config is printed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(v: T) -> Self {
        Secret(v)
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A PostgreSQL connection URL for the database Lifeboat protects. Its password never
/// appears in `Debug`/`Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetUrl {
    url: url::Url,
}

impl TargetUrl {
    pub fn parse(s: &str) -> Result<TargetUrl, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| {
            format!("not a URL ({e}); use postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        })?;
        if url.scheme() != "postgres" && url.scheme() != "postgresql" {
            return Err(format!(
                "scheme `{}` is not postgres:// or postgresql://",
                url.scheme()
            ));
        }
        let db = url.path().trim_start_matches('/');
        if db.is_empty() || db.contains('/') {
            return Err("names no database; end the URL with /DATABASE".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("names no host; use postgres://USER:PASSWORD@HOST:PORT/DATABASE".into());
        }
        Ok(TargetUrl { url })
    }

    /// The full URL, password included: only for building a connection.
    pub fn expose(&self) -> &str {
        self.url.as_str()
    }

    pub fn database(&self) -> String {
        let raw = self.url.path().trim_start_matches('/');
        urlencoding_decode(raw)
    }
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_string()
    }
    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(5432)
    }
    pub fn user(&self) -> String {
        let u = self.url.username();
        if u.is_empty() {
            std::env::var("USER").unwrap_or_else(|_| "postgres".into())
        } else {
            urlencoding_decode(u)
        }
    }
    pub fn password(&self) -> Option<String> {
        self.url.password().map(urlencoding_decode)
    }
    /// The URL with its password replaced by `***`, safe for logs and the UI.
    pub fn redacted(&self) -> String {
        let mut u = self.url.clone();
        if u.password().is_some() {
            let _ = u.set_password(Some("***"));
        }
        u.to_string()
    }
}

fn urlencoding_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

impl fmt::Debug for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}
impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Lifeboat's own SQLite database and the backups live here (the persistent volume).
    pub data_dir: PathBuf,
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
    /// Bootstraps the first administrator for automated deployments.
    pub admin_user: String,
    pub admin_password: Option<Secret<String>>,
    /// Directory holding pg_dump/pg_restore; otherwise PATH and /usr/lib/postgresql/*/bin.
    pub pg_bin_dir: Option<PathBuf>,
    /// The built web assets (cargo-leptos' site directory).
    pub site_dir: PathBuf,
    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy).
    pub trust_proxy: bool,
    /// tracing filter, e.g. `info` or `lifeboat=debug,info`.
    pub log: String,
    /// Whether "Back up now" asks for confirmation in the web console.
    pub confirm_backup: bool,
    /// The largest `.dump` accepted by an upload (default 50 GiB).
    pub upload_max_bytes: u64,
    /// How long a validated upload is kept if it is never restored (default 24h).
    pub upload_ttl: Duration,
    /// Scheduled backups, their retries, and retention.
    pub scheduler: crate::schedule::Settings,
    /// Alert channels and thresholds.
    pub alerts: crate::alerts::Settings,
    /// Offsite copies to S3-compatible storage (`None`: not configured).
    pub offsite: Option<crate::offsite::Offsite>,
}

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
    ("LIFEBOAT_TARGET_URL", "target_url"),
    ("LIFEBOAT_ADDR", "addr"),
    ("LIFEBOAT_PUBLIC_URL", "public_url"),
    ("LIFEBOAT_SESSION_IDLE_TIMEOUT", "session_idle_timeout"),
    (
        "LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT",
        "session_absolute_timeout",
    ),
    ("LIFEBOAT_SESSION_PURGE_INTERVAL", "session_purge_interval"),
    ("LIFEBOAT_ADMIN_USER", "admin_user"),
    ("LIFEBOAT_ADMIN_PASSWORD", "admin_password"),
    ("LIFEBOAT_PG_BIN_DIR", "pg_bin_dir"),
    ("LIFEBOAT_SITE_DIR", "site_dir"),
    ("LIFEBOAT_TRUST_PROXY", "trust_proxy"),
    ("LIFEBOAT_LOG", "log"),
    ("LIFEBOAT_CONFIRM_BACKUP", "confirm_backup"),
    ("LIFEBOAT_UPLOAD_MAX_SIZE", "upload_max_size"),
    ("LIFEBOAT_UPLOAD_TTL", "upload_ttl"),
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
    env: BTreeMap<String, String>,
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

/// 50 GiB.
pub const DEFAULT_UPLOAD_MAX_BYTES: u64 = 50 << 30;

fn one_problem(setting: &str, message: String) -> ConfigErrors {
    ConfigErrors(vec![ConfigProblem {
        setting: setting.into(),
        message,
    }])
}

/// Parses `90`, `90s`, `30m`, `8h`, `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; use e.g. 90s, 30m, 8h or 1d"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use s, m, h or d (e.g. 30m)"
            ))
        }
    };
    if secs == 0 {
        return Err(format!("`{s}` is zero; use a positive duration"));
    }
    Ok(Duration::from_secs(secs))
}

/// Parses a size: `500MB`, `50GiB`, `2TB`, or a bare number of bytes. Decimal (KB, MB,
/// GB, TB) and binary (KiB, MiB, GiB, TiB) units.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; use e.g. 500MB or 50GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ))
        }
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("`{s}` is zero; use a positive size")),
        Some(v) => Ok(v),
        None => Err(format!("`{s}` is too large")),
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("`{s}` is not a boolean; use true or false")),
    }
}

/// Where the built web assets are when nothing says otherwise: next to the binary as
/// cargo-leptos lays them out (`target/<profile>/lifeboat` → `target/site`), else
/// `LEPTOS_SITE_ROOT`, else `./target/site`.
fn default_site_dir(env: &BTreeMap<String, String>) -> PathBuf {
    if let Some(root) = env.get("LEPTOS_SITE_ROOT") {
        return PathBuf::from(root);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(site) = exe
            .parent()
            .and_then(Path::parent)
            .map(|target| target.join("site"))
            .filter(|p| p.join("pkg").is_dir())
        {
            return site;
        }
    }
    PathBuf::from("target/site")
}

impl Config {
    /// Reads every setting; returns all problems at once.
    pub fn load(sources: &Sources) -> Result<Config, ConfigErrors> {
        let mut problems = vec![];
        let mut get = |var: &str| match sources.get(var) {
            Ok(v) => v,
            Err(p) => {
                problems.push(p);
                None
            }
        };
        let raw: BTreeMap<&str, Option<(String, String)>> =
            SETTINGS.iter().map(|(var, _)| (*var, get(var))).collect();
        let value = |var: &str| raw.get(var).cloned().flatten();

        let mut problem = |origin: String, message: String| {
            problems.push(ConfigProblem {
                setting: origin,
                message,
            })
        };

        let data_dir = value("LIFEBOAT_DATA_DIR")
            .map(|(v, _)| PathBuf::from(v))
            .unwrap_or_else(|| PathBuf::from("data"));

        let target_url = match value("LIFEBOAT_TARGET_URL") {
            None => None,
            Some((v, origin)) => match TargetUrl::parse(&v) {
                Ok(u) => Some(u),
                Err(m) => {
                    problem(origin, m);
                    None
                }
            },
        };

        let addr = match value("LIFEBOAT_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some((v, origin)) => match v.trim().parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    problem(
                        origin,
                        format!("`{v}` is not HOST:PORT; use e.g. 127.0.0.1:3000 or 0.0.0.0:8080"),
                    );
                    SocketAddr::from(([127, 0, 0, 1], 3000))
                }
            },
        };

        let public_url = match value("LIFEBOAT_PUBLIC_URL") {
            None => None,
            Some((v, origin)) => match url::Url::parse(v.trim()) {
                Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {
                    Some(u)
                }
                _ => {
                    problem(
                        origin,
                        format!(
                            "`{v}` is not an http(s) URL; use e.g. https://backups.example.com"
                        ),
                    );
                    None
                }
            },
        };

        let mut duration = |var: &str, default: Duration| match value(var) {
            None => default,
            Some((v, origin)) => match parse_duration(&v) {
                Ok(d) => d,
                Err(m) => {
                    problems.push(ConfigProblem {
                        setting: origin,
                        message: m,
                    });
                    default
                }
            },
        };
        let session_idle_timeout = duration(
            "LIFEBOAT_SESSION_IDLE_TIMEOUT",
            Duration::from_secs(30 * 60),
        );
        let session_absolute_timeout = duration(
            "LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT",
            Duration::from_secs(8 * 3600),
        );
        let session_purge_interval =
            duration("LIFEBOAT_SESSION_PURGE_INTERVAL", Duration::from_secs(60));
        let upload_ttl = duration("LIFEBOAT_UPLOAD_TTL", Duration::from_secs(24 * 3600));
        let retry_delay = duration("LIFEBOAT_SCHEDULE_RETRY_DELAY", Duration::from_secs(60));
        let max_age = match value("LIFEBOAT_RETENTION_MAX_AGE") {
            None => None,
            Some((v, origin)) => match parse_duration(&v) {
                Ok(d) => Some(d),
                Err(m) => {
                    problems.push(ConfigProblem {
                        setting: origin,
                        message: m,
                    });
                    None
                }
            },
        };

        let admin_user = value("LIFEBOAT_ADMIN_USER")
            .map(|(v, _)| v.trim().to_string())
            .unwrap_or_else(|| "admin".into());
        let admin_password = match value("LIFEBOAT_ADMIN_PASSWORD") {
            None => None,
            Some((v, origin)) => {
                if v.chars().count() < app::api::MIN_PASSWORD_LEN {
                    problems.push(ConfigProblem {
                        setting: origin,
                        message: format!(
                            "the password is shorter than {} characters; choose a longer one",
                            app::api::MIN_PASSWORD_LEN
                        ),
                    });
                    None
                } else {
                    Some(Secret::new(v))
                }
            }
        };
        if let Err(m) = crate::users::validate_username(&admin_user) {
            problems.push(ConfigProblem {
                setting: "LIFEBOAT_ADMIN_USER".into(),
                message: m,
            });
        }

        let pg_bin_dir = match value("LIFEBOAT_PG_BIN_DIR") {
            None => None,
            Some((v, origin)) => {
                let p = PathBuf::from(&v);
                if p.is_dir() {
                    Some(p)
                } else {
                    problems.push(ConfigProblem {
                        setting: origin,
                        message: format!(
                            "{v} is not a directory; point it at the folder holding pg_dump and pg_restore"
                        ),
                    });
                    None
                }
            }
        };

        let site_dir = value("LIFEBOAT_SITE_DIR")
            .map(|(v, _)| PathBuf::from(v))
            .unwrap_or_else(|| default_site_dir(&sources.env));

        let trust_proxy = match value("LIFEBOAT_TRUST_PROXY") {
            None => false,
            Some((v, origin)) => parse_bool(&v).unwrap_or_else(|m| {
                problems.push(ConfigProblem {
                    setting: origin,
                    message: m,
                });
                false
            }),
        };
        let confirm_backup = match value("LIFEBOAT_CONFIRM_BACKUP") {
            None => true,
            Some((v, origin)) => parse_bool(&v).unwrap_or_else(|m| {
                problems.push(ConfigProblem {
                    setting: origin,
                    message: m,
                });
                true
            }),
        };
        let upload_max_bytes = match value("LIFEBOAT_UPLOAD_MAX_SIZE") {
            None => DEFAULT_UPLOAD_MAX_BYTES,
            Some((v, origin)) => parse_size(&v).unwrap_or_else(|m| {
                problems.push(ConfigProblem {
                    setting: origin,
                    message: m,
                });
                DEFAULT_UPLOAD_MAX_BYTES
            }),
        };
        let mut count = |var: &str, default: u32, what: &str| match value(var) {
            None => default,
            Some((v, origin)) => match v.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    problems.push(ConfigProblem {
                        setting: origin,
                        message: format!("`{v}` is not a number of {what} (1 or more)"),
                    });
                    default
                }
            },
        };
        let attempts = count("LIFEBOAT_SCHEDULE_ATTEMPTS", 3, "attempts");
        let offsite_keep = count("LIFEBOAT_OFFSITE_KEEP", 7, "offsite copies to keep");
        let consecutive_failures = count(
            "LIFEBOAT_ALERT_CONSECUTIVE_FAILURES",
            2,
            "consecutive failures",
        );
        let keep_last = count("LIFEBOAT_RETENTION_KEEP", 30, "backups to keep");
        let zone = value("LIFEBOAT_SCHEDULE_TZ");
        let schedule = match value("LIFEBOAT_SCHEDULE") {
            Some((v, _)) if matches!(v.trim(), "off" | "false" | "none" | "") => None,
            other => {
                let (expr, origin) =
                    other.unwrap_or_else(|| ("0 2 * * *".into(), "LIFEBOAT_SCHEDULE".into()));
                match crate::schedule::Schedule::parse(&expr, zone.as_ref().map(|z| z.0.as_str())) {
                    Ok(s) => Some(s),
                    Err(m) => {
                        let setting = if m.contains("time zone") {
                            zone.as_ref().map(|z| z.1.clone()).unwrap_or(origin)
                        } else {
                            origin
                        };
                        problems.push(ConfigProblem {
                            setting,
                            message: m,
                        });
                        None
                    }
                }
            }
        };
        let catch_up = match value("LIFEBOAT_SCHEDULE_CATCH_UP") {
            None => true,
            Some((v, origin)) => parse_bool(&v).unwrap_or_else(|m| {
                problems.push(ConfigProblem {
                    setting: origin,
                    message: m,
                });
                true
            }),
        };
        let scheduler = crate::schedule::Settings {
            schedule,
            attempts,
            retry_delay,
            catch_up,
            retention: crate::retention::Policy {
                keep_last: keep_last as usize,
                max_age,
            },
        };
        let alerts = {
            use crate::alerts::{Email, SmtpSecurity, Webhook, WebhookFormat};
            let mut a = crate::alerts::Settings {
                consecutive_failures,
                ..Default::default()
            };
            let format = match value("LIFEBOAT_ALERT_WEBHOOK_FORMAT") {
                None => WebhookFormat::Generic,
                Some((v, origin)) => match v.trim().to_ascii_lowercase().as_str() {
                    "generic" | "json" => WebhookFormat::Generic,
                    "slack" => WebhookFormat::Slack,
                    "discord" => WebhookFormat::Discord,
                    _ => {
                        problems.push(ConfigProblem {
                            setting: origin,
                            message: format!(
                                "`{v}` is not a webhook format; use generic, slack or discord"
                            ),
                        });
                        WebhookFormat::Generic
                    }
                },
            };
            if let Some((v, origin)) = value("LIFEBOAT_ALERT_WEBHOOK_URL") {
                match url::Url::parse(v.trim()) {
                    Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
                        a.webhook = Some(Webhook {
                            url: Secret::new(v.trim().to_string()),
                            format,
                        })
                    }
                    _ => problems.push(ConfigProblem {
                        setting: origin,
                        message: "is not an http(s) URL".into(),
                    }),
                }
            }
            if let Some((host, _)) = value("LIFEBOAT_SMTP_HOST") {
                let security = match value("LIFEBOAT_SMTP_SECURITY") {
                    None => SmtpSecurity::StartTls,
                    Some((v, origin)) => match v.trim().to_ascii_lowercase().as_str() {
                        "starttls" => SmtpSecurity::StartTls,
                        "tls" | "smtps" => SmtpSecurity::Tls,
                        "none" | "plain" => SmtpSecurity::None,
                        _ => {
                            problems.push(ConfigProblem {
                                setting: origin,
                                message: format!("`{v}` is not starttls, tls or none"),
                            });
                            SmtpSecurity::StartTls
                        }
                    },
                };
                let default_port = match security {
                    SmtpSecurity::Tls => 465,
                    SmtpSecurity::StartTls => 587,
                    SmtpSecurity::None => 25,
                };
                let port = match value("LIFEBOAT_SMTP_PORT") {
                    None => default_port,
                    Some((v, origin)) => v.trim().parse::<u16>().unwrap_or_else(|_| {
                        problems.push(ConfigProblem {
                            setting: origin,
                            message: format!("`{v}` is not a port number"),
                        });
                        default_port
                    }),
                };
                let from = value("LIFEBOAT_ALERT_EMAIL_FROM").map(|v| v.0);
                let to: Vec<String> = value("LIFEBOAT_ALERT_EMAIL_TO")
                    .map(|v| {
                        v.0.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                match from {
                    Some(from) if !to.is_empty() => {
                        a.email = Some(Email {
                            host: host.trim().to_string(),
                            port,
                            security,
                            user: value("LIFEBOAT_SMTP_USER").map(|v| v.0),
                            password: value("LIFEBOAT_SMTP_PASSWORD").map(|v| Secret::new(v.0)),
                            from,
                            to,
                        })
                    }
                    _ => problems.push(ConfigProblem {
                        setting: "LIFEBOAT_SMTP_HOST".into(),
                        message: "email alerts also need LIFEBOAT_ALERT_EMAIL_FROM and LIFEBOAT_ALERT_EMAIL_TO".into(),
                    }),
                }
            }
            if let Some((v, origin)) = value("LIFEBOAT_ALERT_LOW_SPACE_PERCENT") {
                match v.trim().trim_end_matches('%').parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => a.low_space_percent = p,
                    _ => problems.push(ConfigProblem {
                        setting: origin,
                        message: format!("`{v}` is not a percentage (0–100)"),
                    }),
                }
            }
            if let Some((v, origin)) = value("LIFEBOAT_ALERT_LOW_SPACE") {
                match parse_size(&v) {
                    Ok(b) => a.low_space_bytes = b,
                    Err(m) => problems.push(ConfigProblem {
                        setting: origin,
                        message: m,
                    }),
                }
            }
            a
        };
        let offsite = match value("LIFEBOAT_S3_BUCKET") {
            None => None,
            Some((bucket, _)) => {
                let key = value("LIFEBOAT_S3_ACCESS_KEY_ID");
                let secret = value("LIFEBOAT_S3_SECRET_ACCESS_KEY");
                match (key, secret) {
                    (Some(k), Some(s)) => {
                        let settings = crate::offsite::Settings {
                            bucket: bucket.trim().to_string(),
                            endpoint: value("LIFEBOAT_S3_ENDPOINT").map(|v| v.0.trim().to_string()),
                            region: value("LIFEBOAT_S3_REGION")
                                .map(|v| v.0.trim().to_string())
                                .unwrap_or_else(|| "us-east-1".into()),
                            prefix: value("LIFEBOAT_S3_PREFIX")
                                .map(|v| v.0)
                                .unwrap_or_else(|| "lifeboat".into()),
                            access_key_id: Secret::new(k.0.trim().to_string()),
                            secret_access_key: Secret::new(s.0.trim().to_string()),
                            keep: offsite_keep as usize,
                        };
                        match crate::offsite::Offsite::new(settings) {
                            Ok(o) => Some(o),
                            Err(m) => {
                                problems.push(ConfigProblem {
                                    setting: "LIFEBOAT_S3_BUCKET".into(),
                                    message: m,
                                });
                                None
                            }
                        }
                    }
                    _ => {
                        problems.push(ConfigProblem {
                            setting: "LIFEBOAT_S3_BUCKET".into(),
                            message: "offsite copies also need LIFEBOAT_S3_ACCESS_KEY_ID and LIFEBOAT_S3_SECRET_ACCESS_KEY (or their _FILE variants)".into(),
                        });
                        None
                    }
                }
            }
        };
        let log = value("LIFEBOAT_LOG")
            .map(|(v, _)| v)
            .unwrap_or_else(|| "info".into());

        if session_absolute_timeout < session_idle_timeout {
            problems.push(ConfigProblem {
                setting: "LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT".into(),
                message: "is shorter than LIFEBOAT_SESSION_IDLE_TIMEOUT; make it at least as long"
                    .into(),
            });
        }

        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        Ok(Config {
            data_dir,
            target_url,
            addr,
            public_url,
            session_idle_timeout,
            session_absolute_timeout,
            session_purge_interval,
            admin_user,
            admin_password,
            pg_bin_dir,
            site_dir,
            trust_proxy,
            log,
            confirm_backup,
            upload_max_bytes,
            upload_ttl,
            scheduler,
            alerts,
            offsite,
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
        assert_eq!(load(&[]).expect("defaults").upload_max_bytes, 50 << 30);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m").ok(), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("8h").ok(), Some(Duration::from_secs(28800)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("").is_err());
    }
}
