//! The audit log: newest first, paginated, filtered by action and outcome. The filters
//! live in the address (`/audit?action=auth.login&outcome=failure&offset=50`) so a view
//! can be bookmarked or shared.

use super::ErrorNote;
use crate::api::{audit_action, outcome, AuditEvent, AuditPage as Page};
use crate::client;
use crate::shell::format_time;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

const PAGE_SIZE: i64 = 50;

#[derive(Clone, Debug, PartialEq, Default)]
struct Filter {
    action: String,
    outcome: String,
    offset: i64,
}

impl Filter {
    fn query(&self) -> String {
        let mut q = vec![];
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
    let navigate = use_navigate();
    let filter = Memo::new(move |_| {
        let q = query.get();
        Filter {
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
        async move {
            let mut q = f.query();
            if !q.is_empty() {
                q.push('&');
            }
            client::get::<Page>(&format!("/api/v1/audit?{q}limit={PAGE_SIZE}")).await
        }
    });
    let go = move |f: Filter| {
        let q = f.query();
        navigate(
            &if q.is_empty() {
                "/audit".to_string()
            } else {
                format!("/audit?{q}")
            },
            Default::default(),
        );
    };
    let go_action = go.clone();
    let go_outcome = go.clone();
    let go_prev = go.clone();
    let go_next = go;

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
                <span>"Action"</span>
                <select
                    name="action"
                    prop:value=move || filter.get().action
                    on:change=move |ev| {
                        go_action(Filter {
                            action: event_target_value(&ev),
                            offset: 0,
                            ..filter.get_untracked()
                        })
                    }
                >
                    <option value="">"All actions"</option>
                    {audit_action::ALL
                        .iter()
                        .map(|a| view! { <option value=*a>{*a}</option> })
                        .collect_view()}
                </select>
            </label>
            <label class="field inline">
                <span>"Outcome"</span>
                <select
                    name="outcome"
                    prop:value=move || filter.get().outcome
                    on:change=move |ev| {
                        go_outcome(Filter {
                            outcome: event_target_value(&ev),
                            offset: 0,
                            ..filter.get_untracked()
                        })
                    }
                >
                    <option value="">"All outcomes"</option>
                    {outcome::ALL
                        .iter()
                        .map(|o| view! { <option value=*o>{*o}</option> })
                        .collect_view()}
                </select>
            </label>
        </div>
        {move || match page.get() {
            None => view! { <p class="muted">"Loading the audit log…"</p> }.into_any(),
            Some(Err(e)) => {
                view! { <ErrorNote error=e /> }.into_any()
            }
            Some(Ok(p)) => {
                let f = filter.get();
                let first = if p.total == 0 { 0 } else { f.offset + 1 };
                let last = (f.offset + p.items.len() as i64).min(p.total);
                let has_prev = f.offset > 0;
                let has_next = last < p.total;
                let (go_prev, go_next) = (go_prev.clone(), go_next.clone());
                let (fp, fnx) = (f.clone(), f.clone());
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="audit-table">
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
                                        <tr>
                                            <td colspan="7" class="muted">
                                                "No events match."
                                            </td>
                                        </tr>
                                    }
                                        .into_any()
                                } else {
                                    p.items.into_iter().map(row).collect_view().into_any()
                                }}
                            </tbody>
                        </table>
                    </div>
                    <nav class="pager" aria-label="Pages">
                        <span class="muted">{format!("{first}–{last} of {}", p.total)}</span>
                        <button
                            class="btn"
                            disabled=!has_prev
                            on:click=move |_| {
                                go_prev(Filter {
                                    offset: (fp.offset - PAGE_SIZE).max(0),
                                    ..fp.clone()
                                })
                            }
                        >
                            "Newer"
                        </button>
                        <button
                            class="btn"
                            disabled=!has_next
                            on:click=move |_| {
                                go_next(Filter {
                                    offset: fnx.offset + PAGE_SIZE,
                                    ..fnx.clone()
                                })
                            }
                        >
                            "Older"
                        </button>
                    </nav>
                }
                    .into_any()
            }
        }}
    }
}

fn row(e: AuditEvent) -> impl IntoView {
    let details = match &e.details {
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let outcome_class = if e.outcome == outcome::SUCCESS {
        "pill pill-ok"
    } else {
        "pill pill-bad"
    };
    view! {
        <tr>
            <td class="nowrap">{format_time(&e.at)}</td>
            <td>{e.actor.unwrap_or_else(|| "—".into())}</td>
            <td>
                <code>{e.action}</code>
            </td>
            <td>
                <span class=outcome_class>{e.outcome}</span>
            </td>
            <td>{e.target.unwrap_or_default()}</td>
            <td class="nowrap" title=e.user_agent.unwrap_or_default()>
                {e.client_ip.unwrap_or_default()}
            </td>
            <td class="detail">{details}</td>
        </tr>
    }
}
