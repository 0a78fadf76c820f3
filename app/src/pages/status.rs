//! The landing page: is Lifeboat ready to protect the target database, and if not, why.

use crate::api::{CheckName, ReadyCheck, ReadyReport};
use crate::client;
use crate::components::Loaded;
use leptos::prelude::*;

#[component]
pub fn StatusPage() -> impl IntoView {
    // The first look shows the server's last run of the checks; "Check again" runs them.
    let refresh = RwSignal::new(false);
    let report = LocalResource::new(move || client::readiness(refresh.get()));
    view! {
        <header class="page-head">
            <h1>"Status"</h1>
            <button
                class="btn"
                on:click=move |_| {
                    if refresh.get_untracked() {
                        report.refetch();
                    } else {
                        refresh.set(true);
                    }
                }
            >
                "Check again"
            </button>
        </header>
        <Loaded resource=report loading="Running the readiness checks…" let:r>
            <Report r />
        </Loaded>
    }
}

#[component]
fn Report(r: ReadyReport) -> impl IntoView {
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
        {r
            .checked_at
            .map(|t| {
                view! {
                    <p class="muted" data-testid="ready-checked-at">
                        {format!("Checked {}.", crate::format::format_time(&t))}
                    </p>
                }
            })}
        <div class="table-wrap">
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
                                    <td>{check_label(&c)}</td>
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
        </div>
    }
}

fn check_label(c: &ReadyCheck) -> String {
    match c.check() {
        Some(CheckName::MetadataDb) => "Lifeboat's own database".into(),
        Some(CheckName::DataDir) => "Data directory writable".into(),
        Some(CheckName::Target) => "Target database reachable".into(),
        Some(CheckName::PgDump) => "pg_dump".into(),
        Some(CheckName::PgRestore) => "pg_restore".into(),
        Some(CheckName::LastBackup) => "Last backup".into(),
        Some(CheckName::LastTestRestore) => "Last test restore".into(),
        None => c.name.clone(),
    }
}
