//! Retention: which stored backups a policy deletes (applying it is
//! `engine::pruning`).
//!
//! The rules, in [`plan`] (a pure function, property-tested):
//! - only successful backups are counted, ordered by completion time (never file names);
//! - safety backups (taken before a restore) and pinned backups are never deleted, and do
//!   not count towards "keep the last N";
//! - the last `keep_last` remaining backups are kept; older ones are deleted;
//! - with a maximum age, older backups are deleted too;
//! - the newest successful backup is never deleted, whatever the rules say.

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
    // Newest first; ties broken by id so the order is total.
    succeeded.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then(b.id.cmp(&a.id)));
    let newest = succeeded.first().map(|c| c.id);
    let keep_last = policy.keep_last.max(1);
    let mut out = vec![];
    let mut rank = 0usize;
    for c in succeeded {
        if c.pinned || c.kind == BackupKind::Safety {
            continue;
        }
        rank += 1;
        if Some(c.id) == newest {
            continue;
        }
        let finished = c.finished_at.unwrap_or(now);
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
    fn keeps_the_last_n_by_completion_time_not_id() {
        // Ids out of order with completion times.
        let h = vec![
            c(1, BackupKind::Manual, BackupStatus::Succeeded, false, 30),
            c(2, BackupKind::Manual, BackupStatus::Succeeded, false, 10),
            c(3, BackupKind::Scheduled, BackupStatus::Succeeded, false, 20),
            c(4, BackupKind::Scheduled, BackupStatus::Failed, false, 5),
        ];
        let p = Policy {
            keep_last: 2,
            max_age: None,
        };
        let d = plan(&h, &p, at(40));
        assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![2]);
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
            // The newest successful backup survives.
            let newest = h.iter()
                .filter(|c| c.status == BackupStatus::Succeeded && c.finished_at.is_some())
                .max_by(|a, b| a.finished_at.cmp(&b.finished_at).then(a.id.cmp(&b.id)));
            if let Some(n) = newest {
                prop_assert!(!ids.contains(&n.id));
            }
            // The last N counted backups survive unless too old; none beyond N survives.
            let mut counted: Vec<&Candidate> = h.iter()
                .filter(|c| c.status == BackupStatus::Succeeded && c.finished_at.is_some() && !c.pinned && c.kind != BackupKind::Safety)
                .collect();
            counted.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then(b.id.cmp(&a.id)));
            for (i, c) in counted.iter().enumerate() {
                let too_old = p.max_age.is_some_and(|a| {
                    now - c.finished_at.unwrap_or(now) > chrono::Duration::from_std(a).unwrap_or_default()
                });
                let is_newest = newest.is_some_and(|n| n.id == c.id);
                let expected = !is_newest && (i >= p.keep_last || too_old);
                prop_assert_eq!(ids.contains(&c.id), expected, "row {:?} at rank {}", c, i);
            }
        }
    }
}
