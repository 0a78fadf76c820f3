//! The landing page: is Lifeboat ready to protect the target database, and if not, why.

use super::ErrorNote;
use crate::api::ReadyReport;
use crate::client;
use leptos::prelude::*;

#[component]
pub fn StatusPage() -> impl IntoView {
    let report = LocalResource::new(|| client::get_any_status::<ReadyReport>("/readyz"));
    view! {
        <header class="page-head">
            <h1>"Status"</h1>
            <button class="btn" on:click=move |_| report.refetch()>
                "Check again"
            </button>
        </header>
        {move || match report.get() {
            None => view! { <p class="muted">"Running the readiness checks…"</p> }.into_any(),
            Some(Err(e)) => {
                view! { <ErrorNote error=e /> }.into_any()
            }
            Some(Ok(r)) => {
                let summary = if r.ready {
                    "Ready: Lifeboat can reach the database and has the tools it needs.".to_string()
                } else {
                    format!(
                        "Not ready: {} of {} checks failed.",
                        r.failed().count(),
                        r.checks.len(),
                    )
                };
                view! {
                    <p
                        class=if r.ready { "banner banner-ok" } else { "banner banner-bad" }
                        data-testid="ready-summary"
                    >
                        {summary}
                    </p>
                    <table class="table">
                        <thead>
                            <tr>
                                <th scope="col">"Check"</th>
                                <th scope="col">"Result"</th>
                                <th scope="col">"Detail"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {r
                                .checks
                                .into_iter()
                                .map(|c| {
                                    view! {
                                        <tr>
                                            <td>{check_label(&c.name)}</td>
                                            <td>
                                                <span class=if c.ok {
                                                    "pill pill-ok"
                                                } else {
                                                    "pill pill-bad"
                                                }>{if c.ok { "ok" } else { "failed" }}</span>
                                            </td>
                                            <td class="detail">{c.detail}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }
        }}
    }
}

fn check_label(name: &str) -> String {
    match name {
        "metadata_db" => "Lifeboat's own database".into(),
        "data_dir" => "Data directory writable".into(),
        "target" => "Target database reachable".into(),
        "pg_dump" => "pg_dump".into(),
        "pg_restore" => "pg_restore".into(),
        other => other.into(),
    }
}
