//! The Settings page (`/settings`): scheduled backups (changed here, audited as
//! `settings.changed`), the retention policy and a dry run of it, offsite copies, alert
//! channels and a test alert, and the files in the backup directory Lifeboat does not know.
//! Everything but the schedule comes from Lifeboat's environment; where something is not
//! configured, the page says which variables set it.

use super::backups::ticking_now;
use super::{field_value, ErrorNote};
use crate::api::{AlertDelivery, Pruned, ScheduleInfo, ScheduleUpdate, SettingsInfo, UnknownFile};
use crate::client;
use crate::format;
use crate::progress::use_backups;
use crate::shell::format_time;
use chrono::{DateTime, Utc};
use leptos::html::Input;
use leptos::prelude::*;

/// `ScheduleInfo::source` when the schedule was set on this page.
const SOURCE_SETTINGS_PAGE: &str = "settings page";

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
pub fn SettingsPage() -> impl IntoView {
    let settings = LocalResource::new(|| client::get::<SettingsInfo>("/api/v1/settings"));
    view! {
        <header class="page-head">
            <h1>"Settings"</h1>
        </header>
        <p class="muted page-intro">
            "The backup schedule can be changed here. The other settings come from Lifeboat’s environment: change the variables named below and restart Lifeboat."
        </p>
        {move || match settings.get() {
            None => view! { <p class="muted">"Loading the settings…"</p> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
            Some(Ok(s)) => {
                view! {
                    <ScheduleCard info=s.schedule.clone() />
                    <RetentionCard info=s.schedule />
                    <OffsiteCard target=s.offsite keep=s.offsite_keep />
                    <AlertsCard channels=s.alert_channels />
                    <UnknownFiles files=s.unknown_files />
                }
                    .into_any()
            }
        }}
    }
}

// ---------------------------------------------------------------------------------------
// Schedule
// ---------------------------------------------------------------------------------------

#[component]
fn ScheduleCard(info: ScheduleInfo) -> impl IntoView {
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
        async move { client::put::<_, ScheduleInfo>("/api/v1/schedule", &u).await }
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
                <dd data-testid="schedule-source">{move || current.with(|c| source_text(&c.source))}</dd>
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
                            view! {
                                <p class="form-error" role="alert" data-testid="schedule-error">
                                    {m}
                                </p>
                            }
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

fn source_text(source: &str) -> String {
    match source {
        SOURCE_SETTINGS_PAGE => "This page (it wins over LIFEBOAT_SCHEDULE)".to_string(),
        "environment" => "The environment (LIFEBOAT_SCHEDULE, or the default)".to_string(),
        "" => "—".to_string(),
        other => other.to_string(),
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

/// Puts `value` in an (uncontrolled) input and focuses it.
fn set_field(field: NodeRef<Input>, value: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = field.get_untracked() {
        el.set_value(value);
        let _ = el.focus();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (field, value);
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

// ---------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------

#[component]
fn RetentionCard(info: ScheduleInfo) -> impl IntoView {
    let plan = Action::new_local(|_: &()| client::get::<Vec<Pruned>>("/api/v1/retention/plan"));
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

// ---------------------------------------------------------------------------------------
// Offsite copies
// ---------------------------------------------------------------------------------------

#[component]
fn OffsiteCard(target: Option<String>, keep: Option<u32>) -> impl IntoView {
    let body = match target {
        Some(t) => view! {
            <dl class="detail-list">
                <dt>"Target"</dt>
                <dd data-testid="offsite-target">
                    <code>{t}</code>
                </dd>
                <dt>"Keep"</dt>
                <dd data-testid="offsite-keep">
                    {match keep {
                        Some(1) => "the last copy".to_string(),
                        Some(n) => format!("the last {n} copies"),
                        None => "—".to_string(),
                    }}
                </dd>
            </dl>
            <p class="muted settings-hint">
                "Each successful backup is copied there after it is stored; a failed copy is retried at the next backup and does not fail the backup. The history shows each copy’s state."
            </p>
        }
        .into_any(),
        None => view! {
            <p data-testid="offsite-not-configured">
                <strong>"Not configured."</strong>
                " Backups are only kept on this machine’s disk. To copy each backup to S3-compatible storage, set:"
            </p>
            <EnvList vars=vec![
                ("LIFEBOAT_S3_BUCKET", "the bucket (LIFEBOAT_S3_PREFIX names the folder in it, default lifeboat)"),
                ("LIFEBOAT_S3_ENDPOINT", "the S3 endpoint, for storage other than AWS (LIFEBOAT_S3_REGION if needed)"),
                ("LIFEBOAT_S3_ACCESS_KEY_ID", "the access key"),
                ("LIFEBOAT_S3_SECRET_ACCESS_KEY", "its secret"),
                ("LIFEBOAT_OFFSITE_KEEP", "how many copies to keep offsite (default 7)"),
            ] />
        }
        .into_any(),
    };
    view! {
        <section class="card settings-card" data-testid="offsite-settings" aria-labelledby="offsite-title">
            <h2 class="card-title" id="offsite-title">
                "Offsite copies"
            </h2>
            {body}
        </section>
    }
}

/// Environment variables and what each one is for.
#[component]
fn EnvList(vars: Vec<(&'static str, &'static str)>) -> impl IntoView {
    view! {
        <dl class="detail-list env-list">
            {vars
                .into_iter()
                .map(|(name, what)| {
                    view! {
                        <dt>
                            <code>{name}</code>
                        </dt>
                        <dd>{what}</dd>
                    }
                })
                .collect_view()}
        </dl>
    }
}

// ---------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------

#[component]
fn AlertsCard(channels: Vec<String>) -> impl IntoView {
    let configured = !channels.is_empty();
    let test = Action::new_local(|_: &()| {
        let empty = serde_json::Value::Object(Default::default());
        async move { client::post::<_, Vec<AlertDelivery>>("/api/v1/alerts/test", &empty).await }
    });
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

// ---------------------------------------------------------------------------------------
// Unknown files
// ---------------------------------------------------------------------------------------

#[component]
fn UnknownFiles(files: Vec<UnknownFile>) -> impl IntoView {
    let total: i64 = files.iter().map(|f| f.size_bytes).sum();
    let body = if files.is_empty() {
        view! { <p class="muted">"None: every file in the backup directory belongs to a backup in the history."</p> }
            .into_any()
    } else {
        let count = files.len();
        view! {
            <p>
                {format!(
                    "{count} {} ({}) in the backup directory {} not made by Lifeboat, or no longer in its history:",
                    if count == 1 { "file" } else { "files" },
                    format::bytes(total),
                    if count == 1 { "was" } else { "were" },
                )}
            </p>
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">"File"</th>
                            <th scope="col" class="num">
                                "Size"
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        {files
                            .into_iter()
                            .map(|f| {
                                view! {
                                    <tr data-testid="unknown-file">
                                        <td class="location">{f.path}</td>
                                        <td class="num nowrap">{format::bytes(f.size_bytes)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="card settings-card" data-testid="unknown-files" aria-labelledby="unknown-title">
            <h2 class="card-title" id="unknown-title">
                "Unknown files in the backup directory"
            </h2>
            {body}
            <p class="muted settings-hint">
                "Lifeboat never deletes files it does not know, and they are not counted as backups. Remove them yourself if they are not needed."
            </p>
        </section>
    }
}
