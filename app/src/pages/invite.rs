//! An invitation or password-reset link (`/invite#token=…`): the person chooses their
//! password, then signs in. Like the setup link, the token rides in the fragment, which
//! the browser never sends to a server.

use crate::api::InvitationAccept;
use crate::client;
use crate::components::{field_value, hydrated, new_password_problem, FormError};
use leptos::prelude::*;

fn token_from_location() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .and_then(|h| {
                h.trim_start_matches('#')
                    .split('&')
                    .find_map(|p| p.strip_prefix("token="))
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

#[component]
pub fn InvitePage() -> impl IntoView {
    let ready = hydrated();
    let info = LocalResource::new(|| async {
        client::account::check_invitation(&token_from_location()).await
    });
    let password = NodeRef::<leptos::html::Input>::new();
    let repeat = NodeRef::<leptos::html::Input>::new();
    let (local_error, set_local_error) = signal(None::<String>);
    let accept = Action::new_local(|req: &InvitationAccept| {
        let req = req.clone();
        async move { client::account::accept_invitation(&req).await }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let pw = field_value(password);
        if let Some(problem) = new_password_problem(&pw, &field_value(repeat)) {
            set_local_error.set(Some(problem));
            return;
        }
        set_local_error.set(None);
        accept.dispatch(InvitationAccept {
            token: token_from_location(),
            password: pw,
        });
    };
    let done = move || matches!(accept.value().get(), Some(Ok(())));
    view! {
        <div class="auth-page">
            <Show
                when=done
                fallback=move || {
                    view! {
                        <form class="auth-card" on:submit=on_submit>
                            <div class="auth-brand">
                                <span class="brand-mark" aria-hidden="true">
                                    "◐"
                                </span>
                                "Lifeboat"
                            </div>
                            <h1>"Choose your password"</h1>
                            {move || match info.get() {
                                None => view! { <p class="muted">"Checking the link…"</p> }.into_any(),
                                Some(Ok(i)) => {
                                    view! {
                                        <p data-testid="invite-for">
                                            {format!("For {}. The link works once.", i.username)}
                                        </p>
                                    }
                                        .into_any()
                                }
                                Some(Err(e)) => view! { <FormError message=e.to_string() /> }.into_any(),
                            }}
                            <label class="field">
                                <span>"Password"</span>
                                <input
                                    name="password"
                                    type="password"
                                    autocomplete="new-password"
                                    required
                                    node_ref=password
                                />
                            </label>
                            <label class="field">
                                <span>"Repeat the password"</span>
                                <input
                                    name="confirm"
                                    type="password"
                                    autocomplete="new-password"
                                    required
                                    node_ref=repeat
                                />
                            </label>
                            {move || {
                                local_error
                                    .get()
                                    .or_else(|| {
                                        accept.value().get().and_then(|r| r.err()).map(|e| e.to_string())
                                    })
                                    .map(|m| view! { <FormError message=m /> })
                            }}
                            <button
                                class="btn btn-primary btn-block"
                                type="submit"
                                disabled=move || !ready.get() || accept.pending().get()
                            >
                                "Set password"
                            </button>
                        </form>
                    }
                }
            >
                <div class="auth-card" data-testid="invite-done">
                    <h1>"Password set"</h1>
                    <p>"The link no longer works. Sign in with your new password."</p>
                    <a class="btn btn-primary btn-block" href="/login">
                        "Go to sign in"
                    </a>
                </div>
            </Show>
        </div>
    }
}
