//! The pieces that show a backup, on the history, its detail page and the Restore page.

use super::role::{refusal, Unavailable};
use crate::api::{BackupState, Capability, OffsiteState, TestRestore};
use crate::client;
use crate::format::{self, format_time};
use leptos::prelude::*;

/// A job or backup status as a coloured pill (the word as the server says it).
#[component]
pub fn StatusPill(status: String) -> impl IntoView {
    let class = match BackupState::parse(&status) {
        Some(BackupState::Succeeded) => "pill pill-ok",
        Some(BackupState::Failed | BackupState::Interrupted) => "pill pill-bad",
        Some(BackupState::Running | BackupState::Queued) => "pill pill-run",
        _ => "pill pill-muted",
    };
    view! {
        <span class=class data-testid="backup-status-pill">
            {status}
        </span>
    }
}

/// The marker of a pinned backup (retention never deletes it).
#[component]
pub fn PinMarker() -> impl IntoView {
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
pub fn OffsiteMark(status: Option<String>, message: Option<String>) -> impl IntoView {
    let (class, text) = match status.as_deref().map(OffsiteState::parse) {
        None => ("offsite offsite-none muted", "—".to_string()),
        Some(Some(OffsiteState::Copied)) => ("offsite offsite-ok", "✓ copied".to_string()),
        Some(Some(OffsiteState::Failed)) => ("offsite offsite-bad", "✕ failed".to_string()),
        Some(Some(OffsiteState::Pending)) => ("offsite offsite-pending", "pending".to_string()),
        Some(_) => ("offsite muted", status.clone().unwrap_or_default()),
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

/// Whether a backup is proven to restore, in a word (its last test restore): `restorable`,
/// `not restorable`, `testing…`; the details (when, how long, how many rows, where) on
/// hover. Nothing when it was never tested.
#[component]
pub fn ProvenMark(t: Option<TestRestore>) -> impl IntoView {
    t.map(|t| {
        let (class, text) = match t.status.as_str() {
            "succeeded" => ("badge badge-proven", "restorable"),
            "running" => ("badge badge-testing", "testing…"),
            "failed" => ("badge badge-unproven", "not restorable"),
            _ => ("badge badge-testing", "test stopped"),
        };
        view! {
            <span
                class=class
                data-testid="backup-proven"
                data-proven=t.status.clone()
                title=proof_words(&t)
            >
                {text}
            </span>
        }
    })
}

/// A test restore in one sentence: `proven on 1 Dec 2026 10:04, in 12.3 s, 4001 rows in 3
/// tables, on db:5432`, or what went wrong.
pub fn proof_words(t: &TestRestore) -> String {
    let when = format_time(&t.started_at);
    match t.status.as_str() {
        "succeeded" => format!(
            "proven on {when}, in {}, {} rows in {} tables, on {}",
            t.duration_ms.map(format::duration_ms).unwrap_or_default(),
            t.rows.unwrap_or(0),
            t.tables.unwrap_or(0),
            t.server
        ),
        "running" => format!("a test restore is running since {when}"),
        other => format!(
            "test restore on {when} {other}: {}",
            t.message.clone().unwrap_or_default()
        ),
    }
}

/// "Restore this backup": the Restore page with this backup instead of an upload (disabled,
/// saying why, for a role that may not restore).
#[component]
pub fn RestoreLink(id: i64, small: bool) -> impl IntoView {
    let label = if small {
        "Restore"
    } else {
        "Restore this backup"
    };
    let class = if small { "btn btn-small" } else { "btn" };
    if let Some(why) = refusal(Capability::Restore) {
        return view! { <Unavailable label why class testid="restore-backup" /> }.into_any();
    }
    view! {
        <a
            class=class
            href=format!("/restore?backup={id}")
            data-testid="restore-backup"
            aria-label="Restore this backup"
            title="Restore this backup into the database"
        >
            {label}
        </a>
    }
    .into_any()
}

/// "Download": the backup file (disabled, saying why, for a role that may not download).
#[component]
pub fn DownloadLink(
    id: i64,
    class: &'static str,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    if let Some(why) = refusal(Capability::Download) {
        return view! { <Unavailable label="Download" why class testid=testid.unwrap_or("download") /> }
            .into_any();
    }
    view! {
        <a class=class href=client::backups::download_url(id) download data-testid=testid>
            "Download"
        </a>
    }
    .into_any()
}

/// The backup file and its `.dump.json` sidecar.
#[component]
pub fn DownloadLinks(id: i64) -> impl IntoView {
    let metadata = match refusal(Capability::Download) {
        Some(why) => view! {
            <Unavailable label="metadata" why class="btn btn-small btn-quiet" testid="backup-metadata" />
        }
        .into_any(),
        None => view! {
            <a
                class="btn btn-small btn-quiet"
                href=client::backups::metadata_url(id)
                download
                data-testid="backup-metadata"
            >
                "metadata"
            </a>
        }
        .into_any(),
    };
    view! {
        <DownloadLink id class="btn btn-small" testid="backup-download" />
        {metadata}
    }
}
