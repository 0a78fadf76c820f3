//! The databases swap restores (and their roll backs) kept aside on the database server:
//! what they are, what they cost there, when Lifeboat drops them, and dropping one now.

use super::ask::{Ask, Question};
use crate::api::{Capability, KeptDatabase};
use crate::client;
use crate::components::{refusal, ticking_now, Loaded, StatusPill};
use crate::format::{self, format_time};
use crate::jobs::Backups;
use leptos::prelude::*;

#[component]
pub(super) fn KeptDatabases(b: Backups) -> impl IntoView {
    // Asked again whenever a job ends (a swap or a roll back adds one).
    let kept = LocalResource::new(move || {
        b.jobs_finished.track();
        client::restores::kept_databases()
    });
    let dropping = RwSignal::new(None::<String>);
    view! {
        <section class="card kept-databases" data-testid="kept-databases" aria-labelledby="kept-title">
            <h2 id="kept-title" class="card-title">"Kept databases"</h2>
            <p class="muted">
                "Each swap restore keeps the earlier database aside on the database server as an instant roll-back point, and each roll back keeps the restored one. Lifeboat backs each one up as soon as it is set aside (a pinned safety backup); it takes space on the database server until it is dropped, which happens only after that backup has succeeded."
            </p>
            <Loaded resource=kept loading="Loading the kept databases…" let:list>
                <KeptTable list dropping />
            </Loaded>
        </section>
        {move || {
            dropping
                .get()
                .map(|name| view! { <DropDialog name dropping done=Callback::new(move |()| kept.refetch()) /> })
        }}
    }
}

#[component]
fn KeptTable(list: Vec<KeptDatabase>, dropping: RwSignal<Option<String>>) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p class="muted" data-testid="kept-empty">"No database is kept aside."</p>
        }
        .into_any();
    }
    let now = ticking_now();
    // Dropping is for administrators; an operator sees why the button is disabled.
    let drop_refused = refusal(Capability::DropKept);
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th class="num">"Size"</th>
                        <th>"Kept"</th>
                        <th>"Final backup"</th>
                        <th>"Dropped"</th>
                        <th>"Restore"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|k| {
                            let created = k.created_at;
                            let drop_after = k.drop_after;
                            let age = move || match (created, now.get()) {
                                (Some(at), Some(now)) => format::age(&at, &now),
                                (Some(at), None) => format_time(&at),
                                _ => "—".into(),
                            };
                            let what = if k.role == "before" {
                                "the contents before the restore"
                            } else {
                                "the restored contents, rolled back"
                            };
                            let name = k.name.clone();
                            let role_refused = drop_refused.is_some();
                            let why_not = drop_refused.clone().or_else(|| k.drop_refusal.clone());
                            let final_backup = FinalBackup {
                                name: k.name.clone(),
                                id: k.final_backup_id,
                                status: k.final_backup_status.clone(),
                            };
                            view! {
                                <tr data-testid="kept-row" data-name=k.name.clone() data-role=k.role.clone()>
                                    <td>
                                        <code>{k.name.clone()}</code>
                                        <div class="cell-sub muted">{what}</div>
                                    </td>
                                    <td class="num" data-testid="kept-size">{format::bytes(k.size_bytes)}</td>
                                    <td data-testid="kept-age">{age}</td>
                                    <td data-testid="kept-final-backup">
                                        <FinalBackupCell f=final_backup />
                                    </td>
                                    <td data-testid="kept-drop-after">
                                        {drop_after.map_or_else(|| "—".into(), |d| format_time(&d))}
                                    </td>
                                    <td>
                                        {k
                                            .restore_id
                                            .map(|id| {
                                                view! {
                                                    <a href=format!("/restore?restore={id}") data-testid="kept-restore">
                                                        {format!("Restore #{id}")}
                                                    </a>
                                                }
                                            })}
                                    </td>
                                    <td class="row-actions">
                                        <button
                                            class="btn btn-quiet"
                                            data-testid="kept-drop"
                                            disabled=why_not.is_some()
                                            aria-disabled=role_refused.then_some("true")
                                            title=why_not.clone()
                                            on:click=move |_| dropping.set(Some(name.clone()))
                                        >
                                            "Drop"
                                        </button>
                                    </td>
                                </tr>
                            }
                            .into_any()
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// A kept database's final backup, as the table shows it.
struct FinalBackup {
    name: String,
    id: Option<i64>,
    status: Option<String>,
}

/// The final backup's state (linked to the backup), and a way to take it again when the
/// last attempt did not succeed: until one has, the database is the only copy of its
/// state and is not dropped.
#[component]
fn FinalBackupCell(f: FinalBackup) -> impl IntoView {
    let retry_shown = !matches!(f.status.as_deref(), Some("succeeded" | "running"));
    let refused = refusal(Capability::FinalBackup);
    let may = refused.is_none();
    let name = f.name.clone();
    let again = Action::new_local(move |_: &()| {
        let name = name.clone();
        async move {
            client::restores::final_backup(&name)
                .await
                .map(|_| ())
                .map_err(|r| r.error.to_string())
        }
    });
    let state = match (f.id, f.status) {
        (Some(id), Some(status)) => view! {
            <a href=format!("/backups/{id}") data-testid="kept-final-link">
                <StatusPill status />
            </a>
        }
        .into_any(),
        _ => view! { <span class="muted">"not taken yet"</span> }.into_any(),
    };
    view! {
        {state}
        {retry_shown
            .then(|| {
                view! {
                    <button
                        class="btn btn-quiet btn-small"
                        data-testid="kept-final-again"
                        title=refused.clone()
                        aria-disabled=(!may).then_some("true")
                        disabled=move || !may || again.pending().get()
                        on:click=move |_| {
                            again.dispatch(());
                        }
                    >
                        "Take it again"
                    </button>
                    {move || {
                        again
                            .value()
                            .get()
                            .map(|r| match r {
                                Ok(()) => view! { <span class="cell-sub muted">"started"</span> }.into_any(),
                                Err(e) => view! { <span class="cell-sub form-error" role="alert">{e}</span> }.into_any(),
                            })
                    }}
                }
            })}
    }
}

/// "Drop this database?": the last word before `DROP DATABASE`.
#[component]
fn DropDialog(
    name: String,
    dropping: RwSignal<Option<String>>,
    done: Callback<()>,
) -> impl IntoView {
    let target = name.clone();
    let go = Action::new_local(move |_: &()| {
        let target = target.clone();
        async move {
            client::restores::drop_kept_database(&target)
                .await
                .map_err(|e| e.to_string())
        }
    });
    let q = Question {
        title: "Drop this kept database?",
        testid: "drop-kept-dialog",
        focus: "[data-testid=drop-kept-confirm]",
        confirm_testid: "drop-kept-confirm",
        error_testid: "drop-kept-error",
        yes: "Drop",
        busy: "Dropping…",
    };
    view! {
        <Ask
            q
            go
            close=Callback::new(move |()| dropping.set(None))
            done=Callback::new(move |()| {
                dropping.set(None);
                done.run(());
            })
        >
            <p>
                "The database " <code>{name}</code>
                " is dropped from the database server now: it can no longer be swapped back. Its final backup stays in the history, pinned."
            </p>
        </Ask>
    }
}
