//! The retention card: the policy and a dry run of it.

use crate::api::{Pruned, ScheduleInfo};
use crate::client;
use crate::components::ErrorNote;
use crate::format;
use leptos::prelude::*;

#[component]
pub(super) fn RetentionCard(info: ScheduleInfo) -> impl IntoView {
    let plan = Action::new_local(|_: &()| client::settings::retention_plan());
    let keep = info.retention_keep.max(1);
    view! {
        <section class="card settings-card" data-testid="retention-settings" aria-labelledby="retention-title">
            <h2 class="card-title" id="retention-title">
                "Retention"
            </h2>
            <dl class="detail-list">
                <dt>"Keep"</dt>
                <dd data-testid="retention-keep">
                    {format!(
                        "the last {keep} successful {}",
                        if keep == 1 { "backup" } else { "backups" },
                    )}
                </dd>
                <dt>"Maximum age"</dt>
                <dd data-testid="retention-max-age">
                    {match info.retention_max_age_secs {
                        Some(s) => format!("{}: older backups are deleted", format::span_secs(s)),
                        None => "none".to_string(),
                    }}
                </dd>
            </dl>
            <ul class="settings-rules">
                <li>"Retention runs after each successful scheduled backup (and with " <code>"lifeboat prune"</code> ")."</li>
                <li>"Pinned backups and safety backups (taken before a restore) are never deleted, and do not count among the ones kept."</li>
                <li>"The newest successful backup is never deleted, whatever the rules say."</li>
                <li>
                    "Set with " <code>"LIFEBOAT_RETENTION_KEEP"</code> " and "
                    <code>"LIFEBOAT_RETENTION_MAX_AGE"</code> " (e.g. " <code>"30d"</code> ")."
                </li>
            </ul>
            <div class="card-actions">
                <button
                    type="button"
                    class="btn"
                    data-testid="retention-dry-run"
                    disabled=move || plan.pending().get()
                    on:click=move |_| {
                        plan.dispatch(());
                    }
                >
                    {move || if plan.pending().get() { "Checking…" } else { "Dry run" }}
                </button>
                <span class="muted">"Shows what the policy would delete now. Nothing is deleted."</span>
            </div>
            {move || match plan.value().get() {
                None => ().into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(items)) => view! { <Plan items /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Plan(items: Vec<Pruned>) -> impl IntoView {
    if items.is_empty() {
        return view! {
            <p class="banner banner-ok plan-result" data-testid="retention-plan">
                "Nothing would be deleted now."
            </p>
        }
        .into_any();
    }
    let total: i64 = items.iter().filter_map(|p| p.size_bytes).sum();
    let count = items.len();
    view! {
        <div class="plan-result" data-testid="retention-plan">
            <p>
                <strong>
                    {format!(
                        "{count} {} would be deleted now, freeing {}:",
                        if count == 1 { "backup" } else { "backups" },
                        format::bytes(total),
                    )}
                </strong>
            </p>
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">"Backup"</th>
                            <th scope="col">"File"</th>
                            <th scope="col" class="num">
                                "Size"
                            </th>
                            <th scope="col">"Why"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {items
                            .into_iter()
                            .map(|p| {
                                view! {
                                    <tr data-testid="retention-plan-row" data-backup-id=p.id.to_string()>
                                        <td class="nowrap">
                                            <a href=format!("/backups/{}", p.id)>{format!("#{}", p.id)}</a>
                                        </td>
                                        <td class="location">{p.file_name.unwrap_or_else(|| "—".into())}</td>
                                        <td class="num nowrap">
                                            {p.size_bytes.map(format::bytes).unwrap_or_else(|| "—".into())}
                                        </td>
                                        <td data-testid="retention-plan-reason">{p.reason}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
    .into_any()
}
