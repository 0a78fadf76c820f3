//! A restore while it runs (steps, percentage, the object being restored) and its result:
//! pg_restore's own messages, the duration, the safety backup and the way back to it.

use super::source::backup_candidate;
use super::swap::StrategyFacts;
use super::Candidate;
use crate::api::{Job, JobStatus, Phase};
use crate::client;
use crate::components::{CopyHash, ErrorNote, ProgressBar};
use crate::format::{self, format_time};
use crate::jobs::Steps;
use leptos::prelude::*;
use std::time::Duration;

/// How many times a result that still says "running" is asked again (the journal row is
/// written just after the job's last event).
const RESULT_RETRIES: u32 = 10;

#[component]
pub(super) fn RunView(
    job: Memo<Option<Job>>,
    lost: Memo<Option<String>>,
    target: Memo<Option<String>>,
) -> impl IntoView {
    let percent = Memo::new(move |_| {
        job.with(|j| j.as_ref().map_or(0.0, |j| format::clamp_percent(j.percent)))
    });
    // `None` until the job is known; `Some(None)` for a status this build does not know.
    let status = Memo::new(move |_| job.with(|j| j.as_ref().map(Job::state)));
    let css = move || match status.get().flatten() {
        Some(JobStatus::Succeeded) => "card restore-run restore-run-succeeded",
        Some(JobStatus::Failed | JobStatus::Interrupted) => "card restore-run restore-run-failed",
        Some(JobStatus::Cancelled) => "card restore-run restore-run-cancelled",
        _ => "card restore-run",
    };
    let title = move || {
        let db = job
            .with(|j| j.as_ref().map(|j| j.database.clone()))
            .or_else(|| target.get())
            .unwrap_or_else(|| "the database".into());
        match status.get() {
            None => format!("Starting the restore of {db}…"),
            Some(Some(JobStatus::Succeeded)) => format!("{db} restored"),
            Some(Some(JobStatus::Failed)) => format!("The restore of {db} failed"),
            Some(Some(JobStatus::Interrupted)) => format!("The restore of {db} was interrupted"),
            Some(Some(JobStatus::Cancelled)) => format!("The restore of {db} was cancelled"),
            Some(_) => format!("Restoring {db}"),
        }
    };
    let phase = move || {
        job.with(|j| {
            j.as_ref()
                .map(|j| j.step().map_or("Working", Phase::label).to_string())
                .unwrap_or_else(|| "Starting".to_string())
        })
    };
    let current = move || {
        job.with(|j| j.as_ref().and_then(|j| j.current_item.clone()))
            .unwrap_or_else(|| "—".into())
    };
    let elapsed = move || {
        job.with(|j| j.as_ref().map(|j| format::duration_ms(j.elapsed_ms)))
            .unwrap_or_else(|| "—".into())
    };
    // A restore job's file is its safety backup's.
    let file = move || {
        job.with(|j| j.as_ref().and_then(|j| j.file_name.clone()))
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <section
            class=css
            data-testid="restore-run"
            data-job-id=move || job.with(|j| j.as_ref().map(|j| j.id.to_string()))
            aria-labelledby="restore-run-title"
        >
            <h2 id="restore-run-title" class="card-title" aria-live="polite">
                {title}
            </h2>
            <Steps job />
            <ProgressBar percent label="Restore progress".to_string() />
            <div class="progress-row">
                <span class="job-percent" data-testid="restore-percent">
                    {move || format::percent(percent.get())}
                </span>
                <span class="restore-phase" data-testid="restore-phase" data-phase=move || job.with(|j| j.as_ref().map(|j| j.phase.clone()))>
                    {phase}
                </span>
            </div>
            <dl class="job-facts">
                <dt>"Object"</dt>
                <dd data-testid="restore-current-item">{current}</dd>
                <dt>"Elapsed"</dt>
                <dd data-testid="restore-elapsed">{elapsed}</dd>
                <dt>"Safety backup file"</dt>
                <dd data-testid="restore-safety-file">{file}</dd>
            </dl>
            {move || {
                lost.get()
                    .map(|why| {
                        view! {
                            <p class="job-error" role="alert" data-testid="restore-lost">
                                {format!(
                                    "Lifeboat could not follow this restore: {why}. It may still be running on the server: reload the page to reattach."
                                )}
                            </p>
                        }
                    })
            }}
        </section>
    }
}

/// The outcome of a finished restore.
#[component]
pub(super) fn ResultView(
    restore_id: Option<i64>,
    job: Memo<Option<Job>>,
    open: Callback<Candidate>,
    again: Callback<()>,
    /// Shows a roll back's job on the page.
    follow: Callback<i64>,
) -> impl IntoView {
    let result = LocalResource::new(move || async move {
        match restore_id {
            Some(id) => Some(client::restores::get(id).await),
            None => None,
        }
    });
    // The journal row may trail the job's last event by a moment.
    let retries = StoredValue::new(0u32);
    Effect::new(move |_| {
        if let Some(Some(Ok(r))) = result.get() {
            let over = JobStatus::parse(&r.status).is_some_and(JobStatus::is_terminal);
            if !over && retries.get_value() < RESULT_RETRIES {
                retries.update_value(|n| *n += 1);
                set_timeout(move || result.refetch(), Duration::from_secs(1));
            }
        }
    });
    let restore = Memo::new(move |_| result.get().flatten().and_then(|r| r.ok()));
    let error = move || result.get().flatten().and_then(|r| r.err());

    let safety_id = Memo::new(move |_| {
        restore
            .with(|r| r.as_ref().and_then(|r| r.safety_backup_id))
            .or_else(|| job.with(|j| j.as_ref().and_then(|j| j.backup_id)))
    });
    let safety = LocalResource::new(move || {
        let id = safety_id.get();
        async move {
            match id {
                Some(id) => client::backups::detail(id).await.ok(),
                None => None,
            }
        }
    });
    let status = Memo::new(move |_| {
        job.with(|j| j.as_ref().map(|j| j.status.clone()))
            .or_else(|| restore.with(|r| r.as_ref().map(|r| r.status.clone())))
            .unwrap_or_default()
    });
    let succeeded = Memo::new(move |_| status.with(|s| s == JobStatus::Succeeded.as_str()));
    let message = move || {
        job.with(|j| j.as_ref().and_then(|j| j.message.clone()))
            .or_else(|| restore.with(|r| r.as_ref().and_then(|r| r.message.clone())))
            .unwrap_or_else(|| {
                if succeeded.get() {
                    "The restore succeeded.".into()
                } else {
                    "The restore did not complete.".into()
                }
            })
    };
    let database = move || {
        restore
            .with(|r| r.as_ref().map(|r| r.database.clone()))
            .or_else(|| job.with(|j| j.as_ref().map(|j| j.database.clone())))
    };
    let duration = move || {
        restore
            .with(|r| r.as_ref().and_then(|r| r.duration_ms))
            .or_else(|| job.with(|j| j.as_ref().map(|j| j.elapsed_ms)))
            .map(format::duration_ms)
    };
    let rollback = move |_| {
        let Some(id) = safety_id.get_untracked() else {
            return;
        };
        let candidate = match safety.get_untracked().flatten() {
            Some(d) => backup_candidate(&d, true),
            None => Candidate {
                upload_id: None,
                backup_id: Some(id),
                what: format!("safety backup #{id}"),
                facts: vec![("Backup", format!("#{id}"))],
                rollback: true,
            },
        };
        open.run(candidate);
    };

    view! {
        <section
            class=move || {
                if succeeded.get() {
                    "card restore-result restore-result-ok"
                } else {
                    "card restore-result restore-result-bad"
                }
            }
            data-testid="restore-result"
            data-restore-id=restore_id.map(|id| id.to_string())
            data-outcome=move || status.get()
        >
            <h2 class="card-title">
                {move || if succeeded.get() { "Restore complete" } else { "Restore failed" }}
            </h2>
            <p
                class=move || if succeeded.get() { "banner banner-ok" } else { "banner banner-bad" }
                data-testid="restore-message"
            >
                {message}
            </p>
            {move || error().map(|e| view! { <ErrorNote error=e /> })}
            <dl class="detail-list">
                <dt>"Database"</dt>
                <dd data-testid="result-database">{move || database().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Restored from"</dt>
                <dd data-testid="result-file">
                    {move || {
                        restore
                            .with(|r| {
                                r.as_ref()
                                    .map(|r| match r.backup_id {
                                        Some(b) => format!("{} (backup #{b})", r.file_name),
                                        None => r.file_name.clone(),
                                    })
                            })
                            .unwrap_or_else(|| "—".into())
                    }}
                </dd>
                <dt>"SHA-256"</dt>
                <dd data-testid="result-sha256">
                    {move || match restore.with(|r| r.as_ref().and_then(|r| r.sha256.clone())) {
                        Some(h) => view! { <CopyHash hash=h short=false /> }.into_any(),
                        None => view! { "—" }.into_any(),
                    }}
                </dd>
                <dt>"Duration"</dt>
                <dd data-testid="restore-duration">{move || duration().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Started"</dt>
                <dd>
                    {move || {
                        restore
                            .with(|r| r.as_ref().map(|r| format_time(&r.started_at)))
                            .unwrap_or_else(|| "—".into())
                    }}
                </dd>
                <dt>"Who"</dt>
                <dd>
                    {move || {
                        restore
                            .with(|r| r.as_ref().and_then(|r| r.actor.clone()))
                            .unwrap_or_else(|| "—".into())
                    }}
                </dd>
                <dt>"Safety backup"</dt>
                <dd>
                    {move || match safety_id.get() {
                        Some(id) => {
                            view! {
                                <a href=format!("/backups/{id}") data-testid="safety-backup-link">
                                    {format!("Backup #{id}")}
                                </a>
                                <span class="muted">
                                    " — the state just before this restore, kept until you delete it."
                                </span>
                            }
                                .into_any()
                        }
                        None => {
                            view! {
                                <span class="muted" data-testid="no-safety-backup">
                                    "None: the restore stopped before one was taken."
                                </span>
                            }
                                .into_any()
                        }
                    }}
                </dd>
            </dl>
            <StrategyFacts restore follow />
            <h3 class="subsection-title">"pg_restore output"</h3>
            {move || {
                match restore.with(|r| r.as_ref().map(|r| r.tool_output.clone().unwrap_or_default())) {
                    None if restore_id.is_none() => {
                        view! { <p class="muted">"Lifeboat has no record of this restore's result."</p> }
                            .into_any()
                    }
                    None => view! { <p class="muted">"Loading the result…"</p> }.into_any(),
                    Some(out) if out.trim().is_empty() => {
                        view! {
                            <p class="muted" data-testid="restore-tool-output">
                                "pg_restore printed nothing."
                            </p>
                        }
                            .into_any()
                    }
                    Some(out) => {
                        view! {
                            <pre class="tool-output" data-testid="restore-tool-output">
                                {out}
                            </pre>
                        }
                            .into_any()
                    }
                }
            }}
            <div class="card-actions">
                {move || {
                    safety_id
                        .get()
                        .map(|_| {
                            view! {
                                <button class="btn" data-testid="rollback" on:click=rollback>
                                    "Roll back to the state before this restore"
                                </button>
                            }
                        })
                }}
                <button class="btn btn-quiet" data-testid="restore-again" on:click=move |_| again.run(())>
                    "Restore another file"
                </button>
            </div>
        </section>
    }
}
