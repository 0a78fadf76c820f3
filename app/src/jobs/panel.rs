//! The progress panel in the bottom-right corner: its head, and one body per stage
//! (running, succeeded, failed, cancelled, lost).

use super::{job_noun, use_backups, PanelState, Stage, Steps, DISMISS_AFTER};
use crate::api::{Job, JobStatus};
use crate::client;
use crate::components::{DownloadLink, Fact, ProgressBar, Tone};
use crate::format;
use leptos::prelude::*;

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
        let restore = b.state.with(|s| s.job().is_some_and(Job::is_restore));
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
        let restore = job.with(|j| j.as_ref().is_some_and(Job::is_restore));
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
            Stage::Failed if status.get() == JobStatus::Interrupted.as_str() => {
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
    let restore = Memo::new(move |_| job.with(|j| j.as_ref().is_some_and(Job::is_restore)));
    let label = Signal::derive(move || {
        if restore.get() {
            "Restore progress"
        } else {
            "Backup progress"
        }
        .to_string()
    });
    view! {
        <Steps job />
        <ProgressBar percent label />
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
    let cancel = Action::new_local(move |_: &()| async move { client::jobs::cancel(job_id).await });
    let asked = move || matches!(cancel.value().get(), Some(Ok(())));
    // A role that may not cancel sees the button disabled, saying why.
    let refused = crate::components::refusal(crate::api::Capability::CancelJob);
    let may = refused.is_none();
    view! {
        <div class="job-actions">
            <button
                class="btn"
                data-testid="job-cancel"
                title=refused
                aria-disabled=(!may).then_some("true")
                disabled=move || !may || cancel.pending().get() || asked()
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
                        <DownloadLink id class="btn btn-quiet" />
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
    let restore_id =
        job.with_untracked(|j| j.as_ref().filter(|j| j.is_restore()).map(|j| j.restore_id));
    if let Some(restore_id) = restore_id {
        return view! {
            <ProgressBar percent=100.0 tone=Tone::Done />
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
        <ProgressBar percent=100.0 tone=Tone::Done />
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
    let restore_id =
        job.with_untracked(|j| j.as_ref().filter(|j| j.is_restore()).map(|j| j.restore_id));
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
        if j.as_ref().is_some_and(Job::is_restore) {
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
        .with_untracked(|s| s.job().map(job_noun).unwrap_or("backup"));
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
