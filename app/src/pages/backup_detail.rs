//! One backup and everything that explains it (`/backups/:id`): the technical result in
//! full, `pg_dump`'s own output, the exit status, versions, timings per phase, the whole
//! checksum and the files.

use super::backups::{kind_label, CopyHash, DownloadLinks, RestoreLink, StatusPill};
use super::ErrorNote;
use crate::api::{job_status, BackupDetail, PhaseTiming};
use crate::client;
use crate::format;
use crate::progress::use_backups;
use crate::shell::format_time;
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};

#[component]
pub fn BackupDetailPage() -> impl IntoView {
    let b = use_backups();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok())));
    let detail = LocalResource::new(move || {
        // A backup still running changes when its job ends.
        b.activity();
        let id = id.get();
        async move {
            match id {
                Some(id) => client::get::<BackupDetail>(&format!("/api/v1/backups/{id}"))
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
    });
    view! {
        <p class="back-link">
            <A href="/backups">"← All backups"</A>
        </p>
        {move || match detail.get() {
            None => view! { <p class="muted">"Loading the backup…"</p> }.into_any(),
            Some(Err(e)) => {
                view! { <ErrorNote error=e /> }.into_any()
            }
            Some(Ok(None)) => {
                view! {
                    <p class="form-error" role="alert">
                        "There is no backup at this address."
                    </p>
                }
                    .into_any()
            }
            Some(Ok(Some(d))) => view! { <Detail d /> }.into_any(),
        }}
    }
}

/// A labelled line of the detail list; `—` when there is nothing to say.
#[component]
fn Row(label: &'static str, testid: &'static str, value: Option<String>) -> impl IntoView {
    view! {
        <dt>{label}</dt>
        <dd data-testid=testid>{value.unwrap_or_else(|| "—".to_string())}</dd>
    }
}

#[component]
fn Detail(d: BackupDetail) -> impl IntoView {
    let b = d.backup;
    let id = b.id;
    let title = match &b.file_name {
        Some(name) => format!("Backup #{id} — {name}"),
        None => format!("Backup #{id}"),
    };
    let succeeded = b.status == job_status::SUCCEEDED;
    let size = b
        .size_bytes
        .map(|s| format!("{} ({s} bytes)", format::mb(s)));
    view! {
        <article class="backup-detail" data-testid="backup-detail">
            <header class="page-head">
                <h1>{title}</h1>
                <StatusPill status=b.status.clone() />
            </header>
            <section class="detail-block">
                <h2 class="section-title">"Technical result"</h2>
                <p class="detail-message" data-testid="backup-detail-message">
                    {b.message.clone().unwrap_or_else(|| "No result recorded yet.".into())}
                </p>
                {succeeded.then(|| view! { <div class="detail-actions"><DownloadLinks id /><RestoreLink id small=false /></div> })}
            </section>
            <section class="detail-block">
                <h2 class="section-title">"Backup"</h2>
                <dl class="detail-list">
                    <Row label="Database" testid="detail-database" value=Some(b.database.clone()) />
                    <Row label="Kind" testid="detail-kind" value=Some(kind_label(&b.kind)) />
                    <Row label="Status" testid="detail-status" value=Some(b.status.clone()) />
                    <Row label="Pinned" testid="detail-pinned" value=Some(if b.pinned { "yes" } else { "no" }.into()) />
                    <Row label="Started" testid="detail-started" value=Some(format_time(&b.started_at)) />
                    <Row label="Finished" testid="detail-finished" value=b.finished_at.as_ref().map(format_time) />
                    <Row label="Duration" testid="detail-duration" value=b.duration_ms.map(format::duration_ms) />
                    <Row label="Size" testid="detail-size" value=size />
                    <Row label="File" testid="detail-file" value=b.file_name.clone() />
                    <Row label="Location" testid="detail-location" value=b.location.clone() />
                    <Row label="Who" testid="detail-actor" value=b.actor.clone() />
                    <Row label="Job" testid="detail-job" value=b.job_id.map(|j| format!("#{j}")) />
                    <dt>"SHA-256"</dt>
                    <dd data-testid="detail-sha256">
                        {match b.sha256.clone() {
                            Some(h) => view! { <CopyHash hash=h short=false /> }.into_any(),
                            None => view! { "—" }.into_any(),
                        }}
                    </dd>
                </dl>
            </section>
            <section class="detail-block">
                <h2 class="section-title">"Tools"</h2>
                <dl class="detail-list">
                    <Row label="Exit status" testid="detail-exit-status" value=d.exit_status />
                    <Row label="Server version" testid="detail-server-version" value=d.server_version />
                    <Row label="pg_dump version" testid="detail-pg-dump-version" value=d.pg_dump_version />
                    <Row label="Archive version" testid="detail-archive-version" value=d.archive_version />
                </dl>
                <h3 class="subsection-title">"pg_dump output"</h3>
                {match d.tool_output.filter(|o| !o.trim().is_empty()) {
                    Some(out) => {
                        view! {
                            <pre class="tool-output" data-testid="backup-tool-output">
                                {out}
                            </pre>
                        }
                            .into_any()
                    }
                    None => {
                        view! {
                            <p class="muted" data-testid="backup-tool-output">
                                "pg_dump printed nothing."
                            </p>
                        }
                            .into_any()
                    }
                }}
            </section>
            <Timings timings=d.timings />
        </article>
    }
}

/// How long each phase took, and its share of the whole.
#[component]
fn Timings(timings: Vec<PhaseTiming>) -> impl IntoView {
    let total: i64 = timings.iter().map(|t| t.ms.max(0)).sum();
    view! {
        <section class="detail-block">
            <h2 class="section-title">"Timings"</h2>
            <div class="table-wrap">
                <table class="table" data-testid="backup-timings">
                    <thead>
                        <tr>
                            <th scope="col">"Phase"</th>
                            <th scope="col" class="num">
                                "Duration"
                            </th>
                            <th scope="col" class="num">
                                "Share"
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        {if timings.is_empty() {
                            view! {
                                <tr>
                                    <td colspan="3" class="muted">
                                        "No timings recorded."
                                    </td>
                                </tr>
                            }
                                .into_any()
                        } else {
                            timings
                                .into_iter()
                                .map(|t| {
                                    let share = if total > 0 {
                                        format!("{:.0} %", t.ms.max(0) as f64 * 100.0 / total as f64)
                                    } else {
                                        "—".to_string()
                                    };
                                    view! {
                                        <tr>
                                            <td>{t.phase}</td>
                                            <td class="num nowrap">{format::duration_ms(t.ms)}</td>
                                            <td class="num">{share}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
