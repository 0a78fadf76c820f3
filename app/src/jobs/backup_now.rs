//! "Back up now" in the sidebar and its confirmation.

use super::use_backups;
use crate::api::Capability;
use crate::components::{refusal, Dialog};
use leptos::prelude::*;

/// "Back up now" in the sidebar.
#[component]
pub fn BackupNowButton() -> impl IntoView {
    let b = use_backups();
    // A role that may not back up sees the button in its place, disabled, saying why.
    let refused = refusal(Capability::BackUp);
    let may = refused.is_none();
    view! {
        <div class="backup-now">
            <button
                class="btn btn-primary btn-block"
                data-testid="backup-now"
                aria-keyshortcuts="Control+Alt+S"
                title=refused.unwrap_or_else(|| "Back up now (Ctrl+Alt+S)".to_string())
                aria-disabled=(!may).then_some("true")
                disabled=move || !may || b.starting()
                on:click=move |_| b.request()
            >
                "Back up now"
            </button>
            <small class="muted shortcut-hint" aria-hidden="true">
                <kbd>"Ctrl"</kbd>
                "+"
                <kbd>"Alt"</kbd>
                "+"
                <kbd>"S"</kbd>
            </small>
        </div>
    }
}

/// The confirmation, while it is open.
#[component]
pub fn ConfirmBackupModal() -> impl IntoView {
    let b = use_backups();
    view! {
        <Show when=move || b.confirm_open.get()>
            <ConfirmBackup />
        </Show>
    }
}

#[component]
fn ConfirmBackup() -> impl IntoView {
    let b = use_backups();
    let close = Callback::new(move |()| b.confirm_open.set(false));
    let what = move || match b.database.get() {
        Some(db) => format!(
            "Lifeboat will check its configuration, then back up the database “{db}” with \
             pg_dump, verify the file and store it."
        ),
        None => "Lifeboat will check its configuration, then back up the database with \
                 pg_dump, verify the file and store it."
            .to_string(),
    };
    view! {
        <Dialog
            title="Back up now?".to_string()
            testid="confirm-backup"
            on_close=close
            focus="[data-testid=confirm-backup-go]"
        >
            <p id="confirm-backup-text">{what} " You can follow its progress and cancel it."</p>
            <div class="modal-actions">
                <button class="btn" data-testid="confirm-backup-cancel" on:click=move |_| close.run(())>
                    "Cancel"
                </button>
                <button class="btn btn-primary" data-testid="confirm-backup-go" on:click=move |_| b.start()>
                    "Back up now"
                </button>
            </div>
        </Dialog>
    }
}
