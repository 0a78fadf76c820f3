//! The Account page's "API tokens": the signed-in person's personal tokens for automation —
//! listed with their role, scopes, expiry and last use; made here (the token shown once,
//! with a button to copy it and a `curl` example); revoked after a confirmation. The same
//! calls as `lifeboat token …` and `/api/v1/tokens`.

use crate::api::{token_scope, ApiToken, CreatedToken, Me, Role, TokenRequest};
use crate::client;
use crate::components::{copy_to_clipboard, field_value, set_field, Dialog, FormError, Loaded};
use crate::format::format_time;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use leptos::prelude::*;

/// The expiry choices, as the select's values and labels; the first is the default.
const EXPIRY_CHOICES: &[(&str, &str)] = &[
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("1y", "1 year"),
    ("never", "Never"),
    ("custom", "On a date…"),
];

/// What the scope checkboxes say.
fn scope_label(scope: &str) -> &'static str {
    match scope {
        token_scope::BACKUPS_READ => "Read backups, jobs and restores",
        token_scope::BACKUPS_RUN => "Back up, pin, delete and cancel",
        token_scope::RESTORES_RUN => "Upload and restore",
        token_scope::AUDIT_READ => "Read the audit log",
        _ => "",
    }
}

/// The request's expiry for a choice: `(expires_at, never_expires)`. A custom date (the
/// `YYYY-MM-DD` of a date field) means the end of that day, UTC; it must be after `now`.
pub fn expiry_for(
    choice: &str,
    custom_date: &str,
    now: DateTime<Utc>,
) -> Result<(Option<DateTime<Utc>>, bool), String> {
    let days = |d: i64| Ok((Some(now + Duration::days(d)), false));
    match choice {
        "30d" => days(30),
        "90d" => days(90),
        "1y" => days(365),
        "never" => Ok((None, true)),
        "custom" => {
            let date = NaiveDate::parse_from_str(custom_date.trim(), "%Y-%m-%d")
                .map_err(|_| "Pick the day the token stops working.".to_string())?;
            let end = date
                .and_hms_opt(23, 59, 59)
                .map(|t| t.and_utc())
                .ok_or_else(|| "Pick the day the token stops working.".to_string())?;
            if end <= now {
                return Err("The expiry is in the past; pick a later day.".into());
            }
            Ok((Some(end), false))
        }
        other => Err(format!("`{other}` is not an expiry choice.")),
    }
}

/// The roles a token may have: the owner's and those below it, highest first.
pub fn role_options(own: Role) -> Vec<Role> {
    Role::ALL
        .iter()
        .rev()
        .copied()
        .filter(|r| own.includes(*r))
        .collect()
}

/// The "back up and wait" call from a CI job, with the token in `$LIFEBOAT_TOKEN`.
pub fn curl_example(origin: &str) -> String {
    format!(
        "# LIFEBOAT_TOKEN=lbt_… (a token with backups:run)\n\
         curl --fail-with-body -sS -X POST -H \"Authorization: Bearer $LIFEBOAT_TOKEN\" \\\n  \
         \"{origin}/api/v1/backups?wait=true\""
    )
}

/// Where this page was loaded from (for the example), or a placeholder before the browser
/// has it.
fn page_origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        if let Some(o) = web_sys::window().and_then(|w| w.location().origin().ok()) {
            return o;
        }
    }
    "https://lifeboat.example.com".to_string()
}

/// A time in a narrow column: to the minute, UTC (the whole time on hover).
fn short_time(at: &Option<DateTime<Utc>>, none: &str) -> (String, String) {
    match at {
        Some(t) => (t.format("%Y-%m-%d %H:%M").to_string(), format_time(t)),
        None => (none.to_string(), String::new()),
    }
}

/// What a token's row says about whether it still works.
fn state_of(t: &ApiToken, now: DateTime<Utc>) -> Option<&'static str> {
    if t.revoked_at.is_some() {
        Some("Revoked")
    } else if t.expires_at.is_some_and(|e| e <= now) {
        Some("Expired")
    } else {
        None
    }
}

#[component]
pub fn ApiTokens() -> impl IntoView {
    let own = use_context::<Me>()
        .and_then(|m| Role::parse(&m.role))
        .unwrap_or(Role::Viewer);
    let tokens = LocalResource::new(client::tokens::list);
    let created = RwSignal::new(None::<CreatedToken>);
    let problem = RwSignal::new(None::<String>);
    let revoking = RwSignal::new(None::<ApiToken>);
    let name = NodeRef::<leptos::html::Input>::new();
    let role = NodeRef::<leptos::html::Select>::new();
    let custom = NodeRef::<leptos::html::Input>::new();
    let expiry = RwSignal::new(EXPIRY_CHOICES[0].0.to_string());
    let scopes = RwSignal::new(Vec::<&'static str>::new());
    let create = Action::new_local(move |req: &TokenRequest| {
        let req = req.clone();
        async move {
            match client::tokens::create(&req).await {
                Ok(t) => {
                    created.set(Some(t));
                    problem.set(None);
                    set_field(name, "");
                    scopes.set(vec![]);
                }
                Err(e) => problem.set(Some(e.to_string())),
            }
            tokens.refetch();
        }
    });
    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(now) = crate::format::now() else {
            problem.set(Some(
                "This browser does not tell the time, so no expiry can be counted from now.".into(),
            ));
            return;
        };
        let (expires_at, never_expires) =
            match expiry_for(&expiry.get_untracked(), &field_value(custom), now) {
                Ok(e) => e,
                Err(m) => {
                    problem.set(Some(m));
                    return;
                }
            };
        let chosen = role
            .get()
            .map(|s| s.value())
            .filter(|v| Role::parse(v).is_some());
        created.set(None);
        create.dispatch(TokenRequest {
            name: field_value(name).trim().to_string(),
            role: chosen,
            scopes: scopes
                .get_untracked()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            expires_at,
            never_expires,
        });
    };
    view! {
        <section class="card" data-testid="api-tokens" aria-labelledby="api-tokens-title">
            <h2 id="api-tokens-title">"API tokens"</h2>
            <p class="muted">
                "For scripts and CI jobs: a token acts as you, within its role and scopes, until it expires or is revoked. Tokens cannot manage tokens or two-factor sign-in."
            </p>
            {move || created.get().map(|t| view! { <NewToken created=t /> })}
            <Loaded resource=tokens loading="Loading your tokens…" let:list>
                <TokenTable list revoking />
            </Loaded>
            <form class="token-form" on:submit=on_create data-testid="token-form">
                <h3>"New token"</h3>
                <label class="field">
                    <span>"Name"</span>
                    <input
                        name="token-name"
                        required
                        maxlength="64"
                        placeholder="nightly CI"
                        autocomplete="off"
                        node_ref=name
                    />
                </label>
                <label class="field">
                    <span>"Role"</span>
                    <select name="token-role" node_ref=role>
                        {role_options(own)
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <option value=r.as_str() selected=r == own>
                                        {r.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <fieldset class="token-scopes">
                    <legend>"Scopes (none: everything the role allows)"</legend>
                    {token_scope::ALL
                        .iter()
                        .map(|s| {
                            let s: &'static str = s;
                            view! {
                                <label class="option">
                                    <input
                                        type="checkbox"
                                        name="token-scope"
                                        value=s
                                        prop:checked=move || scopes.get().contains(&s)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            scopes
                                                .update(|v| {
                                                    v.retain(|x| *x != s);
                                                    if on {
                                                        v.push(s);
                                                    }
                                                });
                                        }
                                    />
                                    <span>
                                        <span class="option-label">
                                            <code>{s}</code>
                                        </span>
                                        <small class="muted">{scope_label(s)}</small>
                                    </span>
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <label class="field">
                    <span>"Expires"</span>
                    <select
                        name="token-expiry"
                        on:change=move |ev| expiry.set(event_target_value(&ev))
                    >
                        {EXPIRY_CHOICES
                            .iter()
                            .map(|(v, label)| view! { <option value=*v>{*label}</option> })
                            .collect_view()}
                    </select>
                </label>
                {move || {
                    (expiry.get() == "custom")
                        .then(|| {
                            view! {
                                <label class="field">
                                    <span>"Last day (UTC)"</span>
                                    <input name="token-expiry-date" type="date" required node_ref=custom />
                                </label>
                            }
                        })
                }}
                {move || problem.get().map(|m| view! { <FormError message=m testid="token-error" /> })}
                <button class="btn btn-primary" type="submit" disabled=move || create.pending().get()>
                    "Create token"
                </button>
            </form>
        </section>
        {move || revoking.get().map(|t| view! { <RevokeDialog token=t revoking tokens /> })}
    }
}

/// The token just made, shown this once, with its copy button and the `curl` example.
#[component]
fn NewToken(created: CreatedToken) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let token = created.token.clone();
    view! {
        <div class="notice new-token" role="status" data-testid="new-token">
            <p>
                <strong>{format!("Your new token “{}”", created.info.name)}</strong>
                " — copy it now: you will not see it again."
            </p>
            <div class="copy-field">
                <input
                    class="mono"
                    readonly
                    aria-label="The new token"
                    data-testid="new-token-value"
                    value=created.token.clone()
                    on:focus=|ev| {
                        #[cfg(feature = "hydrate")]
                        {
                            use wasm_bindgen::JsCast;
                            if let Some(i) = ev
                                .target()
                                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                            {
                                i.select();
                            }
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }
                />
                <button
                    type="button"
                    class="btn"
                    data-testid="copy-token"
                    on:click=move |_| copied.set(Some(copy_to_clipboard(&token)))
                >
                    {move || match copied.get() {
                        Some(true) => "Copied",
                        Some(false) => "Copy failed: select it and copy",
                        None => "Copy",
                    }}
                </button>
            </div>
            <p>"Back up and wait for the result from a CI job (200 when the backup succeeded, 500 when not):"</p>
            <pre class="code-example" data-testid="curl-example">{curl_example(&page_origin())}</pre>
        </div>
    }
}

#[component]
fn TokenTable(list: Vec<ApiToken>, revoking: RwSignal<Option<ApiToken>>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-tokens">"You have no API tokens."</p> }
            .into_any();
    }
    // Without the time (the browser does not say), no token is marked expired here.
    let now = crate::format::now().unwrap_or(DateTime::<Utc>::MIN_UTC);
    view! {
        <div class="table-wrap">
            <table class="table table-stack" data-testid="tokens-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|t| {
                            let state = state_of(&t, now);
                            let role = Role::parse(&t.role)
                                .map(|r| r.label().to_string())
                                .unwrap_or_else(|| t.role.clone());
                            let scopes = if t.scopes.is_empty() {
                                "all of the role".to_string()
                            } else {
                                t.scopes.join(", ")
                            };
                            let row = t.clone();
                            let (created, created_full) = short_time(&Some(t.created_at), "");
                            let (expires, expires_full) = short_time(&t.expires_at, "Never");
                            let (used, used_full) = short_time(&t.last_used_at, "Never");
                            view! {
                                <tr data-testid=format!("token-{}", t.name)>
                                    <td data-label="Name">
                                        {t.name.clone()} " " <code class="muted">{t.prefix.clone()} "…"</code>
                                    </td>
                                    <td data-label="Role">{role}</td>
                                    <td data-label="Scopes">{scopes}</td>
                                    <td data-label="Created" title=created_full>{created}</td>
                                    <td data-label="Expires" title=expires_full>{expires}</td>
                                    <td data-label="Last used" title=used_full>{used}</td>
                                    <td class="actions">
                                        {match state {
                                            Some(s) => view! { <span class="muted">{s}</span> }.into_any(),
                                            None => view! {
                                                <button
                                                    type="button"
                                                    class="btn btn-danger"
                                                    data-testid="revoke-token"
                                                    on:click=move |_| revoking.set(Some(row.clone()))
                                                >
                                                    "Revoke"
                                                </button>
                                            }
                                            .into_any(),
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// "Revoke this token?": it stops working at once.
#[component]
fn RevokeDialog(
    token: ApiToken,
    revoking: RwSignal<Option<ApiToken>>,
    tokens: LocalResource<Result<Vec<ApiToken>, client::ClientError>>,
) -> impl IntoView {
    let id = token.id;
    let revoke = Action::new_local(move |_: &()| async move {
        let r = client::tokens::revoke(id).await;
        if r.is_ok() {
            revoking.set(None);
            tokens.refetch();
        }
        r
    });
    let close = Callback::new(move |()| {
        if !revoke.pending().get_untracked() {
            revoking.set(None);
        }
    });
    let refused = Signal::derive(move || matches!(revoke.value().get(), Some(Err(_))));
    view! {
        <Dialog
            title=format!("Revoke the token “{}”?", token.name)
            testid="revoke-token-dialog"
            on_close=close
            focus="[data-testid=revoke-cancel]"
            refocus=refused
        >
            <p id="revoke-token-dialog-text">
                "It stops working at once: scripts and jobs that use it get 401. This cannot be undone; make a new token to replace it."
            </p>
            {move || {
                revoke
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|e| view! { <FormError message=e.to_string() testid="revoke-error" /> })
            }}
            <div class="modal-actions">
                <button type="button" class="btn" data-testid="revoke-cancel" on:click=move |_| close.run(())>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-danger"
                    data-testid="revoke-confirm"
                    disabled=move || revoke.pending().get()
                    on:click=move |_| {
                        revoke.dispatch(());
                    }
                >
                    "Revoke token"
                </button>
            </div>
        </Dialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn each_expiry_choice_gives_its_request() {
        let now = now();
        assert_eq!(
            expiry_for("30d", "", now),
            Ok((Some(now + Duration::days(30)), false))
        );
        assert_eq!(
            expiry_for("90d", "", now),
            Ok((Some(now + Duration::days(90)), false))
        );
        assert_eq!(
            expiry_for("1y", "", now),
            Ok((Some(now + Duration::days(365)), false))
        );
        assert_eq!(expiry_for("never", "", now), Ok((None, true)));
        assert_eq!(
            expiry_for("custom", "2026-04-15", now),
            Ok((
                Some(
                    Utc.with_ymd_and_hms(2026, 4, 15, 23, 59, 59)
                        .single()
                        .expect("t")
                ),
                false
            ))
        );
        // Today still counts (until its end); yesterday and no date do not.
        assert!(expiry_for("custom", "2026-03-01", now).is_ok());
        assert!(expiry_for("custom", "2026-02-28", now).is_err());
        assert!(expiry_for("custom", "", now).is_err());
        assert!(expiry_for("forever", "", now).is_err());
        assert_eq!(EXPIRY_CHOICES[0].0, "30d", "30 days is the default");
    }

    #[test]
    fn a_token_role_is_offered_only_up_to_ones_own() {
        assert_eq!(
            role_options(Role::Admin),
            vec![Role::Admin, Role::Operator, Role::Viewer]
        );
        assert_eq!(
            role_options(Role::Operator),
            vec![Role::Operator, Role::Viewer]
        );
        assert_eq!(role_options(Role::Viewer), vec![Role::Viewer]);
    }

    #[test]
    fn the_curl_example_backs_up_and_waits_with_a_bearer_token() {
        let c = curl_example("https://backups.example.com");
        assert!(c.contains("-X POST"), "{c}");
        assert!(c.contains("Authorization: Bearer $LIFEBOAT_TOKEN"), "{c}");
        assert!(
            c.contains("\"https://backups.example.com/api/v1/backups?wait=true\""),
            "{c}"
        );
    }

    #[test]
    fn every_scope_has_a_label() {
        for s in token_scope::ALL {
            assert!(!scope_label(s).is_empty(), "{s}");
        }
    }
}
