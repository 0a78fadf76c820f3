//! The confirmation before a restore: what will be replaced by what, the database's name
//! typed by hand, the advanced options. Focus stays inside while it is open (Tab and
//! Shift+Tab wrap around), Escape or a click outside closes it, and the focus goes back to
//! the button that opened it.

use super::Candidate;
use crate::api::{
    RestoreOptions, RestorePlan, RestoreRequest, RestoreStart, RestoreStrategy, StartedRestore,
};
use crate::client::{self, Refusal};
use crate::components::{Dialog, FormError};
use crate::format;
use leptos::prelude::*;

#[component]
pub(super) fn ConfirmRestore(
    candidate: Candidate,
    target: Memo<Option<String>>,
    confirm: RwSignal<Option<Candidate>>,
    start: Action<RestoreStart, Result<StartedRestore, Refusal>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let defaults = RestoreOptions::default();
    let single = RwSignal::new(defaults.single_transaction);
    let no_owner = RwSignal::new(defaults.no_owner);
    let no_acl = RwSignal::new(defaults.no_acl);
    let terminate = RwSignal::new(defaults.terminate_sessions);
    // `None`: the server's choice (swap when it can, else in place), said in its answer.
    let strategy = RwSignal::new(None::<RestoreStrategy>);
    let new_database = RwSignal::new(String::new());
    let is_copy = move || strategy.get() == Some(RestoreStrategy::Copy);

    let pending = start.pending();
    // The name typed to confirm: the database replaced, or for a copy the one created
    // (the server checks the same).
    let matches = Memo::new(move |_| {
        if is_copy() {
            let new = new_database.with(|n| n.trim().to_string());
            !new.is_empty() && typed.with(|x| x.trim() == new)
        } else {
            target.with(|t| t.as_deref().is_some_and(|t| typed.with(|x| x == t)))
        }
    });
    let close = Callback::new(move |()| {
        if !pending.get_untracked() {
            confirm.set(None);
        }
    });
    let upload_id = candidate.upload_id.clone();
    let backup_id = candidate.backup_id;
    let go = move || {
        if !matches.get_untracked() || pending.get_untracked() {
            return;
        }
        error.set(None);
        let chosen = strategy.get_untracked();
        start.dispatch(RestoreStart {
            request: RestoreRequest {
                upload_id: upload_id.clone(),
                backup_id,
                confirm: typed.get_untracked().trim().to_string(),
                options: RestoreOptions {
                    single_transaction: single.get_untracked(),
                    no_owner: no_owner.get_untracked(),
                    no_acl: no_acl.get_untracked(),
                    terminate_sessions: terminate.get_untracked(),
                },
            },
            strategy: chosen,
            new_database: (chosen == Some(RestoreStrategy::Copy))
                .then(|| new_database.get_untracked().trim().to_string()),
        });
    };
    let db = move || target.get().unwrap_or_else(|| "?".into());
    let title = if candidate.rollback {
        "Roll back to the state before the restore?"
    } else {
        "Replace the database’s contents?"
    };
    let what = candidate.what.clone();
    let checkbox = move |sig: RwSignal<bool>,
                         testid: &'static str,
                         label: &'static str,
                         help: &'static str| {
        view! {
            <label class="option">
                <input
                    type="checkbox"
                    data-testid=testid
                    prop:checked=move || sig.get()
                    on:change=move |ev| sig.set(event_target_checked(&ev))
                />
                <span>
                    <span class="option-label">{label}</span>
                    <small class="muted">{help}</small>
                </span>
            </label>
        }
        .into_any()
    };

    view! {
        <Dialog
            title=title.to_string()
            testid="restore-dialog"
            on_close=close
            focus="[data-testid=confirm-name]"
            wide=true
        >
            <form on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                go();
            }>
                <p id="restore-dialog-text" class="modal-risk" hidden=is_copy>
                    "Everything now in the database "
                    <strong data-testid="confirm-target">{db}</strong>
                    " will be replaced by the contents of "
                    {what.clone()}
                    ". Anything written to it since that file was made is lost from it. "
                    "Lifeboat first takes a safety backup of the current state and keeps it, so you can come back to it."
                </p>
                <p class="modal-risk" hidden=move || !is_copy() data-testid="copy-text">
                    "A new database is created with the contents of "
                    {what}
                    "; " <strong>{db}</strong> " is not touched."
                </p>
                <StrategyChoice
                    strategy
                    new_database
                    db=Signal::derive(db)
                    upload_id=candidate.upload_id.clone()
                    backup_id=candidate.backup_id
                />
                <dl class="detail-list detail-compact" data-testid="confirm-facts">
                    <dt>"Target database"</dt>
                    <dd>{db}</dd>
                    {candidate
                        .facts
                        .iter()
                        .cloned()
                        .map(|(label, value)| view! { <dt>{label}</dt><dd>{value}</dd> })
                        .collect_view()}
                </dl>
                <label class="field confirm-field">
                    <span>
                        {move || {
                            if is_copy() {
                                let n = new_database.get().trim().to_string();
                                view! {
                                    "Type the name of the new database"
                                    {(!n.is_empty()).then(|| view! { ", " <code>{n}</code> })}
                                    ", to confirm"
                                }
                                    .into_any()
                            } else {
                                view! { "Type the name of the database, " <code>{db}</code> ", to confirm" }
                                    .into_any()
                            }
                        }}
                    </span>
                    <input
                        data-testid="confirm-name"
                        autocomplete="off"
                        autocapitalize="off"
                        spellcheck="false"
                        on:input=move |ev| typed.set(event_target_value(&ev))
                    />
                </label>
                <details class="restore-options">
                    <summary>"Advanced options"</summary>
                    {checkbox(
                        single,
                        "option-single-transaction",
                        "Single transaction",
                        "All or nothing: if any object fails, the database is left exactly as it was.",
                    )}
                    {checkbox(
                        terminate,
                        "option-terminate-sessions",
                        "End other sessions on the database first",
                        "Applications connected to it are disconnected; their locks would otherwise make the restore wait.",
                    )}
                    {checkbox(
                        no_owner,
                        "option-no-owner",
                        "Do not restore ownership (--no-owner)",
                        "Objects will belong to the user Lifeboat connects as.",
                    )}
                    {checkbox(
                        no_acl,
                        "option-no-acl",
                        "Do not restore privileges (--no-acl)",
                        "Skips the GRANT and REVOKE commands of the archive.",
                    )}
                </details>
                {move || {
                    error
                        .get()
                        .map(|m| {
                            view! { <FormError message=m testid="restore-error" /> }
                        })
                }}
                <div class="modal-actions">
                    <button
                        type="button"
                        class="btn"
                        data-testid="restore-cancel"
                        on:click=move |_| close.run(())
                    >
                        "Cancel"
                    </button>
                    <button
                        type="submit"
                        class="btn btn-danger"
                        data-testid="restore-confirm"
                        disabled=move || !matches.get() || pending.get()
                    >
                        {move || {
                            if pending.get() {
                                "Starting…"
                            } else if confirm.with(|c| c.as_ref().is_some_and(|c| c.rollback)) {
                                "Roll back"
                            } else if is_copy() {
                                "Restore as a copy"
                            } else {
                                "Replace and restore"
                            }
                        }}
                    </button>
                </div>
            </form>
        </Dialog>
    }
    .into_any()
}

/// Which strategy runs, and what each does, in one sentence each; what Lifeboat would
/// choose here and why, and what a swap keeps aside (the live database's size, for how
/// long), as the server says.
#[component]
fn StrategyChoice(
    strategy: RwSignal<Option<RestoreStrategy>>,
    new_database: RwSignal<String>,
    db: Signal<String>,
    upload_id: Option<String>,
    backup_id: Option<i64>,
) -> impl IntoView {
    let plan = LocalResource::new(move || client::restores::plan(upload_id.clone(), backup_id));
    let known = move || plan.get().and_then(Result::ok);
    let chosen = move || {
        known().map(|p: RestorePlan| {
            let name = if p.strategy == RestoreStrategy::Swap.as_str() {
                "swap"
            } else {
                "in place"
            };
            view! {
                <p class="strategy-plan" data-testid="strategy-plan">
                    "Here Lifeboat would restore by " <strong>{name}</strong> ": " {p.reason}
                </p>
            }
        })
    };
    let offline_estimate = move || {
        known().and_then(|p: RestorePlan| {
            let ms = p.in_place_offline_ms?;
            Some(view! {
                <small class="muted" data-testid="strategy-in-place-estimate">
                    {format!(
                        "Offline for about {}: {}.",
                        format::duration_ms(ms),
                        p.in_place_offline_basis.unwrap_or_default()
                    )}
                </small>
            })
        })
    };
    let kept_aside = move || {
        known().map(|p: RestorePlan| {
            let size = p
                .database_size_bytes
                .map_or_else(|| "as much space as it takes now".into(), format::bytes);
            view! {
                <small class="muted" data-testid="strategy-kept-aside">
                    {format!(
                        "Kept aside: {size} on the database server, for {} (then dropped, once its final backup has succeeded).",
                        format::span_secs(p.keep_old_databases_secs)
                    )}
                </small>
            }
        })
    };
    let choice = move |value: Option<RestoreStrategy>, label: &'static str, help: String| {
        let testid = value.map_or("strategy-auto", |s| match s {
            RestoreStrategy::Swap => "strategy-swap",
            RestoreStrategy::InPlace => "strategy-in_place",
            RestoreStrategy::Copy => "strategy-copy",
        });
        view! {
            <label class="option">
                <input
                    type="radio"
                    name="restore-strategy"
                    data-testid=testid
                    prop:checked=move || strategy.get() == value
                    on:change=move |_| strategy.set(value)
                />
                <span>
                    <span class="option-label">{label}</span>
                    <small class="muted">{help}</small>
                </span>
            </label>
        }
    };
    let d = db.get_untracked();
    view! {
        <fieldset class="restore-strategy" data-testid="strategy-choice">
            <legend>"How to restore"</legend>
            {chosen}
            {choice(
                None,
                "Let Lifeboat choose",
                "Swap when the database server allows Lifeboat to create databases, else in place; the result says which ran and why.".to_string(),
            )}
            {choice(
                Some(RestoreStrategy::Swap),
                "Swap",
                format!(
                    "Restored into a new database and checked while {d} stays online; the application is offline only for the swap of names, and the old database is kept aside on the database server as the instant roll-back point, and backed up."
                ),
            )}
            {kept_aside}
            {choice(
                Some(RestoreStrategy::InPlace),
                "In place",
                format!(
                    "Restored over {d} itself: the application is kept out of {d} from the start of the safety backup until the restore ends."
                ),
            )}
            {offline_estimate}
            {choice(
                Some(RestoreStrategy::Copy),
                "As a copy",
                format!("Restored into a new database with the name you give; {d} is not touched."),
            )}
            {move || {
                (strategy.get() == Some(RestoreStrategy::Copy))
                    .then(|| {
                        view! {
                            <label class="field">
                                <span>"Name of the new database"</span>
                                <input
                                    data-testid="copy-database"
                                    autocomplete="off"
                                    spellcheck="false"
                                    prop:value=move || new_database.get()
                                    on:input=move |ev| new_database.set(event_target_value(&ev))
                                />
                            </label>
                        }
                    })
            }}
        </fieldset>
    }
}
