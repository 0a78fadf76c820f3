//! First-run setup: creates the first administrator with the one-time token from the
//! server's log. The link carries the token in its fragment (`/setup#token=…`), which the
//! browser never sends to a server or a proxy; the page reads it and posts it.

use crate::api::{SetupRequest, MIN_PASSWORD_LEN};
use crate::client;
use crate::components::{field_value, hydrated, new_password_problem};
use leptos::prelude::*;

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
/// The `token=` value of a URL fragment such as `#token=abc` (or `token=abc&x=y`).
fn token_in_fragment(fragment: &str) -> Option<String> {
    fragment
        .trim_start_matches('#')
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(str::to_string)
}

/// The setup token in the address bar's fragment.
fn token_from_location() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .and_then(|h| token_in_fragment(&h))
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let ready = hydrated();
    let username = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let confirm = NodeRef::<leptos::html::Input>::new();
    let (local_error, set_local_error) = signal(None::<String>);
    let create = Action::new_local(|req: &SetupRequest| {
        let req = req.clone();
        async move { client::auth::setup(&req).await }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let pw = field_value(password);
        if let Some(problem) = new_password_problem(&pw, &field_value(confirm)) {
            set_local_error.set(Some(problem));
            return;
        }
        set_local_error.set(None);
        create.dispatch(SetupRequest {
            token: token_from_location(),
            username: field_value(username).trim().to_string(),
            password: pw,
        });
    };
    let done = move || matches!(create.value().get(), Some(Ok(_)));
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
                            <h1>"Create the first administrator"</h1>
                            <p class="muted">
                                "This link works once. The account you create here can sign in and manage backups; more accounts can be added later with "
                                <code>"lifeboat user add"</code> "."
                            </p>
                            <label class="field">
                                <span>"Username"</span>
                                <input
                                    name="username"
                                    autocomplete="username"
                                    required
                                    value="admin"
                                    node_ref=username
                                />
                            </label>
                            <div class="field">
                                <label for="setup-password">"Password"</label>
                                <input
                                    id="setup-password"
                                    name="password"
                                    type="password"
                                    autocomplete="new-password"
                                    required
                                    aria-describedby="setup-password-hint"
                                    node_ref=password
                                />
                                <small class="muted" id="setup-password-hint">
                                    {format!("At least {MIN_PASSWORD_LEN} characters.")}
                                </small>
                            </div>
                            <label class="field">
                                <span>"Repeat the password"</span>
                                <input
                                    name="confirm"
                                    type="password"
                                    autocomplete="new-password"
                                    required
                                    node_ref=confirm
                                />
                            </label>
                            {move || {
                                local_error
                                    .get()
                                    .or_else(|| {
                                        create.value().get().and_then(|r| r.err()).map(|e| e.to_string())
                                    })
                                    .map(|m| {
                                        view! {
                                            <p class="form-error" role="alert">
                                                {m}
                                            </p>
                                        }
                                    })
                            }}
                            <button
                                class="btn btn-primary btn-block"
                                type="submit"
                                disabled=move || !ready.get() || create.pending().get()
                            >
                                "Create administrator"
                            </button>
                        </form>
                    }
                }
            >
                <div class="auth-card" data-testid="setup-done">
                    <h1>"Administrator created"</h1>
                    <p>"The setup link no longer works. Sign in with the account you just created."</p>
                    <a class="btn btn-primary btn-block" href="/login">
                        "Go to sign in"
                    </a>
                </div>
            </Show>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::token_in_fragment;

    #[test]
    fn the_token_is_read_from_the_fragment() {
        assert_eq!(token_in_fragment("#token=ab12").as_deref(), Some("ab12"));
        assert_eq!(token_in_fragment("#x=1&token=cd").as_deref(), Some("cd"));
        assert_eq!(token_in_fragment(""), None);
        assert_eq!(token_in_fragment("#tokens=1"), None);
    }
}
