//! Login throttling. Failures are counted three ways, each with its own allowance before
//! every further attempt must wait an exponentially growing delay:
//!
//! - per account **and** address (3): someone guessing one account from one place;
//! - per address, whatever the account (20): one place trying many accounts;
//! - per account, from every address together (30, a much looser ceiling): many places
//!   guessing one account.
//!
//! Hammering an account from one address therefore does not lock its owner out elsewhere:
//! a correct password from an address without failures still gets in, until failures
//! from many addresses reach the account's ceiling (docs/operations.md explains that
//! trade-off). IPv6 clients are counted by their /64, which one client usually holds whole.
//!
//! An attempt is counted when it is let through, before its password is checked (so
//! parallel guesses cannot all pass); a success clears the account's counts and its
//! address's. Refused attempts are not counted as failures; they are tallied per account
//! and address for the audit log ([`ThrottledAttempts`]) instead of one row each.
//!
//! Kept in memory: a restart forgets it, which only ever makes things easier for a
//! legitimate user. At most `max_entries` counts are kept: a flood from many addresses
//! pushes out the counts that hold nothing back, never the memory up.

use crate::proxies::mask;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The allowances, the longest delay and how many counts are kept.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Consecutive failures for one account from one address before delays start.
    pub per_account_and_address: u32,
    /// Per address, whatever the account (higher: several people may share one address).
    pub per_address: u32,
    /// Per account, from all addresses together: the ceiling on distributed guessing.
    pub per_account: u32,
    pub max_delay: Duration,
    /// Failure counts kept at most (and throttled-attempt tallies at most).
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_account_and_address: 3,
            per_address: 20,
            per_account: 30,
            max_delay: Duration::from_secs(15 * 60),
            max_entries: 10_000,
        }
    }
}

/// The address a client is counted under: IPv4 as it is, IPv6 by its /64 (a home or a
/// server usually gets a whole /64, so one client can change addresses within it).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        v4 @ IpAddr::V4(_) => v4,
        v6 => mask(v6, 64),
    }
}

#[derive(Hash, PartialEq, Eq, Clone, Debug)]
enum Key {
    AccountFromAddress(String, IpAddr),
    Address(IpAddr),
    Account(String),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Attempts refused for one account from one address since they were last reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottledAttempts {
    /// The account tried (lower case); empty for the attempts tallied together once too
    /// many accounts and addresses were waiting to be reported.
    pub username: String,
    /// The address, as counted ([`bucket`]).
    pub address: Option<IpAddr>,
    pub count: u64,
    pub first: Instant,
    pub last: Instant,
}

impl ThrottledAttempts {
    /// The address as people read it: `203.0.113.7`, or `2001:db8:1:2::/64`.
    pub fn address_label(&self) -> Option<String> {
        self.address.map(|a| match a {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("{v6}/64"),
        })
    }
}

type TallyKey = (String, Option<IpAddr>);

#[derive(Default)]
struct State {
    failures: HashMap<Key, Failures>,
    throttled: HashMap<TallyKey, ThrottledAttempts>,
}

pub struct Throttle {
    state: Mutex<State>,
    limits: Limits,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(Limits::default())
    }
}

/// Failures are forgotten after a day without any.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

impl Throttle {
    pub fn new(limits: Limits) -> Throttle {
        Throttle {
            state: Mutex::new(State::default()),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<Key> {
        let name = username.to_lowercase();
        // Without an address (no peer known) all such attempts share one.
        let from = ip.map(bucket).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut k = vec![
            Key::AccountFromAddress(name.clone(), from),
            Key::Account(name),
        ];
        if ip.is_some() {
            k.push(Key::Address(from));
        }
        k
    }

    fn delay_for(&self, key: &Key, count: u32) -> Duration {
        let free = match key {
            Key::AccountFromAddress(..) => self.limits.per_account_and_address,
            Key::Address(_) => self.limits.per_address,
            Key::Account(_) => self.limits.per_account,
        };
        if count <= free {
            return Duration::ZERO;
        }
        let exp = (count - free - 1).min(20);
        Duration::from_secs(1u64 << exp).min(self.limits.max_delay)
    }

    /// How long an attempt must still wait, given the counts in `state`.
    fn wait(
        &self,
        state: &State,
        username: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        for key in Self::keys(username, ip) {
            if let Some(f) = state.failures.get(&key) {
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

    /// `Err(wait)` when an attempt must wait before it may be tried (nothing is counted).
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        self.wait(&self.lock(), username, ip, now)
    }

    /// Counts an attempt **before** its password is checked, in the same step as the
    /// check: parallel guesses cannot all pass the check first. `Err(wait)` when it must
    /// wait: it is then only tallied as throttled. When let through, `Ok` carries the
    /// attempts throttled for this account and address since the last report, to be
    /// reported before this one. A success then clears the counts ([`Throttle::success`]).
    pub fn attempt(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<Option<ThrottledAttempts>, Duration> {
        let mut state = self.lock();
        let tally = (username.to_lowercase(), ip.map(bucket));
        if let Err(wait) = self.wait(&state, username, ip, now) {
            self.tally(&mut state, tally, now);
            return Err(wait);
        }
        self.count(&mut state, username, ip, now);
        Ok(state.throttled.remove(&tally))
    }

    /// The attempt let through by [`Throttle::attempt`] failed: its delay runs from now,
    /// when the answer is given (a slow password check must not use the delay up).
    pub fn failed(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        let mut state = self.lock();
        for key in Self::keys(username, ip) {
            if let Some(f) = state.failures.get_mut(&key) {
                f.last = f.last.max(now);
            }
        }
    }

    /// Clears the account's counts and its address's; another address's failures for the
    /// same account remain (they were someone else's).
    pub fn success(&self, username: &str, ip: Option<IpAddr>) {
        let mut state = self.lock();
        for key in Self::keys(username, ip) {
            state.failures.remove(&key);
        }
    }

    /// The throttled-attempt tallies whose first attempt is at least `age` old, taken out
    /// to be reported (`Duration::ZERO`: all of them).
    pub fn take_throttled(&self, now: Instant, age: Duration) -> Vec<ThrottledAttempts> {
        let mut state = self.lock();
        let due: Vec<TallyKey> = state
            .throttled
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(t.first) >= age)
            .map(|(k, _)| k.clone())
            .collect();
        due.iter()
            .filter_map(|k| state.throttled.remove(k))
            .collect()
    }

    /// How many failure counts are kept.
    pub fn entries(&self) -> usize {
        self.lock().failures.len()
    }

    fn tally(&self, state: &mut State, key: TallyKey, now: Instant) {
        // Once too many are waiting, further accounts and addresses share one tally.
        let key = if state.throttled.len() >= self.limits.max_entries
            && !state.throttled.contains_key(&key)
        {
            (String::new(), None)
        } else {
            key
        };
        let t = state
            .throttled
            .entry(key.clone())
            .or_insert(ThrottledAttempts {
                username: key.0,
                address: key.1,
                count: 0,
                first: now,
                last: now,
            });
        t.count += 1;
        t.last = now;
    }

    fn count(&self, state: &mut State, username: &str, ip: Option<IpAddr>, now: Instant) {
        for key in Self::keys(username, ip) {
            let f = state.failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.saturating_duration_since(f.last) >= FORGET_AFTER {
                f.count = 0;
            }
            f.count += 1;
            f.last = now;
        }
        if state.failures.len() > self.limits.max_entries {
            self.evict(&mut state.failures, now);
        }
    }

    /// Forgets what is a day old, then, if still too many, down to nine tenths of the
    /// limit (in one go, so a flood pays for it once per many attempts): first the counts
    /// that hold nothing back (least recently failed first), then those whose delay ends
    /// soonest. A flood of new addresses makes counts that hold nothing back, so it pushes
    /// out its own kind, not the delays imposed on a guesser.
    fn evict(&self, failures: &mut HashMap<Key, Failures>, now: Instant) {
        failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        let target = self.limits.max_entries - self.limits.max_entries / 10;
        let excess = failures.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut order: Vec<((bool, Instant), Key)> = failures
            .iter()
            .map(|(k, f)| {
                let until = f.last + self.delay_for(k, f.count);
                let rank = if until > now {
                    (true, until)
                } else {
                    (false, f.last)
                };
                (rank, k.clone())
            })
            .collect();
        order.select_nth_unstable_by_key(excess - 1, |(rank, _)| *rank);
        for (_, key) in &order[..excess] {
            failures.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_pair: u32, per_address: u32, per_account: u32, max_delay: u64) -> Limits {
        Limits {
            per_account_and_address: per_pair,
            per_address,
            per_account,
            max_delay: Duration::from_secs(max_delay),
            max_entries: 10_000,
        }
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    /// A failed attempt answered at once.
    fn fail(t: &Throttle, user: &str, ip: Option<IpAddr>, now: Instant) {
        assert!(
            t.attempt(user, ip, now).is_ok(),
            "{user} {ip:?} let through"
        );
        t.failed(user, ip, now);
    }

    #[test]
    fn an_attempt_is_counted_before_its_check_and_its_delay_runs_from_the_answer() {
        let t = Throttle::new(limits(3, 100, 100, 60));
        let t0 = Instant::now();
        // Four let through at once, none answered yet: the fifth must wait.
        for _ in 0..4 {
            assert!(t.attempt("bob", ip(9), t0).is_ok());
        }
        assert_eq!(t.attempt("bob", ip(9), t0), Err(Duration::from_secs(1)));
        // The fourth's answer came 5 s later (a slow check): the delay runs from then.
        let answered = t0 + Duration::from_secs(5);
        t.failed("bob", ip(9), answered);
        assert!(t
            .attempt("bob", ip(9), answered + Duration::from_millis(500))
            .is_err());
        assert!(t
            .attempt("bob", ip(9), answered + Duration::from_secs(1))
            .is_ok());
        t.success("bob", ip(9));
        assert!(t
            .attempt("bob", ip(9), answered + Duration::from_secs(1))
            .is_ok());
    }

    #[test]
    fn delays_start_after_the_free_attempts_and_double() {
        let t = Throttle::new(limits(3, 100, 100, 60));
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&t, "Admin", ip(1), t0);
        }
        assert!(
            t.check("admin", ip(1), t0).is_ok(),
            "three failures are free"
        );
        fail(&t, "admin", ip(1), t0);
        assert_eq!(t.check("ADMIN", ip(1), t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        fail(&t, "admin", ip(1), t1);
        assert_eq!(t.check("admin", ip(1), t1), Err(Duration::from_secs(2)));
        t.success("admin", ip(1));
        assert!(t.check("admin", ip(1), t1).is_ok());
    }

    #[test]
    fn hammering_an_account_from_one_address_does_not_lock_it_elsewhere() {
        let t = Throttle::new(limits(3, 20, 30, 900));
        let t0 = Instant::now();
        let mut now = t0;
        // From address 1, until it must wait long.
        for _ in 0..8 {
            while t.check("admin", ip(1), now).is_err() {
                now += Duration::from_secs(1);
            }
            fail(&t, "admin", ip(1), now);
        }
        assert!(t.check("admin", ip(1), now).is_err());
        // The owner, from address 2, is not held up; their success leaves address 1's
        // delay in place.
        assert!(t.attempt("admin", ip(2), now).is_ok());
        t.success("admin", ip(2));
        assert!(t.check("admin", ip(1), now).is_err());
    }

    #[test]
    fn many_addresses_guessing_one_account_reach_its_ceiling() {
        let t = Throttle::new(limits(3, 20, 30, 900));
        let t0 = Instant::now();
        // Ten addresses, three free failures each: thirty in all.
        for a in 1..=10 {
            for _ in 0..3 {
                fail(&t, "admin", ip(a), t0);
            }
        }
        assert!(
            t.check("admin", ip(200), t0).is_ok(),
            "30 are within the ceiling"
        );
        fail(&t, "admin", ip(11), t0);
        assert_eq!(
            t.check("admin", ip(200), t0),
            Err(Duration::from_secs(1)),
            "past the ceiling, even a fresh address waits"
        );
        // Other accounts are not affected.
        assert!(t.check("other", ip(200), t0).is_ok());
    }

    #[test]
    fn one_address_trying_many_accounts_is_slowed_down() {
        let t = Throttle::new(limits(3, 5, 100, 60));
        let t0 = Instant::now();
        for i in 0..6 {
            fail(&t, &format!("user{i}"), ip(9), t0);
        }
        assert!(t.check("fresh-name", ip(9), t0).is_err());
        assert!(t.check("fresh-name", ip(8), t0).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(bucket(a), bucket(same));
        assert_ne!(bucket(a), bucket(other));
        assert_eq!(bucket(a).to_string(), "2001:db8:1:2::");
        let mapped: IpAddr = "::ffff:198.51.100.4".parse().expect("ip");
        assert_eq!(bucket(mapped), IpAddr::from([198, 51, 100, 4]));

        let t = Throttle::new(limits(3, 100, 100, 60));
        let t0 = Instant::now();
        for _ in 0..4 {
            fail(&t, "admin", Some(a), t0);
        }
        assert!(
            t.check("admin", Some(same), t0).is_err(),
            "another address in the /64 is the same client"
        );
        assert!(t.check("admin", Some(other), t0).is_ok());
    }

    #[test]
    fn delay_is_capped() {
        let t = Throttle::new(limits(0, 0, 0, 10));
        let t0 = Instant::now();
        let mut now = t0;
        for _ in 0..40 {
            while t.check("a", None, now).is_err() {
                now += Duration::from_secs(1);
            }
            fail(&t, "a", None, now);
        }
        assert_eq!(t.check("a", None, now), Err(Duration::from_secs(10)));
    }

    #[test]
    fn a_flood_from_many_addresses_keeps_the_map_bounded() {
        let t = Throttle::default();
        let t0 = Instant::now();
        // Someone guessing the administrator's password, slowed down.
        for _ in 0..4 {
            fail(&t, "admin", ip(1), t0);
        }
        for i in 0..100_000u32 {
            let now = t0 + Duration::from_millis(u64::from(i));
            let from = Some(IpAddr::from((0x0b00_0000 + i).to_be_bytes()));
            let _ = t.attempt(&format!("user{}", i % 1000), from, now);
            assert!(t.entries() <= 10_000, "{} entries after {i}", t.entries());
            if i % 5_000 == 0 {
                // The guesser keeps trying (and is kept track of).
                let _ = t.attempt("admin", ip(1), now);
            }
        }
        assert!(t.entries() >= 8_000, "{}", t.entries());
        let end = t0 + Duration::from_millis(100_000);
        assert!(
            t.check("admin", ip(1), end).is_err(),
            "a recent guesser is still held back"
        );
    }

    #[test]
    fn throttled_attempts_are_tallied_and_reported_once() {
        let t = Throttle::new(limits(1, 100, 100, 60));
        let t0 = Instant::now();
        fail(&t, "admin", ip(1), t0);
        fail(&t, "admin", ip(1), t0);
        for i in 0..200 {
            assert!(t
                .attempt("admin", ip(1), t0 + Duration::from_millis(i))
                .is_err());
        }
        assert!(t.attempt("admin", ip(2), t0).is_ok_and(|t| t.is_none()));
        // Not due yet a second after the first; due after a minute.
        let now = t0 + Duration::from_secs(1);
        assert!(t.take_throttled(now, Duration::from_secs(60)).is_empty());
        let due = t.take_throttled(t0 + Duration::from_secs(60), Duration::from_secs(60));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].count, 200);
        assert_eq!(due[0].username, "admin");
        assert_eq!(due[0].address_label().as_deref(), Some("10.0.0.1"));
        assert!(
            t.take_throttled(now, Duration::ZERO).is_empty(),
            "reported once"
        );

        // Or with the next attempt let through.
        for _ in 0..3 {
            assert!(t
                .attempt("Admin", ip(1), t0 + Duration::from_millis(500))
                .is_err());
        }
        let later = now + Duration::from_secs(60);
        let before = t.attempt("admin", ip(1), later).expect("let through");
        assert_eq!(before.map(|b| b.count), Some(3));
    }

    #[test]
    fn throttled_tallies_are_bounded_too_and_lose_no_attempt() {
        let t = Throttle::new(Limits {
            max_entries: 1_000,
            ..limits(0, 100, 100, 60)
        });
        let t0 = Instant::now();
        for i in 0..5_000u32 {
            let from = Some(IpAddr::from((0x0b00_0000 + i).to_be_bytes()));
            let user = format!("user{i}");
            let now = t0 + Duration::from_millis(u64::from(i));
            fail(&t, &user, from, now);
            assert!(t.attempt(&user, from, now).is_err());
        }
        let tallies = t.take_throttled(t0, Duration::ZERO);
        assert!(tallies.len() <= 1_001, "{}", tallies.len());
        assert_eq!(tallies.iter().map(|t| t.count).sum::<u64>(), 5_000);
        assert!(tallies
            .iter()
            .any(|t| t.username.is_empty() && t.address.is_none()));
    }
}
