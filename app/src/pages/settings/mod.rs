//! The Settings page (`/settings`): scheduled backups (changed here, audited as
//! `settings.changed`), the retention policy and a dry run of it, offsite copies, alert
//! channels and a test alert, and the files in the backup directory Lifeboat does not know.
//! Everything but the schedule comes from Lifeboat's environment; where something is not
//! configured, the page says which variables set it. One module per card.

mod alerts;
mod compression;
mod offsite;
mod retention;
mod schedule;
mod unknown_files;

use crate::client;
use crate::components::Loaded;
use alerts::AlertsCard;
use compression::CompressionCard;
use leptos::prelude::*;
use offsite::OffsiteCard;
use retention::RetentionCard;
use schedule::ScheduleCard;
use unknown_files::UnknownFiles;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = LocalResource::new(client::settings::get);
    view! {
        <header class="page-head">
            <h1>"Settings"</h1>
        </header>
        <p class="muted page-intro">
            "The backup schedule can be changed here. The other settings come from Lifeboat’s environment: change the variables named below and restart Lifeboat."
        </p>
        <Loaded resource=settings loading="Loading the settings…" let:s>
            <ScheduleCard info=s.schedule.clone() />
            <RetentionCard info=s.schedule />
            <CompressionCard method=s.compression note=s.compression_note />
            <OffsiteCard target=s.offsite keep=s.offsite_keep />
            <AlertsCard channels=s.alert_channels />
            <UnknownFiles files=s.unknown_files />
        </Loaded>
    }
}

/// Environment variables and what each one is for.
#[component]
pub(super) fn EnvList(vars: Vec<(&'static str, &'static str)>) -> impl IntoView {
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
