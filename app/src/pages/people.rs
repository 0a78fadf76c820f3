//! People (administrators only): who may use Lifeboat and with which role. Adding a person
//! gives a one-time invitation link to pass on; a password reset gives a new one. The
//! last active administrator cannot be demoted, disabled or deleted (the server says why).
//! Someone who lost their authenticator app and recovery codes has their two-factor
//! sign-in reset here (after a confirmation): they sign in with the password again.

use crate::api::{Invited, NewPerson, Person, PersonChange, Role};
use crate::client::{self, ClientError};
use crate::components::{field_value, set_field, Dialog, FormError, Loaded};
use crate::format::format_time;
use leptos::prelude::*;

/// What the last action on the page gave: a link to pass on, or a refusal.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Link(Invited),
    Done(String),
    Failed(String),
}

#[component]
pub fn PeoplePage() -> impl IntoView {
    let people = LocalResource::new(client::people::list);
    let (outcome, set_outcome) = signal(None::<Outcome>);
    let username = NodeRef::<leptos::html::Input>::new();
    let role = NodeRef::<leptos::html::Select>::new();
    let report = move |r: Result<Outcome, ClientError>| {
        set_outcome.set(Some(r.unwrap_or_else(|e| Outcome::Failed(e.to_string()))));
        people.refetch();
    };
    let invite = Action::new_local(move |req: &NewPerson| {
        let req = req.clone();
        async move { report(client::people::invite(&req).await.map(Outcome::Link)) }
    });
    let on_invite = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = field_value(username).trim().to_string();
        let chosen = role
            .get()
            .map(|s| s.value())
            .and_then(|v| Role::parse(&v))
            .unwrap_or(Role::Viewer);
        if !name.is_empty() {
            invite.dispatch(NewPerson {
                username: name,
                role: chosen,
            });
            set_field(username, "");
        }
    };
    view! {
        <header class="page-head">
            <h1>"People"</h1>
        </header>
        <p class="muted">
            "Administrators do everything, operators back up, download, verify and restore, viewers see history, progress and the audit log."
        </p>
        <form class="card filters" on:submit=on_invite data-testid="invite-form">
            <label class="field inline">
                <span>"Username"</span>
                <input name="username" required node_ref=username autocomplete="off" />
            </label>
            <label class="field inline">
                <span>"Role"</span>
                <select name="role" node_ref=role>
                    {Role::ALL
                        .iter()
                        .rev()
                        .map(|r| {
                            view! {
                                <option value=r.as_str() selected=*r == Role::Operator>
                                    {r.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button class="btn btn-primary" type="submit" disabled=move || invite.pending().get()>
                "Add person"
            </button>
        </form>
        {move || {
            outcome
                .get()
                .map(|o| match o {
                    Outcome::Link(invited) => {
                        view! {
                            <div class="card" role="status" data-testid="invitation">
                                <p>
                                    {format!(
                                        "Give this link to {}. It works once, until {}.",
                                        invited.invitation.username,
                                        format_time(&invited.invitation.expires_at),
                                    )}
                                </p>
                                <input
                                    class="mono"
                                    readonly
                                    data-testid="invitation-link"
                                    value=invited.invitation.url.clone()
                                />
                            </div>
                        }
                            .into_any()
                    }
                    Outcome::Done(m) => view! { <p role="status">{m}</p> }.into_any(),
                    Outcome::Failed(m) => view! { <FormError message=m testid="people-error" /> }.into_any(),
                })
        }}
        <Loaded resource=people loading="Loading people…" let:list>
            <div class="table-wrap">
                <table class="table table-stack" data-testid="people-table">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Role"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Sessions"</th>
                            <th scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {list
                            .into_iter()
                            .map(|p| view! { <PersonRow person=p report /> })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </Loaded>
    }
}

#[component]
fn PersonRow(
    person: Person,
    report: impl Fn(Result<Outcome, ClientError>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = person.id;
    let name = person.username.clone();
    let act = Action::new_local(move |what: &&'static str| {
        let what = *what;
        let name = name.clone();
        async move {
            let r = match what {
                "disable" | "enable" => client::people::change(
                    id,
                    &PersonChange {
                        disabled: Some(what == "disable"),
                        ..Default::default()
                    },
                )
                .await
                .map(|p| Outcome::Done(format!("{} is {what}d.", p.username))),
                "delete" => client::people::delete(id)
                    .await
                    .map(|()| Outcome::Done(format!("{name} is deleted."))),
                "reset" => client::people::reset_password(id).await.map(Outcome::Link),
                "reset-2fa" => client::people::reset_second_factor(id).await.map(|()| {
                    Outcome::Done(format!(
                        "{name}'s two-factor sign-in is reset and they are signed out: they sign in with their password (and set up an app again where it is required)."
                    ))
                }),
                _ => client::people::end_sessions(id)
                    .await
                    .map(|()| Outcome::Done(format!("{name} is signed out everywhere."))),
            };
            report(r)
        }
    });
    let set_role = Action::new_local(move |role: &Role| {
        let role = *role;
        async move {
            let r = client::people::change(
                id,
                &PersonChange {
                    role: Some(role),
                    ..Default::default()
                },
            )
            .await
            .map(|p| Outcome::Done(format!("{} is now {}.", p.username, role.label())));
            report(r)
        }
    });
    let state = if person.disabled {
        "Disabled"
    } else if person.password_pending {
        "Invited (no password yet)"
    } else if person.two_factor {
        "Active, two-factor on"
    } else {
        "Active"
    };
    let confirm_2fa = RwSignal::new(false);
    let close_2fa = Callback::new(move |()| confirm_2fa.set(false));
    let whose = person.username.clone();
    let current = person.role.clone();
    let busy = move || act.pending().get() || set_role.pending().get();
    view! {
        <tr data-testid=format!("person-{}", person.username)>
            <td>{person.username.clone()}</td>
            <td>
                <select
                    aria-label=format!("Role of {}", person.username)
                    on:change=move |ev| {
                        if let Some(r) = Role::parse(&event_target_value(&ev)) {
                            set_role.dispatch(r);
                        }
                    }
                    disabled=busy
                >
                    {Role::ALL
                        .iter()
                        .rev()
                        .map(|r| {
                            view! {
                                <option value=r.as_str() selected=r.as_str() == current>
                                    {r.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </td>
            <td>{state}</td>
            <td>{person.sessions}</td>
            <td class="actions">
                {if person.disabled {
                    view! {
                        <button class="btn" disabled=busy on:click=move |_| { act.dispatch("enable"); }>
                            "Enable"
                        </button>
                    }
                        .into_any()
                } else {
                    view! {
                        <button class="btn" disabled=busy on:click=move |_| { act.dispatch("disable"); }>
                            "Disable"
                        </button>
                    }
                        .into_any()
                }}
                <button class="btn" disabled=busy on:click=move |_| { act.dispatch("reset"); }>
                    "Reset password"
                </button>
                <button class="btn" disabled=busy on:click=move |_| { act.dispatch("sessions"); }>
                    "Sign out everywhere"
                </button>
                {person
                    .two_factor
                    .then(|| {
                        view! {
                            <button
                                class="btn"
                                data-testid="reset-2fa"
                                disabled=busy
                                on:click=move |_| confirm_2fa.set(true)
                            >
                                "Reset two-factor"
                            </button>
                        }
                    })}
                {move || {
                    confirm_2fa
                        .get()
                        .then(|| {
                            let whose = whose.clone();
                            view! {
                                <Dialog
                                    title=format!("Reset {whose}'s two-factor sign-in?")
                                    testid="reset-2fa-dialog"
                                    on_close=close_2fa
                                    focus="[data-testid=reset-2fa-cancel]"
                                >
                                    <p id="reset-2fa-dialog-text">
                                        {format!(
                                            "For someone who lost their authenticator app and their recovery codes. Lifeboat removes {whose}'s app secret and recovery codes and signs them out everywhere; their password alone then signs them in (where two-factor sign-in is required, they set up an app again at their next sign-in). Do this only once you are sure who is asking."
                                        )}
                                    </p>
                                    <div class="modal-actions">
                                        <button
                                            type="button"
                                            class="btn"
                                            data-testid="reset-2fa-cancel"
                                            on:click=move |_| close_2fa.run(())
                                        >
                                            "Cancel"
                                        </button>
                                        <button
                                            type="button"
                                            class="btn btn-danger"
                                            data-testid="reset-2fa-confirm"
                                            on:click=move |_| {
                                                confirm_2fa.set(false);
                                                act.dispatch("reset-2fa");
                                            }
                                        >
                                            "Reset two-factor sign-in"
                                        </button>
                                    </div>
                                </Dialog>
                            }
                        })
                }}
                <button class="btn btn-danger" disabled=busy on:click=move |_| { act.dispatch("delete"); }>
                    "Delete"
                </button>
            </td>
        </tr>
    }
}
