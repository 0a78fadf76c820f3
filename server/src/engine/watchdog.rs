//! Never hang: how long a dump may wait for a table's lock, and the stall watchdog that
//! fails a dump making no progress — no byte added to the archive and no progress line —
//! for too long, saying what its server session waits on (from `pg_stat_activity`: the
//! wait event, the statement, and the sessions blocking it).

use crate::target::{self, TargetUrl};
use std::time::{Duration, Instant};

/// The limits a job's tools run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// `pg_dump --lock-wait-timeout` (`LIFEBOAT_LOCK_WAIT_TIMEOUT`, default 2 min).
    pub lock_wait: Duration,
    /// No progress for this long fails the dump as stalled (`LIFEBOAT_STALL_TIMEOUT`,
    /// default 5 min).
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            lock_wait: Duration::from_secs(2 * 60),
            stall: Duration::from_secs(5 * 60),
        }
    }
}

/// The `application_name` of a job's tool (`lifeboat job 12 pg_dump`): how the watchdog and
/// a cancellation find its server session.
pub fn application_name(job_id: i64, tool: &str) -> String {
    format!("{} job {job_id} {tool}", target::APPLICATION_NAME)
}

/// Watches one tool's progress.
pub struct Watchdog {
    limit: Duration,
    bytes: u64,
    since: Instant,
}

impl Watchdog {
    pub fn new(limit: Duration) -> Watchdog {
        Watchdog {
            limit,
            bytes: 0,
            since: Instant::now(),
        }
    }

    /// The tool printed a line: progress.
    pub fn line(&mut self) {
        self.since = Instant::now();
    }

    /// The archive is `bytes` long now: progress when it grew.
    pub fn bytes(&mut self, bytes: u64) {
        if bytes != self.bytes {
            self.bytes = bytes;
            self.since = Instant::now();
        }
    }

    /// Whether nothing happened for longer than the limit.
    pub fn stalled(&self) -> bool {
        self.stalled_at(Instant::now())
    }

    /// Whether nothing happened for longer than the limit, as of `now`.
    fn stalled_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since) >= self.limit
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }
}

/// What the session named `application_name` (in the URL's database) waits on, in words: `waits on Lock/relation
/// (LOCK TABLE public.t IN ACCESS SHARE MODE), blocked by pid 812 (psql, idle in
/// transaction: LOCK TABLE t IN ACCESS EXCLUSIVE MODE)`. An explanation, never an
/// error: when the server cannot be asked, it says so.
pub async fn waiting_on(url: &TargetUrl, application_name: &str) -> String {
    match ask(url, application_name).await {
        Ok(s) => s,
        Err(e) => format!("what it waits on could not be read ({e})"),
    }
}

async fn ask(url: &TargetUrl, application_name: &str) -> Result<String, String> {
    let client = target::connect(url).await?;
    let rows = client
        .query(
            "SELECT a.pid, COALESCE(a.wait_event_type, ''), COALESCE(a.wait_event, ''),
                    COALESCE(a.state, ''), left(COALESCE(a.query, ''), 200),
                    COALESCE((SELECT string_agg(format('pid %s (%s, %s: %s)', b.pid,
                                  COALESCE(NULLIF(b.application_name, ''), b.usename::text, '?'),
                                  COALESCE(b.state, '?'), left(COALESCE(b.query, ''), 120)), '; ')
                              FROM pg_stat_activity b
                              WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '')
             FROM pg_stat_activity a
             WHERE a.application_name = $1 AND a.datname = current_database()
             ORDER BY a.backend_start",
            &[&application_name],
        )
        .await
        .map_err(|e| target::describe(&e))?;
    let Some(row) = rows.first() else {
        return Ok("it has no session on the server".into());
    };
    let (pid, wait_type, wait_event, state, query, blockers): (
        i32,
        String,
        String,
        String,
        String,
        String,
    ) = (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
    );
    let mut text = if wait_type.is_empty() {
        format!("its session (pid {pid}) is {state}, waiting on nothing on the server")
    } else {
        format!("its session (pid {pid}) waits on {wait_type}/{wait_event}")
    };
    if !query.trim().is_empty() {
        text.push_str(&format!(" ({})", one_line(&query)));
    }
    if !blockers.is_empty() {
        text.push_str(&format!(", blocked by {}", one_line(&blockers)));
    }
    Ok(text)
}

/// The message of a dump failed by the watchdog: what it waited on, read before its
/// session is ended.
pub async fn stalled(url: &TargetUrl, application_name: &str, limit: Duration) -> String {
    format!(
        "stalled: pg_dump made no progress for {} (LIFEBOAT_STALL_TIMEOUT) and was stopped; {}",
        shown(limit),
        waiting_on(url, application_name).await
    )
}

/// After a tool was killed: ends its server session, which may still be waiting for a
/// lock (it would keep its place in the lock queue, and the lock once granted, until it
/// noticed its client gone).
pub async fn end_session(url: &TargetUrl, application_name: &str) {
    match target::end_sessions_named(url, application_name).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("ended {n} server session(s) of `{application_name}`"),
        Err(e) => tracing::warn!("cannot end the server session of `{application_name}`: {e}"),
    }
}

/// A failure of pg_dump in words: its lock wait timeout explained.
pub fn dump_failure(failure: String, stderr: &str, lock_wait: Duration) -> String {
    if crate::pgtools::dump::lock_wait_timed_out(stderr) {
        format!(
            "pg_dump could not lock a table within {} (LIFEBOAT_LOCK_WAIT_TIMEOUT): another session holds a conflicting lock (an ALTER TABLE, a VACUUM FULL, a LOCK TABLE); try again when it is done — {failure}",
            shown(lock_wait)
        )
    } else if crate::pgtools::dump::out_of_space(stderr) {
        format!(
            "no space left on the disk holding the backups: pg_dump could not write the rest of the backup, and its partial file was removed. Free space in the data directory (or give it more), or keep fewer backups (LIFEBOAT_RETENTION_KEEP) — {failure}"
        )
    } else {
        failure
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `3 s`, `2 min`, `1500 ms`: a limit in the words of its setting.
pub fn shown(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{} ms", d.as_millis())
    } else if d.as_secs().is_multiple_of(60) {
        format!("{} min", d.as_secs() / 60)
    } else {
        format!("{} s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watchdog_sees_growth_and_lines_as_progress() {
        let limit = Duration::from_secs(30);
        let mut w = Watchdog::new(limit);
        let start = w.since;
        assert!(!w.stalled_at(start + Duration::from_secs(29)));
        assert!(w.stalled_at(start + Duration::from_secs(31)));
        // As if the last progress were a minute ago (no sleeping in a test).
        let long_ago = Instant::now()
            .checked_sub(2 * limit)
            .expect("the monotonic clock is past a minute");
        w.since = long_ago;
        assert!(w.stalled());
        w.bytes(10);
        assert!(!w.stalled(), "the archive grew");
        w.since = long_ago;
        w.bytes(10);
        assert!(w.stalled(), "the same size is no progress");
        w.line();
        assert!(!w.stalled(), "a progress line");
    }

    #[test]
    fn limits_are_shown_as_set() {
        assert_eq!(shown(Duration::from_secs(120)), "2 min");
        assert_eq!(shown(Duration::from_secs(3)), "3 s");
        assert_eq!(shown(Duration::from_millis(1500)), "1500 ms");
    }
}
