//! Sign in.

use super::security::{EnrolTotp, RecoveryCodeList};
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

/// Where a sign-in is after the password.
#[derive(Clone, Debug, PartialEq)]
enum Next {
    Password,
    /// A code from the app (or a recovery code).
    Code,
    /// Two-factor sign-in is required and this person has none: set it up first.
    Enrol,
    /// Enrolled: the recovery codes, once, before going on.
    Codes(Vec<String>),
}

/// The login's second step: a code from the app or a recovery code.
#[component]
fn CodeStep(on_signed_in: Callback<()>) -> impl IntoView {
    let code = NodeRef::<leptos::html::Input>::new();
    let send = Action::new_local(|code: &String| {
        let code = code.clone();
        async move { client::auth::second_factor(&code).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = send.value().get() {
            on_signed_in.run(());
        }
    });
    let error = move || {
        match send.value().get() {
        Some(Err(ClientError::Unauthorized)) => Some(
            "That code is wrong or was used already (or the sign-in took longer than five minutes: reload and start again).".to_string(),
        ),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    }
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send.dispatch(field_value(code).trim().to_string());
    };
    view! {
        <form on:submit=on_submit data-testid="second-factor">
            <label class="field">
                <span>"Code from your authenticator app (or a recovery code)"</span>
                <input
                    name="code"
                    autocomplete="one-time-code"
                    required
                    autofocus
                    node_ref=code
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
            <button class="btn btn-primary btn-block" type="submit" disabled=move || send.pending().get()>
                "Continue"
            </button>
        </form>
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
    let (step, set_step) = signal(Next::Password);
    let go_on = Callback::new(move |_: ()| {
        let next = safe_next(query.get_untracked().get("next"));
        client::hard_navigate(&next);
    });
    Effect::new(move |_| {
        if let Some(Ok(answer)) = login.value().get() {
            if answer.me.is_some() {
                go_on.run(());
            } else if answer.enrolment_required {
                set_step.set(Next::Enrol);
            } else if answer.second_factor {
                set_step.set(Next::Code);
            }
        }
    });
    let enrolled = Callback::new(move |codes: Vec<String>| set_step.set(Next::Codes(codes)));
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
    let second_step = move || {
        match step.get() {
        Next::Password => None,
        Next::Code => Some(view! { <CodeStep on_signed_in=go_on /> }.into_any()),
        Next::Enrol => Some(
            view! {
                <p class="notice">
                    "Two-factor sign-in is required here: set it up to finish signing in."
                </p>
                <EnrolTotp done=enrolled />
            }
            .into_any(),
        ),
        Next::Codes(codes) => Some(
            view! {
                <RecoveryCodeList codes />
                <button class="btn btn-primary btn-block" type="button" on:click=move |_| go_on.run(())>
                    "Continue"
                </button>
            }
            .into_any(),
        ),
    }
    };
    view! {
        <div class="auth-page">
            <Show when=move || step.get() != Next::Password>
                <div class="auth-card">
                    <h1>"Sign in"</h1>
                    {second_step}
                </div>
            </Show>
            <form
                class="auth-card"
                on:submit=on_submit
                hidden=move || step.get() != Next::Password
            >
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
