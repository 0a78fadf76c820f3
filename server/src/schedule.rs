//! Backup schedules: a cron expression in a time zone, when its slots fall, whether a
//! slot was missed, and when the last success is stale. Pure rules; the scheduler task
//! that runs them is `engine::scheduler`.

use crate::retention::Policy;
use chrono::{DateTime, Utc};
use croner::Cron;
use std::str::FromStr;
use std::time::Duration;

/// The schedule in force and where it comes from.
#[derive(Clone, Debug)]
pub struct Current {
    pub schedule: Option<Schedule>,
    /// `environment` or `settings page`.
    pub source: &'static str,
}

/// The schedule in force, shared by the scheduler and the web edge: a change on the
/// Settings page reaches the scheduler at once.
pub type Live = std::sync::Arc<tokio::sync::watch::Sender<Current>>;

pub fn live(from_environment: Option<Schedule>) -> Live {
    std::sync::Arc::new(tokio::sync::watch::Sender::new(Current {
        schedule: from_environment,
        source: "environment",
    }))
}

/// How long after the schedule's interval (plus a grace period: the interval itself, at
/// most an hour) a last success counts as stale. `reference` is the last success, or
/// when scheduling started in this data directory. A reference in the future (stamped by
/// a clock set wrong, or the clock is wrong now) says nothing of its age: stale, so that
/// the red status and `/readyz` show it rather than staying green for good.
pub fn is_stale(schedule: &Schedule, reference: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    if reference > now + crate::store::backups::CLOCK_TOLERANCE {
        return true;
    }
    let Some(prev) = schedule.prev_at_or_before(now) else {
        return false;
    };
    let Some(next) = schedule.next_after(prev) else {
        return false;
    };
    let interval = next - prev;
    let grace = interval.min(chrono::Duration::hours(1));
    now - reference > interval + grace
}

#[derive(Clone, Debug)]
pub enum Zone {
    /// The server's own time zone.
    Local,
    Named(chrono_tz::Tz),
}

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub expression: String,
    cron: Cron,
    pub zone: Zone,
}

impl Schedule {
    /// A standard 5-field cron expression (`0 2 * * *`), or 6 fields with seconds first;
    /// `zone` is an IANA name (`Europe/Paris`), or `None` for the server's zone.
    pub fn parse(expression: &str, zone: Option<&str>) -> Result<Schedule, String> {
        let expression = expression.split_whitespace().collect::<Vec<_>>().join(" ");
        let fields = expression.split(' ').count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "`{expression}` has {fields} fields; use 5 (minute hour day month weekday, e.g. `0 2 * * *`) or 6 with seconds first"
            ));
        }
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build();
        let cron = parser
            .parse(&expression)
            .map_err(|e| format!("`{expression}` is not a valid cron expression: {e}"))?;
        let zone = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            None => Zone::Local,
            Some(name) => Zone::Named(chrono_tz::Tz::from_str(name).map_err(|_| {
                format!("`{name}` is not a time zone name; use one like Europe/Paris or UTC")
            })?),
        };
        Ok(Schedule {
            expression,
            cron,
            zone,
        })
    }

    pub fn zone_name(&self) -> String {
        match &self.zone {
            Zone::Local => "server time".into(),
            Zone::Named(tz) => tz.name().into(),
        }
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.zone {
            Zone::Local => self
                .cron
                .find_next_occurrence(&t.with_timezone(&chrono::Local), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }

    /// The last slot at or before `t`.
    pub fn prev_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.zone {
            Zone::Local => self
                .cron
                .find_previous_occurrence(&t.with_timezone(&chrono::Local), true)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_previous_occurrence(&t.with_timezone(tz), true)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }
}

/// Everything the scheduler follows.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `None`: scheduled backups are off.
    pub schedule: Option<Schedule>,
    /// Attempts per slot (at least 1).
    pub attempts: u32,
    pub retry_delay: Duration,
    /// Run once at start-up when a slot was missed while Lifeboat was down.
    pub catch_up: bool,
    pub retention: Policy,
}

/// Whether a slot was missed: the scheduler has run in this data directory before (its
/// last handled slot is recorded) and the latest slot is newer than that.
pub fn missed_slot(
    schedule: &Schedule,
    last_handled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let last = last_handled?;
    let slot = schedule.prev_at_or_before(now)?;
    (slot > last).then_some(slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn five_and_six_field_expressions_parse_in_a_zone() {
        let s = Schedule::parse("0 2 * * *", Some("Europe/Paris")).expect("parse");
        // 02:00 in Paris in November is 01:00 UTC.
        assert_eq!(
            s.next_after(utc("2026-11-21T12:00:00Z")),
            Some(utc("2026-11-22T01:00:00Z"))
        );
        assert_eq!(
            s.prev_at_or_before(utc("2026-11-21T12:00:00Z")),
            Some(utc("2026-11-21T01:00:00Z"))
        );
        let every_10s = Schedule::parse("*/10 * * * * *", Some("UTC")).expect("seconds");
        assert_eq!(
            every_10s.next_after(utc("2026-11-21T12:00:01Z")),
            Some(utc("2026-11-21T12:00:10Z"))
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(Schedule::parse("0 2 * *", None)
            .expect_err("4 fields")
            .contains("5"));
        assert!(Schedule::parse("61 2 * * *", None)
            .expect_err("minute")
            .contains("not a valid cron"));
        assert!(Schedule::parse("0 2 * * *", Some("Mars/Olympus"))
            .expect_err("zone")
            .contains("time zone"));
    }

    #[test]
    fn staleness_allows_the_interval_and_a_grace_period() {
        let daily = Schedule::parse("0 2 * * *", Some("UTC")).expect("parse");
        let now = utc("2026-11-21T09:00:00Z");
        // Today's 02:00 backup is there.
        assert!(!daily.is_stale_for_test(utc("2026-11-21T02:10:00Z"), now));
        // Only yesterday's: older than a day plus an hour's grace.
        assert!(daily.is_stale_for_test(utc("2026-11-20T02:30:00Z"), now));
        assert!(!daily.is_stale_for_test(utc("2026-11-20T02:30:00Z"), utc("2026-11-21T03:00:00Z")));
        let minutely = Schedule::parse("* * * * *", Some("UTC")).expect("parse");
        assert!(!minutely.is_stale_for_test(now - chrono::Duration::seconds(90), now));
        assert!(minutely.is_stale_for_test(now - chrono::Duration::seconds(150), now));
        // Stamped a year ahead: its age is unknown, never fresh for good.
        assert!(daily.is_stale_for_test(now + chrono::Duration::days(365), now));
        assert!(!daily.is_stale_for_test(now + chrono::Duration::seconds(5), now));
    }

    impl Schedule {
        fn is_stale_for_test(&self, reference: DateTime<Utc>, now: DateTime<Utc>) -> bool {
            is_stale(self, reference, now)
        }
    }

    #[test]
    fn a_missed_slot_is_caught_up_once() {
        let s = Schedule::parse("0 2 * * *", Some("UTC")).expect("parse");
        let now = utc("2026-11-21T09:00:00Z");
        // Never ran here before: nothing to catch up.
        assert_eq!(missed_slot(&s, None, now), None);
        // Last handled yesterday's slot: today's 02:00 was missed.
        assert_eq!(
            missed_slot(&s, Some(utc("2026-11-20T02:00:00Z")), now),
            Some(utc("2026-11-21T02:00:00Z"))
        );
        // Down for three days: still one catch-up, for the latest slot.
        assert_eq!(
            missed_slot(&s, Some(utc("2026-11-17T02:00:00Z")), now),
            Some(utc("2026-11-21T02:00:00Z"))
        );
        // Today's slot already handled.
        assert_eq!(
            missed_slot(&s, Some(utc("2026-11-21T02:00:00Z")), now),
            None
        );
    }
}
