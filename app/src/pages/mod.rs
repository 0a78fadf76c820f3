//! One module per page.

mod audit;
mod backup_chart;
mod backup_detail;
mod backups;
mod login;
mod restore;
mod settings;
mod setup;
mod status;

pub use audit::AuditPage;
pub use backup_detail::BackupDetailPage;
pub use backups::BackupsPage;
pub use login::LoginPage;
pub use restore::RestorePage;
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

/// An API error, shown where the data would have been.
#[component]
pub(crate) fn ErrorNote(error: crate::client::ClientError) -> impl IntoView {
    view! {
        <p class="form-error" role="alert">
            {error.to_string()}
        </p>
    }
}

/// The current text of a form field. Fields are left uncontrolled (no `prop:value`) so
/// that what a person typed before the page hydrated is kept, and read when submitted.
pub(crate) fn field_value(field: NodeRef<leptos::html::Input>) -> String {
    #[cfg(feature = "hydrate")]
    {
        field
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = field;
        String::new()
    }
}

/// True once the page has hydrated: forms stay disabled until then so that nothing is
/// submitted the browser's native way (which would put a password in a URL).
pub(crate) fn hydrated() -> ReadSignal<bool> {
    let (ready, set_ready) = signal(false);
    Effect::new(move |_| set_ready.set(true));
    ready
}
