//! The Restore page (`/restore`): replace the target database's contents with a `.dump`
//! (dropped or chosen here, checked by the browser, uploaded with a live progress bar and
//! validated by the server) or with a backup of the history (`/restore?backup=ID`); confirm
//! by typing the database's name; follow the job (safety backup → restore → analyze); read
//! the result with pg_restore's own messages, and roll back to the safety backup if need be.
//! `/restore?restore=ID` shows one restore's result (or its progress, while it runs).

mod ask;
mod check;
mod confirm;
mod kept;
mod run;
mod source;
mod swap;
mod transfer;

use crate::api::{Job, RestoreStart, StartedRestore, Upload};
use crate::client::{self, Refusal};
use crate::components::FormError;
use crate::jobs::{follow_job, use_backups, Backups, JobSink, PanelState};
use confirm::ConfirmRestore;
use kept::KeptDatabases;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use run::{ResultView, RunView};
use source::{BackupSource, FileSource};

/// Where the file to restore stands, from the moment it is picked to the server's verdict.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Debug, PartialEq, Default)]
pub(super) enum Pick {
    #[default]
    Empty,
    /// Reading the first bytes.
    Checking {
        name: String,
    },
    /// Refused by the browser's checks (never sent).
    Refused {
        name: String,
        message: String,
    },
    Uploading {
        name: String,
        loaded: f64,
        total: f64,
        /// `performance.now()` at the start and at the last progress event.
        started_ms: f64,
        now_ms: f64,
    },
    /// Sent; the server is checking the archive.
    Validating {
        name: String,
    },
    /// Refused by the server (422, 413, 507, …) or failed on the way.
    ServerRefused {
        name: String,
        message: String,
    },
    Cancelled {
        name: String,
    },
    Ready(Box<Upload>),
}

/// The restore being followed, if any.
#[derive(Clone, Debug, PartialEq, Default)]
pub(super) enum Run {
    #[default]
    Idle,
    Following {
        job_id: i64,
        restore_id: Option<i64>,
        job: Option<Box<Job>>,
        /// Why the job can no longer be followed.
        lost: Option<String>,
    },
    /// A restore looked up by `?restore=ID` that has no job to follow.
    Finished { restore_id: i64 },
}

impl Run {
    fn job(&self) -> Option<&Job> {
        match self {
            Run::Following { job, .. } => job.as_deref(),
            _ => None,
        }
    }

    fn job_id(&self) -> Option<i64> {
        match self {
            Run::Following { job_id, .. } => Some(*job_id),
            _ => None,
        }
    }

    fn restore_id(&self) -> Option<i64> {
        match self {
            Run::Following {
                restore_id, job, ..
            } => restore_id.or_else(|| job.as_ref().and_then(|j| j.restore_id)),
            Run::Finished { restore_id } => Some(*restore_id),
            Run::Idle => None,
        }
    }

    fn lost(&self) -> Option<String> {
        match self {
            Run::Following { lost, .. } => lost.clone(),
            _ => None,
        }
    }

    /// The job ended (or cannot be followed any more): time for the result.
    fn is_over(&self) -> bool {
        match self {
            Run::Idle => false,
            Run::Finished { .. } => true,
            Run::Following { job, lost, .. } => {
                lost.is_some() || job.as_ref().is_some_and(|j| j.is_over())
            }
        }
    }
}

/// What the confirmation dialog is about: an upload or a backup, in words.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Candidate {
    pub upload_id: Option<String>,
    pub backup_id: Option<i64>,
    /// "the uploaded file shop.dump", "backup #12", …
    pub what: String,
    pub facts: Vec<(&'static str, String)>,
    /// Rolling back to a safety backup (the dialog's title says so).
    pub rollback: bool,
}

/// The page's restore state and the shared backup context; `Copy`, the follower's sink.
#[derive(Clone, Copy)]
pub(super) struct RunCtl {
    pub run: RwSignal<Run>,
    b: Backups,
}

impl RunCtl {
    /// Shows `job_id` on the page (a restore started here, found running, or looked up).
    fn adopt(&self, job_id: i64, restore_id: Option<i64>, job: Option<Job>) {
        self.run.set(Run::Following {
            job_id,
            restore_id,
            job: job.map(Box::new),
            lost: None,
        });
    }
}

impl JobSink for RunCtl {
    fn apply(&self, job: Job) {
        let mut ended = false;
        self.run.try_update(|r| {
            if let Run::Following {
                job_id,
                restore_id,
                job: known,
                ..
            } = r
            {
                if *job_id != job.id || known.as_ref().is_some_and(|k| k.is_over()) {
                    return;
                }
                ended = job.is_over();
                if restore_id.is_none() {
                    *restore_id = job.restore_id;
                }
                *known = Some(Box::new(job));
            }
        });
        if ended {
            self.b.jobs_finished.try_update(|n| *n += 1);
        }
    }

    fn lose(&self, id: i64, why: String) {
        self.run.try_update(|r| {
            if let Run::Following { job_id, lost, .. } = r {
                if *job_id == id {
                    *lost = Some(why);
                }
            }
        });
    }

    fn settled(&self, id: i64) -> bool {
        self.run
            .try_with_untracked(|r| r.job_id() != Some(id) || r.is_over())
            .unwrap_or(true)
    }
}

/// Which part of the page is shown; changes rarely, so what is inside keeps its state
/// while the numbers update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    File,
    Backup(i64),
    Running,
    Over,
}

#[component]
pub fn RestorePage() -> impl IntoView {
    let b = use_backups();
    let query = use_query_map();
    let navigate = StoredValue::new_local(use_navigate());
    let param = move |name: &'static str| {
        Memo::new(move |_| query.with(|q| q.get(name).and_then(|s| s.trim().parse::<i64>().ok())))
    };
    let backup_param = param("backup");
    let restore_param = param("restore");

    let pick = RwSignal::new(Pick::Empty);
    let run = RwSignal::new(Run::Idle);
    let ctl = RunCtl { run, b };
    let confirm = RwSignal::new(None::<Candidate>);
    let start_error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let lookup_error = RwSignal::new(None::<String>);

    // The target database, and a restore already running (reload, second tab).
    let status = LocalResource::new(client::backups::status);
    Effect::new(move |_| {
        if let Some(Ok(s)) = status.get() {
            untrack(|| {
                b.absorb_status(&s);
                if let Some(job) = s.running_job.filter(Job::is_restore) {
                    if run.with(|r| *r == Run::Idle) {
                        ctl.adopt(job.id, job.restore_id, Some(job));
                    }
                }
            });
        }
    });
    // A running restore the corner panel follows (reattached by the Layout, or handed over
    // when this page was left) is shown here instead, by one follower.
    let panel_restore = Memo::new(move |_| {
        b.state.with(|s| match s {
            PanelState::Following {
                job_id,
                job: Some(j),
                ..
            } if j.is_restore() && !j.is_over() => Some(*job_id),
            _ => None,
        })
    });
    Effect::new(move |_| {
        let Some(id) = panel_restore.get() else {
            return;
        };
        untrack(|| {
            let job = b.state.with(|s| s.job().cloned());
            b.dismiss();
            let free = run.with(|r| *r == Run::Idle || r.is_over());
            if free && run.with(Run::job_id) != Some(id) {
                ctl.adopt(id, job.as_ref().and_then(|j| j.restore_id), job);
            }
        });
    });
    // `?restore=ID`: that restore's progress or result.
    Effect::new(move |_| {
        let Some(id) = restore_param.get() else {
            return;
        };
        leptos::task::spawn_local(async move {
            match client::restores::get(id).await {
                Ok(r) => match r.job_id {
                    Some(job_id) => ctl.adopt(job_id, Some(id), None),
                    None => {
                        run.try_set(Run::Finished { restore_id: id });
                    }
                },
                Err(e) => {
                    lookup_error.try_set(Some(e.to_string()));
                }
            }
        });
    });

    // One follower at a time, for as long as the page names that job.
    let following = Memo::new(move |_| run.with(Run::job_id));
    Effect::new(move |_| {
        if let Some(job_id) = following.get() {
            follow_job(job_id, ctl);
        }
    });
    // Leaving the page while a restore runs: the corner panel takes over.
    on_cleanup(move || {
        let running = run
            .try_with_untracked(|r| match r {
                Run::Following {
                    job_id, job, lost, ..
                } if lost.is_none() && !r.is_over() => Some((*job_id, job.as_deref().cloned())),
                _ => None,
            })
            .flatten();
        if let Some((job_id, job)) = running {
            b.follow(job_id, job, None);
        }
    });

    let start = Action::new_local(|req: &RestoreStart| {
        let req = req.clone();
        async move { client::restores::start_with(&req).await }
    });
    Effect::new(move |_| {
        if let Some(answer) = start.value().get() {
            untrack(|| on_start_answer(answer, ctl, confirm, start_error, notice));
        }
    });

    let target = Memo::new(move |_| {
        pick.with(|p| match p {
            Pick::Ready(u) => u.database.clone(),
            _ => None,
        })
        .or_else(|| b.database.get())
    });
    let mode = Memo::new(move |_| {
        run.with(|r| match r {
            Run::Idle => match backup_param.get() {
                Some(id) => Mode::Backup(id),
                None => Mode::File,
            },
            r if r.is_over() => Mode::Over,
            _ => Mode::Running,
        })
    });
    let job = Memo::new(move |_| run.with(|r| r.job().cloned()));
    let restore_id = Memo::new(move |_| run.with(Run::restore_id));
    let lost = Memo::new(move |_| run.with(Run::lost));

    let again = Callback::new(move |()| {
        run.set(Run::Idle);
        pick.set(Pick::Empty);
        notice.set(None);
        if backup_param.get_untracked().is_some() || restore_param.get_untracked().is_some() {
            navigate.with_value(|go| go("/restore", Default::default()));
        }
    });
    // A swap's roll back: its job is followed here like the restore's.
    let follow = Callback::new(move |job_id: i64| {
        notice.set(None);
        ctl.b.jobs_started.update(|n| *n += 1);
        ctl.adopt(job_id, restore_id.get_untracked(), None);
    });
    let open = Callback::new(move |c: Candidate| {
        start_error.set(None);
        confirm.set(Some(c));
    });

    view! {
        <header class="page-head">
            <h1>"Restore"</h1>
        </header>
        <Intro target />
        {move || {
            lookup_error
                .get()
                .map(|m| {
                    view! {
                        <FormError message=m />
                    }
                })
        }}
        {move || {
            notice
                .get()
                .map(|m| {
                    view! {
                        <p class="notice" data-testid="restore-notice">
                            {m}
                        </p>
                    }
                })
        }}
        {move || match mode.get() {
            Mode::File => view! { <FileSource pick open /> }.into_any(),
            Mode::Backup(id) => view! { <BackupSource id open /> }.into_any(),
            Mode::Running => view! { <RunView job lost target /> }.into_any(),
            Mode::Over => {
                view! {
                    <RunView job lost target />
                    <ResultView restore_id=restore_id.get() job open again follow />
                }
                    .into_any()
            }
        }}
        <KeptDatabases b />
        {move || {
            confirm
                .get()
                .map(|candidate| {
                    view! { <ConfirmRestore candidate target confirm start error=start_error /> }
                })
        }}
    }
}

/// What restoring means, said before anything else.
#[component]
fn Intro(target: Memo<Option<String>>) -> impl IntoView {
    let db = move || {
        target
            .get()
            .unwrap_or_else(|| "the target database".to_string())
    };
    view! {
        <section class="restore-intro" data-testid="restore-intro" aria-label="Before you restore">
            <ul>
                <li>
                    "Only PostgreSQL "
                    <strong>"custom-format"</strong>
                    " archives are accepted: files made with "
                    <code>"pg_dump -Fc"</code>
                    ", usually named "
                    <code>".dump"</code>
                    ". Plain "
                    <code>".sql"</code>
                    " scripts are not."
                </li>
                <li>
                    "Restoring "
                    <strong>"replaces the current contents"</strong>
                    " of the database "
                    <strong data-testid="restore-target">{db}</strong>
                    "."
                </li>
                <li>
                    "First, Lifeboat takes a "
                    <strong>"safety backup"</strong>
                    " of "
                    {db}
                    " as it is now and keeps it, so the restore can be rolled back."
                </li>
            </ul>
        </section>
    }
}

fn on_start_answer(
    answer: Result<StartedRestore, Refusal>,
    ctl: RunCtl,
    confirm: RwSignal<Option<Candidate>>,
    start_error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
) {
    match answer {
        Ok(started) => {
            confirm.set(None);
            // Which strategy runs and why, while it runs (the result says it again).
            notice.set(started.strategy.as_deref().map(|s| {
                let s = s.replace('_', " ");
                match started.strategy_reason.as_deref() {
                    Some(why) => format!("Strategy: {s}. {why}"),
                    None => format!("Strategy: {s}."),
                }
            }));
            ctl.b.jobs_started.update(|n| *n += 1);
            ctl.adopt(started.job_id, Some(started.restore_id), None);
        }
        Err(refusal) => {
            let message = refusal.error.to_string();
            start_error.set(Some(message.clone()));
            // 409: another job runs; show it (a restore here, a backup in the panel).
            if let (Some(409), Some(job_id)) = (
                refusal.status(),
                refusal.body.as_ref().and_then(|b| b.job_id),
            ) {
                leptos::task::spawn_local(async move {
                    let job = client::jobs::get(job_id).await.ok();
                    match job {
                        Some(j) if j.is_restore() => {
                            confirm.try_set(None);
                            notice.try_set(Some(message));
                            ctl.adopt(job_id, j.restore_id, Some(j));
                        }
                        other => ctl.b.follow(job_id, other, Some(message)),
                    }
                });
            }
        }
    }
}
