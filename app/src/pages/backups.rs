//! The Backups page: where things stand (last success, next scheduled run, space, offsite
//! copies, last alert), how backups have been growing, and the history, newest first, 50 to
//! a page (`/backups?offset=50`). It refreshes by itself when a backup starts or ends, here
//! or on the server (the scheduler, another tab: see [`crate::jobs`]).

use super::backup_chart::BackupChart;
use crate::api::{Backup, BackupKind, BackupState, BackupStatus, Capability};
use crate::client;
use crate::components::{
    proof_words, refusal, ticking_now, CopyHash, DownloadLink, Loaded, LongText, OffsiteMark,
    Pager, PinMarker, ProvenMark, RestoreLink, StatusPill, ViewerNote,
};
use crate::format::{self, format_time};
use crate::jobs::use_backups;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

const PAGE_SIZE: i64 = 50;

/// Free space below this share of the volume is shown as a warning.
const LOW_FREE_SHARE: f64 = 0.10;

#[component]
pub fn BackupsPage() -> impl IntoView {
    let b = use_backups();
    let query = use_query_map();
    let navigate = StoredValue::new_local(use_navigate());
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
        client::backups::status()
    });
    let page = LocalResource::new(move || {
        b.activity();
        let offset = offset.get();
        client::backups::page(PAGE_SIZE, offset)
    });
    let now = ticking_now();
    // What the status says also drives "Back up now" (confirmation, reattaching).
    Effect::new(move |_| {
        if let Some(Ok(s)) = status.get() {
            untrack(|| b.absorb_status(&s));
        }
    });
    let go = Callback::new(move |offset: i64| {
        let to = if offset > 0 {
            format!("/backups?offset={offset}")
        } else {
            "/backups".to_string()
        };
        navigate.with_value(|go| go(&to, Default::default()));
    });

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
        <Loaded resource=status loading="Loading the backup status…" let:s>
            <StatusStrip status=s now />
        </Loaded>
        <Loaded resource=page loading="Loading the backup history…" let:p>
            <BackupChart items=p.items.clone() />
            <ViewerNote />
            <History items=p.items.clone() />
            <Pager
                offset=offset.get()
                shown=p.items.len() as i64
                total=p.total
                page_size=PAGE_SIZE
                go
            />
        </Loaded>
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
            <NextRun
                next=status.next_run
                warn=status.schedule_off_warning
                problem=status.scheduler_problem.clone()
                now
            />
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
            <LastProof last=status.last_test_restore.clone() now />
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

/// The age of the last proof that backups restore (the last test restore), red when it
/// failed.
#[component]
fn LastProof(
    last: Option<crate::api::TestRestore>,
    now: ReadSignal<Option<DateTime<Utc>>>,
) -> impl IntoView {
    let Some(t) = last else {
        return view! {
            <div class="stat" data-testid="last-test-restore">
                <span class="stat-label">"Last test restore"</span>
                <strong class="stat-value">"None yet"</strong>
                <span class="stat-sub muted">"No backup has been proven to restore yet."</span>
            </div>
        }
        .into_any();
    };
    let failed = !matches!(t.status.as_str(), "succeeded" | "running");
    let at = t.started_at;
    view! {
        <div
            class=if failed { "stat stat-bad" } else { "stat" }
            data-testid="last-test-restore"
            data-state=t.status.clone()
        >
            <span class="stat-label">"Last test restore"</span>
            <strong class="stat-value" title=format_time(&at)>
                {move || ago(at, now.get())}
            </strong>
            <span class=if failed { "stat-sub" } else { "stat-sub muted" }>
                <a href=format!("/backups/{}", t.backup_id)>{format!("backup #{}", t.backup_id)}</a>
                ": "
                {proof_words(&t)}
            </span>
        </div>
    }
    .into_any()
}

/// When the scheduler runs next, or that scheduled backups are off (a warning unless that
/// is on purpose).
#[component]
fn NextRun(
    next: Option<DateTime<Utc>>,
    warn: bool,
    problem: Option<String>,
    now: ReadSignal<Option<DateTime<Utc>>>,
) -> impl IntoView {
    if let Some(problem) = problem {
        return view! {
            <div class="stat stat-bad" data-testid="next-run" data-warning="scheduler">
                <span class="stat-label">"Next scheduled backup"</span>
                <strong class="stat-value">
                    {next.map(|at| format_time(&at)).unwrap_or_else(|| "—".into())}
                </strong>
                <span class="stat-sub">{problem}</span>
            </div>
        }
        .into_any();
    }
    match next {
        None if warn => view! {
            <div class="stat stat-bad" data-testid="next-run" data-warning="schedule-off">
                <span class="stat-label">"Next scheduled backup"</span>
                <strong class="stat-value">"Off"</strong>
                <span class="stat-sub">
                    "Nothing backs this database up on its own. " <SettingsLink text="Set a schedule" />
                </span>
            </div>
        }
        .into_any(),
        None => view! {
            <div class="stat" data-testid="next-run">
                <span class="stat-label">"Next scheduled backup"</span>
                <strong class="stat-value">"Off"</strong>
                <span class="stat-sub muted">
                    "Scheduled backups are off. " <SettingsLink text="Set a schedule" />
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

/// A link to the Settings page, or, for a role that may not open it, who can.
#[component]
fn SettingsLink(text: &'static str) -> impl IntoView {
    match refusal(Capability::Settings) {
        None => view! { <a href="/settings">{text}</a> }.into_any(),
        Some(_) => view! { <span data-testid="settings-by-admin">"An administrator can change this in Settings."</span> }
            .into_any(),
    }
}

/// Offsite copies held, or that offsite storage is not configured.
#[component]
fn Offsite(count: Option<i64>, bytes: Option<i64>) -> impl IntoView {
    let (value, sub) = match count {
        None => (
            "Not configured".to_string(),
            view! { <SettingsLink text="How to set it up" /> }.into_any(),
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

/// The history. A laptop shows the columns that decide what to do (when, what, outcome,
/// size, offsite, result, actions); the file's location and checksum are one click away
/// ("More columns") and on the detail page. A narrow window shows each backup as a card
/// (the same rows, laid out by the style sheet), so nothing runs out of the page.
#[component]
fn History(items: Vec<Backup>) -> impl IntoView {
    let all = RwSignal::new(false);
    view! {
        <div class="section-head">
            <h2 class="section-title">"History"</h2>
            <label class="toggle">
                <input
                    type="checkbox"
                    data-testid="history-all-columns"
                    prop:checked=move || all.get()
                    on:change=move |ev| all.set(event_target_checked(&ev))
                />
                "More columns"
            </label>
        </div>
        <div class="table-wrap history-wrap">
            <table
                class=move || if all.get() { "table table-stack history history-all" } else { "table table-stack history" }
                data-testid="backup-history"
            >
                <thead>
                    <tr>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Backup"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="num">
                            "Size (MB)"
                        </th>
                        <th scope="col" class="col-extra">
                            "Location"
                        </th>
                        <th scope="col" class="col-extra">
                            "SHA-256"
                        </th>
                        <th scope="col">"Offsite"</th>
                        <th scope="col">"Result"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {if items.is_empty() {
                        view! {
                            <tr class="row-empty">
                                <td colspan="9" class="muted">
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

/// One backup; each cell says what it is (`data-label`) for the card layout.
fn history_row(b: Backup) -> impl IntoView {
    let id = b.id;
    let succeeded = b.succeeded();
    let deleted = b.state() == Some(BackupState::Deleted);
    let kind = kind_label(&b);
    view! {
        <tr
            data-testid="backup-row"
            data-backup-id=id.to_string()
            data-kind=b.kind.clone()
            data-pinned=if b.pinned { "true" } else { "false" }
            class=if deleted { "row-deleted" } else { "" }
        >
            <td class="cell-when" data-label="Started">
                <span class="nowrap">{format_time(&b.started_at)}</span>
                <small class="muted cell-sub" data-testid="backup-duration">
                    {b.duration_ms.map(format::duration_ms).unwrap_or_else(|| "—".into())}
                </small>
            </td>
            <td class="cell-what" data-label="Backup">
                <span data-testid="backup-kind">
                    {kind} {b.pinned.then(|| view! { " " <PinMarker /> })}
                </span>
                <small class="muted cell-sub" data-testid="backup-actor">
                    {b.actor.clone().map(|a| format!("by {a}")).unwrap_or_default()}
                </small>
            </td>
            <td data-label="Status">
                <StatusPill status=b.status.clone() />
                " "
                <ProvenMark t=b.restorable.clone() />
            </td>
            <td class="num nowrap" data-label="Size (MB)">
                {b.size_bytes.map(|s| format!("{:.2}", s as f64 / 1_000_000.0)).unwrap_or_else(|| "—".into())}
            </td>
            <td class="col-extra location" data-label="Location">
                {b.location.clone().unwrap_or_else(|| "—".into())}
            </td>
            <td class="col-extra nowrap" data-label="SHA-256">
                {match b.sha256.clone() {
                    Some(h) => view! { <CopyHash hash=h short=true /> }.into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="nowrap" data-label="Offsite">
                <OffsiteMark status=b.offsite_status.clone() message=b.offsite_message.clone() />
            </td>
            <td class="detail cell-result" data-label="Result" data-testid="backup-message">
                <LongText text=b.message.clone().unwrap_or_default() keep=80 />
            </td>
            // The buttons are laid out in a box inside the cell: a cell that is itself a
            // flex box leaves the table's rows and borders.
            <td>
                <div class="row-actions">
                    <a
                        class="btn btn-small"
                        href=format!("/backups/{id}")
                        data-testid="backup-details"
                    >
                        "Details"
                    </a>
                    {succeeded
                        .then(|| {
                            view! {
                                <DownloadLink id class="btn btn-small" testid="backup-download" />
                                <RestoreLink id small=true />
                            }
                        })}
                </div>
            </td>
        </tr>
    }
}

/// How a backup's kind reads (the word itself when this build does not know it).
pub(super) fn kind_label(b: &Backup) -> String {
    b.backup_kind()
        .map(BackupKind::label)
        .unwrap_or(&b.kind)
        .to_string()
}
