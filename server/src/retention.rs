//! Retention: which stored backups a policy deletes (applying it is
//! `engine::pruning`).
//!
//! The rules, in [`plan`] (a pure function, property-tested):
//! - only successful backups are counted, ordered by the journal's own sequence (the row
//!   id: a later attempt has a larger one), never by file names or by the wall clock that
//!   stamped them (a clock set wrong at boot must not make a new backup look oldest);
//! - safety backups (taken before a restore) and pinned backups are never deleted, and do
//!   not count towards "keep the last N";
//! - the last `keep_last` remaining backups are kept; older ones are deleted;
//! - with a maximum age, older backups are deleted too. A backup's age is taken from the
//!   latest completion time among it and every backup before it in the sequence (it
//!   cannot be older than they are), and a time in the future counts as now: a clock
//!   that ran behind or ahead keeps backups, never deletes them;
//! - the newest successful backup is never deleted, whatever the rules say, and nothing
//!   newer in the sequence than it either.

use crate::store::backups::{BackupKind, BackupStatus};
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// At least 1.
    pub keep_last: usize,
    pub max_age: Option<Duration>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keep_last: 30,
            max_age: None,
        }
    }
}

/// What the policy needs to know of a journal row: its id, kind, status, pin and
/// completion time, typed as the journal stores them.
pub use crate::store::backups::RetentionRow as Candidate;

/// One backup to delete, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub id: i64,
    pub reason: String,
}

/// The backups of one database that `policy` deletes at `now`.
pub fn plan(history: &[Candidate], policy: &Policy, now: DateTime<Utc>) -> Vec<Deletion> {
    let mut succeeded: Vec<&Candidate> = history
        .iter()
        .filter(|c| c.status == BackupStatus::Succeeded && c.finished_at.is_some())
        .collect();
    // Oldest first by sequence, to carry the latest completion time forward.
    succeeded.sort_by_key(|c| c.id);
    let mut latest: Option<DateTime<Utc>> = None;
    let mut aged: Vec<(&Candidate, DateTime<Utc>)> = succeeded
        .into_iter()
        .map(|c| {
            let t = c.finished_at.unwrap_or(now).min(now);
            let t = latest.map_or(t, |l| l.max(t));
            latest = Some(t);
            (c, t)
        })
        .collect();
    // Newest first.
    aged.reverse();
    let newest = aged.first().map(|(c, _)| c.id);
    let keep_last = policy.keep_last.max(1);
    let mut out = vec![];
    let mut rank = 0usize;
    for (c, finished) in aged {
        if c.pinned || c.kind == BackupKind::Safety {
            continue;
        }
        rank += 1;
        if newest.is_some_and(|n| c.id >= n) {
            continue;
        }
        let reason = if rank > keep_last {
            Some(format!(
                "retention: more than the last {keep_last} successful backups"
            ))
        } else {
            policy.max_age.and_then(|age| {
                let age = chrono::Duration::from_std(age).ok()?;
                (now - finished > age).then(|| {
                    format!(
                        "retention: older than the maximum age of {}",
                        human_duration(age)
                    )
                })
            })
        };
        if let Some(reason) = reason {
            out.push(Deletion { id: c.id, reason });
        }
    }
    out
}

/// One offsite copy as offsite retention weighs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsiteCopy {
    pub id: i64,
    pub kind: BackupKind,
    pub pinned: bool,
}

/// The offsite copies that offsite retention deletes, given newest first. The offsite
/// store is the copy that survives losing this machine, so its rules only ever let the
/// schedule's own rhythm push a copy out:
/// - pinned copies and safety backups are never deleted;
/// - the newest `keep` scheduled copies are kept, older scheduled copies deleted;
/// - a manual copy does not count towards `keep`: it is kept until `keep` newer scheduled
///   copies exist (a burst of manual backups pushes nothing out). Without any scheduled
///   copy (an instance without a schedule) the newest `keep` manual copies are kept.
pub fn offsite_plan(newest_first: &[OffsiteCopy], keep: usize) -> Vec<Deletion> {
    let keep = keep.max(1);
    let any_scheduled = newest_first
        .iter()
        .any(|c| c.kind == BackupKind::Scheduled && !c.pinned);
    let (mut scheduled, mut manual) = (0usize, 0usize);
    let mut out = vec![];
    for c in newest_first {
        if c.pinned || c.kind == BackupKind::Safety {
            continue;
        }
        let reason = match c.kind {
            BackupKind::Scheduled => {
                scheduled += 1;
                (scheduled > keep)
                    .then(|| format!("more than the last {keep} scheduled copies offsite"))
            }
            _ => {
                manual += 1;
                if any_scheduled {
                    (scheduled >= keep)
                        .then(|| format!("older than the last {keep} scheduled copies offsite"))
                } else {
                    (manual > keep).then(|| {
                        format!("more than the last {keep} copies offsite (no scheduled copy)")
                    })
                }
            }
        };
        if let Some(reason) = reason {
            out.push(Deletion {
                id: c.id,
                reason: format!("offsite retention: {reason}"),
            });
        }
    }
    out
}

/// `30 days`, `12 hours`, `10 minutes`, `45 seconds`: the largest unit that divides it
/// (hours when nothing larger does and it is at least an hour).
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs >= 86_400 && secs % 86_400 == 0 {
        format!("{} days", secs / 86_400)
    } else if secs >= 3600 {
        format!("{} hours", secs / 3600)
    } else if secs >= 60 && secs % 60 == 0 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + minutes * 60, 0).unwrap_or_default()
    }

    fn c(id: i64, kind: BackupKind, status: BackupStatus, pinned: bool, minute: i64) -> Candidate {
        Candidate {
            id,
            kind,
            status,
            pinned,
            finished_at: Some(at(minute)),
        }
    }

    #[test]
    fn keeps_the_last_n_by_sequence_not_by_the_clock() {
        // Completion times out of order with the sequence: a clock that ran behind
        // stamped 3 earliest, one set ahead stamped 1 latest.
        let h = vec![
            c(
                1,
                BackupKind::Manual,
                BackupStatus::Succeeded,
                false,
                600_000,
            ),
            c(2, BackupKind::Manual, BackupStatus::Succeeded, false, 10),
            c(
                3,
                BackupKind::Scheduled,
                BackupStatus::Succeeded,
                false,
                -600_000,
            ),
            c(4, BackupKind::Scheduled, BackupStatus::Failed, false, 5),
        ];
        let p = Policy {
            keep_last: 1,
            max_age: None,
        };
        let d = plan(&h, &p, at(40));
        assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![2, 1]);
        let p = Policy {
            keep_last: 2,
            max_age: None,
        };
        let d = plan(&h, &p, at(40));
        assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn a_backup_stamped_in_the_past_by_a_slow_clock_is_not_too_old() {
        // 3 is the newest by sequence but stamped a year back; 2 was finished at minute 10.
        let h = vec![
            c(1, BackupKind::Manual, BackupStatus::Succeeded, false, 0),
            c(2, BackupKind::Manual, BackupStatus::Succeeded, false, 10),
            c(
                3,
                BackupKind::Manual,
                BackupStatus::Succeeded,
                false,
                -525_600,
            ),
            c(4, BackupKind::Manual, BackupStatus::Succeeded, false, 30),
        ];
        let p = Policy {
            keep_last: 10,
            max_age: Some(Duration::from_secs(25 * 60)),
        };
        // At minute 40: 1 (40 min) is too old; 2 and 3 (both counted from minute 10, 30 min)
        // too; 4 is the newest.
        let d = plan(&h, &p, at(40));
        assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![3, 2, 1]);
        // At minute 30: only 1 is older than 25 minutes; 3 counts as at least as recent
        // as 2 (minute 10: 20 min).
        let d = plan(&h, &p, at(30));
        assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![1]);
    }

    fn o(id: i64, kind: BackupKind, pinned: bool) -> OffsiteCopy {
        OffsiteCopy { id, kind, pinned }
    }

    fn deleted(copies: &[OffsiteCopy], keep: usize) -> Vec<i64> {
        offsite_plan(copies, keep).iter().map(|d| d.id).collect()
    }

    #[test]
    fn a_burst_of_manual_copies_pushes_no_scheduled_copy_out() {
        use BackupKind::*;
        // Newest first: five manual copies after the one scheduled copy kept.
        let copies = [
            o(9, Manual, false),
            o(8, Manual, false),
            o(7, Manual, false),
            o(6, Manual, false),
            o(5, Manual, false),
            o(4, Scheduled, false),
            o(3, Manual, false),
            o(2, Scheduled, false),
            o(1, Safety, false),
        ];
        assert_eq!(deleted(&copies, 1), vec![3, 2]);
        assert_eq!(deleted(&copies, 2), Vec::<i64>::new());
    }

    #[test]
    fn pinned_and_safety_copies_stay_offsite() {
        use BackupKind::*;
        let copies = [
            o(5, Scheduled, false),
            o(4, Scheduled, false),
            o(3, Manual, true),
            o(2, Scheduled, true),
            o(1, Safety, false),
        ];
        assert_eq!(deleted(&copies, 1), vec![4]);
    }

    #[test]
    fn without_a_schedule_the_newest_manual_copies_are_kept() {
        use BackupKind::*;
        let copies = [
            o(4, Manual, false),
            o(3, Manual, false),
            o(2, Manual, true),
            o(1, Manual, false),
        ];
        assert_eq!(deleted(&copies, 2), vec![1]);
    }

    fn history() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    BackupKind::Manual,
                    BackupKind::Scheduled,
                    BackupKind::Safety,
                ]),
                prop::sample::select(vec![
                    BackupStatus::Succeeded,
                    BackupStatus::Failed,
                    BackupStatus::Cancelled,
                    BackupStatus::Interrupted,
                ]),
                prop::bool::weighted(0.15),
                0i64..10_000,
                prop::bool::weighted(0.05),
            ),
            0..60,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(
                    |(i, (kind, status, pinned, minute, unfinished))| Candidate {
                        id: i as i64 + 1,
                        kind,
                        status,
                        pinned,
                        finished_at: (!unfinished).then(|| at(minute)),
                    },
                )
                .collect()
        })
    }

    fn policy() -> impl Strategy<Value = Policy> {
        (1usize..40, prop::option::of(1u64..20_000)).prop_map(|(keep_last, age)| Policy {
            keep_last,
            max_age: age.map(|m| Duration::from_secs(m * 60)),
        })
    }

    proptest! {
        #[test]
        fn the_rules_hold_for_any_history(h in history(), p in policy(), now_min in 0i64..30_000) {
            let now = at(now_min);
            let deleted = plan(&h, &p, now);
            let ids: Vec<i64> = deleted.iter().map(|d| d.id).collect();
            let by_id = |id: i64| h.iter().find(|c| c.id == id).expect("known id");
            // Only successful, unpinned, non-safety backups are ever deleted, once each.
            for id in &ids {
                let c = by_id(*id);
                prop_assert_eq!(c.status, BackupStatus::Succeeded);
                prop_assert!(!c.pinned);
                prop_assert_ne!(c.kind, BackupKind::Safety);
            }
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), ids.len());
            // The newest successful backup (by sequence) survives, and nothing newer.
            let newest = h.iter()
                .filter(|c| c.status == BackupStatus::Succeeded && c.finished_at.is_some())
                .max_by_key(|c| c.id);
            if let Some(n) = newest {
                prop_assert!(ids.iter().all(|id| *id < n.id));
            }
            // The last N counted backups survive unless too old; none beyond N survives.
            // Age: the latest completion time up to it in the sequence, never past now.
            let effective = |c: &Candidate| {
                h.iter()
                    .filter(|o| o.id <= c.id && o.status == BackupStatus::Succeeded)
                    .filter_map(|o| o.finished_at)
                    .map(|t| t.min(now))
                    .max()
                    .unwrap_or(now)
            };
            let mut counted: Vec<&Candidate> = h.iter()
                .filter(|c| c.status == BackupStatus::Succeeded && c.finished_at.is_some() && !c.pinned && c.kind != BackupKind::Safety)
                .collect();
            counted.sort_by_key(|c| std::cmp::Reverse(c.id));
            for (i, c) in counted.iter().enumerate() {
                let too_old = p.max_age.is_some_and(|a| {
                    now - effective(c) > chrono::Duration::from_std(a).unwrap_or_default()
                });
                let is_newest = newest.is_some_and(|n| n.id == c.id);
                let expected = !is_newest && (i >= p.keep_last || too_old);
                prop_assert_eq!(ids.contains(&c.id), expected, "row {:?} at rank {}", c, i);
            }
        }
    }
}
