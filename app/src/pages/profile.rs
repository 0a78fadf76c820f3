//! Your account: change your password (your other sessions end), your sessions — where
//! you are signed in, and signing out one of them or all the others — and your API tokens
//! (`tokens.rs`).

use crate::api::{Me, PasswordChange, SessionInfo};
use crate::client;
use crate::components::{field_value, new_password_problem, set_field, FormError, Loaded};
use crate::format::format_time;
use leptos::prelude::*;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let me = use_context::<Me>();
    let sessions = LocalResource::new(client::account::sessions);
    let current = NodeRef::<leptos::html::Input>::new();
    let new = NodeRef::<leptos::html::Input>::new();
    let repeat = NodeRef::<leptos::html::Input>::new();
    let (message, set_message) = signal(None::<Result<String, String>>);
    let change = Action::new_local(move |req: &PasswordChange| {
        let req = req.clone();
        async move {
            let r = client::account::change_password(&req).await;
            set_message.set(Some(match r {
                Ok(ended) => Ok(format!(
                    "Your password is changed; {} other session{} ended.",
                    ended.ended,
                    if ended.ended == 1 { "" } else { "s" }
                )),
                Err(e) => Err(e.to_string()),
            }));
            sessions.refetch();
        }
    });
    let on_change = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let pw = field_value(new);
        if let Some(problem) = new_password_problem(&pw, &field_value(repeat)) {
            set_message.set(Some(Err(problem)));
            return;
        }
        change.dispatch(PasswordChange {
            current: field_value(current),
            new: pw,
        });
        for f in [current, new, repeat] {
            set_field(f, "");
        }
    };
    let end = Action::new_local(move |id: &Option<String>| {
        let id = id.clone();
        async move {
            let r = match &id {
                Some(id) => client::account::end_session(id).await,
                None => client::account::end_other_sessions().await,
            };
            if let Err(e) = r {
                set_message.set(Some(Err(e.to_string())));
            }
            sessions.refetch();
        }
    });
    view! {
        <header class="page-head">
            <h1>"Your account"</h1>
        </header>
        <p class="muted">
            {me
                .map(|m| {
                    let role = crate::api::Role::parse(&m.role)
                        .map(|r| r.label())
                        .unwrap_or("unknown role");
                    format!("Signed in as {} ({role}).", m.username)
                })}
        </p>
        <section class="card">
            <h2>"Change your password"</h2>
            <form on:submit=on_change data-testid="password-form">
                <label class="field">
                    <span>"Current password"</span>
                    <input
                        name="current"
                        type="password"
                        autocomplete="current-password"
                        required
                        node_ref=current
                    />
                </label>
                <label class="field">
                    <span>"New password"</span>
                    <input name="new" type="password" autocomplete="new-password" required node_ref=new />
                </label>
                <label class="field">
                    <span>"Repeat the new password"</span>
                    <input
                        name="repeat"
                        type="password"
                        autocomplete="new-password"
                        required
                        node_ref=repeat
                    />
                </label>
                <button class="btn btn-primary" type="submit" disabled=move || change.pending().get()>
                    "Change password"
                </button>
            </form>
            {move || {
                message
                    .get()
                    .map(|m| match m {
                        Ok(m) => view! { <p role="status" data-testid="account-message">{m}</p> }.into_any(),
                        Err(m) => view! { <FormError message=m testid="account-error" /> }.into_any(),
                    })
            }}
        </section>
        <section class="card">
            <h2>"Sessions"</h2>
            <Loaded resource=sessions loading="Loading your sessions…" let:list>
                <SessionTable list end />
            </Loaded>
            <button
                class="btn"
                data-testid="end-other-sessions"
                disabled=move || end.pending().get()
                on:click=move |_| {
                    end.dispatch(None);
                }
            >
                "Sign out everywhere else"
            </button>
        </section>
        <super::tokens::ApiTokens />
    }
}

#[component]
fn SessionTable(list: Vec<SessionInfo>, end: Action<Option<String>, ()>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table table-stack" data-testid="sessions-table">
                <thead>
                    <tr>
                        <th scope="col">"Browser"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Signed in"</th>
                        <th scope="col">"Last active"</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|s| {
                            let id = s.id.clone();
                            view! {
                                <tr>
                                    <td title=s.user_agent.clone().unwrap_or_default()>
                                        {s.browser.clone()}
                                        {s.current.then_some(" (this session)")}
                                    </td>
                                    <td>{s.client_ip.clone().unwrap_or_else(|| "—".into())}</td>
                                    <td>{format_time(&s.signed_in_at)}</td>
                                    <td>
                                        {s
                                            .last_active_at
                                            .map(|t| format_time(&t))
                                            .unwrap_or_else(|| "—".into())}
                                    </td>
                                    <td>
                                        <button
                                            class="btn btn-quiet"
                                            on:click=move |_| {
                                                end.dispatch(Some(id.clone()));
                                                if s.current {
                                                    client::hard_navigate("/login");
                                                }
                                            }
                                        >
                                            "Sign out this session"
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
