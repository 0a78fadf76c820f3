//! Security: the signed-in person's two-factor sign-in — turn it on with an authenticator
//! app (the secret and its `otpauth://` link, then the app's first code; ten recovery
//! codes shown once), or off with the password and a code. The enrolment form is also
//! the login page's, when two-factor sign-in is required and the person has none yet.

use crate::api::TotpDisableRequest;
use crate::client;
use crate::components::{field_value, hydrated, ErrorNote};
use leptos::prelude::*;

/// The secret in groups of four, easier to type into an app.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code's SVG as an image address (`data:` URLs are allowed by the page's
/// Content-Security-Policy; the SVG has no script and, as an image, could run none).
fn svg_data_url(svg: &str) -> String {
    format!("data:image/svg+xml;utf8,{}", urlencoding::encode(svg))
}

/// The recovery codes, shown once.
#[component]
pub fn RecoveryCodeList(codes: Vec<String>) -> impl IntoView {
    view! {
        <div class="notice" data-testid="recovery-codes">
            <p>
                <strong>"Recovery codes"</strong>
                " — each signs in once in place of a code. Keep them somewhere safe and offline: they are not shown again."
            </p>
            <ul class="recovery-codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
        </div>
    }
}

/// Sets up an authenticator app: a new secret, then the app's first code. `done` gets the
/// recovery codes.
#[component]
pub fn EnrolTotp(done: Callback<Vec<String>>) -> impl IntoView {
    let ready = hydrated();
    let code = NodeRef::<leptos::html::Input>::new();
    let start = Action::new_local(|_: &()| client::auth::totp_enrol());
    let confirm = Action::new_local(|code: &String| {
        let code = code.clone();
        async move { client::auth::totp_confirm(&code).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(r)) = confirm.value().get() {
            done.run(r.recovery_codes);
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        confirm.dispatch(field_value(code).trim().to_string());
    };
    view! {
        <div data-testid="totp-enrol">
            {move || match start.value().get() {
                None => view! {
                    <p>"Use an authenticator app (one that shows 6-digit codes every 30 seconds)."</p>
                    <button
                        class="btn btn-primary"
                        type="button"
                        disabled=move || !ready.get() || start.pending().get()
                        on:click=move |_| {
                            start.dispatch(());
                        }
                    >
                        "Set up an authenticator app"
                    </button>
                }
                .into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(e)) => view! {
                    <form on:submit=on_submit>
                        {e.qr_svg.as_deref().map(|svg| view! {
                            <p>"Scan this QR code with the app:"</p>
                            <img
                                class="totp-qr"
                                data-testid="totp-qr"
                                src=svg_data_url(svg)
                                alt="QR code for your authenticator app"
                            />
                        })}
                        <p>
                            "Or add this secret to the app (or open the link on the phone that has it):"
                        </p>
                        <p>
                            <code data-testid="totp-secret">{grouped(&e.secret)}</code>
                        </p>
                        <p>
                            <a class="totp-uri" href=e.otpauth_uri.clone() data-testid="totp-uri">
                                {e.otpauth_uri.clone()}
                            </a>
                        </p>
                        <label class="field">
                            <span>"The code the app shows now"</span>
                            <input
                                name="code"
                                inputmode="numeric"
                                autocomplete="one-time-code"
                                required
                                node_ref=code
                            />
                        </label>
                        {move || {
                            confirm
                                .value()
                                .get()
                                .and_then(|r| r.err())
                                .map(|e| view! { <ErrorNote error=e /> })
                        }}
                        <button
                            class="btn btn-primary"
                            type="submit"
                            disabled=move || confirm.pending().get()
                        >
                            "Turn on"
                        </button>
                    </form>
                }
                .into_any(),
            }}
        </div>
    }
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let status = LocalResource::new(client::auth::totp_status);
    let (codes, set_codes) = signal(None::<Vec<String>>);
    let password = NodeRef::<leptos::html::Input>::new();
    let code = NodeRef::<leptos::html::Input>::new();
    let disable = Action::new_local(|req: &TotpDisableRequest| {
        let req = req.clone();
        async move { client::auth::totp_disable(&req).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = disable.value().get() {
            status.refetch();
        }
    });
    let on_disable = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        disable.dispatch(TotpDisableRequest {
            password: field_value(password),
            code: field_value(code).trim().to_string(),
        });
    };
    let enrolled = Callback::new(move |c: Vec<String>| {
        set_codes.set(Some(c));
        status.refetch();
    });
    view! {
        <header class="page-head">
            <h1>"Security"</h1>
        </header>
        <section class="card settings-card" data-testid="two-factor" aria-labelledby="totp-title">
            <h2 class="card-title" id="totp-title">
                "Two-factor sign-in"
            </h2>
            {move || codes.get().map(|c| view! { <RecoveryCodeList codes=c /> })}
            {move || match status.get() {
                None => view! { <p>"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(s)) if s.enabled => view! {
                    <p data-testid="totp-on">
                        {format!(
                            "On: signing in asks for a code from your app. {} recovery code{} left.",
                            s.recovery_codes_left,
                            if s.recovery_codes_left == 1 { "" } else { "s" },
                        )}
                    </p>
                    {if s.required {
                        view! {
                            <p>"Required for everyone on this Lifeboat: it cannot be turned off."</p>
                        }
                        .into_any()
                    } else {
                        view! {
                            <form on:submit=on_disable>
                                <h3>"Turn off"</h3>
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
                                <label class="field">
                                    <span>"A code from the app (or a recovery code)"</span>
                                    <input
                                        name="code"
                                        autocomplete="one-time-code"
                                        required
                                        node_ref=code
                                    />
                                </label>
                                {move || {
                                    disable
                                        .value()
                                        .get()
                                        .and_then(|r| r.err())
                                        .map(|e| view! { <ErrorNote error=e /> })
                                }}
                                <button
                                    class="btn btn-danger"
                                    type="submit"
                                    disabled=move || disable.pending().get()
                                >
                                    "Turn off two-factor sign-in"
                                </button>
                            </form>
                        }
                        .into_any()
                    }}
                }
                .into_any(),
                Some(Ok(_)) => view! {
                    <p>"Off: your password alone signs you in."</p>
                    <EnrolTotp done=enrolled />
                }
                .into_any(),
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{grouped, svg_data_url};

    #[test]
    fn the_secret_is_shown_in_groups_of_four() {
        assert_eq!(grouped("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(grouped("ABCDEF"), "ABCD EF");
    }

    #[test]
    fn the_qr_code_is_an_svg_image_address_with_nothing_left_unescaped() {
        let url =
            svg_data_url(r##"<?xml version="1.0"?><svg><path fill="#000" d="M4 4h1"/></svg>"##);
        assert!(
            url.starts_with("data:image/svg+xml;utf8,%3C%3Fxml"),
            "{url}"
        );
        assert!(!url[24..].contains(['<', '>', '"', '#', ' ']), "{url}");
    }
}
