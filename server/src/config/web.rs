//! The web console's settings: where it listens, how it is reached, sessions, the first
//! administrator, and the built assets.

use super::sources::Values;
use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(super) struct Web {
    pub addr: SocketAddr,
    pub public_url: Option<url::Url>,
    pub session_idle_timeout: Duration,
    pub session_absolute_timeout: Duration,
    pub session_purge_interval: Duration,
    pub confirm_password_after: Duration,
    pub admin_user: String,
    pub admin_password: Option<Secret<String>>,
    pub site_dir: PathBuf,
    pub trust_proxy: crate::proxies::TrustedProxies,
    pub setup_link_ttl: Duration,
    /// How long an invitation or password-reset link works (default 72 h).
    pub invitation_link_ttl: Duration,
    pub log: String,
    pub confirm_backup: bool,
    pub schedule_off_ok: bool,
    pub require_2fa: bool,
}

pub(super) fn load(v: &mut Values) -> Web {
    let default_addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let addr = v.parse_or("LIFEBOAT_ADDR", default_addr, |s| {
        s.trim()
            .parse::<SocketAddr>()
            .map_err(|_| format!("`{s}` is not HOST:PORT; use e.g. 127.0.0.1:3000 or 0.0.0.0:8080"))
    });
    let public_url = v.parse("LIFEBOAT_PUBLIC_URL", |s| match url::Url::parse(s.trim()) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(u),
        _ => Err(format!(
            "`{s}` is not an http(s) URL; use e.g. https://backups.example.com"
        )),
    });
    let session_idle_timeout = v.duration(
        "LIFEBOAT_SESSION_IDLE_TIMEOUT",
        Duration::from_secs(30 * 60),
    );
    let session_absolute_timeout = v.duration(
        "LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT",
        Duration::from_secs(8 * 3600),
    );
    let session_purge_interval =
        v.duration("LIFEBOAT_SESSION_PURGE_INTERVAL", Duration::from_secs(60));
    let confirm_password_after = v.duration(
        "LIFEBOAT_CONFIRM_PASSWORD_AFTER",
        Duration::from_secs(10 * 60),
    );
    if session_absolute_timeout < session_idle_timeout {
        v.problem(
            "LIFEBOAT_SESSION_ABSOLUTE_TIMEOUT",
            "is shorter than LIFEBOAT_SESSION_IDLE_TIMEOUT; make it at least as long",
        );
    }

    let admin_user = v
        .value("LIFEBOAT_ADMIN_USER")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "admin".into());
    if let Err(m) = crate::users::validate_username(&admin_user) {
        v.problem("LIFEBOAT_ADMIN_USER", m);
    }
    // The message never repeats the value: it is a password.
    let admin_password = v.parse("LIFEBOAT_ADMIN_PASSWORD", |s| {
        if s.chars().count() < app::api::MIN_PASSWORD_LEN {
            Err(format!(
                "the password is shorter than {} characters; choose a longer one",
                app::api::MIN_PASSWORD_LEN
            ))
        } else {
            Ok(Secret::new(s.to_string()))
        }
    });

    let site_dir = v
        .value("LIFEBOAT_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_site_dir(v.env("LEPTOS_SITE_ROOT")));
    let trust_proxy = v.parse_or(
        "LIFEBOAT_TRUST_PROXY",
        crate::proxies::TrustedProxies::None,
        crate::proxies::TrustedProxies::parse,
    );
    let setup_link_ttl = v.duration("LIFEBOAT_SETUP_LINK_TTL", Duration::from_secs(3600));
    let invitation_link_ttl = v.duration(
        "LIFEBOAT_INVITATION_LINK_TTL",
        Duration::from_secs(72 * 3600),
    );
    let confirm_backup = v.bool("LIFEBOAT_CONFIRM_BACKUP", true);
    let schedule_off_ok = v.bool("LIFEBOAT_SCHEDULE_OFF_OK", false);
    let require_2fa = v.bool("LIFEBOAT_REQUIRE_2FA", false);
    let log = v.value("LIFEBOAT_LOG").unwrap_or_else(|| "info".into());
    Web {
        addr,
        public_url,
        session_idle_timeout,
        session_absolute_timeout,
        session_purge_interval,
        confirm_password_after,
        admin_user,
        admin_password,
        site_dir,
        trust_proxy,
        setup_link_ttl,
        invitation_link_ttl,
        log,
        confirm_backup,
        schedule_off_ok,
        require_2fa,
    }
}

/// Where the built web assets are when nothing says otherwise: next to the binary as
/// cargo-leptos lays them out (`target/<profile>/lifeboat` → `target/site`), else
/// `LEPTOS_SITE_ROOT`, else `./target/site`.
fn default_site_dir(leptos_site_root: Option<&str>) -> PathBuf {
    if let Some(root) = leptos_site_root {
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
