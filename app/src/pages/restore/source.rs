//! What to restore: a `.dump` dropped or chosen here (checked, uploaded, validated), or a
//! backup of the history.

use super::check;
use super::transfer::Transfer;
use super::{Candidate, Pick};
use crate::api::{BackupDetail, Upload};
use crate::client;
use crate::components::{hydrated, CopyHash, Fact, Loaded, ProgressBar, Tone};
use crate::format::{self, format_time};
use crate::pages::backups::kind_label;
use leptos::prelude::*;

/// Above this many tables the list is folded.
const FOLD_TABLES_ABOVE: usize = 12;

/// The drop zone, the file picker, the upload's progress and the server's verdict.
#[component]
pub(super) fn FileSource(pick: RwSignal<Pick>, open: Callback<Candidate>) -> impl IntoView {
    let ready = hydrated();
    let transfer = StoredValue::new_local(None::<Transfer>);
    // Bumped for each file picked: answers about an earlier file are ignored.
    let generation = StoredValue::new(0u64);
    let over = RwSignal::new(false);
    let depth = StoredValue::new(0i32);

    #[cfg(not(feature = "hydrate"))]
    let _ = generation;
    #[cfg(feature = "hydrate")]
    let take = move |file: web_sys::File| browser::accept(file, pick, transfer, generation);

    // A file dropped next to the zone must not make the browser leave the page to show it.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let a = window_event_listener(leptos::ev::dragover, |ev| ev.prevent_default());
        let b = window_event_listener(leptos::ev::drop, |ev| ev.prevent_default());
        on_cleanup(move || {
            a.remove();
            b.remove();
        });
    });

    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        depth.set_value(0);
        over.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(file) = ev
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|files| files.get(0))
        {
            take(file);
        }
    };
    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                take(file);
            }
            // Choosing the same file again is a new choice.
            input.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let cancel = move |_| {
        pick.update(|p| {
            if let Pick::Uploading { name, .. } | Pick::Validating { name } = p {
                *p = Pick::Cancelled {
                    name: std::mem::take(name),
                };
            }
        });
        transfer.with_value(|t| {
            if let Some(t) = t {
                t.abort();
            }
        });
    };
    let busy = Memo::new(move |_| {
        pick.with(|p| {
            matches!(
                p,
                Pick::Checking { .. } | Pick::Uploading { .. } | Pick::Validating { .. }
            )
        })
    });

    view! {
        <section class="restore-source" aria-label="The file to restore">
            <div
                class="drop-zone"
                class:drop-zone-over=move || over.get()
                class:drop-zone-busy=move || busy.get()
                data-testid="drop-zone"
                data-ready=move || ready.get().to_string()
                on:dragenter=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    depth.update_value(|d| *d += 1);
                    over.set(true);
                }
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    #[cfg(feature = "hydrate")]
                    if let Some(d) = ev.data_transfer() {
                        d.set_drop_effect("copy");
                    }
                    over.set(true);
                }
                on:dragleave=move |_| {
                    depth.update_value(|d| *d -= 1);
                    if depth.get_value() <= 0 {
                        depth.set_value(0);
                        over.set(false);
                    }
                }
                on:drop=on_drop
            >
                <span class="drop-zone-icon" aria-hidden="true">
                    "⇪"
                </span>
                <p class="drop-zone-title">"Drop a .dump file here"</p>
                <p class="muted drop-zone-or">"or"</p>
                <label class="btn btn-primary file-pick">
                    "Choose a file…"
                    <input
                        type="file"
                        class="visually-hidden"
                        accept=".dump,.backup,.pgdump,application/octet-stream"
                        data-testid="file-input"
                        disabled=move || !ready.get()
                        on:change=on_change
                    />
                </label>
                <p class="muted drop-zone-hint">
                    "A custom-format archive made with " <code>"pg_dump -Fc"</code>
                    " (.dump, .backup, .pgdump)."
                </p>
            </div>
            {move || pick_view(pick.get(), cancel, open)}
        </section>
    }
}

fn pick_view(
    p: Pick,
    cancel: impl Fn(leptos::ev::MouseEvent) + 'static,
    open: Callback<Candidate>,
) -> AnyView {
    match p {
        Pick::Empty => ().into_any(),
        Pick::Checking { name } => view! {
            <p class="muted pick-status" aria-live="polite">
                {format!("Checking {name}…")}
            </p>
        }
        .into_any(),
        Pick::Refused { name, message } => view! {
            <div class="refusal" role="alert" data-testid="file-refusal">
                <strong>{format!("{name} was not sent: ")}</strong>
                {message}
            </div>
        }
        .into_any(),
        Pick::Uploading {
            name,
            loaded,
            total,
            started_ms,
            now_ms,
        } => {
            let share = if total > 0.0 {
                (loaded / total * 100.0).clamp(0.0, 100.0)
            } else {
                0.0
            };
            let secs = (now_ms - started_ms) / 1000.0;
            let speed = if secs > 0.2 { loaded / secs } else { 0.0 };
            let eta = check::remaining(total - loaded, speed).unwrap_or_default();
            view! {
                <div class="upload-progress" data-testid="upload-progress">
                    <p class="upload-name">{format!("Sending {name}")}</p>
                    <ProgressBar percent=share label="Upload progress".to_string() />
                    <div class="progress-row">
                        <span class="job-percent" data-testid="upload-percent">
                            {format::percent(share)}
                        </span>
                        <span class="muted">
                            {format!(
                                "{} of {}",
                                format::bytes(loaded as i64),
                                format::bytes(total as i64),
                            )}
                        </span>
                        <span class="muted" data-testid="upload-speed">
                            {check::rate(speed)}
                        </span>
                        <span class="muted" data-testid="upload-eta">
                            {eta}
                        </span>
                    </div>
                    <button class="btn" data-testid="upload-cancel" on:click=cancel>
                        "Cancel"
                    </button>
                </div>
            }
            .into_any()
        }
        Pick::Validating { name } => view! {
            <div class="upload-progress" data-testid="upload-progress">
                <p class="upload-name">{format!("{name} sent")}</p>
                <ProgressBar percent=100.0 tone=Tone::Busy />
                <p class="muted" aria-live="polite" data-testid="upload-validating">
                    "Lifeboat is checking the archive (its header and table of contents)…"
                </p>
                <button class="btn" data-testid="upload-cancel" on:click=cancel>
                    "Cancel"
                </button>
            </div>
        }
        .into_any(),
        Pick::ServerRefused { name, message } => view! {
            <div class="refusal" role="alert" data-testid="upload-refusal">
                <strong>{format!("Lifeboat refused {name}: ")}</strong>
                {message}
            </div>
        }
        .into_any(),
        Pick::Cancelled { name } => view! {
            <p class="muted pick-status" data-testid="upload-cancelled">
                {format!("Upload of {name} cancelled. Nothing was kept.")}
            </p>
        }
        .into_any(),
        Pick::Ready(upload) => view! { <UploadSummary upload=*upload open /> }.into_any(),
    }
}

/// What the server found in the archive, and the way on to the confirmation.
#[component]
fn UploadSummary(upload: Upload, open: Callback<Candidate>) -> impl IntoView {
    let s = upload.summary.clone();
    let compatible = s.compatible;
    let counts = [
        (s.schemas, "schema", "schemas"),
        (s.tables, "table", "tables"),
        (s.indexes, "index", "indexes"),
        (s.functions, "function", "functions"),
        (s.other, "other object", "other objects"),
    ]
    .iter()
    .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
    .collect::<Vec<_>>()
    .join(", ");
    let candidate = Candidate {
        upload_id: Some(upload.upload_id.clone()),
        backup_id: None,
        what: format!("the uploaded file {}", upload.file_name),
        facts: [
            Some(("File", upload.file_name.clone())),
            Some(("Size", format::bytes(upload.size_bytes))),
            Some(("SHA-256", upload.sha256.clone())),
            s.source_database.clone().map(|d| ("Dumped from", d)),
            s.created_at.clone().map(|d| ("Dumped at", d)),
            Some(("Contents", counts.clone())),
        ]
        .into_iter()
        .flatten()
        .collect(),
        rollback: false,
    };
    view! {
        <section class="card restore-summary" data-testid="upload-summary">
            <header class="card-head">
                <h2>{format!("Checked: {}", upload.file_name)}</h2>
                {if compatible {
                    view! { <span class="pill pill-ok">"valid archive"</span> }.into_any()
                } else {
                    view! { <span class="pill pill-bad">"cannot be restored here"</span> }.into_any()
                }}
            </header>
            <dl class="detail-list">
                <Fact label="File" testid="summary-file" value=Some(upload.file_name.clone()) />
                <Fact
                    label="Size"
                    testid="summary-size"
                    value=Some(format!("{} ({} bytes)", format::bytes(upload.size_bytes), upload.size_bytes))
                />
                <dt>"SHA-256"</dt>
                <dd data-testid="summary-sha256">
                    <CopyHash hash=upload.sha256.clone() short=false />
                </dd>
                <Fact label="Source database" testid="summary-source-database" value=s.source_database.clone() />
                <Fact label="Dumped at" testid="summary-created-at" value=s.created_at.clone() />
                <Fact label="Server version" testid="summary-server-version" value=s.server_version.clone() />
                <Fact label="pg_dump version" testid="summary-pg-dump-version" value=s.pg_dump_version.clone() />
                <Fact label="Archive version" testid="summary-archive-version" value=Some(s.archive_version.clone()) />
                <Fact label="Compression" testid="summary-compression" value=s.compression.clone() />
                <Fact label="Contents" testid="summary-counts" value=Some(counts) />
                <Fact label="Would replace" testid="summary-target" value=upload.database.clone() />
                <Fact label="Kept until" testid="summary-expires" value=Some(format_time(&upload.expires_at)) />
            </dl>
            <TableList names=s.table_names.clone() />
            <Compatibility compatible notes=s.compatibility.clone() />
            <div class="card-actions">
                <button
                    class="btn btn-primary"
                    data-testid="restore-open"
                    disabled=!compatible
                    on:click=move |_| open.run(candidate.clone())
                >
                    "Restore…"
                </button>
                {(!compatible)
                    .then(|| {
                        view! {
                            <span class="muted">
                                "This archive cannot be restored into this server (see the notes above)."
                            </span>
                        }
                    })}
            </div>
        </section>
    }
}

/// The tables of the archive; folded when there are many.
#[component]
fn TableList(names: Vec<String>) -> impl IntoView {
    let n = names.len();
    if n == 0 {
        return view! {
            <p class="muted" data-testid="summary-tables">
                "The archive has no tables."
            </p>
        }
        .into_any();
    }
    let list = view! {
        <ul class="table-names" data-testid="summary-tables">
            {names.into_iter().map(|t| view! { <li><code>{t}</code></li> }).collect_view()}
        </ul>
    };
    if n > FOLD_TABLES_ABOVE {
        view! {
            <details class="fold">
                <summary>{format!("{n} tables")}</summary>
                {list}
            </details>
        }
        .into_any()
    } else {
        view! {
            <h3 class="subsection-title">{format!("Tables ({n})")}</h3>
            {list}
        }
        .into_any()
    }
}

/// Whether a compatibility note is a warning (words that say something may not fit).
fn is_warning(note: &str) -> bool {
    let n = note.to_lowercase();
    [
        "warn", "newer", "older", "cannot", "can't", "not ", "may ", "unknown", "differ",
    ]
    .iter()
    .any(|w| n.contains(w))
}

#[component]
fn Compatibility(compatible: bool, notes: Vec<String>) -> impl IntoView {
    (!notes.is_empty()).then(|| {
        view! {
            <h3 class="subsection-title">"Compatibility"</h3>
            <ul class="compat-notes" data-testid="summary-compatibility">
                {notes
                    .into_iter()
                    .map(|note| {
                        let class = if !compatible {
                            "compat-note compat-bad"
                        } else if is_warning(&note) {
                            "compat-note compat-warn"
                        } else {
                            "compat-note"
                        };
                        view! { <li class=class>{note}</li> }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

/// `/restore?backup=ID`: that backup instead of an upload.
#[component]
pub(super) fn BackupSource(id: i64, open: Callback<Candidate>) -> impl IntoView {
    let detail = LocalResource::new(move || async move { client::backups::detail(id).await });
    view! {
        <section class="card restore-summary" data-testid="backup-source">
            <Loaded resource=detail loading="Loading the backup…" let:d>
                <BackupFacts d open />
            </Loaded>
            <p class="muted source-switch">
                <a href="/restore">"Restore an uploaded file instead"</a>
            </p>
        </section>
    }
}

/// What the confirmation says about a backup of the history.
pub(super) fn backup_candidate(d: &BackupDetail, rollback: bool) -> Candidate {
    let b = &d.backup;
    Candidate {
        upload_id: None,
        backup_id: Some(b.id),
        what: if rollback {
            format!("safety backup #{}", b.id)
        } else {
            format!("backup #{}", b.id)
        },
        facts: [
            Some(("Backup", format!("#{} ({})", b.id, kind_label(b)))),
            b.file_name.clone().map(|f| ("File", f)),
            Some(("Taken", format_time(&b.started_at))),
            Some(("Of database", b.database.clone())),
            b.size_bytes.map(|s| ("Size", format::bytes(s))),
            b.sha256.clone().map(|h| ("SHA-256", h)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        rollback,
    }
}

#[component]
fn BackupFacts(d: BackupDetail, open: Callback<Candidate>) -> impl IntoView {
    let candidate = backup_candidate(&d, false);
    let b = d.backup;
    let restorable = b.succeeded() && b.file_name.is_some();
    view! {
        <header class="card-head">
            <h2>
                {format!("Backup #{}", b.id)}
                {b.file_name.clone().map(|f| format!(" — {f}"))}
            </h2>
            <a class="btn btn-small btn-quiet" href=format!("/backups/{}", b.id)>
                "Details"
            </a>
        </header>
        <dl class="detail-list">
            <Fact label="Database" testid="source-database" value=Some(b.database.clone()) />
            <Fact label="Kind" testid="source-kind" value=Some(kind_label(&b)) />
            <Fact label="Status" testid="source-status" value=Some(b.status.clone()) />
            <Fact label="Taken" testid="source-started" value=Some(format_time(&b.started_at)) />
            <Fact label="Size" testid="source-size" value=b.size_bytes.map(format::bytes) />
            <dt>"SHA-256"</dt>
            <dd data-testid="source-sha256">
                {match b.sha256.clone() {
                    Some(h) => view! { <CopyHash hash=h short=false /> }.into_any(),
                    None => view! { "—" }.into_any(),
                }}
            </dd>
            <Fact label="Server version" testid="source-server-version" value=d.server_version />
            <Fact label="pg_dump version" testid="source-pg-dump-version" value=d.pg_dump_version />
            <Fact label="Archive version" testid="source-archive-version" value=d.archive_version />
        </dl>
        <div class="card-actions">
            <button
                class="btn btn-primary"
                data-testid="restore-open"
                disabled=!restorable
                on:click=move |_| open.run(candidate.clone())
            >
                "Restore…"
            </button>
            {(!restorable)
                .then(|| {
                    view! { <span class="muted">"Only a successful backup can be restored."</span> }
                })}
        </div>
    }
}

/// The browser's part: check the file, then send it.
#[cfg(feature = "hydrate")]
mod browser {
    use super::super::transfer::{first_bytes, Progress, Transfer};
    use super::{check, Pick};
    use leptos::prelude::*;

    fn now_ms() -> f64 {
        web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| p.now())
            .unwrap_or(0.0)
    }

    /// A file was dropped or chosen: stop any earlier upload, check the name, read the
    /// first bytes, then upload.
    pub(super) fn accept(
        file: web_sys::File,
        pick: RwSignal<Pick>,
        transfer: StoredValue<Option<Transfer>, LocalStorage>,
        generation: StoredValue<u64>,
    ) {
        transfer.set_value(None);
        generation.update_value(|g| *g += 1);
        let this = generation.get_value();
        let name = file.name();
        if let Err(message) = check::check_name(&name) {
            pick.set(Pick::Refused { name, message });
            return;
        }
        pick.set(Pick::Checking { name: name.clone() });
        leptos::task::spawn_local(async move {
            let verdict = first_bytes(&file, check::MAGIC.len() as i32)
                .await
                .and_then(|head| check::check_magic(&head));
            if generation.try_get_value() != Some(this) {
                return;
            }
            match verdict {
                Err(message) => {
                    pick.try_set(Pick::Refused { name, message });
                }
                Ok(()) => send(file, name, this, pick, transfer, generation),
            }
        });
    }

    fn send(
        file: web_sys::File,
        name: String,
        this: u64,
        pick: RwSignal<Pick>,
        transfer: StoredValue<Option<Transfer>, LocalStorage>,
        generation: StoredValue<u64>,
    ) {
        let started = now_ms();
        pick.set(Pick::Uploading {
            name: name.clone(),
            loaded: 0.0,
            total: file.size(),
            started_ms: started,
            now_ms: started,
        });
        let n = name.clone();
        let on = move |p: Progress| {
            if generation.try_get_value() != Some(this) {
                return;
            }
            match p {
                Progress::Sending { loaded, total } => {
                    pick.try_update(|s| {
                        if let Pick::Uploading {
                            loaded: l,
                            total: t,
                            now_ms,
                            ..
                        } = s
                        {
                            *l = loaded;
                            *t = total;
                            *now_ms = self::now_ms();
                        }
                    });
                }
                Progress::Sent => {
                    pick.try_update(|s| {
                        if let Pick::Uploading { name, .. } = s {
                            *s = Pick::Validating {
                                name: std::mem::take(name),
                            };
                        }
                    });
                }
                Progress::Done(Ok(upload)) => {
                    pick.try_set(Pick::Ready(upload));
                }
                Progress::Done(Err(message)) => {
                    pick.try_set(Pick::ServerRefused {
                        name: n.clone(),
                        message,
                    });
                }
                Progress::Aborted => {
                    pick.try_set(Pick::Cancelled { name: n.clone() });
                }
            }
        };
        match Transfer::start(&file, on) {
            Ok(t) => transfer.set_value(Some(t)),
            Err(message) => pick.set(Pick::ServerRefused { name, message }),
        }
    }
}
