//! What a restore did beyond replacing the contents: the strategy that ran and why, the
//! proof (row counts of the archive against the restored database), how long the
//! application was offline, the database kept aside, and the swap back.

use super::ask::{Ask, Question};
use crate::api::{Restore, RestoreStrategy, StartedRollback, TableProof};
use crate::client;
use crate::components::Fact;
use crate::format::{self, format_time};
use leptos::prelude::*;

/// `swap (Lifeboat may create databases…)`.
fn strategy_words(r: &Restore) -> Option<String> {
    let name = r.strategy.as_deref()?;
    let label = match RestoreStrategy::parse(name) {
        Some(RestoreStrategy::Swap) => "Swap into a new database",
        Some(RestoreStrategy::InPlace) => "In place",
        Some(RestoreStrategy::Copy) => "As a copy",
        None => name,
    };
    Some(match r.strategy_reason.as_deref() {
        Some(why) if !why.trim().is_empty() => format!("{label}: {why}"),
        _ => label.to_string(),
    })
}

/// `2 tables checked, all row counts equal` or what differed.
fn proof_words(proof: &[TableProof]) -> String {
    let differ = proof
        .iter()
        .filter(|t| t.restored_rows != Some(t.archive_rows))
        .count();
    let n = proof.len();
    let tables = if n == 1 { "table" } else { "tables" };
    if differ == 0 {
        format!("{n} {tables} checked, all row counts equal")
    } else {
        format!("{n} {tables} checked, {differ} differ from the archive")
    }
}

/// The strategy, the proof, the offline time, the kept database and the roll back of a
/// finished restore; `follow` shows the roll back's job on the page.
#[component]
pub(super) fn StrategyFacts(
    restore: Memo<Option<Restore>>,
    follow: Callback<i64>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let strategy = Signal::derive(move || restore.with(|r| r.as_ref().and_then(strategy_words)));
    let offline = Signal::derive(move || {
        restore.with(|r| {
            r.as_ref()
                .and_then(|r| r.offline_ms)
                .map(|ms| format!("offline {}", format::duration_ms(ms)))
        })
    });
    let kept =
        Signal::derive(move || restore.with(|r| r.as_ref().and_then(|r| r.kept_database.clone())));
    let copy = Signal::derive(move || {
        restore.with(|r| {
            r.as_ref()
                .filter(|r| r.strategy.as_deref() == Some(RestoreStrategy::Copy.as_str()))
                .and_then(|r| r.new_database.clone())
        })
    });
    let proof = Memo::new(move |_| {
        restore.with(|r| r.as_ref().map(|r| r.proof.clone()).unwrap_or_default())
    });
    // A swap that succeeded and is not undone yet can be swapped back.
    let can_roll_back = Memo::new(move |_| {
        restore.with(|r| {
            r.as_ref().is_some_and(|r| {
                r.status == "succeeded" && r.kept_database.is_some() && r.rolled_back_at.is_none()
            })
        })
    });
    let rolled_back = move || {
        restore.with(|r| {
            r.as_ref().and_then(|r| {
                let at = r.rolled_back_at.as_ref()?;
                let offline = r
                    .rollback_offline_ms
                    .map(|ms| format!(", offline {}", format::duration_ms(ms)))
                    .unwrap_or_default();
                let aside = r
                    .rolled_back_database
                    .as_deref()
                    .map(|n| format!(" The restored database, with any writes made to it since the swap, is kept aside as {n}."))
                    .unwrap_or_default();
                Some(format!("Rolled back {}{offline}.{aside}", format_time(at)))
            })
        })
    };

    view! {
        <dl class="detail-list" data-testid="restore-strategy-facts">
            <Fact label="Strategy" testid="result-strategy" value=strategy />
            <dt>"Proof"</dt>
            <dd data-testid="result-proof">
                {move || {
                    let tables = proof.get();
                    if tables.is_empty() {
                        return view! { "—" }.into_any();
                    }
                    view! {
                        <details class="proof">
                            <summary data-testid="proof-summary">{proof_words(&tables)}</summary>
                            <div class="table-wrap">
                                <table class="table" data-testid="proof-tables">
                                    <thead>
                                        <tr>
                                            <th>"Table"</th>
                                            <th class="num">"Rows in the archive"</th>
                                            <th class="num">"Rows restored"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {tables
                                            .into_iter()
                                            .map(|t| {
                                                let restored = t
                                                    .restored_rows
                                                    .map_or_else(|| "missing".to_string(), |n| n.to_string());
                                                view! {
                                                    <tr data-testid="proof-row">
                                                        <td>{t.table}</td>
                                                        <td class="num">{t.archive_rows}</td>
                                                        <td class="num">{restored}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </details>
                    }
                        .into_any()
                }}
            </dd>
            <Fact label="Offline" testid="result-offline" value=offline />
            {move || kept.get().map(|k| view! { <Fact label="Earlier database kept as" testid="result-kept-database" value=Some(k) /> })}
            {move || copy.get().map(|c| view! { <Fact label="Restored into" testid="result-copy-database" value=Some(c) /> })}
        </dl>
        {move || rolled_back().map(|m| view! { <p class="banner banner-ok" data-testid="result-rolled-back">{m}</p> })}
        {move || {
            can_roll_back
                .get()
                .then(|| {
                    view! {
                        <p class="muted">
                            "Roll back swaps the names again, in seconds: the earlier database becomes the live one. "
                            "The restored database is not dropped: it is kept aside under a new name, with every write made to it since the swap."
                        </p>
                        <div class="card-actions">
                            <button class="btn" data-testid="swap-rollback" on:click=move |_| asking.set(true)>
                                "Roll back"
                            </button>
                        </div>
                    }
                })
        }}
        {move || {
            asking
                .get()
                .then(|| {
                    let id = restore.with_untracked(|r| r.as_ref().map(|r| r.id));
                    let db = restore.with_untracked(|r| r.as_ref().map(|r| r.database.clone())).unwrap_or_default();
                    let old = kept.get_untracked().unwrap_or_default();
                    view! { <RollBackDialog id db old asking follow /> }
                })
        }}
    }
}

/// "Roll back this swap?": says what happens to the restored database and its writes.
#[component]
fn RollBackDialog(
    id: Option<i64>,
    db: String,
    old: String,
    asking: RwSignal<bool>,
    follow: Callback<i64>,
) -> impl IntoView {
    let go = Action::new_local(move |_: &()| async move {
        match id {
            Some(id) => client::restores::rollback(id)
                .await
                .map_err(|r| r.error.to_string()),
            None => Err("This restore has no record to roll back.".to_string()),
        }
    });
    let q = Question {
        title: "Roll back this restore?",
        testid: "rollback-dialog",
        focus: "[data-testid=rollback-confirm]",
        confirm_testid: "rollback-confirm",
        error_testid: "rollback-error",
        yes: "Roll back",
        busy: "Rolling back…",
    };
    view! {
        <Ask
            q
            go
            close=Callback::new(move |()| asking.set(false))
            done=Callback::new(move |started: StartedRollback| {
                asking.set(false);
                follow.run(started.job_id);
            })
        >
            <p>
                {format!(
                    "{old} becomes {db} again: the application is offline only for the swap of names. The restored database is not dropped: it is kept aside under a new name, with any writes made to it since the swap, and listed under Kept databases."
                )}
            </p>
        </Ask>
    }
}
