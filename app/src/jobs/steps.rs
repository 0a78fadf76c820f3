//! The steps of a job, as the panel and the Restore page show them.

use crate::api::{Job, JobKind, JobStatus, Phase};
use leptos::prelude::*;

/// The steps of a job, the current one highlighted (and marked failed if it failed).
#[component]
pub(crate) fn Steps(job: Memo<Option<Job>>) -> impl IntoView {
    let items = move || {
        let (kind, current, failed) = job.with(|j| match j {
            Some(j) => (
                j.job_kind(),
                j.step(),
                j.state().is_some_and(JobStatus::is_failure),
            ),
            None => (JobKind::Backup, Some(Phase::Preflight), false),
        });
        let steps = step_list(kind, current);
        let at = steps.iter().position(|p| Some(*p) == current);
        steps
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let class = match at {
                    Some(a) if i < a => "step step-done",
                    Some(a) if i == a && failed => "step step-failed",
                    Some(a) if i == a && p == Phase::Done => "step step-done",
                    Some(a) if i == a => "step step-current",
                    _ => "step",
                };
                let current = (at == Some(i)).then_some("step");
                view! {
                    <li class=class aria-current=current>
                        {p.label()}
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <ol class="job-steps" aria-label="Steps">
            {items}
        </ol>
    }
}

/// A backup: preflight → dump → verify → store → done (with "offsite" when the job reports
/// it). A restore: preflight → safety backup → restore → analyze → done. A test restore:
/// preflight (the file, its rows) → restore (into a scratch database) → analyze (the
/// proof) → done.
pub(crate) fn step_list(kind: JobKind, current: Option<Phase>) -> Vec<Phase> {
    match kind {
        JobKind::Restore => vec![
            Phase::Preflight,
            Phase::SafetyBackup,
            Phase::Restore,
            Phase::Analyze,
            Phase::Done,
        ],
        JobKind::TestRestore => vec![
            Phase::Preflight,
            Phase::Restore,
            Phase::Analyze,
            Phase::Done,
        ],
        JobKind::Backup => {
            let mut steps = vec![Phase::Preflight, Phase::Dump, Phase::Verify, Phase::Store];
            if current == Some(Phase::Offsite) {
                steps.push(Phase::Offsite);
            }
            steps.push(Phase::Done);
            steps
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsite_appears_only_when_reported() {
        assert_eq!(step_list(JobKind::Backup, Some(Phase::Dump)).len(), 5);
        let with = step_list(JobKind::Backup, Phase::parse("offsite"));
        assert_eq!(with.len(), 6);
        assert_eq!(with[4].as_str(), "offsite");
    }

    #[test]
    fn a_restore_has_its_own_steps() {
        let steps: Vec<_> = step_list(JobKind::Restore, Some(Phase::Restore))
            .into_iter()
            .map(Phase::label)
            .collect();
        assert_eq!(
            steps,
            ["Preflight", "Safety backup", "Restore", "Analyze", "Done"]
        );
    }
}
