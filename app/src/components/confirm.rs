//! The "confirm it's you" dialog: asked by the API client when the server wants the
//! password again before a destructive action (see `client::confirm`). One per signed-in
//! frame; the action that was refused is sent again once the password is confirmed.

use super::{field_value, Dialog, FormError};
use crate::api::ConfirmRequest;
use crate::client::{self, ClientError};
use leptos::prelude::*;

#[component]
pub fn ConfirmItsYou() -> impl IntoView {
    let open = RwSignal::new(false);
    Effect::new(move |_| client::confirm::on_ask(move || open.set(true)));
    let password = NodeRef::<leptos::html::Input>::new();
    let check = Action::new_local(|req: &ConfirmRequest| {
        let req = req.clone();
        async move { client::auth::confirm(&req).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = check.value().get() {
            check.value().set(None);
            open.set(false);
            client::confirm::answer(true);
        }
    });
    let error = move || match check.value().get() {
        Some(Err(ClientError::Status { status: 403, .. })) => Some("Wrong password.".to_string()),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let cancel = Callback::new(move |()| {
        if !check.pending().get_untracked() {
            check.value().set(None);
            open.set(false);
            client::confirm::answer(false);
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        check.dispatch(ConfirmRequest {
            password: field_value(password),
        });
    };
    move || {
        open.get().then(|| {
            view! {
                <Dialog
                    title="Confirm it’s you".to_string()
                    testid="confirm-its-you"
                    on_close=cancel
                    focus="input[type=password]"
                >
                    <p id="confirm-its-you-text">
                        "This deletes a recovery point or replaces data. Enter your password again to go on."
                    </p>
                    <form on:submit=on_submit>
                        <label class="field">
                            <span>"Password"</span>
                            <input
                                name="password"
                                type="password"
                                autocomplete="current-password"
                                required
                                data-testid="confirm-password"
                                node_ref=password
                            />
                        </label>
                        {move || error().map(|m| view! { <FormError message=m testid="confirm-error" /> })}
                        <div class="modal-actions">
                            <button type="button" class="btn" on:click=move |_| cancel.run(())>
                                "Cancel"
                            </button>
                            <button
                                type="submit"
                                class="btn btn-primary"
                                data-testid="confirm-submit"
                                disabled=move || check.pending().get()
                            >
                                {move || if check.pending().get() { "Checking…" } else { "Confirm" }}
                            </button>
                        </div>
                    </form>
                </Dialog>
            }
        })
    }
}
