//! Login throttling: after a few consecutive failures for an account, or many from one
//! address, each further attempt must wait an exponentially growing delay. An attempt is
//! counted when it is let through, before its password is checked (so parallel guesses
//! cannot all pass); a success clears the account's and the address's counts. Kept in memory: a restart forgets it,
//! which only ever makes things easier for a legitimate user.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Hash, PartialEq, Eq, Clone, Debug)]
enum Key {
    Account(String),
    Ip(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

pub struct Throttle {
    state: Mutex<HashMap<Key, Failures>>,
    /// Consecutive failures allowed per account before delays start.
    account_free: u32,
    /// Per address (higher: several people may share one address).
    ip_free: u32,
    max_delay: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(3, 20, Duration::from_secs(15 * 60))
    }
}

/// Failures are forgotten after a day without any.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

impl Throttle {
    pub fn new(account_free: u32, ip_free: u32, max_delay: Duration) -> Throttle {
        Throttle {
            state: Mutex::new(HashMap::new()),
            account_free,
            ip_free,
            max_delay,
        }
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<Key> {
        let mut k = vec![Key::Account(username.to_lowercase())];
        if let Some(ip) = ip {
            k.push(Key::Ip(ip));
        }
        k
    }

    fn delay_for(&self, key: &Key, count: u32) -> Duration {
        let free = match key {
            Key::Account(_) => self.account_free,
            Key::Ip(_) => self.ip_free,
        };
        if count <= free {
            return Duration::ZERO;
        }
        let exp = (count - free - 1).min(20);
        Duration::from_secs(1u64 << exp).min(self.max_delay)
    }

    /// How long an attempt must still wait, given the counts in `state`.
    fn wait(
        &self,
        state: &HashMap<Key, Failures>,
        username: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        for key in Self::keys(username, ip) {
            if let Some(f) = state.get(&key) {
                let until = f.last + self.delay_for(&key, f.count);
                if until > now {
                    wait = wait.max(until - now);
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// `Err(wait)` when an attempt must wait before it may be tried.
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.wait(&state, username, ip, now)
    }

    /// Counts an attempt **before** its password is checked, in the same step as the
    /// check: parallel guesses cannot all pass the check first. `Err(wait)` when it must
    /// wait (and is not counted); a success then clears the count ([`Throttle::success`]).
    pub fn attempt(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.wait(&state, username, ip, now)?;
        Self::count(&mut state, username, ip, now);
        Ok(())
    }

    /// The attempt let through by [`Throttle::attempt`] failed: its delay runs from now,
    /// when the answer is given (a slow password check must not use the delay up).
    pub fn failed(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for key in Self::keys(username, ip) {
            if let Some(f) = state.get_mut(&key) {
                f.last = f.last.max(now);
            }
        }
    }

    pub fn failure(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Self::count(&mut state, username, ip, now);
    }

    fn count(state: &mut HashMap<Key, Failures>, username: &str, ip: Option<IpAddr>, now: Instant) {
        if state.len() > 10_000 {
            state.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        }
        for key in Self::keys(username, ip) {
            let f = state.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(f.last) >= FORGET_AFTER {
                f.count = 0;
            }
            f.count += 1;
            f.last = now;
        }
    }

    pub fn success(&self, username: &str, ip: Option<IpAddr>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for key in Self::keys(username, ip) {
            state.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_counted_before_its_check_and_its_delay_runs_from_the_answer() {
        let t = Throttle::new(3, 100, Duration::from_secs(60));
        let ip = Some(IpAddr::from([10, 0, 0, 9]));
        let t0 = Instant::now();
        // Four let through at once, none answered yet: the fifth must wait.
        for _ in 0..4 {
            assert!(t.attempt("bob", ip, t0).is_ok());
        }
        assert_eq!(t.attempt("bob", ip, t0), Err(Duration::from_secs(1)));
        // The fourth's answer came 5 s later (a slow check): the delay runs from then.
        let answered = t0 + Duration::from_secs(5);
        t.failed("bob", ip, answered);
        assert!(t
            .attempt("bob", ip, answered + Duration::from_millis(500))
            .is_err());
        assert!(t
            .attempt("bob", ip, answered + Duration::from_secs(1))
            .is_ok());
        t.success("bob", ip);
        assert!(t
            .attempt("bob", ip, answered + Duration::from_secs(1))
            .is_ok());
    }

    #[test]
    fn delays_start_after_the_free_attempts_and_double() {
        let t = Throttle::new(3, 100, Duration::from_secs(60));
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(t.check("Admin", ip, t0).is_ok());
            t.failure("admin", ip, t0);
        }
        assert!(t.check("admin", ip, t0).is_ok(), "three failures are free");
        t.failure("admin", ip, t0);
        assert_eq!(t.check("ADMIN", ip, t0), Err(Duration::from_secs(1)));
        assert!(t.check("admin", ip, t0 + Duration::from_secs(1)).is_ok());
        t.failure("admin", ip, t0 + Duration::from_secs(1));
        assert_eq!(
            t.check("admin", ip, t0 + Duration::from_secs(1)),
            Err(Duration::from_secs(2))
        );
        // Another account from another address is not affected.
        assert!(t
            .check("other", Some(IpAddr::from([10, 0, 0, 2])), t0)
            .is_ok());
        t.success("admin", ip);
        assert!(t.check("admin", ip, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn one_address_trying_many_accounts_is_slowed_down() {
        let t = Throttle::new(3, 5, Duration::from_secs(60));
        let ip = Some(IpAddr::from([10, 0, 0, 9]));
        let t0 = Instant::now();
        for i in 0..6 {
            t.failure(&format!("user{i}"), ip, t0);
        }
        assert!(t.check("fresh-name", ip, t0).is_err());
        assert!(t
            .check("fresh-name", Some(IpAddr::from([10, 0, 0, 8])), t0)
            .is_ok());
    }

    #[test]
    fn delay_is_capped() {
        let t = Throttle::new(0, 0, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..40 {
            t.failure("a", None, t0);
        }
        assert_eq!(t.check("a", None, t0), Err(Duration::from_secs(10)));
    }
}
