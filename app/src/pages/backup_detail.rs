//! One backup and everything that explains it (`/backups/:id`): the technical result in
//! full, `pg_dump`'s own output, the exit status, versions, timings per phase, the whole
//! checksum, the files and the offsite copy. A stored backup can be pinned (retention never
//! deletes it) or deleted by hand, after a confirmation; the server's refusal (the newest
//! successful backup, a pinned one) is shown as it says it. What the signed-in role may
//! not do (download, restore, pin, delete, test restore) stays in place, disabled, saying
//! why (see [`crate::components::refusal`]).

use super::backups::kind_label;
use crate::api::{Backup, BackupDetail, Capability, PhaseTiming};
use crate::client::{self, ClientError};
use crate::components::{
    proof_words, refusal, CopyHash, Dialog, DownloadLinks, ErrorNote, Fact, FormError, Loaded,
    OffsiteMark, PinMarker, ProvenMark, RestoreLink, StatusPill, ViewerNote,
};
use crate::format::{self, format_time};
use crate::jobs::use_backups;
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};

/// What the page can do to the backup, shared by the detail and the dialog (which live
/// outside the part that is redrawn when the backup is fetched again).
#[derive(Clone, Copy)]
struct Actions {
    pin: Action<(i64, bool), Result<Backup, ClientError>>,
    delete: Action<i64, Result<(), ClientError>>,
    /// "Test restore now".
    test: Action<i64, Result<(), String>>,
    /// The backup the delete confirmation is open for.
    confirm_delete: RwSignal<Option<ConfirmDelete>>,
    notice: RwSignal<Option<String>>,
}

/// What the delete confirmation says about the backup.
#[derive(Clone, Debug, PartialEq)]
struct ConfirmDelete {
    id: i64,
    file: Option<String>,
    size: Option<i64>,
    pinned: bool,
}

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
                Some(id) => client::backups::detail(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let actions = Actions {
        pin: Action::new_local(|&(id, pinned): &(i64, bool)| async move {
            client::backups::pin(id, pinned).await
        }),
        delete: Action::new_local(|&id: &i64| async move { client::backups::delete(id).await }),
        test: Action::new_local(|&id: &i64| async move {
            client::backups::test_restore(id)
                .await
                .map(|_| ())
                .map_err(|r| r.error.to_string())
        }),
        confirm_delete: RwSignal::new(None),
        notice: RwSignal::new(None),
    };
    // A change made here: fetch the backup again to show it.
    Effect::new(move |_| {
        if let Some(Ok(b)) = actions.pin.value().get() {
            untrack(|| {
                actions.notice.set(Some(if b.pinned {
                    format!("Backup #{} is pinned: retention will not delete it.", b.id)
                } else {
                    format!("Backup #{} is no longer pinned.", b.id)
                }));
                detail.refetch();
            });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = actions.delete.value().get() {
            untrack(|| {
                if let Some(c) = actions.confirm_delete.get() {
                    actions
                        .notice
                        .set(Some(format!("Backup #{} was deleted.", c.id)));
                }
                actions.confirm_delete.set(None);
                detail.refetch();
            });
        }
    });
    // A test restore started, or running: fetch the backup again until it has ended.
    Effect::new(move |_| {
        if let Some(Ok(())) = actions.test.value().get() {
            untrack(|| detail.refetch());
        }
    });
    Effect::new(move |_| {
        let running = detail.with(|d| {
            matches!(d, Some(Ok(Some(d))) if d.backup.restorable.as_ref().is_some_and(|t| t.status == "running"))
        });
        if running {
            set_timeout(move || detail.refetch(), std::time::Duration::from_secs(1));
        }
    });
    // Another backup: nothing said about the previous one applies.
    Effect::new(move |_| {
        id.track();
        actions.notice.set(None);
        actions.confirm_delete.set(None);
    });
    view! {
        <p class="back-link">
            <A href="/backups">"← All backups"</A>
        </p>
        {move || {
            actions
                .notice
                .get()
                .map(|m| {
                    view! {
                        <p class="notice" role="status" data-testid="backup-notice">
                            {m}
                        </p>
                    }
                })
        }}
        <Loaded resource=detail loading="Loading the backup…" let:d>
            {match d {
                None => view! { <FormError message="There is no backup at this address." /> }.into_any(),
                Some(d) => view! { <Detail d actions /> }.into_any(),
            }}
        </Loaded>
        {move || {
            actions.confirm_delete.get().map(|c| view! { <DeleteDialog c actions /> })
        }}
    }
}

#[component]
fn Detail(d: BackupDetail, actions: Actions) -> impl IntoView {
    let b = d.backup;
    let id = b.id;
    let title = match &b.file_name {
        Some(name) => format!("Backup #{id} — {name}"),
        None => format!("Backup #{id}"),
    };
    let succeeded = b.succeeded();
    let size = b
        .size_bytes
        .map(|s| format!("{} ({s} bytes)", format::mb(s)));
    let pinned = b.pinned;
    let confirm = ConfirmDelete {
        id,
        file: b.file_name.clone(),
        size: b.size_bytes,
        pinned,
    };
    let offsite_message = b.offsite_message.clone();
    // What the signed-in role may not do here stays in place, disabled, saying why.
    let pin_refused = refusal(Capability::Pin);
    let may_pin = pin_refused.is_none();
    let delete_refused = refusal(Capability::DeleteBackup);
    let may_delete = delete_refused.is_none();
    view! {
        <article class="backup-detail" data-testid="backup-detail">
            <header class="page-head">
                <h1>{title}</h1>
                <span class="head-marks">
                    <StatusPill status=b.status.clone() />
                    {pinned.then(|| view! { <PinMarker /> })}
                    <ProvenMark t=b.restorable.clone() />
                </span>
            </header>
            <ViewerNote />
            {succeeded
                .then(|| {
                    let confirm = confirm.clone();
                    view! {
                        <section class="detail-block" aria-label="Keep or delete">
                            <div class="detail-actions">
                                <button
                                    type="button"
                                    class="btn"
                                    data-testid="pin-toggle"
                                    aria-pressed=if pinned { "true" } else { "false" }
                                    title=pin_refused.clone().unwrap_or_else(|| if pinned {
                                        "Let retention delete this backup again when it is old enough".into()
                                    } else {
                                        "Keep this backup: retention will never delete it".into()
                                    })
                                    aria-disabled=(!may_pin).then_some("true")
                                    disabled=move || !may_pin || actions.pin.pending().get()
                                    on:click=move |_| {
                                        actions.notice.set(None);
                                        actions.pin.dispatch((id, !pinned));
                                    }
                                >
                                    {move || match (actions.pin.pending().get(), pinned) {
                                        (true, _) => "Saving…",
                                        (false, true) => "Unpin",
                                        (false, false) => "Pin",
                                    }}
                                </button>
                                <button
                                    type="button"
                                    class="btn btn-danger-quiet"
                                    data-testid="delete-backup"
                                    title=delete_refused.clone()
                                    aria-disabled=(!may_delete).then_some("true")
                                    disabled=!may_delete
                                    on:click=move |_| {
                                        actions.notice.set(None);
                                        actions.delete.value().set(None);
                                        actions.confirm_delete.set(Some(confirm.clone()));
                                    }
                                >
                                    "Delete…"
                                </button>
                            </div>
                            <p class="muted detail-hint">
                                {if pinned {
                                    "Pinned: retention never deletes this backup, and it cannot be deleted by hand until it is unpinned."
                                } else {
                                    "Pin a backup to keep it whatever the retention policy says."
                                }}
                            </p>
                            {move || {
                                actions
                                    .pin
                                    .value()
                                    .get()
                                    .and_then(Result::err)
                                    .map(|e| view! { <ErrorNote error=e /> })
                            }}
                        </section>
                    }
                })}
            {succeeded.then(|| view! { <TestRestoreBlock id restorable=b.restorable.clone() actions /> })}
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
                    <Fact label="Database" testid="detail-database" value=Some(b.database.clone()) />
                    <Fact label="Kind" testid="detail-kind" value=Some(kind_label(&b)) />
                    <Fact label="Status" testid="detail-status" value=Some(b.status.clone()) />
                    <Fact label="Pinned" testid="detail-pinned" value=Some(if b.pinned { "yes" } else { "no" }.into()) />
                    <Fact label="Started" testid="detail-started" value=Some(format_time(&b.started_at)) />
                    <Fact label="Finished" testid="detail-finished" value=b.finished_at.as_ref().map(format_time) />
                    <Fact label="Duration" testid="detail-duration" value=b.duration_ms.map(format::duration_ms) />
                    <Fact label="Size" testid="detail-size" value=size />
                    <Fact label="File" testid="detail-file" value=b.file_name.clone() />
                    <Fact label="Location" testid="detail-location" value=b.location.clone() />
                    <Fact label="Who" testid="detail-actor" value=b.actor.clone() />
                    <Fact label="Job" testid="detail-job" value=b.job_id.map(|j| format!("#{j}")) />
                    <dt>"Offsite copy"</dt>
                    <dd data-testid="detail-offsite">
                        <OffsiteMark status=b.offsite_status.clone() message=offsite_message.clone() />
                        {offsite_message
                            .clone()
                            .filter(|m| !m.trim().is_empty())
                            .map(|m| {
                                view! {
                                    <span class="muted offsite-message" data-testid="detail-offsite-message">
                                        {m}
                                    </span>
                                }
                            })}
                    </dd>
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
                    <Fact label="Exit status" testid="detail-exit-status" value=d.exit_status />
                    <Fact label="Server version" testid="detail-server-version" value=d.server_version />
                    <Fact label="pg_dump version" testid="detail-pg-dump-version" value=d.pg_dump_version />
                    <Fact label="Client used" testid="detail-client" value=b.client.clone() />
                    <Fact label="Compression" testid="detail-compression" value=b.compression.clone() />
                    <Fact label="Archive version" testid="detail-archive-version" value=d.archive_version />
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

/// "Delete this backup?": what goes, what stays, and the server's refusal if it refuses.
#[component]
fn DeleteDialog(c: ConfirmDelete, actions: Actions) -> impl IntoView {
    let id = c.id;
    let pending = actions.delete.pending();
    let close = Callback::new(move |()| {
        if !pending.get_untracked() {
            actions.confirm_delete.set(None);
        }
    });
    // Cancel (the safe choice) has the focus, again after a refusal (the button pressed was
    // disabled meanwhile, which dropped the focus).
    let refused = Signal::derive(move || matches!(actions.delete.value().get(), Some(Err(_))));
    let what = match (&c.file, c.size) {
        (Some(f), Some(s)) => format!("the file {f} ({})", format::mb(s)),
        (Some(f), None) => format!("the file {f}"),
        _ => "its file".to_string(),
    };
    let error = move || {
        actions
            .delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <FormError message=e.to_string() testid="delete-error" /> })
    };
    view! {
        <Dialog
            title=format!("Delete backup #{id}?")
            testid="delete-dialog"
            on_close=close
            focus="[data-testid=delete-cancel]"
            refocus=refused
        >
            <p id="delete-dialog-text">
                "Lifeboat will delete " {what}
                " and its metadata from the backup directory. This cannot be undone: the backup can no longer be downloaded or restored. "
                "The history keeps its row, marked deleted. An offsite copy, if there is one, is not touched."
            </p>
            {c
                .pinned
                .then(|| {
                    view! {
                        <p class="notice">
                            "This backup is pinned: Lifeboat will refuse until it is unpinned."
                        </p>
                    }
                })}
            {error}
            <div class="modal-actions">
                <button
                    type="button"
                    class="btn"
                    data-testid="delete-cancel"
                    on:click=move |_| close.run(())
                >
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-danger"
                    data-testid="delete-confirm"
                    disabled=move || pending.get()
                    on:click=move |_| {
                        actions.delete.dispatch(id);
                    }
                >
                    {move || if pending.get() { "Deleting…" } else { "Delete" }}
                </button>
            </div>
        </Dialog>
    }
}

/// Whether this backup is proven to restore (its last test restore), and "Test restore
/// now": restored into a scratch database, its rows counted against the archive's, the
/// scratch database dropped.
#[component]
fn TestRestoreBlock(
    id: i64,
    restorable: Option<crate::api::TestRestore>,
    actions: Actions,
) -> impl IntoView {
    let running = restorable.as_ref().is_some_and(|t| t.status == "running");
    let words = restorable.as_ref().map_or_else(
        || "Never tested. A test restore restores this backup into a scratch database, compares every table's rows with the archive's, and drops it; nothing else is touched.".to_string(),
        proof_words,
    );
    let state = restorable.map(|t| t.status).unwrap_or_default();
    let refused = refusal(Capability::TestRestore);
    let may = refused.is_none();
    view! {
        <section class="detail-block" aria-label="Test restore" data-testid="test-restore-block">
            <h2 class="section-title">"Does it restore?"</h2>
            <p data-testid="test-restore-result" data-state=state>
                {words}
            </p>
            <div class="detail-actions">
                <button
                    type="button"
                    class="btn"
                    data-testid="test-restore"
                    title=refused
                    aria-disabled=(!may).then_some("true")
                    disabled=move || !may || running || actions.test.pending().get()
                    on:click=move |_| {
                        actions.test.dispatch(id);
                    }
                >
                    {if running { "Testing…" } else { "Test restore now" }}
                </button>
            </div>
            {move || {
                actions
                    .test
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|e| view! { <p class="form-error" role="alert">{e}</p> })
            }}
        </section>
    }
}
