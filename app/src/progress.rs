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

use crate::api::{job_status, phase, BackupStatus, Job, StartedJob};
use crate::client::{self, Refusal};
use crate::format;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::time::Duration;

/// How long the panel stays up after a successful backup.
const DISMISS_AFTER: Duration = Duration::from_secs(8);

/// How often a signed-in page asks the server for its backup status (while it is visible).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const POLL_EVERY: Duration = Duration::from_secs(10);

/// How long after the next scheduled run's time the extra look is taken (the scheduler
/// needs a moment to start the job).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const AFTER_NEXT_RUN: Duration = Duration::from_millis(1_500);

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
                Some(j) if j.status == job_status::SUCCEEDED => Stage::Succeeded,
                Some(j)
                    if j.status == job_status::FAILED || j.status == job_status::INTERRUPTED =>
                {
                    Stage::Failed
                }
                Some(j) if j.status == job_status::CANCELLED => Stage::Cancelled,
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
            PanelState::Refused { .. } => job_status::FAILED.into(),
            PanelState::Following { job: Some(j), .. } => j.status.clone(),
        }
    }

    /// Why the backup failed, in the server's words.
    fn failure(&self) -> Option<String> {
        match self {
            PanelState::Refused { message } => Some(message.clone()),
            PanelState::Following { job: Some(j), .. } => {
                let what = job_noun(&j.kind);
                Some(j.message.clone().unwrap_or_else(|| {
                    if j.status == job_status::INTERRUPTED {
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
    let start = Action::new_local(|_: &()| async {
        let empty = serde_json::Value::Object(Default::default());
        client::post_detailed::<_, StartedJob>("/api/v1/backups", &empty).await
    });
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
            if let Ok(status) = client::get::<BackupStatus>("/api/v1/backups/status").await {
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
        move |previous: Option<Option<leptos::prelude::TimeoutHandle>>| {
            if let Some(Some(handle)) = previous {
                handle.clear();
            }
            let next = b.next_run.get()?;
            let wait =
                (next - format::now()?).num_milliseconds() + AFTER_NEXT_RUN.as_millis() as i64;
            // Far-off runs are met by the regular polling (timers drift in sleeping tabs).
            if !(0..=6 * 3_600_000).contains(&wait) {
                return None;
            }
            set_timeout_with_handle(poll, Duration::from_millis(wait as u64)).ok()
        },
    );
}

/// What follows a job receives: each new state, the news that it can no longer be followed,
/// and the question whether following it is over.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) trait JobSink: Copy + 'static {
    fn apply(&self, job: Job);
    fn lose(&self, job_id: i64, why: String);
    fn settled(&self, job_id: i64) -> bool;
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

/// Follows `job_id` over `/api/v1/jobs/{id}/events` for as long as the calling owner lives
/// (or until `sink` says it is settled), reconnecting when the stream drops.
pub(crate) fn follow_job<S: JobSink>(job_id: i64, sink: S) {
    #[cfg(feature = "hydrate")]
    live::follow(job_id, sink);
    #[cfg(not(feature = "hydrate"))]
    let _ = (job_id, sink);
}

/// "backup" or "restore", for sentences about a job.
pub(crate) fn job_noun(kind: &str) -> &'static str {
    if kind == JOB_KIND_RESTORE {
        "restore"
    } else {
        "backup"
    }
}

/// `Job::kind` of a restore.
pub(crate) const JOB_KIND_RESTORE: &str = "restore";

/// Ctrl+Alt+S asks for a backup from any page; Escape closes the confirmation.
fn install_shortcut(b: Backups) {
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape" && b.confirm_open.get_untracked() {
                ev.prevent_default();
                b.confirm_open.set(false);
            } else if ev.ctrl_key() && ev.alt_key() && ev.key().eq_ignore_ascii_case("s") {
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
            if !job_status::is_terminal(&job.status) && free {
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
        let now_over = job_status::is_terminal(&job.status);
        let succeeded = job.status == job_status::SUCCEEDED;
        let mut just_ended = false;
        self.state.update(|s| {
            if let PanelState::Following {
                job_id, job: known, ..
            } = s
            {
                if *job_id != id {
                    return;
                }
                let was_over = known
                    .as_ref()
                    .is_some_and(|j| job_status::is_terminal(&j.status));
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
                            && s.job().is_some_and(|j| j.status == job_status::SUCCEEDED);
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
            } if *job_id == id => {
                lost.is_some()
                    || job
                        .as_ref()
                        .is_some_and(|j| job_status::is_terminal(&j.status))
            }
            _ => true,
        })
    }

    pub fn dismiss(&self) {
        self.state.set(PanelState::Hidden);
    }
}

/// The browser side of following a job: an `EventSource` on `/api/v1/jobs/{id}/events`;
/// when it errors or ends before the job does, one `GET /api/v1/jobs/{id}` and, if the job
/// still runs, a new `EventSource`.
#[cfg(feature = "hydrate")]
mod live {
    use super::JobSink;
    use crate::api::{job_status, Job};
    use crate::client::{self, ClientError};
    use leptos::prelude::*;
    use std::time::Duration;
    use wasm_bindgen::{closure::Closure, JsCast};

    /// Consecutive failed look-ups before the panel says it lost the job.
    const MAX_FAILURES: u32 = 8;

    struct Subscription {
        source: web_sys::EventSource,
        on_job: Closure<dyn FnMut(web_sys::MessageEvent)>,
        _on_error: Closure<dyn FnMut(web_sys::Event)>,
    }

    impl Subscription {
        fn open(
            url: &str,
            on_job: impl Fn(Job) + 'static,
            on_error: impl Fn() + 'static,
        ) -> Option<Self> {
            let source = web_sys::EventSource::new(url).ok()?;
            let on_job = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |ev: web_sys::MessageEvent| {
                    let job = ev
                        .data()
                        .as_string()
                        .and_then(|text| serde_json::from_str::<Job>(&text).ok());
                    if let Some(job) = job {
                        on_job(job);
                    }
                },
            );
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                on_error();
            });
            if source
                .add_event_listener_with_callback("job", on_job.as_ref().unchecked_ref())
                .is_err()
            {
                source.close();
                return None;
            }
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            Some(Subscription {
                source,
                on_job,
                _on_error: on_error,
            })
        }

        fn close(&self) {
            self.source.close();
        }
    }

    impl Drop for Subscription {
        fn drop(&mut self) {
            self.source.close();
            self.source.set_onerror(None);
            let _ = self
                .source
                .remove_event_listener_with_callback("job", self.on_job.as_ref().unchecked_ref());
        }
    }

    /// Follows `job_id` for as long as the calling owner lives.
    pub(super) fn follow<S: JobSink>(job_id: i64, b: S) {
        let sub = StoredValue::new_local(None::<Subscription>);
        let attempt = RwSignal::new(0u32);
        let failures = StoredValue::new(0u32);

        let close = move || {
            sub.try_with_value(|s| {
                if let Some(s) = s {
                    s.close();
                }
            });
        };

        // The stream failed or ended early: ask once, then reconnect if the job still runs.
        let fallback = move || {
            close();
            leptos::task::spawn_local(async move {
                let answer = client::get::<Job>(&format!("/api/v1/jobs/{job_id}")).await;
                let retry_in = match answer {
                    Ok(job) => {
                        failures.try_set_value(0);
                        let running = !job_status::is_terminal(&job.status);
                        b.apply(job);
                        running.then_some(Duration::from_secs(1))
                    }
                    Err(
                        e @ (ClientError::Unauthorized
                        | ClientError::Status {
                            status: 403 | 404, ..
                        }),
                    ) => {
                        b.lose(job_id, e.to_string());
                        None
                    }
                    Err(e) => {
                        let n = failures
                            .try_update_value(|n| {
                                *n += 1;
                                *n
                            })
                            .unwrap_or(MAX_FAILURES);
                        if n >= MAX_FAILURES {
                            b.lose(job_id, e.to_string());
                            None
                        } else {
                            Some(Duration::from_secs(u64::from(n.min(5)) * 2))
                        }
                    }
                };
                if let Some(delay) = retry_in {
                    set_timeout(
                        move || {
                            attempt.try_update(|a| *a += 1);
                        },
                        delay,
                    );
                }
            });
        };

        Effect::new(move |_| {
            attempt.track();
            if b.settled(job_id) {
                sub.set_value(None);
                return;
            }
            let on_job = move |job: Job| {
                failures.try_set_value(0);
                let over = job_status::is_terminal(&job.status);
                b.apply(job);
                if over {
                    close();
                }
            };
            let url = format!("/api/v1/jobs/{job_id}/events");
            match Subscription::open(&url, on_job, fallback) {
                Some(s) => sub.set_value(Some(s)),
                None => {
                    sub.set_value(None);
                    fallback();
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// The sidebar button and the confirmation
// ---------------------------------------------------------------------------------------

/// "Back up now" in the sidebar.
#[component]
pub fn BackupNowButton() -> impl IntoView {
    let b = use_backups();
    view! {
        <div class="backup-now">
            <button
                class="btn btn-primary btn-block"
                data-testid="backup-now"
                aria-keyshortcuts="Control+Alt+S"
                title="Back up now (Ctrl+Alt+S)"
                disabled=move || b.starting()
                on:click=move |_| b.request()
            >
                "Back up now"
            </button>
            <small class="muted shortcut-hint" aria-hidden="true">
                <kbd>"Ctrl"</kbd>
                "+"
                <kbd>"Alt"</kbd>
                "+"
                <kbd>"S"</kbd>
            </small>
        </div>
    }
}

/// The confirmation modal, while it is open.
#[component]
pub fn ConfirmBackupModal() -> impl IntoView {
    let b = use_backups();
    view! {
        <Show when=move || b.confirm_open.get()>
            <ConfirmDialog />
        </Show>
    }
}

#[component]
fn ConfirmDialog() -> impl IntoView {
    let b = use_backups();
    let confirm_ref = NodeRef::<leptos::html::Button>::new();
    let cancel_ref = NodeRef::<leptos::html::Button>::new();
    let on_confirm = RwSignal::new(true);
    keep_focus_inside(confirm_ref);

    let close = move || b.confirm_open.set(false);
    // Two buttons: Tab and Shift+Tab move between them and never leave the dialog.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Tab" {
            ev.prevent_default();
            let next = if on_confirm.get_untracked() {
                cancel_ref
            } else {
                confirm_ref
            };
            focus(next);
        }
    };
    let what = move || {
        match b.database.get() {
        Some(db) => format!("Lifeboat will check its configuration, then back up the database “{db}” with pg_dump, verify the file and store it."),
        None => "Lifeboat will check its configuration, then back up the database with pg_dump, verify the file and store it.".to_string(),
    }
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| close()>
            <div
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby="confirm-backup-title"
                aria-describedby="confirm-backup-text"
                data-testid="confirm-backup"
                on:click=|ev| ev.stop_propagation()
                on:keydown=on_keydown
            >
                <h2 id="confirm-backup-title">"Back up now?"</h2>
                <p id="confirm-backup-text">
                    {what}
                    " You can follow its progress and cancel it."
                </p>
                <div class="modal-actions">
                    <button
                        class="btn"
                        data-testid="confirm-backup-cancel"
                        node_ref=cancel_ref
                        on:focus=move |_| on_confirm.set(false)
                        on:click=move |_| close()
                    >
                        "Cancel"
                    </button>
                    <button
                        class="btn btn-primary"
                        data-testid="confirm-backup-go"
                        node_ref=confirm_ref
                        on:focus=move |_| on_confirm.set(true)
                        on:click=move |_| b.start()
                    >
                        "Back up now"
                    </button>
                </div>
            </div>
        </div>
    }
}

fn focus(target: NodeRef<leptos::html::Button>) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = target.get_untracked() {
        let _ = el.focus();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = target;
}

/// Focuses `first` once it is in the page, and gives the focus back to whatever had it
/// (usually the "Back up now" button) when the dialog goes away.
fn keep_focus_inside(first: NodeRef<leptos::html::Button>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let previous = StoredValue::new_local(
            document()
                .active_element()
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()),
        );
        Effect::new(move |_| {
            if let Some(el) = first.get() {
                let _ = el.focus();
            }
        });
        on_cleanup(move || {
            previous.try_with_value(|el| {
                if let Some(el) = el {
                    let _ = el.focus();
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = first;
}

// ---------------------------------------------------------------------------------------
// The progress panel
// ---------------------------------------------------------------------------------------

/// Which body the panel shows; changes rarely, so the buttons inside keep their focus
/// while the numbers update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    Progress,
    Succeeded,
    Failed,
    Cancelled,
    Lost,
}

/// The panel in the bottom-right corner (full width at the bottom of narrow windows). On the
/// Restore page a restore job is shown by the page itself, so the panel stays out of the way.
#[component]
pub fn JobPanel() -> impl IntoView {
    let b = use_backups();
    let location = leptos_router::hooks::use_location();
    let shown_by_page = Memo::new(move |_| {
        let restore = b
            .state
            .with(|s| s.job().is_some_and(|j| j.kind == JOB_KIND_RESTORE));
        restore
            && location
                .pathname
                .with(|p| p.trim_end_matches('/') == "/restore")
    });
    let stage = Memo::new(move |_| {
        if shown_by_page.get() {
            Stage::Hidden
        } else {
            b.state.with(PanelState::stage)
        }
    });
    let body = Memo::new(move |_| match stage.get() {
        Stage::Succeeded => Body::Succeeded,
        Stage::Failed => Body::Failed,
        Stage::Cancelled => Body::Cancelled,
        Stage::Lost => Body::Lost,
        _ => Body::Progress,
    });
    let job = Memo::new(move |_| b.state.with(|s| s.job().cloned()));
    view! {
        <Show when=move || stage.get() != Stage::Hidden>
            <section
                class=move || format!("job-panel job-panel-{}", stage.get().css())
                data-testid="job-panel"
                aria-labelledby="job-panel-title"
            >
                <PanelHead stage job />
                <Notice />
                {move || match body.get() {
                    Body::Progress => view! { <ProgressBody job /> }.into_any(),
                    Body::Succeeded => view! { <SucceededBody job /> }.into_any(),
                    Body::Failed => view! { <FailedBody job /> }.into_any(),
                    Body::Cancelled => view! { <CancelledBody job /> }.into_any(),
                    Body::Lost => view! { <LostBody /> }.into_any(),
                }}
            </section>
        </Show>
    }
}

#[component]
fn PanelHead(stage: Memo<Stage>, job: Memo<Option<Job>>) -> impl IntoView {
    let b = use_backups();
    let status = Memo::new(move |_| b.state.with(PanelState::status_word));
    let title = move || {
        let db = job
            .with(|j| j.as_ref().map(|j| j.database.clone()))
            .or_else(|| b.database.get());
        let restore = job.with(|j| j.as_ref().is_some_and(|j| j.kind == JOB_KIND_RESTORE));
        let (noun, doing) = if restore {
            ("Restore", "Restoring")
        } else {
            ("Backup", "Backing up")
        };
        match stage.get() {
            Stage::Hidden | Stage::Starting => "Starting a backup…".to_string(),
            Stage::Connecting | Stage::Running => match db {
                Some(db) => format!("{doing} {db}"),
                None => doing.to_string(),
            },
            Stage::Succeeded => format!("{noun} complete"),
            Stage::Failed if status.get() == job_status::INTERRUPTED => {
                format!("{noun} interrupted")
            }
            Stage::Failed => format!("{noun} failed"),
            Stage::Cancelled => format!("{noun} cancelled"),
            Stage::Lost => format!("Lost track of the {}", noun.to_lowercase()),
        }
    };
    let icon = move || match stage.get() {
        Stage::Succeeded => "✓",
        Stage::Failed | Stage::Lost => "✕",
        Stage::Cancelled => "■",
        _ => "●",
    };
    view! {
        <header class="job-panel-head">
            <span class="job-icon" aria-hidden="true">
                {icon}
            </span>
            <h2 id="job-panel-title" class="job-title" aria-live="polite">
                {title}
            </h2>
            <span class="job-status" data-testid="job-status">
                {move || status.get()}
            </span>
            <Show when=move || stage.get().is_over()>
                <button
                    class="job-close"
                    data-testid="job-close"
                    aria-label="Close"
                    title="Close"
                    on:click=move |_| b.dismiss()
                >
                    "×"
                </button>
            </Show>
        </header>
    }
}

#[component]
fn Notice() -> impl IntoView {
    let b = use_backups();
    let notice = Memo::new(move |_| {
        b.state.with(|s| match s {
            PanelState::Following { notice, .. } => notice.clone(),
            _ => None,
        })
    });
    move || {
        notice.get().map(|n| {
            view! {
                <p class="job-notice" data-testid="job-notice">
                    {n}
                </p>
            }
        })
    }
}

/// The steps of a job, the current one highlighted (and marked failed if it failed).
#[component]
pub(crate) fn Steps(job: Memo<Option<Job>>) -> impl IntoView {
    let items = move || {
        let (kind, current, status) = job.with(|j| {
            j.as_ref()
                .map(|j| (j.kind.clone(), j.phase.clone(), j.status.clone()))
                .unwrap_or_else(|| (String::new(), phase::PREFLIGHT.to_string(), String::new()))
        });
        let failed = status == job_status::FAILED || status == job_status::INTERRUPTED;
        let steps = step_list(&kind, &current);
        let at = steps.iter().position(|(p, _)| *p == current);
        steps
            .into_iter()
            .enumerate()
            .map(|(i, (p, label))| {
                let class = match at {
                    Some(a) if i < a => "step step-done",
                    Some(a) if i == a && failed => "step step-failed",
                    Some(a) if i == a && p == phase::DONE => "step step-done",
                    Some(a) if i == a => "step step-current",
                    _ => "step",
                };
                let current = (at == Some(i)).then_some("step");
                view! {
                    <li class=class aria-current=current>
                        {label}
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
/// it). A restore: preflight → safety backup → restore → analyze → done.
pub(crate) fn step_list(kind: &str, current: &str) -> Vec<(&'static str, &'static str)> {
    if kind == JOB_KIND_RESTORE {
        return [
            phase::PREFLIGHT,
            phase::SAFETY_BACKUP,
            phase::RESTORE,
            phase::ANALYZE,
            phase::DONE,
        ]
        .into_iter()
        .map(|p| (p, phase_label(p)))
        .collect();
    }
    let mut steps = vec![
        (phase::PREFLIGHT, "Preflight"),
        (phase::DUMP, "Dump"),
        (phase::VERIFY, "Verify"),
        (phase::STORE, "Store"),
    ];
    if current == "offsite" {
        steps.push(("offsite", "Offsite"));
    }
    steps.push((phase::DONE, "Done"));
    steps
}

/// A phase as people read it: `safety_backup` → `Safety backup`.
pub(crate) fn phase_label(p: &str) -> &'static str {
    match p {
        phase::PREFLIGHT => "Preflight",
        phase::DUMP => "Dump",
        phase::VERIFY => "Verify",
        phase::STORE => "Store",
        "offsite" => "Offsite",
        phase::SAFETY_BACKUP => "Safety backup",
        phase::RESTORE => "Restore",
        phase::ANALYZE => "Analyze",
        phase::DONE => "Done",
        _ => "Working",
    }
}

/// A labelled value of the panel; `—` until known.
#[component]
fn Fact(label: &'static str, testid: &'static str, value: Signal<Option<String>>) -> impl IntoView {
    view! {
        <dt>{label}</dt>
        <dd data-testid=testid>{move || value.get().unwrap_or_else(|| "—".to_string())}</dd>
    }
}

#[component]
fn ProgressBody(job: Memo<Option<Job>>) -> impl IntoView {
    let b = use_backups();
    let percent = Memo::new(move |_| {
        job.with(|j| j.as_ref().map_or(0.0, |j| format::clamp_percent(j.percent)))
    });
    let field = move |f: fn(&Job) -> Option<String>| {
        Signal::derive(move || job.with(|j| j.as_ref().and_then(f)))
    };
    let job_id = Memo::new(move |_| b.state.with(PanelState::job_id));
    let restore =
        Memo::new(move |_| job.with(|j| j.as_ref().is_some_and(|j| j.kind == JOB_KIND_RESTORE)));
    view! {
        <Steps job />
        <div
            class="progress"
            role="progressbar"
            aria-label=move || if restore.get() { "Restore progress" } else { "Backup progress" }
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=move || percent.get().floor().to_string()
        >
            <div class="progress-fill" style:width=move || format!("{:.1}%", percent.get())></div>
        </div>
        <div class="progress-row">
            <span class="job-percent" data-testid="job-percent">
                {move || format::percent(percent.get())}
            </span>
            <span class="muted" data-testid="job-phase">
                {move || job.with(|j| j.as_ref().map(|j| j.phase.clone())).unwrap_or_default()}
            </span>
        </div>
        <dl class="job-facts">
            <Fact label="Table" testid="job-current-item" value=field(|j| j.current_item.clone()) />
            <Fact label="Written" testid="job-bytes" value=field(|j| Some(format::mb(j.bytes_written))) />
            <Fact label="Elapsed" testid="job-elapsed" value=field(|j| Some(format::duration_ms(j.elapsed_ms))) />
            <Fact label="File" testid="job-file" value=field(|j| j.file_name.clone()) />
            <Fact label="Location" testid="job-location" value=field(|j| j.location.clone()) />
        </dl>
        {move || {
            if restore.get() {
                let link = job
                    .with(|j| j.as_ref().and_then(|j| j.restore_id))
                    .map(|id| format!("/restore?restore={id}"))
                    .unwrap_or_else(|| "/restore".to_string());
                view! {
                    <div class="job-actions">
                        <a class="btn btn-quiet" href=link data-testid="job-restore-page">
                            "Follow on the Restore page"
                        </a>
                    </div>
                }
                    .into_any()
            } else {
                job_id.get().map(|id| view! { <CancelButton job_id=id /> }).into_any()
            }
        }}
    }
}

#[component]
fn CancelButton(job_id: i64) -> impl IntoView {
    let cancel = Action::new_local(move |_: &()| async move {
        client::delete(&format!("/api/v1/jobs/{job_id}")).await
    });
    let asked = move || matches!(cancel.value().get(), Some(Ok(())));
    view! {
        <div class="job-actions">
            <button
                class="btn"
                data-testid="job-cancel"
                disabled=move || cancel.pending().get() || asked()
                on:click=move |_| {
                    cancel.dispatch(());
                }
            >
                {move || if cancel.pending().get() || asked() { "Cancelling…" } else { "Cancel" }}
            </button>
        </div>
        {move || {
            cancel
                .value()
                .get()
                .and_then(|r| r.err())
                .map(|e| {
                    view! {
                        <p class="job-error" role="alert">
                            {format!("Could not cancel: {e}")}
                        </p>
                    }
                })
        }}
    }
}

/// Links to a finished backup's detail page and files.
#[component]
fn BackupLinks(backup_id: Option<i64>, downloadable: bool) -> impl IntoView {
    backup_id.map(|id| {
        view! {
            <a class="btn btn-quiet" href=format!("/backups/{id}") data-testid="job-details">
                "Details"
            </a>
            {downloadable
                .then(|| {
                    view! {
                        <a
                            class="btn btn-quiet"
                            href=format!("/api/v1/backups/{id}/download")
                            download
                        >
                            "Download"
                        </a>
                    }
                })}
        }
    })
}

#[component]
fn SucceededBody(job: Memo<Option<Job>>) -> impl IntoView {
    let field = move |f: fn(&Job) -> Option<String>| {
        Signal::derive(move || job.with(|j| j.as_ref().and_then(f)))
    };
    let backup_id = job.with_untracked(|j| j.as_ref().and_then(|j| j.backup_id));
    let restore_id = job.with_untracked(|j| {
        j.as_ref()
            .filter(|j| j.kind == JOB_KIND_RESTORE)
            .map(|j| j.restore_id)
    });
    if let Some(restore_id) = restore_id {
        return view! {
            <div class="progress progress-done" aria-hidden="true">
                <div class="progress-fill" style:width="100%"></div>
            </div>
            <dl class="job-facts">
                <Fact label="Database" testid="job-database" value=field(|j| Some(j.database.clone())) />
                <Fact label="Elapsed" testid="job-elapsed" value=field(|j| Some(format::duration_ms(j.elapsed_ms))) />
            </dl>
            {move || job.with(|j| j.as_ref().and_then(|j| j.message.clone())).map(|m| view! { <p class="muted job-detail">{m}</p> })}
            <div class="job-actions">
                <RestoreLinks restore_id safety_backup_id=backup_id />
                <span class="muted job-dismiss-hint">
                    {format!("Closes in {} s", DISMISS_AFTER.as_secs())}
                </span>
            </div>
        }
        .into_any();
    }
    view! {
        <div class="progress progress-done" aria-hidden="true">
            <div class="progress-fill" style:width="100%"></div>
        </div>
        <dl class="job-facts">
            <Fact label="Name" testid="job-file" value=field(|j| j.file_name.clone()) />
            <Fact label="Size" testid="job-size" value=field(|j| j.size_bytes.map(format::mb)) />
            <Fact label="Location" testid="job-location" value=field(|j| j.location.clone()) />
            <Fact label="Elapsed" testid="job-elapsed" value=field(|j| Some(format::duration_ms(j.elapsed_ms))) />
        </dl>
        <p class="job-hash">
            <span class="muted">"SHA-256 "</span>
            <code data-testid="job-sha256">
                {move || job.with(|j| j.as_ref().and_then(|j| j.sha256.clone())).unwrap_or_default()}
            </code>
        </p>
        <div class="job-actions">
            <BackupLinks backup_id downloadable=true />
            <span class="muted job-dismiss-hint">
                {format!("Closes in {} s", DISMISS_AFTER.as_secs())}
            </span>
        </div>
    }
    .into_any()
}

/// Links of a finished restore: its result (with pg_restore's messages) and its safety
/// backup.
#[component]
fn RestoreLinks(restore_id: Option<i64>, safety_backup_id: Option<i64>) -> impl IntoView {
    let result = restore_id
        .map(|id| format!("/restore?restore={id}"))
        .unwrap_or_else(|| "/restore".to_string());
    view! {
        <a class="btn btn-quiet" href=result data-testid="job-restore-result">
            "Result"
        </a>
        {safety_backup_id
            .map(|id| {
                view! {
                    <a class="btn btn-quiet" href=format!("/backups/{id}") data-testid="job-safety-backup">
                        "Safety backup"
                    </a>
                }
            })}
    }
}

#[component]
fn FailedBody(job: Memo<Option<Job>>) -> impl IntoView {
    let b = use_backups();
    let reason = Memo::new(move |_| b.state.with(PanelState::failure).unwrap_or_default());
    let backup_id = job.with_untracked(|j| j.as_ref().and_then(|j| j.backup_id));
    let has_job = job.with_untracked(Option::is_some);
    let restore_id = job.with_untracked(|j| {
        j.as_ref()
            .filter(|j| j.kind == JOB_KIND_RESTORE)
            .map(|j| j.restore_id)
    });
    if let Some(restore_id) = restore_id {
        return view! {
            <Steps job />
            <p class="job-error" role="alert" data-testid="job-message">
                {move || reason.get()}
            </p>
            <div class="job-actions">
                <RestoreLinks restore_id safety_backup_id=backup_id />
            </div>
        }
        .into_any();
    }
    view! {
        {has_job.then(|| view! { <Steps job /> })}
        <p class="job-error" role="alert" data-testid="job-message">
            {move || reason.get()}
        </p>
        <div class="job-actions">
            <button
                class="btn btn-primary"
                data-testid="job-retry"
                disabled=move || b.starting()
                on:click=move |_| b.start()
            >
                "Retry"
            </button>
            <BackupLinks backup_id downloadable=false />
        </div>
    }
    .into_any()
}

#[component]
fn CancelledBody(job: Memo<Option<Job>>) -> impl IntoView {
    let message = move || job.with(|j| j.as_ref().and_then(|j| j.message.clone()));
    let noun = job.with_untracked(|j| {
        if j.as_ref().is_some_and(|j| j.kind == JOB_KIND_RESTORE) {
            "Restore cancelled"
        } else {
            "Backup cancelled"
        }
    });
    view! {
        <p class="job-cancelled" data-testid="job-message">
            {noun}
        </p>
        {move || message().map(|m| view! { <p class="muted job-detail">{m}</p> })}
    }
}

#[component]
fn LostBody() -> impl IntoView {
    let b = use_backups();
    let why = move || {
        b.state.with(|s| match s {
            PanelState::Following { lost, .. } => lost.clone().unwrap_or_default(),
            _ => String::new(),
        })
    };
    let noun = b
        .state
        .with_untracked(|s| s.job().map(|j| job_noun(&j.kind)).unwrap_or("backup"));
    view! {
        <p class="job-error" role="alert" data-testid="job-message">
            {format!("Lifeboat could not follow this {noun}: ")}
            {why}
        </p>
        <p class="muted job-detail">
            "It may still be running on the server. Reload the page to reattach, or look at the Backups page."
        </p>
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
            phase: phase::DUMP.into(),
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
    fn offsite_appears_only_when_reported() {
        assert_eq!(step_list("backup", "dump").len(), 5);
        let with = step_list("backup", "offsite");
        assert_eq!(with.len(), 6);
        assert_eq!(with[4].0, "offsite");
    }

    #[test]
    fn a_restore_has_its_own_steps() {
        let steps: Vec<_> = step_list(JOB_KIND_RESTORE, phase::RESTORE)
            .into_iter()
            .map(|(_, label)| label)
            .collect();
        assert_eq!(
            steps,
            ["Preflight", "Safety backup", "Restore", "Analyze", "Done"]
        );
        let mut failed = job("failed");
        failed.kind = JOB_KIND_RESTORE.into();
        assert_eq!(
            following(Some(failed)).failure().as_deref(),
            Some("The restore failed.")
        );
    }
}
