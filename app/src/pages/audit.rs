//! The audit log: newest first, paginated, filtered by who acted, action and outcome. The filters
//! live in the address (`/audit?action=auth.login&outcome=failure&offset=50`) so a view
//! can be bookmarked or shared.

use crate::api::{AuditAction, AuditEvent, Outcome};
use crate::client;
use crate::components::{CopyHash, Loaded, LongText, Pager};
use crate::format::format_time;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

const PAGE_SIZE: i64 = 50;

#[derive(Clone, Debug, PartialEq, Default)]
struct Filter {
    actor: String,
    action: String,
    outcome: String,
    offset: i64,
}

impl Filter {
    fn query(&self) -> String {
        let mut q = vec![];
        if !self.actor.is_empty() {
            q.push(format!("actor={}", client::enc(&self.actor)));
        }
        if !self.action.is_empty() {
            q.push(format!("action={}", client::enc(&self.action)));
        }
        if !self.outcome.is_empty() {
            q.push(format!("outcome={}", client::enc(&self.outcome)));
        }
        if self.offset > 0 {
            q.push(format!("offset={}", self.offset));
        }
        q.join("&")
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = StoredValue::new_local(use_navigate());
    let filter = Memo::new(move |_| {
        let q = query.get();
        Filter {
            actor: q.get("actor").unwrap_or_default(),
            action: q.get("action").unwrap_or_default(),
            outcome: q.get("outcome").unwrap_or_default(),
            offset: q
                .get("offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(0i64)
                .max(0),
        }
    });
    let page = LocalResource::new(move || {
        let f = filter.get();
        async move { client::audit::page(&f.actor, &f.action, &f.outcome, f.offset, PAGE_SIZE).await }
    });
    let go = move |f: Filter| {
        let q = f.query();
        let to = if q.is_empty() {
            "/audit".to_string()
        } else {
            format!("/audit?{q}")
        };
        navigate.with_value(|go| go(&to, Default::default()));
    };
    let go_offset = Callback::new(move |offset: i64| {
        go(Filter {
            offset,
            ..filter.get_untracked()
        })
    });

    view! {
        <header class="page-head">
            <h1>"Audit log"</h1>
            <button class="btn" on:click=move |_| page.refetch()>
                "Refresh"
            </button>
        </header>
        <p class="muted">
            "Every sign-in, sign-out and administrative action, newest first. The log is append-only."
        </p>
        <div class="filters">
            <label class="field inline">
                <span>"Who"</span>
                <input
                    name="actor"
                    placeholder="Anyone"
                    prop:value=move || filter.get().actor
                    on:change=move |ev| {
                        go(Filter {
                            actor: event_target_value(&ev).trim().to_string(),
                            offset: 0,
                            ..filter.get_untracked()
                        })
                    }
                />
            </label>
            <label class="field inline">
                <span>"Action"</span>
                <select
                    name="action"
                    prop:value=move || filter.get().action
                    on:change=move |ev| {
                        go(Filter {
                            action: event_target_value(&ev),
                            offset: 0,
                            ..filter.get_untracked()
                        })
                    }
                >
                    <option value="">"All actions"</option>
                    {AuditAction::ALL
                        .iter()
                        .map(|a| view! { <option value=a.as_str()>{a.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label class="field inline">
                <span>"Outcome"</span>
                <select
                    name="outcome"
                    prop:value=move || filter.get().outcome
                    on:change=move |ev| {
                        go(Filter {
                            outcome: event_target_value(&ev),
                            offset: 0,
                            ..filter.get_untracked()
                        })
                    }
                >
                    <option value="">"All outcomes"</option>
                    {Outcome::ALL
                        .iter()
                        .map(|o| view! { <option value=o.as_str()>{o.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
        </div>
        <Loaded resource=page loading="Loading the audit log…" let:p>
            <div class="table-wrap">
                <table class="table table-stack audit" data-testid="audit-table">
                    <thead>
                        <tr>
                            <th scope="col">"When"</th>
                            <th scope="col">"Who"</th>
                            <th scope="col">"Action"</th>
                            <th scope="col">"Outcome"</th>
                            <th scope="col">"Target"</th>
                            <th scope="col">"From"</th>
                            <th scope="col">"Details"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {if p.items.is_empty() {
                            view! {
                                <tr class="row-empty">
                                    <td colspan="7" class="muted">
                                        "No events match."
                                    </td>
                                </tr>
                            }
                                .into_any()
                        } else {
                            p.items.clone().into_iter().map(row).collect_view().into_any()
                        }}
                    </tbody>
                </table>
            </div>
            <Pager
                offset=filter.with(|f| f.offset)
                shown=p.items.len() as i64
                total=p.total
                page_size=PAGE_SIZE
                go=go_offset
            />
        </Loaded>
    }
}

/// One event; each cell says what it is (`data-label`) for the card layout of narrow
/// windows.
fn row(e: AuditEvent) -> impl IntoView {
    let outcome_class = if e.outcome() == Some(Outcome::Success) {
        "pill pill-ok"
    } else {
        "pill pill-bad"
    };
    view! {
        <tr>
            <td data-label="When">{format_time(&e.at)}</td>
            <td data-label="Who">{e.actor.unwrap_or_else(|| "—".into())}</td>
            <td data-label="Action">
                <code>{e.action}</code>
            </td>
            <td data-label="Outcome">
                <span class=outcome_class>{e.outcome}</span>
            </td>
            <td class="location" data-label="Target">{e.target.unwrap_or_default()}</td>
            <td class="nowrap" data-label="From" title=e.user_agent.unwrap_or_default()>
                {e.client_ip.unwrap_or_default()}
            </td>
            <td class="detail" data-label="Details">
                <Details details=e.details />
            </td>
        </tr>
    }
}

/// An event's details as key/value pairs; long values (messages, paths) shortened and
/// checksums shown short, the whole value on demand.
#[component]
fn Details(details: serde_json::Value) -> impl IntoView {
    let pairs: Vec<(String, String)> = match details {
        // A key without a value (`null`, e.g. no file for a failed backup) says nothing.
        serde_json::Value::Object(m) => m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![(String::new(), other.to_string())],
    };
    if pairs.is_empty() {
        return ().into_any();
    }
    view! {
        <dl class="kv" data-testid="audit-details">
            {pairs
                .into_iter()
                .map(|(k, v)| {
                    let value = if is_checksum(&v) {
                        view! { <CopyHash hash=v short=true /> }.into_any()
                    } else {
                        view! { <LongText text=v /> }.into_any()
                    };
                    view! {
                        <div class="kv-pair">
                            <dt>{k}</dt>
                            <dd>{value}</dd>
                        </div>
                    }
                })
                .collect_view()}
        </dl>
    }
    .into_any()
}

/// A SHA-256 in hex, as the server writes checksums.
fn is_checksum(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::is_checksum;

    #[test]
    fn checksums_are_recognised() {
        assert!(is_checksum(&"ab12".repeat(16)));
        assert!(!is_checksum("ab12"));
        assert!(!is_checksum(&"zz12".repeat(16)));
    }
}
