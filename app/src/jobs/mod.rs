//! "Back up now" and the progress panel, present on every signed-in page.
//!
//! The Layout provides one [`Backups`] context: the sidebar button and Ctrl+Alt+S ask for a
//! backup (through a confirmation modal unless the server says not to), the panel in the
//! bottom-right corner follows the job over server-sent events
//! (`/api/v1/jobs/{id}/events`), and pages watch [`Backups::activity`] to refresh their
//! history when a job starts or ends. When the Layout mounts it asks
//! `/api/v1/backups/status` whether a backup is already running, so a reload or a second tab
//! reattaches to it; it asks again every few seconds (and just after the next scheduled run
//! begins), so a backup the scheduler starts is followed in the panel too, and pages refresh
//! when the server's state changed behind their back.
//!
//! The panel also shows restore jobs (reattached, or handed over by the Restore page when
//! one leaves it while a restore runs), with their own steps and words; on the Restore page
//! itself a restore is shown in the page instead. [`follow_job`] is the event-stream
//! follower both use.
//!
//! Here: the shared state and what changes it; `follow` (the event stream), `backup_now`
//! (the sidebar button and its confirmation), `panel` (the panel's views) and `steps` (a
//! job's steps, also shown by the Restore page).

mod backup_now;
mod follow;
mod panel;
mod steps;

pub use backup_now::{BackupNowButton, ConfirmBackupModal};
pub(crate) use follow::{follow_job, JobSink};
pub use panel::JobPanel;
pub(crate) use steps::Steps;

use crate::api::{BackupStatus, Job, JobStatus, StartedJob};
use crate::client::{self, Refusal};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::time::Duration;

/// How long the panel stays up after a successful backup.
const DISMISS_AFTER: Duration = Duration::from_secs(8);

/// How often a signed-in page asks the server for its backup status (while it is visible).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const POLL_EVERY: Duration = Duration::from_secs(10);

/// How long after the next scheduled run's time the extra looks are taken: soon, as a
/// small backup may last only a second or two, and once more a little later (the
/// scheduler needs a moment to start the job, and the browser's clock may be behind).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const AFTER_NEXT_RUN: [Duration; 2] = [Duration::from_millis(400), Duration::from_millis(1_500)];

/// What of the backup status, when it changes, is worth refreshing a page for.
#[derive(Clone, Debug, PartialEq)]
struct Fingerprint {
    running_job: Option<(i64, String)>,
    last_success: Option<i64>,
    backup_count: i64,
    used_bytes: i64,
    next_run: Option<DateTime<Utc>>,
    stale: bool,
    offsite: (Option<i64>, Option<i64>),
    last_alert_at: Option<DateTime<Utc>>,
}

impl Fingerprint {
    fn of(s: &BackupStatus) -> Fingerprint {
        Fingerprint {
            running_job: s.running_job.as_ref().map(|j| (j.id, j.status.clone())),
            last_success: s.last_success.as_ref().map(|b| b.id),
            backup_count: s.backup_count,
            used_bytes: s.used_bytes,
            next_run: s.next_run,
            stale: s.stale,
            offsite: (s.offsite_count, s.offsite_bytes),
            last_alert_at: s.last_alert_at,
        }
    }
}

/// What the panel shows.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum PanelState {
    #[default]
    Hidden,
    /// `POST /api/v1/backups` is on its way.
    Starting,
    /// Following a job; `job` is its last known state (`None` until the first answer).
    Following {
        job_id: i64,
        job: Option<Box<Job>>,
        /// Said once, e.g. "A backup is already running…" when we joined an existing job.
        notice: Option<String>,
        /// Set when the job can no longer be followed (it vanished, or the server stays
        /// unreachable); the panel then says so and can be closed.
        lost: Option<String>,
    },
    /// The backup did not start: invalid configuration (422) or a failed request.
    Refused { message: String },
}

/// The panel's state reduced to what decides its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Hidden,
    Starting,
    Connecting,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Lost,
}

impl Stage {
    fn is_over(self) -> bool {
        matches!(
            self,
            Stage::Succeeded | Stage::Failed | Stage::Cancelled | Stage::Lost
        )
    }

    fn css(self) -> &'static str {
        match self {
            Stage::Hidden | Stage::Starting | Stage::Connecting | Stage::Running => "running",
            Stage::Succeeded => "succeeded",
            Stage::Failed | Stage::Lost => "failed",
            Stage::Cancelled => "cancelled",
        }
    }
}

impl PanelState {
    fn stage(&self) -> Stage {
        match self {
            PanelState::Hidden => Stage::Hidden,
            PanelState::Starting => Stage::Starting,
            PanelState::Refused { .. } => Stage::Failed,
            PanelState::Following { job, lost, .. } => match job {
                Some(j) if j.state() == Some(JobStatus::Succeeded) => Stage::Succeeded,
                Some(j) if j.state().is_some_and(JobStatus::is_failure) => Stage::Failed,
                Some(j) if j.state() == Some(JobStatus::Cancelled) => Stage::Cancelled,
                _ if lost.is_some() => Stage::Lost,
                Some(_) => Stage::Running,
                None => Stage::Connecting,
            },
        }
    }

    fn job_id(&self) -> Option<i64> {
        match self {
            PanelState::Following { job_id, .. } => Some(*job_id),
            _ => None,
        }
    }

    pub(crate) fn job(&self) -> Option<&Job> {
        match self {
            PanelState::Following { job, .. } => job.as_deref(),
            _ => None,
        }
    }

    /// The word `data-testid="job-status"` holds: the job's own status once known.
    fn status_word(&self) -> String {
        match self {
            PanelState::Hidden => String::new(),
            PanelState::Starting | PanelState::Following { job: None, .. } => "starting".into(),
            PanelState::Refused { .. } => JobStatus::Failed.as_str().into(),
            PanelState::Following { job: Some(j), .. } => j.status.clone(),
        }
    }

    /// Why the backup failed, in the server's words.
    fn failure(&self) -> Option<String> {
        match self {
            PanelState::Refused { message } => Some(message.clone()),
            PanelState::Following { job: Some(j), .. } => {
                let what = job_noun(j);
                Some(j.message.clone().unwrap_or_else(|| {
                    if j.state() == Some(JobStatus::Interrupted) {
                        format!("Lifeboat stopped while this {what} was running.")
                    } else {
                        format!("The {what} failed.")
                    }
                }))
            }
            _ => None,
        }
    }

    fn is_running(&self) -> bool {
        matches!(
            self.stage(),
            Stage::Starting | Stage::Connecting | Stage::Running
        )
    }
}

/// The shared "back up now" state; `Copy`, provided by the Layout.
#[derive(Clone, Copy)]
pub struct Backups {
    pub state: RwSignal<PanelState>,
    /// Bumped each time a job reaches its end (or a start is refused and journaled).
    pub jobs_finished: RwSignal<u64>,
    /// Bumped each time a new job starts.
    pub jobs_started: RwSignal<u64>,
    pub confirm_open: RwSignal<bool>,
    /// Whether "Back up now" asks first (the server's `confirm_backup`; asks until known).
    pub confirm_backup: RwSignal<bool>,
    /// The database backups are taken of, once the server has said.
    pub database: RwSignal<Option<String>>,
    /// Bumped when a periodic look at the server finds its backup status changed (a
    /// scheduled backup started or ended, retention deleted something, another tab…).
    pub server_changes: RwSignal<u64>,
    /// When the next scheduled backup runs, as the server last said.
    pub next_run: RwSignal<Option<DateTime<Utc>>>,
    /// The status last seen, reduced to what matters for [`Backups::server_changes`].
    seen: StoredValue<Option<Fingerprint>>,
    start: Action<(), Result<StartedJob, Refusal>>,
}

/// The context the Layout provides.
pub fn use_backups() -> Backups {
    use_context::<Backups>().unwrap_or_else(provide_backups)
}

/// Creates the context, starts following the job the panel names, and asks the server
/// whether a backup is already running. Called once, by the Layout.
pub fn provide_backups() -> Backups {
    let start = Action::new_local(|_: &()| client::backups::start());
    let b = Backups {
        state: RwSignal::new(PanelState::Hidden),
        jobs_finished: RwSignal::new(0),
        jobs_started: RwSignal::new(0),
        confirm_open: RwSignal::new(false),
        confirm_backup: RwSignal::new(true),
        database: RwSignal::new(None),
        server_changes: RwSignal::new(0),
        next_run: RwSignal::new(None),
        seen: StoredValue::new(None),
        start,
    };
    provide_context(b);

    Effect::new(move |_| {
        if let Some(result) = start.value().get() {
            untrack(|| b.on_start_answer(result));
        }
    });

    // One follower per job: it lives as long as the panel names that job.
    let following = Memo::new(move |_| b.state.with(PanelState::job_id));
    Effect::new(move |_| {
        if let Some(job_id) = following.get() {
            follow_job(job_id, b);
        }
    });

    // Reattach to a running job (reload, second tab, the scheduler).
    watch_server(b);
    install_shortcut(b);
    b
}

/// Asks `/api/v1/backups/status` now, every [`POLL_EVERY`] while the page is visible, and
/// just after the next scheduled run's time: a job running there is followed in the panel,
/// and a change bumps [`Backups::server_changes`].
fn watch_server(b: Backups) {
    let poll = move || {
        leptos::task::spawn_local(async move {
            if let Ok(status) = client::backups::status_in_background().await {
                b.absorb(&status, true);
            }
        });
    };
    Effect::new(move |_| {
        poll();
        #[cfg(feature = "hydrate")]
        {
            let tick = move || {
                if !document().hidden() {
                    poll();
                }
            };
            if let Ok(handle) = set_interval_with_handle(tick, POLL_EVERY) {
                on_cleanup(move || handle.clear());
            }
        }
    });
    // The scheduler starts its job at the slot's time; look then rather than up to
    // POLL_EVERY later, so even a short backup is seen while it runs.
    #[cfg(feature = "hydrate")]
    Effect::new(
        move |previous: Option<Vec<leptos::prelude::TimeoutHandle>>| {
            for handle in previous.into_iter().flatten() {
                handle.clear();
            }
            let Some(next) = b.next_run.get() else {
                return vec![];
            };
            let Some(now) = crate::format::now() else {
                return vec![];
            };
            let until = (next - now).num_milliseconds();
            AFTER_NEXT_RUN
                .iter()
                .map(|after| until + after.as_millis() as i64)
                // Far-off runs are met by the regular polling (timers drift in sleeping tabs).
                .filter(|wait| (0..=6 * 3_600_000).contains(wait))
                .filter_map(|wait| {
                    set_timeout_with_handle(poll, Duration::from_millis(wait as u64)).ok()
                })
                .collect()
        },
    );
}

impl JobSink for Backups {
    fn apply(&self, job: Job) {
        Backups::apply(self, job);
    }
    fn lose(&self, job_id: i64, why: String) {
        Backups::lose(self, job_id, why);
    }
    fn settled(&self, job_id: i64) -> bool {
        Backups::settled(self, job_id)
    }
}

/// "backup" or "restore", for sentences about a job.
pub(crate) fn job_noun(job: &Job) -> &'static str {
    if job.is_restore() {
        "restore"
    } else {
        "backup"
    }
}

/// Ctrl+Alt+S asks for a backup from any page (the confirmation closes itself on Escape);
/// not for a role that may not back up (its button says why).
fn install_shortcut(b: Backups) {
    if crate::components::refusal(crate::api::Capability::BackUp).is_some() {
        return;
    }
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.ctrl_key() && ev.alt_key() && ev.key().eq_ignore_ascii_case("s") {
                ev.prevent_default();
                if !ev.repeat() {
                    b.request();
                }
            }
        });
        on_cleanup(move || handle.remove());
    });
}

impl Backups {
    /// Any change worth refreshing a history for (a job started or ended, or the server's
    /// status changed).
    pub fn activity(&self) -> u64 {
        self.jobs_finished.get() + self.jobs_started.get() + self.server_changes.get()
    }

    /// "Back up now" (button or shortcut): through the confirmation unless it is off.
    pub fn request(&self) {
        if self.confirm_backup.get_untracked() {
            self.confirm_open.set(true);
        } else {
            self.start();
        }
    }

    /// Sends `POST /api/v1/backups` (Confirm, Retry, or "Back up now" without confirmation).
    pub fn start(&self) {
        self.confirm_open.set(false);
        if self.start.pending().get_untracked() {
            return;
        }
        // While a job is being followed keep showing it: the server will answer 409 with
        // that same job.
        if !self.state.with_untracked(PanelState::is_running) {
            self.state.set(PanelState::Starting);
        }
        self.start.dispatch(());
    }

    pub fn starting(&self) -> bool {
        self.start.pending().get()
    }

    fn on_start_answer(&self, result: Result<StartedJob, Refusal>) {
        match result {
            Ok(started) => {
                self.jobs_started.update(|n| *n += 1);
                self.follow(started.job_id, None, None);
            }
            Err(refusal) => {
                let running_job = refusal.body.as_ref().and_then(|b| b.job_id);
                let message = refusal.error.to_string();
                match (refusal.status(), running_job) {
                    (Some(409), Some(job_id)) => self.follow(job_id, None, Some(message)),
                    (status, _) => {
                        self.state.set(PanelState::Refused { message });
                        // The server journals a refused start (invalid configuration).
                        if status == Some(422) {
                            self.jobs_finished.update(|n| *n += 1);
                        }
                    }
                }
            }
        }
    }

    /// Shows the panel following `job_id` (keeping what is known if it already does).
    pub fn follow(&self, id: i64, job: Option<Job>, notice: Option<String>) {
        self.state.update(|s| match s {
            PanelState::Following {
                job_id,
                job: known,
                notice: n,
                ..
            } if *job_id == id => {
                if notice.is_some() {
                    *n = notice;
                }
                if known.is_none() {
                    *known = job.map(Box::new);
                }
            }
            _ => {
                *s = PanelState::Following {
                    job_id: id,
                    job: job.map(Box::new),
                    notice,
                    lost: None,
                }
            }
        });
    }

    /// Takes what `/api/v1/backups/status` says: the confirmation setting, the database,
    /// the next scheduled run, and a running job to reattach to when the panel is free (or
    /// only shows a job that has ended). A page calling this has just fetched the status
    /// itself, so it is not told about the change ([`Backups::server_changes`] stays).
    pub fn absorb_status(&self, status: &BackupStatus) {
        self.absorb(status, false);
    }

    fn absorb(&self, status: &BackupStatus, announce: bool) {
        if self.confirm_backup.get_untracked() != status.confirm_backup {
            self.confirm_backup.set(status.confirm_backup);
        }
        if self.database.with_untracked(|d| *d != status.database) {
            self.database.set(status.database.clone());
        }
        if self.next_run.get_untracked() != status.next_run {
            self.next_run.set(status.next_run);
        }
        let now = Some(Fingerprint::of(status));
        let changed = self
            .seen
            .try_update_value(|seen| {
                let changed = seen.is_some() && *seen != now;
                *seen = now;
                changed
            })
            .unwrap_or(false);
        if let Some(job) = &status.running_job {
            let free = self.state.with_untracked(|s| match s {
                PanelState::Hidden => true,
                other => other.stage().is_over() && other.job_id() != Some(job.id),
            });
            if !job.is_over() && free {
                self.follow(job.id, Some(job.clone()), None);
            }
        }
        if changed && announce {
            self.server_changes.update(|n| *n += 1);
        }
    }

    /// A new state of the followed job.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn apply(&self, job: Job) {
        let id = job.id;
        let now_over = job.is_over();
        let succeeded = job.state() == Some(JobStatus::Succeeded);
        let mut just_ended = false;
        self.state.update(|s| {
            if let PanelState::Following {
                job_id, job: known, ..
            } = s
            {
                if *job_id != id {
                    return;
                }
                let was_over = known.as_ref().is_some_and(|j| j.is_over());
                if was_over {
                    return;
                }
                just_ended = now_over;
                *known = Some(Box::new(job));
            }
        });
        if !just_ended {
            return;
        }
        self.jobs_finished.update(|n| *n += 1);
        if succeeded {
            let state = self.state;
            set_timeout(
                move || {
                    state.try_update(|s| {
                        let still_showing = s.job_id() == Some(id)
                            && s.job()
                                .is_some_and(|j| j.state() == Some(JobStatus::Succeeded));
                        if still_showing {
                            *s = PanelState::Hidden;
                        }
                    });
                },
                DISMISS_AFTER,
            );
        }
    }

    /// The followed job can no longer be followed.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn lose(&self, id: i64, why: String) {
        self.state.update(|s| {
            if let PanelState::Following { job_id, lost, .. } = s {
                if *job_id == id {
                    *lost = Some(why);
                }
            }
        });
    }

    /// Whether following `id` is over (it ended, was lost, or is no longer shown).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn settled(&self, id: i64) -> bool {
        self.state.with_untracked(|s| match s {
            PanelState::Following {
                job_id, job, lost, ..
            } if *job_id == id => lost.is_some() || job.as_ref().is_some_and(|j| j.is_over()),
            _ => true,
        })
    }

    pub fn dismiss(&self) {
        self.state.set(PanelState::Hidden);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: &str) -> Job {
        Job {
            id: 7,
            kind: "backup".into(),
            status: status.into(),
            phase: "dump".into(),
            percent: 42.0,
            current_item: Some("public.orders".into()),
            bytes_written: 1_000_000,
            started_at: chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default(),
            finished_at: None,
            elapsed_ms: 1500,
            database: "shop".into(),
            backup_id: Some(3),
            restore_id: None,
            file_name: None,
            location: None,
            size_bytes: None,
            sha256: None,
            message: None,
            actor: Some("alice".into()),
        }
    }

    fn following(j: Option<Job>) -> PanelState {
        PanelState::Following {
            job_id: 7,
            job: j.map(Box::new),
            notice: None,
            lost: None,
        }
    }

    #[test]
    fn stages_follow_the_job_status() {
        assert_eq!(PanelState::Hidden.stage(), Stage::Hidden);
        assert_eq!(PanelState::Starting.stage(), Stage::Starting);
        assert_eq!(following(None).stage(), Stage::Connecting);
        assert_eq!(following(Some(job("running"))).stage(), Stage::Running);
        assert_eq!(following(Some(job("queued"))).stage(), Stage::Running);
        assert_eq!(following(Some(job("succeeded"))).stage(), Stage::Succeeded);
        assert_eq!(following(Some(job("failed"))).stage(), Stage::Failed);
        assert_eq!(following(Some(job("interrupted"))).stage(), Stage::Failed);
        assert_eq!(following(Some(job("cancelled"))).stage(), Stage::Cancelled);
        let refused = PanelState::Refused {
            message: "invalid configuration: pg_dump not found".into(),
        };
        assert_eq!(refused.stage(), Stage::Failed);
        assert_eq!(refused.status_word(), "failed");
        assert_eq!(
            refused.failure().as_deref(),
            Some("invalid configuration: pg_dump not found")
        );
    }

    #[test]
    fn a_lost_job_shows_its_end_if_known() {
        let mut s = following(Some(job("running")));
        if let PanelState::Following { lost, .. } = &mut s {
            *lost = Some("gone".into());
        }
        assert_eq!(s.stage(), Stage::Lost);
        assert_eq!(s.status_word(), "running");
    }

    #[test]
    fn a_failed_restore_is_called_a_restore() {
        let mut failed = job("failed");
        failed.kind = "restore".into();
        assert_eq!(
            following(Some(failed)).failure().as_deref(),
            Some("The restore failed.")
        );
    }
}
