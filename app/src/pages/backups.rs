//! The Backups page: where things stand (last success, next scheduled run, space, offsite
//! copies, last alert), how backups have been growing, and the history, newest first, 50 to
//! a page (`/backups?offset=50`). It refreshes by itself when a backup starts or ends, here
//! or on the server (the scheduler, another tab: see [`crate::progress`]).

use super::backup_chart::BackupChart;
use super::ErrorNote;
use crate::api::{backup_kind, job_status, Backup, BackupPage, BackupStatus};
use crate::client;
use crate::format;
use crate::progress::use_backups;
use crate::shell::format_time;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::time::Duration;

const PAGE_SIZE: i64 = 50;

/// Free space below this share of the volume is shown as a warning.
const LOW_FREE_SHARE: f64 = 0.10;

/// How often the ages ("12 min ago", "in 3 h") are brought up to date.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const CLOCK_EVERY: Duration = Duration::from_secs(5);

/// The current moment, moving on every [`CLOCK_EVERY`] while the calling page lives.
pub(super) fn ticking_now() -> ReadSignal<Option<DateTime<Utc>>> {
    let (now, set_now) = signal(format::now());
    Effect::new(move |_| {
        set_now.set(format::now());
        #[cfg(feature = "hydrate")]
        if let Ok(handle) =
            set_interval_with_handle(move || set_now.set(format::now()), CLOCK_EVERY)
        {
            on_cleanup(move || handle.clear());
        }
    });
    now
}

#[component]
pub fn BackupsPage() -> impl IntoView {
    let b = use_backups();
    let query = use_query_map();
    let navigate = use_navigate();
    let offset = Memo::new(move |_| {
        query.with(|q| {
            q.get("offset")
                .and_then(|o| o.parse::<i64>().ok())
                .unwrap_or(0)
                .max(0)
        })
    });
    let status = LocalResource::new(move || {
        b.activity();
        client::get::<BackupStatus>("/api/v1/backups/status")
    });
    let page = LocalResource::new(move || {
        b.activity();
        let offset = offset.get();
        async move {
            client::get::<BackupPage>(&format!(
                "/api/v1/backups?limit={PAGE_SIZE}&offset={offset}"
            ))
            .await
        }
    });
    let now = ticking_now();
    // What the status says also drives "Back up now" (confirmation, reattaching).
    Effect::new(move |_| {
        if let Some(Ok(s)) = status.get() {
            untrack(|| b.absorb_status(&s));
        }
    });
    let go = move |offset: i64| {
        navigate(
            &if offset > 0 {
                format!("/backups?offset={offset}")
            } else {
                "/backups".to_string()
            },
            Default::default(),
        )
    };

    view! {
        <header class="page-head">
            <h1>"Backups"</h1>
            <button
                class="btn"
                on:click=move |_| {
                    status.refetch();
                    page.refetch();
                }
            >
                "Refresh"
            </button>
        </header>
        {move || match status.get() {
            None => view! { <p class="muted">"Loading the backup status…"</p> }.into_any(),
            Some(Err(e)) => {
                view! { <ErrorNote error=e /> }.into_any()
            }
            Some(Ok(s)) => view! { <StatusStrip status=s now /> }.into_any(),
        }}
        {move || match page.get() {
            None => view! { <p class="muted">"Loading the backup history…"</p> }.into_any(),
            Some(Err(e)) => {
                view! { <ErrorNote error=e /> }.into_any()
            }
            Some(Ok(p)) => {
                let go = go.clone();
                let shown = p.items.len() as i64;
                view! {
                    <BackupChart items=p.items.clone() />
                    <HistoryTable items=p.items />
                    <Pager offset=offset.get() shown total=p.total go />
                }
                    .into_any()
            }
        }}
    }
}

// ---------------------------------------------------------------------------------------
// Status strip
// ---------------------------------------------------------------------------------------

#[component]
fn StatusStrip(status: BackupStatus, now: ReadSignal<Option<DateTime<Utc>>>) -> impl IntoView {
    view! {
        <section class="status-strip" data-testid="backup-status" aria-label="Backup status">
            <LastSuccess last=status.last_success.clone() stale=status.stale now />
            <NextRun next=status.next_run now />
            <div class="stat" data-testid="backup-used">
                <span class="stat-label">"Used by backups"</span>
                <strong class="stat-value">{format::bytes(status.used_bytes)}</strong>
                <span class="stat-sub muted">
                    {status.database.clone().map(|db| format!("database {db}")).unwrap_or_default()}
                </span>
            </div>
            <FreeSpace free=status.free_bytes total=status.total_bytes />
            <div class="stat" data-testid="backup-count">
                <span class="stat-label">"Backups stored"</span>
                <strong class="stat-value">{status.backup_count}</strong>
                <span class="stat-sub muted">
                    {if status.confirm_backup {
                        "“Back up now” asks first"
                    } else {
                        "“Back up now” starts at once"
                    }}
                </span>
            </div>
            <Offsite count=status.offsite_count bytes=status.offsite_bytes />
            <LastAlert title=status.last_alert.clone() at=status.last_alert_at now />
        </section>
    }
}

/// `12 min ago`, or the exact moment when the browser does not say what time it is.
fn ago(at: DateTime<Utc>, now: Option<DateTime<Utc>>) -> String {
    now.map(|now| format::age(&at, &now))
        .unwrap_or_else(|| format_time(&at))
}

/// The last successful backup and its age; red when none, or when it is older than the
/// schedule allows (the server's `stale`).
#[component]
fn LastSuccess(
    last: Option<Backup>,
    stale: bool,
    now: ReadSignal<Option<DateTime<Utc>>>,
) -> impl IntoView {
    match last {
        None => view! {
            <div class="stat stat-bad" data-testid="backup-last-success" data-stale="true">
                <span class="stat-label">"Last successful backup"</span>
                <strong class="stat-value">"None yet"</strong>
                <span class="stat-sub">"No backup has succeeded. Back up now."</span>
            </div>
        }
        .into_any(),
        Some(last) => {
            let at = last.finished_at.unwrap_or(last.started_at);
            let class = if stale { "stat stat-bad" } else { "stat" };
            let sub = if stale {
                format!("{} — older than the schedule allows", format_time(&at))
            } else {
                format_time(&at)
            };
            view! {
                <div
                    class=class
                    data-testid="backup-last-success"
                    data-stale=if stale { "true" } else { "false" }
                    data-backup-id=last.id.to_string()
                >
                    <span class="stat-label">"Last successful backup"</span>
                    <strong class="stat-value" title=format_time(&at) data-testid="last-success-age">
                        {move || ago(at, now.get())}
                    </strong>
                    <span class=if stale { "stat-sub" } else { "stat-sub muted" }>{sub}</span>
                </div>
            }
            .into_any()
        }
    }
}

/// When the scheduler runs next, or that scheduled backups are off.
#[component]
fn NextRun(next: Option<DateTime<Utc>>, now: ReadSignal<Option<DateTime<Utc>>>) -> impl IntoView {
    match next {
        None => view! {
            <div class="stat" data-testid="next-run">
                <span class="stat-label">"Next scheduled backup"</span>
                <strong class="stat-value">"Off"</strong>
                <span class="stat-sub muted">
                    "Scheduled backups are off. " <a href="/settings">"Set a schedule"</a>
                </span>
            </div>
        }
        .into_any(),
        Some(at) => view! {
            <div class="stat" data-testid="next-run">
                <span class="stat-label">"Next scheduled backup"</span>
                <strong class="stat-value" title=format_time(&at) data-testid="next-run-relative">
                    {move || {
                        now.get()
                            .map(|now| format::until(&at, &now))
                            .unwrap_or_else(|| format_time(&at))
                    }}
                </strong>
                <span class="stat-sub muted" data-testid="next-run-at">
                    {format_time(&at)}
                </span>
            </div>
        }
        .into_any(),
    }
}

/// Offsite copies held, or that offsite storage is not configured.
#[component]
fn Offsite(count: Option<i64>, bytes: Option<i64>) -> impl IntoView {
    let (value, sub) = match count {
        None => (
            "Not configured".to_string(),
            view! { <a href="/settings">"How to set it up"</a> }.into_any(),
        ),
        Some(n) => (
            format!("{n} {}", if n == 1 { "copy" } else { "copies" }),
            view! { {bytes.map(format::bytes).unwrap_or_default()} }.into_any(),
        ),
    };
    view! {
        <div class="stat" data-testid="offsite">
            <span class="stat-label">"Offsite"</span>
            <strong class="stat-value">{value}</strong>
            <span class="stat-sub muted">{sub}</span>
        </div>
    }
}

/// The last alert sent, and when.
#[component]
fn LastAlert(
    title: Option<String>,
    at: Option<DateTime<Utc>>,
    now: ReadSignal<Option<DateTime<Utc>>>,
) -> impl IntoView {
    let when = at.map(|at| {
        view! {
            <span class="stat-sub muted" title=format_time(&at)>
                {move || ago(at, now.get())}
            </span>
        }
    });
    view! {
        <div class="stat" data-testid="last-alert">
            <span class="stat-label">"Last alert"</span>
            {match title {
                Some(t) => {
                    let shown = t.clone();
                    view! {
                        <strong class="stat-text" title=t data-testid="last-alert-title">
                            {shown}
                        </strong>
                    }
                        .into_any()
                }
                None => view! { <strong class="stat-value">"None sent"</strong> }.into_any(),
            }}
            {when}
        </div>
    }
}

#[component]
fn FreeSpace(free: Option<i64>, total: Option<i64>) -> impl IntoView {
    let share = match (free, total) {
        (Some(f), Some(t)) if t > 0 => Some(f as f64 / t as f64),
        _ => None,
    };
    let low = share.is_some_and(|s| s < LOW_FREE_SHARE);
    view! {
        <div class=if low { "stat stat-bad" } else { "stat" } data-testid="backup-free">
            <span class="stat-label">"Free on the volume"</span>
            <strong class="stat-value">{free.map(format::bytes).unwrap_or_else(|| "unknown".into())}</strong>
            <span class="stat-sub muted">
                {total.map(|t| format!("of {}", format::bytes(t))).unwrap_or_default()}
            </span>
            {share
                .map(|s| {
                    view! {
                        <span class="meter" aria-hidden="true">
                            <span
                                class="meter-fill"
                                style:width=format!("{:.1}%", (1.0 - s).clamp(0.0, 1.0) * 100.0)
                            ></span>
                        </span>
                    }
                })}
        </div>
    }
}

// ---------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------

#[component]
fn HistoryTable(items: Vec<Backup>) -> impl IntoView {
    view! {
        <h2 class="section-title">"History"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="backup-history">
                <thead>
                    <tr>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="num">
                            "Size (MB)"
                        </th>
                        <th scope="col">"Duration"</th>
                        <th scope="col">"Location"</th>
                        <th scope="col">"SHA-256"</th>
                        <th scope="col">"Offsite"</th>
                        <th scope="col">"Who"</th>
                        <th scope="col">"Result"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {if items.is_empty() {
                        view! {
                            <tr>
                                <td colspan="11" class="muted">
                                    "No backup yet. “Back up now” takes the first one."
                                </td>
                            </tr>
                        }
                            .into_any()
                    } else {
                        items.into_iter().map(history_row).collect_view().into_any()
                    }}
                </tbody>
            </table>
        </div>
    }
}

fn history_row(b: Backup) -> impl IntoView {
    let id = b.id;
    let succeeded = b.status == job_status::SUCCEEDED;
    let deleted = b.status == STATUS_DELETED;
    view! {
        <tr
            data-testid="backup-row"
            data-backup-id=id.to_string()
            data-kind=b.kind.clone()
            data-pinned=if b.pinned { "true" } else { "false" }
            class=if deleted { "row-deleted" } else { "" }
        >
            <td class="nowrap">{format_time(&b.started_at)}</td>
            <td data-testid="backup-kind">
                {kind_label(&b.kind)} {b.pinned.then(|| view! { " " <PinMarker /> })}
            </td>
            <td>
                <StatusPill status=b.status.clone() />
            </td>
            <td class="num nowrap">
                {b.size_bytes.map(|s| format!("{:.2}", s as f64 / 1_000_000.0)).unwrap_or_else(|| "—".into())}
            </td>
            <td class="nowrap">
                {b.duration_ms.map(format::duration_ms).unwrap_or_else(|| "—".into())}
            </td>
            <td class="location">{b.location.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="nowrap">
                {match b.sha256.clone() {
                    Some(h) => view! { <CopyHash hash=h short=true /> }.into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="nowrap">
                <OffsiteMark status=b.offsite_status.clone() message=b.offsite_message.clone() />
            </td>
            <td>{b.actor.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="detail" data-testid="backup-message">
                {b.message.clone().unwrap_or_default()}
            </td>
            <td class="nowrap row-actions">
                <a class="btn btn-small" href=format!("/backups/{id}") data-testid="backup-details">
                    "Details"
                </a>
                {succeeded.then(|| view! { <DownloadLinks id /> <RestoreLink id small=true /> })}
            </td>
        </tr>
    }
}

/// Which rows are shown, and Newer/Older.
#[component]
fn Pager<F>(offset: i64, shown: i64, total: i64, go: F) -> impl IntoView
where
    F: Fn(i64) + Clone + 'static,
{
    let first = if total == 0 { 0 } else { offset + 1 };
    let last = (offset + shown).min(total);
    let go_newer = go.clone();
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {total}")}</span>
            <button
                class="btn"
                disabled={offset <= 0}
                on:click=move |_| go_newer((offset - PAGE_SIZE).max(0))
            >
                "Newer"
            </button>
            <button class="btn" disabled={last >= total} on:click=move |_| go(offset + PAGE_SIZE)>
                "Older"
            </button>
        </nav>
    }
}

// ---------------------------------------------------------------------------------------
// Pieces shared with the detail page
// ---------------------------------------------------------------------------------------

pub(super) fn kind_label(kind: &str) -> String {
    match kind {
        backup_kind::MANUAL => "manual".into(),
        backup_kind::SCHEDULED => "scheduled".into(),
        backup_kind::SAFETY => "safety (before a restore)".into(),
        other => other.into(),
    }
}

/// `Backup::status` of a backup removed by retention or by hand (its row stays).
pub(super) const STATUS_DELETED: &str = "deleted";

/// The marker of a pinned backup (retention never deletes it).
#[component]
pub(super) fn PinMarker() -> impl IntoView {
    view! {
        <span
            class="badge badge-pin"
            data-testid="backup-pinned"
            title="Pinned: retention never deletes it, and it cannot be deleted by hand until unpinned"
        >
            "pinned"
        </span>
    }
}

/// Where a backup's offsite copy stands, in a word: `✓ copied`, `failed` (the reason on
/// hover), `pending`, `deleted`, or `—` when offsite copies are not configured.
#[component]
pub(super) fn OffsiteMark(status: Option<String>, message: Option<String>) -> impl IntoView {
    let (class, text) = match status.as_deref() {
        None => ("offsite offsite-none muted", "—".to_string()),
        Some("copied") => ("offsite offsite-ok", "✓ copied".to_string()),
        Some("failed") => ("offsite offsite-bad", "✕ failed".to_string()),
        Some("pending") => ("offsite offsite-pending", "pending".to_string()),
        Some(other) => ("offsite muted", other.to_string()),
    };
    let title = match (status.as_deref(), message) {
        (None, _) => Some("Offsite copies are not configured".to_string()),
        (_, Some(m)) if !m.trim().is_empty() => Some(m),
        _ => None,
    };
    view! {
        <span
            class=class
            data-testid="backup-offsite"
            data-offsite=status.unwrap_or_default()
            title=title
        >
            {text}
        </span>
    }
}

/// A job or backup status as a coloured pill.
#[component]
pub(super) fn StatusPill(status: String) -> impl IntoView {
    let class = match status.as_str() {
        job_status::SUCCEEDED => "pill pill-ok",
        job_status::FAILED | job_status::INTERRUPTED => "pill pill-bad",
        job_status::RUNNING | job_status::QUEUED => "pill pill-run",
        _ => "pill pill-muted",
    };
    view! {
        <span class=class data-testid="backup-status-pill">
            {status}
        </span>
    }
}

/// "Restore this backup": the Restore page with this backup instead of an upload.
#[component]
pub(super) fn RestoreLink(id: i64, small: bool) -> impl IntoView {
    view! {
        <a
            class=if small { "btn btn-small" } else { "btn" }
            href=format!("/restore?backup={id}")
            data-testid="restore-backup"
            aria-label="Restore this backup"
            title="Restore this backup into the database"
        >
            {if small { "Restore" } else { "Restore this backup" }}
        </a>
    }
}

/// The backup file and its `.dump.json` sidecar.
#[component]
pub(super) fn DownloadLinks(id: i64) -> impl IntoView {
    view! {
        <a
            class="btn btn-small"
            href=format!("/api/v1/backups/{id}/download")
            download
            data-testid="backup-download"
        >
            "Download"
        </a>
        <a
            class="btn btn-small btn-quiet"
            href=format!("/api/v1/backups/{id}/metadata")
            download
            data-testid="backup-metadata"
        >
            "metadata"
        </a>
    }
}

/// A SHA-256 (the first 12 characters when `short`; the whole one on hover) and a button
/// copying the whole one to the clipboard.
#[component]
pub(super) fn CopyHash(hash: String, short: bool) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let shown = if short {
        format::short_hash(&hash)
    } else {
        hash.clone()
    };
    let full = hash.clone();
    let on_click = move |_| {
        copied.set(Some(copy_to_clipboard(&full)));
        set_timeout(
            move || {
                copied.try_set(None);
            },
            Duration::from_secs(2),
        );
    };
    view! {
        <span class="hash">
            <code title=hash data-testid="backup-sha256">
                {shown}
            </code>
            <button
                type="button"
                class="btn btn-small btn-quiet"
                data-testid="copy-sha256"
                aria-label="Copy the SHA-256 checksum"
                on:click=on_click
            >
                {move || match copied.get() {
                    Some(true) => "Copied",
                    Some(false) => "Copy failed",
                    None => "Copy",
                }}
            </button>
        </span>
    }
}

/// Puts `text` on the clipboard; false when the browser offers no clipboard (plain HTTP
/// on a remote address).
fn copy_to_clipboard(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let clipboard = window.navigator().clipboard();
        let js: &wasm_bindgen::JsValue = clipboard.as_ref();
        if js.is_undefined() || js.is_null() {
            return false;
        }
        let _ = clipboard.write_text(text);
        true
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}
