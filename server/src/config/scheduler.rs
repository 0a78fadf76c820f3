//! Scheduled backups, their retries, and retention.

use super::parse::parse_duration;
use super::sources::Values;
use crate::retention::Policy;
use crate::schedule::{Schedule, Settings};
use std::time::Duration;

pub(super) fn load(v: &mut Values) -> Settings {
    let retry_delay = v.duration("LIFEBOAT_SCHEDULE_RETRY_DELAY", Duration::from_secs(60));
    let max_age = v.parse("LIFEBOAT_RETENTION_MAX_AGE", parse_duration);
    let attempts = v.count("LIFEBOAT_SCHEDULE_ATTEMPTS", 3, "attempts");
    let keep_last = v.count("LIFEBOAT_RETENTION_KEEP", 30, "backups to keep");
    let zone = v.get("LIFEBOAT_SCHEDULE_TZ");
    let schedule = match v.get("LIFEBOAT_SCHEDULE") {
        Some((s, _)) if matches!(s.trim(), "off" | "false" | "none" | "") => None,
        other => {
            let (expr, origin) =
                other.unwrap_or_else(|| ("0 2 * * *".into(), "LIFEBOAT_SCHEDULE".into()));
            match Schedule::parse(&expr, zone.as_ref().map(|z| z.0.as_str())) {
                Ok(s) => Some(s),
                Err(m) => {
                    // A bad zone is reported under the zone's setting.
                    let setting = if m.contains("time zone") {
                        zone.as_ref().map(|z| z.1.clone()).unwrap_or(origin)
                    } else {
                        origin
                    };
                    v.problem(setting, m);
                    None
                }
            }
        }
    };
    let catch_up = v.bool("LIFEBOAT_SCHEDULE_CATCH_UP", true);
    Settings {
        schedule,
        attempts,
        retry_delay,
        catch_up,
        retention: Policy {
            keep_last: keep_last as usize,
            max_age,
        },
    }
}
