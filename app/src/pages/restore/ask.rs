//! The last question before an irreversible step on the database server (a swap back, a
//! dropped database): what will happen, Cancel, and the button that does it.

use crate::components::{Dialog, FormError};
use leptos::prelude::*;

/// The words and test ids of one question.
#[derive(Clone, Copy)]
pub(super) struct Question {
    pub title: &'static str,
    pub testid: &'static str,
    /// A CSS selector of the button that does it (it gets the focus).
    pub focus: &'static str,
    pub confirm_testid: &'static str,
    pub error_testid: &'static str,
    pub yes: &'static str,
    pub busy: &'static str,
}

/// Asks `q`; on yes runs `go`, then `done` with its answer (its error stays in the dialog).
/// `close` is called by Cancel, Escape and a click outside, never while `go` runs.
#[component]
pub(super) fn Ask<T>(
    q: Question,
    go: Action<(), Result<T, String>>,
    close: Callback<()>,
    done: Callback<T>,
    children: Children,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    let error = RwSignal::new(None::<String>);
    let pending = go.pending();
    Effect::new(move |_| match go.value().get() {
        Some(Ok(answer)) => done.run(answer),
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let cancel = Callback::new(move |()| {
        if !pending.get_untracked() {
            close.run(());
        }
    });
    view! {
        <Dialog title=q.title.to_string() testid=q.testid on_close=cancel focus=q.focus>
            {children()}
            {move || error.get().map(|m| view! { <FormError message=m testid=q.error_testid /> })}
            <div class="modal-actions">
                <button type="button" class="btn" on:click=move |_| cancel.run(())>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-danger"
                    data-testid=q.confirm_testid
                    disabled=move || pending.get()
                    on:click=move |_| {
                        error.set(None);
                        go.dispatch(());
                    }
                >
                    {move || if pending.get() { q.busy } else { q.yes }}
                </button>
            </div>
        </Dialog>
    }
}
