//! One module per page.

mod audit;
mod backup_chart;
mod backup_detail;
mod backups;
mod invite;
mod login;
mod people;
mod profile;
mod restore;
mod security;
mod settings;
mod setup;
mod status;
mod tokens;

pub use audit::AuditPage;
pub use backup_detail::BackupDetailPage;
pub use backups::BackupsPage;
pub use invite::InvitePage;
pub use login::LoginPage;
pub use people::PeoplePage;
pub use profile::ProfilePage;
pub use restore::RestorePage;
pub use security::SecurityPage;
pub use settings::SettingsPage;
pub use setup::SetupPage;
pub use status::StatusPage;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="auth-page">
            <div class="auth-card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <a class="btn btn-primary" href="/">
                    "Go to Lifeboat"
                </a>
            </div>
        </div>
    }
}
