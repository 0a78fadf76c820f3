//! The confirmation before a restore: what will be replaced by what, the database's name
//! typed by hand, the advanced options. Focus stays inside while it is open (Tab and
//! Shift+Tab wrap around), Escape or a click outside closes it, and the focus goes back to
//! the button that opened it.

use super::Candidate;
use crate::api::{RestoreOptions, RestoreRequest, StartedRestore};
use crate::client::Refusal;
use crate::components::{Dialog, FormError};
use leptos::prelude::*;

#[component]
pub(super) fn ConfirmRestore(
    candidate: Candidate,
    target: Memo<Option<String>>,
    confirm: RwSignal<Option<Candidate>>,
    start: Action<RestoreRequest, Result<StartedRestore, Refusal>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let defaults = RestoreOptions::default();
    let single = RwSignal::new(defaults.single_transaction);
    let no_owner = RwSignal::new(defaults.no_owner);
    let no_acl = RwSignal::new(defaults.no_acl);
    let terminate = RwSignal::new(defaults.terminate_sessions);

    let pending = start.pending();
    let matches =
        Memo::new(move |_| target.with(|t| t.as_deref().is_some_and(|t| typed.with(|x| x == t))));
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
        start.dispatch(RestoreRequest {
            upload_id: upload_id.clone(),
            backup_id,
            confirm: typed.get_untracked(),
            options: RestoreOptions {
                single_transaction: single.get_untracked(),
                no_owner: no_owner.get_untracked(),
                no_acl: no_acl.get_untracked(),
                terminate_sessions: terminate.get_untracked(),
            },
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
                <p id="restore-dialog-text" class="modal-risk">
                    "Everything now in the database "
                    <strong data-testid="confirm-target">{db}</strong>
                    " will be replaced by the contents of "
                    {what}
                    ". Anything written to it since that file was made is lost from it. "
                    "Lifeboat first takes a safety backup of the current state and keeps it, so you can come back to it."
                </p>
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
                        "Type the name of the database, " <code>{db}</code> ", to confirm"
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
