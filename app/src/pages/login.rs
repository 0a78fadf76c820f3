//! Sign in.

use crate::api::LoginRequest;
use crate::client::{self, ClientError};
use crate::components::{field_value, hydrated};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Only same-site paths are followed after login (no open redirect to another host).
fn safe_next(next: Option<String>) -> String {
    match next {
        // Browsers drop tabs and newlines from URLs (`/\t/evil.example` becomes
        // `//evil.example`): a path with any control character or space is not kept.
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n
        }
        _ => "/".to_string(),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let ready = hydrated();
    let username = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let setup = LocalResource::new(client::auth::setup_status);
    let login = Action::new_local(|req: &LoginRequest| {
        let req = req.clone();
        async move { client::auth::login(&req).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = login.value().get() {
            let next = safe_next(query.get_untracked().get("next"));
            client::hard_navigate(&next);
        }
    });
    let error = move || match login.value().get() {
        Some(Err(ClientError::Unauthorized)) => Some("Wrong username or password.".to_string()),
        Some(Err(ClientError::Throttled { retry_after, .. })) => Some(format!(
            "Too many failed attempts. Try again in {retry_after} s."
        )),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        login.dispatch(LoginRequest {
            username: field_value(username).trim().to_string(),
            password: field_value(password),
        });
    };
    view! {
        <div class="auth-page">
            <form class="auth-card" on:submit=on_submit>
                <div class="auth-brand">
                    <span class="brand-mark" aria-hidden="true">
                        "◐"
                    </span>
                    "Lifeboat"
                </div>
                <h1>"Sign in"</h1>
                {move || {
                    setup
                        .get()
                        .and_then(|s| s.ok())
                        .filter(|s| s.needed)
                        .map(|_| {
                            view! {
                                <p class="notice" data-testid="setup-needed">
                                    "No administrator exists yet. Open the one-time setup link that Lifeboat printed in its log, or run "
                                    <code>"lifeboat user add NAME --password-stdin"</code> "."
                                </p>
                            }
                        })
                }}
                <label class="field">
                    <span>"Username"</span>
                    <input
                        name="username"
                        autocomplete="username"
                        required
                        autofocus
                        node_ref=username
                    />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        node_ref=password
                    />
                </label>
                {move || {
                    error()
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
                    disabled=move || !ready.get() || login.pending().get()
                >
                    {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_kept_only_when_it_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/audit?outcome=failure".into())),
            "/audit?outcome=failure"
        );
        assert_eq!(safe_next(Some("//evil.example/x".into())), "/");
        assert_eq!(safe_next(Some("/\\evil.example".into())), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(None), "/");
        // `?next=%2F%09%2Fevil.example` and its newline and space cousins.
        for sneaky in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/ /evil.example",
            "/\u{0}//evil.example",
        ] {
            assert_eq!(safe_next(Some(sneaky.into())), "/", "{sneaky:?}");
        }
    }
}
