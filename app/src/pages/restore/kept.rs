//! The databases swap restores (and their roll backs) kept aside on the database server:
//! what they are, what they cost there, when Lifeboat drops them, and dropping one now.

use super::ask::{Ask, Question};
use crate::api::KeptDatabase;
use crate::client;
use crate::components::{ticking_now, Loaded};
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
                "Each swap restore keeps the earlier database aside on the database server as an instant roll-back point, and each roll back keeps the restored one. They take space there until they are dropped."
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
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th class="num">"Size"</th>
                        <th>"Kept"</th>
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
                            view! {
                                <tr data-testid="kept-row" data-name=k.name.clone() data-role=k.role.clone()>
                                    <td>
                                        <code>{k.name.clone()}</code>
                                        <div class="cell-sub muted">{what}</div>
                                    </td>
                                    <td class="num" data-testid="kept-size">{format::bytes(k.size_bytes)}</td>
                                    <td data-testid="kept-age">{age}</td>
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
                                            on:click=move |_| dropping.set(Some(name.clone()))
                                        >
                                            "Drop"
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
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
                " is dropped from the database server now: it can no longer be swapped back. Its final backup, if one was taken, stays in the history."
            </p>
        </Ask>
    }
}
