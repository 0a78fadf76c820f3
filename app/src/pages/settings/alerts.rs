//! The alerts card: the channels, or how to set one up, and a test alert.

use super::EnvList;
use crate::api::AlertDelivery;
use crate::client;
use crate::components::ErrorNote;
use leptos::prelude::*;

#[component]
pub(super) fn AlertsCard(channels: Vec<String>) -> impl IntoView {
    let configured = !channels.is_empty();
    let test = Action::new_local(|_: &()| client::settings::test_alert());
    let list = if configured {
        view! {
            <ul class="channel-list" data-testid="alert-channels">
                {channels.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    } else {
        view! {
            <p data-testid="alerts-not-configured">
                <strong>"No alert channel is configured."</strong>
                " Lifeboat cannot tell anyone when a backup fails. Set a webhook, or email, or both:"
            </p>
            <EnvList vars=vec![
                ("LIFEBOAT_ALERT_WEBHOOK_URL", "a URL that receives a JSON POST per alert"),
                ("LIFEBOAT_ALERT_WEBHOOK_FORMAT", "generic (default), slack or discord"),
                ("LIFEBOAT_SMTP_HOST", "the mail server (with LIFEBOAT_SMTP_PORT, LIFEBOAT_SMTP_USER and LIFEBOAT_SMTP_PASSWORD if needed)"),
                ("LIFEBOAT_ALERT_EMAIL_FROM", "the sender address"),
                ("LIFEBOAT_ALERT_EMAIL_TO", "who receives alerts (comma-separated)"),
            ] />
        }
        .into_any()
    };
    view! {
        <section class="card settings-card" data-testid="alert-settings" aria-labelledby="alerts-title">
            <h2 class="card-title" id="alerts-title">
                "Alerts"
            </h2>
            {list}
            <p class="muted settings-hint">
                "Alerts are sent when a scheduled backup fails, after several failures in a row, for an abnormally small backup, when space runs low, for a failed offsite copy, and for restores."
            </p>
            <div class="card-actions">
                <button
                    type="button"
                    class="btn"
                    data-testid="send-test-alert"
                    disabled=move || !configured || test.pending().get()
                    on:click=move |_| {
                        test.dispatch(());
                    }
                >
                    {move || if test.pending().get() { "Sending…" } else { "Send test alert" }}
                </button>
                {(!configured)
                    .then(|| view! { <span class="muted">"Configure a channel first."</span> })}
            </div>
            {move || match test.value().get() {
                None => ().into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(results)) => view! { <Deliveries results /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Deliveries(results: Vec<AlertDelivery>) -> impl IntoView {
    view! {
        <ul class="deliveries">
            {results
                .into_iter()
                .map(|d| {
                    let tries = if d.attempts == 1 {
                        "1 attempt".to_string()
                    } else {
                        format!("{} attempts", d.attempts)
                    };
                    let text = if d.ok {
                        format!("{}: delivered ({tries})", d.channel)
                    } else {
                        format!(
                            "{}: not delivered ({tries}): {}",
                            d.channel,
                            d.error.unwrap_or_else(|| "no reason given".into()),
                        )
                    };
                    view! {
                        <li
                            class=if d.ok { "delivery delivery-ok" } else { "delivery delivery-bad" }
                            data-testid="test-alert-result"
                            data-ok=if d.ok { "true" } else { "false" }
                        >
                            <span aria-hidden="true">{if d.ok { "✓ " } else { "✕ " }}</span>
                            {text}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
