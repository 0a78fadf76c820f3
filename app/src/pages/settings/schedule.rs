//! The schedule card: what is in force, and the form that changes it.

use crate::api::{ScheduleInfo, ScheduleSource, ScheduleUpdate};
use crate::client;
use crate::components::{field_value, set_field, ticking_now, FormError};
use crate::format::{self, format_time};
use crate::jobs::use_backups;
use chrono::{DateTime, Utc};
use leptos::html::Input;
use leptos::prelude::*;

/// Cron examples offered under the schedule form: expression and meaning.
const EXAMPLES: &[(&str, &str)] = &[
    ("0 2 * * *", "every day at 02:00"),
    ("*/15 * * * *", "every 15 minutes"),
    ("0 */6 * * *", "every 6 hours, on the hour"),
    ("30 1 * * 1-5", "Monday to Friday at 01:30"),
    ("0 3 * * 0", "Sundays at 03:00"),
];

/// Time zones offered while typing (any IANA name is accepted).
const ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
];

#[component]
pub(super) fn ScheduleCard(info: ScheduleInfo) -> impl IntoView {
    let now = ticking_now();
    let initial_expression = info.expression.clone().unwrap_or_default();
    let initial_zone = if info.expression.is_some() && info.zone != "server time" {
        info.zone.clone()
    } else {
        String::new()
    };
    let current = RwSignal::new(info);
    let expression = NodeRef::<Input>::new();
    let zone = NodeRef::<Input>::new();
    let problem = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    let save = Action::new_local(|u: &ScheduleUpdate| {
        let u = u.clone();
        async move { client::settings::put_schedule(&u).await }
    });
    let b = use_backups();
    Effect::new(move |_| match save.value().get() {
        Some(Ok(info)) => untrack(|| {
            // The panel looks at the server when the next run begins: tell it now.
            b.next_run.set(info.next_run);
            saved.set(Some(match &info.expression {
                Some(e) => format!("Saved: backups now run on “{e}” ({}).", info.zone),
                None => "Saved: scheduled backups are off.".to_string(),
            }));
            current.set(info);
        }),
        Some(Err(e)) => problem.set(Some(e.to_string())),
        None => {}
    });
    let zone_value = move || {
        let z = field_value(zone).trim().to_string();
        (!z.is_empty()).then_some(z)
    };
    let send = move |update: ScheduleUpdate| {
        problem.set(None);
        saved.set(None);
        save.dispatch(update);
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let expr = field_value(expression).trim().to_string();
        if expr.is_empty() {
            saved.set(None);
            problem.set(Some(
                "Type a cron expression (for example 0 2 * * *), or turn scheduled backups off."
                    .into(),
            ));
            return;
        }
        send(ScheduleUpdate {
            expression: Some(expr),
            zone: zone_value(),
        });
    };
    let turn_off = move |_| {
        send(ScheduleUpdate {
            expression: None,
            zone: zone_value(),
        })
    };
    let pending = save.pending();
    let is_on = Memo::new(move |_| current.with(|c| c.expression.is_some()));
    let browser_zone = browser_time_zone();

    view! {
        <section class="card settings-card" data-testid="schedule-settings" aria-labelledby="schedule-title">
            <h2 class="card-title" id="schedule-title">
                "Scheduled backups"
            </h2>
            <dl class="detail-list">
                <dt>"Schedule"</dt>
                <dd data-testid="schedule-current">
                    {move || match current.with(|c| c.expression.clone()) {
                        Some(e) => view! { <code>{e}</code> }.into_any(),
                        None => view! { <strong>"Off"</strong> " — no backup is taken automatically" }.into_any(),
                    }}
                </dd>
                <dt>"Time zone"</dt>
                <dd data-testid="schedule-zone-current">{move || current.with(|c| c.zone.clone())}</dd>
                <dt>"Next run"</dt>
                <dd data-testid="schedule-next-run">
                    {move || match current.with(|c| c.next_run) {
                        Some(at) => next_run_text(at, now.get()),
                        None => "—".to_string(),
                    }}
                </dd>
                <dt>"Set by"</dt>
                <dd data-testid="schedule-source">{move || current.with(source_text)}</dd>
                <dt>"Attempts"</dt>
                <dd data-testid="schedule-attempts">{move || current.with(attempts_text)}</dd>
                <dt>"Catch-up"</dt>
                <dd data-testid="schedule-catch-up">
                    {move || {
                        if current.with(|c| c.catch_up) {
                            "On: a run missed while Lifeboat was stopped is made up once when it starts again."
                        } else {
                            "Off: a run missed while Lifeboat was stopped is skipped."
                        }
                    }}
                </dd>
            </dl>
            <p class="muted settings-hint">
                "Attempts, the delay between them and catch-up are set with "
                <code>"LIFEBOAT_SCHEDULE_ATTEMPTS"</code> ", " <code>"LIFEBOAT_SCHEDULE_RETRY_DELAY"</code>
                " and " <code>"LIFEBOAT_SCHEDULE_CATCH_UP"</code>
                ". A schedule saved here wins over " <code>"LIFEBOAT_SCHEDULE"</code> " and "
                <code>"LIFEBOAT_SCHEDULE_TZ"</code> "."
            </p>

            <h3 class="subsection-title">"Change the schedule"</h3>
            <form class="schedule-form" on:submit=on_submit>
                <div class="form-row">
                    <label class="field">
                        <span>"Cron expression"</span>
                        <input
                            data-testid="schedule-expression"
                            name="expression"
                            autocomplete="off"
                            autocapitalize="off"
                            spellcheck="false"
                            placeholder="0 2 * * *"
                            value=initial_expression
                            aria-describedby="cron-help"
                            node_ref=expression
                        />
                    </label>
                    <label class="field">
                        <span>"Time zone"</span>
                        <input
                            data-testid="schedule-zone"
                            name="zone"
                            list="time-zones"
                            autocomplete="off"
                            autocapitalize="off"
                            spellcheck="false"
                            placeholder=browser_zone.clone().unwrap_or_else(|| "UTC".into())
                            value=initial_zone
                            node_ref=zone
                        />
                        <small class="muted">
                            "An IANA name such as Europe/Paris or UTC; empty: the server’s time zone."
                            {browser_zone.map(|z| format!(" Your browser is in {z}."))}
                        </small>
                    </label>
                    <datalist id="time-zones">
                        {ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                    </datalist>
                </div>
                {move || {
                    problem
                        .get()
                        .map(|m| {
                            view! { <FormError message=m testid="schedule-error" /> }
                        })
                }}
                {move || {
                    saved
                        .get()
                        .map(|m| {
                            view! {
                                <p class="banner banner-ok" role="status" data-testid="schedule-saved">
                                    {m}
                                </p>
                            }
                        })
                }}
                <div class="card-actions">
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="schedule-save"
                        disabled=move || pending.get()
                    >
                        {move || if pending.get() { "Saving…" } else { "Save" }}
                    </button>
                    <button
                        type="button"
                        class="btn"
                        data-testid="schedule-off"
                        disabled=move || pending.get() || !is_on.get()
                        on:click=turn_off
                    >
                        "Turn off"
                    </button>
                </div>
            </form>
            <CronHelp expression />
        </section>
    }
}

/// `2026-05-02 02:00:00 UTC (in 3 h)`.
fn next_run_text(at: DateTime<Utc>, now: Option<DateTime<Utc>>) -> String {
    match now {
        Some(now) => format!("{} ({})", format_time(&at), format::until(&at, &now)),
        None => format_time(&at),
    }
}

fn source_text(c: &ScheduleInfo) -> String {
    match c.schedule_source() {
        Some(ScheduleSource::SettingsPage) => {
            "This page (it wins over LIFEBOAT_SCHEDULE)".to_string()
        }
        Some(ScheduleSource::Environment) => {
            "The environment (LIFEBOAT_SCHEDULE, or the default)".to_string()
        }
        None if c.source.is_empty() => "—".to_string(),
        None => c.source.clone(),
    }
}

fn attempts_text(c: &ScheduleInfo) -> String {
    match c.attempts {
        0 | 1 => "1 attempt per run (no retry)".to_string(),
        n => format!(
            "{n} attempts per run, {} apart",
            format::span_secs(c.retry_delay_secs)
        ),
    }
}

/// The 5 fields explained, with examples that fill the form.
#[component]
fn CronHelp(expression: NodeRef<Input>) -> impl IntoView {
    view! {
        <div class="cron-help" id="cron-help">
            <p>
                "Five fields separated by spaces: "
                <code>"minute hour day-of-month month day-of-week"</code>
                ". " <code>"*"</code> " means every value, " <code>"*/15"</code>
                " every 15th, " <code>"1-5"</code> " a range, " <code>"1,15"</code>
                " a list; day-of-week 0 is Sunday."
            </p>
            <table class="table examples">
                <tbody>
                    {EXAMPLES
                        .iter()
                        .map(|(cron, meaning)| {
                            view! {
                                <tr>
                                    <td class="nowrap">
                                        <code>{*cron}</code>
                                    </td>
                                    <td>{*meaning}</td>
                                    <td class="nowrap">
                                        <button
                                            type="button"
                                            class="btn btn-small btn-quiet"
                                            aria-label=format!("Use {cron}")
                                            on:click=move |_| set_field(expression, cron)
                                        >
                                            "Use"
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

/// The browser's IANA time zone, when it says.
fn browser_time_zone() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let format =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
        let options = format.resolved_options();
        js_sys::Reflect::get(&options, &"timeZone".into())
            .ok()
            .and_then(|z| z.as_string())
            .filter(|z| !z.is_empty())
    }
    #[cfg(not(feature = "hydrate"))]
    None
}
